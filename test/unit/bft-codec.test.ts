import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import {
  decodeCommit,
  decodeEvidence,
  decodeMessage,
  encodeCommit,
  encodeEvidence,
  encodeMessage,
  proposalSignBytes,
  voteSignBytes,
} from '../../consensus/bft/codec.ts';
import { generateKeyPair, sign, verify } from '../../consensus/bft/crypto.ts';
import { makeBlock, signProposalWith, signVoteWith, testValidators } from '../../consensus/bft/testkit.ts';
import type { Commit, Vote } from '../../consensus/bft/types.ts';
import { commitRandomness, normalizeEvidence, verifyCommit, verifyEvidence, verifyProposal, verifyVoteSignature } from '../../consensus/bft/verify.ts';
import { isPocError } from '../../lib/errors.ts';

const chainId = 'codec-chain';
const { set, keysByIndex } = testValidators([1n, 1n, 1n, 1n], 'codec');
const A = makeBlock(7, 2, 0, 1);
const raw = new Packr({ useRecords: false });

function vote(i: number, over: Partial<Vote> = {}): Vote {
  const v = { type: 'precommit' as const, height: 7, round: 2, blockHash: A.blockHash, validatorIndex: i, ...over };
  return signVoteWith(keysByIndex[v.validatorIndex]!.secretKey, chainId, v);
}

const isBad = (e: unknown): boolean => isPocError(e, 'BAD_MESSAGE') || isPocError(e, 'MESSAGE_TOO_LARGE');

test('vote and proposal round-trip through the wire codec', () => {
  const v = vote(1);
  const m = decodeMessage(encodeMessage({ kind: 'vote', vote: v }));
  assert.deepEqual(m, { kind: 'vote', vote: { ...v, blockHash: new Uint8Array(v.blockHash!), signature: new Uint8Array(v.signature) } });
  const nilVote = vote(2, { type: 'prevote', blockHash: null });
  assert.deepEqual(decodeMessage(encodeMessage({ kind: 'vote', vote: nilVote })), { kind: 'vote', vote: nilVote });
  const p = signProposalWith(keysByIndex[set.proposerForRound(2)]!.secretKey, chainId, { height: 7, round: 2, polRound: 1, ...A });
  const d = decodeMessage(encodeMessage({ kind: 'proposal', proposal: p }));
  assert.equal(d.kind, 'proposal');
  assert.ok(d.kind === 'proposal' && verifyProposal(d.proposal, set, chainId));
  assert.ok(d.kind === 'proposal' && Object.getPrototypeOf(d.proposal.block) === Uint8Array.prototype, 'plain Uint8Array, not a Buffer view');
});

test('decode rejects malformed, mistyped, out-of-range and oversized input with BAD_MESSAGE', () => {
  const good: unknown[] = [1, 2, 7, 2, Buffer.from(A.blockHash), 1, Buffer.alloc(64, 1)];
  const mutate = (i: number, v: unknown): Uint8Array => {
    const a = good.slice();
    a[i] = v;
    return raw.pack(a);
  };
  const cases: Uint8Array[] = [
    new Uint8Array(0),
    new Uint8Array([0xc1]),
    raw.pack({ kind: 'vote' }),
    raw.pack('hello'),
    raw.pack([9, 1, 2]),
    raw.pack(good.slice(0, 6)),
    raw.pack([...good, 1]),
    mutate(1, 3), // vote type
    mutate(2, 0), // height 0
    mutate(2, -1),
    mutate(2, 1.5),
    mutate(2, '7'),
    mutate(2, 2n ** 60n),
    mutate(3, -1), // round
    mutate(3, 2 ** 31),
    mutate(4, Buffer.alloc(31)), // hash length
    mutate(4, 'ab'),
    mutate(5, 10_000), // validator index
    mutate(6, Buffer.alloc(63)), // signature length
    mutate(6, null),
    Buffer.concat([raw.pack(good), Buffer.from([0])]), // trailing bytes
    raw.pack(good).subarray(0, 20), // truncated
    raw.pack([2, 7, 2, 2, Buffer.from(A.blockHash), Buffer.from(A.block), Buffer.alloc(64)]), // polRound == round
    raw.pack([2, 7, 2, -2, Buffer.from(A.blockHash), Buffer.from(A.block), Buffer.alloc(64)]),
    raw.pack([2, 7, 2, -1, Buffer.from(A.blockHash), 'block', Buffer.alloc(64)]),
    Buffer.from('d6ff00000001', 'hex'), // timestamp extension
    raw.pack(new Map([[1, 2]])),
  ];
  for (const [i, c] of cases.entries()) assert.throws(() => decodeMessage(c), isBad, `case ${i}`);
  assert.doesNotThrow(() => decodeMessage(raw.pack(good)));
  const big = raw.pack([2, 7, 2, -1, Buffer.from(A.blockHash), Buffer.alloc(2000), Buffer.alloc(64)]);
  assert.throws(() => decodeMessage(big, { maxBytes: 1000 }), (e: unknown) => isPocError(e, 'MESSAGE_TOO_LARGE'));
});

test('fuzz: arbitrary bytes and arbitrary msgpack values never crash the decoder', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        decodeMessage(bytes);
      } catch (e) {
        assert.ok(isBad(e), String(e));
      }
    }),
    { numRuns: 3000, seed: 42 },
  );
  const value = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.integer(),
      fc.double(),
      fc.string(),
      fc.constant(null),
      fc.boolean(),
      fc.uint8Array({ maxLength: 70 }),
      fc.array(tie('v'), { maxLength: 8 }),
    ),
  })).v;
  fc.assert(
    fc.property(fc.array(value, { maxLength: 8 }), fc.constantFrom(1, 2), (arr, tag) => {
      try {
        decodeMessage(raw.pack([tag, ...arr]));
      } catch (e) {
        assert.ok(isBad(e), String(e));
      }
    }),
    { numRuns: 2000, seed: 7 },
  );
});

test('sign-bytes bind chain id, type, height, round and value; signatures verify with node:crypto', () => {
  const base = { type: 'prevote' as const, height: 7, round: 2, blockHash: A.blockHash };
  const sb = voteSignBytes(chainId, base);
  const variants = [
    voteSignBytes('other', base),
    voteSignBytes(chainId, { ...base, type: 'precommit' }),
    voteSignBytes(chainId, { ...base, height: 8 }),
    voteSignBytes(chainId, { ...base, round: 3 }),
    voteSignBytes(chainId, { ...base, blockHash: null }),
    proposalSignBytes(chainId, { height: 7, round: 2, polRound: -1, blockHash: A.blockHash }),
  ];
  for (const v of variants) assert.notDeepEqual(v, sb);
  assert.deepEqual(voteSignBytes(chainId, base), sb, 'canonical');
  const kp = generateKeyPair(new Uint8Array(32).fill(3));
  const sig = sign(sb, kp.secretKey);
  assert.equal(verify(sb, sig, kp.publicKey), true);
  assert.equal(verify(variants[0]!, sig, kp.publicKey), false);
  const flipped = new Uint8Array(sig);
  flipped[5]! ^= 1;
  assert.equal(verify(sb, flipped, kp.publicKey), false);
  assert.equal(verify(sb, sig.subarray(0, 63), kp.publicKey), false);
  assert.equal(verify(sb, sig, new Uint8Array(32)), false, 'junk key is false, not a throw');
});

test('mis-signed votes are detected', () => {
  const v = vote(1);
  assert.equal(verifyVoteSignature(v, set, chainId), true);
  assert.equal(verifyVoteSignature({ ...v, validatorIndex: 2 }, set, chainId), false);
  assert.equal(verifyVoteSignature({ ...v, round: 3 }, set, chainId), false);
  assert.equal(verifyVoteSignature(v, set, 'x'), false);
  assert.equal(verifyVoteSignature({ ...v, validatorIndex: 99 }, set, chainId), false);
});

function commitOf(indices: number[], over: Partial<Commit> = {}): Commit {
  const signatures = [0, 1, 2, 3].map((i) => (indices.includes(i) ? vote(i).signature : null));
  return { height: 7, round: 2, blockHash: A.blockHash, signatures, ...over };
}

test('verifyCommit: >2/3 valid precommits pass; too few, bad or misplaced signatures fail', () => {
  assert.equal(verifyCommit(commitOf([0, 1, 2]), set, chainId), 3n);
  assert.equal(verifyCommit(commitOf([0, 1, 2, 3]), set, chainId), 4n);
  const bad = (c: Commit): void => assert.throws(() => verifyCommit(c, set, chainId), (e: unknown) => isPocError(e, 'BAD_COMMIT'));
  bad(commitOf([0, 1]));
  bad(commitOf([0, 1, 2], { height: 8 }));
  bad(commitOf([0, 1, 2], { round: 1 }));
  bad(commitOf([0, 1, 2], { blockHash: makeBlock(7, 2, 0, 2).blockHash }));
  const c = commitOf([0, 1, 2]);
  bad({ ...c, signatures: [c.signatures[1]!, c.signatures[0]!, c.signatures[2]!, null] });
  bad({ ...c, signatures: c.signatures.slice(0, 3) });
  bad({ ...c, signatures: [...c.signatures, null] });
  // Prevotes are not precommits.
  bad({ ...c, signatures: [...[0, 1, 2].map((i): Uint8Array | null => vote(i, { type: 'prevote' }).signature), null] });
  assert.throws(() => verifyCommit(commitOf([0, 1, 2]), set, 'other-chain'), (e: unknown) => isPocError(e, 'BAD_COMMIT'));
});

test('commit codec round-trips; commitRandomness is deterministic and depends on the signers', () => {
  const c = commitOf([0, 1, 2]);
  const d = decodeCommit(encodeCommit(c));
  assert.deepEqual(d, c);
  assert.deepEqual(commitRandomness(d), commitRandomness(c));
  assert.equal(commitRandomness(c).length, 32);
  assert.notDeepEqual(commitRandomness(commitOf([0, 1, 3])), commitRandomness(c));
  assert.notDeepEqual(commitRandomness(commitOf([0, 1, 2, 3])), commitRandomness(c));
  assert.throws(() => decodeCommit(raw.pack([7, 2, Buffer.from(A.blockHash), []])), isBad);
  assert.throws(() => decodeCommit(raw.pack([7, 2, Buffer.from(A.blockHash), [Buffer.alloc(10)]])), isBad);
});

test('evidence: conflicting votes verify; non-conflicting, mismatched or forged do not', () => {
  const a = vote(1);
  const b = vote(1, { blockHash: null });
  const ev = normalizeEvidence(a, b);
  verifyEvidence(ev, set, chainId);
  verifyEvidence(decodeEvidence(encodeEvidence(ev)), set, chainId);
  assert.deepEqual(normalizeEvidence(b, a), ev);
  const bad = (x: Vote, y: Vote): void => assert.throws(() => verifyEvidence({ voteA: x, voteB: y }, set, chainId), (e: unknown) => isPocError(e, 'BAD_EVIDENCE'));
  bad(a, a);
  bad(a, vote(2, { blockHash: null }));
  bad(a, vote(1, { round: 3, blockHash: null }));
  bad(a, vote(1, { type: 'prevote', blockHash: null }));
  bad(a, { ...b, signature: new Uint8Array(64) });
});
