import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssignmentStatus, EXPIRY_PENALTY, LOCK_PER_TASK, MarketModel, PayKind, resultHash, resultSeal, settle, TaskStatus } from '../../consensus/poc/index.ts';

const E = (n: number) => '0x' + n.toString(16).padStart(40, '0');
const C = '0x' + 'cc'.repeat(32);
const W = '0x' + 'ee'.repeat(32);
const base = { escrow: 1000n, appFee: 100n, datasetFee: 30n, poolFee: 0n, appOwner: E(90), datasetOwner: E(91), poolOwner: '', requester: E(92), maxReplicas: 5 };

test('completed: each winner gets the reward per replica, the rest shared by logWeight, dust to the first winner, losers seized into the pool', () => {
  const s = settle(
    { ...base, outcome: 'complete', contributedCount: 4, consensusHash: C },
    [
      { executor: E(1), status: AssignmentStatus.Revealed, resultHash: C, logWeight: 1 },
      { executor: E(2), status: AssignmentStatus.Contributed, resultHash: W, logWeight: 1 }, // loser
      { executor: E(3), status: AssignmentStatus.Revealed, resultHash: C, logWeight: 2 },
      { executor: E(4), status: AssignmentStatus.Contributed, resultHash: C, logWeight: 1 }, // silent
      { executor: E(5), status: AssignmentStatus.Assigned, resultHash: null, logWeight: 0 },
    ],
    (e) => (e === E(2) ? 30n : e === E(4) ? 10n : 5n),
    7n,
  );
  // pool = 1000 - 130 + 7 + 7 = 884; base = 870 / 5 = 174 each; bonus 884 - 2·174 = 536 shared
  // 1:2 → 178 and 357; dust 1 to E(1)
  assert.deepEqual(s.payouts, [
    { to: E(1), amount: 174n + 178n, kind: PayKind.Reward },
    { to: E(3), amount: 174n + 357n, kind: PayKind.Reward },
    { to: E(1), amount: 1n, kind: PayKind.Reward },
    { to: E(90), amount: 100n, kind: PayKind.AppFee },
    { to: E(91), amount: 30n, kind: PayKind.DatasetFee },
  ]);
  assert.deepEqual(s.slashed, [
    { executor: E(2), amount: 7n, newScore: 20n },
    { executor: E(4), amount: 7n, newScore: 6n },
  ]);
  assert.deepEqual(s.released, [E(1), E(3), E(5)]);
  assert.equal(s.scores.has(E(1)), false, 'a share below MIN_REWARD_PER_REPLICA earns no score');
  assert.equal(s.scores.has(E(3)), false);
  assert.equal(s.refund, 0n);
  const total = s.payouts.reduce((a, p) => a + p.amount, 0n);
  assert.equal(total, base.escrow + 14n, 'every wei of escrow and seized stake is paid out');
});

test('score grows only on paid, replicated tasks, never for the requester; expired assignees lose part of their lock', () => {
  const coin = 10n ** 18n;
  const t = { ...base, escrow: coin, appFee: 0n, datasetFee: 0n, outcome: 'complete' as const, contributedCount: 3, consensusHash: C };
  const s = settle(t, [
    { executor: E(1), status: AssignmentStatus.Revealed, resultHash: C, logWeight: 1 },
    { executor: E(92), status: AssignmentStatus.Revealed, resultHash: C, logWeight: 1 }, // the requester
    { executor: E(3), status: AssignmentStatus.Revealed, resultHash: C, logWeight: 1 },
    { executor: E(4), status: AssignmentStatus.Assigned, resultHash: null, logWeight: 0, expired: true },
    { executor: E(5), status: AssignmentStatus.Assigned, resultHash: null, logWeight: 0, expired: false },
  ], () => 30n);
  assert.deepEqual([...s.scores], [[E(4), 20n], [E(1), 31n], [E(3), 31n]]);
  assert.deepEqual(s.slashed, [{ executor: E(4), amount: EXPIRY_PENALTY, newScore: 20n }]);
  assert.deepEqual(s.released, [E(1), E(92), E(3), E(5)]);
  assert.equal(s.payouts.reduce((a, p) => a + p.amount, 0n), coin + EXPIRY_PENALTY, 'the penalty goes to the winners');
  const f = settle({ ...t, outcome: 'fail', consensusHash: null }, [
    { executor: E(4), status: AssignmentStatus.Assigned, resultHash: null, logWeight: 0, expired: true },
  ], () => 0n);
  assert.equal(f.refund, coin + EXPIRY_PENALTY, 'on failure the penalty goes to the requester');
});

test('a light winner next to a heavy one is still paid at least the reward per replica (so at least its ask)', () => {
  const t = { ...base, escrow: 3200n, appFee: 0n, datasetFee: 0n, maxReplicas: 32, outcome: 'complete' as const, contributedCount: 2, consensusHash: C };
  const s = settle(t, [
    { executor: E(1), status: AssignmentStatus.Revealed, resultHash: C, logWeight: 119 },
    { executor: E(2), status: AssignmentStatus.Revealed, resultHash: C, logWeight: 1 },
  ], () => 0n);
  // base 100 each; bonus 3000 shared 119:1 → 2975 and 25; by logWeight alone E(2) would get 26 < 100
  assert.deepEqual(s.payouts.map((p) => [p.to, p.amount]), [[E(1), 3075n], [E(2), 125n]]);
  for (const p of s.payouts) assert.ok(p.amount >= t.escrow / BigInt(t.maxReplicas));
});

test('a single contributor gains no score', () => {
  const s = settle({ ...base, outcome: 'complete', contributedCount: 1, consensusHash: C },
    [{ executor: E(1), status: AssignmentStatus.Revealed, resultHash: C, logWeight: 6 }], () => 400n);
  assert.equal(s.scores.size, 0);
  assert.equal(s.payouts[0]!.amount, 870n);
});

test('failed: escrow refunded, silent consensus members seized into the refund, others released', () => {
  const s = settle({ ...base, outcome: 'fail', contributedCount: 2, consensusHash: C },
    [
      { executor: E(1), status: AssignmentStatus.Contributed, resultHash: C, logWeight: 1 },
      { executor: E(2), status: AssignmentStatus.Contributed, resultHash: W, logWeight: 1 },
    ], () => 9n, 7n);
  assert.equal(s.refund, 1007n);
  assert.deepEqual(s.released, [E(2)]);
  assert.deepEqual(s.payouts, []);
  assert.equal(s.scores.get(E(1)), 6n);
});

test('market model: a trust-100 task among newcomers takes 7 executors, completes and pays', () => {
  const m = new MarketModel();
  const req = E(100);
  for (let i = 1; i <= 10; i++) m.staking.stakeExecutor(E(i), 2n * 10n ** 18n);
  m.registerApp(E(90), '0x' + 'aa'.repeat(32), 10n ** 16n, 0);
  const id = m.requestTask(1n, req, { app: '0x' + 'aa'.repeat(32), trust: 100n, minReplicas: 1, maxReplicas: 16, maxPrice: 10n ** 17n, value: 10n ** 18n });
  const ev = m.schedule(2n, 42n);
  const assigned = ev.filter((e) => e.kind === 'assigned').map((e) => e.executor!);
  assert.equal(assigned.length, 7);
  for (const a of assigned) assert.equal(m.staking.get(a).locked, LOCK_PER_TASK);
  const digest = '0x' + '0d'.repeat(32);
  for (const a of assigned) m.contribute(3n, a, id, resultHash(id, digest), resultSeal(a, id, digest));
  assert.equal(m.tasks.get(id)!.status, TaskStatus.Revealing);
  assert.deepEqual(m.schedule(4n, 43n), [], 'no top-up once consensus is reached');
  for (const a of assigned) m.reveal(4n, a, id, digest);
  const fin = m.finalize(5n);
  assert.equal(fin.at(-1)!.kind, 'finalized');
  assert.equal(m.tasks.get(id)!.status, TaskStatus.Completed);
  for (const a of assigned) {
    assert.equal(m.scoreOf(a), 1n);
    assert.equal(m.staking.get(a).locked, 0n);
  }
  const paid = assigned.reduce((s, a) => s + m.withdrawableOf(a), 0n);
  assert.equal(paid, 10n ** 18n - 10n ** 16n);
  assert.throws(() => m.reveal(5n, assigned[0]!, id, digest), { code: 'TaskNotRevealing' });
});

test('market model: a dissent makes the scheduler top up exactly what the vote needs', () => {
  const m = new MarketModel();
  for (let i = 1; i <= 12; i++) m.staking.stakeExecutor(E(i), 2n * 10n ** 18n);
  m.registerApp(E(90), '0x' + 'aa'.repeat(32), 0n, 0);
  const id = m.requestTask(1n, E(100), { app: '0x' + 'aa'.repeat(32), trust: 100n, minReplicas: 1, maxReplicas: 12, maxPrice: 0n, value: 10n ** 17n });
  const first = m.schedule(2n, 1n).map((e) => e.executor!);
  assert.equal(first.length, 7);
  const good = '0x' + '01'.repeat(32);
  const bad = '0x' + '02'.repeat(32);
  first.forEach((a, i) => {
    const d = i === 0 ? bad : good;
    m.contribute(3n, a, id, resultHash(id, d), resultSeal(a, id, d));
  });
  // groups: 64 (good) and 2 (bad), total 67: good needs P with 64P > 3*99 -> P = 8 -> 3 newcomers
  const more = m.schedule(4n, 2n).map((e) => e.executor!);
  assert.equal(more.length, 3);
  assert.ok(more.every((a) => !first.includes(a)));
});

test('market model: a dataset restricted to its allow list refuses other apps at request time', () => {
  const m = new MarketModel();
  const app = '0x' + 'aa'.repeat(32);
  const other = '0x' + 'ab'.repeat(32);
  const ds = '0x' + 'dd'.repeat(32);
  m.registerApp(E(90), app, 0n, 0);
  m.registerApp(E(90), other, 0n, 0);
  m.registerDataset(E(91), ds, 5n);
  const req = (a: string) => m.requestTask(1n, E(100), { app: a, dataset: ds, trust: 3n, minReplicas: 1, maxReplicas: 2, maxPrice: 5n, value: 10n ** 16n });
  assert.equal(req(other), 1n, 'unrestricted: any app');
  assert.throws(() => m.setDatasetApp(E(90), ds, app, true), { code: 'NotOwner' });
  m.setDatasetApp(E(91), ds, app, true);
  assert.throws(() => req(other), { code: 'AppNotAllowed' });
  assert.equal(req(app), 2n);
  m.setDatasetApp(E(91), ds, app, false);
  assert.throws(() => req(app), { code: 'AppNotAllowed' }, 'an emptied list allows nothing');
});
