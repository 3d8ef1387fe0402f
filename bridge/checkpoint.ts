/**
 * Checkpoint and validator-set digests as contracts/l1/Checkpoints.sol checks them, signing and
 * recovery with validators' secp256k1 keys, and packing of signatures for the contract.
 *
 * Digests are EIP-712: domain {name "pocchain-checkpoints", version "1", chainId = L1 chain id,
 * verifyingContract = Checkpoints, salt = bytes32(sidechain chain id)}, so a signature for one
 * deployment (or one sidechain) is worthless on any other. Types:
 *   Checkpoint(uint64 height,bytes32 blockHash,bytes32 stateRoot,bytes32 withdrawalsRoot)
 *   ValidatorSet(uint256 setId,address[] validators,uint256[] powers)
 * The contract takes signatures packed (65 bytes r‖s‖v each) with signers strictly ascending.
 * Pure: keys and values in, hex out; no provider.
 */
import {
  computeAddress,
  concat,
  getAddress,
  recoverAddress,
  Signature,
  SigningKey,
  toBeHex,
  TypedDataEncoder,
  zeroPadValue,
  type TypedDataDomain,
  type TypedDataField,
} from 'ethers';
import { PocError } from '../lib/errors.ts';

export type CheckpointErrorCode =
  | 'CHECKPOINT_BAD_SIGNATURE'
  | 'CHECKPOINT_DUPLICATE_SIGNER'
  | 'CHECKPOINT_UNKNOWN_SIGNER'
  | 'CHECKPOINT_NO_QUORUM'
  | 'CHECKPOINT_BAD_VALIDATOR_SET';

/** What binds a signature to one deployment. */
export interface CheckpointDomain {
  /** chain id of L1 (where Checkpoints lives) */
  l1ChainId: bigint;
  /** address of the Checkpoints contract */
  checkpoints: string;
  /** chain id of the sidechain */
  sidechainChainId: bigint;
}

/** A sidechain checkpoint as signed and stored on L1. */
export interface Checkpoint {
  height: bigint;
  blockHash: string;
  stateRoot: string;
  /** Bridge.root() at `height` */
  withdrawalsRoot: string;
}

/** A validator set: addresses strictly ascending, powers aligned. `setId` as in Checkpoints.validatorSetId. */
export interface ValidatorSet {
  setId: bigint;
  validators: string[];
  powers: bigint[];
}

/** One validator's signature over a digest. */
export interface ValidatorSignature {
  signer: string;
  /** 65-byte r‖s‖v hex, v ∈ {27, 28} */
  signature: string;
}

export const CHECKPOINT_TYPES: Record<string, TypedDataField[]> = {
  Checkpoint: [
    { name: 'height', type: 'uint64' },
    { name: 'blockHash', type: 'bytes32' },
    { name: 'stateRoot', type: 'bytes32' },
    { name: 'withdrawalsRoot', type: 'bytes32' },
  ],
};

export const VALIDATOR_SET_TYPES: Record<string, TypedDataField[]> = {
  ValidatorSet: [
    { name: 'setId', type: 'uint256' },
    { name: 'validators', type: 'address[]' },
    { name: 'powers', type: 'uint256[]' },
  ],
};

/** The EIP-712 domain for `d` (usable with any EIP-712 signer, e.g. Wallet.signTypedData). */
export function typedDataDomain(d: CheckpointDomain): TypedDataDomain {
  return {
    name: 'pocchain-checkpoints',
    version: '1',
    chainId: d.l1ChainId,
    verifyingContract: getAddress(d.checkpoints),
    salt: zeroPadValue(toBeHex(d.sidechainChainId), 32),
  };
}

/** The digest validators sign for checkpoint `cp`. */
export function checkpointDigest(d: CheckpointDomain, cp: Checkpoint): string {
  return TypedDataEncoder.hash(typedDataDomain(d), CHECKPOINT_TYPES, cp);
}

/** The digest the current set signs to hand over to `next` (next.setId = current id + 1). */
export function validatorSetDigest(d: CheckpointDomain, next: ValidatorSet): string {
  return TypedDataEncoder.hash(typedDataDomain(d), VALIDATOR_SET_TYPES, next);
}

/** Sign a 32-byte digest with a validator's secp256k1 key (hex private key or SigningKey). */
export function signDigest(key: SigningKey | string, digest: string): ValidatorSignature {
  const sk = typeof key === 'string' ? new SigningKey(key) : key;
  const sig = sk.sign(digest); // ethers signs deterministically (RFC 6979) with low s
  return { signer: computeAddress(sk.publicKey), signature: sig.serialized };
}

/** Sign checkpoint `cp` for domain `d`. */
export function signCheckpoint(key: SigningKey | string, d: CheckpointDomain, cp: Checkpoint): ValidatorSignature {
  return signDigest(key, checkpointDigest(d, cp));
}

/** Sign the hand-over to validator set `next`. */
export function signValidatorSet(key: SigningKey | string, d: CheckpointDomain, next: ValidatorSet): ValidatorSignature {
  return signDigest(key, validatorSetDigest(d, next));
}

/** Address that signed `digest`; throws CHECKPOINT_BAD_SIGNATURE on a malformed signature. */
export function recoverSigner(digest: string, signature: string): string {
  try {
    return getAddress(recoverAddress(digest, Signature.from(signature)));
  } catch (cause) {
    throw new PocError<CheckpointErrorCode>('CHECKPOINT_BAD_SIGNATURE', 'malformed signature', { cause });
  }
}

/** True when `signed` is more than 2/3 of `total` (the contract's rule: 3·signed > 2·total). */
export function hasQuorum(signed: bigint, total: bigint): boolean {
  return signed * 3n > total * 2n;
}

/**
 * Pack signatures for Checkpoints: sorted by signer ascending, 65 bytes each. Each signature must
 * recover to its claimed signer over `digest`; a signer given twice is refused (the contract would).
 */
export function packSignatures(digest: string, sigs: readonly ValidatorSignature[]): string {
  const checked = sigs.map((s) => {
    const signer = recoverSigner(digest, s.signature);
    if (signer !== getAddress(s.signer)) {
      throw new PocError<CheckpointErrorCode>('CHECKPOINT_BAD_SIGNATURE', `signature does not recover to ${s.signer}`, { data: { signer: s.signer, recovered: signer } });
    }
    return { signer, bytes: Signature.from(s.signature).serialized };
  });
  checked.sort((a, b) => compareAddresses(a.signer, b.signer));
  for (let i = 1; i < checked.length; i++) {
    if (checked[i]!.signer === checked[i - 1]!.signer) {
      throw new PocError<CheckpointErrorCode>('CHECKPOINT_DUPLICATE_SIGNER', `${checked[i]!.signer} signed twice`);
    }
  }
  return concat(checked.map((c) => c.bytes));
}

/**
 * From the collected signatures, pick the fewest that pass the quorum of `set` (highest power
 * first: fewer ecrecovers, less gas), verified and packed. Signatures of non-members, bad
 * signatures and duplicates are dropped. Throws CHECKPOINT_NO_QUORUM when the valid ones fall short.
 */
export function selectQuorum(digest: string, sigs: readonly ValidatorSignature[], set: Pick<ValidatorSet, 'validators' | 'powers'>): { packed: string; signers: string[]; signedPower: bigint } {
  const power = new Map<string, bigint>();
  let total = 0n;
  set.validators.forEach((v, i) => {
    power.set(getAddress(v), set.powers[i]!);
    total += set.powers[i]!;
  });
  const valid = new Map<string, ValidatorSignature>();
  for (const s of sigs) {
    let signer: string;
    try {
      signer = recoverSigner(digest, s.signature);
    } catch {
      continue;
    }
    if (power.has(signer) && !valid.has(signer)) valid.set(signer, { signer, signature: s.signature });
  }
  const byPower = [...valid.values()].sort((a, b) => {
    const d = power.get(b.signer)! - power.get(a.signer)!;
    return d > 0n ? 1 : d < 0n ? -1 : compareAddresses(a.signer, b.signer);
  });
  const chosen: ValidatorSignature[] = [];
  let signed = 0n;
  for (const s of byPower) {
    if (hasQuorum(signed, total)) break;
    chosen.push(s);
    signed += power.get(s.signer)!;
  }
  if (!hasQuorum(signed, total)) {
    throw new PocError<CheckpointErrorCode>('CHECKPOINT_NO_QUORUM', `valid signatures hold ${signed} of ${total} power, need more than 2/3`, { data: { signed: signed.toString(), total: total.toString() } });
  }
  return { packed: packSignatures(digest, chosen), signers: chosen.map((c) => c.signer).sort(compareAddresses), signedPower: signed };
}

/** Sort a validator set ascending by address, as Checkpoints requires; refuses duplicates and zero powers. */
export function sortValidatorSet(setId: bigint, entries: readonly { address: string; power: bigint }[]): ValidatorSet {
  const sorted = entries.map((e) => ({ address: getAddress(e.address), power: e.power })).sort((a, b) => compareAddresses(a.address, b.address));
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i]!.power <= 0n) throw new PocError<CheckpointErrorCode>('CHECKPOINT_BAD_VALIDATOR_SET', `validator ${sorted[i]!.address} has no power`);
    if (i > 0 && sorted[i]!.address === sorted[i - 1]!.address) {
      throw new PocError<CheckpointErrorCode>('CHECKPOINT_BAD_VALIDATOR_SET', `validator ${sorted[i]!.address} listed twice`);
    }
  }
  return { setId, validators: sorted.map((e) => e.address), powers: sorted.map((e) => e.power) };
}

/** Order of addresses as uint160 (what `<` on `address` means in Solidity). */
export function compareAddresses(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
