/**
 * Pure block rules of the BFT driver (CometBFT's state/validation.go and evidence/verify.go,
 * reduced to what pocchain has): what a block envelope must satisfy besides execution, which
 * evidence may be gossiped, included and accepted (one rule for all three), which system data a
 * proposer assembles, how many transactions fit a block's byte budget, and how long to wait for
 * a validation in flight. No I/O here: the driver feeds in what it read.
 */
import { PocError } from '../lib/errors.ts';
import { EVIDENCE_MAX_AGE, MAX_DEPOSITS_PER_BLOCK, MAX_EVIDENCE_PER_BLOCK } from './limits.ts';
import type { TimeoutConfig } from './bft/machine.ts';
import type { DuplicateVoteEvidence } from './bft/types.ts';
import type { Deposit, RandaoReveal, SysData } from './envelope.ts';

/** A validity verdict: `cannot-judge` when this node's view (L1, clock) is not there yet. */
export type Judgement = 'valid' | 'invalid' | 'cannot-judge';

/**
 * Codes a SystemInputSource.check (bridge/) throws when it cannot judge a block's deposits yet:
 * its L1 RPC is unreachable, or its L1 view is behind the deposits proposed. Any other throw
 * means the deposits are wrong. CLOCK_BEHIND is the driver's own (a block stamped ahead of our clock).
 */
export type L1JudgeCode = 'L1_UNAVAILABLE' | 'L1_BEHIND';
export type CannotJudgeCode = L1JudgeCode | 'CLOCK_BEHIND';
export const CANNOT_JUDGE_CODES: readonly CannotJudgeCode[] = ['L1_UNAVAILABLE', 'L1_BEHIND', 'CLOCK_BEHIND'];

export type BlockRuleCode = 'BLOCK_RULE' | 'BAD_EVIDENCE';

export function ruleError(message: string, data?: Record<string, unknown>): PocError<BlockRuleCode> {
  return new PocError<BlockRuleCode>('BLOCK_RULE', message, data ? { data } : {});
}

/** The verdict a thrown error stands for: cannot-judge for the codes above, invalid otherwise. */
export function judgementOfError(err: unknown): Exclude<Judgement, 'valid'> {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (CANNOT_JUDGE_CODES as readonly string[]).includes(code) ? 'cannot-judge' : 'invalid';
}

// ---- evidence ----

export type EvidenceVerdict = 'ok' | 'future' | 'too-old' | 'committed';

/**
 * The one evidence rule, used at gossip, at build and at validation: evidence of height h is
 * usable while deciding `height` when height - EVIDENCE_MAX_AGE ≤ h ≤ height (h = height: an
 * equivocation in the height being decided) and it was never committed. Checked before any
 * signature check or set computation, so far or old evidence costs nothing.
 */
export function evidenceVerdict(evidenceHeight: number, height: number, committed: boolean): EvidenceVerdict {
  if (!Number.isSafeInteger(evidenceHeight) || evidenceHeight > height) return 'future';
  if (evidenceHeight < height - EVIDENCE_MAX_AGE || evidenceHeight < 1) return 'too-old';
  if (committed) return 'committed';
  return 'ok';
}

function valueKey(h: Uint8Array | null): string {
  return h === null ? 'nil' : Buffer.from(h).toString('hex');
}

/** True when the two votes are in canonical order (by value), the only order a block may carry. */
export function isCanonicalEvidence(ev: DuplicateVoteEvidence): boolean {
  return valueKey(ev.voteA.blockHash) < valueKey(ev.voteB.blockHash);
}

// ---- envelope ----

export interface EnvelopeFacts {
  /** the block's own number and the height being decided */
  blockNumber: number;
  height: number;
  /** our head's number */
  headNumber: number;
  /** header.extraData equals sysHash(sys) */
  extraDataMatches: boolean;
  /** last commit: present, its height, whether it is for our head */
  lastCommit: { height: number; forHead: boolean } | null;
  /** header.mixHash equals the expected randomness (last commit's, or zero at height 1); true on a randao chain (consensus/randao.ts checks it) */
  mixHashMatches: boolean;
  evidenceCount: number;
  depositCount: number;
  /** the block's timestamp (s) and our clock (s) */
  timestamp: number;
  now: number;
}

/** Seconds a block may be stamped ahead of our clock before we cannot judge it (chain/chain.ts verify). */
export const MAX_FUTURE_SECONDS = 15;

/**
 * Envelope checks before execution. Returns 'valid', or throws: a BLOCK_RULE error (invalid) or
 * a CLOCK_BEHIND error (cannot judge yet: our clock may be slow; +2/3 may still commit it).
 */
export function checkEnvelope(f: EnvelopeFacts): 'valid' {
  if (f.blockNumber !== f.height || f.headNumber + 1 !== f.height) throw ruleError(`block ${f.blockNumber} is not at height ${f.height} on head ${f.headNumber}`);
  if (!f.extraDataMatches) throw ruleError('extraData does not commit to the system data');
  if (f.height > 1) {
    if (!f.lastCommit) throw ruleError('missing last commit');
    if (f.lastCommit.height !== f.height - 1 || !f.lastCommit.forHead) throw ruleError('last commit is not for the parent block');
    if (!f.mixHashMatches) throw ruleError("prevrandao is not the last commit's randomness");
  } else if (!f.mixHashMatches) throw ruleError('height 1 prevrandao must be zero');
  if (f.evidenceCount > MAX_EVIDENCE_PER_BLOCK) throw ruleError('too much evidence', { count: f.evidenceCount });
  if (f.depositCount > MAX_DEPOSITS_PER_BLOCK) throw ruleError('too many deposits', { count: f.depositCount });
  if (f.timestamp > f.now + MAX_FUTURE_SECONDS) throw new PocError<CannotJudgeCode>('CLOCK_BEHIND', 'block stamped ahead of our clock', { data: { timestamp: f.timestamp, now: f.now } });
  return 'valid';
}

// ---- system data ----

/**
 * The system data a proposer puts in its block. Deposits only in round 0: if validators' L1 views
 * differ, round 0 may fail, and from round 1 on the block carries no deposits, so a split L1
 * view stalls the bridge, never the chain.
 */
export function assembleSys(o: { height: number; round: number; lastCommit: Uint8Array | null; evidence: Uint8Array[]; deposits: Deposit[]; randao?: RandaoReveal }): SysData {
  return {
    ...(o.randao ? { randao: o.randao } : {}),
    ...(o.lastCommit && o.height > 1 ? { lastCommit: o.lastCommit } : {}),
    evidence: o.evidence.slice(0, MAX_EVIDENCE_PER_BLOCK),
    deposits: o.round === 0 ? o.deposits.slice(0, MAX_DEPOSITS_PER_BLOCK) : [],
  };
}

/** Whether the proposer of `round` asks its L1 source for deposits. */
export function depositsAllowed(round: number): boolean {
  return round === 0;
}

// ---- block bytes ----

/**
 * The longest prefix of `sizes` (candidate transactions in pool order) whose total fits `budget`;
 * `sizes` is read lazily, so only the candidates that fit are ever measured.
 * The builder may still skip some of them (they fail), so the block's tx bytes stay within it.
 */
export function fitByBytes(sizes: Iterable<number>, budget: number): number {
  let total = 0;
  let i = 0;
  for (const size of sizes) {
    total += size;
    if (total > budget) return i;
    i++;
  }
  return i;
}

// ---- timing ----

/** Gas per millisecond a validator is assumed to execute at worst (≈ 2 Mgas/s, a loaded 2-core host). */
export const WORST_GAS_PER_MS = 2000;

/**
 * Consensus timeouts that follow from the block time: a proposer has ~2 block times to build and
 * gossip, the vote steps one block time; each round adds half as much (CometBFT's deltas).
 */
export function timeoutsFor(blockTimeMs: number): TimeoutConfig {
  const b = Math.max(100, blockTimeMs);
  const propose = Math.max(1000, 2 * b + 500);
  const vote = Math.max(500, b);
  return { proposeMs: propose, proposeDeltaMs: Math.round(propose / 2), prevoteMs: vote, prevoteDeltaMs: Math.round(vote / 2), precommitMs: vote, precommitDeltaMs: Math.round(vote / 2) };
}

/**
 * How long to wait after committing a height before starting the next: what is left of the block
 * time since the height started (never negative). The block time is the target interval between
 * blocks, as anvil's interval mining or an Ethereum slot, rather than CometBFT's idle gap after a
 * commit (timeout_commit), which a loaded chain pays on top of building and validating each block.
 */
export function nextHeightDelayMs(blockTimeMs: number, heightTookMs: number): number {
  return Math.max(0, Math.round(blockTimeMs - heightTookMs));
}

/**
 * How long a validator that received the proposal in time keeps waiting for its own validation
 * after the propose timeout, instead of prevoting nil: the block's gas at the worst execution
 * rate, at least one propose timeout.
 */
export function validationWaitMs(gasUsed: bigint, t: TimeoutConfig): number {
  const execMs = Number(gasUsed / BigInt(WORST_GAS_PER_MS));
  return Math.max(t.proposeMs, Math.min(execMs, 60_000));
}

