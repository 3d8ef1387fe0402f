/**
 * A bag of 200 tasks on the 4-validator devnet (`pocchain devnet`: anvil L1, 4 validators, 3
 * executors, relayer), submitted from the CLI with `task submit --inputs-file … --out DIR`: every
 * result is correct (the echo workload returns its input) and collected into DIR, no assignment
 * expired (nobody slashed, every assignee revealed), and every task paid its escrow to its three
 * executors. Then `job show` reports the bag, and Ctrl-C stops the devnet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Contract, JsonRpcProvider, parseEther } from 'ethers';
import { CLI, NODE, ROOT, tempDir, waitFor } from '../helpers/proc.ts';
import { isPortFree } from '../../devnet/ports.ts';
import { parseStatusLine } from '../../devnet/status.ts';
import { devAccounts } from '../../lib/keys.ts';
import { ensureExamples, WASM } from '../fixtures/poc-net.ts';
import { HUB_ADDRESS } from '../../consensus/poc/index.ts';
import { hubIface } from '../../executor/hub-client.ts';

const TASKS = 200;
const ESCROW = parseEther('0.01');

function cli(args: string[], key: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [CLI, ...args], { cwd: ROOT, env: { ...process.env, POCCHAIN_KEY: key }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A run of `n` consecutive free ports below the ephemeral range, none of them in `avoid`. */
async function freeRange(n: number, avoid: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const ports = Array.from({ length: n }, (_, i) => base + i);
    if (ports.some((p) => avoid.has(p))) continue;
    if ((await Promise.all(ports.map((p) => isPortFree(p)))).every(Boolean)) {
      ports.forEach((p) => avoid.add(p));
      return base;
    }
  }
  throw new Error('no free port range');
}

test('a bag of 200 tasks from the CLI on the 4-validator devnet: every result correct and collected, no assignment expired, executors paid', { timeout: 600_000 }, async () => {
  await ensureExamples();
  const dir = join(tempDir('pocchain-bag-'), 'devnet');
  const used = new Set<number>();
  const rpcPort = await freeRange(4, used);
  const p2pPort = await freeRange(4, used);
  const l1Port = await freeRange(1, used);
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const child: ChildProcess = spawn(NODE, [CLI, 'devnet', '--dir', dir, '--rpc-port', String(rpcPort), '--p2p-port', String(p2pPort), '--l1-port', String(l1Port), '--status-interval', '1'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    await waitFor('devnet up with 3 executors', async () => {
      if (child.exitCode !== null) throw new Error(`devnet exited ${child.exitCode}: ${err}`);
      return out.split('\n').map(parseStatusLine).find((s) => s && Number(s.height) >= 3 && s.executors === '3');
    }, 180_000, 250);
    const m = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8'));
    const rpc = m.nodes[0].rpc as string;
    const executors = (m.executors as { address: string }[]).map((e) => e.address.toLowerCase());

    // category 1 (T = 20 blocks): 200 tasks wait for 3 executors' lock slots well within 7T
    const pub = await cli(['app', 'publish', WASM('echo'), '--category', '1', '--rpc', rpc, '--json'], devAccounts(3)[2]!.privateKey);
    assert.equal(pub.code, 0, pub.stderr);
    const app = JSON.parse(pub.stdout).app as string;
    const work = tempDir('pocchain-bag-io-');
    const inputs = Array.from({ length: TASKS }, (_, i) => `input ${i} of the bag`);
    writeFileSync(join(work, 'inputs.txt'), inputs.join('\n') + '\n');
    const outDir = join(work, 'results');

    const quote = await cli(['market', '--app', app, '--replicas', '3', '--tasks', String(TASKS), '--rpc', rpc, '--json'], devAccounts(4)[3]!.privateKey);
    assert.equal(quote.code, 0, quote.stderr);
    const q = JSON.parse(quote.stdout);
    assert.equal(q.executors.length, 3);
    assert.ok(BigInt(q.quote.leastEscrowPerTask) <= ESCROW, 'the escrow we pay meets the quote');

    const sub = await cli(['task', 'submit', '--app', app, '--inputs-file', join(work, 'inputs.txt'), '--trust', '5', '--replicas', '3..3', '--price', '0.01', '--out', outDir, '--timeout', '480', '--json', '--rpc', rpc], devAccounts(4)[3]!.privateKey);
    assert.equal(sub.code, 0, `${sub.stdout}\n${sub.stderr.slice(-2000)}`);
    const done = JSON.parse(sub.stdout);
    assert.deepEqual([done.tasks, done.completed, done.failed, done.collected], [TASKS, TASKS, 0, TASKS]);
    assert.equal(done.jobs.length, 1, 'one job: one transaction, one escrow');
    assert.match(sub.stderr, /\[#{30}\] 200\/200 settled \(200 completed, 0 failed\)/, 'the progress bar reached the end');

    // every result correct and collected, in input order
    for (const [i, input] of inputs.entries()) {
      assert.equal(readFileSync(join(outDir, `${String(i).padStart(3, '0')}.out`), 'utf8'), input, `result ${i}`);
    }
    const manifest = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8'));
    assert.equal(manifest.tasks.filter((t: any) => t.status === 'completed').length, TASKS);

    // no assignment expired, nobody slashed; every task paid its escrow to its 3 executors
    const provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true, cacheTimeout: -1 });
    try {
      const hub = new Contract(HUB_ADDRESS, hubIface, provider);
      const first = BigInt(done.jobs[0].firstTaskId);
      const head = await provider.getBlockNumber();
      const logs = [];
      for (let from = Number(done.jobs[0].block); from <= head; from += 1000) {
        logs.push(...(await provider.getLogs({ address: HUB_ADDRESS, fromBlock: from, toBlock: Math.min(head, from + 999) })));
      }
      const parsed = logs.map((l) => hubIface.parseLog(l)!).filter(Boolean);
      assert.equal(parsed.filter((p) => p.name === 'Slashed').length, 0, 'nobody slashed: no assignment expired');
      const paid = new Map<bigint, bigint>();
      for (const p of parsed) {
        if (p.name !== 'Paid' || Number(p.args.kind) !== 0) continue;
        assert.ok(executors.includes(String(p.args.to).toLowerCase()), 'rewards go to the devnet executors');
        paid.set(p.args.taskId as bigint, (paid.get(p.args.taskId as bigint) ?? 0n) + (p.args.amount as bigint));
      }
      for (let id = first; id < first + BigInt(TASKS); id++) {
        assert.equal(paid.get(id), ESCROW, `task ${id} paid its escrow`);
        const assignees = (await hub.taskAssignees(id)) as string[];
        assert.equal(assignees.length, 3);
        for (const a of assignees) assert.equal(Number((await hub.getAssignment(id, a)).status), 3, `task ${id}: ${a} revealed`);
      }
    } finally {
      provider.destroy();
    }
    const show = await cli(['job', 'show', String(done.jobs[0].jobId), '--rpc', rpc, '--json'], devAccounts(4)[3]!.privateKey);
    assert.equal(show.code, 0, show.stderr);
    const job = JSON.parse(show.stdout);
    assert.deepEqual([job.count, job.counts.completed, job.escrowPerTask], [TASKS, TASKS, String(ESCROW)]);
  } finally {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGINT');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 30_000))]);
    if (code === 'timeout') process.kill(-child.pid!, 'SIGKILL');
    assert.ok(!existsSync(join(dir, 'devnet.json')) || JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8')).running === false, 'devnet stopped');
  }
});
