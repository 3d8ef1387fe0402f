/**
 * The validator set of every height.
 *
 * A chain whose genesis has no Validators contract keeps its genesis set for ever (epoch 0 covers
 * every height). A chain with one (validator-steps.ts) changes its set only at epoch boundaries:
 * epoch e covers heights (e·L, (e+1)·L], and its set is what Validators.closeEpoch() stored while
 * executing block e·L, the last block of epoch e − 1 — read from that block's committed state.
 * So every node knows the set of height h + 1 as soon as it has committed h, which is exactly when
 * it needs it (to start the height, or to check the commit a synced block comes with).
 *
 * Proposer priorities restart with each epoch (`ValidatorSet.create` of the new membership), so
 * the set of any height follows from its epoch's membership alone. CometBFT instead carries the
 * priorities over with UpdateWithChangeSet, which is only fair when sets change every block; with
 * epochs of many heights a restart costs at most a few turns' skew at each boundary, and it keeps
 * an old epoch's set loadable on its own (evidence of a past height, a trace, a restart at height
 * 10^6) without replaying every epoch before it. See docs/decisions.md "Validator set by stake".
 */
import { hexToBytes } from '@ethereumjs/util';
import type { GenesisValidator } from '../chain/genesis.ts';
import { PocError } from '../lib/errors.ts';
import { HeightSets, ValidatorSet } from './validators.ts';

export type ValidatorSetsErrorCode = 'VALIDATOR_SET_UNKNOWN';

/** One member of a set, as Validators.activeSet() or genesis gives it. */
export interface SetMember {
  /** ed25519 consensus key, 32 bytes */
  pubKey: Uint8Array;
  power: bigint;
  /** secp256k1 operator address (L1 checkpoint signer, coinbase), 0x-hex */
  operator: string;
  /** BLS12-381 randomness key (48 bytes) when the chain has them */
  blsPubKey?: Uint8Array;
}

/** The set of one epoch and everything derived from it. */
export interface EpochSet {
  epoch: number;
  /** first height the set signs */
  firstHeight: number;
  members: readonly SetMember[];
  /** membership (keys, powers, indices); proposer priorities of its first height */
  set: ValidatorSet;
  heights: HeightSets;
  /** BLS randomness keys by consensus key (hex, no 0x); null on a chain without them */
  bls: Map<string, Uint8Array> | null;
}

/** Epoch of a height (heights start at 1); `epochLength` null: one epoch for ever. */
export function epochOf(height: number, epochLength: number | null): number {
  return epochLength === null ? 0 : Math.floor((height - 1) / epochLength);
}

/** True when block `height` closes an epoch (its state holds the next epoch's set). */
export function closesEpoch(height: number, epochLength: number | null): boolean {
  return epochLength !== null && height > 0 && height % epochLength === 0;
}

function epochSet(epoch: number, firstHeight: number, members: readonly SetMember[]): EpochSet {
  const set = ValidatorSet.create(members.map((m) => ({ pubKey: m.pubKey, power: m.power })));
  const bls = members.length > 0 && members.every((m) => m.blsPubKey) ? new Map(members.map((m) => [Buffer.from(m.pubKey).toString('hex'), m.blsPubKey!])) : null;
  return { epoch, firstHeight, members, set, heights: new HeightSets(set), bls };
}

/** Genesis validators as set members. */
export function genesisMembers(validators: readonly GenesisValidator[]): SetMember[] {
  return validators.map((v) => ({ pubKey: hexToBytes(v.pubKey as `0x${string}`), power: BigInt(v.power), operator: v.address, ...(v.blsPubKey ? { blsPubKey: hexToBytes(v.blsPubKey as `0x${string}`) } : {}) }));
}

/** Reads the set stored by the block at `boundary` (a multiple of the epoch length). */
export type ReadSet = (boundary: number) => Promise<SetMember[]>;

export interface ValidatorSetsOptions {
  genesis: readonly GenesisValidator[];
  /** blocks per epoch; null for a static set */
  epochLength: number | null;
  /** epochs kept in memory besides genesis (older ones are read again when asked for) */
  keep?: number;
}

export class ValidatorSets {
  readonly epochLength: number | null;
  private readonly genesis: EpochSet;
  private readonly cache = new Map<number, EpochSet>();
  private readonly loading = new Map<number, Promise<EpochSet>>();
  private readonly keep: number;
  private read?: ReadSet;

  constructor(o: ValidatorSetsOptions) {
    this.epochLength = o.epochLength;
    this.keep = o.keep ?? 8;
    this.genesis = epochSet(0, 1, genesisMembers(o.genesis));
  }

  /** Where later epochs' sets come from (the chain's committed state); set once the chain is open. */
  attach(read: ReadSet): void {
    this.read = read;
  }

  get dynamic(): boolean {
    return this.epochLength !== null;
  }

  epochOf(height: number): number {
    return epochOf(height, this.epochLength);
  }

  /** The epoch's set when it is in memory (genesis always is). */
  entry(height: number): EpochSet | undefined {
    const e = this.epochOf(height);
    return e === 0 ? this.genesis : this.cache.get(e);
  }

  /** Membership of a height, if known without I/O (the current and previous epochs always are). */
  membershipAt(height: number): ValidatorSet | undefined {
    return this.entry(height)?.set;
  }

  /** Set of a height with its proposer priorities, if known without I/O. */
  setAt(height: number): ValidatorSet | undefined {
    const e = this.entry(height);
    return e ? e.heights.at(height - e.firstHeight + 1) : undefined;
  }

  /** Like membershipAt, but a set that is not in memory is read from the committed state. */
  async membership(height: number): Promise<ValidatorSet> {
    return (await this.load(height)).set;
  }

  /** The epoch set of `height`, read from the state of its boundary block when not in memory. */
  load(height: number): Promise<EpochSet> {
    const e = this.epochOf(height);
    const have = e === 0 ? this.genesis : this.cache.get(e);
    if (have) return Promise.resolve(have);
    let p = this.loading.get(e);
    if (!p) {
      const read = this.read;
      if (!read) return Promise.reject(new PocError<ValidatorSetsErrorCode>('VALIDATOR_SET_UNKNOWN', `the set of epoch ${e} cannot be read: no chain attached`));
      const boundary = e * this.epochLength!;
      p = read(boundary)
        .then((members) => {
          if (members.length === 0) throw new PocError<ValidatorSetsErrorCode>('VALIDATOR_SET_UNKNOWN', `block ${boundary} stored an empty validator set`);
          const s = epochSet(e, boundary + 1, members);
          this.cache.set(e, s);
          // the newest epochs are the ones consensus asks for; old ones are read again on demand
          while (this.cache.size > this.keep) this.cache.delete(Math.min(...this.cache.keys()));
          return s;
        })
        .finally(() => this.loading.delete(e));
      this.loading.set(e, p);
    }
    return p;
  }

  /**
   * After block `height` is committed: when it closed an epoch, read the next epoch's set now, so
   * the next height starts (and a synced commit of it is checked) without waiting on I/O.
   * Returns the new epoch set when there is one.
   */
  async afterCommit(height: number): Promise<EpochSet | undefined> {
    if (!closesEpoch(height, this.epochLength)) return undefined;
    return this.load(height + 1);
  }

  /** Largest set the chain can have (for message bounds). */
  maxSize(bound: number): number {
    return this.dynamic ? bound : this.genesis.set.size;
  }
}
