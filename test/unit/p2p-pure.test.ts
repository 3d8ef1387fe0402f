/** Pure parts of chain/p2p: penalties and bans, backoff, topic names, the req/resp wire format. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PenaltyBook, decayScore } from '../../chain/p2p/peer-score.ts';
import { backoffDelay } from '../../chain/p2p/backoff.ts';
import { chainTopics, topicKind, protocolId, gossipLimitFor } from '../../chain/p2p/topics.ts';
import { decodeResponse, encodeErrorResponse, encodeFrame, encodeLength, encodeOkResponse, classifyReadError, FrameError } from '../../chain/p2p/reqresp.ts';
import { parseBootstrapAddr } from '../../chain/p2p/node.ts';
import { isPocError } from '../../lib/errors.ts';

test('penalties accumulate to a ban that ends after the ban period', () => {
  const book = new PenaltyBook({ banThreshold: 100, banDurationMs: 1000, halfLifeMs: 1e12 });
  assert.equal(book.penalize('p', 'invalid-gossip', 0).banned, false);
  assert.equal(book.penalize('p', 'oversized-gossip', 0).banned, false); // 70
  const out = book.penalize('p', 'invalid-gossip', 0); // 90
  assert.equal(out.banned, false);
  const ban = book.penalize('p', 'bad-response', 10); // 110
  assert.deepEqual([ban.banned, ban.newlyBanned], [true, true]);
  assert.equal(book.isBanned('p', 500), true);
  assert.equal(book.bannedUntil('p', 500), 1010);
  // further faults during the ban do not restart it or report it again
  const again = book.penalize('p', 'protocol-violation', 600);
  assert.deepEqual([again.banned, again.newlyBanned], [true, false]);
  assert.equal(book.isBanned('p', 1010), false);
  assert.equal(book.isBanned('other', 500), false);
  assert.deepEqual(book.banned(500), ['p']);
});

test('penalties decay with the half-life, so rare faults never ban', () => {
  assert.equal(decayScore(80, 0, 1000, 1000), 40);
  const book = new PenaltyBook({ banThreshold: 100, halfLifeMs: 1000 });
  for (let t = 0; t < 100_000; t += 2000) assert.equal(book.penalize('p', 'oversized-gossip', t).banned, false);
  book.prune(10_000_000);
  assert.equal(book.size, 0);
});

test('unban forgets the peer', () => {
  const book = new PenaltyBook({ banThreshold: 10 });
  book.penalize('p', 'manual', 0);
  assert.equal(book.isBanned('p', 1), true);
  book.unban('p');
  assert.equal(book.isBanned('p', 1), false);
  assert.equal(book.score('p', 1), 0);
});

test('backoff grows exponentially up to the cap, with bounded jitter', () => {
  const p = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.2 };
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, p, () => 0.5)), [100, 200, 400, 800, 1000, 1000]);
  assert.equal(backoffDelay(0, p, () => 0), 80);
  assert.equal(backoffDelay(0, p, () => 0.999999), 120);
});

test('topic and protocol names carry the chain id', () => {
  assert.deepEqual(chainTopics(7), { tx: 'pocchain/7/tx', consensus: 'pocchain/7/consensus', checkpoint: 'pocchain/7/checkpoint' });
  assert.equal(topicKind('pocchain/7/consensus'), 'consensus');
  assert.equal(topicKind('pocchain/7/other'), undefined);
  assert.equal(protocolId(7, 'blocks'), '/pocchain/7/blocks/1');
  assert.throws(() => protocolId(7, 'a/b'));
  assert.equal(gossipLimitFor('pocchain/7/tx'), 256 * 1024); // a batch of txs (consensus/limits.ts)
  assert.equal(gossipLimitFor('pocchain/7/consensus'), 2 * 1024 * 1024);
});

test('response frames round-trip and reject unknown statuses', () => {
  assert.deepEqual(decodeResponse(encodeOkResponse(Uint8Array.of(1, 2))), { ok: true, body: Uint8Array.of(1, 2) });
  assert.deepEqual(decodeResponse(encodeOkResponse(new Uint8Array(0))), { ok: true, body: new Uint8Array(0) });
  assert.deepEqual(decodeResponse(encodeErrorResponse('nope')), { ok: false, reason: 'nope' });
  assert.equal(encodeErrorResponse('x'.repeat(1000)).length, 257);
  assert.throws(() => decodeResponse(new Uint8Array(0)), (e) => isPocError(e, 'P2P_BAD_RESPONSE'));
  assert.throws(() => decodeResponse(Uint8Array.of(9, 1)), (e) => isPocError(e, 'P2P_BAD_RESPONSE'));
});

test('length prefixes are LEB128 varints', () => {
  assert.deepEqual(encodeLength(0), Uint8Array.of(0));
  assert.deepEqual(encodeLength(127), Uint8Array.of(127));
  assert.deepEqual(encodeLength(300), Uint8Array.of(0xac, 0x02));
  assert.deepEqual(encodeFrame(Uint8Array.of(5, 6)), Uint8Array.of(2, 5, 6));
  assert.equal(classifyReadError(new FrameError('malformed', 'x')), 'malformed');
  assert.equal(classifyReadError(Object.assign(new Error('x'), { name: 'UnexpectedEOFError' })), 'eof');
});

test('bootstrap addresses need a /p2p/ peer id', () => {
  const id = '12D3KooWFYN5iuqaj42EXUAV5zddmTxjJd3gWUYgXeGPEW6HRsZ2';
  assert.equal(parseBootstrapAddr(`/ip4/127.0.0.1/tcp/4001/p2p/${id}`).peerId, id);
  assert.throws(() => parseBootstrapAddr('/ip4/127.0.0.1/tcp/4001'), (e) => isPocError(e, 'P2P_BAD_ADDRESS'));
  assert.throws(() => parseBootstrapAddr('not an address'), (e) => isPocError(e, 'P2P_BAD_ADDRESS'));
});

test('the identity key file is created 0600 and gives the same peer id when loaded again', async () => {
  const { mkdtemp, stat, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { peerIdFromPrivateKey } = await import('@libp2p/peer-id');
  const { loadOrCreateIdentity } = await import('../../chain/p2p/identity.ts');
  const dir = await mkdtemp(join(tmpdir(), 'p2p-id-'));
  try {
    const file = join(dir, 'sub', 'p2p.key');
    const k1 = await loadOrCreateIdentity(file);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const k2 = await loadOrCreateIdentity(file);
    assert.equal(peerIdFromPrivateKey(k2).toString(), peerIdFromPrivateKey(k1).toString());
    const bad = join(dir, 'bad.key');
    await writeFile(bad, 'garbage', { mode: 0o600 });
    await assert.rejects(loadOrCreateIdentity(bad), (e) => isPocError(e, 'P2P_BAD_KEY_FILE'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
