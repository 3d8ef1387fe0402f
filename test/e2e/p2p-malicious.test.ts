/**
 * A malicious process M (no size limits, garbage gossip, garbage request and response frames)
 * attached to one honest node h1 of an honest 3-node mesh. Separate OS processes on 127.0.0.1.
 * Checks: invalid and oversized gossip is neither delivered nor forwarded, each fault is counted,
 * M ends up banned and cannot reconnect, and the honest nodes keep working.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PeerProc, planPeers, waitMesh, until, type PeerSpec } from '../fixtures/p2p-harness.ts';

let specs: Record<string, PeerSpec>;
let cleanup: () => Promise<void>;
let h1: PeerProc, h2: PeerProc, h3: PeerProc, m: PeerProc;
const redial = { initialMs: 100, maxMs: 500, factor: 2, jitter: 0.2 };
// default weights (bad-response 20, invalid-gossip 20, oversized-gossip 50, protocol-violation 50)
// with a threshold of 200: the faults below add up 20, 60, 110, 160, then 210 at the garbage frame
const penalties = { banThreshold: 200 };

before(async () => {
  ({ specs, cleanup } = await planPeers(['h1', 'h2', 'h3', 'm']));
  const honest = [specs.h1!.addr, specs.h2!.addr, specs.h3!.addr];
  h1 = new PeerProc(specs.h1!, { bootstrap: honest, redial, penalties });
  h2 = new PeerProc(specs.h2!, { bootstrap: honest, redial, penalties });
  h3 = new PeerProc(specs.h3!, { bootstrap: honest, redial, penalties });
  // M only knows h1; h2 and h3 never learn its address
  m = new PeerProc(specs.m!, { bootstrap: [specs.h1!.addr], redial }, 'malicious');
  await Promise.all([h1, h2, h3, m].map((p) => p.ready()));
  await waitMesh([h1, h2, h3]);
  await until(async () => (await m.call<string[]>('topicPeers', { topic: 'tx' })).includes(specs.h1!.peerId), 30_000, 'm sees h1 subscribed');
  await until(async () => (await h1.call<string[]>('topicPeers', { topic: 'tx' })).includes(specs.m!.peerId), 30_000, 'h1 sees m subscribed');
});

after(async () => {
  await Promise.all([h1, h2, h3, m].map((p) => p?.stop()));
  await cleanup();
});

const stats = async (p: PeerProc): Promise<Record<string, number>> => (await p.info()).stats;

test('a garbage response frame fails the request and is penalised', async () => {
  const r = await h1.call<{ ok: boolean; code: string }>('request', { peer: specs.m!.peerId, text: 'hello' });
  assert.equal(r.code, 'P2P_BAD_RESPONSE');
  assert.equal((await stats(h1)).penalties, 1);
});

test('valid gossip from M is forwarded by h1 to nodes that are not connected to M', async () => {
  await m.call('publish', { topic: 'tx', text: 'm-valid' });
  await h2.waitEvent((e) => e.ev === 'gossip' && e.text === 'm-valid', 15_000, 'm-valid at h2');
  await h3.waitEvent((e) => e.ev === 'gossip' && e.text === 'm-valid', 15_000, 'm-valid at h3');
  assert.ok(!(await h2.info()).peers.includes(specs.m!.peerId), 'h2 has no direct link to M');
});

test('garbage gossip is rejected by h1, penalised and not forwarded', async () => {
  await m.call('publish', { topic: 'tx', garbage: 64 });
  await m.call('publish', { topic: 'consensus', garbage: 300 });
  await until(async () => (await stats(h1)).gossipRejected === 2, 15_000, 'h1 rejects garbage');
  // a valid message published after the garbage arrives; the garbage never does
  await m.call('publish', { topic: 'tx', text: 'm-marker-1' });
  await h2.waitEvent((e) => e.ev === 'gossip' && e.text === 'm-marker-1', 15_000, 'marker at h2');
  await h3.waitEvent((e) => e.ev === 'gossip' && e.text === 'm-marker-1', 15_000, 'marker at h3');
  assert.equal((await stats(h2)).gossipRejected, 0, 'garbage reached h2');
  assert.equal((await stats(h3)).gossipRejected, 0, 'garbage reached h3');
  assert.equal((await stats(h1)).penalties, 3);
});

test('oversized gossip is dropped before the handler, penalised and not forwarded', async () => {
  await m.call('publish', { topic: 'tx', text: 'm-oversized', size: 300 * 1024 });
  await until(async () => (await stats(h1)).gossipOversized === 1, 15_000, 'h1 drops oversized');
  assert.ok(!h1.gossipTexts().includes('m-oversized'), 'oversized message reached the handler');
  await m.call('publish', { topic: 'tx', text: 'm-marker-2' });
  await h2.waitEvent((e) => e.ev === 'gossip' && e.text === 'm-marker-2', 15_000, 'marker-2 at h2');
  assert.ok(!h2.gossipTexts().includes('m-oversized'));
  assert.ok(!h3.gossipTexts().includes('m-oversized'));
  assert.equal((await stats(h1)).penalties, 4);
  assert.deepEqual((await h1.info()).banned, [], 'not banned yet at 110 < 200');
});

test('a gossip frame over the decoder limit is penalised as oversized', async () => {
  // 3 MiB is over h1's RPC frame limit (its largest topic limit, 2 MiB, plus overhead): the
  // length-prefix decoder refuses it and gossipsub drops M from its router
  await m.call('publish', { topic: 'consensus', garbage: 3 * 1024 * 1024 });
  await until(async () => (await stats(h1)).gossipOversized === 2, 15_000, 'h1 penalises the frame');
  assert.equal((await stats(h1)).penalties, 5);
  assert.deepEqual((await h1.info()).banned, [], 'not banned yet at 160 < 200');
});

test('a garbage request frame is penalised; the accumulated faults get M banned and cut off', async () => {
  // a varint length prefix that never ends: not a frame at all
  const r = await m.call<{ answered: boolean }>('raw', { peer: specs.h1!.peerId, hex: 'ffffffffffffffffffffff01deadbeef' });
  assert.equal(r.answered, false);
  const ban = await h1.waitEvent((e) => e.ev === 'banned' && e.peer === specs.m!.peerId, 15_000, 'h1 bans M');
  assert.equal(ban.reason, 'protocol-violation');
  await until(async () => !(await h1.info()).peers.includes(specs.m!.peerId), 15_000, 'M disconnected from h1');
  assert.deepEqual((await h1.info()).banned, [specs.m!.peerId]);
  // M keeps redialling h1 (every ≤0.5 s); the gater refuses every attempt. M's own list can hold a
  // dial for the moment between its side of the handshake and h1 closing it (CI run 10 sampled M
  // in that moment once in about ten runs), so its emptiness is waited for, not sampled once
  await sleep(2000);
  assert.ok(!(await h1.info()).peers.includes(specs.m!.peerId), 'M got back in');
  await until(async () => (await m.info()).peers.length === 0, 5_000, 'M holds no connection between its refused dials');
  const fromM = await m.call<{ ok: boolean; code: string }>('request', { peer: specs.h1!.peerId, text: 'let me in' });
  assert.equal(fromM.ok, false);
  await m.call('publish', { topic: 'tx', text: 'm-after-ban' });
});

test('the honest nodes survived and still gossip and serve requests', async () => {
  for (const p of [h1, h2, h3]) assert.ok(p.alive(), `${p.spec.name} crashed:\n${p.stderr}`);
  await h1.call('publish', { topic: 'tx', text: 'honest-after-ban' });
  await h2.waitEvent((e) => e.ev === 'gossip' && e.text === 'honest-after-ban', 15_000, 'honest-after-ban at h2');
  await h3.waitEvent((e) => e.ev === 'gossip' && e.text === 'honest-after-ban', 15_000, 'honest-after-ban at h3');
  assert.deepEqual(await h2.call('request', { peer: specs.h1!.peerId, text: 'ok?' }), { ok: true, text: 'echo:ok?' });
  for (const p of [h1, h2, h3]) assert.ok(!p.gossipTexts().includes('m-after-ban'));
  assert.equal((await h2.info()).peers.length, 2);
});
