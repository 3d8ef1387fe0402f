/**
 * The epoch and slashing steps of the block transition (transition.ts) on a chain whose genesis
 * holds the Validators system contract (contracts/sidechain/Validators.sol, docs/validators.md).
 *
 * epoch (before everything else in a block):
 *   - block 1: the genesis validators' stake is minted into the contract and `initialize` records
 *     them, with the genesis staking parameters, as the set of epoch 0. Why a mint at block 1 and not
 *     a genesis balance: a genesis file stays a list of validators with powers, as before staking.
 *   - a block at a multiple of the epoch length: the BLS proofs of possession of newly bonded keys
 *     are checked here in TypeScript (the EVM has no BLS precompile; every node runs the same pure
 *     check, so it is as deterministic as the EVM), `confirmKeys` records the verdicts, and
 *     `closeEpoch` jails the epoch's absentees and stores the next set (validator-sets.ts reads it).
 * slashing (next): each equivocation committed in the block slashes and jails its signer, and the
 *   members of the previous height's set absent from the block's last commit are counted missed.
 *
 * These calls run with allowRevert, like the Hub's: a revert is a contract bug, and invalidating
 * every block over it would halt the chain; the EVM rolls the call back on every node alike, and
 * the block's system receipt carries a SystemCallReverted log (chain/execute.ts) that every node
 * logs as an error and counts (pocchain_chain_system_call_reverts_total).
 */
import { Address, bytesToHex, hexToBytes } from '@ethereumjs/util';
import { Interface } from 'ethers';
import { loadArtifact } from '../contracts/artifacts.ts';
import { bondKeySigValid, paramsProblem, POWER_UNIT, VALIDATORS_ADDRESS, type ValidatorParams } from './validator-params.ts';
import { keccak_256 } from '@noble/hashes/sha3.js';
import type { Genesis } from '../chain/genesis.ts';
import type { VM } from '@ethereumjs/vm';
import { SYSTEM_ADDRESS } from '../chain/execute.ts';
import { verifyPop } from '../lib/bls.ts';
import { PocError } from '../lib/errors.ts';
import { decodeCommit, decodeEvidence } from './bft/codec.ts';
import type { SystemOps } from './transition.ts';
import type { SetMember, ValidatorSets } from './validator-sets.ts';

export type StakingErrorCode = 'STAKING_BAD_PARAMS';

export { VALIDATORS_ADDRESS, POWER_UNIT };

/** Defaults for what genesis `params.staking` leaves out (epoch length: `params.epochLength`). */
export const DEFAULT_STAKING = { maxValidators: 100, minStake: POWER_UNIT, unbondingBlocks: 100, slashBps: 500, jailBlocks: 100, downtimeBps: 5000 } as const;
export const DEFAULT_EPOCH_LENGTH = 100;

let abi: Interface | undefined;
const iface = (): Interface => (abi ??= new Interface(loadArtifact('Validators').abi));

/** True when genesis places runtime code at the Validators address: the set changes by stake. */
export function stakingInGenesis(g: Genesis): boolean {
  const a = Object.entries(g.alloc).find(([k]) => k.toLowerCase() === VALIDATORS_ADDRESS);
  return !!a && !!a[1].code && a[1].code !== '0x';
}

/** The chain's staking parameters, or null for a chain with a fixed set. Throws STAKING_BAD_PARAMS. */
export function stakingParams(g: Genesis): ValidatorParams | null {
  if (!stakingInGenesis(g)) return null;
  const bad = (m: string) => new PocError<StakingErrorCode>('STAKING_BAD_PARAMS', `genesis params.${m}`);
  const s = (g.params?.staking ?? {}) as Record<string, unknown>;
  const int = (k: keyof typeof DEFAULT_STAKING): number => {
    const v = s[k] ?? DEFAULT_STAKING[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw bad(`staking.${k} must be an integer`);
    return v;
  };
  const epochLength = g.params?.epochLength ?? DEFAULT_EPOCH_LENGTH;
  if (!Number.isSafeInteger(epochLength)) throw bad('epochLength must be an integer');
  let minStake: bigint;
  try {
    minStake = BigInt((s.minStake as string | number | undefined) ?? DEFAULT_STAKING.minStake);
  } catch {
    throw bad('staking.minStake must be an integer (wei)');
  }
  const p: ValidatorParams = { epochLength: BigInt(epochLength), maxValidators: int('maxValidators'), minStake, unbondingBlocks: BigInt(int('unbondingBlocks')), slashBps: int('slashBps'), jailBlocks: BigInt(int('jailBlocks')), downtimeBps: int('downtimeBps') };
  // the bounds Validators.initialize checks, so a bad genesis fails at start, not at block 1
  const problem = paramsProblem(p);
  if (problem) throw bad(`staking: ${problem}`);
  if (g.validators.length > p.maxValidators) throw bad(`staking: genesis has ${g.validators.length} validators, more than maxValidators (${p.maxValidators})`);
  return p;
}

const VALIDATORS = new Address(hexToBytes(VALIDATORS_ADDRESS));
const ZERO_BLS = '0x' + '00'.repeat(48);
const ZERO_POP = '0x' + '00'.repeat(96);

/** Calldata of Validators.initialize for a genesis (the genesis validators own their stake). */
export function initializeCall(g: Genesis, p: ValidatorParams): { data: Uint8Array; stake: bigint } {
  let stake = 0n;
  const vs = g.validators.map((v) => {
    const s = BigInt(v.power) * POWER_UNIT;
    stake += s;
    return [v.pubKey, v.address, v.address, v.blsPubKey ?? ZERO_BLS, v.blsPop ?? ZERO_POP, s];
  });
  const params = [p.epochLength, p.maxValidators, p.minStake, p.unbondingBlocks, p.slashBps, p.jailBlocks, p.downtimeBps];
  return { data: hexToBytes(iface().encodeFunctionData('initialize', [params, vs]) as `0x${string}`), stake };
}

/** Decode Validators.activeSet() return data into set members. */
export function decodeActiveSet(ret: Uint8Array): SetMember[] {
  const [keys, powers, operators, bls] = iface().decodeFunctionResult('activeSet', ret) as unknown as [string[], bigint[], string[], string[]];
  return keys.map((k, i) => {
    const b = hexToBytes(bls[i] as `0x${string}`);
    return { pubKey: hexToBytes(k as `0x${string}`), power: powers[i]!, operator: operators[i]!, ...(b.length === 48 && b.some((x) => x !== 0) ? { blsPubKey: b } : {}) };
  });
}

/** The set stored in the Validators contract in `vm`'s state (a read-only call). */
export async function readActiveSet(vm: VM): Promise<SetMember[]> {
  const res = await vm.evm.runCall({ caller: SYSTEM_ADDRESS, to: VALIDATORS, data: hexToBytes(iface().encodeFunctionData('activeSet', []) as `0x${string}`), gasLimit: 50_000_000n, skipBalance: true });
  if (res.execResult.exceptionError) throw new PocError<StakingErrorCode>('STAKING_BAD_PARAMS', `Validators.activeSet() failed: ${res.execResult.exceptionError.error}`);
  return decodeActiveSet(res.execResult.returnValue);
}

/** Keys whose precommit is absent from a commit (indices of `set`). */
export function absentees(signatures: readonly (Uint8Array | null)[], set: { size: number; pubKeyOf(i: number): Uint8Array | undefined }): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < set.size; i++) if (!signatures[i]) out.push(set.pubKeyOf(i)!);
  return out;
}

const popVerdicts = new Map<string, boolean>();
/** BLS proof-of-possession verdict, memoised (pure: the same key and proof always give the same answer). */
function popValid(pub: string, pop: string): boolean {
  const k = pub + pop;
  let v = popVerdicts.get(k);
  if (v === undefined) {
    try {
      verifyPop(hexToBytes(pub as `0x${string}`), hexToBytes(pop as `0x${string}`));
      v = true;
    } catch {
      v = false;
    }
    if (popVerdicts.size > 4096) popVerdicts.clear();
    popVerdicts.set(k, v);
  }
  return v;
}

/** The epoch and slashing operations of a staking chain. */
export function validatorSteps(o: { genesis: Genesis; params: ValidatorParams; sets: ValidatorSets }): SystemOps {
  const call = (name: string, args: unknown[] = []) => hexToBytes(iface().encodeFunctionData(name, args) as `0x${string}`);
  const init = initializeCall(o.genesis, o.params);
  return {
    epoch: async (ctx) => {
      const n = ctx.block.header.number;
      if (n === 1n) {
        await ctx.credit(VALIDATORS, init.stake);
        await ctx.call(VALIDATORS, init.data, { allowRevert: false });
        return;
      }
      if (n % o.params.epochLength !== 0n) return;
      const ret = await ctx.call(VALIDATORS, call('pendingKeys'), { allowRevert: true });
      let pending: string[][];
      try {
        pending = iface().decodeFunctionResult('pendingKeys', ret) as unknown as string[][];
      } catch {
        // it reverted: the SystemCallReverted log says so; confirm nothing this epoch
        pending = [[], [], [], [], []];
      }
      const [keys, pubs, pops, digests, sigs] = pending as [string[], string[], string[], string[], string[]];
      if (keys.length > 0) {
        // the bonder must hold both keys it names: the consensus key signed the bond, the BLS key its proof
        const ok = keys.map((k, i) => popValid(pubs[i]!, pops[i]!) && bondKeySigValid(hexToBytes(k as `0x${string}`), hexToBytes(digests[i]! as `0x${string}`), hexToBytes(sigs[i]! as `0x${string}`)));
        await ctx.call(VALIDATORS, call('confirmKeys', [keys.filter((_, i) => ok[i]), keys.filter((_, i) => !ok[i])]), { allowRevert: true });
      }
      await ctx.call(VALIDATORS, call('closeEpoch'), { allowRevert: true });
    },
    slashing: async (ctx) => {
      const n = Number(ctx.block.header.number);
      for (const evb of ctx.inputs.evidence) {
        const ev = decodeEvidence(evb);
        const set = await o.sets.membership(ev.voteA.height);
        const key = set.pubKeyOf(ev.voteA.validatorIndex);
        if (!key) continue; // block rules refuse such evidence; nothing to slash
        await ctx.call(VALIDATORS, call('slash', [bytesToHex(key), bytesToHex(keccak_256(evb))]), { allowRevert: true });
      }
      if (n > 1 && ctx.inputs.lastCommit) {
        const c = decodeCommit(ctx.inputs.lastCommit);
        const missed = absentees(c.signatures, await o.sets.membership(n - 1));
        if (missed.length > 0) await ctx.call(VALIDATORS, call('noteMissed', [missed.map((k) => bytesToHex(k))]), { allowRevert: true });
      }
    },
  };
}

