/**
 * One devnet (`pocchain devnet` on free ports, 4 validators, 3 executors, anvil L1, relayer) shared
 * by three checks of the CLI as users meet it:
 *
 * 1. the README's walk-through (publish, submit, show, balance, withdraw, bridge in and out) run
 *    exactly as written by bash, with the machine's own `npx` (PATH without node_modules/.bin) —
 *    the commands find the devnet through its manifest, so the README cannot drift from the code;
 * 2. a failed task's requester and a paid app owner see their Hub credit and withdraw it, with
 *    exact balances checked against the chain;
 * 3. the shared options from the environment and the manifest, and the one --json error shape
 *    (bad key, unreachable RPC, reverted transaction, usage error);
 * 4. a bag of 200 tasks from the CLI: every result correct and collected, no assignment expired,
 *    every executor paid at least its ask.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Contract, JsonRpcProvider, Wallet, keccak256, parseEther } from 'ethers';
import { hubIface } from '../../executor/hub-client.ts';
import { HUB_ADDRESS } from '../../consensus/poc/params.ts';
import { CLI, NODE, ROOT, tempDir } from '../helpers/proc.ts';
import { alive, ctrlC, devnetPortArgs, manifestPids, spawnGroup, userEnv, waitStatus, type DevnetRun } from '../helpers/devnet.ts';
import { ensureExamples, WASM } from '../fixtures/poc-net.ts';
import { devAccounts } from '../../lib/keys.ts';
import { freePort } from '../../lib/anvil.ts';

const KEYS = devAccounts(10);
/** Accounts 1-4 are free for the user in a devnet (0 deployer, 5-7 executors, 9 relayer); 8 requests the bag. */
const README_KEY = KEYS[1]!;
const OWNER = KEYS[2]!;
const FAILED_REQUESTER = KEYS[3]!;
const PAYING_REQUESTER = KEYS[4]!;
const BAG_REQUESTER = KEYS[8]!;
/** the first devnet executor (accounts 5-7) */
const EXECUTOR = KEYS[5]!;

let dir = '';
let run: DevnetRun;
let manifest: any;

interface Res {
  code: number | null;
  stdout: string;
  stderr: string;
  json?: any;
}

function exec(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Res> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.once('exit', (code) => {
      let json: any;
      try {
        json = JSON.parse(stdout);
      } catch {
        /* not JSON */
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}

/** `pocchain <args>` with only the given environment on top of a user's (the devnet via its manifest). */
const cli = (args: string[], env: Record<string, string> = {}) => exec(NODE, [CLI, ...args], userEnv({ POCCHAIN_DEVNET_DIR: dir, ...env }));

before(async () => {
  await ensureExamples();
  dir = join(tempDir('pocchain-walkthrough-'), 'devnet');
  const ports = await devnetPortArgs();
  run = spawnGroup(NODE, [CLI, 'devnet', '--dir', dir, ...ports.args, '--status-interval', '1', '--log-level', 'warn'], { cwd: ROOT, env: userEnv() });
  await waitStatus(run, dir, 'blocks, 3 executors staked, a checkpoint on L1', (s) => s.height >= 3 && s.executors === 3 && s.l1_checkpoint >= 1);
  manifest = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8'));
});

after(async () => {
  if (!run) return;
  const pids = manifest ? manifestPids(manifest) : [];
  await ctrlC(run);
  for (const pid of pids) assert.equal(alive(pid), false, `devnet child ${pid} exited`);
  if (!process.env.POCCHAIN_KEEP_TEST_DIRS) rmSync(dirname(dir), { recursive: true, force: true });
});

test('README walk-through runs exactly as written (machine npx, devnet found through its manifest)', async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Publish an app'), readme.indexOf('## Running on several machines'));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.equal(blocks.length, 2, 'the task block and the bridge block');
  const script = blocks.join('\n');
  for (const must of ['app publish', 'task submit', 'task show', 'balance', 'withdraw --key', 'bridge deposit', 'bridge withdraw', 'bridge status', '--inputs-file', 'job show']) assert.ok(script.includes(must), `the walk-through shows ${must}`);
  assert.doesNotMatch(script, /<[a-zA-Z]+>|0xYour/, 'no placeholders: runnable as written');
  // the app hash in the README is the hash of the example it publishes
  const echoHash = keccak256(readFileSync(WASM('echo')));
  assert.ok(script.includes(echoHash), `README's app hash is ${echoHash}`);

  // the bag writes inputs.txt and results/ at the repository root, as a user's shell would
  const bagFiles = [join(ROOT, 'inputs.txt'), join(ROOT, 'results')];
  const r = await exec('bash', ['-c', `set -euo pipefail\n${script}`], userEnv({ POCCHAIN_DEVNET_DIR: dir }));
  const bagResults = [0, 1, 2].map((i) => join(ROOT, 'results', `${i}.out`)).map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : null));
  if (!process.env.POCCHAIN_KEEP_TEST_DIRS) for (const f of bagFiles) rmSync(f, { recursive: true, force: true });
  const out = r.stdout;
  assert.equal(r.code, 0, `walk-through failed:\n${out}\n${r.stderr}`);
  assert.match(out, new RegExp(`app ${echoHash}`));
  assert.match(out, /registered in tx 0x[0-9a-f]{64}/);
  assert.match(out, /^hello/m, 'the task result');
  assert.match(r.stderr, /credited 0\.01 to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 \(app-fee\) in the Hub/, 'submit --wait says what was credited where');
  assert.match(out, /task 1: completed/);
  assert.match(out, /1 task\(s\) requested by 0x70997970C51812dc3A010C7d01b50e0d17dc79C8/);
  assert.match(out, /earned 0\.01 from 1 task\(s\)/);
  assert.match(out, /hub credit {4}0\.01/);
  assert.match(out, /withdrew 0\.01 \(hub-credit\)/);
  // the bag: one job of three tasks, each result the echo of its line, shown by job show
  assert.match(r.stderr, /3\/3 settled \(3 completed, 0 failed\)/, 'the bag settles, progress on stderr');
  assert.deepEqual(bagResults, ['alpha', 'beta', 'gamma'], 'results/ holds each task\'s output, in input order');
  assert.match(out, /job 2: 3 task\(s\) \d+\.\.\d+ {2}\(3 completed\)/);
  assert.equal((out.match(/^ {2}task \d+ {2}completed {2}0x[0-9a-f]{64}$/gm) ?? []).length, 3, 'job show lists each task with its result');
  assert.match(out, /deposit \d+: 100\.0 to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 .*minted at sidechain block \d+/i);
  assert.match(out, /withdrawal \d+: 40\.0 to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8, checkpoint \d+, released in L1 tx 0x/i);
  assert.match(out, /invariant locked = supply \+ pending withdrawals \+ unminted deposits: holds/);
});

test('a failed task\'s requester and a paid app owner see their Hub credit and withdraw it, exact balances', async () => {
  const sc = new JsonRpcProvider(manifest.nodes[0].rpc, undefined, { staticNetwork: true, cacheTimeout: -1 });
  try {
    const ownerEnv = { POCCHAIN_KEY: OWNER.privateKey };
    const wc = await cli(['app', 'publish', WASM('primes'), '--price', '0.02', '--json'], ownerEnv);
    assert.equal(wc.code, 0, wc.stderr);
    const loop = await cli(['app', 'publish', WASM('loop'), '--price', '0', '--json'], ownerEnv);
    assert.equal(loop.code, 0, loop.stderr);

    // one after the other (an executor busy with the loop could miss the other task's deadline):
    // a prime count (completed: the owner's fee is credited), then an endless loop (no executor
    // can commit: refunded at the final deadline)
    const escrow = parseEther('0.05');
    const paid = await cli(['task', 'submit', '--app', wc.json.app, '--input', '100', '--trust', '3', '--price', '0.1', '--wait', '--json'], { POCCHAIN_KEY: PAYING_REQUESTER.privateKey });
    const failed = await cli(['task', 'submit', '--app', loop.json.app, '--input', 'x', '--price', '0.05', '--wait', '--json'], { POCCHAIN_KEY: FAILED_REQUESTER.privateKey });
    assert.equal(failed.code, 2, `a failed task exits 2: ${failed.stderr}`);
    assert.equal(failed.json.status, 'failed');
    assert.deepEqual(failed.json.credited, [{ to: FAILED_REQUESTER.address, amount: String(escrow), kind: 'refund', where: 'hub' }]);
    assert.equal(paid.code, 0, paid.stderr);
    assert.equal(paid.json.status, 'completed');
    assert.equal(paid.json.result, '25 97\n');
    const fee = paid.json.credited.filter((c: any) => c.kind === 'app-fee');
    assert.deepEqual(fee, [{ to: OWNER.address, amount: String(parseEther('0.02')), kind: 'app-fee', where: 'hub' }]);

    // they see it
    const ob = await cli(['balance', '--json'], ownerEnv);
    assert.equal(ob.code, 0, ob.stderr);
    assert.equal(ob.json.address, OWNER.address);
    assert.equal(ob.json.hubCredit, String(parseEther('0.02')));
    const apps = await cli(['app', 'list', '--json'], ownerEnv);
    const wcRow = apps.json.apps.find((a: any) => a.hash === wc.json.app);
    assert.equal(wcRow.earned, String(parseEther('0.02')));
    assert.equal(wcRow.paidTasks, 1);
    assert.equal(apps.json.apps.find((a: any) => a.hash === loop.json.app).earned, '0');
    const fb = await cli(['balance', '--address', FAILED_REQUESTER.address, '--json']);
    assert.equal(fb.json.hubCredit, String(escrow));
    const list = await cli(['task', 'list', '--status', 'failed', '--json'], { POCCHAIN_KEY: FAILED_REQUESTER.privateKey });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.json.tasks.map((t: any) => [t.taskId, t.refunded]), [[failed.json.taskId, String(escrow)]]);

    // they withdraw it: the account gains exactly the credit minus the gas of the withdrawal
    for (const [key, credit] of [
      [OWNER, parseEther('0.02')],
      [FAILED_REQUESTER, escrow],
    ] as const) {
      const w = await cli(['withdraw', '--json'], { POCCHAIN_KEY: key.privateKey });
      assert.equal(w.code, 0, w.stderr);
      assert.equal(w.json.withdrawn, String(credit));
      assert.equal(w.json.transactions.length, 1);
      const rc = (await sc.getTransactionReceipt(w.json.transactions[0].tx))!;
      assert.equal(rc.status, 1);
      const gas = rc.gasUsed * rc.gasPrice;
      assert.equal(w.json.fees, String(gas));
      const before = await sc.getBalance(key.address, rc.blockNumber - 1);
      const afterBal = await sc.getBalance(key.address, rc.blockNumber);
      assert.equal(afterBal - before, credit - gas, `${key.address}: + credit − gas`);
      const again = await cli(['balance', '--json'], { POCCHAIN_KEY: key.privateKey });
      assert.equal(again.json.hubCredit, '0');
      const nothing = await cli(['withdraw', '--json'], { POCCHAIN_KEY: key.privateKey });
      assert.equal(nothing.code, 1);
      assert.equal(nothing.json.error.code, 'NOTHING_TO_WITHDRAW');
    }
  } finally {
    sc.destroy();
  }
});

test('shared options: environment and manifest defaults, flag > env > manifest; one --json error shape', async () => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const node1 = manifest.nodes[1].rpc;
  const addr = OWNER.address;

  // the manifest alone (no flag, no env): the running devnet's node0 and L1
  const viaManifest = await cli(['balance', '--address', addr, '--json']);
  assert.equal(viaManifest.code, 0, viaManifest.stderr);
  assert.ok(viaManifest.json.block > 0);
  const status = await cli(['bridge', 'status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(status.json.invariantHolds, true);

  // env beats the manifest; the flag beats env
  const envDead = await cli(['balance', '--address', addr, '--json'], { POCCHAIN_RPC: dead });
  assert.equal(envDead.code, 1);
  assert.deepEqual(Object.keys(envDead.json), ['error']);
  assert.equal(envDead.json.error.code, 'RPC_UNREACHABLE');
  assert.ok(envDead.json.error.message.includes(dead), envDead.json.error.message);
  assert.equal(envDead.stdout.trim().split('\n').length, 1, 'exactly one JSON object on stdout');
  const flagWins = await cli(['balance', '--address', addr, '--rpc', node1, '--json'], { POCCHAIN_RPC: dead });
  assert.equal(flagWins.code, 0, flagWins.stderr);
  const l1Dead = await cli(['bridge', 'status', '--json'], { POCCHAIN_L1_RPC: dead });
  assert.equal(l1Dead.json.error.code, 'RPC_UNREACHABLE');
  assert.ok(l1Dead.json.error.message.includes(dead));

  // POCCHAIN_KEY names the account; a bad key is refused without being echoed
  const byKey = await cli(['balance', '--json'], { POCCHAIN_KEY: OWNER.privateKey });
  assert.equal(byKey.json.address, addr);
  const badKey = '0x' + '12'.repeat(31) + 'zz';
  const bad = await cli(['withdraw', '--key', badKey, '--json']);
  assert.equal(bad.code, 1);
  assert.equal(bad.json.error.code, 'KEY_INVALID');
  assert.ok(!bad.stdout.includes('1212121212') && !bad.stderr.includes('1212121212'), 'the key is not printed');
  const badEnv = await cli(['task', 'list', '--json'], { POCCHAIN_KEY: 'not-a-key' });
  assert.equal(badEnv.json.error.code, 'KEY_INVALID');

  // a transaction the chain refuses: the Hub's reason, decoded
  const app = keccak256(readFileSync(WASM('primes')));
  const reverted = await cli(['task', 'submit', '--app', app, '--trust', '0', '--json'], { POCCHAIN_KEY: PAYING_REQUESTER.privateKey });
  assert.equal(reverted.code, 1);
  assert.equal(reverted.json.error.code, 'TX_REFUSED');
  assert.match(reverted.json.error.message, /InvalidTrust\(0\)/);

  // bad input and usage errors have the same shape
  const amount = await cli(['bridge', 'deposit', '--amount', '-1', '--to', addr, '--json'], { POCCHAIN_KEY: OWNER.privateKey });
  assert.equal(amount.json.error.code, 'BAD_AMOUNT');
  const usage = await cli(['task', 'show', '--json']);
  assert.equal(usage.code, 1);
  assert.equal(usage.json.error.code, 'USAGE');
});

test('a bag of 200 tasks from the CLI: every result correct and collected, no assignment expired, executors paid at least their asks', async () => {
  const sc = new JsonRpcProvider(manifest.nodes[0].rpc, undefined, { staticNetwork: true, cacheTimeout: -1 });
  try {
    // hashchain in category 1 (T = 20 blocks: contributions until created + 140, a task is drawn for
    // until created + 100), room to spare on a loaded host; the CLI paces the jobs
    const app = keccak256(readFileSync(WASM('hashchain')));
    const pub = await cli(['app', 'publish', WASM('hashchain'), '--category', '1', '--json'], { POCCHAIN_KEY: OWNER.privateKey });
    assert.equal(pub.code, 0, pub.stderr);
    assert.equal(pub.json.category, 1);
    // one executor asks 0.004 per replica in category 1: with 2 replicas and 0.01 of escrow per
    // task, each replica's reward is 0.005, so it still fits and must get at least its ask (its
    // agent runs on meanwhile: the CLI and the agent share the key, as an operator's would)
    const hubAsExecutor = new Contract(HUB_ADDRESS, hubIface, new Wallet(EXECUTOR.privateKey, sc));
    const [asks, capacity] = (await hubAsExecutor.offerOf(EXECUTOR.address)) as [bigint[], bigint];
    const ask = parseEther('0.004');
    assert.equal((await (await hubAsExecutor.setOffer([asks[0]!, ask, asks[2]!, asks[3]!], capacity > 0n ? capacity : 8n)).wait())!.status, 1);

    const work = tempDir('pocchain-bag-');
    const inputs = Array.from({ length: 200 }, (_, i) => String(i + 1));
    writeFileSync(join(work, 'inputs.txt'), inputs.join('\n') + '\n');
    const from = await sc.getBlockNumber();
    const r = await cli(['task', 'submit', '--app', app, '--inputs-file', join(work, 'inputs.txt'), '--replicas', '2..2', '--trust', '3', '--price', '0.01', '--out', join(work, 'results'), '--json'], { POCCHAIN_KEY: BAG_REQUESTER.privateKey });
    assert.equal(r.code, 0, `bag failed:\n${r.stdout}\n${r.stderr}`);
    assert.equal(r.json.tasks, 200);
    // paced by the executors on offer: 2 replicas per task, jobs of what their free slots run at
    // once (the devnet's 3 executors take 8 each), at most twice that unsettled
    const p = r.json.pacing;
    assert.equal(p.replicasPerTask, 2);
    assert.ok(p.executorSlots > 0 && p.executorSlots <= 24, `slots ${p.executorSlots}`);
    assert.equal(p.concurrentTasks, Math.floor(p.executorSlots / 2));
    assert.equal(p.jobSize, Math.min(64, p.concurrentTasks));
    assert.equal(p.maxInFlight, 2 * p.jobSize);
    assert.deepEqual(r.json.jobs.map((j: any) => j.count), Array.from({ length: Math.ceil(200 / p.jobSize) }, (_, k) => Math.min(p.jobSize, 200 - k * p.jobSize)));
    assert.equal(r.json.completed, 200);
    assert.equal(r.json.failed, 0);
    assert.equal(r.json.collected, 200);
    // every result is sha256 applied N times to 32 zero bytes, written in input order
    const files = readdirSync(join(work, 'results')).filter((f) => f.endsWith('.out')).sort();
    assert.equal(files.length, 200);
    let h = Buffer.alloc(32);
    files.forEach((f, i) => {
      h = createHash('sha256').update(h).digest();
      assert.equal(readFileSync(join(work, 'results', f), 'utf8'), h.toString('hex') + '\n', `${f}: hashchain(${inputs[i]})`);
    });
    const summary = JSON.parse(readFileSync(join(work, 'results', 'results.json'), 'utf8'));
    assert.equal(summary.tasks.filter((t: any) => t.status === 'completed').length, 200);

    // what the chain says about the bag's 200 tasks
    const ids = new Set<bigint>();
    for (const j of r.json.jobs) for (let k = 0; k < j.count; k++) ids.add(BigInt(j.firstTaskId) + BigInt(k));
    const logs = (await sc.getLogs({ address: HUB_ADDRESS, fromBlock: from, toBlock: await sc.getBlockNumber() }))
      .map((l) => ({ ev: hubIface.parseLog(l)!, block: l.blockNumber }))
      .filter((l) => l.ev && ids.has(l.ev.args.taskId as bigint));
    const named = (n: string) => logs.filter((l) => l.ev.name === n).map((l) => l.ev);
    assert.deepEqual(named('Slashed'), [], 'no executor was penalised: no assignment expired, no wrong result');
    assert.equal(named('Declined').length, 0);
    assert.equal(named('TaskFinalized').length, 200);
    // paced: when a job was requested, the tasks of earlier jobs still unsettled in its block plus
    // its own are at most maxInFlight. The CLI decided on an older block, when at least as many
    // were unsettled, so this follows from its rule.
    const finalizedIn = new Map(logs.filter((l) => l.ev.name === 'TaskFinalized').map((l) => [l.ev.args.taskId as bigint, l.block]));
    for (let k = 1; k < r.json.jobs.length; k++) {
      const at = r.json.jobs[k].block as number;
      let unsettled = 0;
      for (const j of r.json.jobs.slice(0, k)) for (let i = 0; i < j.count; i++) if (finalizedIn.get(BigInt(j.firstTaskId) + BigInt(i))! > at) unsettled++;
      assert.ok(unsettled + r.json.jobs[k].count <= p.maxInFlight, `job ${k + 1} (${r.json.jobs[k].count} tasks) requested in block ${at} with ${unsettled} earlier tasks unsettled`);
    }
    // each task's 2 replicas revealed and were paid (a dust remainder may go to the first as a second Paid)
    const reward = new Map<string, bigint>();
    for (const l of named('Paid').filter((l) => Number(l.args.kind) === 0)) {
      const k = `${l.args.taskId}:${l.args.to}`;
      reward.set(k, (reward.get(k) ?? 0n) + (l.args.amount as bigint));
    }
    assert.equal(named('Revealed').length, 400);
    assert.equal(reward.size, 400, 'two paid executors per task');
    const askOf = new Map<string, bigint>();
    for (const k of reward.keys()) {
      const to = k.split(':')[1]!;
      if (!askOf.has(to)) askOf.set(to, ((await hubAsExecutor.offerOf(to)) as [bigint[]])[0][0]!);
    }
    for (const [k, amount] of reward) assert.ok(amount >= askOf.get(k.split(':')[1]!)!, `${k}: paid ${amount} < ask`);
    const byAsker = [...reward.keys()].filter((k) => k.endsWith(`:${EXECUTOR.address}`)).length;
    assert.ok(byAsker > 0, 'the executor with an ask ran some of the bag');
    if (!process.env.POCCHAIN_KEEP_TEST_DIRS) rmSync(work, { recursive: true, force: true });
  } finally {
    sc.destroy();
  }
});
