/** Content over p2p, pure parts: the wire codec, the server's refusals, and the fetcher against fake peers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keccak256 } from 'ethers';
import { ContentFetcher, contentServer, decodeContentRequest, decodeContentResponse, encodeContentRequest, encodeContentResponse, peerOrder, type ContentNet, type PeerOutcome } from '../../consensus/content-p2p.ts';
import { isPocError } from '../../lib/errors.ts';

const blob = new TextEncoder().encode('an app, say');
const hash = keccak256(blob);

/** Fake peers: each maps to an answer (bytes it claims, undefined = not here, Error = fails). */
function fakeNet(answers: Record<string, Uint8Array | undefined | Error | (() => Promise<Uint8Array | undefined>)>) {
  const asked: string[] = [];
  const penalised: string[] = [];
  const net: ContentNet = {
    peers: () => Object.keys(answers),
    async request(peer, req, opts) {
      asked.push(peer);
      assert.equal(opts.maxResponseBytes, 1024 + 1, 'limit = content limit + status byte');
      assert.equal(decodeContentRequest(req), hash);
      const a = answers[peer];
      if (a instanceof Error) throw a;
      const v = typeof a === 'function' ? await a() : a;
      return encodeContentResponse(v);
    },
    penalize: (peer) => void penalised.push(peer),
  };
  return { net, asked, penalised };
}

function fetcherFor(net: ContentNet, extra: Partial<ConstructorParameters<typeof ContentFetcher>[0]> = {}) {
  const saved: Uint8Array[] = [];
  const outcomes: PeerOutcome[] = [];
  const f = new ContentFetcher({ net, maxBytes: 1024, save: async (b) => void saved.push(b), onPeer: (o) => void outcomes.push(o), ...extra });
  return { f, saved, outcomes };
}

test('codec: a request is the raw 32-byte hash; a response says not-here or carries the bytes; anything else is refused', () => {
  const req = encodeContentRequest(hash.toUpperCase().replace('0X', ''));
  assert.equal(req.length, 32);
  assert.equal(decodeContentRequest(req), hash);
  for (const bad of [new Uint8Array(0), new Uint8Array(31), new Uint8Array(33)]) assert.throws(() => decodeContentRequest(bad), (e) => isPocError(e, 'P2P_BAD_REQUEST'));
  assert.throws(() => encodeContentRequest('0x1234'), (e) => isPocError(e, 'CONTENT_BAD_HASH'));
  assert.equal(decodeContentResponse(encodeContentResponse(undefined)), undefined);
  assert.deepEqual(decodeContentResponse(encodeContentResponse(blob)), blob);
  for (const bad of [new Uint8Array(0), Uint8Array.of(1), Uint8Array.of(0, 1), Uint8Array.of(2, 1)]) assert.throws(() => decodeContentResponse(bad), (e) => isPocError(e, 'CONTENT_BAD_RESPONSE'));
});

test('server: answers from the local lookup; a malformed request is refused before any lookup', async () => {
  const looked: string[] = [];
  const served: boolean[] = [];
  const serve = contentServer(async (h) => (looked.push(h), h === hash ? blob : undefined), (found) => void served.push(found));
  assert.deepEqual(decodeContentResponse(await serve(encodeContentRequest(hash))), blob);
  assert.equal(decodeContentResponse(await serve(encodeContentRequest('0x' + '11'.repeat(32)))), undefined);
  await assert.rejects(serve(new Uint8Array(40)), (e) => isPocError(e, 'P2P_BAD_REQUEST'));
  assert.deepEqual(looked, [hash, '0x' + '11'.repeat(32)]);
  assert.deepEqual(served, [true, false]);
});

test('peerOrder: peers that served before first, then by id; bounded; duplicates once', () => {
  assert.deepEqual(peerOrder(['c', 'a', 'b', 'a'], new Map([['c', 2], ['b', 1]]), 10), ['c', 'b', 'a']);
  assert.deepEqual(peerOrder(['c', 'a', 'b'], new Map(), 2), ['a', 'b']);
});

test('fetch: a peer answering other bytes is not believed (penalised, next peer asked); the verified blob is saved and returned', async () => {
  const { net, asked, penalised } = fakeNet({ a: new TextEncoder().encode('forged'), b: undefined, c: blob, d: blob });
  const { f, saved, outcomes } = fetcherFor(net);
  assert.deepEqual(await f.fetch(hash), blob);
  assert.deepEqual(asked, ['a', 'b', 'c'], 'stops at the first good answer');
  assert.deepEqual(penalised, ['a']);
  assert.deepEqual(outcomes, ['mismatch', 'missing', 'served']);
  assert.deepEqual(saved, [blob]);
  // the peer that served is asked first next time
  asked.length = 0;
  await f.fetch(hash);
  assert.deepEqual(asked, ['c']);
});

test('fetch: failures and oversized answers move on to the next peer; no peer has it → CONTENT_UNAVAILABLE with the tally; at most maxPeers asked', async () => {
  const big = new Uint8Array(1025);
  const { net, asked, penalised } = fakeNet({ a: new Error('timeout'), b: big, c: undefined, d: blob });
  const { f, saved } = fetcherFor(net, { maxPeers: 3 });
  await assert.rejects(f.fetch(hash), (e) => isPocError(e, 'CONTENT_UNAVAILABLE') && (e.data as any).error === 1 && (e.data as any).mismatch === 1 && (e.data as any).missing === 1 && (e.data as any).asked === 3);
  assert.deepEqual(asked, ['a', 'b', 'c']);
  assert.deepEqual(penalised, ['b']);
  assert.equal(saved.length, 0);
  // no peers at all
  await assert.rejects(fetcherFor(fakeNet({}).net).f.fetch(hash), (e) => isPocError(e, 'CONTENT_UNAVAILABLE'));
});

test('fetch: a malformed hash is refused before any request', async () => {
  const { net, asked } = fakeNet({ a: blob });
  await assert.rejects(fetcherFor(net).f.fetch('../etc/passwd'), (e) => isPocError(e, 'CONTENT_BAD_HASH'));
  assert.equal(asked.length, 0);
});

test('fetch: a blob the store refuses (full) is served all the same', async () => {
  const { net } = fakeNet({ a: blob });
  const { f } = fetcherFor(net, { save: async () => Promise.reject(new Error('content store full')) });
  assert.deepEqual(await f.fetch(hash), blob);
});

test('fetch: concurrent misses for one hash share one fetch; distinct hashes are bounded (running + queued), beyond that CONTENT_BUSY', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const requests: string[] = [];
  const net: ContentNet = {
    peers: () => ['a'],
    async request(_peer, req) {
      const h = decodeContentRequest(req);
      requests.push(h);
      await gate;
      return encodeContentResponse(h === hash ? blob : undefined);
    },
    penalize: () => {},
  };
  const { f } = fetcherFor(net, { maxConcurrent: 1, maxQueued: 1 });
  const one = f.fetch(hash);
  const two = f.fetch(hash.toUpperCase().replace('0X', '0x'));
  const other = '0x' + '22'.repeat(32);
  const queued = f.fetch(other);
  assert.deepEqual(f.load(), { active: 1, queued: 1, hashes: 2 });
  await assert.rejects(f.fetch('0x' + '33'.repeat(32)), (e) => isPocError(e, 'CONTENT_BUSY'));
  release();
  assert.deepEqual(await one, blob);
  assert.deepEqual(await two, blob);
  await assert.rejects(queued, (e) => isPocError(e, 'CONTENT_UNAVAILABLE'));
  assert.deepEqual(requests, [hash, other], 'one request for the shared hash; the queued one ran after');
  assert.deepEqual(f.load(), { active: 0, queued: 0, hashes: 0 });
});
