/**
 * Validator set: ed25519 keys with voting power, quorum arithmetic, and CometBFT's weighted
 * round-robin proposer selection (types/validator_set.go), reproduced bit for bit:
 *
 * - every validator has an int64 `priority`; one "increment" adds each validator's power to its
 *   priority, elects the highest (ties → lower address), and subtracts the total power from it;
 * - before a batch of increments, priorities are rescaled so that max-min ≤ 2·total and centred
 *   on their (floored) average;
 * - a new set (genesis) starts every priority at -1.125·total, rescales/centres (all 0), then does
 *   one increment, so `proposer` of a fresh set is the proposer of its first height, round 0;
 * - the set of height h+1 is the set of height h incremented once (`nextHeight()`), and the
 *   proposer of round r at height h is the height's set incremented r times in one call.
 *
 * Validators are ordered by power (descending) then address (ascending), like CometBFT, so every
 * node derives the same `validatorIndex` from the same membership. The address is the first 20
 * bytes of sha256(pubKey), as for CometBFT's ed25519 keys; tests may pass an explicit address to
 * replay CometBFT's own vectors.
 *
 * Instances are immutable: every operation that changes priorities returns a new set.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { PocError } from '../lib/errors.ts';

/** Largest total voting power (CometBFT: MaxInt64/8), so priority arithmetic never clips. */
export const MAX_TOTAL_VOTING_POWER = (2n ** 63n - 1n) / 8n;
/** Largest validator count: keeps commits and vote bitmaps bounded. */
export const MAX_VALIDATORS = 10_000;
const PRIORITY_WINDOW_SIZE_FACTOR = 2n;
/** Most increments one proposerForRound call may do (far rounds are bounded by the callers). */
export const MAX_ROUND_STEPS = 100_000;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

export type ValidatorSetErrorCode = 'BAD_VALIDATOR_SET';

/** Input form of one validator. */
export interface ValidatorInput {
  /** ed25519 public key, 32 bytes. */
  pubKey: Uint8Array;
  /** Voting power, > 0. */
  power: bigint;
  /** Tie-break key for proposer selection; defaults to sha256(pubKey)[0:20]. */
  address?: Uint8Array;
}

/** A validator inside a set (read-only view). */
export interface Validator {
  readonly pubKey: Uint8Array;
  readonly power: bigint;
  readonly address: Uint8Array;
  readonly priority: bigint;
}

interface Entry {
  pubKey: Uint8Array;
  power: bigint;
  address: Uint8Array;
  priority: bigint;
  key?: KeyObject;
}

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** node:crypto public key object for a raw 32-byte ed25519 key. */
export function ed25519KeyObject(pubKey: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, pubKey]), format: 'der', type: 'spki' });
}

/** CometBFT ed25519 address: first 20 bytes of sha256(pubKey). */
export function validatorAddress(pubKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(pubKey).digest().subarray(0, 20));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

function clip(x: bigint): bigint {
  return x > INT64_MAX ? INT64_MAX : x < INT64_MIN ? INT64_MIN : x;
}

/** Floor division for bigint (Go's big.Int.Div is Euclidean; for a positive divisor that is floor). */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}

function bad(message: string, data?: Record<string, unknown>): PocError<ValidatorSetErrorCode> {
  return new PocError('BAD_VALIDATOR_SET', message, data ? { data } : {});
}

export class ValidatorSet {
  readonly totalPower: bigint;
  private readonly entries: Entry[];
  private readonly proposerIdx: number;
  private readonly indexByKey: Map<string, number>;
  /**
   * Proposer of each round of this set's height, filled in order on demand: `rounds[r]` for
   * r ≥ 1, computed from `cursor` (the priorities after `rounds.length - 1` increments), one
   * O(validators) increment per new round. Weighted round-robin returns to its start state after
   * a cycle; once that is seen (`period`), any round is a lookup — a far round costs nothing.
   */
  private rounds: number[] = [];
  private cursor: Entry[] | null = null;
  private start: bigint[] | null = null;
  private period = 0;

  private constructor(entries: Entry[], proposerIdx: number, indexByKey?: Map<string, number>) {
    this.entries = entries;
    this.proposerIdx = proposerIdx;
    let total = 0n;
    for (const e of entries) total += e.power;
    this.totalPower = total;
    if (indexByKey) this.indexByKey = indexByKey;
    else {
      this.indexByKey = new Map();
      entries.forEach((e, i) => this.indexByKey.set(Buffer.from(e.pubKey).toString('hex'), i));
    }
  }

  /** A new set as CometBFT's NewValidatorSet: sorted, priorities initialised, one increment done. */
  static create(inputs: readonly ValidatorInput[]): ValidatorSet {
    if (inputs.length === 0) throw bad('validator set is empty');
    if (inputs.length > MAX_VALIDATORS) throw bad('too many validators', { count: inputs.length });
    const seenKeys = new Set<string>();
    const seenAddr = new Set<string>();
    let total = 0n;
    const entries: Entry[] = inputs.map((v, i) => {
      if (!(v.pubKey instanceof Uint8Array) || v.pubKey.length !== 32) throw bad('public key must be 32 bytes', { index: i });
      if (typeof v.power !== 'bigint' || v.power <= 0n) throw bad('voting power must be a positive bigint', { index: i });
      if (v.power > MAX_TOTAL_VOTING_POWER) throw bad('voting power too large', { index: i });
      const k = Buffer.from(v.pubKey).toString('hex');
      const address = v.address ? new Uint8Array(v.address) : validatorAddress(v.pubKey);
      const a = Buffer.from(address).toString('hex');
      if (seenKeys.has(k) || seenAddr.has(a)) throw bad('duplicate validator', { index: i });
      seenKeys.add(k);
      seenAddr.add(a);
      total += v.power;
      return { pubKey: new Uint8Array(v.pubKey), power: v.power, address, priority: 0n };
    });
    if (total > MAX_TOTAL_VOTING_POWER) throw bad('total voting power too large');
    // New validators start at -1.125·total (computeNewPriorities), then rescale + centre.
    for (const e of entries) e.priority = -(total + (total >> 3n));
    entries.sort((a, b) => compareBytes(a.address, b.address));
    rescale(entries, PRIORITY_WINDOW_SIZE_FACTOR * total);
    shiftByAverage(entries);
    entries.sort((a, b) => (a.power === b.power ? compareBytes(a.address, b.address) : a.power > b.power ? -1 : 1));
    const set = new ValidatorSet(entries, -1);
    return set.incremented(1);
  }

  /**
   * Rebuild a set from saved state (validators in index order with their priorities), e.g. the
   * set of height h as stored by the chain. The proposer is the one with the highest priority
   * after the last increment — i.e. it must be passed explicitly.
   */
  static restore(validators: readonly Validator[], proposerIndex: number): ValidatorSet {
    if (validators.length === 0 || validators.length > MAX_VALIDATORS) throw bad('bad validator count');
    if (!Number.isInteger(proposerIndex) || proposerIndex < 0 || proposerIndex >= validators.length) throw bad('bad proposer index');
    const entries = validators.map((v) => ({ pubKey: new Uint8Array(v.pubKey), power: v.power, address: new Uint8Array(v.address), priority: v.priority }));
    return new ValidatorSet(entries, proposerIndex);
  }

  get size(): number {
    return this.entries.length;
  }

  /** Quorum threshold test: power > 2/3 of total. */
  hasQuorum(power: bigint): boolean {
    return 3n * power > 2n * this.totalPower;
  }

  /** f+1 test: power > 1/3 of total (at least one correct validator among them). */
  hasOneThird(power: bigint): boolean {
    return 3n * power > this.totalPower;
  }

  /** Validator at `index`, or undefined. */
  get(index: number): Validator | undefined {
    const e = this.entries[index];
    return e ? { pubKey: e.pubKey, power: e.power, address: e.address, priority: e.priority } : undefined;
  }

  /** All validators in index order. */
  list(): Validator[] {
    return this.entries.map((_, i) => this.get(i)!);
  }

  powerOf(index: number): bigint {
    return this.entries[index]?.power ?? 0n;
  }

  pubKeyOf(index: number): Uint8Array | undefined {
    return this.entries[index]?.pubKey;
  }

  /** Cached node:crypto key of validator `index` (for fast ed25519 verification). */
  keyObject(index: number): KeyObject | undefined {
    const e = this.entries[index];
    if (!e) return undefined;
    e.key ??= ed25519KeyObject(e.pubKey);
    return e.key;
  }

  /** Index of the validator with this public key, or -1. */
  indexOf(pubKey: Uint8Array): number {
    return this.indexByKey.get(Buffer.from(pubKey).toString('hex')) ?? -1;
  }

  /** Proposer of this set as it stands (round 0 of the height the set belongs to). */
  get proposerIndex(): number {
    return this.proposerIdx;
  }

  /**
   * Proposer index for `round` at this set's height: the set incremented `round` times (CometBFT
   * IncrementProposerPriority(round)). Amortised O(validators) per round reached in order; rounds
   * past the detected cycle are O(1). Callers bound rounds first (consensus/bft/limits.ts): a
   * round beyond the step budget with no cycle found yet is refused, never looped to.
   */
  proposerForRound(round: number): number {
    if (!Number.isSafeInteger(round) || round < 0) throw bad('round must be a non-negative integer');
    if (round === 0) return this.proposerIdx;
    if (this.period > 0) return this.rounds[((round - 1) % this.period) + 1]!;
    if (round < this.rounds.length) return this.rounds[round]!;
    if (!this.cursor) {
      this.cursor = this.entries.map((e) => ({ ...e }));
      rescale(this.cursor, PRIORITY_WINDOW_SIZE_FACTOR * this.totalPower);
      shiftByAverage(this.cursor);
      this.start = this.cursor.map((e) => e.priority);
      this.rounds = [this.proposerIdx];
    }
    if (round - this.rounds.length >= MAX_ROUND_STEPS) throw bad('round too far ahead to compute its proposer', { round, computed: this.rounds.length - 1 });
    while (this.rounds.length <= round) {
      this.rounds.push(incrementOnce(this.cursor, this.totalPower));
      if (this.cursor.every((e, i) => e.priority === this.start![i])) {
        this.period = this.rounds.length - 1;
        this.cursor = null;
        this.start = null;
        return this.rounds[((round - 1) % this.period) + 1]!;
      }
    }
    return this.rounds[round]!;
  }

  /** The set for the next height (CometBFT: state.NextValidators.CopyIncrementProposerPriority(1)). */
  nextHeight(): ValidatorSet {
    return this.incremented(1);
  }

  /** A copy with IncrementProposerPriority(times) applied. */
  incremented(times: number): ValidatorSet {
    if (!Number.isInteger(times) || times <= 0) throw bad('times must be a positive integer');
    const entries = this.entries.map((e) => ({ ...e }));
    rescale(entries, PRIORITY_WINDOW_SIZE_FACTOR * this.totalPower);
    shiftByAverage(entries);
    let proposer = -1;
    for (let t = 0; t < times; t++) proposer = incrementOnce(entries, this.totalPower);
    return new ValidatorSet(entries, proposer, this.indexByKey);
  }

  /**
   * Apply validator changes as CometBFT's UpdateWithChangeSet: power 0 removes, unknown keys are
   * added at priority -1.125·(new total before removals), known keys change power and keep their
   * priority; then rescale, centre and re-sort. The proposer is left as computed by the caller's
   * next `nextHeight()` (CometBFT increments after updating).
   */
  update(changes: readonly ValidatorInput[]): ValidatorSet {
    const byAddr = new Map<string, Entry>();
    for (const e of this.entries) byAddr.set(Buffer.from(e.address).toString('hex'), { ...e });
    const seen = new Set<string>();
    let removedPower = 0n;
    const updates: Entry[] = [];
    for (const c of changes) {
      if (!(c.pubKey instanceof Uint8Array) || c.pubKey.length !== 32) throw bad('public key must be 32 bytes');
      if (typeof c.power !== 'bigint' || c.power < 0n || c.power > MAX_TOTAL_VOTING_POWER) throw bad('bad voting power');
      const address = c.address ? new Uint8Array(c.address) : validatorAddress(c.pubKey);
      const a = Buffer.from(address).toString('hex');
      if (seen.has(a)) throw bad('duplicate change');
      seen.add(a);
      const existing = byAddr.get(a);
      if (c.power === 0n) {
        if (!existing) throw bad('removing an unknown validator');
        removedPower += existing.power;
      } else updates.push({ pubKey: new Uint8Array(c.pubKey), power: c.power, address, priority: existing?.priority ?? 0n });
    }
    let tvpAfterUpdatesBeforeRemovals = this.totalPower;
    for (const u of updates) tvpAfterUpdatesBeforeRemovals += u.power - (byAddr.get(Buffer.from(u.address).toString('hex'))?.power ?? 0n);
    if (tvpAfterUpdatesBeforeRemovals - removedPower > MAX_TOTAL_VOTING_POWER) throw bad('total voting power too large');
    for (const u of updates) {
      const a = Buffer.from(u.address).toString('hex');
      if (!byAddr.has(a)) u.priority = -(tvpAfterUpdatesBeforeRemovals + (tvpAfterUpdatesBeforeRemovals >> 3n));
      byAddr.set(a, u);
    }
    for (const c of changes) {
      if (c.power === 0n) byAddr.delete(Buffer.from(c.address ?? validatorAddress(c.pubKey)).toString('hex'));
    }
    const entries = [...byAddr.values()];
    if (entries.length === 0) throw bad('update would empty the validator set');
    if (entries.length > MAX_VALIDATORS) throw bad('too many validators');
    const keys = new Set(entries.map((e) => Buffer.from(e.pubKey).toString('hex')));
    if (keys.size !== entries.length) throw bad('duplicate public key');
    let total = 0n;
    for (const e of entries) total += e.power;
    entries.sort((a, b) => compareBytes(a.address, b.address));
    rescale(entries, PRIORITY_WINDOW_SIZE_FACTOR * total);
    shiftByAverage(entries);
    entries.sort((a, b) => (a.power === b.power ? compareBytes(a.address, b.address) : a.power > b.power ? -1 : 1));
    // Proposer of the updated set before its next increment: the highest priority (findProposer).
    let best = 0;
    for (let i = 1; i < entries.length; i++) if (morePriority(entries[i]!, entries[best]!)) best = i;
    return new ValidatorSet(entries, best);
  }

  /** The priorities and proposer as a string: equal keys mean equal sets (same membership). */
  priorityKey(): string {
    return `${this.proposerIdx}:${this.entries.map((e) => e.priority.toString(36)).join(',')}`;
  }

  /** sha256 over (pubKey, power) in index order: identifies membership, not priorities. */
  hash(): Uint8Array {
    const h = createHash('sha256');
    for (const e of this.entries) {
      h.update(e.pubKey);
      h.update(e.power.toString(16).padStart(16, '0'));
    }
    return new Uint8Array(h.digest());
  }
}

function morePriority(a: Entry, b: Entry): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  return compareBytes(a.address, b.address) < 0;
}

function rescale(entries: Entry[], diffMax: bigint): void {
  if (diffMax <= 0n) return;
  let max = INT64_MIN;
  let min = INT64_MAX;
  for (const e of entries) {
    if (e.priority < min) min = e.priority;
    if (e.priority > max) max = e.priority;
  }
  let diff = max - min;
  if (diff < 0n) diff = -diff;
  const ratio = (diff + diffMax - 1n) / diffMax;
  if (diff > diffMax) for (const e of entries) e.priority = e.priority / ratio; // Go: truncation
}

function shiftByAverage(entries: Entry[]): void {
  let sum = 0n;
  for (const e of entries) sum += e.priority;
  const avg = floorDiv(sum, BigInt(entries.length));
  for (const e of entries) e.priority = clip(e.priority - avg);
}

function incrementOnce(entries: Entry[], total: bigint): number {
  for (const e of entries) e.priority = clip(e.priority + e.power);
  let best = 0;
  for (let i = 1; i < entries.length; i++) if (morePriority(entries[i]!, entries[best]!)) best = i;
  entries[best]!.priority = clip(entries[best]!.priority - total);
  return best;
}

/**
 * The validator set of every height from a genesis set, where set(h + 1) = set(h).nextHeight()
 * (static membership; epochs would restart the sequence). The sequence depends only on the
 * priorities, so it cycles; the cycle is detected while the first `maxTracked` heights are
 * walked, after which the set of any height — 10^9 after a restart — is a lookup. Without a cycle
 * in that window, heights beyond it are walked by nextHeight() from the closest known set (and
 * cached nearby), height by height as CometBFT derives them.
 */
export class HeightSets {
  private readonly seq: ValidatorSet[] = [];
  private readonly seen = new Map<string, number>();
  private cycleStart = -1;
  private period = 0;
  private readonly maxTracked: number;
  private readonly near = new Map<number, ValidatorSet>();

  constructor(genesis: ValidatorSet, maxTracked = 10_000) {
    this.maxTracked = maxTracked;
    this.track(genesis);
  }

  private track(s: ValidatorSet): void {
    const k = s.priorityKey();
    const prev = this.seen.get(k);
    if (prev !== undefined) {
      this.cycleStart = prev;
      this.period = this.seq.length - prev;
      this.seen.clear();
      return;
    }
    this.seen.set(k, this.seq.length);
    this.seq.push(s);
  }

  /** Length of the cycle of the height sequence, 0 while unknown. */
  get cycle(): number {
    return this.period;
  }

  at(height: number): ValidatorSet {
    if (!Number.isSafeInteger(height) || height < 1) throw bad('height must be a positive integer');
    let i = height - 1;
    while (this.period === 0 && i >= this.seq.length && this.seq.length < this.maxTracked) this.track(this.seq[this.seq.length - 1]!.nextHeight());
    if (this.period > 0 && i >= this.cycleStart) i = this.cycleStart + ((i - this.cycleStart) % this.period);
    if (i < this.seq.length) return this.seq[i]!;
    const cached = this.near.get(i);
    if (cached) return cached;
    // walk nextHeight() (as every node does height by height) from the closest known set below
    let from = this.seq.length - 1;
    let s = this.seq[from]!;
    for (const [k, v] of this.near) if (k < i && k > from) (from = k), (s = v);
    for (let k = from + 1; k <= i; k++) s = s.nextHeight();
    this.near.set(i, s);
    if (this.near.size > 64) this.near.delete(this.near.keys().next().value!);
    return s;
  }
}
