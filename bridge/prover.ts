/**
 * Withdrawal proofs for Vault.release: read the sidechain Bridge's WithdrawalRequested logs, rebuild
 * the tree over the leaves that existed at a checkpoint height, check it against the root L1
 * accepted, and return the 32-hash proof. Anyone can do it from a sidechain RPC and an L1 RPC.
 */
import type { Provider } from 'ethers';
import { PocError } from '../lib/errors.ts';
import type { Checkpoint } from './checkpoint.ts';
import { checkpointTuple, l1CheckpointAt, latestL1Height } from './l1-checkpoints.ts';
import { BRIDGE_ADDRESS } from './deposits-hook.ts';
import { decodeWithdrawalLog, IncrementalMerkleTree, WITHDRAWAL_REQUESTED_TOPIC, type WithdrawalEvent } from './merkle.ts';

export type ProverErrorCode = 'PROOF_UNKNOWN_WITHDRAWAL' | 'PROOF_NOT_CHECKPOINTED' | 'PROOF_ROOT_MISMATCH' | 'PROOF_UNKNOWN_CHECKPOINT';

/** Sidechain eth_getLogs range limit. */
const LOG_RANGE = 10_000;

/** All WithdrawalRequested logs up to block `toBlock`, in index order. */
export async function fetchWithdrawals(sidechain: Provider, toBlock: number, fromBlock = 0): Promise<WithdrawalEvent[]> {
  const out: WithdrawalEvent[] = [];
  for (let from = fromBlock; from <= toBlock; from += LOG_RANGE) {
    const logs = await sidechain.getLogs({ address: BRIDGE_ADDRESS, topics: [WITHDRAWAL_REQUESTED_TOPIC], fromBlock: from, toBlock: Math.min(toBlock, from + LOG_RANGE - 1) });
    for (const l of logs) out.push(decodeWithdrawalLog(l));
  }
  out.sort((a, b) => (a.index < b.index ? -1 : 1));
  out.forEach((w, i) => {
    if (w.index !== BigInt(i)) throw new PocError<ProverErrorCode>('PROOF_UNKNOWN_WITHDRAWAL', `withdrawal logs are not contiguous at index ${i} (got ${w.index})`);
  });
  return out;
}

/** What Vault.release takes (`checkpoint` once the L1 checkpoint is known: buildRelease). */
export interface ReleaseArgs {
  height: bigint;
  checkpoint?: Checkpoint;
  index: bigint;
  l1Recipient: string;
  amount: bigint;
  proof: string[];
}

/**
 * Proof of withdrawal `index` under the checkpoint at `height`: the tree over the withdrawals made
 * in blocks ≤ height. Checks the rebuilt root against `expectedRoot` when given.
 */
export function proveWithdrawal(withdrawals: readonly WithdrawalEvent[], height: number, index: bigint, expectedRoot?: string): ReleaseArgs {
  const upTo = withdrawals.filter((w) => w.blockNumber <= height);
  const w = withdrawals[Number(index)];
  if (!w || w.index !== index) throw new PocError<ProverErrorCode>('PROOF_UNKNOWN_WITHDRAWAL', `no withdrawal with index ${index}`);
  if (w.blockNumber > height) throw new PocError<ProverErrorCode>('PROOF_NOT_CHECKPOINTED', `withdrawal ${index} is in block ${w.blockNumber}, after checkpoint ${height}`);
  const tree = IncrementalMerkleTree.fromLeaves(upTo.map((x) => x.leaf));
  if (expectedRoot !== undefined && tree.root() !== expectedRoot.toLowerCase()) {
    throw new PocError<ProverErrorCode>('PROOF_ROOT_MISMATCH', `withdrawals root at ${height} rebuilt from logs is ${tree.root()}, the checkpoint says ${expectedRoot}: the sidechain RPC disagrees with L1`);
  }
  return { height: BigInt(height), index, l1Recipient: w.l1Recipient, amount: w.amount, proof: tree.proof(Number(index)) };
}

/**
 * Build the release arguments for withdrawal `index` against the latest checkpoint on L1 (or the
 * one at `height`), checked against the withdrawals root accepted there (Checkpoints or
 * CheckpointsBls: the roots come from its CheckpointAccepted event, confirmed by isCheckpoint).
 */
export async function buildRelease(o: { sidechain: Provider; l1: Provider; checkpoints: string; index: bigint; height?: number }): Promise<Required<ReleaseArgs>> {
  const height = o.height ?? (await latestL1Height(o.l1, o.checkpoints));
  const cp = await l1CheckpointAt(o.l1, o.checkpoints, height);
  if (!cp) throw new PocError<ProverErrorCode>('PROOF_UNKNOWN_CHECKPOINT', `no checkpoint at height ${height} on L1`);
  const withdrawals = await fetchWithdrawals(o.sidechain, height);
  return { ...proveWithdrawal(withdrawals, height, o.index, cp.withdrawalsRoot), checkpoint: cp };
}

/** The arguments of Vault.release(cp, index, l1Recipient, amount, proof). */
export function releaseCallArgs(a: Required<ReleaseArgs>): [ReturnType<typeof checkpointTuple>, bigint, string, bigint, string[]] {
  return [checkpointTuple(a.checkpoint), a.index, a.l1Recipient, a.amount, a.proof];
}
