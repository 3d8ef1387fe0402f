/**
 * Property: Hub + Staking on a real anvil behave exactly like the TypeScript reference model
 * (consensus/poc/market.ts). fast-check generates executor populations — small ones, and large
 * ones of 200 to 260 stakers that fill the 256-entry active list and evict — (honest, lazy that
 * let assignments expire, decliners, colluding on a common wrong result, lone wrong, silent
 * committers that never reveal), with random stakes and reputations up to saturating ones, a few
 * requests (single tasks or bags, with or without FLAG_SOLO, up to 32 replicas, sometimes from an
 * executor itself), random block randomness and random waits; every step runs on both, and every
 * assignment, refusal, payment, slash, refund, score, stake and task outcome must agree. After
 * every round the Hub holds exactly what it owes plus the escrow of open tasks.
 * Executors declare offers (asks per category above and below the requests' reward per replica,
 * capacities small enough to be exhausted and freed, some invalid, some changed mid-run, some
 * never declared): the draw must skip the same executors on both, and every winner is paid at
 * least the ask it had when it was drawn. Sometimes a private pool exists (fees 0..20%, or an
 * invalid one): the owner lists executors, some join, some were never listed, some are delisted;
 * tasks restricted to it are drawn from its members only and pay its owner its fee.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { keccak256, AbiCoder } from 'ethers';
import { startHubFixture, type HubFixture, type ParsedLog } from './hub-fixture.ts';
import { isPocError } from '../../lib/errors.ts';
import {
  HUB_ADDRESS, STAKING_ADDRESS, SYSTEM_ADDRESS, MarketModel, TaskStatus, AssignmentStatus, resultHash, resultSeal, FLAG_SOLO, MAX_EXECUTORS, MAX_INPUT_BYTES, WEIGHT_CAP,
  type ModelEvent,
} from '../../consensus/poc/index.ts';

const ETH = 10n ** 18n;
const APP = '0x' + 'a7'.repeat(32);
const DATASET = '0x' + 'd5'.repeat(32);
const ZERO32 = '0x' + '00'.repeat(32);
const ZERO20 = '0x' + '00'.repeat(20);
const APP_PRICE = 3n * 10n ** 15n;
const DATASET_PRICE = 10n ** 15n;
const abi = AbiCoder.defaultAbiCoder();

type Behaviour = 'honest' | 'lazy' | 'decline' | 'collude' | 'loner' | 'silent';

/** An offer: asks per category in 10^13 or 10^14 wei steps (the requests' rewards per replica span ~10^12..10^18), a capacity; sometimes invalid. */
const offerArb = fc.oneof(
  { weight: 3, arbitrary: fc.record({ asks: fc.array(fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 300n }).map((k) => k * 10n ** 13n), fc.bigInt({ min: 1n, max: 3000n }).map((k) => k * 10n ** 14n)), { minLength: 4, maxLength: 4 }), capacity: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 64 })) }) },
  { weight: 1, arbitrary: fc.record({ asks: fc.constant<bigint[]>([0n, 10n ** 9n + 1n, 0n, 0n]), capacity: fc.constantFrom(0, 65, 3) }) },
);

const executorArb = fc.record({
  stakeTenths: fc.integer({ min: 10, max: 40 }),
  score: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 30n }), fc.bigInt({ min: 100n, max: 400n }), fc.constant(2n ** 200n)),
  behaviour: fc.constantFrom<Behaviour>('honest', 'honest', 'lazy', 'decline', 'collude', 'loner', 'silent'),
  offer: fc.option(offerArb, { nil: undefined, freq: 3 }),
  poolRole: fc.constantFrom('none', 'none', 'member', 'member', 'listed', 'intruder', 'delisted'),
});
const taskArb = fc
  .record({
    trust: fc.constantFrom(1n, 2n, 3n, 5n, 10n, 100n, 1000n, 10n ** 9n),
    minReplicas: fc.integer({ min: 1, max: 3 }),
    extra: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 20, max: 31 })),
    escrowMilli: fc.integer({ min: 4, max: 2000 }),
    withDataset: fc.boolean(),
    solo: fc.boolean(),
    bag: fc.integer({ min: 1, max: 3 }),
    inPool: fc.constantFrom(false, false, true, true, 'unknown' as const),
    oversize: fc.constantFrom(false, false, false, false, false, true),
  })
  .map((t) => ({ ...t, maxReplicas: Math.min(32, t.minReplicas + t.extra) }));
/** Small populations, or large ones that fill the active list (and evict past 256). */
const populationArb = fc.oneof(
  { weight: 4, arbitrary: fc.array(executorArb, { minLength: 2, maxLength: 10 }) },
  { weight: 1, arbitrary: fc.array(executorArb, { minLength: 200, maxLength: MAX_EXECUTORS + 4 }) },
);
const scenarioArb = fc.record({
  executors: populationArb,
  selfRequest: fc.boolean(),
  poolFeeBps: fc.option(fc.constantFrom(0, 250, 2000, 2001), { nil: undefined, freq: 4 }),
  tasks: fc.array(taskArb, { minLength: 1, maxLength: 3 }),
  rounds: fc.array(
    fc.record({
      randomness: fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }),
      waitBeforeContribute: fc.constantFrom(0, 0, 0, 41),
      waitBeforeReveal: fc.constantFrom(0, 0, 0, 41),
      wait: fc.constantFrom(0, 0, 3, 41, 90),
      claim: fc.boolean(),
      reoffer: fc.option(fc.record({ who: fc.nat(), offer: offerArb }), { nil: undefined, freq: 2 }),
    }),
    { minLength: 3, maxLength: 6 },
  ),
});

let f: HubFixture;
let owner: string, requester: string, pool: string[], poolOwner: string;
let base: string;

before(async () => {
  f = await startHubFixture(MAX_EXECUTORS + 8);
  [owner, requester] = f.accounts as [string, string];
  poolOwner = f.accounts[MAX_EXECUTORS + 7]!;
  pool = f.accounts.slice(2, MAX_EXECUTORS + 6);
  assert.equal((await f.hubTx(owner, 'registerApp', [APP, APP_PRICE, 1, 'ipfs://app'])).status, 1);
  assert.equal((await f.hubTx(owner, 'registerDataset', [DATASET, DATASET_PRICE, 'ipfs://data'])).status, 1);
  base = await f.snapshot();
});

after(() => f?.stop());

const digestFor = (b: Behaviour, taskId: bigint, e: string) =>
  keccak256(abi.encode(['uint256', 'string'], [taskId, b === 'collude' ? 'wrong' : b === 'loner' ? e : 'good']));

/** Contract events comparable with the model's, as tuples of strings. */
function contractEvents(logs: ParsedLog[]): string[] {
  const out: string[] = [];
  for (const l of logs) {
    const a = l.args;
    if (l.name === 'TaskAssigned') out.push(`assigned ${a[0]} ${String(a[1]).toLowerCase()}`);
    else if (l.name === 'Paid') out.push(`paid ${a[0]} ${String(a[1]).toLowerCase()} ${a[2]} ${a[3]}`);
    else if (l.name === 'Slashed') out.push(`slashed ${a[0]} ${String(a[1]).toLowerCase()} ${a[2]}`);
    else if (l.name === 'Refunded') out.push(`refunded ${a[0]} ${String(a[1]).toLowerCase()} ${a[2]}`);
    else if (l.name === 'TaskFinalized') out.push(`finalized ${a[0]} ${Number(a[2])} ${a[1] === ZERO32 ? 'none' : String(a[1]).toLowerCase()}`);
  }
  return out;
}

function modelEvents(ev: ModelEvent[]): string[] {
  return ev.flatMap((e) => {
    if (e.kind === 'assigned') return [`assigned ${e.taskId} ${e.executor}`];
    if (e.kind === 'paid') return [`paid ${e.taskId} ${e.executor} ${e.amount} ${e.payKind}`];
    if (e.kind === 'slashed') return [`slashed ${e.taskId} ${e.executor} ${e.amount}`];
    if (e.kind === 'refunded') return [`refunded ${e.taskId} ${e.executor} ${e.amount}`];
    if (e.kind === 'finalized') return [`finalized ${e.taskId} ${e.status} ${e.digest ?? 'none'}`];
    return [];
  });
}

/** Run one user action on the model and on the chain; both must accept, or refuse alike. */
async function both(m: MarketModel, from: string, fn: string, args: unknown[], apply: (block: bigint) => void, value = 0n, target: 'hub' | 'staking' = 'hub'): Promise<boolean> {
  const block = (await f.blockNumber()) + 1n;
  let modelError: string | null = null;
  try {
    apply(block);
  } catch (e) {
    if (!isPocError(e)) throw e;
    modelError = e.code;
  }
  const r = target === 'hub' ? await f.hubTx(from, fn, args, value) : await f.stakingTx(from, fn, args, value);
  assert.equal(r.blockNumber, block);
  count(modelError === null ? `${fn} ok` : `${fn} refused ${modelError}`);
  if (modelError === null) {
    assert.equal(r.status, 1, `${fn} by ${from} succeeded in the model but reverted on chain`);
    return true;
  }
  assert.equal(r.status, 0, `${fn} by ${from} refused by the model (${modelError}) but succeeded on chain`);
  // A refused tx changed nothing, so simulating it again gives its reason.
  const err = target === 'hub'
    ? await f.revertOf(from, HUB_ADDRESS, f.hub.encodeFunctionData(fn, args), value)
    : await f.revertOf(from, STAKING_ADDRESS, f.staking.encodeFunctionData(fn, args), value);
  assert.equal(err?.name, modelError, `${fn} refused for the same reason`);
  return false;
}

/** How often each kind of step happened across runs, to show what the property covered. */
const seen = new Map<string, number>();
let maxPopulation = 0;
const count = (k: string, n = 1) => seen.set(k, (seen.get(k) ?? 0) + n);

/** Ask (wei per replica) each executor had for its task's category when drawn, by `task executor`. */
const askAtDraw = new Map<string, bigint>();
/** Executors skipped for capacity, to see them drawn again once an assignment settled. */
const heldBack = new Set<string>();

async function system(m: MarketModel, fn: 'schedule' | 'finalize', randomness = 0n): Promise<void> {
  const block = (await f.blockNumber()) + 1n;
  const ev = fn === 'schedule' ? m.schedule(block, randomness) : m.finalize(block);
  for (const e of ev) {
    if (e.kind === 'assigned') {
      const t = m.tasks.get(e.taskId)!;
      askAtDraw.set(`${e.taskId} ${e.executor}`, m.offerOf(e.executor!).asks[t.category]!);
      if (heldBack.delete(e.executor!)) count('capacity freed, drawn again');
    }
  }
  // every winner is paid at least the ask it had when drawn (its reward events of the task summed)
  const rewards = new Map<string, bigint>();
  for (const e of ev) if (e.kind === 'paid' && e.payKind === 0) rewards.set(`${e.taskId} ${e.executor}`, (rewards.get(`${e.taskId} ${e.executor}`) ?? 0n) + e.amount!);
  for (const [k, v] of rewards) {
    assert.ok(v >= askAtDraw.get(k)!, `winner ${k} paid ${v}, below its ask ${askAtDraw.get(k)}`);
    if (askAtDraw.get(k)! > 0n) count('winners with an ask paid');
  }
  for (const e of ev) {
    if (e.kind === 'paid' && e.payKind === 3) count('pool fee paid');
    if (e.kind === 'assigned' && m.tasks.get(e.taskId)!.pool !== 0n) assert.equal(m.poolOf(e.executor!), m.tasks.get(e.taskId)!.pool, 'a pool task goes to members only');
  }
  // 90M gas, above anything these populations need: the model assumes the gas rule never bites
  // (hub-market.test.ts covers the rule itself at the real 30M limit)
  const r = await f.send(SYSTEM_ADDRESS, HUB_ADDRESS, f.hub.encodeFunctionData(fn, fn === 'schedule' ? [randomness] : []), 0n, 90_000_000n);
  assert.equal(r.status, 1);
  assert.equal(r.blockNumber, block);
  for (const e of ev) count(e.kind);
  const topped = new Set(ev.filter((e) => e.kind === 'assigned' && m.tasks.get(e.taskId)!.contributedCount > 0).map((e) => e.taskId));
  count('top-up rounds', topped.size);
  count(`${fn} max gas`, 0);
  if (r.gasUsed > (seen.get(`${fn} max gas`) ?? 0)) seen.set(`${fn} max gas`, Number(r.gasUsed));
  const kinds = fn === 'schedule' ? ['assigned'] : ['paid', 'slashed', 'refunded', 'finalized'];
  assert.deepEqual(contractEvents(f.parseLogs(r)), modelEvents(ev.filter((e) => kinds.includes(e.kind))), `${fn} events at block ${block}`);
}

/** Conservation of value: the Hub holds what it owes plus the escrow of open tasks. */
async function conservation(m: MarketModel, accounts: string[]): Promise<void> {
  const owed = accounts.reduce((s, a) => s + m.withdrawableOf(a), 0n);
  let escrow = 0n;
  for (const t of m.tasks.values()) if (t.status === TaskStatus.Active || t.status === TaskStatus.Revealing) escrow += t.escrow;
  assert.equal(await f.balance(HUB_ADDRESS), owed + escrow, 'Hub balance = owed + open escrow');
}

async function compareState(m: MarketModel, execs: string[]): Promise<void> {
  for (const e of execs) {
    const [stake, locked, , , active] = await f.stakingView('executorInfo', [e]);
    const s = m.staking.get(e);
    assert.deepEqual([stake, locked, active], [s.stake, s.locked, s.index !== 0], `stake of ${e}`);
    assert.equal((await f.hubView('score', [e]))[0], m.scoreOf(e), `score of ${e}`);
    assert.equal((await f.hubView('withdrawable', [e]))[0], m.withdrawableOf(e), `withdrawable of ${e}`);
  }
  for (const a of [requester, owner, poolOwner]) assert.equal((await f.hubView('withdrawable', [a]))[0], m.withdrawableOf(a));
  for (const e of execs) assert.equal((await f.hubView('poolOf', [e]))[0], m.poolOf(e), `pool of ${e}`);
  for (const e of execs) {
    const [asks, capacity, declared] = await f.hubView('offerOf', [e]);
    const o = m.offerOf(e);
    assert.deepEqual([[...asks], Number(capacity), declared], [[...o.asks], o.capacity, o.declared], `offer of ${e}`);
  }
  assert.deepEqual((await f.stakingView('activeExecutors'))[0].map((x: string) => x.toLowerCase()), m.staking.active);
  for (const [id, t] of m.tasks) {
    const c = (await f.hubView('getTask', [id]))[0];
    assert.equal(Number(c.status), t.status, `status of task ${id}`);
    assert.equal(c.result === ZERO32 ? null : c.result.toLowerCase(), t.result);
    assert.deepEqual((await f.hubView('taskAssignees', [id]))[0].map((x: string) => x.toLowerCase()), t.assignees);
  }
}

test('contracts agree with the reference model on random populations', { timeout: 600_000 }, async () => {
  let runs = 0;
  const outcomes = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(scenarioArb, async (sc) => {
      runs++;
      await f.revert(base);
      base = await f.snapshot();
      const m = new MarketModel();
      heldBack.clear();
      m.onRefused = (e, _id, reason) => {
        count(`refused for ${reason}`);
        if (reason === 'capacity') heldBack.add(e);
      };
      const offer = (e: string, o: { asks: bigint[]; capacity: number }) =>
        both(m, e, 'setOffer', [o.asks, BigInt(o.capacity)], () => m.setOffer(e, o.asks, o.capacity));
      m.registerApp(owner, APP, APP_PRICE, 1);
      m.registerDataset(owner, DATASET, DATASET_PRICE);
      const execs = sc.executors.map((_, i) => pool[i]!);
      const beh = new Map<string, Behaviour>();
      maxPopulation = Math.max(maxPopulation, execs.length);
      for (const [i, x] of sc.executors.entries()) {
        const e = execs[i]!;
        beh.set(e, x.behaviour);
        const v = BigInt(x.stakeTenths) * 10n ** 17n;
        await both(m, e, 'stakeExecutor', [], () => m.staking.stakeExecutor(e, v), v, 'staking');
        if (x.score !== 0n) {
          m.setScore(e, x.score);
          await f.setScore(e, x.score);
        }
        if (x.offer) await offer(e, x.offer);
      }
      // a private pool (or a refused one) and its members
      let poolId = 0n;
      if (sc.poolFeeBps !== undefined) {
        const bps = sc.poolFeeBps;
        if (await both(m, poolOwner, 'createPool', [BigInt(bps)], () => void m.createPool(poolOwner, bps))) poolId = m.poolCount;
      }
      if (poolId !== 0n) {
        for (const [i, x] of sc.executors.entries()) {
          const e = execs[i]!;
          if (x.poolRole === 'none') continue;
          if (x.poolRole !== 'intruder') await both(m, poolOwner, 'setPoolMember', [poolId, e, true], () => m.setPoolMember(poolOwner, poolId, e, true));
          if (x.poolRole !== 'listed') await both(m, e, 'joinPool', [poolId], () => m.joinPool(e, poolId));
          if (x.poolRole === 'delisted') await both(m, poolOwner, 'setPoolMember', [poolId, e, false], () => m.setPoolMember(poolOwner, poolId, e, false));
        }
        // only the owner lists; a pool that does not exist cannot be joined
        await both(m, requester, 'setPoolMember', [poolId, execs[0]!, true], () => m.setPoolMember(requester, poolId, execs[0]!, true));
        await both(m, execs[0]!, 'joinPool', [poolId + 1n], () => m.joinPool(execs[0]!, poolId + 1n));
      }
      count('evicted', m.staking.evicted.length);
      // sometimes an executor requests tasks itself: its wins there must not raise its score
      const from = sc.selfRequest ? execs[0]! : requester;
      for (const t of sc.tasks) {
        const escrow = BigInt(t.escrowMilli) * 10n ** 15n;
        const ds = t.withDataset ? DATASET : ZERO32;
        const flags = t.solo ? FLAG_SOLO : 0;
        const req = { app: APP, dataset: ds, trust: t.trust, minReplicas: t.minReplicas, maxReplicas: t.maxReplicas, maxPrice: escrow, value: escrow * BigInt(t.bag), flags };
        if (t.bag === 1 && !t.solo) {
          const input = t.oversize ? '0x' + '00'.repeat(MAX_INPUT_BYTES + 1) : '0x';
          const args = [APP, ds, input, t.trust, BigInt(t.minReplicas), BigInt(t.maxReplicas), escrow, ZERO20];
          await both(m, from, 'requestTask', args, (b) => void m.requestTask(b, from, { ...req, value: escrow, inputLength: (input.length - 2) / 2 }), escrow);
        } else {
          const spec = [APP, ds, t.trust, BigInt(t.minReplicas), BigInt(t.maxReplicas), escrow, ZERO20, BigInt(flags)];
          const inputs = Array.from({ length: t.bag }, (_, k) => '0x' + k.toString(16).padStart(2, '0'));
          if (t.oversize) inputs[t.bag - 1] = '0x' + '00'.repeat(MAX_INPUT_BYTES + 1);
          if (t.inPool !== false && poolId !== 0n) {
            const p = t.inPool === 'unknown' ? poolId + 1n : poolId;
            await both(m, from, 'requestTasksInPool', [spec, inputs, p], (b) => void m.requestTasks(b, from, req, inputs.map((x) => (x.length - 2) / 2), p), escrow * BigInt(t.bag));
          } else {
            await both(m, from, 'requestTasks', [spec, inputs], (b) => void m.requestTasks(b, from, req, inputs.map((x) => (x.length - 2) / 2)), escrow * BigInt(t.bag));
          }
        }
      }
      const contributeAll = async () => {
        for (const [id, t] of m.tasks) {
          for (const e of [...t.assignees]) {
            const b = beh.get(e)!;
            if (b === 'lazy' || t.assignments.get(e)!.status !== AssignmentStatus.Assigned) continue;
            if (t.status !== TaskStatus.Active && t.status !== TaskStatus.Revealing) continue;
            if (b === 'decline') {
              await both(m, e, 'decline', [id], (bn) => m.decline(bn, e, id));
              continue;
            }
            const d = digestFor(b, id, e);
            await both(m, e, 'contribute', [id, resultHash(id, d), resultSeal(e, id, d)], (bn) => m.contribute(bn, e, id, resultHash(id, d), resultSeal(e, id, d)));
          }
        }
      };
      const revealAll = async () => {
        for (const [id, t] of m.tasks) {
          for (const e of [...t.assignees]) {
            const b = beh.get(e)!;
            if (b === 'lazy' || b === 'silent' || t.assignments.get(e)!.status !== AssignmentStatus.Contributed) continue;
            if (t.status !== TaskStatus.Revealing) continue;
            const d = digestFor(b, id, e);
            await both(m, e, 'reveal', [id, d], (bn) => m.reveal(bn, e, id, d));
          }
        }
      };
      for (const r of sc.rounds) {
        if (r.reoffer) await offer(execs[r.reoffer.who % execs.length]!, r.reoffer.offer);
        await system(m, 'schedule', r.randomness);
        await f.mine(r.waitBeforeContribute);
        await contributeAll();
        await f.mine(r.waitBeforeReveal);
        await revealAll();
        for (const t of m.tasks.values()) for (const g of t.tally.groups.values()) if (g === WEIGHT_CAP) count('saturated groups');
        await system(m, 'finalize');
        await conservation(m, [...execs, requester, owner, poolOwner]);
        await f.mine(r.wait);
      }
      // Let every deadline pass; optionally claim by hand first, then finalize what is left.
      await f.mine(210);
      if (sc.rounds[0]!.claim) {
        for (const [id, t] of m.tasks) {
          if (t.status === TaskStatus.Active || t.status === TaskStatus.Revealing) {
            await both(m, requester, 'claim', [id], (bn) => void m.claim(bn, id));
          }
        }
      }
      await system(m, 'finalize');
      for (const t of m.tasks.values()) {
        assert.ok(t.status === TaskStatus.Completed || t.status === TaskStatus.Failed, 'every task settled');
        outcomes.set(t.status, (outcomes.get(t.status) ?? 0) + 1);
      }
      await compareState(m, execs);
      // Conservation: every task settled, so the Hub holds exactly what it owes.
      await conservation(m, [...execs, requester, owner, poolOwner]);
    }),
    { numRuns: 25, seed: Number(process.env.POC_SEED ?? 20260501) },
  );
  assert.equal(runs, 25);
  if (process.env.POC_STATS) console.log(Object.fromEntries([...seen].sort()), Object.fromEntries(outcomes));
  assert.ok((seen.get('slashed') ?? 0) > 0, 'some executors were slashed');
  assert.ok((seen.get('top-up rounds') ?? 0) > 0, 'some votes fell short and were topped up');
  assert.ok((outcomes.get(TaskStatus.Completed) ?? 0) > 0, 'some tasks completed');
  assert.ok((outcomes.get(TaskStatus.Failed) ?? 0) > 0, 'some tasks failed');
  assert.ok((seen.get('saturated groups') ?? 0) > 0, 'some groups reached the weight cap');
  assert.ok((seen.get('evicted') ?? 0) > 0, 'a full active list evicted');
  assert.ok((seen.get('decline ok') ?? 0) > 0, 'some executors declined');
  assert.ok((seen.get('requestTasks ok') ?? 0) > 0, 'some bags were requested');
  assert.ok(maxPopulation >= 200, `populations reached 200+ executors (${maxPopulation})`);
  assert.ok((seen.get('setOffer ok') ?? 0) > 0 && (seen.get('setOffer refused InvalidCapacity') ?? 0) > 0 && (seen.get('setOffer refused InvalidAsk') ?? 0) > 0, 'offers declared, and refused');
  assert.ok((seen.get('refused for ask') ?? 0) > 0, 'some executors were priced out of a task');
  assert.ok((seen.get('winners with an ask paid') ?? 0) > 0, 'some winners with a non-zero ask were paid');
  assert.ok((seen.get('refused for capacity') ?? 0) > 0, 'some executors were at capacity');
  assert.ok([...seen.keys()].some((k) => /^requestTasks? refused InputTooLarge$/.test(k)), 'oversized inputs refused alike');
  assert.ok((seen.get('requestTasksInPool ok') ?? 0) > 0 && (seen.get('requestTasksInPool refused UnknownPool') ?? 0) > 0, 'tasks restricted to a pool, and to an unknown one');
  assert.ok((seen.get('refused for pool') ?? 0) > 0, 'non-members skipped for pool tasks');
  assert.ok((seen.get('pool fee paid') ?? 0) > 0, 'a pool owner was paid its fee');
  assert.ok((seen.get('createPool refused InvalidPoolFee') ?? 0) > 0 && (seen.get('joinPool refused NotInvited') ?? 0) > 0 && (seen.get('setPoolMember refused NotPoolOwner') ?? 0) > 0 && (seen.get('joinPool refused UnknownPool') ?? 0) > 0, 'pool refusals');
  assert.ok((seen.get('capacity freed, drawn again') ?? 0) > 0, 'an executor at capacity was drawn again once its assignments settled');
});
