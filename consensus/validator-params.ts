/**
 * The Validators system contract (contracts/sidechain/Validators.sol) in TypeScript: its genesis
 * address, its constants, the shapes of its `Params` and `GenesisValidator` structs, and the pure
 * rules the node and tests predict without an RPC round trip (power, downtime threshold, slash
 * amount, next-set selection). test/contracts/validators.test.ts checks every constant against the
 * contract and the selection against the contract on random populations; a change lands in both.
 * docs/validators.md explains the rules.
 */
import { verify } from 'node:crypto';
import nacl from 'tweetnacl';
import { ed25519KeyObject } from './validators.ts';

export { SYSTEM_ADDRESS } from './poc/params.ts';

/** Genesis address of the Validators contract (runtime code in genesis, no constructor). */
export const VALIDATORS_ADDRESS = '0x0000000000000000000000000000000000001003';

/** power = stake / POWER_UNIT (integer division), wei. */
export const POWER_UNIT = 10n ** 18n;
/** Largest active set. */
export const MAX_SET = 200;
/** Largest candidate list (bounds closeEpoch and pendingKeys). */
export const MAX_CANDIDATES = 512;
/** Most keys one pendingKeys call returns. */
export const MAX_PENDING_CHECKS = 64;
export const BLS_PUBKEY_BYTES = 48;
export const BLS_POP_BYTES = 96;
/** Denominator of slashBps and downtimeBps. */
export const BPS = 10_000n;

/** keyStatus of a validator's BLS key (Validators.KEY_*). */
export const KeyStatus = { Pending: 0, Confirmed: 1, Rejected: 2 } as const;
export type KeyStatus = (typeof KeyStatus)[keyof typeof KeyStatus];

/** Reason of a Jailed event (Validators.JAIL_*). */
export const JailReason = { DoubleSign: 1, Downtime: 2 } as const;
export type JailReason = (typeof JailReason)[keyof typeof JailReason];

/** Validators.Params: fixed in genesis, passed to `initialize`. */
export interface ValidatorParams {
  /** blocks per epoch: the node calls closeEpoch at heights that are multiples of it */
  epochLength: bigint;
  /** N: the top N eligible candidates by stake form the set (1..MAX_SET) */
  maxValidators: number;
  /** least stake to be eligible, wei (>= POWER_UNIT) */
  minStake: bigint;
  /** blocks between unbond and withdraw */
  unbondingBlocks: bigint;
  /** share of (stake + unbonding) a double-sign slash takes, basis points (<= 10000) */
  slashBps: number;
  /** blocks before a jailed validator may unjail */
  jailBlocks: bigint;
  /** a set member that missed more than downtimeBps/10000 of an epoch's blocks is jailed (no slash) */
  downtimeBps: number;
}

/** Validators.GenesisValidator: one member of the epoch-0 set (hex strings as the ABI coder takes them). */
export interface GenesisValidatorEntry {
  /** ed25519 consensus public key, 32 bytes hex */
  key: string;
  owner: string;
  operator: string;
  /** 48 bytes hex */
  blsPubKey: string;
  /** 96 bytes hex */
  blsPop: string;
  /** wei; the node credits the sum to VALIDATORS_ADDRESS before `initialize` */
  stake: bigint;
}

/** ABI tuple types of the two structs, for encoders (order = Solidity field order). */
export const PARAMS_TUPLE = 'tuple(uint64 epochLength,uint32 maxValidators,uint256 minStake,uint64 unbondingBlocks,uint32 slashBps,uint64 jailBlocks,uint32 downtimeBps)';
export const GENESIS_VALIDATOR_TUPLE = 'tuple(bytes32 key,address owner,address operator,bytes blsPubKey,bytes blsPop,uint256 stake)';

/** Why a parameter set is refused (the same bounds `initialize` checks, BadParams()); null when valid. */
export function paramsProblem(p: ValidatorParams): string | null {
  if (p.epochLength <= 0n || p.epochLength >= 2n ** 64n) return 'epochLength must be in 1..2^64-1';
  if (!Number.isInteger(p.maxValidators) || p.maxValidators < 1 || p.maxValidators > MAX_SET) return `maxValidators must be in 1..${MAX_SET}`;
  if (p.minStake < POWER_UNIT) return 'minStake must be at least POWER_UNIT (1 coin)';
  if (!Number.isInteger(p.slashBps) || p.slashBps < 0 || p.slashBps > Number(BPS)) return 'slashBps must be in 0..10000';
  if (!Number.isInteger(p.downtimeBps) || p.downtimeBps < 0 || p.downtimeBps > Number(BPS)) return 'downtimeBps must be in 0..10000';
  if (p.unbondingBlocks < 0n || p.jailBlocks < 0n) return 'unbondingBlocks and jailBlocks must not be negative';
  return null;
}

/** Voting power of a stake. */
export const powerOf = (stake: bigint): bigint => stake / POWER_UNIT;

/** Most blocks of an epoch a set member may miss without being jailed (more than this jails). */
export const downtimeAllowance = (p: Pick<ValidatorParams, 'epochLength' | 'downtimeBps'>): bigint => (p.epochLength * BigInt(p.downtimeBps)) / BPS;

/** What a double-sign slash takes, and from where (stake first, then unbonding). */
export function slashSplit(stake: bigint, unbonding: bigint, slashBps: number): { amount: bigint; fromStake: bigint; fromUnbonding: bigint } {
  const amount = ((stake + unbonding) * BigInt(slashBps)) / BPS;
  const fromStake = amount > stake ? stake : amount;
  return { amount, fromStake, fromUnbonding: amount - fromStake };
}

/** A candidate as closeEpoch sees it. */
export interface CandidateView {
  /** bytes32 hex, lowercase */
  key: string;
  stake: bigint;
  keyStatus: KeyStatus;
  jailed: boolean;
}

export interface ValidatorSetView {
  keys: string[];
  powers: bigint[];
}

const keyCmp = (a: string, b: string): number => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

/**
 * closeEpoch's selection (after its downtime jailing): confirmed, unjailed candidates with stake >=
 * minStake; the top maxValidators by stake (ties: key ascending); power = stake / POWER_UNIT;
 * ordered by power descending then key ascending. With no eligible candidate the current set is
 * kept unchanged (the chain never stops for want of validators).
 */
export function selectSet(candidates: readonly CandidateView[], p: Pick<ValidatorParams, 'maxValidators' | 'minStake'>, current: ValidatorSetView): ValidatorSetView {
  const eligible = candidates.filter((c) => c.keyStatus === KeyStatus.Confirmed && !c.jailed && c.stake >= p.minStake);
  if (eligible.length === 0) return { keys: [...current.keys], powers: [...current.powers] };
  const top = [...eligible].sort((a, b) => (a.stake > b.stake ? -1 : a.stake < b.stake ? 1 : keyCmp(a.key, b.key))).slice(0, p.maxValidators);
  const set = top.map((c) => ({ key: c.key, power: powerOf(c.stake) })).sort((a, b) => (a.power > b.power ? -1 : a.power < b.power ? 1 : keyCmp(a.key, b.key)));
  return { keys: set.map((s) => s.key), powers: set.map((s) => s.power) };
}

/** Bytes of a bond's consensus-key signature (Validators.KEY_SIG_BYTES). */
export const KEY_SIG_BYTES = 64;

/**
 * The consensus key's signature over Validators.bondDigest(key, owner, operator, blsPubKey): proves
 * the bonder holds the key it names. Signed with tweetnacl (the reference, off the hot path).
 */
export function signBondDigest(consensusSecretKey: Uint8Array, digest: Uint8Array): Uint8Array {
  return nacl.sign.detached(digest, consensusSecretKey);
}

/** The node's check of a bond's key signature (node:crypto Ed25519); false on any malformed input. */
export function bondKeySigValid(key: Uint8Array, digest: Uint8Array, sig: Uint8Array): boolean {
  if (key.length !== 32 || digest.length !== 32 || sig.length !== KEY_SIG_BYTES) return false;
  try {
    return verify(null, digest, ed25519KeyObject(key), sig);
  } catch {
    return false;
  }
}
