/**
 * CheckpointsBls on anvil (EIP-2537 precompiles): one aggregate BLS signature + signer bitmap per
 * checkpoint. Accepted: a valid aggregate of >2/3 of the power (also with a 200-validator set stored
 * in two data contracts). Refused: a bitmap that does not match the signers, a signature over other
 * contents or malformed, too little power, out-of-range bits, a replayed height; the hand-over
 * signed by the outgoing set, after which only the new set signs, and it cannot be replayed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getBytes, hexlify, keccak256, randomBytes, type Contract } from 'ethers';
import { blsKeyFromSeed, blsSign, blsVerify, g1ToEip2537, g2ToEip2537, type BlsKey } from '../../lib/bls.ts';
import { aggregateForSubmission, blsValidatorSetDigest, buildBlsSet, signerBitmap, type BlsSet } from '../../bridge/checkpoint-bls.ts';
import { checkpointDigest, type Checkpoint, type CheckpointDomain } from '../../bridge/checkpoint.ts';
import { isPocError } from '../../lib/errors.ts';
import { deploy, expectRevert, sampleCheckpoint, SIDECHAIN_CHAIN_ID, startL1, type L1 } from './bridge-fixture.ts';

const tuple = (cp: Checkpoint) => [cp.height, cp.blockHash, cp.stateRoot, cp.withdrawalsRoot];
const keysFor = (n: number, seed: string): BlsKey[] => Array.from({ length: n }, (_, i) => blsKeyFromSeed(getBytes(keccak256(new TextEncoder().encode(`${seed}-${i}`)))));

/** The set in the contract's order, and each position's key. */
function setOf(keys: BlsKey[], powers?: bigint[]): { set: BlsSet; keyAt: BlsKey[] } {
  const set = buildBlsSet(keys.map((k, i) => ({ publicKey: k.publicKey, pop: k.pop, power: powers?.[i] ?? 1n })));
  const keyAt = set.members.map((m) => keys.find((k) => hexlify(k.publicKey) === hexlify(m.publicKey))!);
  return { set, keyAt };
}

async function deployBls(l1: L1, set: BlsSet): Promise<{ c: Contract; domain: CheckpointDomain }> {
  const c = await deploy('CheckpointsBls', l1.signers[0]!, SIDECHAIN_CHAIN_ID, set.publicKeys, set.powers);
  return { c, domain: { l1ChainId: BigInt(l1.anvil.chainId), checkpoints: await c.getAddress(), sidechainChainId: SIDECHAIN_CHAIN_ID } };
}

/** Signatures of `digest` by the keys at `positions`. */
const sign = (keyAt: BlsKey[], positions: number[], digest: string) => new Map(positions.map((i) => [i, blsSign(keyAt[i]!.secretKey, getBytes(digest))]));

test('BLS codec: keys and signatures in EIP-2537 encoding verify on chain; hash-to-curve matches blst', { timeout: 60_000 }, async () => {
  const l1 = await startL1();
  try {
    const h = await deploy('BlsHarness', l1.signers[0]!);
    const [k] = keysFor(1, 'codec');
    const msg = keccak256('0x1234');
    const sig = blsSign(k!.secretKey, getBytes(msg));
    assert.ok(blsVerify(k!.publicKey, getBytes(msg), sig));
    assert.equal(await h.getFunction('verify')(g1ToEip2537(k!.publicKey), msg, g2ToEip2537(sig)), true);
    assert.equal(await h.getFunction('verify')(g1ToEip2537(k!.publicKey), keccak256('0x1235'), g2ToEip2537(sig)), false);
    assert.equal(await h.getFunction('verify')(g1ToEip2537(k!.publicKey), msg, randomBytes(256)), false, 'a point off the curve is refused');
  } finally {
    await l1.stop();
  }
});

test('CheckpointsBls: aggregate accepted; wrong bitmap, signature, power, range and replays refused', { timeout: 120_000 }, async () => {
  const l1 = await startL1();
  try {
    const { set, keyAt } = setOf(keysFor(4, 'cp'));
    const { c, domain } = await deployBls(l1, set);
    assert.equal(await c.getFunction('validatorCount')(), 4n);
    const stored = await c.getFunction('validators')();
    assert.equal(stored[0], set.publicKeys);
    assert.deepEqual([...stored[1]], set.powers);

    const cp1 = sampleCheckpoint(10n);
    const d1 = checkpointDigest(domain, cp1);
    assert.equal(await c.getFunction('checkpointDigest')(tuple(cp1)), d1);
    const three = aggregateForSubmission(set, d1, sign(keyAt, [0, 1, 3], d1));
    assert.equal(three.signers, 0b1011n);

    // wrong bitmaps: another 3 validators, or one extra non-signer, for the same aggregate
    await expectRevert(c, 'submitCheckpoint', [tuple(cp1), 0b0111n, three.signature], 'InvalidSignature');
    await expectRevert(c, 'submitCheckpoint', [tuple(cp1), 0b1111n, three.signature], 'InvalidSignature');
    await expectRevert(c, 'submitCheckpoint', [tuple(cp1), 0b10000n | three.signers, three.signature], 'SignerOutOfRange');
    // a signature over another checkpoint, a malformed one, a short one
    const other = sampleCheckpoint(11n);
    const dOther = checkpointDigest(domain, other);
    const wrong = aggregateForSubmission(set, dOther, sign(keyAt, [0, 1, 3], dOther));
    await expectRevert(c, 'submitCheckpoint', [tuple(cp1), wrong.signers, wrong.signature], 'InvalidSignature');
    await expectRevert(c, 'submitCheckpoint', [tuple(cp1), three.signers, hexlify(randomBytes(256))], 'InvalidSignature');
    await expectRevert(c, 'submitCheckpoint', [tuple(cp1), three.signers, hexlify(randomBytes(96))], 'BadSignatureLength');
    // 2 of 4 is not more than 2/3 (checked before any pairing), nor is an empty bitmap
    const two = sign(keyAt, [0, 1], d1);
    assert.throws(() => aggregateForSubmission(set, d1, two), (e: unknown) => isPocError(e, 'BLS_NO_QUORUM'));
    const twoAgg = aggregateForSubmission({ ...set, totalPower: 2n }, d1, two); // the contract must refuse what TS would not send
    assert.deepEqual(await expectRevert(c, 'submitCheckpoint', [tuple(cp1), twoAgg.signers, twoAgg.signature], 'InsufficientPower'), [2n, 4n]);
    await expectRevert(c, 'submitCheckpoint', [tuple(cp1), 0n, three.signature], 'InsufficientPower');

    // accepted: one hash stored
    const rc = await (await c.getFunction('submitCheckpoint')(tuple(cp1), three.signers, three.signature)).wait();
    assert.equal(rc.status, 1);
    const ev = c.interface.parseLog(rc.logs[0])!;
    assert.equal(ev.name, 'CheckpointAccepted');
    assert.equal(ev.args.signedPower, 3n);
    assert.equal(await c.getFunction('latestHeight')(), 10n);
    assert.equal(await c.getFunction('isCheckpoint')(...tuple(cp1)), true);
    assert.equal(await c.getFunction('isCheckpoint')(10n, cp1.blockHash, cp1.stateRoot, keccak256('0x00')), false);
    assert.equal(await c.getFunction('isCheckpoint')(...tuple(sampleCheckpoint(9n))), false);

    // replays: the same checkpoint, and an older height with a valid aggregate
    await expectRevert(c, 'submitCheckpoint', [tuple(cp1), three.signers, three.signature], 'HeightNotIncreasing');
    const cp0 = sampleCheckpoint(5n);
    const d0 = checkpointDigest(domain, cp0);
    const old = aggregateForSubmission(set, d0, sign(keyAt, [0, 1, 2, 3], d0));
    await expectRevert(c, 'submitCheckpoint', [tuple(cp0), old.signers, old.signature], 'HeightNotIncreasing');

    // all four sign the next one
    const cp2 = sampleCheckpoint(20n);
    const d2 = checkpointDigest(domain, cp2);
    const all = aggregateForSubmission(set, d2, sign(keyAt, [0, 1, 2, 3], d2));
    await (await c.getFunction('submitCheckpoint')(tuple(cp2), all.signers, all.signature)).wait();
    assert.equal(await c.getFunction('latestHeight')(), 20n);
  } finally {
    await l1.stop();
  }
});

test('CheckpointsBls: hand-over signed by the outgoing set; then only the new set signs; no replay', { timeout: 120_000 }, async () => {
  const l1 = await startL1();
  try {
    const { set, keyAt } = setOf(keysFor(4, 'ho-old'));
    const { c, domain } = await deployBls(l1, set);
    const next = setOf(keysFor(5, 'ho-new'), [1n, 2n, 3n, 4n, 5n]);
    const dSet = blsValidatorSetDigest(domain, 1n, next.set);
    assert.equal(await c.getFunction('validatorSetDigest')(1n, next.set.publicKeys, next.set.powers), dSet);
    const byNew = aggregateForSubmission(next.set, dSet, sign(next.keyAt, [0, 1, 2, 3, 4], dSet));
    // the incoming set cannot appoint itself
    await expectRevert(c, 'updateValidatorSet', [next.set.publicKeys, next.set.powers, 0b1111n, byNew.signature], 'InvalidSignature');
    const byOld = aggregateForSubmission(set, dSet, sign(keyAt, [1, 2, 3], dSet));
    const rc = await (await c.getFunction('updateValidatorSet')(next.set.publicKeys, next.set.powers, byOld.signers, byOld.signature)).wait();
    assert.equal(c.interface.parseLog(rc.logs[0])!.name, 'ValidatorSetUpdated');
    assert.equal(await c.getFunction('validatorSetId')(), 1n);
    assert.equal(await c.getFunction('totalPower')(), 15n);
    assert.equal((await c.getFunction('validators')())[0], next.set.publicKeys);
    // replaying the hand-over: its digest names set 1, the contract now expects set 2
    await expectRevert(c, 'updateValidatorSet', [next.set.publicKeys, next.set.powers, byOld.signers, byOld.signature], 'InvalidSignature');

    const cp = sampleCheckpoint(30n);
    const d = checkpointDigest(domain, cp);
    const oldSigs = aggregateForSubmission(set, d, sign(keyAt, [0, 1, 2, 3], d));
    await expectRevert(c, 'submitCheckpoint', [tuple(cp), oldSigs.signers, oldSigs.signature], 'InvalidSignature');
    // powers 1..5 (total 15): 4 + 5 + 2 = 11 > 10 passes; 5 + 4 + 1 = 10 does not
    const posOfPower = (p: bigint) => next.set.powers.indexOf(p);
    const tooFew = [5n, 4n, 1n].map(posOfPower);
    const few = aggregateForSubmission({ ...next.set, totalPower: 10n }, d, sign(next.keyAt, tooFew, d));
    await expectRevert(c, 'submitCheckpoint', [tuple(cp), few.signers, few.signature], 'InsufficientPower');
    const enough = aggregateForSubmission(next.set, d, sign(next.keyAt, [5n, 4n, 2n].map(posOfPower), d));
    await (await c.getFunction('submitCheckpoint')(tuple(cp), enough.signers, enough.signature)).wait();
    assert.equal(await c.getFunction('isCheckpoint')(...tuple(cp)), true);
  } finally {
    await l1.stop();
  }
});

test('CheckpointsBls: set rules (order, zero key, sizes) and a 200-validator set in two data contracts', { timeout: 180_000 }, async () => {
  const l1 = await startL1();
  try {
    const { set } = setOf(keysFor(3, 'rules'));
    const keys = [0, 1, 2].map((i) => set.publicKeys.slice(2 + i * 256, 2 + (i + 1) * 256));
    const swapped = '0x' + keys[1] + keys[0] + keys[2];
    await assert.rejects(deploy('CheckpointsBls', l1.signers[0]!, SIDECHAIN_CHAIN_ID, swapped, [1n, 1n, 1n]), /KeysNotAscending|revert/);
    await assert.rejects(deploy('CheckpointsBls', l1.signers[0]!, SIDECHAIN_CHAIN_ID, '0x' + '00'.repeat(128), [1n]), /ZeroKey|revert/);
    await assert.rejects(deploy('CheckpointsBls', l1.signers[0]!, SIDECHAIN_CHAIN_ID, set.publicKeys, [1n, 1n]), /LengthMismatch|revert/);
    await assert.rejects(deploy('CheckpointsBls', l1.signers[0]!, SIDECHAIN_CHAIN_ID, '0x', []), /EmptyValidatorSet|revert/);
    assert.throws(() => buildBlsSet([{ ...setOf(keysFor(1, 'pop')).set.members[0]!, pop: keysFor(1, 'other')[0]!.pop }]), (e: unknown) => isPocError(e, 'BLS_BAD_POP'));

    const big = setOf(keysFor(200, 'big'));
    const { c, domain } = await deployBls(l1, big.set);
    assert.equal((await c.getFunction('validators')())[0], big.set.publicKeys, 'both data contracts read back');
    const cp = sampleCheckpoint(1n);
    const d = checkpointDigest(domain, cp);
    const last = Array.from({ length: 134 }, (_, i) => 199 - i); // includes positions in both chunks
    const s = aggregateForSubmission(big.set, d, sign(big.keyAt, last, d));
    await (await c.getFunction('submitCheckpoint')(tuple(cp), s.signers, s.signature)).wait();
    assert.equal(await c.getFunction('latestHeight')(), 1n);
    assert.equal(signerBitmap([199]), 1n << 199n);
  } finally {
    await l1.stop();
  }
});
