/**
 * node bench/rpc-flood.ts — is the node still responsive while clients flood it with endless-loop
 * eth_calls? Against a pocchain dev node and anvil in one run: eth_blockNumber latency (sequential
 * calls, p50/p99/max) without and with C clients each looping `eth_call` of init code
 * `JUMPDEST PUSH1 0 JUMP` (it runs to the gas cap: pocchain 50M or its 5 s limit; anvil its block
 * gas limit), and for pocchain the blocks committed per second in both phases.
 * Flags: --clients N (default 4), --samples N (default 100), --block-time ms (200).
 */
import { parseArgs } from 'node:util';
import { startAnvil } from '../lib/anvil.ts';
import { startDevNode } from '../test/helpers/proc.ts';
import { rpcCall, table } from './lib.ts';

const { values } = parseArgs({ options: { clients: { type: 'string', default: '4' }, samples: { type: 'string', default: '100' }, 'block-time': { type: 'string', default: '200' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log('usage: node bench/rpc-flood.ts [--clients N] [--samples N] [--block-time ms]');
  process.exit(0);
}
const CLIENTS = Number(values.clients);
const SAMPLES = Number(values.samples);
const LOOP = '0x5b600056';

const pct = (xs: number[], p: number) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

/** eth_blockNumber latencies (ms) of `SAMPLES` sequential calls; the head moved by how many blocks, in how long. */
async function probe(url: string) {
  const lat: number[] = [];
  const h0 = Number(await rpcCall(url, 'eth_blockNumber'));
  const t0 = performance.now();
  for (let i = 0; i < SAMPLES; i++) {
    const t = performance.now();
    await rpcCall(url, 'eth_blockNumber');
    lat.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 20));
  }
  const secs = (performance.now() - t0) / 1000;
  const blocks = Number(await rpcCall(url, 'eth_blockNumber')) - h0;
  return { p50: pct(lat, 50), p99: pct(lat, 99), max: Math.max(...lat), blocksPerSec: blocks / secs };
}

async function measure(url: string) {
  const quiet = await probe(url);
  let stop = false;
  let calls = 0;
  const flood = Array.from({ length: CLIENTS }, async () => {
    while (!stop) {
      await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_call', params: [{ data: LOOP }, 'latest'] }) }).then((r) => r.text()).catch(() => '');
      calls++;
    }
  });
  await new Promise((r) => setTimeout(r, 1000)); // let the flood start
  const flooded = await probe(url);
  stop = true;
  await Promise.allSettled(flood);
  return { quiet, flooded, calls };
}

const anvil = await startAnvil({ chainId: 31338 });
const node = await startDevNode({ blockTimeMs: Number(values['block-time']) });
try {
  const p = await measure(node.url);
  const a = await measure(anvil.url);
  const f = (x: number) => x.toFixed(1);
  console.log(`\neth_blockNumber latency (ms, ${SAMPLES} sequential calls) without and with ${CLIENTS} clients looping endless eth_calls; pocchain block time ${values['block-time']} ms, anvil automine (no blocks without txs)\n`);
  console.log(
    table([
      { phase: 'quiet', 'pocchain p50': f(p.quiet.p50), 'pocchain p99': f(p.quiet.p99), 'pocchain max': f(p.quiet.max), 'pocchain blocks/s': f(p.quiet.blocksPerSec), 'anvil p50': f(a.quiet.p50), 'anvil p99': f(a.quiet.p99), 'anvil max': f(a.quiet.max) },
      { phase: 'flooded', 'pocchain p50': f(p.flooded.p50), 'pocchain p99': f(p.flooded.p99), 'pocchain max': f(p.flooded.max), 'pocchain blocks/s': f(p.flooded.blocksPerSec), 'anvil p50': f(a.flooded.p50), 'anvil p99': f(a.flooded.p99), 'anvil max': f(a.flooded.max) },
    ]),
  );
  console.log(`\nflood calls answered: pocchain ${p.calls}, anvil ${a.calls}`);
} finally {
  await node.stop();
  await anvil.stop();
}
