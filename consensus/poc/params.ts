/**
 * Protocol parameters of the proof-of-contribution market. Each value mirrors a constant of
 * contracts/sidechain/Hub.sol or Staking.sol; test/contracts/hub-*.test.ts check they agree.
 */

/** Stake locked per assignment: what a loser or a non-revealer loses (wei). */
export const LOCK_PER_TASK = 10n ** 17n;
/** Minimum bonded stake to be an active executor (wei). */
export const MIN_EXECUTOR_STAKE = 10n ** 18n;
/** Blocks between an unbond request and the withdrawal. */
export const UNBONDING_BLOCKS = 100n;
/** Bound on the active executor list. */
export const MAX_EXECUTORS = 256;

/** Sampling weight = min(freeStake / STAKE_UNIT, MAX_STAKE_UNITS) × min(w(score), MAX_SAMPLE_REP_WEIGHT). */
export const STAKE_UNIT = 10n ** 15n;
export const MAX_STAKE_UNITS = 10n ** 9n;
export const MAX_SAMPLE_REP_WEIGHT = 2n ** 32n;
/** Saturation bound of credibility weights and group products. */
export const WEIGHT_CAP = 2n ** 120n;

export const MAX_REPLICAS = 32;
export const MAX_TRUST = 10n ** 9n;
export const MAX_INPUT_BYTES = 4096;

/** Deadlines in multiples of the category time reference T (blocks). */
export const ASSIGN_T = 2n;
export const CONTRIBUTION_T = 7n;
export const REVEAL_T = 2n;
export const FINAL_T = 10n;

/** Time reference T (blocks) per category id. */
export const CATEGORY_T: readonly bigint[] = [5n, 20n, 60n, 240n];

/** Bounded work per system call (tasks examined). */
export const SCHEDULE_SCAN = 128;
export const FINALIZE_SCAN = 128;
/** Gas a dApp callback gets. */
export const CALLBACK_GAS = 200_000n;

/**
 * Gas rule of the system calls: upper bounds of each step, checked before the step (Hub.sol).
 * The model assumes the gas never runs short; hub-attack.test.ts checks the bounds hold.
 */
export const POOL_GAS = 3_600_000n;
export const TASK_GAS = 80_000n;
export const CANDIDATE_GAS = 4_000n;
export const DRAW_GAS = 130_000n;
export const WALK_GAS = 200n;
export const SETTLE_GAS = 150_000n;
export const SETTLE_GAS_PER_ASSIGNEE = 80_000n;

/** Least reward (escrow − fees) per replica of maxReplicas (wei): flooding is never free. */
export const MIN_REWARD_PER_REPLICA = 10n ** 15n;
/** Part of the lock lost by an executor whose assignment expired without a contribution. */
export const EXPIRY_PENALTY = LOCK_PER_TASK / 2n;
/** Request flags (Hub.FLAG_*): SOLO lets one executor meet the trust alone. */
export const FLAG_SOLO = 1;
/**
 * Executor offers (Hub.setOffer): an ask per category in wei per task replica, a multiple of
 * ASK_UNIT up to MAX_ASK, and a capacity 1..MAX_CAPACITY of open assignments (assigned until
 * settled or declined). An executor that never declared asks 0 with DEFAULT_CAPACITY.
 */
export const ASK_UNIT = 10n ** 9n;
export const MAX_ASK = (2n ** 48n - 1n) * ASK_UNIT;
export const MAX_CAPACITY = 64;
export const DEFAULT_CAPACITY = 8;
export const NUM_CATEGORIES = 4;
/** Private pools: most a pool owner takes from the executors' reward, in basis points (Hub.MAX_POOL_FEE_BPS). */
export const MAX_POOL_FEE_BPS = 2000;
/** Most tasks in one requestTasks call. */
export const MAX_BAG = 256;

/** Task status codes (Hub.STATUS_*). */
export const TaskStatus = { None: 0, Active: 1, Revealing: 2, Completed: 3, Failed: 4 } as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

/** Assignment status codes (Hub.A_*). */
export const AssignmentStatus = { None: 0, Assigned: 1, Contributed: 2, Revealed: 3, Declined: 4 } as const;
export type AssignmentStatus = (typeof AssignmentStatus)[keyof typeof AssignmentStatus];

/** Payment kinds in Paid events (Hub.PAY_*). */
export const PayKind = { Reward: 0, AppFee: 1, DatasetFee: 2, PoolFee: 3 } as const;
export type PayKind = (typeof PayKind)[keyof typeof PayKind];

/** Fixed genesis addresses. */
export const STAKING_ADDRESS = '0x0000000000000000000000000000000000001000';
export const HUB_ADDRESS = '0x0000000000000000000000000000000000001001';
export const SYSTEM_ADDRESS = '0xfffffffffffffffffffffffffffffffffffffffe';

/** Time reference of a category; throws on an unknown id. */
export function categoryTime(category: number): bigint {
  const t = CATEGORY_T[category];
  if (t === undefined) throw new RangeError(`unknown task category ${category}`);
  return t;
}
