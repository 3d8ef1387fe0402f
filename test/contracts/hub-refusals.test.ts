/**
 * Refusals of Hub and Staking: each bad call reverts with its custom error, the mined transaction
 * fails, and no observable state (task, assignments, votes, balances, stakes) changes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHubFixture, type HubFixture } from './hub-fixture.ts';
import { HUB_ADDRESS, STAKING_ADDRESS, SYSTEM_ADDRESS, resultHash, resultSeal, LOCK_PER_TASK } from '../../consensus/poc/index.ts';
import * as poc from '../../consensus/poc/index.ts';

const APP = '0x' + 'a1'.repeat(32);
const ZERO32 = '0x' + '00'.repeat(32);
const ZERO20 = '0x' + '00'.repeat(20);
const GOOD = '0x' + '0d'.repeat(32);
const BAD = '0x' + 'bd'.repeat(32);
const ETH = 10n ** 18n;

let f: HubFixture;
let owner: string, requester: string, outsider: string;
let executors: string[];
let assigned: string[];
const taskId = 1n;

/** Everything a refused call could have touched. */
async function observe(): Promise<string> {
  const parts: unknown[] = [
    await f.hubView('getTask', [taskId]),
    await f.hubView('taskAssignees', [taskId]),
    await f.hubView('taskVotes', [taskId]),
    await f.hubView('openTasks'),
    await f.stakingView('activeExecutors'),
  ];
  for (const a of [...executors, requester, owner, outsider]) {
    parts.push(await f.hubView('getAssignment', [taskId, a]), await f.hubView('withdrawable', [a]), await f.hubView('score', [a]));
    parts.push(await f.stakingView('executorInfo', [a]));
  }
  return JSON.stringify(parts, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

async function expectRefusal(from: string, to: string, data: string, error: string, value = 0n): Promise<void> {
  const before = await observe();
  const err = await f.revertOf(from, to, data, value);
  assert.equal(err?.name, error, `expected ${error}, got ${err?.name ?? 'success'}`);
  const r = await f.send(from, to, data, value, 2_000_000n);
  assert.equal(r.status, 0, 'the mined transaction reverted');
  assert.equal(await observe(), before, 'no state changed');
}

const hubData = (fn: string, args: unknown[]) => f.hub.encodeFunctionData(fn, args);

before(async () => {
  f = await startHubFixture(16);
  [owner, requester, outsider] = f.accounts as [string, string, string];
  executors = f.accounts.slice(3, 8);
  for (const e of executors) assert.equal((await f.stakingTx(e, 'stakeExecutor', [], 2n * ETH)).status, 1);
  assert.equal((await f.hubTx(owner, 'registerApp', [APP, 10n ** 16n, 1, 'ipfs://app'])).status, 1);
  // trust 3 among newcomers: two agreeing executors reach consensus (4*3 > 5*2)
  assert.equal((await f.hubTx(requester, 'requestTask', [APP, ZERO32, '0x', 3n, 1n, 4n, 10n ** 16n, ZERO20], ETH)).status, 1);
  const s = await f.system('schedule', [7n]);
  assigned = f.parseLogs(s).filter((l) => l.name === 'TaskAssigned').map((l) => String(l.args[1]).toLowerCase());
  assert.equal(assigned.length, 2);
});

after(() => f?.stop());

test('system calls from any other sender: NotSystem', async () => {
  await expectRefusal(outsider, HUB_ADDRESS, hubData('schedule', [1n]), 'NotSystem');
  await expectRefusal(executors[0]!, HUB_ADDRESS, hubData('finalize', []), 'NotSystem');
});

test('contribute to a task not assigned to you: NotAssigned', async () => {
  const other = executors.find((e) => !assigned.includes(e))!;
  await expectRefusal(other, HUB_ADDRESS, hubData('contribute', [taskId, resultHash(taskId, GOOD), resultSeal(other, taskId, GOOD)]), 'NotAssigned');
  await expectRefusal(assigned[0]!, HUB_ADDRESS, hubData('contribute', [99n, resultHash(99n, GOOD), resultSeal(assigned[0]!, 99n, GOOD)]), 'UnknownTask');
});

test('claim before the final deadline: ClaimTooEarly', async () => {
  await expectRefusal(requester, HUB_ADDRESS, hubData('claim', [taskId]), 'ClaimTooEarly');
});

test('reveal before consensus: TaskNotRevealing', async () => {
  const [a] = assigned as [string];
  await expectRefusal(a, HUB_ADDRESS, hubData('reveal', [taskId, GOOD]), 'TaskNotRevealing');
});

test('a copied commitment cannot be revealed; a second contribution is refused', async () => {
  const [a, b] = assigned as [string, string];
  // a commits honestly; b copies a's resultHash AND resultSeal
  assert.equal((await f.hubTx(a, 'contribute', [taskId, resultHash(taskId, GOOD), resultSeal(a, taskId, GOOD)])).status, 1);
  await expectRefusal(a, HUB_ADDRESS, hubData('contribute', [taskId, resultHash(taskId, GOOD), resultSeal(a, taskId, GOOD)]), 'AlreadyContributed');
  assert.equal((await f.hubTx(b, 'contribute', [taskId, resultHash(taskId, GOOD), resultSeal(a, taskId, GOOD)])).status, 1);
  const t = await f.hubView('getTask', [taskId]);
  assert.equal(Number(t[0].status), 2, 'consensus reached on the hash');
  await expectRefusal(b, HUB_ADDRESS, hubData('reveal', [taskId, GOOD]), 'CommitmentMismatch');
});

test('reveal not matching its commitment: CommitmentMismatch; second reveal: AlreadyRevealed', async () => {
  const [a] = assigned as [string];
  await expectRefusal(a, HUB_ADDRESS, hubData('reveal', [taskId, BAD]), 'CommitmentMismatch');
  assert.equal((await f.hubTx(a, 'reveal', [taskId, GOOD])).status, 1);
  await expectRefusal(a, HUB_ADDRESS, hubData('reveal', [taskId, GOOD]), 'AlreadyRevealed');
  await expectRefusal(outsider, HUB_ADDRESS, hubData('reveal', [taskId, GOOD]), 'NotContributor');
});

test('contribute after consensus: TaskNotActive', async () => {
  const [a] = assigned as [string];
  await expectRefusal(a, HUB_ADDRESS, hubData('contribute', [taskId, resultHash(taskId, BAD), resultSeal(a, taskId, BAD)]), 'TaskNotActive');
});

test('requestTask validation', async () => {
  const req = (args: unknown[]) => hubData('requestTask', args);
  await expectRefusal(requester, HUB_ADDRESS, req(['0x' + '77'.repeat(32), ZERO32, '0x', 3n, 1n, 4n, ETH, ZERO20]), 'UnknownApp', ETH);
  await expectRefusal(requester, HUB_ADDRESS, req([APP, '0x' + '77'.repeat(32), '0x', 3n, 1n, 4n, ETH, ZERO20]), 'UnknownDataset', ETH);
  await expectRefusal(requester, HUB_ADDRESS, req([APP, ZERO32, '0x', 0n, 1n, 4n, ETH, ZERO20]), 'InvalidTrust', ETH);
  await expectRefusal(requester, HUB_ADDRESS, req([APP, ZERO32, '0x', 3n, 5n, 4n, ETH, ZERO20]), 'InvalidReplicas', ETH);
  await expectRefusal(requester, HUB_ADDRESS, req([APP, ZERO32, '0x', 3n, 1n, 33n, ETH, ZERO20]), 'InvalidReplicas', ETH);
  await expectRefusal(requester, HUB_ADDRESS, req([APP, ZERO32, '0x', 3n, 1n, 4n, 10n ** 15n, ZERO20]), 'PriceAboveMax', ETH);
  await expectRefusal(requester, HUB_ADDRESS, req([APP, ZERO32, '0x', 3n, 1n, 4n, ETH, ZERO20]), 'InsufficientPayment', 10n ** 15n);
  // fees are paid, but not the least reward of every replica the task may lock
  const fees = (await f.hubView('getApp', [APP]))[0].price as bigint;
  const least = fees + 4n * poc.MIN_REWARD_PER_REPLICA;
  await expectRefusal(requester, HUB_ADDRESS, req([APP, ZERO32, '0x', 3n, 1n, 4n, ETH, ZERO20]), 'InsufficientPayment', least - 1n);
  assert.equal(await f.revertOf(requester, HUB_ADDRESS, req([APP, ZERO32, '0x', 3n, 1n, 4n, ETH, ZERO20]), least), null);
  const spec = (o: Partial<Record<'trust' | 'flags' | 'max', bigint>> = {}) => [APP, ZERO32, o.trust ?? 3n, 1n, o.max ?? 4n, ETH, ZERO20, o.flags ?? 0n];
  const bag = (s: unknown[], inputs: string[]) => hubData('requestTasks', [s, inputs]);
  await expectRefusal(requester, HUB_ADDRESS, bag(spec(), []), 'EmptyBag', ETH);
  await expectRefusal(requester, HUB_ADDRESS, bag(spec(), Array(poc.MAX_BAG + 1).fill('0x')), 'BagTooLarge', ETH);
  await expectRefusal(requester, HUB_ADDRESS, bag(spec(), ['0x', '0x', '0x']), 'UnevenEscrow', ETH);
  await expectRefusal(requester, HUB_ADDRESS, bag(spec({ flags: 2n }), ['0x']), 'InvalidFlags', ETH);
  await expectRefusal(requester, HUB_ADDRESS, bag(spec(), ['0x', '0x']), 'InsufficientPayment', 2n * least - 2n);
  await expectRefusal(requester, HUB_ADDRESS, bag(spec(), ['0x', '0x' + '00'.repeat(4097)]), 'InputTooLarge', 2n * ETH);
  await expectRefusal(requester, HUB_ADDRESS, req([APP, ZERO32, '0x' + '00'.repeat(4097), 3n, 1n, 4n, ETH, ZERO20]), 'InputTooLarge', ETH);
  await expectRefusal(outsider, HUB_ADDRESS, hubData('registerApp', [APP, 0n, 0, '']), 'AlreadyRegistered');
  await expectRefusal(outsider, HUB_ADDRESS, hubData('registerApp', ['0x' + '78'.repeat(32), 0n, 4, '']), 'InvalidCategory');
  await expectRefusal(outsider, HUB_ADDRESS, hubData('setAppPrice', [APP, 0n]), 'NotOwner');
  // dataset rules: once its owner lists apps, pairing the dataset with another app is refused
  const ds = '0x' + 'd9'.repeat(32);
  const other = '0x' + 'a8'.repeat(32);
  assert.equal((await f.hubTx(owner, 'registerDataset', [ds, 10n ** 15n, 'ipfs://ds'])).status, 1);
  assert.equal((await f.hubTx(owner, 'registerApp', [other, 0n, 0, 'ipfs://other'])).status, 1);
  await expectRefusal(outsider, HUB_ADDRESS, hubData('setDatasetApp', [ds, APP, true]), 'NotOwner');
  assert.equal(await f.revertOf(requester, HUB_ADDRESS, req([other, ds, '0x', 3n, 1n, 4n, ETH, ZERO20]), ETH), null, 'unrestricted: any app');
  assert.equal((await f.hubTx(owner, 'setDatasetApp', [ds, APP, true])).status, 1);
  await expectRefusal(requester, HUB_ADDRESS, req([other, ds, '0x', 3n, 1n, 4n, ETH, ZERO20]), 'AppNotAllowed', ETH);
  assert.equal(await f.revertOf(requester, HUB_ADDRESS, req([APP, ds, '0x', 3n, 1n, 4n, ETH, ZERO20]), ETH), null, 'the listed app');
  assert.equal((await f.hubTx(owner, 'setDatasetApp', [ds, APP, false])).status, 1);
  await expectRefusal(requester, HUB_ADDRESS, req([APP, ds, '0x', 3n, 1n, 4n, ETH, ZERO20]), 'AppNotAllowed', ETH);
});

test('Staking: only the Hub slashes or locks; locked stake cannot be unbonded; unbonding waits', async () => {
  const [a] = assigned as [string];
  const st = (fn: string, args: unknown[]) => f.staking.encodeFunctionData(fn, args);
  await expectRefusal(outsider, STAKING_ADDRESS, st('slash', [a, LOCK_PER_TASK]), 'NotHub');
  await expectRefusal(SYSTEM_ADDRESS, STAKING_ADDRESS, st('lock', [a, LOCK_PER_TASK]), 'NotHub');
  await expectRefusal(outsider, STAKING_ADDRESS, st('unlock', [a, LOCK_PER_TASK]), 'NotHub');
  // a holds one lock of 0.1: at most 1.9 is free
  await expectRefusal(a, STAKING_ADDRESS, st('requestUnbond', [2n * ETH]), 'InsufficientFreeStake');
  await expectRefusal(a, STAKING_ADDRESS, st('withdrawUnbonded', []), 'NothingToWithdraw');
  await expectRefusal(a, STAKING_ADDRESS, st('stakeExecutor', []), 'ZeroAmount');
  await expectRefusal(outsider, HUB_ADDRESS, '0x', 'OnlyStaking', 1n);
  const e = executors.find((x) => !assigned.includes(x))!;
  assert.equal((await f.stakingTx(e, 'requestUnbond', [ETH + 1n])).status, 1);
  await expectRefusal(e, STAKING_ADDRESS, st('withdrawUnbonded', []), 'UnbondingNotDue');
});
