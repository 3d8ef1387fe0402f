/**
 * Proof-of-contribution end to end on a running dev chain, with executors as separate processes:
 * request → schedule → run → commit → reveal → finalize, callback, exact balances; a silent
 * executor; an executor SIGKILLed between commit and reveal, then right after its reveal is mined;
 * reveal refusals through the RPC.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { keccak256, parseEther, toUtf8Bytes, type Contract } from 'ethers';
import { PocNet, WASM } from '../fixtures/poc-net.ts';
import { decodeRevert } from '../../executor/hub-client.ts';
import { waitFor } from '../helpers/proc.ts';

let net: PocNet;
const E = [1, 2, 3];
const OWNER = 8;
const REQUESTER = 0;
let echoApp: string;

before(async () => {
  net = await PocNet.start(200);
  await Promise.all(E.map((i) => net.startExecutor(i, { args: ['--withdraw-every', '1'] })));
  echoApp = await net.publishApp(OWNER, WASM('echo'), { price: '0.05', category: 0 });
});

after(async () => {
  await net?.stop();
});

test('task requested → scheduled → run → committed → revealed → finalized; callback; exact balances', async () => {
  const callback = await net.deployCallback(REQUESTER);
  const cbAddr = await callback.getAddress();
  const requester = net.wallet(REQUESTER).address;
  const owner = net.wallet(OWNER).address;
  const exec = E.map((i) => net.executors.get(i)!.address);
  const b0 = await net.provider.getBlockNumber();
  const w0 = await Promise.all([requester, owner, ...exec].map((a) => net.wealth(a, b0)));

  const r = await net.cli(['task', 'submit', '--app', echoApp, '--input', 'hello pocchain', '--trust', '5', '--replicas', '3..3', '--price', '0.35', '--callback', cbAddr, '--wait', '--json', '--rpc', net.node.url, '--key-file', net.keyFile(REQUESTER)]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const digest = keccak256(toUtf8Bytes('hello pocchain'));
  assert.equal(out.status, 'completed');
  assert.equal(out.digest, digest);
  assert.equal(out.result, 'hello pocchain', 'result bytes fetched from the node by digest');
  for (const step of ['assigned to', 'committed', 'consensus reached', 'revealed', 'finalized: completed']) assert.match(r.stderr, new RegExp(step), `progress line "${step}"`);
  const taskId = BigInt(out.taskId);

  // the walk, as the chain recorded it
  const logs = await net.taskLogs(taskId, b0);
  const names = logs.map((l) => l.name);
  const first = (n: string) => names.indexOf(n);
  assert.deepEqual(logs.filter((l) => l.name === 'TaskAssigned').map((l) => l.args.executor).sort(), [...exec].sort());
  assert.ok(first('TaskRequested') < first('TaskAssigned') && first('TaskAssigned') < first('Contributed') && first('Contributed') < first('ConsensusReached') && first('ConsensusReached') < first('Revealed') && first('Revealed') < first('TaskFinalized'), names.join(','));
  assert.equal(logs.filter((l) => l.name === 'Revealed').length, 3);
  const paid = logs.filter((l) => l.name === 'Paid');
  const rewards = paid.filter((l) => Number(l.args.kind) === 0);
  assert.deepEqual(rewards.map((l) => [l.args.to, l.args.amount]).sort(), exec.map((a) => [a, parseEther('0.1')]).sort(), 'pool 0.35 − 0.05 shared equally by 3 newcomers');
  assert.deepEqual(paid.filter((l) => Number(l.args.kind) === 1).map((l) => [l.args.to, l.args.amount]), [[owner, parseEther('0.05')]]);
  assert.equal(logs.find((l) => l.name === 'CallbackResult')!.args.ok, true);

  // the dApp got the result
  assert.equal(await (callback as Contract).results(taskId), digest);
  assert.equal(await (callback as Contract).calls(), 1n);

  // executors withdraw their earnings themselves (--withdraw-every 1)
  await waitFor('executors withdrew', async () => (await Promise.all(exec.map((a) => net.hub.withdrawable(a)))).every((x) => x === 0n), 30_000, 200);
  const b1 = await net.provider.getBlockNumber();
  const w1 = await Promise.all([requester, owner, ...exec].map((a) => net.wealth(a, b1)));
  const gas = await Promise.all([requester, owner, ...exec].map((a) => net.gasPaid(a, b0, b1)));
  assert.equal(gas[0]!.txs, 1, 'requester sent exactly the request');
  assert.equal(w1[0]! - w0[0]!, -parseEther('0.35') - gas[0]!.fee, 'requester: −escrow − gas');
  assert.equal(w1[1]! - w0[1]!, parseEther('0.05'), 'app owner: +fee');
  for (let k = 0; k < exec.length; k++) {
    assert.ok(gas[k + 2]!.txs >= 3, 'contribute, reveal, withdraw');
    assert.equal(w1[k + 2]! - w0[k + 2]!, parseEther('0.1') - gas[k + 2]!.fee, `executor ${exec[k]}: +reward − gas`);
    const info = await net.staking.executorInfo(exec[k]);
    assert.equal(info.locked, 0n, 'lock released');
    assert.equal(await net.hub.score(exec[k]), 1n, 'score +1 for a replicated win');
  }
});

test('silent executor: the task completes with the others; the silent one keeps its stake, earns nothing', async () => {
  const silent = await net.startExecutor(4, { behaviour: 'silent' });
  const { taskId } = await net.request(REQUESTER, { app: echoApp, input: 'quiet', trust: 5, replicas: [4, 4], escrow: parseEther('0.35'), maxPrice: parseEther('0.05') });
  await net.waitStatus(taskId, 3);
  const assignees = (await net.hub.taskAssignees(taskId)) as string[];
  assert.ok(assignees.includes(silent.address), 'all four assigned');
  assert.equal(Number((await net.hub.getAssignment(taskId, silent.address)).status), 1, 'silent one never contributed');
  const logs = await net.taskLogs(taskId);
  assert.equal(logs.filter((l) => l.name === 'Slashed').length, 0, 'no one slashed');
  const rewards = logs.filter((l) => l.name === 'Paid' && Number(l.args.kind) === 0).map((l) => l.args.to);
  assert.ok(!rewards.includes(silent.address));
  assert.equal(rewards.length, 3);
  const info = await net.staking.executorInfo(silent.address);
  assert.equal(info.stake, parseEther('2'), 'a non-contributor is not slashed (docs/poc-rules.md)');
  assert.equal(info.locked, 0n, 'its lock is released at settlement');
  assert.deepEqual(net.journal(4).filter((e) => e.task === String(taskId)).map((e) => e.t), ['assigned'], 'journaled, never ran');
  // leave the market so later tests only draw live executors
  await (await (net.staking.connect(net.wallet(4)) as Contract).requestUnbond(parseEther('2'))).wait();
  await silent.stop();
  assert.equal(await net.staking.activeCount(), 3n);
});

test('executor SIGKILLed between commit and reveal restarts, reveals and is paid; killed again after its reveal is mined, it journals that reveal from the chain; second and mismatched reveals refused', async () => {
  const slowApp = await net.publishApp(OWNER, WASM('hashchain'), { category: 1 }); // T = 20 blocks: 8 s to reveal
  const victim = net.executors.get(3)!;
  await victim.stop();
  await net.startExecutor(3, { behaviour: 'no-reveal' }); // commits, then withholds its reveal
  const { taskId } = await net.request(REQUESTER, { app: slowApp, input: '100', trust: 5, replicas: [3, 3], escrow: parseEther('0.3'), maxPrice: 0n });
  await net.waitLog(taskId, (l) => l.name === 'ConsensusReached', 'consensus');
  const [a1, a2, a3] = E.map((i) => net.executors.get(i)!.address);
  await net.waitLog(taskId, (l) => l.name === 'Revealed' && l.args.executor === a1, 'E1 revealed');
  await net.waitLog(taskId, (l) => l.name === 'Revealed' && l.args.executor === a2, 'E2 revealed');
  const before = await net.hub.getTask(taskId);
  assert.equal(Number(before.status), 2);
  assert.equal(Number(before.revealCount), 2);
  const digest = before.result as string;

  // through the node's RPC, with the client's error: a second reveal, a reveal not matching the commitment
  const again = (net.hub.connect(net.wallet(1)) as Contract).reveal(taskId, digest);
  await assert.rejects(again, (e) => decodeRevert(e)?.name === 'AlreadyRevealed');
  const wrong = (net.hub.connect(net.wallet(3)) as Contract).reveal(taskId, keccak256(toUtf8Bytes('not it')));
  await assert.rejects(wrong, (e) => decodeRevert(e)?.name === 'CommitmentMismatch');
  const recontribute = (net.hub.connect(net.wallet(3)) as Contract).contribute(taskId, digest, digest);
  await assert.rejects(recontribute, (e) => decodeRevert(e)?.name === 'TaskNotActive');
  const mid = await net.hub.getTask(taskId);
  assert.equal(Number(mid.revealCount), 2, 'refusals changed nothing');
  assert.equal(Number((await net.hub.getAssignment(taskId, a3)).status), 2, 'victim still committed, not revealed');

  // kill -9 between commit and reveal; the restart resumes from its journal, reveals, and dies
  // again the instant the reveal is mined, before journaling it
  await net.executors.get(3)!.stop('SIGKILL');
  const crashing = await net.startExecutor(3, { behaviour: 'crash-after-reveal' });
  await waitFor('victim killed after its reveal was mined', async () => crashing.child.signalCode === 'SIGKILL', 30_000);
  assert.equal(Number((await net.hub.getAssignment(taskId, a3)).status), 3, 'the reveal is on chain');
  assert.ok(!net.journal(3).some((e) => e.task === String(taskId) && e.t === 'revealed'), 'and not in the journal');
  // a plain restart finds its reveal on chain and journals that transaction (the lookup once sent
  // the task id as odd-length hex, which ethers refuses: the step retried forever)
  const restarted = await net.startExecutor(3);
  const done = await net.waitStatus(taskId, 3, 60_000);
  assert.equal(done.result, digest);
  const logs = await net.taskLogs(taskId);
  assert.ok(logs.some((l) => l.name === 'Revealed' && l.args.executor === a3), 'victim revealed after restart');
  assert.ok(logs.some((l) => l.name === 'Paid' && l.args.to === a3 && Number(l.args.kind) === 0), 'and was paid');
  assert.equal(logs.filter((l) => l.name === 'Slashed').length, 0);
  // the chain shows the reveal (and the settlement) before the agent has read its receipt and
  // journaled it: wait for the journal, then check what it did
  await waitFor('victim journal revealed', async () => net.journal(3).some((e) => e.task === String(taskId) && e.t === 'revealed'), 20_000);
  const steps = net.journal(3).filter((e) => e.task === String(taskId)).map((e) => e.t);
  assert.deepEqual(steps.filter((s) => s === 'ran').length, 1, 'ran exactly once across the crash');
  assert.ok(steps.includes('committed') && steps.includes('revealed'), steps.join(','));
  const revealTx = logs.find((l) => l.name === 'Revealed' && l.args.executor === a3)!.transactionHash;
  const revealed = net.journal(3).filter((e) => e.task === String(taskId) && e.t === 'revealed');
  assert.equal(revealed.length, 1);
  assert.equal(revealed[0].tx, revealTx, 'the journal holds the reveal found on chain');
  for (const agent of [crashing, restarted]) assert.doesNotMatch(agent.output(), /"task ran"/, 'no restart ran the task again');
  assert.doesNotMatch(restarted.output(), /"result revealed"|task step failed/, 'the plain restart sent no reveal and no step failed');
  await waitFor('victim journal done', async () => net.journal(3).some((e) => e.task === String(taskId) && e.t === 'done'), 20_000);
});

test('an executor declares its ask and capacity at start (once), `market` quotes them, and a task paying less than the ask goes to the others', async () => {
  const pricey = net.executors.get(2)!;
  await pricey.stop();
  const args = ['--withdraw-every', '1', '--ask', '0:0.2', '--capacity', '2'];
  const restarted = await net.startExecutor(2, { args });
  assert.match(restarted.output(), /"offer declared"/);
  const [asks, capacity, declared] = await net.hub.offerOf(pricey.address);
  assert.deepEqual([[...asks], capacity, declared], [[parseEther('0.2'), 0n, 0n, 0n], 2n, true]);
  // the same flags again: nothing to declare, no transaction
  await restarted.stop();
  const again = await net.startExecutor(2, { args });
  assert.doesNotMatch(again.output(), /"offer declared"/);

  // 0.05 app fee + 2 replicas × 0.01: the executor asking 0.2 is priced out, the two others fit
  const q = await net.cli(['market', '--app', echoApp, '--replicas', '2', '--price', '0.07', '--json', '--rpc', net.node.url]);
  assert.equal(q.code, 0, q.stderr);
  const m = JSON.parse(q.stdout);
  const mine = m.executors.find((e: { executor: string }) => e.executor === pricey.address);
  assert.deepEqual([mine.asks, mine.capacity.total, mine.declared], [[String(parseEther('0.2')), '0', '0', '0'], 2, true]);
  assert.deepEqual([m.quote.rewardPerReplica, m.quote.fitting, m.quote.pricedOut], [String(parseEther('0.01')), 2, 1]);
  assert.equal(m.quote.rewardForReplicas, String(parseEther('0.001')), 'two executors ask nothing: the Hub minimum');
  const { taskId } = await net.request(REQUESTER, { app: echoApp, input: 'cheap', trust: 3, replicas: [2, 2], escrow: parseEther('0.07'), maxPrice: parseEther('0.05') });
  await net.waitStatus(taskId, 3);
  const assignees = (await net.hub.taskAssignees(taskId)) as string[];
  assert.equal(assignees.length, 2);
  assert.ok(!assignees.includes(pricey.address), 'priced out: never drawn');
  // paying 0.2 per replica reaches it: a 3-replica task now needs all three
  const rich = await net.request(REQUESTER, { app: echoApp, input: 'rich', trust: 5, replicas: [3, 3], escrow: parseEther('0.65'), maxPrice: parseEther('0.05') });
  await net.waitStatus(rich.taskId, 3);
  assert.ok(((await net.hub.taskAssignees(rich.taskId)) as string[]).includes(pricey.address));
  const paid = (await net.taskLogs(rich.taskId)).filter((l) => l.name === 'Paid' && Number(l.args.kind) === 0 && l.args.to === pricey.address);
  assert.ok(paid.reduce((s, l) => s + (l.args.amount as bigint), 0n) >= parseEther('0.2'), 'paid at least its ask');
});

test('a private pool from the CLI: the owner lists two executors, they join with --pool, a task submitted to the pool runs on them only and pays the owner its fee', async () => {
  const created = await net.cli(['pool', 'create', '--fee', '10', '--json', '--rpc', net.node.url, '--key-file', net.keyFile(OWNER)]);
  assert.equal(created.code, 0, created.stderr);
  const pool = JSON.parse(created.stdout).pool as string;
  const members = [1, 3];
  for (const i of members) {
    const r = await net.cli(['pool', 'add', pool, net.executors.get(i)!.address, '--json', '--rpc', net.node.url, '--key-file', net.keyFile(OWNER)]);
    assert.equal(r.code, 0, r.stderr);
  }
  for (const i of members) {
    await net.executors.get(i)!.stop();
    const again = await net.startExecutor(i, { args: ['--withdraw-every', '1', '--pool', pool] });
    assert.match(again.output(), /"joined a private pool"/);
  }
  const shown = JSON.parse((await net.cli(['pool', 'show', pool, '--json', '--rpc', net.node.url])).stdout);
  assert.deepEqual([shown.owner, shown.feeBps, shown.members], [net.wallet(OWNER).address, 1000, 2]);
  const q = JSON.parse((await net.cli(['market', '--app', echoApp, '--replicas', '2', '--price', '0.25', '--pool', pool, '--json', '--rpc', net.node.url])).stdout);
  assert.deepEqual([q.quote.fitting, q.quote.outsidePool], [2, 1]);

  // escrow 0.25: app fee 0.05, pool fee 10% of 0.2 = 0.02, reward 0.18 for two replicas
  const r = await net.cli(['task', 'submit', '--app', echoApp, '--input', 'members only', '--trust', '3', '--replicas', '2..2', '--price', '0.25', '--pool', pool, '--wait', '--json', '--rpc', net.node.url, '--key-file', net.keyFile(REQUESTER)]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.status, 'completed');
  const assignees = (await net.hub.taskAssignees(BigInt(out.taskId))) as string[];
  assert.deepEqual([...assignees].sort(), members.map((i) => net.executors.get(i)!.address).sort());
  const paid = (await net.taskLogs(BigInt(out.taskId))).filter((l) => l.name === 'Paid');
  assert.deepEqual(paid.filter((l) => Number(l.args.kind) === 3).map((l) => [l.args.to, l.args.amount]), [[net.wallet(OWNER).address, parseEther('0.02')]]);
  assert.equal(paid.filter((l) => Number(l.args.kind) === 0).reduce((s, l) => s + (l.args.amount as bigint), 0n), parseEther('0.18'));
});
