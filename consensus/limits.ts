/**
 * Protocol limits of consensus and its gossip, in one place. Everything a peer can send is
 * bounded by one of these before any work is done on it (signature checks, set computation,
 * block execution), and the limits are checked against each other when a node starts
 * (`checkLimits`): a block the builder may produce always fits a proposal, a proposal always fits
 * one gossip message, a pool-legal transaction always fits a tx gossip batch.
 */
import { PocError } from '../lib/errors.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Votes and proposals for rounds beyond current + this are ignored before their signature is checked. */
export const ROUND_WINDOW = 8;
/** Heights of gossiped consensus messages accepted around ours: [height - 1, height + HEIGHT_AHEAD]. */
export const HEIGHT_AHEAD = 1;
/** Evidence older than this many heights is neither gossiped, included nor accepted (CometBFT MaxAgeNumBlocks). */
export const EVIDENCE_MAX_AGE = 1000;
/** Most evidence items in one block. */
export const MAX_EVIDENCE_PER_BLOCK = 10;
/** Most evidence items held waiting for a block (the pool drops the oldest beyond it). */
export const MAX_PENDING_EVIDENCE = 256;
/** Most deposits a proposer puts in one block (decodeSys refuses more than 1000). */
export const MAX_DEPOSITS_PER_BLOCK = 256;

/** Largest signed transaction (the pool refuses bigger ones; RLP bytes). */
export const MAX_TX_BYTES = 128 * KiB;
/** Budget for the transactions' RLP in one block: the builder stops before it. */
export const MAX_BLOCK_TX_BYTES = 1 * MiB;
/** Block header RLP plus list framing, generously. */
export const BLOCK_HEADER_BYTES = 2 * KiB;
/** Envelope and proposal framing around the block (msgpack headers, hashes, signature). */
export const PROPOSAL_OVERHEAD_BYTES = 1 * KiB;
/** One encoded evidence item: two votes (≈ 2 × 140 bytes) with framing. */
export const MAX_EVIDENCE_BYTES = 512;
/** One encoded deposit. */
export const DEPOSIT_BYTES = 96;
/** Largest consensus gossip message (a proposal carries its whole block). */
export const CONSENSUS_GOSSIP_MAX = 2 * MiB;
/** Largest tx gossip message (a batch of transactions). */
export const TX_GOSSIP_MAX = 256 * KiB;
/** A tx batch is flushed once it holds this many bytes or transactions, or after TX_BATCH_DELAY_MS. */
export const TX_BATCH_BYTES = 64 * KiB;
export const TX_BATCH_COUNT = 256;
export const TX_BATCH_DELAY_MS = 20;
/** Largest evidence gossip message. */
export const EVIDENCE_GOSSIP_MAX = 4 * KiB;
/** Largest WAL record (consensus/bft/wal.ts MAX_WAL_RECORD_BYTES). */
export const WAL_RECORD_MAX = 64 * MiB;

/** Bytes of the consensus data riding along a block: last commit, evidence, deposits. */
export function maxSysBytes(validators: number): number {
  const lastCommit = 64 + validators * (64 + 3);
  return lastCommit + MAX_EVIDENCE_PER_BLOCK * MAX_EVIDENCE_BYTES + MAX_DEPOSITS_PER_BLOCK * DEPOSIT_BYTES + 64;
}

/** Largest proposal message the builder can produce for a set of `validators`. */
export function maxProposalBytes(validators: number): number {
  return MAX_BLOCK_TX_BYTES + MAX_TX_BYTES + BLOCK_HEADER_BYTES + maxSysBytes(validators) + PROPOSAL_OVERHEAD_BYTES;
}

export interface LimitSet {
  validators: number;
  consensusGossipMax: number;
  txGossipMax: number;
  poolMaxTxBytes: number;
  walRecordMax: number;
}

/**
 * Check the limits against each other; throws PocError('BAD_LIMITS') naming the first that does
 * not fit. The builder may overshoot MAX_BLOCK_TX_BYTES by at most one transaction, hence the
 * MAX_TX_BYTES term in maxProposalBytes.
 */
export function checkLimits(l: LimitSet): void {
  const fail = (m: string, data: Record<string, unknown>) => {
    throw new PocError('BAD_LIMITS', m, { data });
  };
  if (l.poolMaxTxBytes > MAX_TX_BYTES) fail('the pool accepts transactions larger than a block may carry', { poolMaxTxBytes: l.poolMaxTxBytes, MAX_TX_BYTES });
  if (MAX_TX_BYTES + 64 > l.txGossipMax) fail('a pool-legal transaction does not fit a tx gossip message', { MAX_TX_BYTES, txGossipMax: l.txGossipMax });
  if (TX_BATCH_BYTES + MAX_TX_BYTES + 64 > l.txGossipMax) fail('a full tx batch does not fit a tx gossip message', { TX_BATCH_BYTES, txGossipMax: l.txGossipMax });
  const proposal = maxProposalBytes(l.validators);
  if (proposal > l.consensusGossipMax) fail('a full block does not fit a proposal message', { maxProposalBytes: proposal, consensusGossipMax: l.consensusGossipMax });
  if (proposal * 2 > l.walRecordMax) fail('a proposal does not fit a WAL record', { maxProposalBytes: proposal, walRecordMax: l.walRecordMax });
}
