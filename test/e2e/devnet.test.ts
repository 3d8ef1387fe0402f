/**
 * `npm start` as a user runs it: `npm start -- --dir <tmp> --rpc-port … --p2p-port … --l1-port …`
 * in its own process group, Ctrl-C sent to the whole group as a terminal does. Checks the banner,
 * the status line (committed blocks, executors online, a checkpoint on L1), the manifest, ethers
 * over http and ws against the RPC, the checkpoint on L1 matching the sidechain's block, a compute
 * task published and requested with the CLI and run by the devnet's executors; then node0 is
 * SIGKILLed (the devnet reports it, does not restart it) and, with node0 down, a new app published
 * and requested through node1 completes on all three executors (executor0 failed over from node0
 * to node1, node2 fetched the wasm from a peer for executor2) while the other three validators keep
 * committing; then that SIGINT stops every child (node0 already dead), that a second run resumes
 * the same chains from the same dir (node0 recovers from its kill and catches up), that a SIGKILLed
 * devnet takes its children along, that the dir is still reusable after that, and that --reset
 * starts a new chain.
 * Also: a busy port is refused up front with the port and the flag to change, nothing started.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { JsonRpcProvider, Wallet, WebSocketProvider, parseEther } from 'ethers';
import { CLI, NODE, ROOT, metricSum, tempDir, waitFor } from '../helpers/proc.ts';
import { alive, ctrlC, freeRange, spawnGroup, type DevnetRun } from '../helpers/devnet.ts';
import { checkpointScheme, l1CheckpointAt, latestL1Height } from '../../bridge/l1-checkpoints.ts';
import { devAccounts } from '../../lib/keys.ts';
import { l1Provider } from '../../devnet/bridge-setup.ts';
import { rpcCall } from '../../devnet/status.ts';
import { ensureExamples, WASM } from '../fixtures/poc-net.ts';

/**
 * `npm start -- <args>` (or, with `direct`, `pocchain devnet <args>`) in its own process group, as
 * a terminal would run it.
 */
function start(args: string[], direct = false): DevnetRun {
  const [cmd, argv] = direct ? [NODE, [CLI, 'devnet', ...args]] : ['npm', ['start', '--', ...args]];
  return spawnGroup(cmd, argv, { cwd: ROOT, env: { ...process.env, npm_config_update_notifier: 'false' } });
}

function manifestPids(m: any): number[] {
  return [...m.nodes.map((n: any) => n.pid), ...m.executors.map((e: any) => e.pid), m.relayer.pid, m.l1.pid];
}

async function waitStatus(r: DevnetRun, dir: string, what: string, pred: (s: Record<string, string>) => boolean, timeoutMs = 150_000): Promise<Record<string, string>> {
  try {
    return await waitFor(what, async () => {
      if (r.child.exitCode !== null) throw new Error(`devnet exited ${r.child.exitCode}: ${r.err()}`);
      return r.statuses().find(pred);
    }, timeoutMs, 250);
  } catch (e) {
    // enough to tell a slow machine from a stuck network
    const tail = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').trimEnd().split('\n').slice(-5).join('\n') : '(none)');
    const lines = r.out().trimEnd().split('\n');
    throw new Error(`${(e as Error).message}\nlast status: ${lines[lines.length - 1]}\nstderr: ${r.err()}\nnode0.log: ${tail(join(dir, 'logs', 'node0.log'))}\nrelayer.log: ${tail(join(dir, 'logs', 'relayer.log'))}`);
  }
}

/** Run a pocchain CLI command to completion with POCCHAIN_KEY. */
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

/** The JSON lines of a child's log (pino), other lines skipped. */
function logEntries(file: string): Record<string, any>[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
}

const n = (v: string | undefined) => (v === undefined || v === '-' ? -1 : Number(v));

test('npm start: whole system up, status, ethers, tasks survive node0 being killed, Ctrl-C stops every child, reruns resume, a killed devnet takes its children along, --reset starts over', { timeout: 300_000 }, async (t) => {
  await ensureExamples();
  const dir = join(tempDir('pocchain-devnet-'), 'devnet');
  const used = new Set<number>();
  const rpcPort = await freeRange(4, used);
  const p2pPort = await freeRange(4, used);
  const l1Port = await freeRange(1, used);
  const args = ['--dir', dir, '--rpc-port', String(rpcPort), '--p2p-port', String(p2pPort), '--l1-port', String(l1Port), '--status-interval', '1'];

  // a busy port: refused before anything starts, naming the port and the flag
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(l1Port, '127.0.0.1', resolve));
  try {
    const busy = spawn(NODE, [CLI, 'devnet', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let berr = '';
    busy.stderr!.on('data', (d) => (berr += d));
    const code = await new Promise<number | null>((resolve) => busy.once('exit', resolve));
    assert.equal(code, 1);
    assert.match(berr, new RegExp(`port ${l1Port} \\(the L1 \\(anvil\\) RPC\\) is already in use`));
    assert.match(berr, /--l1-port <port>/);
    assert.equal(existsSync(join(dir, 'layout.json')), false, 'nothing laid out');
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }

  // 1. first run, through npm
  let run = start(args);
  let pids: number[] = [];
  let first: { height: number; hash: string; checkpoint: number; txHash: string };
  try {
    const up = await waitStatus(run, dir, 'blocks, an executor and a checkpoint on L1', (s) => n(s.height) >= 3 && n(s.executors) >= 1 && n(s.l1_checkpoint) >= 1);
    const out = run.out();
    assert.match(out, new RegExp(`RPC http://127\\.0\\.0\\.1:${rpcPort}`));
    assert.match(out, /chain id 31338/);
    assert.match(out, /DEV ONLY/);
    assert.ok(out.includes(devAccounts(1)[0]!.privateKey), 'the funded dev keys are printed');
    assert.equal(up.procs, '9/9');

    const m = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8'));
    assert.equal(m.running, true);
    assert.equal(m.chainId, 31338);
    assert.equal(m.nodes.length, 4);
    assert.equal(m.executors.length, 3);
    assert.equal(m.nodes[0].rpc, `http://127.0.0.1:${rpcPort}`);
    assert.equal(m.l1.rpc, `http://127.0.0.1:${l1Port}`);
    assert.match(m.nodes[3].p2p, new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/${p2pPort + 3}/p2p/12D3`));
    for (const k of ['token', 'checkpoints', 'vault']) assert.match(m.contracts.l1[k], /^0x[0-9a-fA-F]{40}$/);
    assert.equal(m.contracts.sidechain.hub, '0x0000000000000000000000000000000000001001');
    pids = manifestPids(m);
    assert.equal(pids.length, 9);
    for (const pid of pids) assert.ok(alive(pid), `child ${pid} runs`);
    assert.ok(readdirSync(join(dir, 'logs')).includes('node0.log'));

    // ethers against the RPC: chain id, a funded dev account, a transfer seen by another validator
    const sc = new JsonRpcProvider(m.nodes[0].rpc, undefined, { cacheTimeout: -1, pollingInterval: 200 });
    const ws = new WebSocketProvider(m.nodes[0].ws);
    try {
      assert.equal((await sc.getNetwork()).chainId, 31338n);
      const alice = new Wallet(devAccounts(2)[1]!.privateKey, sc);
      assert.ok((await sc.getBalance(alice.address)) > parseEther('1000'));
      const to = Wallet.createRandom().address;
      const rc = (await (await alice.sendTransaction({ to, value: parseEther('1.5') })).wait())!;
      assert.equal(rc.status, 1);
      const other = new JsonRpcProvider(m.nodes[3].rpc, undefined, { staticNetwork: true, cacheTimeout: -1 });
      await waitFor('transfer on node3', async () => (await other.getBalance(to)) === parseEther('1.5'), 30_000, 200);
      other.destroy();
      assert.ok((await ws.getBlockNumber()) >= rc.blockNumber);

      // the checkpoint on L1 is the sidechain's block at that height
      const l1 = l1Provider(m.l1.rpc, m.l1.chainId);
      const h = await latestL1Height(l1, m.contracts.l1.checkpoints);
      assert.ok(h >= 10 && h % 10 === 0, `checkpoint height ${h} is an epoch boundary`);
      assert.equal(await checkpointScheme(l1, m.contracts.l1.checkpoints), 'bls', 'the devnet validators have BLS keys: CheckpointsBls');
      const cp = await l1CheckpointAt(l1, m.contracts.l1.checkpoints, h);
      assert.equal(cp?.blockHash, (await sc.getBlock(h))!.hash);
      l1.destroy();

      // a compute task through the whole system, with the CLI at the default-style RPC (node0):
      // publish the echo app, request 3 replicas; the devnet's executors run it and agree
      const pub = await cli(['app', 'publish', WASM('echo'), '--rpc', m.nodes[0].rpc, '--price', '0', '--json'], devAccounts(3)[2]!.privateKey);
      assert.equal(pub.code, 0, pub.stderr);
      const app = JSON.parse(pub.stdout).app;
      const task = await cli(['task', 'submit', '--app', app, '--input', 'hello devnet', '--trust', '5', '--replicas', '3..3', '--price', '0.3', '--wait', '--timeout', '120', '--json', '--rpc', m.nodes[0].rpc], devAccounts(4)[3]!.privateKey);
      assert.equal(task.code, 0, task.stderr);
      const done = JSON.parse(task.stdout);
      assert.equal(done.status, 'completed');
      assert.equal(done.result, 'hello devnet');
      await waitStatus(run, dir, 'the status line counts the finalized task', (x) => n(x.tasks_finalized) >= 1 && n(x.tasks_running) === 0 && x.executors === '3');
      first = { height: await sc.getBlockNumber(), hash: (await sc.getBlock(1))!.hash!, checkpoint: h, txHash: rc.hash };
    } finally {
      sc.destroy();
      await ws.destroy();
    }

    // node0 crashes (SIGKILL) and stays down: the devnet reports it and does not restart it. The
    // other three validators keep committing (BFT tolerates one of four), executor0 moves from
    // node0 to node1, and a new app published and requested through node1 runs on all three
    // executors: node2 fetches its wasm from a peer for executor2.
    const killT0 = Date.now();
    const nodeRpc = m.nodes.map((x: any) => x.rpc as string);
    m.executors.forEach((e: any, k: number) => {
      assert.equal(e.rpc, nodeRpc[k % nodeRpc.length], `executor${k} is attached to node${k % nodeRpc.length}`);
      assert.equal(logEntries(e.log).find((l) => l.msg === 'executor started')?.node, e.rpc, `executor${k}'s own log names its node`);
    });
    const fetchedBefore = await metricSum(nodeRpc[2]!, 'pocchain_content_fetches_total', { outcome: 'found' });
    const bytesBefore = await metricSum(nodeRpc[2]!, 'pocchain_content_peer_fetched_bytes_total');
    const n1 = new JsonRpcProvider(nodeRpc[1], undefined, { staticNetwork: true, cacheTimeout: -1 });
    try {
      process.kill(m.nodes[0].pid, 'SIGKILL');
      await waitFor('the devnet reports node0 dead', async () => /! node0 exited unexpectedly \(SIGKILL\)/.test(run.err()), 30_000, 100);
      const killedAt = await n1.getBlockNumber();
      await waitFor('executor0 fails over from node0 to node1', async () => logEntries(m.executors[0].log).some((l) => l.msg === 'node unreachable: failing over' && l.from === nodeRpc[0] && l.to === nodeRpc[1]), 30_000, 100);

      const wasm = readFileSync(WASM('hashchain'));
      const pub = await cli(['app', 'publish', WASM('hashchain'), '--rpc', nodeRpc[1]!, '--price', '0', '--json'], devAccounts(3)[2]!.privateKey);
      assert.equal(pub.code, 0, pub.stderr);
      const app = JSON.parse(pub.stdout).app;
      await assert.rejects(rpcCall(nodeRpc[0]!, 'eth_chainId', [], 2000), 'node0 is down when the task is requested');
      const task = await cli(['task', 'submit', '--app', app, '--input', '1000', '--trust', '5', '--replicas', '3..3', '--price', '0.3', '--wait', '--timeout', '120', '--json', '--rpc', nodeRpc[1]!], devAccounts(4)[3]!.privateKey);
      assert.equal(task.code, 0, task.stderr);
      const done = JSON.parse(task.stdout);
      assert.equal(done.status, 'completed');
      let h = Buffer.alloc(32);
      for (let i = 0; i < 1000; i++) h = createHash('sha256').update(h).digest();
      assert.equal(done.result, h.toString('hex') + '\n');
      // trust 5 with three newcomers (weight 2 each) needs all three to agree: executor0 took part
      // through node1; the test checks it rather than relying on the arithmetic
      const shown = await cli(['task', 'show', done.taskId, '--json', '--rpc', nodeRpc[1]!], devAccounts(4)[3]!.privateKey);
      assert.equal(shown.code, 0, shown.stderr);
      const contributors = JSON.parse(shown.stdout).contributors as { executor: string; status: string }[];
      assert.deepEqual(contributors.map((c) => c.executor.toLowerCase()).sort(), m.executors.map((e: any) => e.address.toLowerCase()).sort());
      for (const c of contributors) assert.equal(c.status, 'revealed', `${c.executor} revealed`);
      // node2 did not have the wasm (published through node1): fetched from a peer for executor2
      assert.ok((await metricSum(nodeRpc[2]!, 'pocchain_content_fetches_total', { outcome: 'found' })) >= fetchedBefore + 1, 'node2 fetched content from a peer');
      assert.ok((await metricSum(nodeRpc[2]!, 'pocchain_content_peer_fetched_bytes_total')) >= bytesBefore + wasm.length, 'the wasm came over p2p');
      // and the chain went on without node0 all along
      const after = await n1.getBlockNumber();
      assert.ok(after > killedAt, `committed past block ${killedAt} with node0 down (now ${after})`);
      await assert.rejects(rpcCall(nodeRpc[0]!, 'eth_chainId', [], 2000), 'node0 is still down');
      await waitStatus(run, dir, 'the status line shows 8 of 9 processes and a growing chain', (x) => x.procs === '8/9' && n(x.height) > after);
      first!.height = after;
    } finally {
      n1.destroy();
    }
    t.diagnostic(`node0 killed, task through node1 final in ${((Date.now() - killT0) / 1000).toFixed(1)} s`);
  } finally {
    await ctrlC(run);
  }
  // npm re-raises the SIGINT on itself once its script has exited (what it does for any script)
  assert.ok(run.child.exitCode === 0 || run.child.signalCode === 'SIGINT', `npm: ${run.child.exitCode ?? run.child.signalCode}`);
  assert.match(run.err(), /devnet stopped; data kept/);
  // the one complaint is node0's death (followed by its log tail, indented), reported once
  assert.equal(run.err().match(/exited unexpectedly/g)?.length, 1, run.err());
  assert.doesNotMatch(run.err().split('\n').filter((l) => !l.startsWith('    ') && !l.startsWith('! node0 exited unexpectedly (SIGKILL)')).join('\n'), /error|exited unexpectedly|forced/);
  for (const pid of pids) assert.equal(alive(pid), false, `child ${pid} exited`);
  const stopped = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8'));
  assert.equal(stopped.running, false);
  assert.equal(existsSync(join(dir, 'devnet.pid')), false, 'lock released');
  assert.ok(existsSync(join(dir, 'l1', 'state.json')), 'anvil dumped its state');

  // 2. second run on the same dir (the CLI itself): the same chain continues, the L1 kept its
  // checkpoints. Then the devnet is SIGKILLed: its children must not outlive it.
  run = start(args, true);
  let second = 0;
  try {
    const s = await waitStatus(run, dir, 'the resumed chain grows', (x) => n(x.height) > first!.height && n(x.l1_checkpoint) >= first!.checkpoint);
    assert.match(run.out(), /resumed/);
    assert.equal(s.procs, '9/9');
    const m = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8'));
    pids = manifestPids(m);
    const sc = new JsonRpcProvider(m.nodes[0].rpc, undefined, { staticNetwork: true, cacheTimeout: -1 });
    try {
      assert.equal((await sc.getBlock(1))!.hash, first!.hash, 'same chain');
      assert.equal((await sc.getTransactionReceipt(first!.txHash))!.status, 1, 'earlier tx still there');
      second = await sc.getBlockNumber();
    } finally {
      sc.destroy();
    }
  } finally {
    run.child.kill('SIGKILL');
    await run.exited;
  }
  await waitFor('every child of the killed devnet exits', async () => pids.every((pid) => !alive(pid)), 60_000, 250);

  // 3. a third run after the kill: stale lock and manifest are no obstacle, the chain resumes;
  // Ctrl-C: exit code 0 and every child gone
  run = start(args, true);
  try {
    await waitStatus(run, dir, 'the chain resumes after a kill', (x) => n(x.height) > second && x.procs === '9/9');
    pids = manifestPids(JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8')));
  } finally {
    await ctrlC(run);
  }
  assert.equal(run.child.exitCode, 0, run.err());
  assert.doesNotMatch(run.err(), /error|exited unexpectedly|forced/);
  for (const pid of pids) assert.equal(alive(pid), false, `child ${pid} exited`);

  // 4. --reset: a new chain in the same dir
  run = start([...args, '--reset'], true);
  try {
    await waitStatus(run, dir, 'a new chain', (x) => n(x.height) >= 1);
    assert.match(run.out(), /new chain/);
    const m = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8'));
    pids = manifestPids(m);
    const sc = new JsonRpcProvider(m.nodes[0].rpc, undefined, { staticNetwork: true, cacheTimeout: -1 });
    try {
      assert.notEqual((await sc.getBlock(1))!.hash, first!.hash, 'another chain');
      assert.equal(await sc.getTransactionReceipt(first!.txHash), null);
    } finally {
      sc.destroy();
    }
  } finally {
    await ctrlC(run);
  }
  assert.equal(run.child.exitCode, 0, run.err());
  for (const pid of pids) assert.equal(alive(pid), false, `child ${pid} exited`);
  if (!process.env.POCCHAIN_KEEP_TEST_DIRS) rmSync(dirname(dir), { recursive: true, force: true });
});
