import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPocError } from '../../lib/errors.ts';
import {
  ASK_UNIT, DEFAULT_CAPACITY, DEFAULT_OFFER, LOCK_PER_TASK, MAX_ASK, MAX_CAPACITY, MIN_REWARD_PER_REPLICA, MarketModel, checkOffer, offerRefuses, quote,
  resultHash, resultSeal, rewardPerReplica, type MarketEntry,
} from '../../consensus/poc/index.ts';
import { parseAsks } from '../../bin/commands/poc.ts';
import { parsePoolFee } from '../../bin/commands/pools.ts';

const milli = 10n ** 15n;
const E = (n: number) => '0x' + n.toString(16).padStart(40, '0');

test('checkOffer refuses what Hub.setOffer refuses, capacity first', () => {
  const asks = [0n, milli, 2n * milli, MAX_ASK];
  checkOffer(asks, 1);
  checkOffer(asks, MAX_CAPACITY);
  for (const cap of [0, MAX_CAPACITY + 1, 1.5]) assert.throws(() => checkOffer([ASK_UNIT + 1n, 0n, 0n, 0n], cap), (e: unknown) => isPocError(e, 'InvalidCapacity'));
  assert.throws(() => checkOffer([0n, ASK_UNIT + 1n, 0n, 0n], 3), (e: unknown) => isPocError(e, 'InvalidAsk') && (e.data as { category: number }).category === 1);
  assert.throws(() => checkOffer([0n, 0n, 0n, MAX_ASK + ASK_UNIT], 3), (e: unknown) => isPocError(e, 'InvalidAsk'));
  assert.throws(() => checkOffer([0n, 0n, 0n], 3), (e: unknown) => isPocError(e, 'InvalidAsk'));
});

test('a candidate is refused at capacity (open assignments = lock / LOCK_PER_TASK), then for its ask', () => {
  const o = { asks: [0n, 3n * milli, 0n, 0n], capacity: 2, declared: true };
  assert.equal(offerRefuses(o, 0n, 1, 3n * milli), null, 'an ask equal to the reward fits');
  assert.equal(offerRefuses(o, 0n, 1, 3n * milli - 1n), 'ask');
  assert.equal(offerRefuses(o, 0n, 0, 0n), null, 'other categories are free');
  assert.equal(offerRefuses(o, LOCK_PER_TASK, 1, 3n * milli), null);
  assert.equal(offerRefuses(o, 2n * LOCK_PER_TASK, 1, 3n * milli), 'capacity');
  assert.equal(offerRefuses(o, 2n * LOCK_PER_TASK, 1, 0n), 'capacity', 'capacity is checked first');
  assert.equal(offerRefuses(DEFAULT_OFFER, BigInt(DEFAULT_CAPACITY - 1) * LOCK_PER_TASK, 3, 0n), null);
  assert.equal(offerRefuses(DEFAULT_OFFER, BigInt(DEFAULT_CAPACITY) * LOCK_PER_TASK, 3, 0n), 'capacity');
  assert.equal(rewardPerReplica(10n * milli + 7n, 1n * milli, 3), 3n * milli + 2n);
});

test('quote: who fits a reward per replica now, and the least reward at which k executors fit', () => {
  const entry = (n: number, ask: bigint, capacity: number, open: number, freeSlots = 20): MarketEntry =>
    ({ executor: E(n), offer: { asks: [ask, 0n, 0n, 0n], capacity, declared: true }, locked: BigInt(open) * LOCK_PER_TASK, free: BigInt(freeSlots) * LOCK_PER_TASK });
  const market = [
    entry(1, 0n, 4, 1), // 3 slots
    entry(2, 2n * milli, 2, 0), // 2 slots
    entry(3, 5n * milli, 8, 0), // 8 slots
    entry(4, milli, 3, 3), // at capacity
    entry(5, 0n, 8, 0, 1), // 1 slot: short of free stake
    entry(6, 0n, 8, 0, 0), // no free stake
  ];
  const q = quote(market, 0, 2n * milli, 3);
  assert.deepEqual({ ...q }, { category: 0, perReplica: 2n * milli, fitting: 3, slots: 3 + 2 + 1, pricedOut: 1, outsidePool: 0, busy: 2, rewardFor: 2n * milli });
  // restricted to pool 7: only its members count (executors 2 and 3 joined it)
  const pooled = market.map((e) => (e.executor === E(2) || e.executor === E(3) ? { ...e, pool: 7n } : e));
  const p = quote(pooled, 0, 2n * milli, 2, 7n);
  assert.deepEqual([p.fitting, p.pricedOut, p.outsidePool, p.busy, p.rewardFor], [1, 1, 2, 2, 5n * milli]);
  assert.equal(offerRefuses(market[0]!.offer, 0n, 0, 0n, 7n, 0n), 'pool');
  assert.equal(offerRefuses(market[0]!.offer, 0n, 0, 0n, 7n, 7n), null);
  // the 2nd lowest ask among those with room is 0: the Hub's minimum applies
  assert.equal(quote(market, 0, 0n, 2).rewardFor, MIN_REWARD_PER_REPLICA);
  assert.equal(quote(market, 0, 0n, 4).rewardFor, 5n * milli);
  assert.equal(quote(market, 0, 0n, 5).rewardFor, null, 'only four have room at any price');
  assert.equal(quote(market, 1, 0n, 1).fitting, 4, 'asks are per category');
});

test('the model draws only executors whose offer fits, and frees a slot when the task settles', () => {
  const m = new MarketModel();
  const [owner, req, a, b] = [E(90), E(91), E(1), E(2)];
  m.registerApp(owner, '0x' + 'aa'.repeat(32), 0n, 0);
  for (const e of [a, b]) m.staking.stakeExecutor(e, 2n * 10n ** 18n);
  m.setOffer(a, [2n * milli, 0n, 0n, 0n], 1);
  m.setOffer(b, [5n * milli, 0n, 0n, 0n], 1);
  const refused: string[] = [];
  m.onRefused = (e, id, why) => refused.push(`${id} ${e === a ? 'a' : 'b'} ${why}`);
  const req1 = { app: '0x' + 'aa'.repeat(32), trust: 1n, minReplicas: 1, maxReplicas: 1, maxPrice: 0n, value: 3n * milli };
  const t1 = m.requestTask(1n, req, req1);
  const t2 = m.requestTask(1n, req, req1);
  const ev = m.schedule(2n, 1n);
  assert.deepEqual(ev.map((x) => [x.taskId, x.executor]), [[t1, a]]);
  assert.deepEqual(refused, [`${t1} b ask`, `${t2} a capacity`, `${t2} b ask`]);
  const d = '0x' + '11'.repeat(32);
  m.contribute(3n, a, t1, resultHash(t1, d), resultSeal(a, t1, d));
  assert.deepEqual(m.schedule(4n, 2n), [], 'a contribution does not free the slot: the assignment is open until settled');
  m.reveal(5n, a, t1, d);
  const paid = m.finalize(6n).filter((x) => x.kind === 'paid').map((x) => x.amount);
  assert.deepEqual(paid, [3n * milli], 'the winner takes the reward, at least its ask');
  assert.deepEqual(m.schedule(7n, 3n).map((x) => [x.taskId, x.executor]), [[t2, a]], 'settled: the slot is free again');
  assert.throws(() => m.setOffer(a, [0n, 0n, 0n, 0n], 0), (e: unknown) => isPocError(e, 'InvalidCapacity'));
});

test('--ask: COINS for every category, CAT:COINS for one, later values win, repeatable or comma-separated', () => {
  assert.deepEqual(parseAsks([]), [null, null, null, null]);
  assert.deepEqual(parseAsks(['0.001']), [milli, milli, milli, milli]);
  assert.deepEqual(parseAsks(['1:0.002']), [null, 2n * milli, null, null]);
  assert.deepEqual(parseAsks(['0.001', '3:0.01,1:0']), [milli, 0n, milli, 10n * milli]);
  for (const bad of ['4:0.1', 'x', '-1', '0.0000000000000000001', '1:', ':0.1', '0.0000000001']) {
    assert.throws(() => parseAsks([bad]), (e: unknown) => isPocError(e), bad);
  }
  assert.throws(() => parseAsks(['0.0000000001']), (e: unknown) => isPocError(e, 'CLI_BAD_ASK'), 'not a multiple of 1 gwei');
});

test('private pools in the model: the owner lists, the executor accepts, pool tasks go to members only and pay the owner its fee', () => {
  const m = new MarketModel();
  const [owner, req, a, b, po] = [E(90), E(91), E(1), E(2), E(93)];
  const app = '0x' + 'aa'.repeat(32);
  m.registerApp(owner, app, milli, 0);
  for (const e of [a, b]) m.staking.stakeExecutor(e, 2n * 10n ** 18n);
  assert.throws(() => m.createPool(po, 2001), (e: unknown) => isPocError(e, 'InvalidPoolFee'));
  const pool = m.createPool(po, 1000); // 10%
  assert.throws(() => m.joinPool(a, pool), (e: unknown) => isPocError(e, 'NotInvited'), 'an executor must be listed first');
  assert.throws(() => m.setPoolMember(req, pool, a, true), (e: unknown) => isPocError(e, 'NotPoolOwner'));
  m.setPoolMember(po, pool, a, true);
  m.setPoolMember(po, pool, b, true); // listed, never joins
  m.joinPool(a, pool);
  assert.throws(() => m.joinPool(b, pool + 1n), (e: unknown) => isPocError(e, 'UnknownPool'));
  const r = { app, trust: 1n, minReplicas: 1, maxReplicas: 2, maxPrice: milli, value: 21n * milli };
  assert.throws(() => m.requestTasks(1n, req, { ...r, value: 3n * milli }, [1], pool), (e: unknown) => isPocError(e, 'InsufficientPayment'), 'the pool fee comes on top of the minimum reward');
  const id = m.requestTasks(1n, req, r, [1], pool);
  assert.equal(m.tasks.get(id)!.poolFee, 2n * milli, '10% of 21 − 1');
  const refused: string[] = [];
  m.onRefused = (e, _id, why) => refused.push(`${e === a ? 'a' : 'b'} ${why}`);
  assert.deepEqual(m.schedule(2n, 5n).map((x) => x.executor), [a], 'members only');
  assert.deepEqual(refused, ['b pool']);
  const d = '0x' + '22'.repeat(32);
  m.contribute(3n, a, id, resultHash(id, d), resultSeal(a, id, d));
  m.reveal(4n, a, id, d);
  const paid = m.finalize(5n).filter((x) => x.kind === 'paid').map((x) => [x.executor, x.amount, x.payKind]);
  assert.deepEqual(paid, [[a, 18n * milli, 0], [owner, milli, 1], [po, 2n * milli, 3]]);
  // delisting a member removes it
  m.setPoolMember(po, pool, a, false);
  assert.equal(m.poolOf(a), 0n);
});

test('--fee of a pool: percent with two decimals, at most the Hub\'s 20%', () => {
  assert.equal(parsePoolFee('5'), 500);
  assert.equal(parsePoolFee('2.5'), 250);
  assert.equal(parsePoolFee('0'), 0);
  assert.equal(parsePoolFee('20'), 2000);
  for (const bad of ['20.01', '-1', 'x', '1.234', '']) assert.throws(() => parsePoolFee(bad), (e: unknown) => isPocError(e, 'CLI_BAD_POOL_FEE'), bad);
});
