/**
 * Settlement of a task, exactly as Hub._complete / Hub._fail pay:
 * - completed: pool = escrow − appFee − datasetFee − poolFee + seized locks. Each winner (revealed the
 *   consensus) gets the reward per replica, base = ⌊(escrow − fees − poolFee) / maxReplicas⌋ — at least the
 *   ask it had when drawn, since the scheduler draws no one asking more — and the rest of the pool,
 *   pool − winners·base, is shared ∝ logWeight, shares rounded down, the remainder to the first
 *   winner in assignment order; a winner gains +1 score when more than one executor contributed, its share
 *   is at least MIN_REWARD_PER_REPLICA and it is not the requester. Every other contributor (lost
 *   the vote, or in the consensus group but never revealed) loses its lock into the pool and its
 *   score becomes ⌊2s/3⌋. Assigned executors whose assignment expired before consensus (`expired`)
 *   lose EXPIRY_PENALTY into the pool and the same third of their score; the other assigned
 *   executors get their lock back, except those who declined (released then). App and dataset
 *   owners receive their fees, and a private pool's owner its pool fee.
 * - failed: the requester gets the escrow back plus the locks of consensus-group members who never
 *   revealed and the expiry penalties (penalised as above); every other lock is released; no fees
 *   are paid.
 */
import { AssignmentStatus, EXPIRY_PENALTY, LOCK_PER_TASK, MIN_REWARD_PER_REPLICA, PayKind } from './params.ts';

export interface SettleTask {
  outcome: 'complete' | 'fail';
  escrow: bigint;
  appFee: bigint;
  datasetFee: bigint;
  /** a private pool's cut (0 for a public task) */
  poolFee: bigint;
  appOwner: string;
  datasetOwner: string;
  poolOwner: string;
  requester: string;
  /** the request's maxReplicas: the reward per replica is (escrow − fees) / maxReplicas */
  maxReplicas: number;
  contributedCount: number;
  /** null when the vote never reached consensus */
  consensusHash: string | null;
}

export interface SettleEntry {
  executor: string;
  status: AssignmentStatus;
  resultHash: string | null;
  logWeight: number;
  /** assigned, never contributed, and the task stayed without consensus past the expiry */
  expired?: boolean;
}

export interface Payout {
  to: string;
  amount: bigint;
  kind: PayKind;
}

export interface Settlement {
  /** Paid events in emission order */
  payouts: Payout[];
  slashed: { executor: string; amount: bigint; newScore: bigint }[];
  /** executors whose lock is released */
  released: string[];
  /** new score of every executor whose score changed */
  scores: Map<string, bigint>;
  /** amount credited to the requester (0 when completed) */
  refund: bigint;
}

/** Compute payouts, slashes and score changes of a task (`scoreOf` reads current scores). */
export function settle(
  task: SettleTask,
  entries: readonly SettleEntry[],
  scoreOf: (executor: string) => bigint,
  lock: bigint = LOCK_PER_TASK,
): Settlement {
  const out: Settlement = { payouts: [], slashed: [], released: [], scores: new Map(), refund: 0n };
  const penalise = (e: string, amount = lock): bigint => {
    const s = ((out.scores.get(e) ?? scoreOf(e)) * 2n) / 3n;
    out.scores.set(e, s);
    out.slashed.push({ executor: e, amount, newScore: s });
    return amount;
  };
  const silent = (a: SettleEntry) => a.status === AssignmentStatus.Assigned && a.expired === true;
  if (task.outcome === 'fail') {
    let refund = task.escrow;
    for (const a of entries) {
      if (task.consensusHash !== null && a.status === AssignmentStatus.Contributed && a.resultHash === task.consensusHash) {
        refund += penalise(a.executor);
      } else if (a.status === AssignmentStatus.Declined) continue; // released by decline()
      else if (silent(a)) refund += penalise(a.executor, EXPIRY_PENALTY);
      else out.released.push(a.executor);
    }
    out.refund = refund;
    return out;
  }
  let pool = task.escrow - task.appFee - task.datasetFee - task.poolFee;
  const base = pool / BigInt(task.maxReplicas);
  let sumLog = 0n;
  let winners = 0n;
  for (const a of entries) {
    if (a.status === AssignmentStatus.Revealed) {
      sumLog += BigInt(a.logWeight);
      winners++;
      out.released.push(a.executor);
    } else if (a.status === AssignmentStatus.Contributed) pool += penalise(a.executor);
    else if (a.status === AssignmentStatus.Declined) continue; // released by decline()
    else if (silent(a)) pool += penalise(a.executor, EXPIRY_PENALTY);
    else out.released.push(a.executor);
  }
  if (sumLog === 0n) throw new RangeError('settle: a completed task needs at least one revealed winner');
  const replicated = task.contributedCount > 1;
  const bonus = pool - base * winners;
  let paid = 0n;
  let first: string | null = null;
  for (const a of entries) {
    if (a.status !== AssignmentStatus.Revealed) continue;
    first ??= a.executor;
    const share = base + (bonus * BigInt(a.logWeight)) / sumLog;
    paid += share;
    out.payouts.push({ to: a.executor, amount: share, kind: PayKind.Reward });
    if (replicated && share >= MIN_REWARD_PER_REPLICA && a.executor !== task.requester) out.scores.set(a.executor, (out.scores.get(a.executor) ?? scoreOf(a.executor)) + 1n);
  }
  if (pool > paid) out.payouts.push({ to: first!, amount: pool - paid, kind: PayKind.Reward });
  if (task.appFee > 0n) out.payouts.push({ to: task.appOwner, amount: task.appFee, kind: PayKind.AppFee });
  if (task.datasetFee > 0n) out.payouts.push({ to: task.datasetOwner, amount: task.datasetFee, kind: PayKind.DatasetFee });
  if (task.poolFee > 0n) out.payouts.push({ to: task.poolOwner, amount: task.poolFee, kind: PayKind.PoolFee });
  return out;
}
