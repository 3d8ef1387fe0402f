import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex } from '@ethereumjs/util';
import { closesEpoch, epochOf, ValidatorSets, type SetMember } from '../../consensus/validator-sets.ts';
import { absentees, decodeActiveSet, initializeCall, POWER_UNIT, stakingParams, VALIDATORS_ADDRESS } from '../../consensus/validator-steps.ts';
import { testKeys } from '../../consensus/bft/testkit.ts';
import { Interface } from 'ethers';
import { isPocError } from '../../lib/errors.ts';
import type { Genesis } from '../../chain/genesis.ts';
import { VALIDATORS_CONTRACT } from '../../chain/devgenesis.ts';

const keys = testKeys(6, 'epochs');
const genesisValidators = keys.slice(0, 3).map((k, i) => ({ pubKey: bytesToHex(k.publicKey), address: '0x' + String(i + 1).repeat(40), power: 10 }));
const member = (i: number, power: bigint): SetMember => ({ pubKey: keys[i]!.publicKey, power, operator: '0x' + String(i + 1).repeat(40) });

test('epochs: epoch e covers heights (e·L, (e+1)·L]; block e·L closes epoch e − 1', () => {
  const table: [number, number | null, number, boolean][] = [
    // height, L, epoch, closes
    [1, 10, 0, false],
    [9, 10, 0, false],
    [10, 10, 0, true],
    [11, 10, 1, false],
    [20, 10, 1, true],
    [21, 10, 2, false],
    [1_000_000, null, 0, false],
  ];
  for (const [h, L, e, c] of table) {
    assert.equal(epochOf(h, L), e, `epochOf(${h}, ${L})`);
    assert.equal(closesEpoch(h, L), c, `closesEpoch(${h}, ${L})`);
  }
  assert.equal(closesEpoch(0, 10), false);
});

test('ValidatorSets: genesis set for epoch 0; later epochs read once from their boundary block, and only then', async () => {
  const reads: number[] = [];
  const stored = new Map<number, SetMember[]>([
    [10, [member(0, 10n), member(3, 25n)]],
    [20, [member(3, 25n), member(4, 5n), member(5, 5n)]],
  ]);
  const sets = new ValidatorSets({ genesis: genesisValidators, epochLength: 10, keep: 1 });
  assert.equal(sets.membershipAt(7)!.size, 3);
  assert.equal(sets.membershipAt(11), undefined, 'epoch 1 is not known before its boundary block is read');
  await assert.rejects(sets.load(11), (e: unknown) => isPocError(e) && e.code === 'VALIDATOR_SET_UNKNOWN');
  sets.attach(async (b) => {
    reads.push(b);
    const m = stored.get(b);
    if (!m) throw new Error('no such block');
    return m;
  });
  assert.equal(await sets.afterCommit(9), undefined, 'block 9 closes nothing');
  const e1 = await sets.afterCommit(10);
  assert.equal(e1?.epoch, 1);
  assert.equal(e1?.firstHeight, 11);
  assert.deepEqual(reads, [10]);
  // membership of epoch 1: ordered by power, then address, like every set
  assert.equal(sets.membershipAt(15)!.size, 2);
  assert.equal(sets.membershipAt(15)!.powerOf(0), 25n);
  assert.equal(sets.membershipAt(15)!.indexOf(keys[3]!.publicKey), 0);
  // proposer priorities restart with the epoch: height 11 is the fresh set's first height
  assert.equal(sets.setAt(11)!.proposerIndex, sets.membershipAt(11)!.proposerIndex);
  assert.equal(sets.setAt(12)!.proposerIndex, sets.membershipAt(11)!.nextHeight().proposerIndex);
  // concurrent loads share one read
  const [a, b] = await Promise.all([sets.load(25), sets.load(30)]);
  assert.equal(a, b);
  assert.deepEqual(reads, [10, 20]);
  // keep = 1: epoch 1 was evicted from memory, and is read again when asked for
  assert.equal(sets.membershipAt(15), undefined);
  assert.equal((await sets.membership(15)).size, 2);
  assert.deepEqual(reads, [10, 20, 10]);
  // genesis never leaves memory
  assert.equal(sets.membershipAt(1)!.size, 3);
  // an empty stored set is an error, not a set
  stored.set(30, []);
  await assert.rejects(sets.load(31), (e: unknown) => isPocError(e) && e.code === 'VALIDATOR_SET_UNKNOWN');
});

test('a static chain (no epoch length) keeps the genesis set at every height', async () => {
  const sets = new ValidatorSets({ genesis: genesisValidators, epochLength: null });
  assert.equal(await sets.afterCommit(100), undefined);
  assert.equal(sets.membershipAt(10 ** 9)!.size, 3);
  assert.equal(sets.maxSize(200), 3);
});

test('absentees: keys of the set whose precommit the commit lacks', () => {
  const sets = new ValidatorSets({ genesis: genesisValidators, epochLength: null });
  const set = sets.membershipAt(1)!;
  const sig = new Uint8Array(64);
  assert.deepEqual(absentees([sig, sig, sig], set), []);
  assert.deepEqual(absentees([sig, null, sig], set), [set.pubKeyOf(1)]);
  assert.deepEqual(absentees([sig], set), [set.pubKeyOf(1), set.pubKeyOf(2)], 'a short signature list misses the rest');
});

const withValidators = (params: Genesis['params'] = {}): Genesis => ({ chainId: 1, alloc: { [VALIDATORS_ADDRESS]: { code: '0x6000' } }, validators: genesisValidators, params });

test('stakingParams: null without the contract; defaults; bounds refused with STAKING_BAD_PARAMS', () => {
  assert.equal(stakingParams({ chainId: 1, alloc: {}, validators: genesisValidators }), null);
  const p = stakingParams(withValidators({ epochLength: 20 }))!;
  assert.equal(p.epochLength, 20n);
  assert.equal(p.minStake, POWER_UNIT);
  assert.equal(p.maxValidators, 100);
  const bad: Genesis['params'][] = [
    { epochLength: 0 },
    { epochLength: 2.5 },
    { staking: { maxValidators: 0 } },
    { staking: { maxValidators: 201 } },
    { staking: { slashBps: 10_001 } },
    { staking: { downtimeBps: -1 } },
    { staking: { minStake: '1000' } },
    { staking: { minStake: 'ten' } },
    { staking: { maxValidators: 2 } }, // fewer than the 3 genesis validators
  ];
  for (const params of bad) assert.throws(() => stakingParams(withValidators(params)), (e: unknown) => isPocError(e) && e.code === 'STAKING_BAD_PARAMS', JSON.stringify(params));
});

test('initialize calldata: genesis validators own power × 1 coin each; activeSet decodes back to members', () => {
  const g = withValidators({ epochLength: 10, staking: { slashBps: 1000 } });
  const { data, stake } = initializeCall(g, stakingParams(g)!);
  assert.equal(stake, 30n * POWER_UNIT);
  const iface = new Interface(['function initialize((uint64,uint32,uint256,uint64,uint32,uint64,uint32) p,(bytes32,address,address,bytes,bytes,uint256)[] vs)', 'function activeSet() view returns (bytes32[] keys, uint256[] powers, address[] operators, bytes[] blsPubKeys)']);
  const [p, vs] = iface.decodeFunctionData('initialize', data) as any;
  assert.equal(p[0], 10n);
  assert.equal(VALIDATORS_CONTRACT, VALIDATORS_ADDRESS, 'the dev genesis puts the contract where the node calls it');
  assert.equal(p[4], 1000n);
  assert.equal(vs.length, 3);
  assert.equal(vs[0][0], genesisValidators[0]!.pubKey);
  assert.equal(vs[0][1].toLowerCase(), genesisValidators[0]!.address, 'owner = operator for genesis validators');
  assert.equal(vs[0][5], 10n * POWER_UNIT);
  const bls = '0x' + 'ab'.repeat(48);
  const ret = iface.encodeFunctionResult('activeSet', [[genesisValidators[1]!.pubKey], [7n], [genesisValidators[1]!.address], [bls]]);
  const m = decodeActiveSet(Buffer.from(ret.slice(2), 'hex'));
  assert.equal(m.length, 1);
  assert.equal(m[0]!.power, 7n);
  assert.equal(bytesToHex(m[0]!.blsPubKey!), bls);
  // a zero BLS key (genesis without BLS keys) is no key
  const zero = iface.encodeFunctionResult('activeSet', [[genesisValidators[1]!.pubKey], [7n], [genesisValidators[1]!.address], ['0x' + '00'.repeat(48)]]);
  assert.equal(decodeActiveSet(Buffer.from(zero.slice(2), 'hex'))[0]!.blsPubKey, undefined);
});
