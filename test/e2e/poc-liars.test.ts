/**
 * Liars on a running chain, executors as separate processes. The order in which contributions land
 * is made deterministic by starting the honest executors' processes only after the liars have
 * committed (their assignments wait for them: the agents catch up from their journal cursor).
 * App category 1: T = 20 blocks of 150 ms, so 6 s to contribute after an assignment.
 * `pocchain task verify` re-runs each settled task as anyone could and judges the chain's result.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { keccak256, parseEther } from 'ethers';
import { PocNet, WASM } from '../fixtures/poc-net.ts';
import { WRONG_RESULT } from '../../executor/agent.ts';
import { resultHash } from '../../consensus/poc/index.ts';
import { waitFor } from '../helpers/proc.ts';

let net: PocNet;
let app: string;
const HONEST = [1, 2, 3];
const L1 = 5;
const L2 = 6;
const REQUESTER = 0;

before(async () => {
  net = await PocNet.start(150);
  await Promise.all([...HONEST, L1].map((i) => net.startExecutor(i, { args: ['--withdraw-every', '0'] })));
  app = await net.publishApp(0, WASM('echo'), { category: 1 });
});

after(async () => {
  await net?.stop();
});

const addr = (i: number) => net.executors.get(i)!.address;
const verify = (taskId: bigint, json = true) => net.cli(['task', 'verify', String(taskId), '--rpc', net.node.url, ...(json ? ['--json'] : [])]);
const stopHonest = () => Promise.all(HONEST.map((i) => net.executors.get(i)!.stop()));
const startHonest = () => Promise.all(HONEST.map((i) => net.startExecutor(i, { args: ['--withdraw-every', '0'] })));

test('warm-up: four honest executors agree (trust 9 needs all four) and each gains reputation', async () => {
  const { taskId } = await net.request(REQUESTER, { app, input: 'warm-up', trust: 9, replicas: [4, 4], escrow: parseEther('0.4'), maxPrice: 0n });
  await net.waitStatus(taskId, 3);
  for (const i of [...HONEST, L1]) assert.equal(await net.hub.score(addr(i)), 1n, `score of executor ${i}`);
});

test('a liar: the correct result wins, the liar is slashed and its reputation drops', async () => {
  await stopHonest();
  await net.executors.get(L1)!.stop();
  await net.startExecutor(L1, { behaviour: 'wrong-result', args: ['--withdraw-every', '0'] });
  const escrow = parseEther('0.3');
  const { taskId } = await net.request(REQUESTER, { app, input: 'truth', trust: 3, replicas: [4, 4], escrow, maxPrice: 0n });
  await net.waitLog(taskId, (l) => l.name === 'Contributed' && l.args.executor === addr(L1), 'liar committed first');
  await startHonest();
  const t = await net.waitStatus(taskId, 3);
  assert.equal(t.result, keccak256(new TextEncoder().encode('truth')), 'the honest result');
  const logs = await net.taskLogs(taskId);
  const slashed = logs.filter((l) => l.name === 'Slashed');
  assert.deepEqual(slashed.map((l) => [l.args.executor, l.args.amount, l.args.newScore]), [[addr(L1), parseEther('0.1'), 0n]], 'liar loses its lock, score 1 → ⌊2/3⌋ = 0');
  const rewards = logs.filter((l) => l.name === 'Paid' && Number(l.args.kind) === 0);
  assert.deepEqual([...new Set(rewards.map((l) => l.args.to as string))].sort(), HONEST.map(addr).sort(), 'only the honest are paid (the first winner also gets the rounding remainder)');
  assert.equal(rewards.reduce((s, l) => s + (l.args.amount as bigint), 0n), escrow + parseEther('0.1'), 'winners share escrow + the seized lock');
  assert.equal(await net.staking.stakeOf(addr(L1)), parseEther('1.9'));
  assert.equal(await net.hub.score(addr(L1)), 0n);
  for (const i of HONEST) assert.equal(await net.hub.score(addr(i)), 2n);
  // the liar's agent saw it lost and gave up instead of revealing
  const steps = net.journal(L1).filter((e) => e.task === String(taskId));
  assert.match(steps.at(-1)!.reason ?? '', /lost the vote|without our reveal/);
  // anyone can re-run it: the honest result is what the workload computes
  const v = await verify(taskId);
  assert.equal(v.code, 0, v.stderr);
  const r = JSON.parse(v.stdout);
  assert.deepEqual([r.taskId, r.status, r.app, r.dataset, r.agrees, r.error], [String(taskId), 'completed', app, null, true, undefined]);
  assert.equal(r.chainDigest, t.result);
  assert.equal(r.localDigest, t.result);
  assert.equal(r.inputHash, keccak256(new TextEncoder().encode('truth')));
  assert.equal(r.limits.timeoutMs, 10_000, 'the sandbox limits of category 1, as the executors use');
});

test('a colluding minority below trust cannot win: no consensus, refunded at the final deadline', { timeout: 120_000 }, async () => {
  await net.startExecutor(L2, { behaviour: 'wrong-result', args: ['--withdraw-every', '0'] });
  await stopHonest();
  const escrow = parseEther('0.5');
  const owedBefore = (await net.hub.withdrawable(net.wallet(REQUESTER).address)) as bigint;
  // trust 5: two colluders weigh 2·2 = 4 and 4·5 > 5·4 is false, whatever comes after them
  const { taskId } = await net.request(REQUESTER, { app, input: 'collusion', trust: 5, replicas: [5, 5], escrow, maxPrice: 0n });
  await net.waitLog(taskId, (l) => l.name === 'Contributed' && l.args.executor === addr(L1), 'L1 committed');
  await net.waitLog(taskId, (l) => l.name === 'Contributed' && l.args.executor === addr(L2), 'L2 committed');
  const wrong = resultHash(taskId, keccak256(WRONG_RESULT));
  const votes = await net.hub.taskVotes(taskId);
  assert.deepEqual([...votes[0]], [wrong], 'the colluders form one group');
  assert.equal(votes[1][0], 4n);
  assert.equal(Number((await net.hub.getTask(taskId)).status), 1, 'colluders alone do not reach consensus');
  await startHonest();
  // all five voted, no group can win: the task stays active until its final deadline (10T after
  // the request), so there is nothing to verify yet
  await waitFor('five contributions', async () => (await net.taskLogs(taskId)).filter((l) => l.name === 'Contributed').length === 5, 60_000, 150);
  const early = await verify(taskId);
  assert.equal(early.code, 1);
  assert.equal(JSON.parse(early.stdout).error.code, 'TASK_NOT_FINAL');
  const t = await net.waitStatus(taskId, 4, 90_000);
  assert.equal(t.result, '0x' + '00'.repeat(32));
  const logs = await net.taskLogs(taskId);
  assert.equal(logs.filter((l) => l.name === 'ConsensusReached').length, 0);
  assert.equal(logs.filter((l) => l.name === 'Contributed').length, 5, 'everyone voted: 2 colluders vs 3 honest');
  assert.equal(logs.filter((l) => l.name === 'Paid').length, 0, 'no one paid, colluders included');
  assert.equal(logs.filter((l) => l.name === 'Slashed').length, 0, 'no consensus group: no one penalised');
  assert.deepEqual(logs.filter((l) => l.name === 'Refunded').map((l) => l.args.amount), [escrow]);
  assert.equal((await net.hub.withdrawable(net.wallet(REQUESTER).address)) - owedBefore, escrow);
  for (const i of [...HONEST, L1, L2]) assert.equal((await net.staking.executorInfo(addr(i))).locked, 0n);
  const late = await verify(taskId);
  assert.equal(late.code, 1);
  assert.equal(JSON.parse(late.stdout).error.code, 'TASK_NO_RESULT', 'a failed task has no result to check');
});

test('colluders win a trust-1 task with a wrong result: the chain accepts it, `task verify` does not', async () => {
  await stopHonest(); // only the two liars answer; trust 1 accepts the first contribution
  const { taskId } = await net.request(REQUESTER, { app, input: 'checked by anyone', trust: 1, replicas: [5, 5], escrow: parseEther('0.2'), maxPrice: 0n });
  const t = await net.waitStatus(taskId, 3);
  assert.equal(t.result, keccak256(WRONG_RESULT), 'the liars\' result is final on chain');
  const v = await verify(taskId);
  assert.equal(v.code, 2, `a distinct exit code for a disagreement: ${v.stderr}`);
  const r = JSON.parse(v.stdout);
  assert.deepEqual([r.error.code, r.agrees, r.chainDigest, r.localDigest], ['TASK_RESULT_MISMATCH', false, keccak256(WRONG_RESULT), keccak256(new TextEncoder().encode('checked by anyone'))]);
  const text = await verify(taskId, false);
  assert.equal(text.code, 2);
  assert.match(text.stdout, /the local run gives 0x/);
  assert.match(text.stderr, /^error \[TASK_RESULT_MISMATCH\]/m);
});
