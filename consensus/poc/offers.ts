/**
 * Executor offers (Hub.setOffer): what an executor asks per task replica in each category, and how
 * many open assignments it takes at once. The rules the scheduler applies to a candidate, and the
 * quote `pocchain market` prints, both come from here, so the CLI predicts exactly what the Hub
 * will draw.
 *
 * An assignment is open from its draw until its task settles or the executor declines it: the
 * life of its stake lock, so an executor's open assignments are locked / LOCK_PER_TASK and the
 * Hub counts capacity in use without a counter of its own.
 */
import { PocError } from '../../lib/errors.ts';
import { ASK_UNIT, DEFAULT_CAPACITY, LOCK_PER_TASK, MAX_ASK, MAX_CAPACITY, MIN_REWARD_PER_REPLICA, NUM_CATEGORIES } from './params.ts';

export interface Offer {
  /** least reward per replica accepted, per category (wei) */
  asks: readonly bigint[];
  /** most open assignments at once */
  capacity: number;
  /** false for an executor that never called setOffer (asks 0, DEFAULT_CAPACITY) */
  declared: boolean;
}

/** The offer of an executor that never declared one. */
export const DEFAULT_OFFER: Offer = Object.freeze({ asks: Object.freeze([0n, 0n, 0n, 0n]), capacity: DEFAULT_CAPACITY, declared: false });

/** setOffer's refusals, in the Hub's order (InvalidCapacity, then InvalidAsk per category). */
export function checkOffer(asks: readonly bigint[], capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
    throw new PocError('InvalidCapacity', `capacity ${capacity} is not 1..${MAX_CAPACITY}`, { data: { capacity, max: MAX_CAPACITY } });
  }
  if (asks.length !== NUM_CATEGORIES) throw new PocError('InvalidAsk', `${asks.length} asks, one per category (${NUM_CATEGORIES}) expected`);
  for (const [c, a] of asks.entries()) {
    if (a < 0n || a % ASK_UNIT !== 0n || a > MAX_ASK) {
      throw new PocError('InvalidAsk', `ask ${a} of category ${c} is not a multiple of ${ASK_UNIT} wei up to ${MAX_ASK}`, { data: { category: c, ask: String(a) } });
    }
  }
}

/** Open assignments of an executor whose stake lock is `locked`. */
export const openAssignments = (locked: bigint): number => Number(locked / LOCK_PER_TASK);

export type Refusal = 'capacity' | 'ask' | 'pool';

/**
 * Why a staked candidate is not drawn for a task, or null when it may be (the Hub's order).
 * `taskPool` is the private pool the task is restricted to (0: none), `member` the candidate's.
 */
export function offerRefuses(offer: Offer, locked: bigint, category: number, perReplica: bigint, taskPool = 0n, member = 0n): Refusal | null {
  if (locked >= BigInt(offer.capacity) * LOCK_PER_TASK) return 'capacity';
  if (offer.asks[category]! > perReplica) return 'ask';
  if (taskPool !== 0n && member !== taskPool) return 'pool';
  return null;
}

export interface MarketEntry {
  executor: string;
  offer: Offer;
  /** free stake (stake − locked) */
  free: bigint;
  locked: bigint;
  /** the private pool it is a member of (0: none) */
  pool?: bigint;
}

export interface Quote {
  category: number;
  /** the request's reward per replica, (escrow − fees) / maxReplicas */
  perReplica: bigint;
  /** executors that could be drawn now: stake for one lock, capacity left, ask ≤ perReplica */
  fitting: number;
  /** open slots among them: min(capacity left, free stake / LOCK_PER_TASK) summed */
  slots: number;
  /** executors priced out (ask above perReplica), outside the request's pool, and those at capacity or short of free stake */
  pricedOut: number;
  outsidePool: number;
  busy: number;
  /**
   * Least reward per replica at which `replicas` executors fit now (the replicas-th lowest ask
   * among executors with capacity and stake left, at least MIN_REWARD_PER_REPLICA); null when
   * fewer than `replicas` have room at any price.
   */
  rewardFor: bigint | null;
}

/** How many executors a request of reward `perReplica` per replica in `category` can be drawn from now. */
export function quote(entries: readonly MarketEntry[], category: number, perReplica: bigint, replicas: number, pool = 0n): Quote {
  let fitting = 0, slots = 0, pricedOut = 0, busy = 0, outsidePool = 0;
  const asks: bigint[] = [];
  for (const e of entries) {
    const room = Math.min(e.offer.capacity - openAssignments(e.locked), Number(e.free / LOCK_PER_TASK));
    if (room <= 0) {
      busy++;
      continue;
    }
    if (pool !== 0n && (e.pool ?? 0n) !== pool) {
      outsidePool++;
      continue;
    }
    asks.push(e.offer.asks[category]!);
    if (offerRefuses(e.offer, e.locked, category, perReplica) === 'ask') {
      pricedOut++;
      continue;
    }
    fitting++;
    slots += room;
  }
  asks.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const kth = asks[replicas - 1];
  const rewardFor = kth === undefined ? null : kth > MIN_REWARD_PER_REPLICA ? kth : MIN_REWARD_PER_REPLICA;
  return { category, perReplica, fitting, slots, pricedOut, outsidePool, busy, rewardFor };
}
