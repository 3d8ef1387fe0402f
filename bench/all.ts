/**
 * npm run bench — runs the benchmarks one after the other, each as its own child process (so one
 * bench's nodes never share a process or a heap with the next), reads the figures each writes to
 * the file named by env BENCH_JSON, and prints ONE table on stdout. Each bench's own output and
 * the progress go to stderr. Never part of npm test.
 *
 * Sizes are modest except the compute bench's (the sizes issues 13 and 14 ask for; each of its phases
 * is bounded to 15 minutes and says so when it does not finish); --scale N multiplies the load
 * sizes (tx counts, tasks). Memory: peak resident set (VmHWM from /proc/<pid>/status) of each
 * of the 4 validator processes at the end of the consensus bench.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { table } from './lib.ts';

const { values } = parseArgs({ options: { scale: { type: 'string', default: '1' }, only: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log(`usage: npm run bench -- [--scale N] [--only throughput,consensus,compute,schedule,gas]
  --scale N   multiply load sizes (default 1: 5 minutes on 2 cores without compute; compute alone up to ~50)
  --only ...  run only these benches (comma-separated)
each bench alone: npm run bench:throughput | bench:chain | bench:consensus | bench:compute | bench:schedule | bench:tasks, node bench/checkpoint-gas.ts`);
  process.exit(0);
}
const SCALE = Math.max(0.1, Number(values.scale));
const ONLY = values.only ? new Set(values.only.split(',')) : null;
const HERE = dirname(fileURLToPath(import.meta.url));
const n = (x: number) => String(Math.max(1, Math.round(x * SCALE)));

interface Bench {
  key: string;
  file: string;
  args: string[];
  env?: Record<string, string>;
  timeoutS: number;
}

// chain: 8 senders × 60 txs: a sender may not run more than 64 nonces ahead of its account (pool
// limit), and bench/chain.ts sends a whole workload before waiting. compute: the sizes issues 13
// and 14 ask for (bursts of 100 and 1,000, a bag of 1,000) on the devnet; the longest bench by far.
const benches: Bench[] = [
  // throughput replaces the former chain bench (anvil, dev node and 4 validators, swept to saturation)
  { key: 'throughput', file: 'throughput.ts', args: ['--seconds', String(Math.max(2, Math.round(4 * SCALE)))], timeoutS: 3 * (480 + 120 * SCALE) }, // 3 runs: medians
  { key: 'consensus', file: 'consensus.ts', args: ['--txs', n(600), '--rate', '60', '--senders', '8', '--block-time', '200', '--empty-seconds', '10'], timeoutS: 300 + 60 * SCALE },
  { key: 'compute', file: 'compute.ts', args: [], env: { BENCH_SERIAL: n(20), BENCH_BURSTS: `${n(100)},${n(1000)}`, BENCH_BAG: n(1000), BENCH_PHASE_MAX_S: '900' }, timeoutS: 600 + 3 * 900 },
  { key: 'schedule', file: 'schedule-gas.ts', args: [], timeoutS: 300 },
  { key: 'gas', file: 'checkpoint-gas.ts', args: [], timeoutS: 180 },
];

const say = (s: string) => process.stderr.write(`[bench] ${s}\n`);

/** Run one bench as a child process in its own process group; resolves with its JSON figures. */
function run(b: Bench, dir: string): Promise<{ ok: true; fig: any; seconds: number } | { ok: false; error: string; seconds: number }> {
  const out = join(dir, `${b.key}.json`);
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(HERE, b.file), ...b.args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...b.env, BENCH_JSON: out }, detached: true });
    let tail = '';
    const relay = (d: Buffer) => {
      process.stderr.write(d);
      tail = (tail + d.toString()).slice(-2000);
    };
    child.stdout!.on('data', relay);
    child.stderr!.on('data', relay);
    let timedOut = false;
    // the bench's nodes/anvil are in its process group: a timeout ends them all
    const timer = setTimeout(() => {
      timedOut = true;
      say(`${b.key}: timed out after ${b.timeoutS} s; stopping its process group`);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    }, b.timeoutS * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const seconds = (performance.now() - t0) / 1000;
      if (code === 0 && existsSync(out)) return resolve({ ok: true, fig: JSON.parse(readFileSync(out, 'utf8')), seconds });
      const why = timedOut ? `timed out after ${b.timeoutS} s` : `exit ${code ?? signal}`;
      const last = tail.trim().split('\n').filter(Boolean).at(-1) ?? '';
      resolve({ ok: false, error: `${why}${last ? `: ${last.slice(0, 160)}` : ''}`, seconds });
    });
  });
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const msOf = (s: number) => `${Math.round(s * 1000)} ms`;

const dir = mkdtempSync(join(tmpdir(), 'pocchain-bench-'));
const results: Record<string, Awaited<ReturnType<typeof run>>> = {};
const load0 = loadavg()[0]!;
const tAll = performance.now();
try {
  for (const b of benches) {
    if (ONLY && !ONLY.has(b.key)) continue;
    say(`${b.key}: node bench/${b.file} ${b.args.join(' ')}${b.env ? ' ' + Object.entries(b.env).map(([k, v]) => `${k}=${v}`).join(' ') : ''}`);
    const r = await run(b, dir);
    results[b.key] = r;
    say(`${b.key}: ${r.ok ? 'done' : 'FAILED: ' + r.error} in ${r.seconds.toFixed(0)} s`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

type Row = { figure: string; value: string; notes: string };
const rows: Row[] = [];
const add = (figure: string, value: string, notes = '') => rows.push({ figure, value, notes });
const failed = (key: string, what: string) => {
  const r = results[key];
  if (!r) add(what, 'not run', '--only');
  else if (!r.ok) add(what, 'FAILED', r.error);
  return !r || !r.ok;
};

if (!failed('throughput', 'ETH / ERC20 transfers, tx/s')) {
  const f = (results.throughput as any).fig.results;
  const names: Record<string, string> = { dev: '1 dev node', net: '4 validators' };
  for (const key of ['dev', 'net']) {
    for (const kind of ['eth', 'erc20']) {
      const x = f[key]?.[kind];
      const a = f.anvil?.[kind];
      if (!x) continue;
      add(`${kind === 'eth' ? 'ETH' : 'ERC20'} transfers at saturation, ${names[key]}`, `${f1(x.sat)} tx/s`, `anvil (200 ms blocks) ${a ? f1(a.sat) : '-'} tx/s, ratio ${a ? (x.sat / a.sat).toFixed(2) : '-'}`);
      add(`  at 80% of saturation, ${names[key]}`, `p50 ${Math.round(x.at80.latP50)} ms, p99 ${Math.round(x.at80.latP99)} ms`, `send → in a block; RPC p99 ${Math.round(x.at80.rpcP99)} ms; loop delay max ${Math.round(x.at80.loopMaxMs)} ms; recoveries/tx ${x.at80.recPerTx.map((v: number) => v.toFixed(2)).join(' ')}; executions/tx ${x.at80.execPerTx.map((v: number) => v.toFixed(2)).join(' ')}`);
    }
  }
}
if (!failed('consensus', '4 validators')) {
  const f = (results.consensus as any).fig;
  add('commit latency, 4 validators, empty', `p50 ${msOf(f.empty.commitP50)}, p99 ${msOf(f.empty.commitP99)}`, `${f.empty.blocksPerSec.toFixed(2)} blocks/s, block time ${f.blockTimeMs} ms (node histogram)`);
  add('commit latency, 4 validators, load', `p50 ${msOf(f.load.commitP50)}, p99 ${msOf(f.load.commitP99)}`, `${f.load.txs} ETH transfers offered at ${f.load.offeredTps} tx/s to all 4 RPCs`);
  add('tx send → in block, 4 validators', `p50 ${msOf(f.load.txLatencyP50)}, p99 ${msOf(f.load.txLatencyP99)}`, `achieved ${f1(f.load.achievedTps)} tx/s`);
  const hwm = f.memory.map((m: any) => m.hwmMiB as number);
  add('peak RSS per validator process', `max ${Math.max(...hwm).toFixed(0)} MiB`, `VmHWM of ${hwm.map((x: number) => x.toFixed(0)).join(' / ')} MiB at the end of the consensus bench`);
}
if (!failed('compute', 'compute tasks (devnet)')) {
  const f = (results.compute as any).fig;
  for (const p of f.phases) {
    const done = p.finished ? '' : `NOT FINISHED: ${p.finalized}/${p.tasks}; ${p.why}; `;
    if (p.name === 'serial') add('task latency, serial (request → finalized)', `p50 ${Math.round(p.p50Ms)} ms / ${p.p50Blocks} blocks, p90 ${Math.round(p.p90Ms)} ms / ${p.p90Blocks} blocks`, `${done}devnet, ${f.blockTimeMs} ms blocks, echo, 3 of 3 executors agree; target p50 ≤ 3 blocks; gas/task ${p.gasPerTask?.total ?? '-'}; executor CPU ${(p.executorCpuShare * 100).toFixed(1)}%`);
    else add(`tasks/min, ${p.name}`, `${f1(p.completedPerMin)} completed/min`, `${done}target ≥ 600; ${p.notCompleted} of ${p.finalized} finalized failed (${f1(p.tasksPerMin)} finalized/min); p50 ${Math.round(p.p50Ms)} ms / ${p.p50Blocks} blocks; gas/task ${p.gasPerTask?.total ?? '-'} (request ${p.gasPerTask?.request ?? '-'}, executors ${p.gasPerTask?.executors ?? '-'}, system ${p.gasPerTask?.system ?? '-'}); executor CPU ${(p.executorCpuShare * 100).toFixed(1)}% of ${f.cores} cores`);
  }
}
if (!failed('schedule', 'schedule() gas at 256 executors')) {
  const f = (results.schedule as any).fig;
  add(`worst schedule() at ${f.executors} executors`, `${f.worst.max} gas`, `of the ${f.limit} system-call limit; 1×16 + 55×32 replicas at the highest trust (anvil); a bag of ${f.bag.tasks}: ${f.bag.max} gas`);
}
if (!failed('gas', 'L1 gas')) {
  const f = (results.gas as any).fig;
  for (const k of Object.keys(f.checkpoint)) add(`gas per checkpoint, ${k} validators`, String(f.checkpoint[k]), `${Math.floor((2 * Number(k)) / 3) + 1} signatures, anvil`);
  for (const k of Object.keys(f.checkpointBls ?? {})) add(`gas per BLS aggregate checkpoint, ${k} validators`, String(f.checkpointBls[k]), `${Math.floor((2 * Number(k)) / 3) + 1} signers in one aggregate (EIP-2537), anvil; node verifies it in ${f.blsVerifyMs[k]} ms`);
  add('gas per release (Vault.release)', String(f.release), 'Merkle proof of 32 hashes, anvil');
}

const load1 = loadavg()[0]!;
console.log(`\npocchain benchmarks (${((performance.now() - tAll) / 1000).toFixed(0)} s, scale ${SCALE}; host load average ${load0.toFixed(1)} at start, ${load1.toFixed(1)} at end, ${(await import('node:os')).cpus().length} cores)\n`);
console.log(table(rows));
