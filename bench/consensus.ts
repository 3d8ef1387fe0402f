/**
 * npm run bench:consensus — 4 validators as separate processes on this host (test/helpers/network.ts),
 * BFT over libp2p on loopback. Never part of npm test; it prints figures.
 *
 * 1. empty chain: blocks/s seen on node0's RPC, and the commit latency (height start → commit) from
 *    every node's Prometheus histogram `pocchain_consensus_commit_latency_seconds` over the window.
 * 2. load: pre-signed ETH transfers from several funded accounts of the test mnemonic, offered at
 *    --rate tx/s (0 = unpaced); sender k sends only to node k % 4, so all 4 RPCs take load and each
 *    sender's nonces arrive in order; a sender holds back while WINDOW of its txs are in flight
 *    (the pool refuses nonces more than 64 ahead), so above capacity the load becomes closed-loop. Client-side latency per tx = send → its block visible on
 *    the node it was sent to (eth_getBlockByNumber polled every POLL_MS), p50/p99; achieved tx/s =
 *    txs / (last inclusion − first send); the server-side histogram over the same window.
 * 3. memory: VmHWM (peak resident set) of each node process from /proc/<pid>/status at the end.
 *
 * Env BENCH_JSON=<file> writes the figures as JSON (bench/all.ts reads it).
 */
import { parseArgs } from 'node:util';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Transaction } from 'ethers';
import { devAccounts } from '../lib/keys.ts';
import { TestNetwork } from '../test/helpers/network.ts';
import { rpcBatch, rpcCall, signWorkload, table } from './lib.ts';

const { values } = parseArgs({
  options: {
    txs: { type: 'string', default: '1500' },
    senders: { type: 'string', default: '8' },
    rate: { type: 'string', default: '150' },
    'block-time': { type: 'string', default: '200' },
    'timeout-propose': { type: 'string', default: '1500' },
    'empty-seconds': { type: 'string', default: '10' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(`usage: npm run bench:consensus -- [flags]
  --txs N               ETH transfers in the load phase (default 1500)
  --senders N           funded test accounts sending them, at most 10 (default 8)
  --rate N              offered load in tx/s; 0 = unpaced (default 150). Either way a sender
                        keeps at most 60 txs in flight (the pool refuses nonces > state + 64)
  --block-time ms       pause after each commit before the next height (default 200)
  --timeout-propose ms  node flag --timeout-propose (default 1500)
  --empty-seconds N     length of the empty-chain window (default 10)
env BENCH_JSON=<file>  also write the figures as JSON`);
  process.exit(0);
}
const TXS = Number(values.txs);
const SENDERS = Math.min(10, Math.max(1, Number(values.senders)));
const RATE = Number(values.rate);
const BLOCK_MS = Number(values['block-time']);
const EMPTY_S = Number(values['empty-seconds']);
const POLL_MS = 20;
/** txs a sender may have sent but not yet seen included: the pool refuses nonces > state + 64 */
const WINDOW = 60;
const VALIDATORS = 4;
const METRIC = 'pocchain_consensus_commit_latency_seconds';

const say = (s: string) => process.stderr.write(`consensus: ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Cumulative histogram buckets (le → count) plus sum and count, as Prometheus exposes them. */
interface Hist {
  buckets: Map<number, number>;
  sum: number;
  count: number;
}

/** Parse one histogram out of a Prometheus text exposition. */
function parseHistogram(text: string, name: string): Hist {
  const h: Hist = { buckets: new Map(), sum: 0, count: 0 };
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^(\S+?)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const v = Number(m[3]);
    if (m[1] === `${name}_sum`) h.sum = v;
    else if (m[1] === `${name}_count`) h.count = v;
    else if (m[1] === `${name}_bucket`) {
      const le = /le="([^"]+)"/.exec(m[2] ?? '')?.[1];
      if (le) h.buckets.set(le === '+Inf' ? Infinity : Number(le), v);
    }
  }
  return h;
}

/** b − a, bucket by bucket (the observations made between two scrapes). */
function histDelta(a: Hist, b: Hist): Hist {
  const buckets = new Map<number, number>();
  for (const [le, n] of b.buckets) buckets.set(le, n - (a.buckets.get(le) ?? 0));
  return { buckets, sum: b.sum - a.sum, count: b.count - a.count };
}

function histAdd(a: Hist, b: Hist): Hist {
  const buckets = new Map(a.buckets);
  for (const [le, n] of b.buckets) buckets.set(le, (buckets.get(le) ?? 0) + n);
  return { buckets, sum: a.sum + b.sum, count: a.count + b.count };
}

/** Quantile by linear interpolation inside the bucket, as PromQL histogram_quantile does. */
function histQuantile(h: Hist, q: number): number {
  if (h.count === 0) return NaN;
  const les = [...h.buckets.keys()].sort((x, y) => x - y);
  const rank = q * h.count;
  let prevLe = 0;
  let prevN = 0;
  for (const le of les) {
    const n = h.buckets.get(le)!;
    if (n >= rank) {
      if (le === Infinity) return prevLe; // beyond the last finite bound: report that bound
      return prevLe + ((le - prevLe) * (rank - prevN)) / Math.max(1, n - prevN);
    }
    prevLe = le;
    prevN = n;
  }
  return prevLe;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function scrape(net: TestNetwork): Promise<Hist[]> {
  return Promise.all(net.nodes.map(async (n) => parseHistogram(await (await fetch(`${n.url}/metrics`)).text(), METRIC)));
}

function windowHist(before: Hist[], after: Hist[]): Hist {
  return before.map((b, i) => histDelta(b, after[i]!)).reduce(histAdd);
}

/** Peak and current resident set of a process, in MiB, from /proc. */
function memOf(pid: number): { hwmMiB: number; rssMiB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { hwmMiB: kb('VmHWM') / 1024, rssMiB: kb('VmRSS') / 1024 };
}

const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;

async function main() {
  process.env.POCCHAIN_TEST_LOG ??= 'warn'; // per-block info logs cost CPU the nodes need
  say(`laying out ${VALIDATORS} validators (block time ${BLOCK_MS} ms)`);
  const net = await TestNetwork.create({ validators: VALIDATORS, blockTimeMs: BLOCK_MS });
  let ok = false;
  const extra = Object.fromEntries(net.nodes.map((_, i) => [i, ['--timeout-propose', String(values['timeout-propose'])]]));
  try {
    await net.startAll(extra);
    say('nodes up; waiting for height 3 on all');
    await net.waitHeight(3, undefined, 120_000);

    // ---- empty chain ----
    say(`empty chain for ${EMPTY_S} s`);
    const e0 = await scrape(net);
    const eh0 = await net.height(0);
    const et0 = performance.now();
    await sleep(EMPTY_S * 1000);
    const eh1 = await net.height(0);
    const et1 = performance.now();
    const emptyHist = windowHist(e0, await scrape(net));
    const empty = {
      blocks: eh1 - eh0,
      blocksPerSec: (eh1 - eh0) / ((et1 - et0) / 1000),
      commitP50: histQuantile(emptyHist, 0.5),
      commitP99: histQuantile(emptyHist, 0.99),
      commitMean: emptyHist.sum / emptyHist.count,
    };
    say(`empty: ${empty.blocksPerSec.toFixed(2)} blocks/s, commit p50 ${ms(empty.commitP50)}`);

    // ---- load ----
    const senders = devAccounts(SENDERS);
    const homeOf = new Map(senders.map((s, k) => [s.address.toLowerCase(), k % VALIDATORS]));
    const chainId = Number(await rpcCall(net.nodes[0]!.url, 'eth_chainId'));
    const nonces = await Promise.all(senders.map(async (s) => Number(BigInt(await rpcCall(net.nodes[0]!.url, 'eth_getTransactionCount', [s.address, 'latest'])))));
    const per = Math.ceil(TXS / SENDERS);
    say(`signing ${per * SENDERS} ETH transfers from ${SENDERS} senders`);
    const w = await signWorkload('eth', chainId, senders, per, (_f, i) => ({ to: senders[(i + 1) % SENDERS]!.address, value: 1n, gasLimit: 21000n }), nonces);
    const txs = w.raw.map((raw) => {
      const t = Transaction.from(raw);
      return { raw, hash: t.hash!.toLowerCase(), node: homeOf.get(t.from!.toLowerCase())! };
    });
    const byHash = new Map(txs.map((t, k) => [t.hash, k]));
    const sentAt = new Array<number>(txs.length).fill(NaN);
    const seenAt = new Array<number>(txs.length).fill(NaN);
    let included = 0;
    // signWorkload interleaves senders: tx k is sender k % SENDERS's (k / SENDERS)-th
    const includedBySender = new Array<number>(SENDERS).fill(0);
    const mayGo = (k: number) => Math.floor(k / SENDERS) - includedBySender[k % SENDERS]! < WINDOW;

    // watcher: every node's new blocks; a tx counts when its block is visible on its home node
    const lastSeen = await Promise.all(net.nodes.map((_, i) => net.height(i)));
    const startHeight = lastSeen[0]!;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        await Promise.all(net.nodes.map(async (n, i) => {
          try {
            const head = Number(await rpcCall(n.url, 'eth_blockNumber'));
            if (head <= lastSeen[i]!) return;
            const now = performance.now();
            const calls = [];
            for (let h = lastSeen[i]! + 1; h <= head; h++) calls.push({ method: 'eth_getBlockByNumber', params: ['0x' + h.toString(16), false] });
            const blocks = await rpcBatch(n.url, calls);
            if (blocks.some((b) => !b.result)) return; // not all visible yet: again on the next poll
            lastSeen[i] = head;
            for (const b of blocks) {
              for (const h of (b.result?.transactions ?? []) as string[]) {
                const k = byHash.get(h.toLowerCase());
                if (k !== undefined && txs[k]!.node === i && Number.isNaN(seenAt[k]!)) {
                  seenAt[k] = now;
                  included++;
                  includedBySender[k % SENDERS]!++;
                }
              }
            }
          } catch (e) {
            say(`watcher: ${n.name}: ${(e as Error).message}`); // retried on the next poll
          }
        }));
        await sleep(POLL_MS);
      }
    })();

    const l0 = await scrape(net);
    say(`offering ${txs.length} txs at ${RATE > 0 ? `${RATE} tx/s` : 'unpaced'} to ${VALIDATORS} nodes`);
    const t0 = performance.now();
    let next = 0;
    let maxLagMs = 0;
    while (next < txs.length) {
      const now = performance.now();
      let due = RATE > 0 ? Math.min(txs.length, Math.floor(((now - t0) / 1000) * RATE) + 1) : txs.length;
      for (let k = next; k < due; k++) if (!mayGo(k)) due = k; // a sender at its window holds the line
      if (due > next) {
        if (RATE > 0) maxLagMs = Math.max(maxLagMs, now - (t0 + ((next) / RATE) * 1000));
        const slice = txs.slice(next, due).map((t, j) => ({ ...t, k: next + j }));
        next = due;
        // one batch per node, in nonce order; the next tick waits for these (order across ticks)
        await Promise.all(net.nodes.map(async (n, i) => {
          const mine = slice.filter((t) => t.node === i);
          for (let b = 0; b < mine.length; b += 100) {
            const part = mine.slice(b, b + 100);
            const at = performance.now();
            for (const t of part) sentAt[t.k] = at;
            const res = await rpcBatch(n.url, part.map((t) => ({ method: 'eth_sendRawTransaction', params: [t.raw] })));
            const err = res.find((x) => x.error);
            if (err) throw new Error(`send to ${n.name} failed: ${err.error.message}`);
          }
        }));
      }
      await sleep(RATE > 0 ? Math.max(1, Math.min(20, 1000 / RATE)) : 0);
    }
    const sendSeconds = (performance.now() - t0) / 1000;
    say(`sent in ${sendSeconds.toFixed(1)} s; waiting for inclusion`);
    const deadline = Date.now() + 180_000;
    let lastLog = Date.now();
    while (included < txs.length) {
      if (Date.now() > deadline) throw new Error(`only ${included}/${txs.length} txs included after 180 s`);
      if (Date.now() - lastLog > 5000) {
        say(`${included}/${txs.length} included`);
        lastLog = Date.now();
      }
      await sleep(50);
    }
    watching = false;
    await watcher;
    const loadHist = windowHist(l0, await scrape(net));
    const tEnd = Math.max(...seenAt);
    const lat = txs.map((_, k) => (seenAt[k]! - sentAt[k]!) / 1000);
    const endHeight = await net.height(0);
    const load = {
      txs: txs.length,
      offeredTps: RATE,
      achievedTps: txs.length / ((tEnd - t0) / 1000),
      txLatencyP50: pct(lat, 50),
      txLatencyP99: pct(lat, 99),
      commitP50: histQuantile(loadHist, 0.5),
      commitP99: histQuantile(loadHist, 0.99),
      commitMean: loadHist.sum / loadHist.count,
      blocks: endHeight - startHeight,
      maxSendLagMs: maxLagMs,
    };

    // sanity: the nodes agree on the last common block
    const heads = await Promise.all(net.nodes.map((_, i) => net.height(i)));
    const common = Math.min(...heads);
    const hashes = new Set(await Promise.all(net.nodes.map((_, i) => net.blockHash(i, common))));
    if (hashes.size !== 1) throw new Error(`nodes disagree at height ${common}`);

    const mem = net.nodes.map((n) => ({ node: n.name, ...memOf(n.child!.pid!) }));

    console.log(`\nconsensus: ${VALIDATORS} validators (separate processes, libp2p on loopback), block time ${BLOCK_MS} ms, --timeout-propose ${values['timeout-propose']} ms, this host: 2 cores shared by all nodes and the client`);
    console.log('commit latency = height start → commit, from the nodes\' histogram (4 nodes pooled; bucket-interpolated p50/p99, exact mean)\n');
    console.log(
      table([
        { phase: 'empty chain', blocks: empty.blocks, 'blocks/s': empty.blocksPerSec.toFixed(2), 'commit p50': ms(empty.commitP50), 'commit p99': ms(empty.commitP99), 'commit mean': ms(empty.commitMean), 'tx/s': '-', 'tx latency p50': '-', 'tx latency p99': '-' },
        { phase: `load ${load.txs} ETH transfers @ ${RATE > 0 ? RATE + ' tx/s' : 'unpaced'}`, blocks: load.blocks, 'blocks/s': (load.blocks / ((tEnd - t0) / 1000)).toFixed(2), 'commit p50': ms(load.commitP50), 'commit p99': ms(load.commitP99), 'commit mean': ms(load.commitMean), 'tx/s': load.achievedTps.toFixed(1), 'tx latency p50': ms(load.txLatencyP50), 'tx latency p99': ms(load.txLatencyP99) },
      ]),
    );
    console.log(`\ntx latency = client send → its block visible on the node it was sent to (polled every ${POLL_MS} ms); ${SENDERS} senders, each pinned to one node; max send lag behind schedule ${maxLagMs.toFixed(0)} ms`);
    console.log('\n' + table(mem.map((m) => ({ node: m.node, 'peak RSS (VmHWM)': `${m.hwmMiB.toFixed(0)} MiB`, 'RSS now': `${m.rssMiB.toFixed(0)} MiB` }))));
    const out = { validators: VALIDATORS, blockTimeMs: BLOCK_MS, empty, load, memory: mem };
    if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(out));
    ok = true;
  } finally {
    await net.stopAll();
    if (ok && !process.env.BENCH_KEEP) rmSync(net.dir, { recursive: true, force: true });
    else say(`node logs kept in ${net.dir}`);
  }
}

await main();
