/**
 * Aggregate BLS checkpoints for contracts/l1/CheckpointsBls.sol (pure): the set as the contract
 * stores it (keys in EIP-2537 encoding, ascending by keccak256), the hand-over digest, the signer
 * bitmap, and one aggregate signature from the validators' individual ones.
 * The checkpoint digest is the same EIP-712 digest as the ECDSA contract's (`checkpointDigest`),
 * with the domain bound to the BLS contract.
 */
import { getBytes, hexlify, keccak256, solidityPacked, TypedDataEncoder } from 'ethers';
import { PocError } from '../lib/errors.ts';
import { blsAggregate, blsVerifyAggregate, g1ToEip2537, g2ToEip2537, verifyPop } from '../lib/bls.ts';
import { typedDataDomain, type CheckpointDomain } from './checkpoint.ts';

export type BlsCheckpointErrorCode = 'BLS_SET_INVALID' | 'BLS_NO_QUORUM' | 'BLS_AGGREGATE_INVALID';

/** Most validators: the signer bitmap is one 256-bit word. */
export const MAX_BLS_VALIDATORS = 256;

export interface BlsMember {
  /** compressed G1, 48 bytes */
  publicKey: Uint8Array;
  /** proof of possession (compressed G2) */
  pop: Uint8Array;
  power: bigint;
}

/** A set in the contract's order, with the calldata the contract takes. */
export interface BlsSet {
  members: BlsMember[];
  /** concatenated EIP-2537 keys, 128 bytes each */
  publicKeys: string;
  powers: bigint[];
  totalPower: bigint;
}

export const BLS_VALIDATOR_SET_TYPES = {
  BlsValidatorSet: [
    { name: 'setId', type: 'uint256' },
    { name: 'publicKeysHash', type: 'bytes32' },
    { name: 'powersHash', type: 'bytes32' },
  ],
};

const bad = (m: string) => new PocError<BlsCheckpointErrorCode>('BLS_SET_INVALID', m);

/**
 * Check every member (proof of possession, power) and put them in the contract's order
 * (ascending keccak256 of the EIP-2537 key). Throws BLS_SET_INVALID or BLS_BAD_POP.
 */
export function buildBlsSet(members: readonly BlsMember[]): BlsSet {
  for (const m of members) verifyPop(m.publicKey, m.pop);
  return orderBlsSet(members);
}

/**
 * The contract's order of keys whose proofs of possession were already checked where they entered
 * the validator set (genesis validation, the epoch step for bonded keys): the node's view of the
 * set of a height. Members keep the `pop` they were given (empty when unknown).
 */
export function orderBlsSet(members: readonly (Omit<BlsMember, 'pop'> & { pop?: Uint8Array })[]): BlsSet {
  if (members.length === 0) throw bad('empty validator set');
  if (members.length > MAX_BLS_VALIDATORS) throw bad(`${members.length} validators, at most ${MAX_BLS_VALIDATORS}`);
  const keyed = members.map((x) => {
    const m: BlsMember = { publicKey: x.publicKey, pop: x.pop ?? new Uint8Array(0), power: x.power };
    if (m.power <= 0n) throw bad('a validator with no power');
    const enc = g1ToEip2537(m.publicKey);
    return { m, enc, h: keccak256(enc) };
  });
  keyed.sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
  keyed.forEach((k, i) => {
    if (i > 0 && k.h === keyed[i - 1]!.h) throw bad('a key appears twice');
  });
  const powers = keyed.map((k) => k.m.power);
  return { members: keyed.map((k) => k.m), publicKeys: hexlify(new Uint8Array(Buffer.concat(keyed.map((k) => k.enc)))), powers, totalPower: powers.reduce((a, b) => a + b, 0n) };
}

/** BLS12-381 base field modulus. */
const FP = 0x1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaabn;

/** A key in the contract's EIP-2537 encoding (128 bytes) back to compressed G1 (48 bytes, ZCash flags). */
export function g1FromEip2537(enc: Uint8Array): Uint8Array {
  if (enc.length !== 128 || enc.subarray(0, 16).some((b) => b !== 0) || enc.subarray(64, 80).some((b) => b !== 0)) throw bad('not an EIP-2537 G1 point');
  const out = Uint8Array.from(enc.subarray(16, 64));
  const y = BigInt(hexlify(enc.subarray(80, 128)));
  out[0]! |= 0x80 | (y > (FP - 1n) / 2n ? 0x20 : 0);
  return out;
}

/** The keys of a set as the contract returns them (`validators()`: concatenated EIP-2537 keys), compressed, in order. */
export function blsKeysFromContract(publicKeys: string): Uint8Array[] {
  const b = getBytes(publicKeys);
  if (b.length % 128 !== 0) throw bad('EIP-2537 key list length is not a multiple of 128');
  return Array.from({ length: b.length / 128 }, (_, i) => g1FromEip2537(b.subarray(i * 128, (i + 1) * 128)));
}

/** The digest the current set signs to hand over to `next` as set `setId` (= current id + 1). */
export function blsValidatorSetDigest(d: CheckpointDomain, setId: bigint, next: BlsSet): string {
  return TypedDataEncoder.hash(typedDataDomain(d), BLS_VALIDATOR_SET_TYPES, {
    setId,
    publicKeysHash: keccak256(next.publicKeys),
    powersHash: keccak256(solidityPacked(next.powers.map(() => 'uint256'), next.powers)),
  });
}

/** The bitmap of validator positions (bit i = member i of the set). */
export function signerBitmap(positions: Iterable<number>): bigint {
  let b = 0n;
  for (const i of positions) {
    if (!Number.isInteger(i) || i < 0 || i >= MAX_BLS_VALIDATORS) throw bad(`signer position ${i} out of range`);
    b |= 1n << BigInt(i);
  }
  return b;
}

/**
 * One submission from individual signatures of `digest` (position in `set` → compressed sig):
 * every valid one is included (a signer costs the contract one G1 addition, ~700 gas); the
 * aggregate is checked here before it is sent. Throws BLS_NO_QUORUM under 2/3 + 1 of the power.
 */
export function aggregateForSubmission(set: BlsSet, digest: string, sigs: ReadonlyMap<number, Uint8Array>): { signers: bigint; signature: string; signedPower: bigint } {
  const positions = [...sigs.keys()].filter((i) => i >= 0 && i < set.members.length).sort((a, b) => a - b);
  const signedPower = positions.reduce((a, i) => a + set.powers[i]!, 0n);
  if (signedPower * 3n <= set.totalPower * 2n) throw new PocError<BlsCheckpointErrorCode>('BLS_NO_QUORUM', `signed power ${signedPower} of ${set.totalPower} is not more than 2/3`);
  const agg = blsAggregate(positions.map((i) => sigs.get(i)!));
  if (!blsVerifyAggregate(positions.map((i) => set.members[i]!.publicKey), getBytes(digest), agg)) {
    throw new PocError<BlsCheckpointErrorCode>('BLS_AGGREGATE_INVALID', 'the aggregate does not verify: a signature is bad (verify them one by one)');
  }
  return { signers: signerBitmap(positions), signature: hexlify(g2ToEip2537(agg)), signedPower };
}
