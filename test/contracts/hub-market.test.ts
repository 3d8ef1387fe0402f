/**
 * The market against griefing, on a real anvil with 256 staked executors (a full active list):
 * - the attack (one 16-replica and thirteen 32-replica tasks at the highest trust, now at
 *   the least escrow the Hub accepts, and silent executors) never makes a system call revert, and
 *   honest tasks submitted during the attack complete;
 * - a search over task mixes and system-call gas limits: schedule() and finalize() never revert,
 *   whatever gas they are given, and the cursor always moves;
 * - a full active list evicts its lowest stake; one heavy executor never decides alone unless the
 *   request allows it; a declined assignment is topped up at once; a bag of tasks is one request;
 * - the pool's gas bound holds at 256 executors with offers: a schedule() given just enough gas to
 *   load the pool never reverts;
 * - offers: an executor asking more than a task's reward per replica is never drawn for it and is
 *   for a richer one; one at capacity waits until an assignment settles or is declined; a winner
 *   is paid at least its ask.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startHubFixture, type HubFixture, type Receipt } from './hub-fixture.ts';
import * as poc from '../../consensus/poc/index.ts';
import { HUB_ADDRESS, SYSTEM_ADDRESS, resultHash, resultSeal } from '../../consensus/poc/index.ts';

const ETH = 10n ** 18n;
const ZERO32 = '0x' + '00'.repeat(32);
const ZERO20 = '0x' + '00'.repeat(20);
const APP = '0x' + 'a9'.repeat(32);
const GOOD = '0x' + '60'.repeat(32);
const N = poc.MAX_EXECUTORS;

let f: HubFixture;
let owner: string, attacker: string, requester: string, newcomer: string;
let executors: string[];
let base: string;
let worstSchedule = 0n;

before(async () => {
  f = await startHubFixture(N + 8);
  [owner, attacker, requester, newcomer] = f.accounts as [string, string, string, string];
  executors = f.accounts.slice(4, 4 + N);
  // stakes 2.000, 2.001, … coins: distinct, so the lowest is well defined
  for (const [i, e] of executors.entries()) {
    assert.equal((await f.stakingTx(e, 'stakeExecutor', [], 2n * ETH + BigInt(i) * 10n ** 15n)).status, 1);
  }
  assert.equal((await f.stakingView('activeCount'))[0], BigInt(N));
  // category 1: T = 20 blocks, so deadlines outlast the test's bursts of blocks
  assert.equal((await f.hubTx(owner, 'registerApp', [APP, 0n, 1, 'ipfs://app'])).status, 1);
  base = await f.snapshot();
});

after(() => f?.stop());

const least = (replicas: number) => BigInt(replicas) * poc.MIN_REWARD_PER_REPLICA;

test('a full bag of 256 short inputs is one request in one block\'s gas', async () => {
  await f.revert(base);
  base = await f.snapshot();
  const inputs = Array.from({ length: poc.MAX_BAG }, (_, k) => '0x' + k.toString(16).padStart(8, '0'));
  const spec = [APP, ZERO32, 5n, 3n, 3n, 0n, ZERO20, 0n];
  const r = await f.hubTx(requester, 'requestTasks', [spec, inputs], BigInt(poc.MAX_BAG) * least(3));
  assert.equal(r.status, 1);
  assert.ok(r.gasUsed < poc.SYSTEM_CALL_GAS, `requestTasks of ${poc.MAX_BAG}: ${r.gasUsed} gas`);
  assert.equal(((await f.hubView('openTasks'))[0] as bigint[]).length, poc.MAX_BAG);
  console.log(`bag of ${poc.MAX_BAG}: requestTasks ${r.gasUsed} gas, ${r.gasUsed / BigInt(poc.MAX_BAG)} per task`);
});

async function request(from: string, trust: bigint, min: number, max: number, value = least(max)): Promise<bigint> {
  const r = await f.hubTx(from, 'requestTask', [APP, ZERO32, '0x', trust, BigInt(min), BigInt(max), 0n, ZERO20], value);
  assert.equal(r.status, 1, 'request accepted');
  return BigInt(f.parseLogs(r).find((l) => l.name === 'TaskRequested')!.args[0]);
}

/** A system call with a given gas limit; it must never revert. */
async function system(fn: 'schedule' | 'finalize', args: unknown[], gas = poc.SYSTEM_CALL_GAS): Promise<Receipt> {
  const r = await f.send(SYSTEM_ADDRESS, HUB_ADDRESS, f.hub.encodeFunctionData(fn, args), 0n, gas);
  assert.equal(r.status, 1, `${fn} with ${gas} gas reverted`);
  if (fn === 'schedule' && gas === poc.SYSTEM_CALL_GAS && r.gasUsed > worstSchedule) worstSchedule = r.gasUsed;
  return r;
}

function assignedIn(r: Receipt): Map<bigint, string[]> {
  const out = new Map<bigint, string[]>();
  for (const l of f.parseLogs(r)) {
    if (l.name !== 'TaskAssigned') continue;
    const id = BigInt(l.args[0]);
    out.set(id, [...(out.get(id) ?? []), String(l.args[1]).toLowerCase()]);
  }
  return out;
}

const status = async (id: bigint) => Number((await f.hubView('getTask', [id]))[0].status);
const openCount = async () => ((await f.hubView('openTasks'))[0] as bigint[]).length;

test('the issue\'s attack never makes a system call revert, and honest tasks complete meanwhile', { timeout: 300_000 }, async () => {
  await f.revert(base);
  base = await f.snapshot();
  // the largest capacity for everyone: the most draws the attack can get (the default, 8 open
  // assignments each, would cap it at 2,048 assignments in all)
  for (const e of executors) assert.equal((await f.hubTx(e, 'setOffer', [[0n, 0n, 0n, 0n], BigInt(poc.MAX_CAPACITY)])).status, 1);
  // the attack: 1 × 16 replicas + 13 × 32 replicas at the highest trust, at the least escrow (paid)
  const attack = [await request(attacker, poc.MAX_TRUST, 16, 16)];
  for (let i = 0; i < 13; i++) attack.push(await request(attacker, poc.MAX_TRUST, 32, 32));
  // three more copies of the pattern, to outlast one call's gas many times over
  for (let i = 0; i < 42; i++) attack.push(await request(attacker, poc.MAX_TRUST, 32, 32));
  const honest = [await request(requester, 5n, 3, 3, ETH / 10n), await request(requester, 5n, 3, 3, ETH / 10n)];
  const assigned = new Map<bigint, string[]>();
  let blocks = 0;
  while ((await status(honest[0]!)) !== poc.TaskStatus.Completed || (await status(honest[1]!)) !== poc.TaskStatus.Completed) {
    assert.ok(++blocks <= 12, 'honest tasks complete within 12 blocks of the attack');
    const r = await system('schedule', [BigInt(blocks) * 7919n]);
    for (const [id, xs] of assignedIn(r)) assigned.set(id, [...(assigned.get(id) ?? []), ...xs]);
    // honest executors answer honest tasks; the attacker's executors (sybils) stay silent
    for (const id of honest) {
      if ((await status(id)) !== poc.TaskStatus.Active) continue;
      for (const e of assigned.get(id) ?? []) {
        if (Number((await f.hubView('getAssignment', [id, e]))[0].status) !== poc.AssignmentStatus.Assigned) continue;
        if ((await status(id)) !== poc.TaskStatus.Active) break;
        assert.equal((await f.hubTx(e, 'contribute', [id, resultHash(id, GOOD), resultSeal(e, id, GOOD)])).status, 1);
      }
      if ((await status(id)) === poc.TaskStatus.Revealing) {
        for (const e of assigned.get(id)!) assert.equal((await f.hubTx(e, 'reveal', [id, GOOD])).status, 1);
      }
    }
    await system('finalize', []);
  }
  // every attacking task gets executors too, in the next calls at the latest: the cursor never
  // stalls (a round cut short by the gas rule keeps what it drew, topped up once it expires)
  const after = blocks;
  while (attack.some((id) => !assigned.has(id))) {
    assert.ok(++blocks <= 2 * after + 4, 'every attack task is scheduled');
    const r = await system('schedule', [BigInt(blocks) * 7919n]);
    for (const [id, xs] of assignedIn(r)) assigned.set(id, [...(assigned.get(id) ?? []), ...xs]);
  }
  // and the silent ones pay for it once the attack expires: the requester's escrow comes back
  // with their expiry penalties, no system call reverts while settling 56 tasks of 30 executors
  await f.mine(10n * 20n + 1n);
  for (let i = 0; (await openCount()) > 0; i++) {
    assert.ok(i < 10, 'the attack settles within 10 finalize calls');
    await system('finalize', []);
  }
  const silent = attack.reduce((s, id) => s + BigInt(assigned.get(id)!.length), 0n);
  const escrow = least(16) + 55n * least(32);
  assert.equal((await f.hubView('withdrawable', [attacker]))[0], escrow + silent * poc.EXPIRY_PENALTY);
  console.log(`attack: ${attack.length} tasks, ${silent} silent assignments, honest done after ${after} blocks, all scheduled after ${blocks}; worst schedule ${worstSchedule} gas`);
});

test('search: schedule() and finalize() never revert at any gas limit, and the cursor always moves', { timeout: 600_000 }, async () => {
  const taskArb = fc.record({
    trust: fc.oneof(fc.constant(poc.MAX_TRUST), fc.bigInt({ min: 1n, max: poc.MAX_TRUST })),
    min: fc.integer({ min: 1, max: 32 }),
    extra: fc.integer({ min: 0, max: 31 }),
  });
  const scenario = fc.record({
    tasks: fc.array(taskArb, { minLength: 1, maxLength: 40 }),
    heavy: fc.array(fc.integer({ min: 0, max: N - 1 }), { maxLength: 8 }),
    gas: fc.array(fc.bigInt({ min: 200_000n, max: poc.SYSTEM_CALL_GAS }), { minLength: 3, maxLength: 6 }),
  });
  let calls = 0;
  await fc.assert(
    fc.asyncProperty(scenario, async (sc) => {
      await f.revert(base);
      base = await f.snapshot();
      for (const i of sc.heavy) await f.setScore(executors[i]!, 3n * 2n ** 40n);
      for (const t of sc.tasks) {
        const max = Math.min(32, t.min + t.extra);
        await request(attacker, t.trust, t.min, max);
      }
      // starved calls first: each must stop cleanly; then full calls must make progress
      for (const gas of sc.gas) {
        const before = (await f.hubView('scheduleCursor'))[0];
        const r = await system('schedule', [gas], gas);
        calls++;
        if (gas >= 13_000_000n) {
          const moved = (await f.hubView('scheduleCursor'))[0] !== before || assignedIn(r).size > 0 || (await openCount()) <= poc.SCHEDULE_SCAN;
          assert.ok(moved, `schedule with ${gas} gas made progress`);
        }
      }
      await system('schedule', [1n]);
      await f.mine(10n * 20n + 1n);
      for (const gas of sc.gas) await system('finalize', [], gas);
      for (let i = 0; (await openCount()) > 0; i++) {
        assert.ok(i < 10, 'everything settles');
        await system('finalize', []);
      }
    }),
    { numRuns: 8, seed: Number(process.env.POC_SEED ?? 20261201) },
  );
  assert.ok(calls >= 24);
  console.log(`worst schedule() at ${N} executors: ${worstSchedule} gas (limit ${poc.SYSTEM_CALL_GAS})`);
});

test('a full active list evicts its lowest stake, and only for a larger one', async () => {
  await f.revert(base);
  base = await f.snapshot();
  const lowest = executors[0]!; // 2.000 coins
  const data = f.staking.encodeFunctionData('stakeExecutor');
  assert.equal((await f.revertOf(newcomer, poc.STAKING_ADDRESS, data, 2n * ETH))?.name, 'TooManyExecutors', 'an equal stake is refused');
  const r = await f.stakingTx(newcomer, 'stakeExecutor', [], 2n * ETH + 1n);
  assert.equal(r.status, 1);
  const ev = f.parseLogs(r).find((l) => l.name === 'Evicted')!;
  assert.deepEqual([String(ev.args[0]).toLowerCase(), String(ev.args[1]).toLowerCase()], [lowest, newcomer]);
  const active = ((await f.stakingView('activeExecutors'))[0] as string[]).map((x) => x.toLowerCase());
  assert.equal(active.length, N);
  assert.ok(active.includes(newcomer) && !active.includes(lowest));
  const [stake, , , , isActive] = await f.stakingView('executorInfo', [lowest]);
  assert.deepEqual([stake, isActive], [2n * ETH, false], 'the evicted executor keeps its stake');
  // it comes back by staking above the new lowest (the newcomer, 2 coins + 1 wei), evicting it
  assert.equal((await f.stakingTx(lowest, 'stakeExecutor', [], 2n)).status, 1);
  const again = ((await f.stakingView('activeExecutors'))[0] as string[]).map((x) => x.toLowerCase());
  assert.ok(again.includes(lowest) && !again.includes(newcomer));
});

test('one heavy executor never meets the trust alone unless the request allows it (FLAG_SOLO)', async () => {
  await f.revert(base);
  base = await f.snapshot();
  const star = executors[7]!;
  await f.setScore(star, 3n * 2n ** 33n); // sampling weight 2^32: drawn first with near certainty
  const id = await request(requester, 100n, 1, 8);
  const got = assignedIn(await system('schedule', [5n])).get(id)!;
  assert.equal(got[0], star);
  assert.equal(got.length, 2, 'capped at trust − 1 = 99, the star needs one more executor');
  assert.equal((await f.hubTx(star, 'contribute', [id, resultHash(id, GOOD), resultSeal(star, id, GOOD)])).status, 1);
  assert.equal(await status(id), poc.TaskStatus.Active, 'alone it does not decide');
  assert.equal((await f.hubView('taskWeight', [3n * 2n ** 33n, 100n, 0n]))[0], 99n);
  const other = got[1]!;
  assert.equal((await f.hubTx(other, 'contribute', [id, resultHash(id, GOOD), resultSeal(other, id, GOOD)])).status, 1);
  assert.equal(await status(id), poc.TaskStatus.Revealing);

  const spec = [APP, ZERO32, 100n, 1n, 8n, 0n, ZERO20, BigInt(poc.FLAG_SOLO)];
  const r = await f.hubTx(requester, 'requestTasks', [spec, ['0x']], least(8));
  assert.equal(r.status, 1);
  const solo = BigInt(f.parseLogs(r).find((l) => l.name === 'TaskRequested')!.args[0]);
  assert.deepEqual(assignedIn(await system('schedule', [6n])).get(solo), [star], 'allowed: the star alone');
  assert.equal((await f.hubTx(star, 'contribute', [solo, resultHash(solo, GOOD), resultSeal(star, solo, GOOD)])).status, 1);
  assert.equal(await status(solo), poc.TaskStatus.Revealing);
});

test('a declined assignment releases the lock at once and is topped up by the next schedule', async () => {
  await f.revert(base);
  base = await f.snapshot();
  const id = await request(requester, 5n, 3, 6);
  const first = assignedIn(await system('schedule', [9n])).get(id)!;
  assert.equal(first.length, 3);
  const quitter = first[0]!;
  const r = await f.hubTx(quitter, 'decline', [id]);
  assert.equal(r.status, 1);
  assert.equal((await f.stakingView('executorInfo', [quitter]))[1], 0n, 'lock released');
  for (const e of first.slice(1)) assert.equal((await f.hubTx(e, 'contribute', [id, resultHash(id, GOOD), resultSeal(e, id, GOOD)])).status, 1);
  const more = assignedIn(await system('schedule', [10n])).get(id)!;
  assert.equal(more.length, 1, 'one newcomer completes the vote (8·5 > 9·4)');
  assert.ok(!first.includes(more[0]!));
  assert.equal((await f.revertOf(quitter, HUB_ADDRESS, f.hub.encodeFunctionData('decline', [id])))?.name, 'AlreadyContributed');
});

test('a bag: one request, one escrow split evenly, each task scheduled, voted and paid on its own; results read together', async () => {
  await f.revert(base);
  base = await f.snapshot();
  const inputs = ['0x01', '0x02', '0x03'];
  const each = ETH / 100n;
  const spec = [APP, ZERO32, 5n, 3n, 3n, 0n, ZERO20, 0n];
  const r = await f.hubTx(requester, 'requestTasks', [spec, inputs], 3n * each);
  assert.equal(r.status, 1);
  const logs = f.parseLogs(r);
  const job = logs.find((l) => l.name === 'JobRequested')!;
  const first = BigInt(job.args[2]);
  assert.deepEqual([String(job.args[1]).toLowerCase(), job.args[3], job.args[4]], [requester, 3n, each]);
  const rec = (await f.hubView('getJob', [job.args[0]]))[0];
  assert.deepEqual([rec.firstTask, rec.count, rec.escrow], [first, 3n, each]);
  console.log(`bag of 3: requestTasks ${r.gasUsed} gas`);
  const ids = [first, first + 1n, first + 2n];
  assert.deepEqual(logs.filter((l) => l.name === 'TaskRequested').map((l) => [BigInt(l.args[0]), l.args[4]]), ids.map((id) => [id, each]));
  for (const [i, id] of ids.entries()) assert.equal((await f.hubView('taskInput', [id]))[0], inputs[i]);
  const got = assignedIn(await system('schedule', [11n]));
  for (const id of ids) {
    const xs = got.get(id)!;
    assert.equal(xs.length, 3);
    const d = '0x' + id.toString(16).padStart(64, '0');
    for (const e of xs) assert.equal((await f.hubTx(e, 'contribute', [id, resultHash(id, d), resultSeal(e, id, d)])).status, 1);
    for (const e of xs) assert.equal((await f.hubTx(e, 'reveal', [id, d])).status, 1);
  }
  const fin = f.parseLogs(await system('finalize', []));
  for (const id of ids) {
    const paid = fin.filter((l) => l.name === 'Paid' && BigInt(l.args[0]) === id).reduce((s, l) => s + (l.args[2] as bigint), 0n);
    assert.equal(paid, each, `task ${id} paid its own escrow`);
  }
  const [statuses, results] = await f.hubView('taskResults', [first, 3n]);
  assert.deepEqual([...statuses].map(Number), [3, 3, 3]);
  assert.deepEqual([...results], ids.map((id) => '0x' + id.toString(16).padStart(64, '0')));
});

test('POOL_GAS bounds loading the pool at 256 executors with offers and scores: a schedule() starved around it never reverts', { timeout: 300_000 }, async () => {
  await f.revert(base);
  base = await f.snapshot();
  // every slot the pool reads is set (a declared offer and a score for each executor)
  for (const [i, e] of executors.entries()) {
    await f.setScore(e, 5n + BigInt(i));
    assert.equal((await f.hubTx(e, 'setOffer', [[0n, 0n, 0n, 0n], 8n])).status, 1);
  }
  await request(requester, 1n, 1, 1);
  // each gas limit as an eth_call from SYSTEM_ADDRESS: the same gasleft() as the system call, with
  // no block mined and no snapshot to revert (the earlier version, a mined call and an evm_revert
  // per limit, once waited 20 s for a receipt anvil never gave). From POOL_GAS − 100k (stops before
  // loading) through loading the pool (3.16 M) to the first draw (≈ 4.35 M): none may revert.
  const data = f.hub.encodeFunctionData('schedule', [3n]);
  let calls = 0;
  for (let gas = poc.POOL_GAS - 100_000n; gas <= poc.POOL_GAS + 1_600_000n; gas += 50_000n) {
    try {
      await f.rpc('eth_call', [{ from: SYSTEM_ADDRESS, to: HUB_ADDRESS, data, gas }, 'latest']);
      calls++;
    } catch (e) {
      assert.fail(`schedule() with ${gas} gas reverted: ${(e as Error).message}`);
    }
  }
  assert.equal(calls, 35);
  // a limit below what loading costs does revert as an eth_call: the sweep would see a wrong bound
  await assert.rejects(f.rpc('eth_call', [{ from: SYSTEM_ADDRESS, to: HUB_ADDRESS, data: f.hub.encodeFunctionData('finalize', []), gas: 21_100n }, 'latest']));
  assert.equal(assignedIn(await system('schedule', [3n])).size, 1, 'with the full gas the task is assigned');
});

test('offers: a priced-out executor is skipped, an executor at capacity waits for a settlement or a decline, and winners get at least their ask', async () => {
  await f.revert(base);
  base = await f.snapshot();
  // everyone but three asks far more than these tasks pay; the three have capacity 1
  const [cheap, mid, capped] = [executors[10]!, executors[20]!, executors[30]!];
  for (const e of executors) {
    if (e === cheap || e === mid || e === capped) continue;
    assert.equal((await f.hubTx(e, 'setOffer', [[ETH, ETH, ETH, ETH], 64n])).status, 1);
  }
  const ask = 3n * 10n ** 15n; // 0.003 per replica in category 1, free elsewhere
  for (const e of [cheap, mid, capped]) assert.equal((await f.hubTx(e, 'setOffer', [[0n, ask, 0n, 0n], 1n])).status, 1);
  assert.deepEqual((await f.hubView('offerOf', [cheap])).map((x: unknown) => (Array.isArray(x) ? [...x] : x)), [[0n, ask, 0n, 0n], 1n, true]);
  assert.equal((await f.revertOf(cheap, HUB_ADDRESS, f.hub.encodeFunctionData('setOffer', [[0n, ask + 1n, 0n, 0n], 1n])))?.name, 'InvalidAsk');
  assert.equal((await f.revertOf(cheap, HUB_ADDRESS, f.hub.encodeFunctionData('setOffer', [[0n, 0n, 0n, 0n], 65n])))?.name, 'InvalidCapacity');

  // reward per replica 0.002 < ask: nobody fits, the task waits (and is not assigned to anyone)
  const poor = await request(requester, 1n, 3, 3, 3n * 2n * 10n ** 15n);
  assert.equal(assignedIn(await system('schedule', [21n])).get(poor), undefined, 'priced out: nobody drawn');
  // reward per replica exactly the ask: the three are drawn, each takes its one slot
  const fair = await request(requester, 5n, 3, 3, 3n * ask);
  const got = assignedIn(await system('schedule', [22n])).get(fair)!;
  assert.deepEqual([...got].sort(), [cheap, mid, capped].sort());
  // a second fair task finds them all at capacity
  const next = await request(requester, 5n, 3, 3, 3n * ask);
  assert.equal(assignedIn(await system('schedule', [23n])).get(next), undefined, 'at capacity: nobody drawn');
  // one declines: its slot frees at once and the next schedule draws it for the waiting task
  assert.equal((await f.hubTx(capped, 'decline', [fair])).status, 1);
  assert.deepEqual(assignedIn(await system('schedule', [24n])).get(next), [capped]);
  // the other two vote on `fair`: two newcomers do not meet trust 5, and no third executor fits
  assert.equal((await f.hubTx(cheap, 'contribute', [fair, resultHash(fair, GOOD), resultSeal(cheap, fair, GOOD)])).status, 1);
  assert.equal((await f.hubTx(mid, 'contribute', [fair, resultHash(fair, GOOD), resultSeal(mid, fair, GOOD)])).status, 1);
  assert.equal(await status(fair), poc.TaskStatus.Active, 'two newcomers do not meet trust 5');
  // contributing does not free a slot: an assignment is open until its task settles
  assert.equal(assignedIn(await system('schedule', [25n])).get(next), undefined);
  await f.mine(10n * 20n + 1n);
  await system('finalize', []);
  assert.equal(await status(fair), poc.TaskStatus.Failed);
  // every task settled (failed): the three have room again, and a new task paying 0.0035 per replica gets two
  const last = await request(requester, 3n, 2, 2, 2n * ask + 10n ** 15n);
  const drawn = assignedIn(await system('schedule', [26n])).get(last)!;
  assert.equal(drawn.length, 2);
  assert.ok(drawn.every((e) => [cheap, mid, capped].includes(e)));
  for (const e of drawn) assert.equal((await f.hubTx(e, 'contribute', [last, resultHash(last, GOOD), resultSeal(e, last, GOOD)])).status, 1);
  for (const e of drawn) assert.equal((await f.hubTx(e, 'reveal', [last, GOOD])).status, 1);
  const paid = f.parseLogs(await system('finalize', [])).filter((l) => l.name === 'Paid' && BigInt(l.args[0]) === last && Number(l.args[3]) === 0);
  const per = new Map<string, bigint>();
  for (const l of paid) per.set(String(l.args[1]).toLowerCase(), (per.get(String(l.args[1]).toLowerCase()) ?? 0n) + (l.args[2] as bigint));
  assert.equal(per.size, 2);
  for (const [e, v] of per) assert.ok(v >= ask, `${e} paid ${v}, at least its ask ${ask}`);
  assert.equal([...per.values()].reduce((a, b) => a + b, 0n), 2n * ask + 10n ** 15n, 'the whole reward is paid');
});

test('private pools: listed executors that joined take the pool\'s tasks alone, the owner gets its fee, offers and membership are independent', async () => {
  await f.revert(base);
  base = await f.snapshot();
  const poolOwner = newcomer;
  const r = await f.hubTx(poolOwner, 'createPool', [500n]); // 5%
  assert.equal(r.status, 1);
  const pool = BigInt(f.parseLogs(r).find((l) => l.name === 'PoolCreated')!.args[0]);
  assert.equal((await f.revertOf(poolOwner, HUB_ADDRESS, f.hub.encodeFunctionData('createPool', [2001n])))?.name, 'InvalidPoolFee');
  const [m1, m2, m3, listedOnly, outsider] = [executors[3]!, executors[50]!, executors[100]!, executors[150]!, executors[200]!];
  for (const e of [m1, m2, m3, listedOnly]) assert.equal((await f.hubTx(poolOwner, 'setPoolMember', [pool, e, true])).status, 1);
  assert.equal((await f.revertOf(requester, HUB_ADDRESS, f.hub.encodeFunctionData('setPoolMember', [pool, outsider, true])))?.name, 'NotPoolOwner');
  assert.equal((await f.revertOf(outsider, HUB_ADDRESS, f.hub.encodeFunctionData('joinPool', [pool])))?.name, 'NotInvited');
  // an offer declared before and after joining survives the membership, and the membership the offer
  assert.equal((await f.hubTx(m1, 'setOffer', [[0n, 10n ** 15n, 0n, 0n], 5n])).status, 1);
  for (const e of [m1, m2, m3]) assert.equal((await f.hubTx(e, 'joinPool', [pool])).status, 1);
  assert.equal((await f.hubTx(m2, 'setOffer', [[0n, 0n, 0n, 0n], 3n])).status, 1);
  assert.deepEqual([(await f.hubView('poolOf', [m1]))[0], (await f.hubView('poolOf', [m2]))[0], (await f.hubView('poolOf', [listedOnly]))[0]], [pool, pool, 0n]);
  assert.deepEqual((await f.hubView('offerOf', [m1])).map((x: unknown) => (Array.isArray(x) ? [...x] : x)), [[0n, 10n ** 15n, 0n, 0n], 5n, true]);
  assert.equal((await f.hubView('offerOf', [m3]))[2], false, 'joining is not declaring an offer');

  // a pool task: 3 replicas at trust 5 among 256 executors, drawn from the three members only
  const spec = [APP, ZERO32, 5n, 3n, 3n, 0n, ZERO20, 0n];
  const escrow = 3n * 10n ** 16n; // pool fee 5% = 0.0015, reward 0.0285
  assert.equal((await f.revertOf(requester, HUB_ADDRESS, f.hub.encodeFunctionData('requestTasksInPool', [spec, ['0x01'], pool + 1n]), escrow))?.name, 'UnknownPool');
  const rq = await f.hubTx(requester, 'requestTasksInPool', [spec, ['0x01'], pool], escrow);
  assert.equal(rq.status, 1);
  const id = BigInt(f.parseLogs(rq).find((l) => l.name === 'TaskRequested')!.args[0]);
  const t = (await f.hubView('getTask', [id]))[0];
  assert.deepEqual([t.pool, t.poolFee], [pool, 15n * 10n ** 14n]);
  const got = assignedIn(await system('schedule', [31n])).get(id)!;
  assert.deepEqual([...got].sort(), [m1, m2, m3].sort());
  for (const e of got) assert.equal((await f.hubTx(e, 'contribute', [id, resultHash(id, GOOD), resultSeal(e, id, GOOD)])).status, 1);
  for (const e of got) assert.equal((await f.hubTx(e, 'reveal', [id, GOOD])).status, 1);
  const paid = f.parseLogs(await system('finalize', [])).filter((l) => l.name === 'Paid' && BigInt(l.args[0]) === id);
  const fee = paid.filter((l) => Number(l.args[3]) === poc.PayKind.PoolFee);
  assert.deepEqual(fee.map((l) => [String(l.args[1]).toLowerCase(), l.args[2]]), [[poolOwner, 15n * 10n ** 14n]]);
  assert.equal(paid.reduce((s, l) => s + (l.args[2] as bigint), 0n), escrow, 'rewards + pool fee = escrow');
  for (const l of paid.filter((l) => Number(l.args[3]) === 0)) assert.ok((l.args[2] as bigint) >= (escrow - 15n * 10n ** 14n) / 3n - 1n);

  // members still take public tasks; a delisted member leaves at once, and a pool task with no
  // member left waits
  assert.equal((await f.hubTx(poolOwner, 'setPoolMember', [pool, m1, false])).status, 1);
  assert.equal((await f.hubView('poolOf', [m1]))[0], 0n);
  for (const e of [m2, m3]) assert.equal((await f.hubTx(e, 'joinPool', [0n])).status, 1);
  const rq2 = await f.hubTx(requester, 'requestTasksInPool', [spec, ['0x02'], pool], escrow);
  const id2 = BigInt(f.parseLogs(rq2).find((l) => l.name === 'TaskRequested')!.args[0]);
  assert.equal(assignedIn(await system('schedule', [32n])).get(id2), undefined, 'no member: nobody drawn');
});
