/**
 * Builds genesis files: for `pocchain init`, `node --dev` and the devnet. System contracts
 * (Staking, Hub, Bridge) get their runtime code at fixed addresses when they have been compiled.
 */
import { existsSync } from 'node:fs';
import { loadArtifact } from '../contracts/artifacts.ts';
import type { Genesis, GenesisValidator } from './genesis.ts';

export const SYSTEM_CONTRACTS = {
  Staking: '0x0000000000000000000000000000000000001000',
  Hub: '0x0000000000000000000000000000000000001001',
  Bridge: '0x0000000000000000000000000000000000001002',
} as const;

export const DEV_CHAIN_ID = 31338;
const DEV_BALANCE = 10n ** 22n; // 10,000 coins

export interface GenesisSpec {
  chainId: number;
  validators: GenesisValidator[];
  /** addresses funded with `balance` (default 10,000 coins) */
  funded?: string[];
  balance?: bigint;
  blockTimeMs?: number;
  epochLength?: number;
  /**
   * An open validator set: the Validators system contract goes into genesis with these parameters
   * (genesis `params.staking`, defaults in consensus/validator-steps.ts). Absent: the genesis set is fixed.
   */
  staking?: Record<string, number | string>;
  extra?: Record<string, unknown>;
}

/** Address of the Validators system contract (consensus/validator-steps.ts VALIDATORS_ADDRESS). */
export const VALIDATORS_CONTRACT = '0x0000000000000000000000000000000000001003';

/** Genesis with system contracts included where their artifacts exist. */
export function buildGenesis(s: GenesisSpec): Genesis {
  const alloc: Genesis['alloc'] = {};
  for (const a of s.funded ?? []) alloc[a.toLowerCase()] = { balance: '0x' + (s.balance ?? DEV_BALANCE).toString(16) };
  const systemContracts: Record<string, string> = {};
  for (const [name, addr] of Object.entries(SYSTEM_CONTRACTS)) {
    let code: string | undefined;
    try {
      code = loadArtifact(name).deployedBytecode;
    } catch {
      code = undefined; // not written yet / not compiled: the chain runs without it
    }
    if (code && code !== '0x') {
      alloc[addr] = { balance: '0x0', code };
      systemContracts[name] = addr;
    }
  }
  if (s.staking) {
    // no silent fallback here: a chain asked to be open must not start with a fixed set
    alloc[VALIDATORS_CONTRACT] = { balance: '0x0', code: loadArtifact('Validators').deployedBytecode };
    systemContracts.Validators = VALIDATORS_CONTRACT;
  }
  return {
    chainId: s.chainId,
    timestamp: Math.floor(Date.now() / 1000),
    gasLimit: '0x' + (30_000_000).toString(16),
    baseFeePerGas: '0x' + (1_000_000_000).toString(16),
    alloc,
    validators: s.validators,
    systemContracts,
    params: { blockTimeMs: s.blockTimeMs ?? 1000, epochLength: s.epochLength ?? 100, ...(s.staking ? { staking: s.staking } : {}) },
    ...(s.extra ?? {}),
  };
}

export const hasArtifacts = (): boolean => existsSync(new URL('../contracts/build/.sources.sha256', import.meta.url));
