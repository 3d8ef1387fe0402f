/**
 * The relayer against a real Checkpoints on anvil, fed by two fake sidechain sources (JSON-RPC on
 * 127.0.0.1 serving pocchain_latestCheckpoint / pocchain_checkpoint / pocchain_handover): pending
 * hand-overs land in order before a checkpoint of a newer set, signatures merged across sources;
 * a hand-over without quorum holds everything after it back; a checkpoint of an older set is
 * stale; an unknown hand-over is waited for; a source lying about a set is refused.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Contract, SigningKey } from 'ethers';
import { Relayer } from '../../bridge/relayer.ts';
import type { CheckpointView, HandoverView } from '../../bridge/checkpoint-signer.ts';
import { checkpointDigest, signDigest, sortValidatorSet, validatorSetDigest, type Checkpoint, type CheckpointDomain, type ValidatorSet } from '../../bridge/checkpoint.ts';
import { addressOf, deployCheckpoints, sampleCheckpoint, startL1, validatorKeys, type L1, fakeSource, type FakeSource } from './bridge-fixture.ts';


let l1: L1;
let c: Contract;
let domain: CheckpointDomain;
let a: FakeSource;
let b: FakeSource;
let relayer: Relayer;
const A = validatorKeys(4, 'genesis');
const B = validatorKeys(2, 'joiner');

before(async () => {
  l1 = await startL1();
  ({ checkpoints: c, domain } = await deployCheckpoints(l1, A, [1n, 1n, 1n, 1n]));
  [a, b] = await Promise.all([fakeSource(), fakeSource()]);
  relayer = new Relayer({ sources: [a.url, b.url], l1: l1.provider, signer: l1.signers[1]!, checkpoints: await c.getAddress(), sidechainChainId: domain.sidechainChainId });
});
after(async () => {
  for (const s of [a, b]) await new Promise((r) => s?.server.close(r));
  await l1?.stop();
});

const set = (id: bigint, members: [SigningKey, bigint][]) => sortValidatorSet(id, members.map(([k, p]) => ({ address: addressOf(k), power: p })));
// set 1: the genesis four and B0 (power 2); set 2: A0, A1 and B0 — A2 and A3 left
const set1 = set(1n, [...A.map((k): [SigningKey, bigint] => [k, 1n]), [B[0]!, 2n]]);
const set2 = set(2n, [[A[0]!, 1n], [A[1]!, 1n], [B[0]!, 2n]]);

function cpView(cp: Checkpoint, setId: number, signers: SigningKey[]): CheckpointView {
  const digest = checkpointDigest(domain, cp);
  const str = { height: Number(cp.height), blockHash: cp.blockHash, stateRoot: cp.stateRoot, withdrawalsRoot: cp.withdrawalsRoot };
  return { checkpoint: str, digest, signatures: signers.map((k) => signDigest(k, digest)), signedPower: '0', totalPower: '0', quorum: true, setId };
}

function hoView(to: ValidatorSet, boundary: number, signers: SigningKey[]): HandoverView {
  const digest = validatorSetDigest(domain, to);
  return { setId: Number(to.setId), boundary, validators: to.validators, powers: to.powers.map(String), digest, signatures: signers.map((k) => signDigest(k, digest)), signedPower: '0', totalPower: '0', quorum: true };
}

async function l1State() {
  const [v, p] = (await c.validators()) as [string[], bigint[]];
  return { setId: Number(await c.validatorSetId()), height: Number(await c.latestHeight()), validators: [...v], powers: [...p] };
}

test('a checkpoint of the set L1 holds lands with no hand-over', async () => {
  a.latest = cpView(sampleCheckpoint(10n), 0, A.slice(0, 3));
  const out = await relayer.runOnce();
  assert.equal(out.kind, 'submitted');
  assert.deepEqual(out.kind === 'submitted' && out.handovers, []);
  assert.equal((await l1State()).height, 10);
});

test('hand-overs land in order before a checkpoint of a newer set; one without quorum holds the rest back', async () => {
  // hand-over 1 signed by 3 of the 4 genesis validators (on two sources); hand-over 2 by set 1
  // members holding 3 of 6 — not more than 2/3
  a.handovers.set(1, hoView(set1, 16, [A[0]!, A[1]!]));
  b.handovers.set(1, hoView(set1, 16, [A[3]!]));
  a.handovers.set(2, hoView(set2, 24, [B[0]!]));
  b.handovers.set(2, hoView(set2, 24, [A[2]!]));
  a.latest = cpView(sampleCheckpoint(30n), 2, [A[0]!, B[0]!]);
  let out = await relayer.runOnce();
  assert.equal(out.kind, 'handover-pending');
  assert.ok(out.kind === 'handover-pending' && out.setId === 2 && out.reason === 'no-quorum' && out.handovers.length === 1 && out.handovers[0]!.setId === 1 && out.handovers[0]!.signers === 3);
  let s = await l1State();
  assert.deepEqual([s.setId, s.height, s.validators, s.powers], [1, 10, set1.validators, set1.powers], 'hand-over 1 landed, the checkpoint waits');

  // exactly 2/3 (4 of 6) is not enough either; 5 of 6 is
  b.handovers.set(2, hoView(set2, 24, [A[2]!, A[3]!]));
  out = await relayer.runOnce();
  assert.ok(out.kind === 'handover-pending' && out.setId === 2 && out.reason === 'no-quorum' && out.handovers.length === 0);
  b.handovers.set(2, hoView(set2, 24, [A[1]!, A[2]!, A[3]!]));
  out = await relayer.runOnce();
  assert.equal(out.kind, 'submitted');
  assert.deepEqual(out.kind === 'submitted' && out.handovers.map((h) => h.setId), [2]);
  s = await l1State();
  assert.deepEqual([s.setId, s.height, s.validators, s.powers], [2, 30, set2.validators, set2.powers]);
  const ids = (await c.queryFilter(c.filters.ValidatorSetUpdated!(), 0, 'latest')).map((e: any) => Number(e.args.setId));
  assert.deepEqual(ids, [0, 1, 2], 'each hand-over once, in order');
});

test('a checkpoint of a set older than L1’s is stale; an unknown hand-over is waited for', async () => {
  a.latest = cpView(sampleCheckpoint(40n), 1, A.slice(0, 3));
  const stale = await relayer.runOnce();
  assert.deepEqual(stale, { kind: 'stale-set', height: 40, setId: 1, l1SetId: 2 });
  a.latest = cpView(sampleCheckpoint(50n), 3, [A[0]!, B[0]!]);
  const unknown = await relayer.runOnce();
  assert.equal(unknown.kind, 'handover-pending');
  assert.ok(unknown.kind === 'handover-pending' && unknown.setId === 3 && unknown.reason === 'unknown');
  assert.equal((await l1State()).height, 30, 'nothing landed');
});

test('a source serving a set that its digest does not cover is refused', async () => {
  const set3 = set(3n, [[A[0]!, 1n], [B[0]!, 2n], [B[1]!, 2n]]);
  const lie = hoView(set3, 32, [A[0]!, A[1]!, B[0]!]);
  a.handovers.set(3, { ...lie, powers: ['1', '2', '9'] });
  await assert.rejects(relayer.runOnce(), /RELAYER_DIGEST_MISMATCH|another L1 deployment or set/);
  a.handovers.set(3, lie);
  a.latest = cpView(sampleCheckpoint(50n), 3, [B[0]!, B[1]!]);
  const out = await relayer.runOnce();
  assert.equal(out.kind, 'submitted');
  const s = await l1State();
  assert.deepEqual([s.setId, s.height, s.validators], [3, 50, set3.validators]);
});
