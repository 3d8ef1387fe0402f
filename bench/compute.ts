/**
 * Compute benchmark of issues 13 and 14 (not part of npm test; it prints figures, asserts nothing):
 * the real devnet (`pocchain devnet`: 4 validators, 3 executors, anvil L1 and the relayer, every
 * one its own process on this host), the trivial `echo` workload, trust 5 with 3..3 replicas (all 3
 * executors must agree), category 0, escrow 0.03 coin per task.
 *
 * - serial: one task at a time; latency = wall time from sending requestTask to seeing its
 *   TaskFinalized over RPC, and blocks from the request's block to the finalizing block.
 * - burst N (100 and 1,000): N requestTask transactions sent at once from 25 funded senders (a sender
 *   may run at most 64 nonces ahead in the pool); tasks/min = N / (last finalized − first sent).
 * - bag N (1,000): the real `pocchain task submit --inputs-file FILE --out DIR` with the CLI's
 *   defaults (jobs of what the executors on offer run at once, at most twice that unsettled, every result
 *   written to DIR), timed from the command's start to the last TaskFinalized; its latency is
 *   from the command's start too (the jobs are paced), its blocks from each job's request block.
 * - gas per task: the request (requestTask / requestTasks receipts) + every executor transaction of
 *   the run (contribute, reveal; withdraws are off on the devnet only if nobody asks: they are
 *   counted too) + the Hub's system calls (schedule + finalize) of every block of the run, read
 *   from `pocchain_systemGas` (system calls have no receipt), spread over the run's tasks.
 * - executor CPU share: utime+stime of the 3 executor processes (/proc/<pid>/stat; their sandbox
 *   workers are threads of the same process) over wall time × cores, per phase; the validators'
 *   share alongside, for context.
 * A phase that does not finish says how far it got and why (no task finalized for BENCH_STALL_S, or
 * past its wall-time budget BENCH_PHASE_MAX_S); a task that finalizes as failed (expired) counts as
 * finalized, not completed: both rates are printed.
 *
 * Run: `npm run bench:compute` (env BENCH_SERIAL=20, BENCH_BURSTS=100,1000, BENCH_BAG=1000,
 * BENCH_BLOCK_MS=500 (the devnet's default), BENCH_CAPACITY=64 (each executor's), BENCH_STAKE=capacity×0.1+1, BENCH_STALL_S=120, BENCH_PHASE_MAX_S=1800;
 * BENCH_JSON=<file> or --json).
 * The worst-case gas of one schedule() at 256 executors is bench/schedule-gas.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Transaction, Wallet, formatEther, parseEther, parseUnits, ZeroHash, ZeroAddress } from 'ethers';
import { devAccounts } from '../lib/keys.ts';
import { hubIface } from '../executor/hub-client.ts';
import { HUB_ADDRESS } from '../consensus/poc/index.ts';
import { parseStatusLine } from '../devnet/status.ts';
import { ensureExamples, WASM } from '../test/fixtures/poc-net.ts';
import { CLI, NODE, ROOT, tempDir, waitFor } from '../test/helpers/proc.ts';
import { freeRange } from '../test/helpers/devnet.ts';
import { rpcBatch, rpcCall, table } from './lib.ts';

const SERIAL = Number(process.env.BENCH_SERIAL ?? 20);
const BURSTS = (process.env.BENCH_BURSTS ?? '100,1000').split(',').filter(Boolean).map(Number);
const BAG = Number(process.env.BENCH_BAG ?? 1000);
const BLOCK_MS = Number(process.env.BENCH_BLOCK_MS ?? 500);
/** each executor's declared capacity (open assignments): with the Hub's default of 8, three executors
 *  run 8 tasks of 3 replicas at once and the bag waits on them, not on the chain */
const CAPACITY = Number(process.env.BENCH_CAPACITY ?? 64);
/** stake that covers LOCK_PER_TASK (0.1) for every slot of that capacity */
const STAKE = process.env.BENCH_STAKE ?? String(Math.ceil(CAPACITY * 0.1) + 1);
const STALL_S = Number(process.env.BENCH_STALL_S ?? 120);
/** wall-time budget of one phase; a phase past it is reported NOT FINISHED with how far it got */
const PHASE_MAX_S = Number(process.env.BENCH_PHASE_MAX_S ?? 1800);
const JSON_OUT = process.env.BENCH_JSON ?? (process.argv.includes('--json') ? '-' : undefined);
const ESCROW = parseEther('0.03');
const SENDERS = 25;
const CORES = cpus().length;
const CLK_TCK = 100; // USER_HZ: 100 on every Linux ABI Node supports
const FINALIZED = hubIface.getEvent('TaskFinalized')!.topicHash;
const REQUESTED = hubIface.getEvent('TaskRequested')!.topicHash;
const say = (s: string) => process.stderr.write(`[compute] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = (n: number) => '0x' + n.toString(16);

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

/** utime+stime of a process in seconds (0 if it is gone). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14 and 15 of proc(5)
  } catch {
    return 0;
  }
}

interface Devnet {
  child: ChildProcess;
  rpc: string;
  executors: { address: string; pid: number }[];
  validatorPids: number[];
}

async function startDevnet(): Promise<Devnet> {
  const dir = join(tempDir('pocchain-bench-devnet-'), 'devnet');
  const used = new Set<number>();
  const rpcPort = await freeRange(4, used);
  const p2pPort = await freeRange(4, used);
  const l1Port = await freeRange(1, used);
  const args = [CLI, 'devnet', '--dir', dir, '--rpc-port', String(rpcPort), '--p2p-port', String(p2pPort), '--l1-port', String(l1Port), '--status-interval', '1', '--block-time', String(BLOCK_MS), '--executor-capacity', String(CAPACITY), '--executor-stake', STAKE];
  say(`node ${args.slice(1).join(' ')}`);
  // own process group, so a failed run takes every child along
  const child = spawn(NODE, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  await waitFor('devnet with 3 executors staked', async () => {
    if (child.exitCode !== null) throw new Error(`devnet exited ${child.exitCode}: ${err}`);
    return out.split('\n').map(parseStatusLine).find((s) => s && Number(s.executors) >= 3 && Number(s.height) >= 2);
  }, 240_000, 250);
  const m = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8'));
  // the CLI paces a bag by the executors' free slots: wait until each has declared its capacity
  await waitFor(`3 executors declaring capacity ${CAPACITY}`, async () => {
    const caps = await Promise.all(m.executors.map(async (e: any) => Number(hubIface.decodeFunctionResult('offerOf', await rpcCall(m.nodes[0].rpc, 'eth_call', [{ to: HUB_ADDRESS, data: hubIface.encodeFunctionData('offerOf', [e.address]) }, 'latest']))[1])));
    return caps.every((c) => c === CAPACITY);
  }, 120_000, 250);
  return { child, rpc: m.nodes[0].rpc, executors: m.executors.map((e: any) => ({ address: String(e.address).toLowerCase(), pid: e.pid })), validatorPids: m.nodes.map((n: any) => n.pid) };
}

async function stopDevnet(d: Devnet): Promise<void> {
  if (d.child.exitCode !== null) return;
  const exited = new Promise((r) => d.child.once('exit', r));
  try {
    process.kill(-d.child.pid!, 'SIGINT');
  } catch {}
  const t = setTimeout(() => {
    try {
      process.kill(-d.child.pid!, 'SIGKILL');
    } catch {}
  }, 60_000);
  await exited;
  clearTimeout(t);
}

function cli(args: string[], key: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(NODE, [CLI, ...args], { cwd: ROOT, env: { ...process.env, POCCHAIN_KEY: key }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout!.on('data', (d) => (stdout += d));
    c.stderr!.on('data', (d) => (stderr += d));
    c.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Phase {
  name: string;
  tasks: number;
  finalized: number;
  completed: number;
  failed: number;
  finished: boolean;
  why?: string;
  spanMs: number;
  tasksPerMin: number;
  latencyMs: number[];
  latencyBlocks: number[];
  requestGas: bigint;
  executorGas: bigint;
  systemGas: bigint;
  systemGasMissing: number;
  executorCpuShare: number;
  validatorCpuShare: number;
  blocks: number;
  /** per task, blocks from its request's block to the last event of each stage */
  stageBlocks: Record<string, number[]>;
}

/** What a phase sent: request tx hashes and send times, now or (a command still running) later. */
interface Submitted {
  hashes: string[];
  sentAt: number[];
  t0: number;
  later?: Promise<{ hashes: string[]; sentAt: number[] }>;
}

const STAGES = ['TaskAssigned', 'Contributed', 'ConsensusReached', 'Revealed', 'TaskFinalized'] as const;

async function main() {
  await ensureExamples();
  const d = await startDevnet();
  const url = d.rpc;
  try {
    const chainId = Number(await rpcCall(url, 'eth_chainId'));
    const dev = devAccounts(10);
    const owner = dev[0]!;
    const pub = await cli(['app', 'publish', WASM('echo'), '--rpc', url, '--price', '0', '--category', '0', '--json'], owner.privateKey);
    if (pub.code !== 0) throw new Error(`app publish: ${pub.stderr}`);
    const app = JSON.parse(pub.stdout).app as string;
    say(`app ${app} published; devnet rpc ${url}, executors ${d.executors.map((e) => e.pid).join(' ')}`);
    const fee = { maxFeePerGas: parseUnits('50', 'gwei'), maxPriorityFeePerGas: parseUnits('1', 'gwei') };

    // burst senders: fresh keys funded by dev account 0 (enough for the largest burst's share)
    const senders = Array.from({ length: SENDERS }, () => Wallet.createRandom());
    const biggest = Math.max(1, ...BURSTS);
    const each = ESCROW * BigInt(Math.ceil(biggest / SENDERS) + 2) + parseEther('1');
    {
      const nonce = Number(await rpcCall(url, 'eth_getTransactionCount', [owner.address, 'pending']));
      const w = new Wallet(owner.privateKey);
      const raws = await Promise.all(senders.map((s, k) => w.signTransaction(Transaction.from({ type: 2, chainId, nonce: nonce + k, to: s.address, value: each, gasLimit: 21_000n, ...fee }))));
      const res = await rpcBatch(url, raws.map((r) => ({ method: 'eth_sendRawTransaction', params: [r] })));
      const bad = res.find((x) => x.error);
      if (bad) throw new Error(`funding: ${bad.error.message}`);
      await waitFor('senders funded', async () => BigInt(await rpcCall(url, 'eth_getBalance', [senders.at(-1)!.address, 'latest'])) >= each, 60_000, 200);
    }
    const nonces = new Map<string, number>(senders.map((s) => [s.address, 0]));
    let inputSeq = 0;
    const requestData = () => hubIface.encodeFunctionData('requestTask', [app, ZeroHash, new TextEncoder().encode(`task ${inputSeq++}`), 5, 3, 3, 0, ZeroAddress]);

    /** Wait until `count` tasks with ids after `before` are finalized (or nothing moves for STALL_S). */
    const track = async (before: number, count: number, fromBlock: number) => {
      const done = new Map<number, { t: number; block: number; status: number }>();
      let from = fromBlock;
      const t0 = performance.now();
      let lastProgress = t0;
      let why: string | undefined;
      while (done.size < count) {
        const head = Number(await rpcCall(url, 'eth_blockNumber'));
        if (head >= from) {
          const logs = await rpcCall(url, 'eth_getLogs', [{ address: HUB_ADDRESS, topics: [FINALIZED], fromBlock: hex(from), toBlock: hex(head) }]);
          const now = performance.now();
          for (const l of logs) {
            const id = Number(BigInt(l.topics[1]));
            if (id > before && !done.has(id)) {
              done.set(id, { t: now, block: Number(l.blockNumber), status: Number(BigInt('0x' + l.data.slice(66, 130))) }); // data = digest ‖ status
              lastProgress = now;
            }
          }
          from = head + 1;
        }
        const overBudget = performance.now() - t0 > PHASE_MAX_S * 1000;
        if (overBudget || performance.now() - lastProgress > STALL_S * 1000) {
          const open = hubIface.decodeFunctionResult('openTasks', await rpcCall(url, 'eth_call', [{ to: HUB_ADDRESS, data: hubIface.encodeFunctionData('openTasks') }, 'latest']))[0] as bigint[];
          why = `${overBudget ? `stopped at the phase budget of ${PHASE_MAX_S} s (BENCH_PHASE_MAX_S)` : `no task finalized for ${STALL_S} s`}; ${done.size} of ${count} finalized, ${open.length} open tasks on the Hub at block ${head}`;
          break;
        }
        await sleep(100);
      }
      return { done, why };
    };

    /** Gas of the executors' txs and the system calls in blocks (from, to]. */
    const gasOf = async (from: number, to: number) => {
      let exec = 0n;
      let sys = 0n;
      let missing = 0;
      const execs = new Set(d.executors.map((e) => e.address));
      for (let n = from + 1; n <= to; n++) {
        const b = await rpcCall(url, 'eth_getBlockByNumber', [hex(n), true]);
        const mine = b.transactions.filter((tx: any) => execs.has(tx.from.toLowerCase()));
        if (mine.length) for (const r of await rpcBatch(url, mine.map((tx: any) => ({ method: 'eth_getTransactionReceipt', params: [tx.hash] })))) exec += BigInt(r.result.gasUsed);
        const g = await rpcCall(url, 'pocchain_systemGas', [hex(n)]);
        if (g) sys += BigInt(g.schedule) + BigInt(g.finalize);
        else missing++;
      }
      return { exec, sys, missing };
    };

    const cpuNow = () => ({ t: performance.now(), exec: d.executors.reduce((s, e) => s + cpuSeconds(e.pid), 0), val: d.validatorPids.reduce((s, p) => s + cpuSeconds(p), 0) });

    /**
     * One phase: `submit` sends the requests and returns, per request tx, its hash and send time;
     * figures come from the receipts (TaskRequested gives the ids) and the TaskFinalized logs.
     */
    const phase = async (name: string, count: number, submit: () => Promise<Submitted>): Promise<Phase> => {
      say(`${name}: ${count} task(s)`);
      const before = Number(hubIface.decodeFunctionResult('taskCount', await rpcCall(url, 'eth_call', [{ to: HUB_ADDRESS, data: hubIface.encodeFunctionData('taskCount') }, 'latest']))[0]);
      const startBlock = Number(await rpcCall(url, 'eth_blockNumber'));
      const c0 = cpuNow();
      const first = await submit();
      const { done, why } = await track(before, count, startBlock + 1);
      const sub = first.later ? { ...first, ...(await first.later) } : first;
      const c1 = cpuNow();
      const endBlock = Number(await rpcCall(url, 'eth_blockNumber'));
      // where the blocks go: last event of each stage per task, relative to its request's block
      const topics = STAGES.map((n) => hubIface.getEvent(n)!.topicHash);
      const stageAt = new Map<number, Record<string, number>>();
      for (let b = startBlock + 1; b <= endBlock; b += 50) {
        const logs = await rpcCall(url, 'eth_getLogs', [{ address: HUB_ADDRESS, topics: [topics], fromBlock: hex(b), toBlock: hex(Math.min(endBlock, b + 49)) }]);
        for (const l of logs) {
          const id = Number(BigInt(l.topics[1]));
          const e = stageAt.get(id) ?? {};
          e[STAGES[topics.indexOf(l.topics[0])]!] = Number(l.blockNumber);
          stageAt.set(id, e);
        }
      }
      // request receipts: which task ids each tx created, in which block
      const latencyMs: number[] = [];
      const latencyBlocks: number[] = [];
      let requestGas = 0n;
      const stageBlocks: Record<string, number[]> = {};
      for (let i = 0; i < sub.hashes.length; i += 100) {
        const rs = await rpcBatch(url, sub.hashes.slice(i, i + 100).map((h) => ({ method: 'eth_getTransactionReceipt', params: [h] })));
        rs.forEach((r, k) => {
          if (!r.result) return;
          requestGas += BigInt(r.result.gasUsed);
          for (const l of r.result.logs) {
            if (l.topics[0] !== REQUESTED) continue;
            const fin = done.get(Number(BigInt(l.topics[1])));
            if (!fin) continue;
            latencyMs.push(fin.t - sub.sentAt[i + k]!);
            latencyBlocks.push(fin.block - Number(r.result.blockNumber));
            const e = stageAt.get(Number(BigInt(l.topics[1])));
            if (e) for (const n of STAGES) if (e[n] !== undefined) (stageBlocks[n] ??= []).push(e[n] - Number(r.result.blockNumber));
          }
        });
      }
      const g = await gasOf(startBlock, endBlock);
      const last = Math.max(...[...done.values()].map((x) => x.t));
      const spanMs = done.size ? last - sub.t0 : NaN;
      const wall = (c1.t - c0.t) / 1000;
      const p: Phase = {
        name,
        tasks: count,
        finalized: done.size,
        completed: [...done.values()].filter((x) => x.status === 3).length,
        failed: [...done.values()].filter((x) => x.status !== 3).length,
        finished: done.size === count,
        ...(why ? { why } : {}),
        spanMs,
        tasksPerMin: done.size / (spanMs / 60_000),
        latencyMs,
        latencyBlocks,
        requestGas,
        executorGas: g.exec,
        systemGas: g.sys,
        systemGasMissing: g.missing,
        executorCpuShare: (c1.exec - c0.exec) / (wall * CORES),
        validatorCpuShare: (c1.val - c0.val) / (wall * CORES),
        blocks: endBlock - startBlock,
        stageBlocks,
      };
      say(`${name}: ${p.finalized}/${count} finalized (${p.failed} not completed) in ${(spanMs / 1000).toFixed(1)} s, ${p.tasksPerMin.toFixed(1)} tasks/min, latency p50 ${Math.round(pct(latencyMs, 50))} ms / ${pct(latencyBlocks, 50)} blocks, executor CPU ${(p.executorCpuShare * 100).toFixed(1)}%${why ? `; ${why}` : ''}`);
      return p;
    };

    /** Send `count` signed requestTask txs in JSON-RPC batches of 50, spread over the senders. */
    const sendRequests = async (count: number) => {
      const raws: string[] = [];
      for (let k = 0; k < count; k++) {
        const s = senders[k % SENDERS]!;
        const nonce = nonces.get(s.address)!;
        nonces.set(s.address, nonce + 1);
        raws.push(await s.signTransaction(Transaction.from({ type: 2, chainId, nonce, to: HUB_ADDRESS, data: requestData(), value: ESCROW, gasLimit: 400_000n, ...fee })));
      }
      const hashes: string[] = [];
      const sentAt: number[] = [];
      const t0 = performance.now();
      for (let i = 0; i < raws.length; i += 50) {
        const now = performance.now();
        const res = await rpcBatch(url, raws.slice(i, i + 50).map((r) => ({ method: 'eth_sendRawTransaction', params: [r] })));
        for (const r of res) {
          if (r.error) throw new Error(`requestTask refused by the pool: ${r.error.message}`);
          hashes.push(r.result);
          sentAt.push(now);
        }
      }
      return { hashes, sentAt, t0 };
    };

    // warm-up: the executors' first fetch of the wasm and their sandbox workers
    await phase('warm-up', 1, () => sendRequests(1));
    const phases: Phase[] = [];
    if (SERIAL > 0) {
      // serial: one task at a time, figures pooled over the tasks
      const parts: Phase[] = [];
      for (let k = 0; k < SERIAL; k++) parts.push(await phase(`serial ${k + 1}/${SERIAL}`, 1, () => sendRequests(1)));
      const sum = <K extends keyof Phase>(k: K) => parts.reduce((s, p) => s + (p[k] as any), typeof parts[0]![k] === 'bigint' ? 0n : 0);
      const spanMs = sum('spanMs') as number;
      const wallShare = (k: 'executorCpuShare' | 'validatorCpuShare') => parts.reduce((s, p) => s + p[k] * p.spanMs, 0) / spanMs;
      phases.push({ name: 'serial', tasks: SERIAL, finalized: sum('finalized') as number, completed: sum('completed') as number, failed: sum('failed') as number, finished: parts.every((p) => p.finished), spanMs, tasksPerMin: (sum('finalized') as number) / (spanMs / 60_000), latencyMs: parts.flatMap((p) => p.latencyMs), latencyBlocks: parts.flatMap((p) => p.latencyBlocks), requestGas: sum('requestGas') as bigint, executorGas: sum('executorGas') as bigint, systemGas: sum('systemGas') as bigint, systemGasMissing: sum('systemGasMissing') as number, executorCpuShare: wallShare('executorCpuShare'), validatorCpuShare: wallShare('validatorCpuShare'), blocks: sum('blocks') as number, stageBlocks: Object.fromEntries(STAGES.map((n) => [n, parts.flatMap((p) => p.stageBlocks[n] ?? [])])) });
    }
    // the first burst, then the bag, then the larger bursts: the bag (issue 13) is not left for last
    const burst = async (n: number) => {
      if (phases.every((p) => p.finished)) phases.push(await phase(`burst ${n}`, n, () => sendRequests(n)));
    };
    if (BURSTS.length) await burst(BURSTS[0]!);
    // a phase that did not finish leaves tasks on the Hub: a next phase would measure them too
    if (BAG > 0 && phases.every((p) => p.finished)) {
      const work = tempDir('pocchain-bench-bag-');
      const file = join(work, 'inputs.txt');
      writeFileSync(file, Array.from({ length: BAG }, (_, k) => `bag input ${k}`).join('\n') + '\n');
      // exactly what a requester runs: the CLI with its defaults (jobs of --bag-size, paced by
      // --max-in-flight, every result collected into --out); timed from the command's start
      const bag = await phase(`bag ${BAG}`, BAG, async () => {
        const t0 = performance.now();
        const run = cli(['task', 'submit', '--inputs-file', file, '--out', join(work, 'out'), '--app', app, '--trust', '5', '--replicas', '3..3', '--price', formatEther(ESCROW), '--rpc', url, '--json'], dev[1]!.privateKey);
        const later = run.then((r) => {
          let jobs: { tx: string }[] = [];
          try {
            jobs = JSON.parse(r.stdout).jobs ?? [];
          } catch {}
          if (r.code !== 0) say(`bag: the CLI exited ${r.code}: ${(r.stdout + r.stderr).trim().split('\n').slice(-3).join(' | ')}`);
          return { hashes: jobs.map((j) => j.tx), sentAt: jobs.map(() => t0) };
        });
        return { hashes: [], sentAt: [], t0, later };
      });
      phases.push(bag);
    }
    for (const n of BURSTS.slice(1)) await burst(n);
    report(phases);
  } finally {
    await stopDevnet(d);
  }
}

function report(phases: Phase[]) {
  const ms = (x: number) => (Number.isFinite(x) ? `${Math.round(x)} ms` : '-');
  const per = (g: bigint, p: Phase) => (p.finalized ? String(g / BigInt(p.finalized)) : '-');
  const rows = phases.map((p) => ({
    scenario: p.name,
    tasks: p.finished ? String(p.tasks) : `${p.finalized}/${p.tasks} NOT FINISHED`,
    'not completed': String(p.failed),
    'finalized/min': Number.isFinite(p.tasksPerMin) ? p.tasksPerMin.toFixed(1) : '-',
    'completed/min': Number.isFinite(p.tasksPerMin) ? (p.completed / (p.spanMs / 60_000)).toFixed(1) : '-',
    'latency p50/p90': `${ms(pct(p.latencyMs, 50))} / ${ms(pct(p.latencyMs, 90))}`,
    'blocks p50/p90': `${pct(p.latencyBlocks, 50)} / ${pct(p.latencyBlocks, 90)}`,
    'gas/task request': per(p.requestGas, p),
    'executors': per(p.executorGas, p),
    'system': per(p.systemGas, p),
    'total': per(p.requestGas + p.executorGas + p.systemGas, p),
    'executor CPU': `${(p.executorCpuShare * 100).toFixed(1)}%`,
    'validator CPU': `${(p.validatorCpuShare * 100).toFixed(1)}%`,
  }));
  console.log(`\ncompute tasks on the devnet (4 validators, 3 executors of capacity ${CAPACITY} with stake ${STAKE}, L1 + relayer; ${BLOCK_MS} ms blocks; ${CORES} cores): echo, trust 5 (3 of 3 executors agree), category 0\n`);
  console.log(table(rows));
  console.log(`
latency: request tx sent (bag: the command started) → TaskFinalized seen over RPC (blocks: request's block → finalizing block)
finalized/min: tasks finalized (completed or failed) / (last finalized − first request sent); completed/min: completed only
gas/task: request = requestTask or requestTasks; executors = their contribute + reveal (+ any withdraw);
  system = Hub.schedule + Hub.finalize of every block of the phase (pocchain_systemGas) / tasks
CPU: utime+stime of the 3 executor (4 validator) processes / (wall time × ${CORES} cores)
targets (issue 14): latency p50 ≤ 3 blocks; ≥ 600 tasks/min`);
  console.log('\nwhere the blocks go (p50 blocks from the request\'s block to the last event of each stage):');
  for (const p of phases) console.log(`  ${p.name.padEnd(10)} ${STAGES.map((n) => `${n} ${pct(p.stageBlocks[n] ?? [], 50)}`).join(', ')}`);
  for (const p of phases) if (p.why) console.log(`${p.name}: ${p.why}`);
  const missing = phases.reduce((s, p) => s + p.systemGasMissing, 0);
  if (missing) console.log(`(system gas missing for ${missing} blocks)`);
  if (JSON_OUT) {
    const out = {
      blockTimeMs: BLOCK_MS,
      cores: CORES,
      phases: phases.map((p) => ({
        name: p.name,
        tasks: p.tasks,
        finalized: p.finalized,
        notCompleted: p.failed,
        finished: p.finished,
        why: p.why ?? null,
        tasksPerMin: p.tasksPerMin,
        completedPerMin: p.completed / (p.spanMs / 60_000),
        spanMs: p.spanMs,
        p50Ms: pct(p.latencyMs, 50),
        p90Ms: pct(p.latencyMs, 90),
        p50Blocks: pct(p.latencyBlocks, 50),
        p90Blocks: pct(p.latencyBlocks, 90),
        gasPerTask: p.finalized ? { request: String(p.requestGas / BigInt(p.finalized)), executors: String(p.executorGas / BigInt(p.finalized)), system: String(p.systemGas / BigInt(p.finalized)), total: String((p.requestGas + p.executorGas + p.systemGas) / BigInt(p.finalized)) } : null,
        executorCpuShare: p.executorCpuShare,
        validatorCpuShare: p.validatorCpuShare,
        blocks: p.blocks,
        stagesP50Blocks: Object.fromEntries(STAGES.map((n) => [n, pct(p.stageBlocks[n] ?? [], 50)])),
      })),
    };
    if (JSON_OUT === '-') console.log(JSON.stringify(out));
    else writeFileSync(JSON_OUT, JSON.stringify(out));
  }
}

await main();
