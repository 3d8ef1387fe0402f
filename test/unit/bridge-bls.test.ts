/**
 * BLS codecs for aggregate checkpoints (no L1): keys with proof of possession, the EIP-2537
 * encodings, the set in the contract's order, the hand-over digest, and the submission builder's
 * refusals (too little power, a bad signature in the aggregate, duplicate keys, bad PoP).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getBytes, hexlify, keccak256 } from 'ethers';
import { blsAggregate, blsKeyFromSecret, blsKeyFromSeed, blsSign, blsVerify, blsVerifyAggregate, g1ToEip2537, g2ToEip2537, verifyPop } from '../../lib/bls.ts';
import { aggregateForSubmission, blsValidatorSetDigest, buildBlsSet, signerBitmap } from '../../bridge/checkpoint-bls.ts';
import { isPocError } from '../../lib/errors.ts';

const seed = (s: string) => getBytes(keccak256(new TextEncoder().encode(s)));
const code = (c: string) => (e: unknown) => isPocError(e, c);
const domain = { l1ChainId: 31337n, checkpoints: '0x' + '12'.repeat(20), sidechainChainId: 7777n };

test('keys: deterministic from a seed, rebuilt from the secret, proof of possession checked', () => {
  const a = blsKeyFromSeed(seed('a'));
  assert.equal(a.publicKey.length, 48);
  assert.equal(a.pop.length, 96);
  assert.deepEqual(blsKeyFromSeed(seed('a')), a);
  assert.deepEqual(blsKeyFromSecret(a.secretKey), a);
  verifyPop(a.publicKey, a.pop);
  const b = blsKeyFromSeed(seed('b'));
  assert.throws(() => verifyPop(a.publicKey, b.pop), code('BLS_BAD_POP'));
  // a PoP is not a signature of any checkpoint digest: it signs a tagged sha256 of the key
  assert.equal(blsVerify(a.publicKey, getBytes(keccak256(a.publicKey)), a.pop), false);
  assert.throws(() => blsKeyFromSeed(new Uint8Array(31)), code('BLS_BAD_KEY'));
  assert.throws(() => verifyPop(new Uint8Array(48), a.pop), code('BLS_BAD_KEY'));
});

test('signatures: verify, aggregate, and EIP-2537 encodings of the right size', () => {
  const keys = ['x', 'y', 'z'].map((s) => blsKeyFromSeed(seed(s)));
  const d = getBytes(keccak256('0x01'));
  const sigs = keys.map((k) => blsSign(k.secretKey, d));
  assert.ok(blsVerify(keys[0]!.publicKey, d, sigs[0]!));
  assert.equal(blsVerify(keys[1]!.publicKey, d, sigs[0]!), false);
  const agg = blsAggregate(sigs);
  assert.ok(blsVerifyAggregate(keys.map((k) => k.publicKey), d, agg));
  assert.equal(blsVerifyAggregate(keys.slice(0, 2).map((k) => k.publicKey), d, agg), false, 'a missing signer');
  assert.equal(blsVerifyAggregate([], d, agg), false);
  assert.equal(blsVerify(keys[0]!.publicKey, d, new Uint8Array(96)), false, 'malformed signature is false, not a throw');
  const g1 = g1ToEip2537(keys[0]!.publicKey);
  const g2 = g2ToEip2537(agg);
  assert.equal(g1.length, 128);
  assert.equal(g2.length, 256);
  for (const [p, n] of [[g1, 2], [g2, 4]] as const) for (let i = 0; i < n; i++) assert.deepEqual(p.subarray(i * 64, i * 64 + 16), new Uint8Array(16), 'each field element is padded with 16 zero bytes');
});

test('set: contract order, refusals; hand-over digest binds set id, keys and powers', () => {
  const keys = Array.from({ length: 5 }, (_, i) => blsKeyFromSeed(seed(`set-${i}`)));
  const members = keys.map((k, i) => ({ publicKey: k.publicKey, pop: k.pop, power: BigInt(i + 1) }));
  const set = buildBlsSet(members);
  const hashes = set.members.map((m) => keccak256(g1ToEip2537(m.publicKey)));
  assert.deepEqual(hashes, [...hashes].sort(), 'ascending by keccak256 of the EIP-2537 key');
  assert.equal(set.totalPower, 15n);
  assert.equal(getBytes(set.publicKeys).length, 5 * 128);
  assert.deepEqual(buildBlsSet([...members].reverse()), set, 'input order does not matter');
  assert.throws(() => buildBlsSet([]), code('BLS_SET_INVALID'));
  assert.throws(() => buildBlsSet([members[0]!, members[0]!]), code('BLS_SET_INVALID'));
  assert.throws(() => buildBlsSet([{ ...members[0]!, power: 0n }]), code('BLS_SET_INVALID'));
  assert.throws(() => buildBlsSet([{ ...members[0]!, pop: members[1]!.pop }]), code('BLS_BAD_POP'));

  const d1 = blsValidatorSetDigest(domain, 1n, set);
  assert.notEqual(blsValidatorSetDigest(domain, 2n, set), d1);
  assert.notEqual(blsValidatorSetDigest(domain, 1n, { ...set, powers: set.powers.map((p) => p + 1n) }), d1);
  assert.notEqual(blsValidatorSetDigest(domain, 1n, buildBlsSet(members.slice(1))), d1);
  assert.notEqual(blsValidatorSetDigest({ ...domain, sidechainChainId: 1n }, 1n, set), d1);

  assert.equal(signerBitmap([0, 2, 255]), 1n | 4n | (1n << 255n));
  assert.throws(() => signerBitmap([256]), code('BLS_SET_INVALID'));
});

test('submission: quorum by power, every valid signature in, a bad one caught before sending', () => {
  const keys = Array.from({ length: 4 }, (_, i) => blsKeyFromSeed(seed(`sub-${i}`)));
  const set = buildBlsSet(keys.map((k) => ({ publicKey: k.publicKey, pop: k.pop, power: 1n })));
  const keyAt = set.members.map((m) => keys.find((k) => hexlify(k.publicKey) === hexlify(m.publicKey))!);
  const digest = keccak256('0x42');
  const sig = (i: number) => blsSign(keyAt[i]!.secretKey, getBytes(digest));
  const s = aggregateForSubmission(set, digest, new Map([[3, sig(3)], [0, sig(0)], [2, sig(2)]]));
  assert.equal(s.signers, 0b1101n);
  assert.equal(s.signedPower, 3n);
  assert.equal(getBytes(s.signature).length, 256);
  assert.throws(() => aggregateForSubmission(set, digest, new Map([[0, sig(0)], [1, sig(1)]])), code('BLS_NO_QUORUM'), 'exactly 2/3 is not enough');
  assert.throws(() => aggregateForSubmission(set, digest, new Map([[0, sig(0)], [1, sig(1)], [2, sig(3)]])), code('BLS_AGGREGATE_INVALID'));
  // positions outside the set are ignored, not counted
  assert.throws(() => aggregateForSubmission(set, digest, new Map([[0, sig(0)], [1, sig(1)], [9, sig(2)]])), code('BLS_NO_QUORUM'));
});
