/**
 * Faults with separate processes on 127.0.0.1: a peer killed with SIGKILL and restarted (same key,
 * same port) is redialled and receives gossip again; a 2|2 partition cut with blockPeer() lets
 * nothing through, and after unblockPeer() gossip flows across again.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PeerProc, planPeers, waitMesh, until, type PeerSpec } from '../fixtures/p2p-harness.ts';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Fast redial so a restart is noticed within a couple of seconds. */
const redial = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.2 };

async function network(names: string[]): Promise<{ specs: Record<string, PeerSpec>; procs: Record<string, PeerProc>; all: string[] }> {
  const { specs, cleanup } = await planPeers(names);
  const all = Object.values(specs).map((s) => s.addr);
  const procs: Record<string, PeerProc> = {};
  for (const n of names) procs[n] = new PeerProc(specs[n]!, { bootstrap: all, redial });
  cleanups.push(async () => {
    await Promise.all(Object.values(procs).map((p) => p.stop()));
    await cleanup();
  });
  await Promise.all(Object.values(procs).map((p) => p.ready()));
  return { specs, procs, all };
}

test('a peer killed with SIGKILL and restarted is reconnected and receives gossip again', async () => {
  const { specs, procs, all } = await network(['a', 'b', 'c']);
  await waitMesh([procs.a!, procs.b!, procs.c!]);
  await procs.a!.call('publish', { topic: 'tx', text: 'before-kill' });
  await procs.c!.waitEvent((e) => e.ev === 'gossip' && e.text === 'before-kill', 15_000, 'before-kill');

  await procs.c!.kill('SIGKILL');
  await procs.a!.waitEvent((e) => e.ev === 'disconnect' && e.peer === specs.c!.peerId, 15_000, 'a sees c drop');
  await until(async () => !(await procs.a!.info()).peers.includes(specs.c!.peerId), 15_000, 'c gone from a');
  // published while c is down: c never gets it
  await procs.a!.call('publish', { topic: 'tx', text: 'while-down' });
  await sleep(1500); // let a and b fail a few redials, so reconnection really goes through backoff

  // restart with the same key and port; the restarted c gets no bootstrap list, so the
  // reconnection must come from a's and b's redial loops
  const c2 = new PeerProc(specs.c!, { bootstrap: [], redial });
  procs.c = c2;
  await c2.ready();
  await until(async () => (await c2.info()).peers.length === 2, 30_000, 'a and b redial the restarted c');
  await waitMesh([procs.a!, procs.b!, c2]);
  await procs.a!.call('publish', { topic: 'tx', text: 'after-restart-a' });
  await procs.b!.call('publish', { topic: 'consensus', text: 'after-restart-b' });
  await c2.waitEvent((e) => e.ev === 'gossip' && e.text === 'after-restart-a', 15_000, 'after-restart-a at c');
  await c2.waitEvent((e) => e.ev === 'gossip' && e.text === 'after-restart-b', 15_000, 'after-restart-b at c');
  assert.ok(!c2.gossipTexts('tx').includes('while-down'));
  assert.equal((await c2.info()).peerId, specs.c!.peerId, 'same identity after restart');
  void all;
});

test('a 2|2 partition made with blockPeer lets nothing across, and heals after unblockPeer', async () => {
  const { specs, procs } = await network(['a', 'b', 'c', 'd']);
  const ps = Object.values(procs);
  await waitMesh(ps);
  await until(async () => (await Promise.all(ps.map((p) => p.info()))).every((i) => i.peers.length === 3), 30_000, 'full mesh of 4');

  const left = ['a', 'b'];
  const right = ['c', 'd'];
  // cut: each side blocks the other (both directions, as a real network split would)
  for (const l of left) for (const r of right) await procs[l]!.call('block', { peer: specs[r]!.peerId });
  for (const r of right) for (const l of left) await procs[r]!.call('block', { peer: specs[l]!.peerId });
  for (const n of [...left, ...right]) {
    const side = left.includes(n) ? left : right;
    await until(async () => {
      const peers = (await procs[n]!.info()).peers;
      return peers.length === 1 && peers.includes(specs[side.find((x) => x !== n)!]!.peerId);
    }, 15_000, `${n} only sees its own side`);
  }

  await procs.a!.call('publish', { topic: 'tx', text: 'left-only' });
  await procs.c!.call('publish', { topic: 'tx', text: 'right-only' });
  await procs.b!.waitEvent((e) => e.ev === 'gossip' && e.text === 'left-only', 15_000, 'left-only at b');
  await procs.d!.waitEvent((e) => e.ev === 'gossip' && e.text === 'right-only', 15_000, 'right-only at d');
  // a request across the cut is refused locally
  const across = await procs.a!.call<{ ok: boolean; code: string }>('request', { peer: specs.c!.peerId, text: 'hi' });
  assert.equal(across.code, 'P2P_PEER_DENIED');
  // blocked peers keep redialling with backoff: give them time, nothing must get through
  await sleep(2000);
  for (const r of right) assert.ok(!procs[r]!.gossipTexts().includes('left-only'), `${r} got a message across the partition`);
  for (const l of left) assert.ok(!procs[l]!.gossipTexts().includes('right-only'), `${l} got a message across the partition`);
  for (const n of [...left, ...right]) assert.equal((await procs[n]!.info()).peers.length, 1, `${n} reconnected across the cut`);

  // heal
  for (const l of left) for (const r of right) await procs[l]!.call('unblock', { peer: specs[r]!.peerId });
  for (const r of right) for (const l of left) await procs[r]!.call('unblock', { peer: specs[l]!.peerId });
  await until(async () => (await Promise.all(ps.map((p) => p.info()))).every((i) => i.peers.length === 3), 30_000, 'mesh healed');
  await waitMesh(ps);
  await procs.a!.call('publish', { topic: 'tx', text: 'healed-from-a' });
  await procs.d!.call('publish', { topic: 'tx', text: 'healed-from-d' });
  for (const n of ['b', 'c', 'd']) await procs[n]!.waitEvent((e) => e.ev === 'gossip' && e.text === 'healed-from-a', 15_000, `healed-from-a at ${n}`);
  for (const n of ['a', 'b', 'c']) await procs[n]!.waitEvent((e) => e.ev === 'gossip' && e.text === 'healed-from-d', 15_000, `healed-from-d at ${n}`);
  assert.deepEqual(await procs.a!.call('request', { peer: specs.c!.peerId, text: 'hi' }), { ok: true, text: 'echo:hi' });
});
