/**
 * Three P2PNode processes on 127.0.0.1 form a mesh from static bootstrap addresses: gossip reaches
 * every node, request/response works with its limits and errors, and gossip latency is measured.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PeerProc, planPeers, waitMesh, until, percentile, type PeerSpec } from '../fixtures/p2p-harness.ts';

let specs: Record<string, PeerSpec>;
let cleanup: () => Promise<void>;
const procs: Record<string, PeerProc> = {};

before(async () => {
  ({ specs, cleanup } = await planPeers(['a', 'b', 'c']));
  const all = Object.values(specs).map((s) => s.addr);
  for (const name of ['a', 'b', 'c']) procs[name] = new PeerProc(specs[name]!, { bootstrap: all });
  await Promise.all(Object.values(procs).map((p) => p.ready()));
});

after(async () => {
  await Promise.all(Object.values(procs).map((p) => p.stop()));
  await cleanup();
});

test('three processes connect to each other from bootstrap addresses', async () => {
  const { a, b, c } = procs as Record<string, PeerProc>;
  await until(async () => (await a!.info()).peers.length === 2 && (await b!.info()).peers.length === 2 && (await c!.info()).peers.length === 2, 30_000, 'full mesh');
  const ia = await a!.info();
  assert.deepEqual(new Set(ia.peers), new Set([specs.b!.peerId, specs.c!.peerId]));
  assert.equal(ia.peerId, specs.a!.peerId, 'identity comes from the key file');
});

test('gossip from each node reaches all the others, on every topic', async () => {
  const names = ['a', 'b', 'c'];
  const ps = names.map((n) => procs[n]!);
  await waitMesh(ps, 'tx');
  await waitMesh(ps, 'consensus');
  for (const n of names) {
    await procs[n]!.call('publish', { topic: 'tx', text: `tx-from-${n}` });
    await procs[n]!.call('publish', { topic: 'consensus', text: `vote-from-${n}` });
  }
  for (const n of names) {
    for (const m of names) {
      if (m === n) continue;
      await procs[m]!.waitEvent((e) => e.ev === 'gossip' && e.topic === 'tx' && e.text === `tx-from-${n}`, 15_000, `tx-from-${n} at ${m}`);
      await procs[m]!.waitEvent((e) => e.ev === 'gossip' && e.topic === 'consensus' && e.text === `vote-from-${n}`, 15_000, `vote-from-${n} at ${m}`);
    }
  }
  // the sender does not get its own message back, and no one gets a message twice
  assert.deepEqual(procs.a!.gossipTexts('tx').sort(), ['tx-from-b', 'tx-from-c']);
  assert.equal(procs.b!.gossipTexts('consensus').filter((t) => t === 'vote-from-a').length, 1);
});

test('identical bytes published twice are delivered once (content-hash message ids)', async () => {
  await procs.a!.call('publish', { topic: 'checkpoint', text: 'cp-1' });
  const second = await procs.a!.call<number>('publish', { topic: 'checkpoint', text: 'cp-1' });
  assert.equal(second, 0, 'duplicate publish reaches no one');
  await procs.a!.call('publish', { topic: 'checkpoint', text: 'cp-2' });
  await procs.b!.waitEvent((e) => e.ev === 'gossip' && e.text === 'cp-2', 15_000, 'cp-2');
  assert.deepEqual(procs.b!.gossipTexts('checkpoint'), ['cp-1', 'cp-2']);
});

test('publishing over the topic size limit fails at the sender', async () => {
  await assert.rejects(procs.a!.call('publish', { topic: 'tx', text: 'huge', size: 300 * 1024 }), (e: Error & { code?: string }) => e.code === 'P2P_MESSAGE_TOO_LARGE');
  // the same size fits the consensus topic (1 MiB)
  const n = await procs.a!.call<number>('publish', { topic: 'consensus', text: 'big-block', size: 200 * 1024 });
  assert.ok(n >= 1);
  await procs.c!.waitEvent((e) => e.ev === 'gossip' && e.text === 'big-block', 15_000, 'big-block');
});

test('request/response round trip, remote errors, limits and timeouts', async () => {
  const { a, b } = procs as Record<string, PeerProc>;
  assert.deepEqual(await a!.call('request', { peer: specs.b!.peerId, text: 'hello' }), { ok: true, text: 'echo:hello' });
  assert.deepEqual(await b!.call('request', { peer: specs.a!.peerId, text: 'x'.repeat(1000) }), { ok: true, text: `<1005 bytes>` });
  // a 1 MiB response (a batch of blocks) within the caller's limit
  assert.deepEqual(await a!.call('request', { peer: specs.c!.peerId, text: `big:${1 << 20}`, maxResponseBytes: 2 << 20 }), { ok: true, text: `<${1 << 20} bytes>` });
  // the handler refuses: the caller gets the reason
  const bad = await a!.call<{ ok: boolean; code: string; reason: string }>('request', { peer: specs.b!.peerId, text: 'bad' });
  assert.equal(bad.code, 'P2P_REMOTE_ERROR');
  assert.equal(bad.reason, 'bad request');
  // over the caller's response limit
  const tooBig = await a!.call<{ code: string }>('request', { peer: specs.c!.peerId, text: 'big:5000', maxResponseBytes: 1000 });
  assert.equal(tooBig.code, 'P2P_RESPONSE_TOO_LARGE');
  // a handler that never answers
  const slow = await a!.call<{ code: string }>('request', { peer: specs.b!.peerId, text: 'slow', timeoutMs: 500 });
  assert.equal(slow.code, 'P2P_TIMEOUT');
  // a request over the responder's 64 KiB request limit is refused and counted against the sender
  const huge = await a!.call<{ ok: boolean; code: string }>('request', { peer: specs.b!.peerId, text: 'y'.repeat(100 * 1024) });
  assert.equal(huge.ok, false);
  const ib = await b!.info();
  assert.ok(ib.stats.penalties! >= 2, 'bad request and oversized request were penalised');
  // the connection survives all of this
  assert.deepEqual(await a!.call('request', { peer: specs.b!.peerId, text: 'still-there' }), { ok: true, text: 'echo:still-there' });
});

test('gossip latency over 200 messages (measured, not asserted)', async () => {
  const { a, b, c } = procs as Record<string, PeerProc>;
  await a!.call('publishSeries', { topic: 'consensus', count: 200, intervalMs: 5 }, 60_000);
  for (const p of [b!, c!]) await until(() => p.events.filter((e) => e.ev === 'lat').length >= 200, 30_000, 'latency probes');
  const lat = [b!, c!].flatMap((p) => p.events.filter((e) => e.ev === 'lat').map((e) => Number(e.ms)));
  assert.equal(lat.length, 400, 'every probe arrived exactly once at each receiver');
  const fmt = (x: number): string => x.toFixed(2);
  console.log(`# gossip latency over ${lat.length} deliveries (200 msgs x 2 receivers, 3 processes): p50=${fmt(percentile(lat, 50))} ms p90=${fmt(percentile(lat, 90))} ms p99=${fmt(percentile(lat, 99))} ms max=${fmt(Math.max(...lat))} ms`);
});
