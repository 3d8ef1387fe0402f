/**
 * Which validator set signs which checkpoint, hand-over ids as the chain determines them, the
 * relayer's hand-over order, and the hand-over gossip message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet, getAddress, hexlify } from 'ethers';
import { HandoverLog, handoversBefore, l1Set, sameL1Set, type OperatorMember } from '../../bridge/handover.ts';
import { decodeCheckpointMessage, decodeHandoverMessage, encodeCheckpointMessage, encodeHandoverMessage } from '../../bridge/checkpoint-signer.ts';
import { compareAddresses, selectQuorum, signValidatorSet, validatorSetDigest } from '../../bridge/checkpoint.ts';

const ops = Array.from({ length: 5 }, () => Wallet.createRandom());
const m = (i: number, power: bigint): OperatorMember => ({ operator: ops[i]!.address, power });
const L = 10;

/** sets by epoch: 0 and 1 equal (1 lists them in another order, one operator split in two members); 2 adds op4; 3 equal to 2; 4 drops op2 */
const epochs: OperatorMember[][] = [
  [m(0, 10n), m(1, 10n), m(2, 10n), m(3, 10n)],
  [m(3, 10n), m(2, 10n), m(1, 4n), m(1, 6n), m(0, 10n)],
  [m(0, 10n), m(1, 10n), m(2, 10n), m(3, 10n), m(4, 20n)],
  [m(4, 20n), m(3, 10n), m(2, 10n), m(1, 10n), m(0, 10n)],
  [m(0, 10n), m(1, 10n), m(3, 10n), m(4, 20n)],
];
const epochOf = (h: number) => Math.floor((h - 1) / L);

function reader(): { read: (h: number) => Promise<OperatorMember[]>; reads: number[] } {
  const reads: number[] = [];
  return {
    reads,
    read: async (h: number) => {
      reads.push(h);
      await new Promise((r) => setImmediate(r));
      return epochs[Math.min(epochOf(h), epochs.length - 1)]!;
    },
  };
}

test('l1Set sums members sharing an operator; sameL1Set ignores order', () => {
  const a = l1Set(epochs[0]!);
  const b = l1Set(epochs[1]!);
  assert.equal(b.get(getAddress(ops[1]!.address)), 10n);
  assert.ok(sameL1Set(a, b));
  assert.ok(!sameL1Set(a, l1Set(epochs[2]!)));
  assert.ok(!sameL1Set(a, l1Set([m(0, 10n), m(1, 10n), m(2, 10n), m(3, 11n)])), 'a power change is a change');
});

test('hand-overs: one per boundary whose next set differs, ids in order, sets sorted as L1 wants them', async () => {
  const r = reader();
  const log = new HandoverLog(r.read, L);
  await log.walkTo(55);
  const all = log.all();
  assert.deepEqual(all.map((h) => [h.boundary, Number(h.to.setId)]), [[20, 1], [40, 2]], 'no hand-over at 10 (same set), at 30 (same set) or 50 (epoch 5 = epoch 4)');
  const sortedOps = (idx: number[]) => idx.map((i) => getAddress(ops[i]!.address)).sort(compareAddresses);
  assert.deepEqual(all[0]!.to.validators, sortedOps([0, 1, 2, 3, 4]));
  assert.deepEqual(all[0]!.to.powers, all[0]!.to.validators.map((a) => (a === getAddress(ops[4]!.address) ? 20n : 10n)));
  assert.ok(sameL1Set(all[0]!.from, l1Set(epochs[1]!)), 'the outgoing set signs hand-over 1');
  assert.deepEqual(all[1]!.to.validators, sortedOps([0, 1, 3, 4]));
  assert.ok(sameL1Set(all[1]!.from, l1Set(epochs[2]!)), 'set 1 signs hand-over 2');
  assert.equal(log.byId(2), all[1]);
  assert.equal(log.byId(3), undefined);
  assert.equal(log.byId(0), undefined);
  assert.equal(log.atBoundary(20), all[0]);
  assert.equal(log.atBoundary(30), undefined);
  // one read per epoch, once: walking again reads nothing
  const n = r.reads.length;
  assert.deepEqual(r.reads, [1, 11, 21, 31, 41, 51]);
  await log.walkTo(55);
  assert.equal(r.reads.length, n);
});

test('the set of height h signs the checkpoint of h: a boundary checkpoint is the outgoing set’s', async () => {
  const log = new HandoverLog(reader().read, L);
  await log.walkTo(60);
  const want: [number, number][] = [[1, 0], [10, 0], [20, 0], [21, 1], [30, 1], [40, 1], [41, 2], [60, 2], [61, 2]];
  for (const [h, id] of want) assert.equal(log.setIdAt(h), id, `height ${h}`);
  const short = new HandoverLog(reader().read, L);
  await short.walkTo(25);
  assert.equal(short.setIdAt(30), 1);
  assert.throws(() => short.setIdAt(31), /walked to 20/, 'a height whose boundaries were not walked is refused, not guessed');
});

test('concurrent walks do not repeat a hand-over', async () => {
  const log = new HandoverLog(reader().read, L);
  await Promise.all([log.walkTo(30), log.walkTo(55), log.walkTo(42), log.walkTo(55)]);
  assert.deepEqual(log.all().map((h) => h.boundary), [20, 40]);
});

test('a fixed set: no hand-over, every height signed by set 0, nothing read', async () => {
  const r = reader();
  const log = new HandoverLog(r.read, null);
  await log.walkTo(1000);
  assert.deepEqual(log.all(), []);
  assert.equal(log.setIdAt(1000), 0);
  assert.deepEqual(r.reads, []);
});

test('relayer order: pending hand-overs in increasing id before the checkpoint; a checkpoint of an older set is stale', () => {
  assert.deepEqual(handoversBefore(0, 0), []);
  assert.deepEqual(handoversBefore(0, 2), [1, 2]);
  assert.deepEqual(handoversBefore(1, 3), [2, 3]);
  assert.deepEqual(handoversBefore(3, 3), []);
  assert.equal(handoversBefore(2, 1), 'stale');
});

test('hand-over signatures of the outgoing set reach the quorum L1 checks; the incoming set’s do not count', async () => {
  const log = new HandoverLog(reader().read, L);
  await log.walkTo(20);
  const h = log.byId(1)!;
  const d = { l1ChainId: 31337n, checkpoints: '0x' + '11'.repeat(20), sidechainChainId: 31338n };
  const digest = validatorSetDigest(d, h.to);
  const l1 = { validators: [...h.from.keys()], powers: [...h.from.values()] };
  const sig = (i: number) => signValidatorSet(ops[i]!.privateKey, d, h.to);
  assert.throws(() => selectQuorum(digest, [sig(0), sig(1), sig(4)], l1), /CHECKPOINT_NO_QUORUM|more than 2\/3/, 'op4 is not in the outgoing set');
  assert.equal(selectQuorum(digest, [sig(0), sig(1), sig(2)], l1).signers.length, 3);
});

test('hand-over gossip message round-trips; malformed ones and the other kind are refused', () => {
  const sig = hexlify(new Uint8Array(65).fill(7));
  assert.deepEqual(decodeHandoverMessage(encodeHandoverMessage(40, 2, sig, 99)), { boundary: 40, setId: 2, signature: sig });
  assert.throws(() => decodeHandoverMessage(encodeHandoverMessage(0, 2, sig, 1)));
  assert.throws(() => decodeHandoverMessage(encodeHandoverMessage(40, 0, sig, 1)));
  assert.throws(() => decodeHandoverMessage(encodeHandoverMessage(40, 2, hexlify(new Uint8Array(64)), 1)));
  assert.throws(() => decodeCheckpointMessage(encodeHandoverMessage(40, 2, sig, 1)));
  const cp = { height: 40n, blockHash: '0x' + 'aa'.repeat(32), stateRoot: '0x' + 'bb'.repeat(32), withdrawalsRoot: '0x' + 'cc'.repeat(32) };
  assert.throws(() => decodeHandoverMessage(encodeCheckpointMessage(cp, sig, 1)));
});
