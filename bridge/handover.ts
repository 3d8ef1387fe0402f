/**
 * Which validator set signs what on L1, and the hand-overs between sets.
 *
 * L1 Checkpoints holds one set at a time, identified by `validatorSetId` (0 = the genesis set it
 * was deployed with, +1 per accepted `updateValidatorSet`). On the sidechain the set of height h
 * is the set of h's epoch (consensus/validator-sets.ts); as L1 sees it, a set is its members'
 * operator addresses (secp256k1, the checkpoint signers) and powers, with the powers of members
 * sharing an operator summed (Checkpoints refuses a repeated address).
 *
 * Set ids follow from the chain alone: walking the epoch boundaries b = L, 2L, … in order, every
 * boundary whose next set differs from the one before it (as L1 sees sets) is one hand-over and
 * takes the next id. So the set signing height h has id = the number of hand-overs at boundaries
 * < h, every node computes the same ids, and they match L1's as long as every hand-over is
 * relayed, in order (the relayer does: it never skips an id, and the contract accepts only
 * current id + 1). A boundary where stake moved but the L1 view did not change (same operators,
 * same powers) is no hand-over.
 *
 * The checkpoint of height h is signed by the set of h: a checkpoint at a boundary b is still the
 * outgoing set's, and the hand-over at b is signed by that same outgoing set.
 */
import { getAddress, getBytes, hexlify } from 'ethers';
import { sortValidatorSet, type ValidatorSet } from './checkpoint.ts';
import { orderBlsSet } from './checkpoint-bls.ts';

/** A member as the sidechain's validator sets give it (consensus/validator-sets.ts SetMember). */
export interface OperatorMember {
  operator: string;
  power: bigint;
  /** compressed BLS12-381 key, on a chain whose validators have them */
  blsPubKey?: Uint8Array;
}

/** The set of one height as L1 sees it: operator → power (members sharing an operator summed). */
export type L1Set = ReadonlyMap<string, bigint>;

/** The L1 view of a sidechain set. */
export function l1Set(members: readonly OperatorMember[]): L1Set {
  const m = new Map<string, bigint>();
  for (const x of members) {
    const a = getAddress(x.operator);
    m.set(a, (m.get(a) ?? 0n) + x.power);
  }
  return m;
}

/** The L1 view of a sidechain set for CheckpointsBls: BLS key (compressed, 0x-hex) → power. */
export function blsL1Set(members: readonly OperatorMember[]): L1Set {
  const m = new Map<string, bigint>();
  for (const x of members) {
    if (!x.blsPubKey) throw new Error(`validator ${x.operator} has no BLS key: this chain cannot sign BLS checkpoints`);
    const k = hexlify(x.blsPubKey);
    m.set(k, (m.get(k) ?? 0n) + x.power);
  }
  return m;
}

/** A BLS L1 set in the contract's order (`validators` are the compressed keys, 0x-hex). */
export function orderBlsL1Set(setId: bigint, s: L1Set): ValidatorSet {
  const set = orderBlsSet([...s].map(([k, power]) => ({ publicKey: getBytes(k), power })));
  return { setId, validators: set.members.map((m) => hexlify(m.publicKey)), powers: set.powers };
}

/** The ECDSA contract's order of an L1 set (ascending address). */
export function orderEcdsaL1Set(setId: bigint, s: L1Set): ValidatorSet {
  return sortValidatorSet(setId, [...s].map(([address, power]) => ({ address, power })));
}

/** How a scheme sees a set: the members' L1 identities and powers, and the contract's order. */
export interface L1SetView {
  of(members: readonly OperatorMember[]): L1Set;
  order(setId: bigint, s: L1Set): ValidatorSet;
}

export const ECDSA_VIEW: L1SetView = { of: l1Set, order: orderEcdsaL1Set };
export const BLS_VIEW: L1SetView = { of: blsL1Set, order: orderBlsL1Set };

/** True when two sets are the same for L1 (same operators, same powers). */
export function sameL1Set(a: L1Set, b: L1Set): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

export function totalPower(s: L1Set): bigint {
  let t = 0n;
  for (const v of s.values()) t += v;
  return t;
}

/** One hand-over: at `boundary` the set `from` hands L1 over to `to` (id `to.setId`). */
export interface Handover {
  boundary: number;
  from: L1Set;
  to: ValidatorSet;
}

/** Reads the sidechain set of a height (PluginContext.validatorSetAt). */
export type SetReader = (height: number) => Promise<readonly OperatorMember[]>;

/**
 * The hand-overs of a chain, found by walking its epoch boundaries in order from genesis (one
 * set read per epoch; the walk is done once per node run and extended as blocks commit).
 * `epochLength` null: a fixed set, no hand-over ever, every height signed by set 0.
 */
export class HandoverLog {
  private readonly read: SetReader;
  private readonly epochLength: number | null;
  private readonly view: L1SetView;
  private readonly list: Handover[] = [];
  /** the last boundary walked (0: none) and the set after it */
  private walked = 0;
  private current?: L1Set;
  private walking: Promise<void> = Promise.resolve();

  constructor(read: SetReader, epochLength: number | null, view: L1SetView = ECDSA_VIEW) {
    this.read = read;
    this.epochLength = epochLength;
    this.view = view;
  }

  /** Walk every boundary ≤ `height` (serialised; callers may race). `height` must be committed. */
  walkTo(height: number): Promise<void> {
    const p = this.walking.then(() => this.walk(height));
    this.walking = p.catch(() => {});
    return p;
  }

  private async walk(height: number): Promise<void> {
    const L = this.epochLength;
    if (L === null) return;
    this.current ??= this.view.of(await this.read(1));
    for (let b = this.walked + L; b <= height; b += L) {
      const next = this.view.of(await this.read(b + 1));
      if (!sameL1Set(this.current, next)) {
        const to = this.view.order(BigInt(this.list.length + 1), next);
        this.list.push({ boundary: b, from: this.current, to });
      }
      this.current = next;
      this.walked = b;
    }
  }

  /** Id of the set that signs `height` (boundaries < height must have been walked). */
  setIdAt(height: number): number {
    const L = this.epochLength;
    if (L !== null && this.walked < Math.floor((height - 1) / L) * L) throw new Error(`hand-overs walked to ${this.walked}, height ${height} needs more`);
    let n = 0;
    while (n < this.list.length && this.list[n]!.boundary < height) n++;
    return n;
  }

  /** The hand-over to set `setId` (≥ 1), if walked. */
  byId(setId: number): Handover | undefined {
    return setId >= 1 ? this.list[setId - 1] : undefined;
  }

  /** The hand-over at boundary `b`, if there is one (and it was walked). */
  atBoundary(b: number): Handover | undefined {
    return this.list.find((h) => h.boundary === b);
  }

  /** Hand-overs walked so far, oldest first. */
  all(): readonly Handover[] {
    return this.list;
  }
}

/**
 * What a relayer does before submitting a checkpoint signed by set `checkpointSetId` when L1 holds
 * set `l1SetId`: the hand-overs to relay first, in order, or 'stale' when L1 already moved past
 * the set that signed it (its signatures can no longer land; a later checkpoint will).
 */
export function handoversBefore(l1SetId: number, checkpointSetId: number): number[] | 'stale' {
  if (checkpointSetId < l1SetId) return 'stale';
  const ids: number[] = [];
  for (let id = l1SetId + 1; id <= checkpointSetId; id++) ids.push(id);
  return ids;
}
