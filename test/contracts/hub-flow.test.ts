/**
 * The walk of a compute task through Hub and Staking on a real anvil: parameters agree with the
 * TS model, results reach the dApp callback (and a misbehaving callback cannot block settlement),
 * payments can be withdrawn, losers are slashed, unbonding waits, and system calls do bounded work.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { deploy, startHubFixture, type HubFixture } from './hub-fixture.ts';
import * as poc from '../../consensus/poc/index.ts';
import { HUB_ADDRESS, LOCK_PER_TASK, resultHash, resultSeal } from '../../consensus/poc/index.ts';

const ETH = 10n ** 18n;
const ZERO32 = '0x' + '00'.repeat(32);
const ZERO20 = '0x' + '00'.repeat(20);
const APP = '0x' + 'a2'.repeat(32);
const DATASET = '0x' + 'd2'.repeat(32);

let f: HubFixture;
let owner: string, requester: string, executors: string[];

before(async () => {
  f = await startHubFixture(24);
  [owner, requester] = f.accounts as [string, string];
  executors = f.accounts.slice(2, 14);
  for (const e of executors) assert.equal((await f.stakingTx(e, 'stakeExecutor', [], 3n * ETH)).status, 1);
  assert.equal((await f.hubTx(owner, 'registerApp', [APP, 10n ** 16n, 0, 'ipfs://app'])).status, 1);
  assert.equal((await f.hubTx(owner, 'registerDataset', [DATASET, 2n * 10n ** 15n, 'ipfs://data'])).status, 1);
});

after(() => f?.stop());

async function request(opts: { app?: string; trust: bigint; min?: bigint; max?: bigint; value?: bigint; callback?: string; input?: string; dataset?: string }): Promise<bigint> {
  const r = await f.hubTx(requester, 'requestTask', [
    opts.app ?? APP, opts.dataset ?? ZERO32, opts.input ?? '0x', opts.trust, opts.min ?? 1n, opts.max ?? 16n, ETH, opts.callback ?? ZERO20,
  ], opts.value ?? ETH);
  assert.equal(r.status, 1);
  return BigInt(f.parseLogs(r).find((l) => l.name === 'TaskRequested')!.args[0]);
}

async function schedule(randomness: bigint): Promise<Map<bigint, string[]>> {
  const r = await f.system('schedule', [randomness]);
  assert.equal(r.status, 1);
  const out = new Map<bigint, string[]>();
  for (const l of f.parseLogs(r)) {
    if (l.name !== 'TaskAssigned') continue;
    const id = BigInt(l.args[0]);
    out.set(id, [...(out.get(id) ?? []), String(l.args[1]).toLowerCase()]);
  }
  return out;
}

async function contribute(id: bigint, e: string, d: string) {
  assert.equal((await f.hubTx(e, 'contribute', [id, resultHash(id, d), resultSeal(e, id, d)])).status, 1);
}

test('contract parameters and pure rules agree with the TS model', async () => {
  const c = async (name: string) => (await f.hubView(name))[0];
  assert.equal(await c('LOCK_PER_TASK'), poc.LOCK_PER_TASK);
  assert.equal(await c('WEIGHT_CAP'), poc.WEIGHT_CAP);
  assert.equal(await c('STAKE_UNIT'), poc.STAKE_UNIT);
  assert.equal(await c('MAX_STAKE_UNITS'), poc.MAX_STAKE_UNITS);
  assert.equal(await c('MAX_SAMPLE_REP_WEIGHT'), poc.MAX_SAMPLE_REP_WEIGHT);
  assert.equal(await c('MAX_REPLICAS'), BigInt(poc.MAX_REPLICAS));
  assert.equal(await c('MAX_TRUST'), poc.MAX_TRUST);
  assert.equal(await c('MAX_INPUT_BYTES'), BigInt(poc.MAX_INPUT_BYTES));
  assert.deepEqual([await c('ASSIGN_T'), await c('CONTRIBUTION_T'), await c('REVEAL_T'), await c('FINAL_T')], [poc.ASSIGN_T, poc.CONTRIBUTION_T, poc.REVEAL_T, poc.FINAL_T]);
  assert.deepEqual([await c('SCHEDULE_SCAN'), await c('FINALIZE_SCAN')], [BigInt(poc.SCHEDULE_SCAN), BigInt(poc.FINALIZE_SCAN)]);
  assert.equal(await c('CALLBACK_GAS'), poc.CALLBACK_GAS);
  for (const [i, t] of poc.CATEGORY_T.entries()) assert.equal((await f.hubView('categoryTime', [i]))[0], t);
  assert.equal((await f.stakingView('MIN_EXECUTOR_STAKE'))[0], poc.MIN_EXECUTOR_STAKE);
  assert.equal((await f.stakingView('UNBONDING_BLOCKS'))[0], poc.UNBONDING_BLOCKS);
  assert.equal((await f.stakingView('MAX_EXECUTORS'))[0], BigInt(poc.MAX_EXECUTORS));
  for (const s of [0n, 8n, 9n, 12n, 302n, 303n, 10n ** 30n, 2n ** 200n]) {
    assert.equal((await f.hubView('weightOf', [s]))[0], poc.weightOf(s));
    assert.equal((await f.hubView('sampleWeight', [5n * ETH, s]))[0], poc.sampleWeight(5n * ETH, s));
  }
  for (const [a, b] of [[3n, 7n], [2n ** 60n, 2n ** 61n], [2n ** 120n, 2n ** 120n]] as const) {
    assert.equal((await f.hubView('mulCap', [a, b]))[0], poc.mulCap(a, b));
  }
  for (const w of [2n, 3n, 4n, 100n, 2n ** 120n]) assert.equal(Number((await f.hubView('logWeight', [w]))[0]), poc.logWeight(w));
  assert.equal(poc.encodeSchedule(42n), f.hub.encodeFunctionData('schedule', [42n]));
  assert.equal(poc.encodeFinalize(), f.hub.encodeFunctionData('finalize', []));
});

test('full walk: 7 newcomers for trust 100, callback gets the digest, everyone withdraws their due', async () => {
  const receiver = await deploy(f, owner, 'TaskCallbackReceiver', [0]);
  const id = await request({ trust: 100n, callback: receiver, input: '0xc0ffee', dataset: DATASET });
  assert.equal((await f.hubView('taskInput', [id]))[0], '0xc0ffee');
  const assigned = (await schedule(11n)).get(id)!;
  assert.equal(assigned.length, 7, 'exactly what trust 100 needs among newcomers');
  for (const e of assigned) assert.equal((await f.stakingView('executorInfo', [e]))[1], LOCK_PER_TASK);
  const d = '0x' + '5e'.repeat(32);
  for (const e of assigned) await contribute(id, e, d);
  const t = (await f.hubView('getTask', [id]))[0];
  assert.equal(Number(t.status), poc.TaskStatus.Revealing);
  assert.equal((await schedule(12n)).size, 0, 'no top-up after consensus');
  for (const e of assigned) assert.equal((await f.hubTx(e, 'reveal', [id, d])).status, 1);
  const fin = await f.system('finalize');
  const logs = f.parseLogs(fin);
  assert.deepEqual(logs.find((l) => l.name === 'TaskFinalized')!.args.toArray().map(String), [String(id), d, '3']);
  assert.equal(logs.find((l) => l.name === 'CallbackResult')!.args[2], true);
  const recv = new (await import('ethers')).Interface((await import('../../contracts/artifacts.ts')).loadArtifact('TaskCallbackReceiver').abi);
  const res = recv.decodeFunctionResult('results', await f.call(receiver, recv.encodeFunctionData('results', [id])));
  assert.equal(res[0], d);
  // 1 ETH escrow: 0.01 app fee, 0.002 dataset fee, 0.988 shared by the 7 winners
  const owed = await Promise.all(assigned.map(async (e) => (await f.hubView('withdrawable', [e]))[0] as bigint));
  assert.equal(owed.reduce((a, b) => a + b, 0n), ETH - 10n ** 16n - 2n * 10n ** 15n);
  assert.equal((await f.hubView('withdrawable', [owner]))[0], 12n * 10n ** 15n);
  for (const e of assigned) assert.equal((await f.hubView('score', [e]))[0], 1n);
  const before = await f.balance(assigned[0]!);
  const w = await f.hubTx(assigned[0]!, 'withdraw');
  assert.equal(w.status, 1);
  const gasCost = before + owed[0]! - (await f.balance(assigned[0]!));
  assert.ok(gasCost > 0n && gasCost < 10n ** 15n, 'balance grew by the payment minus gas');
  assert.equal((await f.hubView('withdrawable', [assigned[0]!]))[0], 0n);
  assert.equal((await f.revertOf(assigned[0]!, HUB_ADDRESS, f.hub.encodeFunctionData('withdraw')))?.name, 'NothingToWithdraw');
});

for (const [mode, what, ok] of [[1, 'reverts', false], [2, 'burns all its gas', false], [3, 'returns a huge payload', true]] as const) {
  test(`a callback that ${what} cannot block finalization`, async () => {
    const receiver = await deploy(f, owner, 'TaskCallbackReceiver', [mode]);
    const id = await request({ trust: 1n, callback: receiver });
    const [e] = (await schedule(100n + BigInt(mode))).get(id)!;
    const d = '0x' + '77'.repeat(32);
    await contribute(id, e!, d);
    assert.equal((await f.hubTx(e!, 'reveal', [id, d])).status, 1);
    const fin = await f.system('finalize');
    assert.equal(fin.status, 1);
    const logs = f.parseLogs(fin);
    assert.equal(logs.find((l) => l.name === 'CallbackResult')!.args[2], ok);
    assert.equal(Number((await f.hubView('getTask', [id]))[0].status), poc.TaskStatus.Completed);
    assert.ok(fin.gasUsed < 600_000n, `finalize used ${fin.gasUsed} gas: the callback is capped`);
  });
}

test('the scheduler assigns exactly what trust needs; a dissent triggers an exact top-up and is slashed', async () => {
  const star = executors[11]!;
  await f.setScore(star, 303n);
  const id = await request({ trust: 100n, min: 1n });
  const got = (await schedule(5n)).get(id)!;
  const w = (e: string) => poc.weightOf(e === star ? 303n : 0n);
  const product = (xs: string[]) => xs.reduce((p, e) => poc.mulCap(p, w(e)), 1n);
  assert.ok(product(got) >= 100n, 'enough weight for trust 100 if all agree');
  assert.ok(product(got.slice(0, -1)) < 100n, 'not one executor more than needed');
  await f.setScore(star, 0n);

  // trust 5 among newcomers needs 3 (8*5 > 9*4); one of them dissents
  const id2 = await request({ trust: 5n });
  const g2 = (await schedule(6n)).get(id2)!;
  assert.equal(g2.length, 3);
  const good = '0x' + '60'.repeat(32);
  const bad = '0x' + 'ba'.repeat(32);
  const [liar, ...rest] = g2 as [string, ...string[]];
  await contribute(id2, liar, bad);
  for (const e of rest) await contribute(id2, e, good);
  // groups 4 (good) and 2 (bad), total 7: 20 <= 28, no consensus; 4P > 3*4 needs P = 4: two more
  assert.equal(Number((await f.hubView('getTask', [id2]))[0].status), poc.TaskStatus.Active);
  const votes = await f.hubView('taskVotes', [id2]);
  assert.deepEqual([...votes[1]], [2n, 4n]);
  const more = (await schedule(7n)).get(id2)!;
  assert.equal(more.length, 2);
  assert.ok(more.every((e) => !g2.includes(e)), 'top-up draws new executors only');
  for (const e of more) await contribute(id2, e, good);
  assert.equal(Number((await f.hubView('getTask', [id2]))[0].status), poc.TaskStatus.Revealing);
  await f.setScore(liar, 30n);
  const stakeBefore = (await f.stakingView('stakeOf', [liar]))[0] as bigint;
  for (const e of [...rest, ...more]) assert.equal((await f.hubTx(e, 'reveal', [id2, good])).status, 1);
  const fin = f.parseLogs(await f.system('finalize'));
  const sl = fin.filter((l) => l.name === 'Slashed' && BigInt(l.args[0]) === id2);
  assert.equal(sl.length, 1);
  assert.equal(String(sl[0]!.args[1]).toLowerCase(), liar);
  assert.equal(sl[0]!.args[2], LOCK_PER_TASK);
  assert.equal((await f.hubView('score', [liar]))[0], 20n, 'score x2/3');
  assert.equal((await f.stakingView('stakeOf', [liar]))[0], stakeBefore - LOCK_PER_TASK);
  // the seized lock joined the reward: 4 winners share 0.99 + 0.1
  const paid = fin.filter((l) => l.name === 'Paid' && BigInt(l.args[0]) === id2 && Number(l.args[3]) === 0);
  assert.equal(paid.reduce((s, l) => s + (l.args[2] as bigint), 0n), ETH - 10n ** 16n + LOCK_PER_TASK);
});

test('no executor answers: the requester gets everything back, plus the silent executors\' expiry penalties', async () => {
  const id = await request({ trust: 2n, value: 5n * 10n ** 17n });
  const got = (await schedule(9n)).get(id)!;
  assert.ok(got.length >= 1);
  const t = (await f.hubView('getTask', [id]))[0];
  const before = (await f.hubView('withdrawable', [requester]))[0] as bigint;
  await f.mine(BigInt(t.finalDeadline) - (await f.blockNumber()));
  assert.equal((await f.revertOf(owner, HUB_ADDRESS, f.hub.encodeFunctionData('claim', [id])))?.name, 'ClaimTooEarly');
  await f.mine(1);
  const infoBefore = await Promise.all(got.map(async (e) => await f.stakingView('executorInfo', [e])));
  for (const e of got) await f.setScore(e, 30n);
  const r = await f.hubTx(owner, 'claim', [id]);
  assert.equal(r.status, 1);
  const penalty = poc.EXPIRY_PENALTY * BigInt(got.length);
  assert.equal((await f.hubView('withdrawable', [requester]))[0], before + 5n * 10n ** 17n + penalty);
  for (const [i, e] of got.entries()) {
    const [stake, locked] = await f.stakingView('executorInfo', [e]);
    assert.equal(locked, infoBefore[i]![1] - LOCK_PER_TASK, 'the whole lock left');
    assert.equal(stake, infoBefore[i]![0] - poc.EXPIRY_PENALTY, 'part of it was seized');
    assert.equal((await f.hubView('score', [e]))[0], 20n, 'score x2/3');
    await f.setScore(e, 0n);
  }
  assert.equal((await f.revertOf(owner, HUB_ADDRESS, f.hub.encodeFunctionData('claim', [id])))?.name, 'TaskClosed');
});

test('a task that waited in the queue gets a whole assignment window or nobody: never one its executors cannot meet and are penalised for', async () => {
  const snap = await f.snapshot();
  const app = '0x' + 'a4'.repeat(32);
  assert.equal((await f.hubTx(owner, 'registerApp', [app, 0n, 2, 'ipfs://queued'])).status, 1); // T = 60 blocks
  const setAsk = async (ask: bigint) => {
    for (const e of executors) assert.equal((await f.hubTx(e, 'setOffer', [[ask, ask, ask, ask], 8n])).status, 1);
  };
  await setAsk(ETH); // the task waits: every executor asks more than it pays
  const escrow = 5n * 10n ** 17n;
  const id = await request({ app, trust: 2n, value: escrow });
  assert.equal((await schedule(1n)).get(id), undefined, 'nobody fits yet');
  await setAsk(0n);
  const t = (await f.hubView('getTask', [id]))[0];
  const window = poc.ASSIGN_T * poc.categoryTime(2);
  const lastStart = BigInt(t.contributionDeadline) - window; // the last block that still gives a whole window
  await f.mine(lastStart - 1n - (await f.blockNumber())); // the next transaction is mined in block lastStart
  const atLast = await f.snapshot();
  const r = await f.system('schedule', [2n]);
  assert.equal(r.blockNumber, lastStart);
  const late = f.parseLogs(r).filter((l) => l.name === 'TaskAssigned' && BigInt(l.args[0]) === id);
  assert.ok(late.length >= 1, 'drawn for in the last block that gives a whole window');
  for (const l of late) assert.equal(BigInt(l.args[2]), lastStart + window, 'with the whole window, ending at the contribution deadline');
  await f.revert(atLast);
  await f.mine(1);
  const r2 = await f.system('schedule', [2n]);
  assert.equal(r2.blockNumber, lastStart + 1n);
  assert.equal(f.parseLogs(r2).filter((l) => l.name === 'TaskAssigned').length, 0, 'one block later: too late for a whole window, nobody is drawn');
  // it fails at its final deadline like any task without a result: all refunded, nobody slashed
  const before = (await f.hubView('withdrawable', [requester]))[0] as bigint;
  await f.mine(BigInt(t.finalDeadline) + 1n - (await f.blockNumber()));
  const c = await f.hubTx(owner, 'claim', [id]);
  assert.equal(c.status, 1);
  assert.equal(f.parseLogs(c).filter((l) => l.name === 'Slashed').length, 0);
  assert.equal((await f.hubView('withdrawable', [requester]))[0], before + escrow);
  await f.revert(snap);
});

test('unbonding: leaves the active list below the minimum, withdrawable after the delay', async () => {
  const e = f.accounts[20]!;
  assert.equal((await f.stakingTx(e, 'stakeExecutor', [], 2n * ETH)).status, 1);
  assert.ok(((await f.stakingView('activeExecutors'))[0] as string[]).map((x) => x.toLowerCase()).includes(e));
  const r = await f.stakingTx(e, 'requestUnbond', [15n * 10n ** 17n]);
  assert.equal(r.status, 1);
  assert.ok(!((await f.stakingView('activeExecutors'))[0] as string[]).map((x) => x.toLowerCase()).includes(e));
  await f.mine(poc.UNBONDING_BLOCKS - 2n);
  assert.equal((await f.revertOf(e, poc.STAKING_ADDRESS, f.staking.encodeFunctionData('withdrawUnbonded')))?.name, 'UnbondingNotDue');
  await f.mine(1);
  const before = await f.balance(e);
  assert.equal((await f.stakingTx(e, 'withdrawUnbonded')).status, 1);
  const gained = (await f.balance(e)) - before;
  assert.ok(gained > 15n * 10n ** 17n - 10n ** 15n && gained < 15n * 10n ** 17n);
});

test('system calls do bounded work: SCHEDULE_SCAN + 8 new tasks take two calls', async () => {
  const snap = await f.snapshot();
  // a slow category (T = 240 blocks), so that no task's contribution window closes while we queue 40
  const slow = '0x' + 'a3'.repeat(32);
  assert.equal((await f.hubTx(owner, 'registerApp', [slow, 0n, 3, 'ipfs://slow'])).status, 1);
  const N = poc.SCHEDULE_SCAN + 8;
  // room for every task: the default capacity (8 open assignments each) would be the bound, not the scan
  for (const e of executors) assert.equal((await f.hubTx(e, 'setOffer', [[0n, 0n, 0n, 0n], BigInt(poc.MAX_CAPACITY)])).status, 1);
  for (let i = 0; i < N; i++) await request({ app: slow, trust: 1n, value: 2n * 10n ** 16n });
  const r1 = await f.system('schedule', [1n]);
  const n1 = new Set(f.parseLogs(r1).filter((l) => l.name === 'TaskAssigned').map((l) => String(l.args[0]))).size;
  const r2 = await f.system('schedule', [2n]);
  const n2 = new Set(f.parseLogs(r2).filter((l) => l.name === 'TaskAssigned').map((l) => String(l.args[0]))).size;
  assert.ok(n1 <= poc.SCHEDULE_SCAN, `first call assigned ${n1} tasks`);
  assert.ok(n1 + n2 >= N, 'the cursor reaches the rest next block');
  const open = ((await f.hubView('openTasks'))[0] as bigint[]).length;
  assert.ok(open >= N);
  console.log(`schedule: ${n1} tasks in ${r1.gasUsed} gas, then ${n2} in ${r2.gasUsed} gas; ${open} open tasks`);
  await f.revert(snap);
});
