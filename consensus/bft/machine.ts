/**
 * The Tendermint consensus algorithm ("The latest gossip on BFT consensus", Buchman, Kwon,
 * Milosevic 2018, Algorithm 1) as a deterministic state machine:
 *
 *     step(state, input) -> { state, outputs }
 *
 * No I/O, no clock, no randomness: the driver feeds inputs (messages, timeouts, answers to the
 * machine's requests) and carries out outputs (sign + WAL + broadcast, timers, block build and
 * validation, storing the decided block). Replaying the same inputs gives the same outputs, which
 * is what makes the WAL sufficient for crash recovery.
 *
 * Ownership: `step` updates the state it is given and returns it; the caller must use the
 * returned state and drop the old reference (one writer, as CometBFT's consensus/state.go).
 *
 * Line references (L22, L28, ...) are to Algorithm 1 of the paper. Departures, all as CometBFT:
 * - valid(v) is answered asynchronously: `validateBlock` goes out, `blockValidity` comes back;
 *   rules needing valid(v) wait for it. The answer has three values: valid, invalid, and
 *   cannot-judge (this node's L1 view or clock is behind); only valid lets us prevote the block.
 *   When the propose timeout fires while the proposal we received is still being validated, we
 *   wait once more (`awaiting` timeout, sized by the driver from the block's gas) instead of
 *   prevoting nil: a slow validation must not fail the round.
 * - a verdict is not final until it is valid: when +2/3 precommit (or a synced commit certifies)
 *   a block we judged invalid or could not judge, it is re-validated once with `decided` (the
 *   driver then checks only what it can: execution and signatures) and committed if that passes.
 *   Verdicts are not written to the WAL, so a restart re-asks instead of replaying a stale one.
 * - getValue() is asynchronous: `buildBlock` goes out, `ownBlock` comes back.
 * - every node (proposer included) schedules the propose timeout.
 * - the decision rule (L49) needs only the block *bytes* for id(v), from any proposal or from
 *   `block` (sync); if they are missing, `missingBlock` asks the driver to fetch them.
 * - own messages are not counted when emitted: the driver signs them and feeds them back as
 *   ordinary inputs (so the WAL holds exactly what was signed).
 */
import { PocError } from '../../lib/errors.ts';
import type { ValidatorSet } from '../validators.ts';
import { checkChainId, DEFAULT_MAX_MESSAGE_BYTES, validateProposal, validateVote } from './codec.ts';
import type { Commit, DuplicateVoteEvidence, Hash, Proposal, UnsignedProposal, UnsignedVote, Vote, VoteType } from './types.ts';
import { normalizeEvidence, verifyCommit, verifyProposalSignature, verifyVoteSignature } from './verify.ts';

export type Step = 'idle' | 'propose' | 'prevote' | 'precommit' | 'commit';
export type TimeoutKind = 'propose' | 'prevote' | 'precommit';

/** Timeout durations: base + round * delta (milliseconds). Defaults are CometBFT's. */
export interface TimeoutConfig {
  proposeMs: number;
  proposeDeltaMs: number;
  prevoteMs: number;
  prevoteDeltaMs: number;
  precommitMs: number;
  precommitDeltaMs: number;
}

export const DEFAULT_TIMEOUTS: TimeoutConfig = {
  proposeMs: 3000,
  proposeDeltaMs: 500,
  prevoteMs: 1000,
  prevoteDeltaMs: 500,
  precommitMs: 1000,
  precommitDeltaMs: 500,
};

export interface BftConfig {
  chainId: string;
  timeouts?: Partial<TimeoutConfig>;
  /** Votes/proposals for rounds beyond round + this are dropped (memory bound). Default 100. */
  maxFutureRounds?: number;
  /** Cap on buffered next-height votes. Default 10,000. */
  maxBufferedVotes?: number;
  /** Cap on buffered next-height proposals. Default 16. */
  maxBufferedProposals?: number;
  /** Largest block accepted in a proposal. Default 16 MiB. */
  maxBlockBytes?: number;
}

export type BftInput =
  /** Begin consensus at `height` with that height's validator set; `myPubKey` null for a non-validator. */
  | { type: 'startHeight'; height: number; validators: ValidatorSet; myPubKey: Uint8Array | null }
  /** A proposal from the network or our own (signed) one; `verified` skips the signature check. */
  | { type: 'proposal'; proposal: Proposal; verified?: boolean }
  /** A vote from the network or our own (signed) one; `verified` skips the signature check. */
  | { type: 'vote'; vote: Vote; verified?: boolean }
  | { type: 'timeout'; kind: TimeoutKind; height: number; round: number }
  /** Answer to `validateBlock`: 'mismatch' = the bytes do not hash to blockHash (forget them). */
  | { type: 'blockValidity'; height: number; blockHash: Hash; result: BlockValidity }
  /** Answer to `buildBlock`: the block we propose (trusted as valid). */
  | { type: 'ownBlock'; height: number; round: number; blockHash: Hash; block: Uint8Array }
  /** Block bytes obtained out of band (e.g. fetched after `missingBlock`); validated like any. */
  | { type: 'block'; height: number; blockHash: Hash; block: Uint8Array }
  /**
   * A commit for the current height learnt from a peer (block sync). It is verified against the
   * height's validator set; once the block (given here or known) validates, the height is decided
   * with this commit. Lets a node that missed precommits catch up without the vote path.
   */
  | { type: 'syncCommit'; commit: Commit; block: Uint8Array | null };

/** 'mismatch' = the bytes do not hash to blockHash; 'cannot-judge' = our view (L1, clock) is behind. */
export type BlockValidity = 'valid' | 'invalid' | 'mismatch' | 'cannot-judge';

export type BftOutput =
  /** Sign (PrivValidator), WAL-append with fsync, publish, then feed back as a `proposal` input. */
  | { type: 'broadcastProposal'; proposal: UnsignedProposal }
  /** Sign (PrivValidator), WAL-append with fsync, publish, then feed back as a `vote` input. */
  | { type: 'broadcastVote'; vote: UnsignedVote }
  /** `awaiting`: the propose timeout extended while this proposed block is validated (the driver sizes it from the block). */
  | { type: 'scheduleTimeout'; kind: TimeoutKind; height: number; round: number; durationMs: number; awaiting?: Hash }
  /** We propose this round: build a block on the last committed one, answer with `ownBlock`. */
  | { type: 'buildBlock'; height: number; round: number }
  /**
   * Check hash(block) == blockHash and execute it; answer with `blockValidity`. `decided`: +2/3
   * committed this block; check what can be checked (execution, signatures), not the local views.
   */
  | { type: 'validateBlock'; height: number; round: number; blockHash: Hash; block: Uint8Array; decided?: boolean }
  /** +2/3 precommitted a block whose bytes we lack: fetch them, answer with `block`. */
  | { type: 'missingBlock'; height: number; round: number; blockHash: Hash }
  /** Decided. Store block + commit, then (after any commit delay) send `startHeight` for height+1. */
  | { type: 'commit'; height: number; round: number; blockHash: Hash; block: Uint8Array; commit: Commit }
  | { type: 'evidence'; evidence: DuplicateVoteEvidence }
  /** A message that failed checks (bad signature, wrong proposer, index out of range...). */
  | { type: 'invalidMessage'; reason: string; kind: 'vote' | 'proposal'; height: number; round: number; validatorIndex?: number };

export interface RoundVotes {
  /** First vote of each validator (counts toward `total` and its value). */
  votes: (Vote | undefined)[];
  /**
   * A second, conflicting vote of an equivocating validator. It counts toward its own value too:
   * quorum intersection makes that safe while byzantine power is < 1/3, and without it a node
   * that saw the "wrong" half of an equivocation could never see the quorum the others saw.
   * Further values are dropped (bounded memory).
   */
  conflicting: (Vote | undefined)[];
  /** Power per value ('nil' or hash hex). */
  byValue: Map<string, bigint>;
  /** Power of distinct validators that voted at all. */
  total: bigint;
}

export interface RoundState {
  prevotes: RoundVotes;
  precommits: RoundVotes;
  /** Distinct validators with any message in this round, and their power (for f+1, L55). */
  senders: Set<number>;
  senderPower: bigint;
  proposal?: Proposal;
}

type Validity = 'unknown' | 'pending' | 'valid' | 'invalid' | 'cannot-judge';

interface BlockEntry {
  hash: Hash;
  block: Uint8Array | null;
  status: Validity;
}

type Buffered = { kind: 'vote'; vote: Vote } | { kind: 'proposal'; proposal: Proposal };

export interface BftState {
  readonly chainId: string;
  readonly timeouts: TimeoutConfig;
  readonly maxFutureRounds: number;
  readonly maxBufferedVotes: number;
  readonly maxBufferedProposals: number;
  readonly maxBlockBytes: number;
  height: number;
  round: number;
  step: Step;
  validators: ValidatorSet | null;
  /** Our index in `validators`, or -1 when not a validator. */
  myIndex: number;
  lockedValue: string | null;
  lockedRound: number;
  validValue: string | null;
  validRound: number;
  rounds: Map<number, RoundState>;
  blocks: Map<string, BlockEntry>;
  /** One-shot rules already fired ("for the first time" in the paper). */
  fired: Set<string>;
  decision: { round: number; value: string } | null;
  /** A verified commit for this height from block sync, waiting for its block to validate. */
  synced: Commit | null;
  /** Unverified messages for the next height. */
  buffer: Buffered[];
  bufferedProposals: number;
}

export interface StepResult {
  state: BftState;
  outputs: BftOutput[];
}

const NIL = 'nil';

function key(h: Hash | null): string {
  return h === null ? NIL : Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('hex');
}

function unkey(k: string): Hash | null {
  return k === NIL ? null : new Uint8Array(Buffer.from(k, 'hex'));
}

/** A fresh machine, idle until a `startHeight` input. */
export function createBftState(config: BftConfig): BftState {
  checkChainId(config.chainId);
  const timeouts = { ...DEFAULT_TIMEOUTS, ...config.timeouts };
  for (const [k, v] of Object.entries(timeouts)) {
    if (!Number.isFinite(v) || v < 0) throw new PocError('BAD_CONFIG', `timeout ${k} must be a non-negative number`);
  }
  return {
    chainId: config.chainId,
    timeouts,
    maxFutureRounds: config.maxFutureRounds ?? 100,
    maxBufferedVotes: config.maxBufferedVotes ?? 10_000,
    maxBufferedProposals: config.maxBufferedProposals ?? 16,
    maxBlockBytes: config.maxBlockBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    height: 0,
    round: 0,
    step: 'idle',
    validators: null,
    myIndex: -1,
    lockedValue: null,
    lockedRound: -1,
    validValue: null,
    validRound: -1,
    rounds: new Map(),
    blocks: new Map(),
    fired: new Set(),
    decision: null,
    synced: null,
    buffer: [],
    bufferedProposals: 0,
  };
}

/** Timeout duration for `kind` at `round`: base + round * delta. */
export function timeoutDuration(t: TimeoutConfig, kind: TimeoutKind, round: number): number {
  switch (kind) {
    case 'propose':
      return t.proposeMs + round * t.proposeDeltaMs;
    case 'prevote':
      return t.prevoteMs + round * t.prevoteDeltaMs;
    case 'precommit':
      return t.precommitMs + round * t.precommitDeltaMs;
  }
}

/** Apply one input. Deterministic; no I/O. See the module note on state ownership. */
export function step(state: BftState, input: BftInput): StepResult {
  const out: BftOutput[] = [];
  switch (input.type) {
    case 'startHeight':
      startHeight(state, input.height, input.validators, input.myPubKey, out);
      break;
    case 'vote':
      onVote(state, input.vote, input.verified === true, out);
      evaluate(state, out);
      break;
    case 'proposal':
      onProposal(state, input.proposal, input.verified === true, out);
      evaluate(state, out);
      break;
    case 'timeout':
      onTimeout(state, input.kind, input.height, input.round, out);
      evaluate(state, out);
      break;
    case 'blockValidity':
      onValidity(state, input.height, input.blockHash, input.result);
      evaluate(state, out);
      break;
    case 'ownBlock':
      onOwnBlock(state, input.height, input.round, input.blockHash, input.block, out);
      evaluate(state, out);
      break;
    case 'block':
      if (input.height === state.height && state.step !== 'idle') {
        ensureBlock(state, input.blockHash, input.block, state.round, out);
        evaluate(state, out);
      }
      break;
    case 'syncCommit':
      onSyncCommit(state, input.commit, input.block, out);
      evaluate(state, out);
      break;
    default:
      throw new PocError('BAD_INPUT', 'unknown consensus input');
  }
  return { state, outputs: out };
}

/** Proposer index of (state.height, round). */
export function proposerOf(state: BftState, round = state.round): number {
  if (!state.validators) return -1;
  return state.validators.proposerForRound(round);
}

// ---------------------------------------------------------------------------------------------

function startHeight(s: BftState, height: number, validators: ValidatorSet, myPubKey: Uint8Array | null, out: BftOutput[]): void {
  if (!Number.isSafeInteger(height) || height < 1) throw new PocError('BAD_INPUT', 'height must be a positive integer');
  if (height <= s.height && s.step !== 'idle') throw new PocError('BAD_INPUT', 'startHeight must move forward', { data: { height, current: s.height } });
  const buffered = s.buffer;
  s.height = height;
  s.round = 0;
  s.step = 'propose';
  s.validators = validators;
  s.myIndex = myPubKey ? validators.indexOf(myPubKey) : -1;
  s.lockedValue = null;
  s.lockedRound = -1;
  s.validValue = null;
  s.validRound = -1;
  s.rounds = new Map();
  s.blocks = new Map();
  s.fired = new Set();
  s.decision = null;
  s.synced = null;
  s.buffer = [];
  s.bufferedProposals = 0;
  startRound(s, 0, out);
  for (const m of buffered) {
    if (m.kind === 'vote' && m.vote.height === height) onVote(s, m.vote, false, out);
    else if (m.kind === 'proposal' && m.proposal.height === height) onProposal(s, m.proposal, false, out);
  }
  evaluate(s, out);
}

function startRound(s: BftState, round: number, out: BftOutput[]): void {
  s.round = round;
  s.step = 'propose';
  if (s.myIndex >= 0 && s.validators!.proposerForRound(round) === s.myIndex) {
    const valid = s.validValue !== null ? s.blocks.get(s.validValue) : undefined;
    if (valid && valid.block) {
      s.fired.add(`proposed:${round}`); // L16: re-propose validValue with its POL round
      out.push({ type: 'broadcastProposal', proposal: { height: s.height, round, polRound: s.validRound, blockHash: valid.hash, block: valid.block } });
    } else {
      out.push({ type: 'buildBlock', height: s.height, round });
    }
  }
  schedule(s, 'propose', round, out);
}

function schedule(s: BftState, kind: TimeoutKind, round: number, out: BftOutput[]): void {
  out.push({ type: 'scheduleTimeout', kind, height: s.height, round, durationMs: timeoutDuration(s.timeouts, kind, round) });
}

function roundState(s: BftState, round: number): RoundState {
  let rs = s.rounds.get(round);
  if (!rs) {
    rs = {
      prevotes: { votes: [], conflicting: [], byValue: new Map(), total: 0n },
      precommits: { votes: [], conflicting: [], byValue: new Map(), total: 0n },
      senders: new Set(),
      senderPower: 0n,
    };
    s.rounds.set(round, rs);
  }
  return rs;
}

function addSender(s: BftState, rs: RoundState, index: number): void {
  if (!rs.senders.has(index)) {
    rs.senders.add(index);
    rs.senderPower += s.validators!.powerOf(index);
  }
}

/** Messages for the next height (or before the first height) wait, unverified, in a bounded buffer. */
function maybeBuffer(s: BftState, m: Buffered, height: number): boolean {
  const next = s.step === 'idle' ? height > s.height : height === s.height + 1;
  if (!next) return false;
  const full = m.kind === 'vote' ? s.buffer.length - s.bufferedProposals >= s.maxBufferedVotes : s.bufferedProposals >= s.maxBufferedProposals;
  if (full) return true;
  const sig = m.kind === 'vote' ? m.vote.signature : m.proposal.signature;
  const tag = `buf:${Buffer.from(sig).toString('hex')}`;
  if (s.fired.has(tag)) return true; // exact duplicate
  s.fired.add(tag);
  s.buffer.push(m);
  if (m.kind === 'proposal') s.bufferedProposals++;
  return true;
}

function onVote(s: BftState, vote: Vote, verified: boolean, out: BftOutput[]): void {
  try {
    validateVote(vote);
  } catch {
    out.push({ type: 'invalidMessage', reason: 'malformed vote', kind: 'vote', height: Number(vote?.height) || 0, round: Number(vote?.round) || 0 });
    return;
  }
  if (vote.height !== s.height || s.step === 'idle') {
    maybeBuffer(s, { kind: 'vote', vote }, vote.height);
    return;
  }
  const vals = s.validators!;
  if (vote.round > s.round + s.maxFutureRounds) return;
  const invalid = (reason: string): void => {
    out.push({ type: 'invalidMessage', reason, kind: 'vote', height: vote.height, round: vote.round, validatorIndex: vote.validatorIndex });
  };
  if (vote.validatorIndex >= vals.size) return invalid('validator index out of range');
  const rs = roundState(s, vote.round);
  const set = vote.type === 'prevote' ? rs.prevotes : rs.precommits;
  const existing = set.votes[vote.validatorIndex];
  const second = set.conflicting[vote.validatorIndex];
  const k = key(vote.blockHash);
  if (existing && key(existing.blockHash) === k) return; // duplicate: nothing new
  if (second && key(second.blockHash) === k) return;
  if (!verified && !verifyVoteSignature(vote, vals, s.chainId)) return invalid('bad vote signature');
  const p = vals.powerOf(vote.validatorIndex);
  if (existing) {
    // one proof per (type, round, validator) is enough: a flood of further values adds no evidence
    const tag = `ev:${vote.type}:${vote.round}:${vote.validatorIndex}`;
    if (!s.fired.has(tag)) {
      s.fired.add(tag);
      out.push({ type: 'evidence', evidence: normalizeEvidence(existing, vote) });
    }
    if (!second) {
      set.conflicting[vote.validatorIndex] = vote;
      set.byValue.set(k, (set.byValue.get(k) ?? 0n) + p);
    }
    return;
  }
  set.votes[vote.validatorIndex] = vote;
  set.byValue.set(k, (set.byValue.get(k) ?? 0n) + p);
  set.total += p;
  addSender(s, rs, vote.validatorIndex);
}

function onProposal(s: BftState, p: Proposal, verified: boolean, out: BftOutput[]): void {
  try {
    validateProposal(p, s.maxBlockBytes);
  } catch {
    out.push({ type: 'invalidMessage', reason: 'malformed proposal', kind: 'proposal', height: Number(p?.height) || 0, round: Number(p?.round) || 0 });
    return;
  }
  if (p.height !== s.height || s.step === 'idle') {
    maybeBuffer(s, { kind: 'proposal', proposal: p }, p.height);
    return;
  }
  if (p.round > s.round + s.maxFutureRounds) return;
  const rs = roundState(s, p.round);
  if (rs.proposal) {
    // Same proposal again may bring bytes we dropped after a hash mismatch; a different one from
    // the same proposer is ignored (the first one stands, as in CometBFT).
    if (key(rs.proposal.blockHash) === key(p.blockHash) && rs.proposal.polRound === p.polRound && !s.blocks.get(key(p.blockHash))?.block) {
      if (verified || verifyProposalSignature(p, s.validators!, s.chainId)) ensureBlock(s, p.blockHash, p.block, p.round, out);
    }
    return;
  }
  if (!verified && !verifyProposalSignature(p, s.validators!, s.chainId)) {
    out.push({ type: 'invalidMessage', reason: 'bad proposal signature or not the proposer', kind: 'proposal', height: p.height, round: p.round });
    return;
  }
  rs.proposal = p;
  addSender(s, rs, s.validators!.proposerForRound(p.round));
  ensureBlock(s, p.blockHash, p.block, p.round, out);
}

/** Record block bytes for a hash and ask for validation the first time we have them. */
function ensureBlock(s: BftState, hash: Hash, block: Uint8Array | null, round: number, out: BftOutput[]): BlockEntry {
  const k = key(hash);
  let e = s.blocks.get(k);
  if (!e) {
    e = { hash: new Uint8Array(hash), block: null, status: 'unknown' };
    s.blocks.set(k, e);
  }
  if (e.block === null && block !== null) {
    e.block = block;
    e.status = 'pending';
    out.push({ type: 'validateBlock', height: s.height, round, blockHash: e.hash, block });
  }
  return e;
}

function onValidity(s: BftState, height: number, hash: Hash, result: BlockValidity): void {
  if (height !== s.height) return;
  const e = s.blocks.get(key(hash));
  // valid is final for the height; any other verdict may be replaced by a later answer
  if (!e || e.block === null || e.status === 'valid' || e.status === 'unknown') return;
  if (result === 'mismatch') {
    e.block = null;
    e.status = 'unknown';
  } else e.status = result;
}

/** +2/3 stand behind this block: if we judged it invalid or could not judge it, ask once more with `decided`. */
function revalidate(s: BftState, e: BlockEntry, round: number, out: BftOutput[]): void {
  if (e.block === null || (e.status !== 'invalid' && e.status !== 'cannot-judge')) return;
  if (!once(s, `revalidate:${key(e.hash)}`)) return;
  e.status = 'pending';
  out.push({ type: 'validateBlock', height: s.height, round, blockHash: e.hash, block: e.block, decided: true });
}

function onOwnBlock(s: BftState, height: number, round: number, hash: Hash, block: Uint8Array, out: BftOutput[]): void {
  if (height !== s.height || round !== s.round || s.step !== 'propose') return;
  if (s.myIndex < 0 || s.validators!.proposerForRound(round) !== s.myIndex) return;
  if (roundState(s, round).proposal || !once(s, `proposed:${round}`)) return; // one proposal per round
  const k = key(hash);
  let e = s.blocks.get(k);
  if (!e) {
    e = { hash: new Uint8Array(hash), block, status: 'valid' };
    s.blocks.set(k, e);
  } else if (e.block === null) {
    e.block = block;
    e.status = 'valid';
  }
  out.push({ type: 'broadcastProposal', proposal: { height, round, polRound: -1, blockHash: e.hash, block } });
}

function onSyncCommit(s: BftState, commit: Commit, block: Uint8Array | null, out: BftOutput[]): void {
  if (s.step === 'idle' || s.step === 'commit' || s.synced || commit?.height !== s.height) return;
  try {
    verifyCommit(commit, s.validators!, s.chainId);
  } catch {
    out.push({ type: 'invalidMessage', reason: 'bad synced commit', kind: 'vote', height: s.height, round: Number(commit.round) || 0 });
    return;
  }
  s.synced = commit;
  ensureBlock(s, commit.blockHash, block, commit.round, out);
}

function onTimeout(s: BftState, kind: TimeoutKind, height: number, round: number, out: BftOutput[]): void {
  if (height !== s.height || round !== s.round) return;
  if (kind === 'propose' && s.step === 'propose') {
    const p = s.rounds.get(round)?.proposal;
    const pe = p ? s.blocks.get(key(p.blockHash)) : undefined;
    if (pe?.status === 'pending' && once(s, `validateWait:${round}`)) {
      // received in time, still validating: wait for the answer (bounded: once per round)
      out.push({ type: 'scheduleTimeout', kind: 'propose', height: s.height, round, durationMs: timeoutDuration(s.timeouts, 'propose', round), awaiting: pe.hash });
      return;
    }
    castVote(s, 'prevote', NIL, out); // L57
    s.step = 'prevote';
  } else if (kind === 'prevote' && s.step === 'prevote') {
    castVote(s, 'precommit', NIL, out); // L61
    s.step = 'precommit';
  } else if (kind === 'precommit' && s.step !== 'commit' && s.step !== 'idle') {
    startRound(s, round + 1, out); // L65
  }
}

function castVote(s: BftState, type: VoteType, value: string, out: BftOutput[]): void {
  if (s.myIndex < 0) return;
  out.push({ type: 'broadcastVote', vote: { type, height: s.height, round: s.round, blockHash: unkey(value), validatorIndex: s.myIndex } });
}

function once(s: BftState, tag: string): boolean {
  if (s.fired.has(tag)) return false;
  s.fired.add(tag);
  return true;
}

/** Fire every rule whose condition holds, until none does ("upon" semantics). */
function evaluate(s: BftState, out: BftOutput[]): void {
  for (let guard = 0; guard < 10_000; guard++) {
    if (s.step === 'idle' || s.step === 'commit') return;
    const vals = s.validators!;
    const q = (p: bigint | undefined): boolean => p !== undefined && vals.hasQuorum(p);

    if (s.synced) {
      const e = s.blocks.get(key(s.synced.blockHash));
      if (e && e.block === null && once(s, `missing:${key(s.synced.blockHash)}`)) {
        out.push({ type: 'missingBlock', height: s.height, round: s.synced.round, blockHash: e.hash });
      }
      if (e && e.block !== null && e.status === 'valid') {
        decide(s, s.synced.round, key(s.synced.blockHash), e, out, s.synced);
        return;
      }
      if (e) revalidate(s, e, s.synced.round, out);
    }

    // L49: decide on any round with +2/3 precommits for a value whose block we hold and is valid.
    for (const [r, rs] of s.rounds) {
      for (const [v, power] of rs.precommits.byValue) {
        if (v === NIL || !q(power)) continue;
        const e = s.blocks.get(v);
        if (!e || e.block === null) {
          if (once(s, `missing:${v}`)) out.push({ type: 'missingBlock', height: s.height, round: r, blockHash: unkey(v)! });
          continue;
        }
        if (e.status === 'valid') {
          decide(s, r, v, e, out);
          return;
        }
        revalidate(s, e, r, out);
      }
    }

    // L55: f+1 of power sent messages for a higher round: skip to it.
    let skipTo = -1;
    for (const [r, rs] of s.rounds) if (r > s.round && r > skipTo && vals.hasOneThird(rs.senderPower)) skipTo = r;
    if (skipTo > s.round) {
      startRound(s, skipTo, out);
      continue;
    }

    const rs = roundState(s, s.round);
    const p = rs.proposal;
    const pv = p ? key(p.blockHash) : null;
    const pe = pv !== null ? s.blocks.get(pv) : undefined;
    const decided = pe !== undefined && (pe.status === 'valid' || pe.status === 'invalid' || pe.status === 'cannot-judge');

    if (s.step === 'propose' && p && pv !== null && decided) {
      const valid = pe.status === 'valid';
      if (p.polRound === -1) {
        // L22
        castVote(s, 'prevote', valid && (s.lockedRound === -1 || s.lockedValue === pv) ? pv : NIL, out);
        s.step = 'prevote';
        continue;
      }
      const pol = s.rounds.get(p.polRound)?.prevotes.byValue.get(pv);
      if (q(pol)) {
        // L28
        castVote(s, 'prevote', valid && (s.lockedRound <= p.polRound || s.lockedValue === pv) ? pv : NIL, out);
        s.step = 'prevote';
        continue;
      }
    }

    if (s.step === 'prevote' && q(rs.prevotes.total) && once(s, `prevoteWait:${s.round}`)) {
      schedule(s, 'prevote', s.round, out); // L34
    }

    if ((s.step === 'prevote' || s.step === 'precommit') && p && pv !== null && pe?.status === 'valid' && q(rs.prevotes.byValue.get(pv)) && !s.fired.has(`l36:${s.round}`)) {
      s.fired.add(`l36:${s.round}`); // L36
      if (s.step === 'prevote') {
        s.lockedValue = pv;
        s.lockedRound = s.round;
        castVote(s, 'precommit', pv, out);
        s.step = 'precommit';
      }
      s.validValue = pv;
      s.validRound = s.round;
      continue;
    }

    if (s.step === 'prevote' && q(rs.prevotes.byValue.get(NIL))) {
      castVote(s, 'precommit', NIL, out); // L44
      s.step = 'precommit';
      continue;
    }

    if (q(rs.precommits.total) && once(s, `precommitWait:${s.round}`)) {
      schedule(s, 'precommit', s.round, out); // L47
    }
    return;
  }
  throw new PocError('INTERNAL', 'consensus rules did not settle');
}

function decide(s: BftState, round: number, value: string, e: BlockEntry, out: BftOutput[], synced?: Commit): void {
  s.step = 'commit';
  s.decision = { round, value };
  let commit = synced;
  if (!commit) {
    const rs = s.rounds.get(round)!;
    const signatures: (Uint8Array | null)[] = new Array(s.validators!.size).fill(null);
    rs.precommits.votes.forEach((v, i) => {
      if (v && key(v.blockHash) === value) signatures[i] = v.signature;
    });
    rs.precommits.conflicting.forEach((v, i) => {
      if (v && key(v.blockHash) === value) signatures[i] = v.signature;
    });
    commit = { height: s.height, round, blockHash: e.hash, signatures };
  }
  out.push({ type: 'commit', height: s.height, round, blockHash: e.hash, block: e.block!, commit });
}
