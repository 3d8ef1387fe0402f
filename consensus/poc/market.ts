/**
 * MarketModel: the Staking + Hub system contracts as a plain TypeScript state machine, step for
 * step the same state transitions (same list orders, same rounding, same refusals) so tests can
 * drive the contracts and the model with the same inputs and compare every observable. It assumes
 * each system call has enough gas to finish its bounded scan (the Hub's gas rule never bites; hub-market.test.ts
 * tests that rule on its own).
 * Refusals throw PocError whose code is the contract's custom error name.
 */
import { PocError } from '../../lib/errors.ts';
import { addVote, emptyTally, hasConsensus, logWeight, mulCap, taskWeight, wouldReachConsensus, type Tally } from './credibility.ts';
import {
  ASSIGN_T, AssignmentStatus, categoryTime, CONTRIBUTION_T, FINAL_T, FINALIZE_SCAN, FLAG_SOLO, LOCK_PER_TASK, MAX_BAG, MAX_POOL_FEE_BPS,
  MAX_EXECUTORS, MAX_INPUT_BYTES, MAX_REPLICAS, MAX_TRUST, MIN_EXECUTOR_STAKE, MIN_REWARD_PER_REPLICA, REVEAL_T,
  SCHEDULE_SCAN, TaskStatus, UNBONDING_BLOCKS,
} from './params.ts';
import { resultHash as hashOf, resultSeal as sealOf } from './commitments.ts';
import { drawValue, rewardPerReplica, sampleWeight, taskSeed } from './sampling.ts';
import { checkOffer, DEFAULT_OFFER, offerRefuses, type Offer, type Refusal } from './offers.ts';
import { settle, type Payout } from './settle.ts';

export interface ExecutorState {
  stake: bigint;
  locked: bigint;
  unbonding: bigint;
  unbondAt: bigint;
  /** 1-based position in the active list, 0 when inactive */
  index: number;
}

export interface AssignmentState {
  status: AssignmentStatus;
  expiry: bigint;
  weight: bigint;
  logWeight: number;
  resultHash: string | null;
  resultSeal: string | null;
}

export interface TaskState {
  id: bigint;
  requester: string;
  status: TaskStatus;
  category: number;
  trust: bigint;
  flags: number;
  minReplicas: number;
  maxReplicas: number;
  createdAt: bigint;
  /** block of consensus, 0 before */
  consensusAt: bigint;
  contributionDeadline: bigint;
  revealDeadline: bigint;
  finalDeadline: bigint;
  roundExpiry: bigint;
  roundOpen: number;
  contributedCount: number;
  revealCount: number;
  winnerCount: number;
  app: string;
  dataset: string | null;
  callback: string | null;
  escrow: bigint;
  appFee: bigint;
  datasetFee: bigint;
  /** private pool the task is restricted to (0: none) and its owner's cut */
  pool: bigint;
  poolFee: bigint;
  tally: Tally;
  consensusHash: string | null;
  result: string | null;
  /** executors in assignment order */
  assignees: string[];
  assignments: Map<string, AssignmentState>;
}

export interface Asset {
  owner: string;
  price: bigint;
  category: number;
  /** datasets only: the apps allowed to use it, null while unrestricted */
  allowed?: Set<string> | null;
}

export interface TaskRequest {
  app: string;
  dataset?: string | null;
  inputLength?: number;
  trust: bigint;
  minReplicas: number;
  maxReplicas: number;
  maxPrice: bigint;
  value: bigint;
  callback?: string | null;
  flags?: number;
}

/** What a system call or claim did, in event order. */
export interface ModelEvent {
  kind: 'assigned' | 'consensus' | 'paid' | 'slashed' | 'refunded' | 'finalized' | 'callback';
  taskId: bigint;
  executor?: string;
  amount?: bigint;
  payKind?: number;
  status?: TaskStatus;
  digest?: string | null;
}

const lc = (a: string) => a.toLowerCase();
const fail = (code: string, message: string, data?: Record<string, unknown>): never => {
  throw new PocError(code, message, data ? { data } : {});
};

/** Staking (0x…1000) as a model. */
export class StakingModel {
  readonly executors = new Map<string, ExecutorState>();
  readonly active: string[] = [];

  get(a: string): ExecutorState {
    const k = lc(a);
    let e = this.executors.get(k);
    if (!e) this.executors.set(k, (e = { stake: 0n, locked: 0n, unbonding: 0n, unbondAt: 0n, index: 0 }));
    return e;
  }

  /**
   * stakeExecutor() with msg.value = value. A full active list evicts its lowest stake (first in
   * list order) when the newcomer's stake is strictly larger, else the call is refused.
   */
  stakeExecutor(sender: string, value: bigint): void {
    if (value === 0n) fail('ZeroAmount', 'zero stake');
    const e = this.get(sender);
    const joins = e.index === 0 && e.stake + value >= MIN_EXECUTOR_STAKE;
    let evict = -1;
    if (joins && this.active.length >= MAX_EXECUTORS) {
      let low = -1n;
      for (const [i, a] of this.active.entries()) {
        const st = this.get(a).stake;
        if (low < 0n || st < low) {
          low = st;
          evict = i;
        }
      }
      if (e.stake + value <= low) fail('TooManyExecutors', 'active list full');
    }
    e.stake += value;
    if (evict >= 0) {
      const out = this.active[evict]!;
      this.deactivate(out, this.get(out));
      this.evicted.push(out);
    }
    if (joins) this.activate(lc(sender), e);
  }

  /** Executors evicted from a full list, in order (for tests). */
  readonly evicted: string[] = [];

  /** requestUnbond(amount) at block `block`. */
  requestUnbond(block: bigint, sender: string, amount: bigint): void {
    if (amount === 0n) fail('ZeroAmount', 'zero amount');
    const e = this.get(sender);
    if (amount > e.stake - e.locked) fail('InsufficientFreeStake', 'not enough free stake');
    e.stake -= amount;
    e.unbonding += amount;
    e.unbondAt = block + UNBONDING_BLOCKS;
    if (e.index !== 0 && e.stake < MIN_EXECUTOR_STAKE) this.deactivate(lc(sender), e);
  }

  lock(a: string, amount: bigint): void {
    const e = this.get(a);
    if (amount > e.stake - e.locked) fail('InsufficientFreeStake', 'not enough free stake');
    e.locked += amount;
  }

  unlock(a: string, amount: bigint): void {
    const e = this.get(a);
    e.locked -= amount > e.locked ? e.locked : amount;
  }

  /** slash(a, amount): returns the seized amount. */
  slash(a: string, amount: bigint): bigint {
    const e = this.get(a);
    const seized = amount > e.locked ? e.locked : amount;
    if (seized === 0n) return 0n;
    e.locked -= seized;
    e.stake -= seized;
    if (e.index !== 0 && e.stake < MIN_EXECUTOR_STAKE) this.deactivate(lc(a), e);
    return seized;
  }

  /** eligible(minFree): active executors with free stake ≥ minFree, with free and locked stake, in list order. */
  eligible(minFree: bigint): { addrs: string[]; free: bigint[]; locked: bigint[] } {
    const addrs: string[] = [];
    const free: bigint[] = [];
    const locked: bigint[] = [];
    for (const a of this.active) {
      const e = this.get(a);
      if (e.stake - e.locked >= minFree) {
        addrs.push(a);
        free.push(e.stake - e.locked);
        locked.push(e.locked);
      }
    }
    return { addrs, free, locked };
  }

  private activate(a: string, e: ExecutorState): void {
    this.active.push(a);
    e.index = this.active.length;
  }

  private deactivate(a: string, e: ExecutorState): void {
    const i = e.index - 1;
    const last = this.active.length - 1;
    if (i !== last) {
      const moved = this.active[last]!;
      this.active[i] = moved;
      this.get(moved).index = i + 1;
    }
    this.active.pop();
    e.index = 0;
  }
}

/** The Hub's copy of the candidates during one schedule() (free and locked change as it draws). */
interface Pool {
  addrs: string[];
  free: bigint[];
  locked: bigint[];
  scores: bigint[];
  offers: Offer[];
  /** the private pool each candidate is a member of (0: none) */
  members: bigint[];
}

/** Hub (0x…1001) + Staking as a model. */
export class MarketModel {
  readonly staking = new StakingModel();
  readonly scores = new Map<string, bigint>();
  readonly withdrawable = new Map<string, bigint>();
  readonly apps = new Map<string, Asset>();
  readonly datasets = new Map<string, Asset>();
  readonly tasks = new Map<bigint, TaskState>();
  readonly open: bigint[] = [];
  readonly offers = new Map<string, Offer>();
  /** private pools by id, the executors each lists, the pool each executor joined */
  readonly pools = new Map<bigint, { owner: string; feeBps: number }>();
  readonly poolAllows = new Set<string>();
  readonly memberOf = new Map<string, bigint>();
  poolCount = 0n;
  /** Called for each staked candidate the scheduler skips because of its offer (tests count these). */
  onRefused: ((executor: string, taskId: bigint, reason: Refusal) => void) | undefined;
  scheduleCursor = 0;
  finalizeCursor = 0;
  taskCount = 0n;

  scoreOf(a: string): bigint {
    return this.scores.get(lc(a)) ?? 0n;
  }

  setScore(a: string, s: bigint): void {
    this.scores.set(lc(a), s);
  }

  /** offerOf(a): the declared offer, or asks 0 and DEFAULT_CAPACITY. */
  offerOf(a: string): Offer {
    return this.offers.get(lc(a)) ?? DEFAULT_OFFER;
  }

  /** setOffer(asks, capacity). */
  setOffer(sender: string, asks: readonly bigint[], capacity: number): void {
    checkOffer(asks, capacity);
    this.offers.set(lc(sender), { asks: [...asks], capacity, declared: true });
  }

  /** createPool(feeBps): returns the new pool id. */
  createPool(sender: string, feeBps: number): bigint {
    if (feeBps > MAX_POOL_FEE_BPS) fail('InvalidPoolFee', 'pool fee above the maximum');
    const id = ++this.poolCount;
    this.pools.set(id, { owner: lc(sender), feeBps });
    return id;
  }

  /** setPoolMember(pool, executor, allowed): owner only; delisting a member removes it. */
  setPoolMember(sender: string, pool: bigint, executor: string, allowed: boolean): void {
    if (this.pools.get(pool)?.owner !== lc(sender)) fail('NotPoolOwner', 'not the pool owner');
    const k = `${pool} ${lc(executor)}`;
    if (allowed) this.poolAllows.add(k);
    else {
      this.poolAllows.delete(k);
      if (this.poolOf(executor) === pool) this.memberOf.delete(lc(executor));
    }
  }

  /** joinPool(pool): a listed executor joins (0: leaves). */
  joinPool(sender: string, pool: bigint): void {
    if (pool !== 0n) {
      if (!this.pools.has(pool)) fail('UnknownPool', 'unknown pool');
      if (!this.poolAllows.has(`${pool} ${lc(sender)}`)) fail('NotInvited', 'not listed by the pool owner');
      this.memberOf.set(lc(sender), pool);
    } else this.memberOf.delete(lc(sender));
  }

  poolOf(a: string): bigint {
    return this.memberOf.get(lc(a)) ?? 0n;
  }

  withdrawableOf(a: string): bigint {
    return this.withdrawable.get(lc(a)) ?? 0n;
  }

  private credit(a: string, v: bigint): void {
    this.withdrawable.set(lc(a), this.withdrawableOf(a) + v);
  }

  registerApp(sender: string, app: string, price: bigint, category: number): void {
    if (BigInt(app) === 0n) fail('EmptyHash', 'empty hash');
    if (this.apps.has(lc(app))) fail('AlreadyRegistered', 'app exists');
    categoryTime(category);
    this.apps.set(lc(app), { owner: lc(sender), price, category });
  }

  registerDataset(sender: string, dataset: string, price: bigint): void {
    if (BigInt(dataset) === 0n) fail('EmptyHash', 'empty hash');
    if (this.datasets.has(lc(dataset))) fail('AlreadyRegistered', 'dataset exists');
    this.datasets.set(lc(dataset), { owner: lc(sender), price, category: 0 });
  }

  /** setDatasetApp(dataset, app, allowed): the first call restricts the dataset to its allow list. */
  setDatasetApp(sender: string, dataset: string, app: string, allowed: boolean): void {
    const d = this.datasets.get(lc(dataset));
    if (!d || d.owner !== lc(sender)) fail('NotOwner', 'not the dataset owner');
    d!.allowed ??= new Set();
    if (allowed) d!.allowed.add(lc(app));
    else d!.allowed.delete(lc(app));
  }

  /** Refusals of a request whose per-task escrow is `escrow`, in the Hub's order; returns fees. */
  private checkRequest(r: TaskRequest, escrow: bigint): { app: Asset; datasetFee: bigint; ds: string | null } {
    const app = this.apps.get(lc(r.app)) ?? fail('UnknownApp', 'unknown app');
    const ds = r.dataset && BigInt(r.dataset) !== 0n ? lc(r.dataset) : null;
    let datasetFee = 0n;
    if (ds !== null) {
      const d = this.datasets.get(ds) ?? fail('UnknownDataset', 'unknown dataset');
      if (d.allowed && !d.allowed.has(lc(r.app))) fail('AppNotAllowed', 'the dataset does not allow this app');
      datasetFee = d.price;
    }
    if (r.trust === 0n || r.trust > MAX_TRUST) fail('InvalidTrust', 'invalid trust');
    if (r.minReplicas === 0 || r.minReplicas > r.maxReplicas || r.maxReplicas > MAX_REPLICAS) fail('InvalidReplicas', 'invalid replicas');
    if ((r.flags ?? 0) > FLAG_SOLO) fail('InvalidFlags', 'unknown flags');
    const fees = app.price + datasetFee;
    if (fees > r.maxPrice) fail('PriceAboveMax', 'fees above maxPrice');
    if (escrow < fees + BigInt(r.maxReplicas) * MIN_REWARD_PER_REPLICA) fail('InsufficientPayment', 'escrow below fees + minimum reward');
    return { app, datasetFee, ds };
  }

  private createTask(block: bigint, sender: string, r: TaskRequest, escrow: bigint, c: ReturnType<MarketModel['checkRequest']>, pool = 0n, poolFee = 0n): bigint {
    const id = ++this.taskCount;
    const T = categoryTime(c.app.category);
    this.tasks.set(id, {
      id, requester: lc(sender), status: TaskStatus.Active, category: c.app.category, trust: r.trust, flags: r.flags ?? 0,
      minReplicas: r.minReplicas, maxReplicas: r.maxReplicas, createdAt: block, consensusAt: 0n,
      contributionDeadline: block + CONTRIBUTION_T * T, revealDeadline: 0n, finalDeadline: block + FINAL_T * T,
      roundExpiry: 0n, roundOpen: 0, contributedCount: 0, revealCount: 0, winnerCount: 0,
      app: lc(r.app), dataset: c.ds, callback: r.callback ? lc(r.callback) : null, escrow,
      appFee: c.app.price, datasetFee: c.datasetFee, pool, poolFee, tally: emptyTally(), consensusHash: null, result: null,
      assignees: [], assignments: new Map(),
    });
    this.open.push(id);
    return id;
  }

  /** requestTask(...) at block `block`; returns the task id. */
  requestTask(block: bigint, sender: string, r: TaskRequest): bigint {
    if ((r.inputLength ?? 0) > MAX_INPUT_BYTES) fail('InputTooLarge', 'input too large');
    const c = this.checkRequest(r, r.value);
    return this.createTask(block, sender, r, r.value, c);
  }

  /**
   * requestTasks(spec, inputs) at block `block` with inputs of these lengths — or, with `pool`,
   * requestTasksInPool(spec, inputs, pool); returns the first id.
   */
  requestTasks(block: bigint, sender: string, r: TaskRequest, inputLengths: readonly number[], pool?: bigint): bigint {
    if (pool !== undefined && !this.pools.has(pool)) fail('UnknownPool', 'unknown pool');
    const n = BigInt(inputLengths.length);
    if (n === 0n) fail('EmptyBag', 'no inputs');
    if (n > BigInt(MAX_BAG)) fail('BagTooLarge', 'too many inputs');
    if (r.value % n !== 0n) fail('UnevenEscrow', 'escrow not divisible by the bag size');
    const each = r.value / n;
    if (inputLengths.some((l) => l > MAX_INPUT_BYTES)) fail('InputTooLarge', 'input too large');
    const c = this.checkRequest(r, each);
    let poolFee = 0n;
    if (pool !== undefined) {
      const fees = c.app.price + c.datasetFee;
      poolFee = ((each - fees) * BigInt(this.pools.get(pool)!.feeBps)) / 10_000n;
      if (each < fees + poolFee + BigInt(r.maxReplicas) * MIN_REWARD_PER_REPLICA) fail('InsufficientPayment', 'escrow below fees + pool fee + minimum reward');
    }
    const first = this.taskCount + 1n;
    for (let i = 0; i < inputLengths.length; i++) this.createTask(block, sender, r, each, c, pool ?? 0n, poolFee);
    return first;
  }

  private task(id: bigint): TaskState {
    return this.tasks.get(id) ?? fail('UnknownTask', `unknown task ${id}`);
  }

  /** contribute(taskId, resultHash, resultSeal) at block `block`. */
  contribute(block: bigint, sender: string, taskId: bigint, rh: string, seal: string): void {
    const t = this.task(taskId);
    if (t.status !== TaskStatus.Active) fail('TaskNotActive', 'task not active');
    const a = t.assignments.get(lc(sender)) ?? fail('NotAssigned', 'not assigned');
    if (a.status !== AssignmentStatus.Assigned) fail('AlreadyContributed', 'already contributed');
    if (block > a.expiry) fail('AssignmentExpired', 'assignment expired');
    if (BigInt(rh) === 0n) fail('EmptyHash', 'empty result hash');
    const w = taskWeight(this.scoreOf(sender), t.trust, t.flags);
    Object.assign(a, { status: AssignmentStatus.Contributed, weight: w, logWeight: logWeight(w), resultHash: lc(rh), resultSeal: lc(seal) });
    t.contributedCount++;
    t.roundOpen--;
    t.tally = addVote(t.tally, lc(rh), w);
    if (hasConsensus(t.tally.groups.get(lc(rh))!, t.tally.total, t.trust)) {
      t.status = TaskStatus.Revealing;
      t.consensusHash = lc(rh);
      t.winnerCount = t.tally.sizes.get(lc(rh))!;
      t.consensusAt = block;
      t.revealDeadline = block + REVEAL_T * categoryTime(t.category);
    }
  }

  /** decline(taskId) at block `block`: give a live assignment up, lock released. */
  decline(block: bigint, sender: string, taskId: bigint): void {
    const t = this.task(taskId);
    if (t.status !== TaskStatus.Active) fail('TaskNotActive', 'task not active');
    const a = t.assignments.get(lc(sender)) ?? fail('NotAssigned', 'not assigned');
    if (a.status !== AssignmentStatus.Assigned) fail('AlreadyContributed', 'already contributed');
    if (block > a.expiry) fail('AssignmentExpired', 'assignment expired');
    a.status = AssignmentStatus.Declined;
    t.roundOpen--;
    this.staking.unlock(sender, LOCK_PER_TASK);
  }

  /** reveal(taskId, digest) at block `block`. */
  reveal(block: bigint, sender: string, taskId: bigint, digest: string): void {
    const t = this.task(taskId);
    if (t.status !== TaskStatus.Revealing) fail('TaskNotRevealing', 'task not revealing');
    const a = t.assignments.get(lc(sender));
    if (a?.status === AssignmentStatus.Revealed) fail('AlreadyRevealed', 'already revealed');
    if (a?.status !== AssignmentStatus.Contributed) fail('NotContributor', 'not a contributor');
    if (block > t.revealDeadline) fail('RevealTooLate', 'reveal deadline passed');
    if (a!.resultHash !== t.consensusHash) fail('NotInConsensus', 'contribution not in consensus');
    if (lc(hashOf(taskId, digest)) !== a!.resultHash || lc(sealOf(sender, taskId, digest)) !== a!.resultSeal) {
      fail('CommitmentMismatch', 'digest does not match the commitment');
    }
    a!.status = AssignmentStatus.Revealed;
    t.revealCount++;
    t.result ??= lc(digest);
  }

  /** schedule(randomness) system call at block `block`. */
  schedule(block: bigint, randomness: bigint): ModelEvent[] {
    const ev: ModelEvent[] = [];
    const n = this.open.length;
    if (n === 0) return ev;
    const scan = Math.min(n, SCHEDULE_SCAN);
    const cursor = this.scheduleCursor % n;
    let pool: Pool | null = null;
    for (let i = 0; i < scan; i++) {
      const t = this.tasks.get(this.open[(cursor + i) % n]!)!;
      const needs = t.status === TaskStatus.Active && block + ASSIGN_T * categoryTime(t.category) <= t.contributionDeadline &&
        (t.roundOpen === 0 || block > t.roundExpiry) && t.assignees.length < t.maxReplicas;
      if (!needs) continue;
      if (!pool) {
        const e = this.staking.eligible(LOCK_PER_TASK);
        pool = { ...e, scores: e.addrs.map((a) => this.scoreOf(a)), offers: e.addrs.map((a) => this.offerOf(a)), members: e.addrs.map((a) => this.poolOf(a)) };
      }
      this.assign(block, t, pool, randomness, ev);
    }
    this.scheduleCursor = (cursor + scan) % n;
    return ev;
  }

  private assign(block: bigint, t: TaskState, pool: Pool, randomness: bigint, ev: ModelEvent[]): void {
    const perReplica = rewardPerReplica(t.escrow, t.appFee + t.datasetFee + t.poolFee, t.maxReplicas);
    const w = pool.addrs.map((a, i) => {
      if (pool.free[i]! < LOCK_PER_TASK) return 0n;
      const refused = offerRefuses(pool.offers[i]!, pool.locked[i]!, t.category, perReplica, t.pool, pool.members[i]!);
      if (refused) {
        if (!t.assignments.has(a)) this.onRefused?.(a, t.id, refused);
        return 0n;
      }
      return t.assignments.has(a) ? 0n : sampleWeight(pool.free[i]!, pool.scores[i]!);
    });
    let sum = w.reduce((x, y) => x + y, 0n);
    const assigned = t.assignees.length;
    const mustHave = t.minReplicas > assigned ? t.minReplicas - assigned : 1;
    const room = t.maxReplicas - assigned;
    const expiry = block + ASSIGN_T * categoryTime(t.category); // ≤ contributionDeadline (schedule)
    const seed = taskSeed(randomness, t.id);
    let product = 1n;
    let count = 0;
    while (count < room && sum > 0n) {
      if (count >= mustHave && wouldReachConsensus(t.tally, t.trust, product)) break;
      let r = drawValue(seed, count) % sum;
      let k = 0;
      while (r >= w[k]!) {
        r -= w[k]!;
        k++;
      }
      const e = pool.addrs[k]!;
      sum -= w[k]!;
      w[k] = 0n;
      pool.free[k]! -= LOCK_PER_TASK;
      pool.locked[k]! += LOCK_PER_TASK;
      product = mulCap(product, taskWeight(pool.scores[k]!, t.trust, t.flags));
      count++;
      this.staking.lock(e, LOCK_PER_TASK);
      t.assignments.set(e, { status: AssignmentStatus.Assigned, expiry, weight: 0n, logWeight: 0, resultHash: null, resultSeal: null });
      t.assignees.push(e);
      ev.push({ kind: 'assigned', taskId: t.id, executor: e });
    }
    if (count > 0) {
      t.roundOpen = count;
      t.roundExpiry = expiry;
    }
  }

  /** finalize() system call at block `block`. */
  finalize(block: bigint): ModelEvent[] {
    const ev: ModelEvent[] = [];
    const n = this.open.length;
    if (n === 0) return ev;
    const scan = Math.min(n, FINALIZE_SCAN);
    const cursor = this.finalizeCursor % n;
    const ids = Array.from({ length: scan }, (_, i) => this.open[(cursor + i) % n]!);
    let removed = 0;
    for (const id of ids) {
      const t = this.tasks.get(id)!;
      if (t.status === TaskStatus.Revealing) {
        if (t.revealCount === t.winnerCount || (block > t.revealDeadline && t.revealCount > 0)) {
          this.complete(t, ev);
          removed++;
        } else if (block > t.revealDeadline) {
          this.failTask(t, ev);
          removed++;
        }
      } else if (t.status === TaskStatus.Active && block > t.finalDeadline) {
        this.failTask(t, ev);
        removed++;
      }
    }
    const left = n - removed;
    this.finalizeCursor = left === 0 ? 0 : (cursor + scan - removed) % left;
    return ev;
  }

  /** claim(taskId) at block `block`. */
  claim(block: bigint, taskId: bigint): ModelEvent[] {
    const t = this.task(taskId);
    if (t.status !== TaskStatus.Active && t.status !== TaskStatus.Revealing) fail('TaskClosed', 'task closed');
    if (block <= t.finalDeadline) fail('ClaimTooEarly', 'final deadline not passed');
    const ev: ModelEvent[] = [];
    if (t.status === TaskStatus.Revealing && t.revealCount > 0) this.complete(t, ev);
    else this.failTask(t, ev);
    return ev;
  }

  private entries(t: TaskState) {
    return t.assignees.map((e) => {
      const a = t.assignments.get(e)!;
      const expired = a.status === AssignmentStatus.Assigned && (t.consensusAt === 0n || t.consensusAt > a.expiry);
      return { executor: e, status: a.status, resultHash: a.resultHash, logWeight: a.logWeight, expired };
    });
  }

  private applySettlement(t: TaskState, s: ReturnType<typeof settle>, ev: ModelEvent[]): void {
    const slashed = new Map(s.slashed.map((x) => [x.executor, x.amount]));
    const released = new Set(s.released);
    for (const e of t.assignees) {
      const amount = slashed.get(e);
      if (amount === undefined) {
        if (released.has(e)) this.staking.unlock(e, LOCK_PER_TASK);
      } else {
        this.staking.slash(e, amount);
        if (amount < LOCK_PER_TASK) this.staking.unlock(e, LOCK_PER_TASK - amount);
      }
    }
    for (const x of s.slashed) ev.push({ kind: 'slashed', taskId: t.id, executor: x.executor, amount: x.amount });
    for (const [e, sc] of s.scores) this.scores.set(e, sc);
    for (const p of s.payouts) {
      this.credit(p.to, p.amount);
      ev.push({ kind: 'paid', taskId: t.id, executor: p.to, amount: p.amount, payKind: p.kind });
    }
  }

  private complete(t: TaskState, ev: ModelEvent[]): void {
    const s = settle(this.settleTask(t, 'complete'), this.entries(t), (e) => this.scoreOf(e));
    this.applySettlement(t, s, ev);
    t.status = TaskStatus.Completed;
    this.removeOpen(t.id);
    ev.push({ kind: 'finalized', taskId: t.id, status: t.status, digest: t.result });
    if (t.callback) ev.push({ kind: 'callback', taskId: t.id, digest: t.result });
  }

  private failTask(t: TaskState, ev: ModelEvent[]): void {
    const s = settle(this.settleTask(t, 'fail'), this.entries(t), (e) => this.scoreOf(e));
    this.applySettlement(t, s, ev);
    this.credit(t.requester, s.refund);
    ev.push({ kind: 'refunded', taskId: t.id, executor: t.requester, amount: s.refund });
    t.status = TaskStatus.Failed;
    this.removeOpen(t.id);
    ev.push({ kind: 'finalized', taskId: t.id, status: t.status, digest: null });
  }

  private settleTask(t: TaskState, outcome: 'complete' | 'fail') {
    return {
      outcome, escrow: t.escrow, appFee: t.appFee, datasetFee: t.datasetFee, poolFee: t.poolFee,
      appOwner: this.apps.get(t.app)!.owner, datasetOwner: t.dataset ? this.datasets.get(t.dataset)!.owner : '',
      poolOwner: t.pool !== 0n ? this.pools.get(t.pool)!.owner : '',
      requester: t.requester, maxReplicas: t.maxReplicas, contributedCount: t.contributedCount, consensusHash: t.consensusHash,
    };
  }

  private removeOpen(id: bigint): void {
    const i = this.open.indexOf(id);
    if (i < 0) return;
    const last = this.open.length - 1;
    if (i !== last) this.open[i] = this.open[last]!;
    this.open.pop();
  }
}

export type { Payout };
