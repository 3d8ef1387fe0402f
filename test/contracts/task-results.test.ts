/**
 * contracts/l1/TaskResults.sol and TaskResultConsumer.sol on a real anvil. The "sidechain" is the
 * same anvil: the Hub's runtime code is placed at 0x…1001 (as in genesis), tasks are written into
 * its storage at the slots bridge/task-proof.ts computes (the real Hub code reads them back, which
 * checks the layout), blocks' real state roots are checkpointed in a real Checkpoints contract, and
 * the proofs are anvil's own eth_getProof answers — a secure MPT built by another implementation.
 * The caller passes the checkpoint's roots (TaskResults checks them with isCheckpoint): forged roots
 * are refused, and the same verifier code works over CheckpointsBls.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Contract, getBytes, Interface, keccak256, toBeHex, toUtf8Bytes, zeroPadValue, type SigningKey } from 'ethers';
import { blsKeyFromSeed, blsSign } from '../../lib/bls.ts';
import { aggregateForSubmission, buildBlsSet } from '../../bridge/checkpoint-bls.ts';
import { loadArtifact } from '../../contracts/artifacts.ts';
import { checkpointDigest, selectQuorum, type Checkpoint, type CheckpointDomain, type ValidatorSet } from '../../bridge/checkpoint.ts';
import { HUB_TASKS_SLOT, TASK_RESULT_WORD, TASK_STATUS_WORD, taskSlots } from '../../bridge/task-proof.ts';
import { HUB_ADDRESS, TaskStatus } from '../../consensus/poc/index.ts';
import { checkpointScheme, l1CheckpointAt, latestL1Height } from '../../bridge/l1-checkpoints.ts';
import { deploy, deployCheckpoints, expectRevert, signAll, SIDECHAIN_CHAIN_ID, startL1, validatorKeys, type L1 } from './bridge-fixture.ts';

let l1: L1;
let keys: SigningKey[];
let cps: Contract;
let domain: CheckpointDomain;
let set: ValidatorSet;
let verifier: Contract;
let consumer: Contract;
const hub = new Interface(loadArtifact('Hub').abi);
const word = (v: bigint | number | string) => zeroPadValue(toBeHex(BigInt(v)), 32);
const digest = (s: string) => keccak256(toUtf8Bytes(s));

/** Write task `id` into the Hub's storage (status word: status in the low byte, job 0 above it). */
async function writeTask(id: bigint, status: number, result: string): Promise<void> {
  const s = taskSlots(id);
  await l1.provider.send('anvil_setStorageAt', [HUB_ADDRESS, s.status, word(status)]);
  await l1.provider.send('anvil_setStorageAt', [HUB_ADDRESS, s.result, result]);
}

/** Checkpoints accepted on L1, by height (the roots a prover passes in calldata). */
const accepted = new Map<number, Checkpoint>();
const tuple = (cp: Checkpoint) => [cp.height, cp.blockHash, cp.stateRoot, cp.withdrawalsRoot];
/** The roots of the checkpoint at `height` (made-up ones for a height L1 never accepted). */
const cpAt = (height: number): Checkpoint => accepted.get(height) ?? { height: BigInt(height), blockHash: digest(`b${height}`), stateRoot: digest(`s${height}`), withdrawalsRoot: digest('w') };

/** Mine a block and checkpoint it on L1 with its real state root; returns its height. */
async function checkpointHead(): Promise<number> {
  await l1.provider.send('evm_mine', []);
  const b = await l1.provider.send('eth_getBlockByNumber', ['latest', false]);
  const cp: Checkpoint = { height: BigInt(b.number), blockHash: b.hash, stateRoot: b.stateRoot, withdrawalsRoot: digest('w') };
  const { packed } = selectQuorum(checkpointDigest(domain, cp), signAll(keys, domain, cp), set);
  await (await cps.getFunction('submitCheckpoint').send(tuple(cp), packed)).wait();
  accepted.set(Number(cp.height), cp);
  return Number(cp.height);
}

interface Proof {
  accountProof: string[];
  statusProof: string[];
  resultProof: string[];
}

async function proofOf(id: bigint, height: number): Promise<Proof> {
  const s = taskSlots(id);
  const p = await l1.provider.send('eth_getProof', [HUB_ADDRESS, [s.status, s.result], toBeHex(height)]);
  return { accountProof: p.accountProof, statusProof: p.storageProof[0].proof, resultProof: p.storageProof[1].proof };
}

const call = (id: bigint, result: string, height: number | Checkpoint, p: Proof) => [id, result, tuple(typeof height === 'number' ? cpAt(height) : height), p.accountProof, p.statusProof, p.resultProof];

let oldHeight: number;
let height: number;
let p1: Proof;
const R1 = digest('result of task 1');
const R2 = digest('result of task 2');
const R3 = digest('result of task 3');

before(async () => {
  l1 = await startL1();
  keys = validatorKeys(4);
  ({ checkpoints: cps, domain, set } = await deployCheckpoints(l1, keys, [1n, 1n, 1n, 1n]));
  await l1.provider.send('anvil_setCode', [HUB_ADDRESS, loadArtifact('Hub').deployedBytecode]);
  await writeTask(1n, TaskStatus.Revealing, R1); // revealed, not final yet
  oldHeight = await checkpointHead();
  await writeTask(1n, TaskStatus.Completed, R1);
  await writeTask(2n, TaskStatus.Revealing, R2);
  await writeTask(3n, TaskStatus.Completed, R3);
  height = await checkpointHead();
  p1 = await proofOf(1n, height);
  verifier = await deploy('TaskResults', l1.signers[0]!, await cps.getAddress(), HUB_ADDRESS);
  const c = await deploy('TaskResultConsumer', l1.signers[0]!, await verifier.getAddress());
  // the consumer bubbles up the verifier's errors: decode both
  const errors = loadArtifact('TaskResults').abi.filter((x: any) => x.type === 'error');
  consumer = new Contract(await c.getAddress(), [...loadArtifact('TaskResultConsumer').abi, ...errors], l1.signers[0]!);
});

after(async () => {
  await l1?.stop();
});

test('the slots bridge/task-proof.ts computes are the ones the Hub code and TaskResults use', async () => {
  for (const [id, status, result] of [[1n, TaskStatus.Completed, R1], [2n, TaskStatus.Revealing, R2]] as const) {
    const t = hub.decodeFunctionResult('getTask', await l1.provider.call({ to: HUB_ADDRESS, data: hub.encodeFunctionData('getTask', [id]) }))[0];
    assert.equal(Number(t.status), status);
    assert.equal(t.result, result);
    const s = taskSlots(id);
    assert.deepEqual([...(await verifier.getFunction('taskSlots')(id))], [s.status, s.result]);
  }
  assert.equal(await verifier.getFunction('TASKS_SLOT')(), HUB_TASKS_SLOT);
  assert.equal(await verifier.getFunction('STATUS_WORD')(), TASK_STATUS_WORD);
  assert.equal(await verifier.getFunction('RESULT_WORD')(), TASK_RESULT_WORD);
});

test('a valid proof is accepted; the consumer records it once', async () => {
  assert.equal(await verifier.getFunction('verify')(...call(1n, R1, height, p1)), true);
  assert.equal(await verifier.getFunction('resultOf')(1n, tuple(cpAt(height)), p1.accountProof, p1.statusProof, p1.resultProof), R1);
  const p3 = await proofOf(3n, height);
  assert.equal(await verifier.getFunction('verify')(...call(3n, R3, height, p3)), true);
  const rc: any = await (await consumer.getFunction('accept').send(...call(1n, R1, height, p1))).wait();
  const ev = rc!.logs.map((l: any) => consumer.interface.parseLog(l)).find((e: any) => e?.name === 'ResultAccepted')!;
  assert.deepEqual([ev.args.taskId, ev.args.digest, ev.args.checkpointHeight], [1n, R1, BigInt(height)]);
  assert.equal(await consumer.getFunction('resultOf')(1n), R1);
  const [id, known] = await expectRevert(consumer, 'accept', call(1n, R1, height, p1), 'AlreadyAccepted');
  assert.deepEqual([id, known], [1n, R1]);
});

test('a proof against another checkpoint\'s root is refused', async () => {
  await expectRevert(verifier, 'verify', call(1n, R1, oldHeight, p1), 'BadAccountProof');
  // the older checkpoint's own proof shows the task was not final there
  const old = await proofOf(1n, oldHeight);
  const [id, status] = await expectRevert(verifier, 'verify', call(1n, R1, oldHeight, old), 'TaskNotCompleted');
  assert.deepEqual([id, status], [1n, BigInt(TaskStatus.Revealing)]);
  const [h] = await expectRevert(verifier, 'verify', call(1n, R1, height + 100, p1), 'UnknownCheckpoint');
  assert.equal(h, BigInt(height + 100));
});

test('a prover finds the roots of an L1 checkpoint in its CheckpointAccepted event (what task prove and bridge release pass)', async () => {
  const at = await cps.getAddress();
  assert.equal(await checkpointScheme(l1.provider, at), 'ecdsa');
  assert.equal(await latestL1Height(l1.provider, at), height);
  assert.deepEqual(await l1CheckpointAt(l1.provider, at, height), cpAt(height));
  assert.deepEqual(await l1CheckpointAt(l1.provider, at, oldHeight), cpAt(oldHeight));
  assert.equal(await l1CheckpointAt(l1.provider, at, height + 1), null);
  assert.equal(await l1CheckpointAt(l1.provider, at, 0), null);
});

test('roots L1 did not accept at that height are refused before any proof step', async () => {
  const cp = cpAt(height);
  const old = cpAt(oldHeight);
  // the proofs are built for the forged state root, so only isCheckpoint can refuse them
  for (const forged of [{ ...cp, stateRoot: old.stateRoot }, { ...cp, blockHash: old.blockHash }, { ...cp, withdrawalsRoot: digest('other') }, { ...old, height: cp.height }]) {
    const [h] = await expectRevert(verifier, 'verify', call(1n, R1, forged, await proofOf(1n, oldHeight)), 'UnknownCheckpoint');
    assert.equal(h, cp.height);
  }
});

test('the same verifier over CheckpointsBls: proven against an aggregate-signed checkpoint', async () => {
  const blsKeys = Array.from({ length: 4 }, (_, i) => blsKeyFromSeed(getBytes(digest(`task-results-bls-${i}`))));
  const bset = buildBlsSet(blsKeys.map((k) => ({ publicKey: k.publicKey, pop: k.pop, power: 1n })));
  const bcps = await deploy('CheckpointsBls', l1.signers[0]!, SIDECHAIN_CHAIN_ID, bset.publicKeys, bset.powers);
  const bdomain: CheckpointDomain = { l1ChainId: BigInt(l1.anvil.chainId), checkpoints: await bcps.getAddress(), sidechainChainId: SIDECHAIN_CHAIN_ID };
  const cp = cpAt(height);
  const d = checkpointDigest(bdomain, cp);
  const keyAt = bset.members.map((m) => blsKeys.find((k) => Buffer.compare(Buffer.from(k.publicKey), Buffer.from(m.publicKey)) === 0)!);
  const agg = aggregateForSubmission(bset, d, new Map([0, 1, 2].map((i) => [i, blsSign(keyAt[i]!.secretKey, getBytes(d))] as const)));
  await (await bcps.getFunction('submitCheckpoint').send(tuple(cp), agg.signers, agg.signature)).wait();
  assert.equal(await checkpointScheme(l1.provider, await bcps.getAddress()), 'bls');
  assert.deepEqual(await l1CheckpointAt(l1.provider, await bcps.getAddress(), height), cp, 'the roots from the BLS contract\'s event');
  assert.equal(await l1CheckpointAt(l1.provider, await bcps.getAddress(), oldHeight), null);
  const v = await deploy('TaskResults', l1.signers[0]!, await bcps.getAddress(), HUB_ADDRESS);
  assert.equal(await v.getFunction('verify')(...call(1n, R1, height, p1)), true);
  await expectRevert(v, 'verify', call(1n, R1, { ...cp, stateRoot: cpAt(oldHeight).stateRoot }, await proofOf(1n, oldHeight)), 'UnknownCheckpoint');
  await expectRevert(v, 'verify', call(1n, R1, oldHeight, p1), 'UnknownCheckpoint'); // not checkpointed on this contract
});

test('a proof for another task is refused', async () => {
  const [slot] = await expectRevert(verifier, 'verify', call(3n, R1, height, p1), 'BadStorageProof');
  assert.equal(slot, taskSlots(3n).status);
  await expectRevert(consumer, 'accept', call(3n, R1, height, p1), 'BadStorageProof');
});

test('a forged value, a task not final and tampered nodes are refused', async () => {
  const [id, proven, claimed] = await expectRevert(verifier, 'verify', call(1n, R3, height, p1), 'ResultMismatch');
  assert.deepEqual([id, proven, claimed], [1n, R1, R3]);
  await expectRevert(consumer, 'accept', call(3n, R1, height, await proofOf(3n, height)), 'ResultMismatch');
  const [id2, st] = await expectRevert(verifier, 'verify', call(2n, R2, height, await proofOf(2n, height)), 'TaskNotCompleted');
  assert.deepEqual([id2, st], [2n, BigInt(TaskStatus.Revealing)]);
  // flip one byte of the result leaf: its hash no longer matches its parent
  const leaf = p1.resultProof.at(-1)!;
  const forged = leaf.slice(0, -2) + (leaf.endsWith('00') ? '01' : '00');
  await expectRevert(verifier, 'verify', call(1n, R1, height, { ...p1, resultProof: [...p1.resultProof.slice(0, -1), forged] }), 'BadStorageProof');
  await expectRevert(verifier, 'verify', call(1n, R1, height, { ...p1, accountProof: p1.accountProof.slice(0, -1) }), 'BadAccountProof');
  const [nodes] = await expectRevert(verifier, 'verify', call(1n, R1, height, { ...p1, statusProof: Array(66).fill(p1.statusProof[0]) }), 'ProofTooLarge');
  assert.equal(nodes, 66n);
  await expectRevert(verifier, 'verify', call(1n, R1, height, { ...p1, accountProof: ['0x' + 'aa'.repeat(601)] }), 'ProofTooLarge');
});
