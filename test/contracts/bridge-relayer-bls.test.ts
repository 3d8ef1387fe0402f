/**
 * The relayer against a real CheckpointsBls on anvil (EIP-2537), fed by two fake sidechain sources
 * serving what BLS nodes serve (signer = compressed BLS key, its position, 96-byte signature): a
 * checkpoint of the set L1 holds lands as one aggregate; hand-overs land in order before a
 * checkpoint of the new set, signatures merged across sources; a wrong signature from one source
 * is dropped before aggregation (a valid one for the same signer from the other source is used,
 * and the aggregate of the rest still lands); what is left after dropping it must still be more
 * than 2/3; a source serving a set its digest does not cover is refused.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { getBytes, hexlify, keccak256, toUtf8Bytes, type Contract } from 'ethers';
import { Relayer } from '../../bridge/relayer.ts';
import type { CheckpointView, HandoverView } from '../../bridge/checkpoint-signer.ts';
import { checkpointDigest, type Checkpoint, type CheckpointDomain } from '../../bridge/checkpoint.ts';
import { blsValidatorSetDigest, buildBlsSet, type BlsSet } from '../../bridge/checkpoint-bls.ts';
import { blsKeyFromSeed, blsSign, type BlsKey } from '../../lib/bls.ts';
import { deploy, sampleCheckpoint, SIDECHAIN_CHAIN_ID, startL1, type L1, fakeSource, type FakeSource } from './bridge-fixture.ts';


const keysFor = (n: number, seed: string): BlsKey[] => Array.from({ length: n }, (_, i) => blsKeyFromSeed(getBytes(keccak256(toUtf8Bytes(`${seed}-${i}`)))));
const A = keysFor(4, 'relayer-bls-genesis');
const B = keysFor(2, 'relayer-bls-joiner');
const setOf = (members: [BlsKey, bigint][]): BlsSet => buildBlsSet(members.map(([k, power]) => ({ publicKey: k.publicKey, pop: k.pop, power })));
const set0 = setOf(A.map((k) => [k, 1n]));
// set 1: the genesis four and B0 (power 2); set 2: A0, A1 and B0
const set1 = setOf([...A.map((k): [BlsKey, bigint] => [k, 1n]), [B[0]!, 2n]]);
const set2 = setOf([[A[0]!, 1n], [A[1]!, 1n], [B[0]!, 2n]]);

let l1: L1;
let c: Contract;
let domain: CheckpointDomain;
let a: FakeSource;
let b: FakeSource;
let relayer: Relayer;

before(async () => {
  l1 = await startL1();
  c = await deploy('CheckpointsBls', l1.signers[0]!, SIDECHAIN_CHAIN_ID, set0.publicKeys, set0.powers);
  domain = { l1ChainId: BigInt(l1.anvil.chainId), checkpoints: await c.getAddress(), sidechainChainId: SIDECHAIN_CHAIN_ID };
  [a, b] = await Promise.all([fakeSource(), fakeSource()]);
  relayer = new Relayer({ sources: [a.url, b.url], l1: l1.provider, signer: l1.signers[1]!, checkpoints: await c.getAddress(), sidechainChainId: SIDECHAIN_CHAIN_ID });
});
after(async () => {
  for (const s of [a, b]) await new Promise((r) => s?.server.close(r));
  await l1?.stop();
});

/** A served signature as a BLS node serves it (`wrong`: a signature of other contents by the same key). */
function served(k: BlsKey, digest: string, set: BlsSet, wrong = false) {
  const signer = hexlify(k.publicKey);
  const position = set.members.findIndex((m) => hexlify(m.publicKey) === signer);
  const msg = wrong ? keccak256(toUtf8Bytes(`not ${digest}`)) : digest;
  return { signer, position, signature: hexlify(blsSign(k.secretKey, getBytes(msg))) };
}

function cpView(cp: Checkpoint, setId: number, set: BlsSet, signers: BlsKey[], wrong: BlsKey[] = []): CheckpointView {
  const digest = checkpointDigest(domain, cp);
  const str = { height: Number(cp.height), blockHash: cp.blockHash, stateRoot: cp.stateRoot, withdrawalsRoot: cp.withdrawalsRoot };
  const signatures = [...signers.map((k) => served(k, digest, set)), ...wrong.map((k) => served(k, digest, set, true))];
  return { checkpoint: str, digest, signatures, signedPower: '0', totalPower: '0', quorum: true, setId, scheme: 'bls' };
}

function hoView(setId: number, to: BlsSet, from: BlsSet, boundary: number, signers: BlsKey[], wrong: BlsKey[] = []): HandoverView {
  const digest = blsValidatorSetDigest(domain, BigInt(setId), to);
  const signatures = [...signers.map((k) => served(k, digest, from)), ...wrong.map((k) => served(k, digest, from, true))];
  return { setId, boundary, validators: to.members.map((m) => hexlify(m.publicKey)), powers: to.powers.map(String), publicKeys: to.publicKeys, digest, signatures, signedPower: '0', totalPower: '0', quorum: true, scheme: 'bls' };
}

async function l1State() {
  const [keys, powers] = (await c.getFunction('validators')()) as [string, bigint[]];
  return { setId: Number(await c.getFunction('validatorSetId')()), height: Number(await c.getFunction('latestHeight')()), keys, powers: [...powers] };
}

test('a checkpoint of the set L1 holds lands as one aggregate; a bad signature is dropped before aggregating', async () => {
  // A3 serves a signature of other contents: dropped; A0..A2 are 3 of 4
  a.latest = cpView(sampleCheckpoint(10n), 0, set0, [A[0]!, A[1]!], [A[3]!]);
  b.latest = cpView(sampleCheckpoint(10n), 0, set0, [A[2]!]);
  const out = await relayer.runOnce();
  assert.equal(out.kind, 'submitted');
  assert.ok(out.kind === 'submitted' && out.signers === 3 && out.handovers.length === 0);
  const ev = (await c.queryFilter(c.filters.CheckpointAccepted!(), 0, 'latest')).map((e: any) => [Number(e.args.height), e.args.signedPower]);
  assert.deepEqual(ev, [[10, 3n]]);
  assert.equal(await c.getFunction('isCheckpoint')(10n, a.latest.checkpoint.blockHash, a.latest.checkpoint.stateRoot, a.latest.checkpoint.withdrawalsRoot), true);
});

test('what is left after dropping bad signatures must be more than 2/3; the same signer valid on another source is used', async () => {
  b.latest = null;
  a.latest = cpView(sampleCheckpoint(20n), 0, set0, [A[0]!, A[1]!], [A[2]!]);
  const short = await relayer.runOnce();
  assert.equal(short.kind, 'no-quorum', 'A2 signed other contents: 2 of 4 left');
  assert.equal((await l1State()).height, 10);
  b.latest = cpView(sampleCheckpoint(20n), 0, set0, [A[2]!]);
  const out = await relayer.runOnce();
  assert.ok(out.kind === 'submitted' && out.height === 20 && out.signers === 3);
});

test('hand-overs land in order before a checkpoint of the new set, then only the new set signs', async () => {
  b.latest = null;
  // hand-over 1 by 3 of the 4 genesis keys (two sources; one of A1's is bad, the other good);
  // hand-over 2 by set 1 members holding 4 of 6 (exactly 2/3: held back)
  a.handovers.set(1, hoView(1, set1, set0, 16, [A[0]!], [A[1]!]));
  b.handovers.set(1, hoView(1, set1, set0, 16, [A[1]!, A[3]!]));
  a.handovers.set(2, hoView(2, set2, set1, 24, [B[0]!]));
  b.handovers.set(2, hoView(2, set2, set1, 24, [A[2]!, A[3]!]));
  a.latest = cpView(sampleCheckpoint(30n), 2, set2, [A[0]!, B[0]!]);
  let out = await relayer.runOnce();
  assert.ok(out.kind === 'handover-pending' && out.setId === 2 && out.reason === 'no-quorum', JSON.stringify(out, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
  assert.deepEqual(out.handovers.map((h) => [h.setId, h.signers]), [[1, 3]]);
  let s = await l1State();
  assert.deepEqual([s.setId, s.height, s.keys, s.powers], [1, 20, set1.publicKeys, set1.powers], 'hand-over 1 landed, the checkpoint waits');

  b.handovers.set(2, hoView(2, set2, set1, 24, [A[1]!, A[2]!, A[3]!]));
  out = await relayer.runOnce();
  assert.equal(out.kind, 'submitted');
  assert.deepEqual(out.kind === 'submitted' && out.handovers.map((h) => h.setId), [2]);
  s = await l1State();
  assert.deepEqual([s.setId, s.height, s.keys, s.powers], [2, 30, set2.publicKeys, set2.powers]);
  const ids = (await c.queryFilter(c.filters.ValidatorSetUpdated!(), 0, 'latest')).map((e: any) => Number(e.args.setId));
  assert.deepEqual(ids, [0, 1, 2], 'each hand-over once, in order');

  // set 2 is A0, A1 (1 each) and B0 (2): the old set's A2 + A3 count for nothing now
  a.latest = cpView(sampleCheckpoint(40n), 2, set2, [A[1]!, A[2]!, A[3]!]);
  assert.equal((await relayer.runOnce()).kind, 'no-quorum');
  a.latest = cpView(sampleCheckpoint(40n), 2, set2, [A[1]!, B[0]!]);
  out = await relayer.runOnce();
  assert.ok(out.kind === 'submitted' && out.height === 40 && out.signers === 2);
});

test('a source serving a set its digest does not cover is refused', async () => {
  const set3 = setOf([[A[0]!, 1n], [B[0]!, 2n], [B[1]!, 2n]]);
  const lie = hoView(3, set3, set2, 48, [A[0]!, A[1]!, B[0]!]);
  a.handovers.set(3, { ...lie, powers: ['1', '2', '9'] });
  a.latest = cpView(sampleCheckpoint(50n), 3, set3, [B[0]!, B[1]!]);
  await assert.rejects(relayer.runOnce(), /RELAYER_DIGEST_MISMATCH|another L1 deployment or set/);
  a.handovers.set(3, lie);
  const out = await relayer.runOnce();
  assert.equal(out.kind, 'submitted');
  const s = await l1State();
  assert.deepEqual([s.setId, s.height, s.keys], [3, 50, set3.publicKeys]);
});
