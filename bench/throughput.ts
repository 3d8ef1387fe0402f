/**
 * npm run bench:throughput — ETH and ERC20 transfer throughput, side by side in one run, of
 * anvil (200 ms interval mining), a `pocchain node --dev` and a 4-validator pocchain network
 * (separate processes, libp2p on loopback), all on this host.
 *
 * For each chain and workload: a sweep of offered load (paced, pre-signed with native secp256k1,
 * senders pinned to one node each) up from --start tx/s by ×1.6 until the chain no longer keeps
 * up (achieved < 80% of offered) — saturation is the best achieved rate; then a run at 80% of
 * saturation measures tx latency (send → seen in a block) p50/p99, eth_blockNumber latency p99
 * (the watcher's own polls, on the node taking load), and for pocchain from /metrics: event-loop
 * delay max, sender recoveries and executions per committed tx on each node, and extra rounds.
 * No workload cap: every offered tx must be included or the bench fails. Each chain is measured
 * --runs times (default 3, one chain started once) and every figure is the median of its runs; the
 * table also lists each run's saturation, so the spread is visible.
 * Env BENCH_JSON=<file> writes the figures as JSON (bench/all.ts reads it).
 */
import { parseArgs } from 'node:util';
import { cpus, loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
import { ContractFactory, JsonRpcProvider, Wallet, parseEther } from 'ethers';
import { startAnvil } from '../lib/anvil.ts';
import { devAccounts } from '../lib/keys.ts';
import { loadArtifact } from '../contracts/artifacts.ts';
import { startDevNode } from '../test/helpers/proc.ts';
import { TestNetwork } from '../test/helpers/network.ts';
import { call, erc20, InclusionWatcher, loadSenders, percentile, scrape, sendPaced, signBatch, TX_WORK, waitIncluded, type Kind, type SenderState } from '../test/helpers/load.ts';
import { table } from './lib.ts';

const { values } = parseArgs({ options: { start: { type: 'string', default: '100' }, seconds: { type: 'string', default: '4' }, 'max-steps': { type: 'string', default: '7' }, runs: { type: 'string', default: '3' }, only: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log(`usage: npm run bench:throughput -- [--start tx/s (100)] [--seconds per step (4)] [--max-steps N (7)] [--runs N (3): figures are medians] [--only anvil,dev,net]
example: npm run bench:throughput -- --only dev --start 200`);
  process.exit(0);
}
const START = Number(values.start);
const SECONDS = Number(values.seconds);
const MAX_STEPS = Number(values['max-steps']);
const RUNS = Number(values.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs must be a positive integer (got ${values.runs})`);
const ONLY = values.only ? new Set(values.only.split(',')) : null;
const say = (s: string) => process.stderr.write(`throughput: ${s}\n`);

interface Target {
  name: string;
  key: 'anvil' | 'dev' | 'net';
  urls: string[];
  pocchain: boolean;
}

async function setupToken(url: string, senders: SenderState[]): Promise<string> {
  const p = new JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 50 });
  const w = new Wallet(devAccounts(1)[0]!.privateKey, p);
  const art = loadArtifact('TestToken');
  const c = await new ContractFactory(art.abi, art.bytecode, w).deploy('Bench', 'B', parseEther('1000000'));
  await c.waitForDeployment();
  const addr = await c.getAddress();
  let nonce = Number(BigInt(await call(url, 'eth_getTransactionCount', [w.address, 'pending'])));
  const sent = [];
  for (const s of senders) sent.push(await w.sendTransaction({ to: addr, data: erc20.encodeFunctionData('mint', [s.wallet.address, parseEther('1000')]), nonce: nonce++, gasLimit: 100_000n }));
  for (const t of sent) await t.wait();
  p.destroy();
  return addr;
}

interface Step {
  offered: number;
  achieved: number;
  latP50: number;
  latP99: number;
  rpcP99: number;
  loopMaxMs: number;
  recPerTx: number[];
  execPerTx: number[];
  extraRounds: number;
}

async function metrics(t: Target): Promise<Map<string, number>[]> {
  return t.pocchain ? Promise.all(t.urls.map((u) => scrape(u))) : [];
}

async function roundsSum(t: Target): Promise<number> {
  if (!t.pocchain) return 0;
  const s = await call(t.urls[0]!, 'pocchain_status');
  return Number(s.consensus?.rounds ?? 0);
}

async function step(t: Target, kind: Kind, chainId: number, senders: SenderState[], token: string, rate: number, seconds: number): Promise<Step> {
  const txs = signBatch(kind, chainId, senders, Math.max(senders.length, Math.round(rate * seconds)), token);
  const m0 = await metrics(t);
  const r0 = await roundsSum(t);
  const watcher = new InclusionWatcher(t.urls[0]!);
  await watcher.start();
  let sent;
  try {
    sent = await sendPaced(t.urls, senders, txs, rate, watcher);
    if (!(await waitIncluded(watcher, txs, 120_000))) throw new Error(`${t.name}: only ${txs.filter((x) => watcher.seenAt.has(x.hash)).length}/${txs.length} txs included after 120 s`);
  } finally {
    await watcher.stop();
  }
  const m1 = await metrics(t);
  const lastSeen = Math.max(...txs.map((x) => watcher.seenAt.get(x.hash)!));
  const lat = txs.map((x) => watcher.seenAt.get(x.hash)! - sent.sentAt.get(x.hash)!);
  const d = (i: number, k: string) => (m1[i]!.get(k) ?? 0) - (m0[i]!.get(k) ?? 0);
  return {
    offered: rate,
    achieved: txs.length / ((lastSeen - sent.firstSend) / 1000),
    latP50: percentile(lat, 50),
    latP99: percentile(lat, 99),
    rpcP99: percentile(watcher.rpcMs, 99),
    loopMaxMs: m1.length ? Math.max(...m1.map((m) => (m.get('pocchain_eventloop_delay_max_seconds') ?? m.get(TX_WORK.loopMaxSeconds) ?? NaN) * 1000)) : NaN,
    recPerTx: m1.map((_, i) => d(i, TX_WORK.recoveries) / Math.max(1, d(i, TX_WORK.committed))),
    execPerTx: m1.map((_, i) => d(i, TX_WORK.executions) / Math.max(1, d(i, TX_WORK.committed))),
    extraRounds: (await roundsSum(t)) - r0,
  };
}

async function measure(t: Target) {
  const chainId = Number(BigInt(await call(t.urls[0]!, 'eth_chainId')));
  const senders = await loadSenders(t.urls[0]!, devAccounts(10).slice(1), t.urls.length);
  const token = await setupToken(t.urls[0]!, senders);
  for (const s of senders) s.nonce = Number(BigInt(await call(t.urls[s.home]!, 'eth_getTransactionCount', [s.wallet.address, 'pending'])));
  const out: Record<string, { sat: number; sweep: { offered: number; achieved: number }[]; at80: Step }> = {};
  for (const kind of ['eth', 'erc20'] as Kind[]) {
    const sweep: Step[] = [];
    let rate = START;
    for (let i = 0; i < MAX_STEPS; i++) {
      const s = await step(t, kind, chainId, senders, token, rate, SECONDS);
      sweep.push(s);
      say(`${t.name} ${kind}: offered ${rate.toFixed(0)} → achieved ${s.achieved.toFixed(0)} tx/s (latency p50 ${s.latP50.toFixed(0)} ms)`);
      if (s.achieved < 0.8 * rate) break;
      rate *= 1.6;
    }
    const sat = Math.max(...sweep.map((s) => s.achieved));
    const at80 = await step(t, kind, chainId, senders, token, 0.8 * sat, Math.max(SECONDS, 5));
    say(`${t.name} ${kind}: saturation ${sat.toFixed(0)} tx/s; at 80% (${(0.8 * sat).toFixed(0)} tx/s): latency p50 ${at80.latP50.toFixed(0)} / p99 ${at80.latP99.toFixed(0)} ms, rpc p99 ${at80.rpcP99.toFixed(0)} ms`);
    out[kind] = { sat, sweep: sweep.map((s) => ({ offered: s.offered, achieved: s.achieved })), at80 };
  }
  return out;
}

type Measured = Awaited<ReturnType<typeof measure>>;
const median = (xs: number[]) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length === 0 ? NaN : v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
};
/** Each figure the median of its runs (per node for the per-node counters); each run's saturation kept. */
function medianOf(runs: Measured[]) {
  const out: Record<string, Measured[string] & { runsSat: number[] }> = {};
  for (const kind of Object.keys(runs[0]!)) {
    const xs = runs.map((r) => r[kind]!);
    const a = xs.map((x) => x.at80);
    const perNode = (f: (s: Step) => number[]) => f(a[0]!).map((_, i) => median(a.map((s) => f(s)[i]!)));
    out[kind] = {
      sat: median(xs.map((x) => x.sat)),
      runsSat: xs.map((x) => x.sat),
      sweep: xs[0]!.sweep,
      at80: {
        offered: median(a.map((s) => s.offered)),
        achieved: median(a.map((s) => s.achieved)),
        latP50: median(a.map((s) => s.latP50)),
        latP99: median(a.map((s) => s.latP99)),
        rpcP99: median(a.map((s) => s.rpcP99)),
        loopMaxMs: median(a.map((s) => s.loopMaxMs)),
        recPerTx: perNode((s) => s.recPerTx),
        execPerTx: perNode((s) => s.execPerTx),
        extraRounds: median(a.map((s) => s.extraRounds)),
      },
    };
  }
  return out;
}

const results: Record<string, ReturnType<typeof medianOf>> = {};
const load0 = loadavg()[0]!;
const t0 = performance.now();
const run = async (key: Target['key'], name: string, start: () => Promise<{ urls: string[]; stop: () => Promise<unknown> }>, pocchain: boolean) => {
  if (ONLY && !ONLY.has(key)) return;
  say(`starting ${name}`);
  const h = await start();
  try {
    const runs: Measured[] = [];
    for (let i = 0; i < RUNS; i++) {
      if (RUNS > 1) say(`${name}: run ${i + 1} of ${RUNS}`);
      runs.push(await measure({ key, name, urls: h.urls, pocchain }));
    }
    results[key] = medianOf(runs);
  } finally {
    await h.stop();
  }
};

await run('anvil', 'anvil (200 ms interval mining)', async () => {
  const a = await startAnvil({ chainId: 31338, blockTime: 0.2 });
  return { urls: [a.url], stop: () => a.stop() };
}, false);
await run('dev', 'pocchain node --dev', async () => {
  const n = await startDevNode({ blockTimeMs: 200 });
  return { urls: [n.url], stop: () => n.stop() };
}, true);
await run('net', 'pocchain 4 validators', async () => {
  process.env.POCCHAIN_TEST_LOG ??= 'warn';
  const net = await TestNetwork.create({ validators: 4, blockTimeMs: 200 });
  await net.startAll();
  await net.waitHeight(2, [0, 1, 2, 3], 120_000);
  return { urls: net.nodes.map((n) => n.url), stop: () => net.stopAll() };
}, true);

const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const rows: Record<string, string>[] = [];
const anvil = results.anvil;
for (const [key, r] of Object.entries(results)) {
  for (const kind of ['eth', 'erc20'] as const) {
    const x = r[kind]!;
    rows.push({
      chain: key === 'anvil' ? 'anvil 200 ms' : key === 'dev' ? 'pocchain --dev' : 'pocchain 4 validators',
      workload: kind === 'eth' ? 'ETH' : 'ERC20',
      'saturation tx/s': f0(x.sat),
      ...(RUNS > 1 ? { 'runs tx/s': x.runsSat.map(f0).join(' / ') } : {}),
      '× anvil': anvil && key !== 'anvil' ? f2(x.sat / anvil[kind]!.sat) : '-',
      'latency p50/p99 @80%': `${f0(x.at80.latP50)} / ${f0(x.at80.latP99)} ms`,
      'RPC p99 @80%': `${f0(x.at80.rpcP99)} ms`,
      'loop delay max': key === 'anvil' ? '-' : `${f0(x.at80.loopMaxMs)} ms`,
      'recoveries/tx per node': key === 'anvil' ? '-' : x.at80.recPerTx.map(f2).join(' '),
      'executions/tx per node': key === 'anvil' ? '-' : x.at80.execPerTx.map(f2).join(' '),
      'extra rounds': key === 'anvil' ? '-' : String(x.at80.extraRounds),
    });
  }
}
console.log(`\nthroughput (${((performance.now() - t0) / 1000).toFixed(0)} s): one client on this host, ${cpus().length} cores shared by the client and every node; load average ${load0.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end`);
console.log(`sweep from ${START} tx/s ×1.6 per ${SECONDS} s step to saturation (best achieved); latency = send → in a block; figures @80% from a run at 80% of saturation; ${RUNS > 1 ? `each figure the median of ${RUNS} runs on the same chain` : 'single run (not a median)'}\n`);
console.log(table(rows));
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify({ cores: cpus().length, results }));
