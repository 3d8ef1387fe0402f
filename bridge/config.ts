/**
 * Bridge configuration in the three tiers of the node: the chain's (genesis `bridge` section: which
 * L1, which Vault and Checkpoints, the checkpoint epoch — the same on every node), and the node's
 * own (which L1 RPC to watch, how many L1 confirmations to wait for; flags, env or config file).
 * Pure: values in, values out.
 */
import { getAddress } from 'ethers';
import type { Genesis } from '../chain/genesis.ts';
import { PocError } from '../lib/errors.ts';
import type { Finality } from './watcher.ts';
import type { CheckpointScheme } from './l1-checkpoints.ts';

export type BridgeConfigErrorCode = 'BRIDGE_CONFIG_INVALID';

/** The genesis `bridge` section. */
export interface GenesisBridge {
  /** chain id of the L1 holding Vault and Checkpoints */
  l1ChainId: number;
  vault: string;
  checkpoints: string;
  /**
   * which checkpoints contract `checkpoints` is: 'bls' (CheckpointsBls, validators sign with their
   * BLS keys, one aggregate per checkpoint) or 'ecdsa' (Checkpoints, secp256k1; the default, so a
   * genesis written before BLS checkpoints keeps its contract)
   */
  checkpointScheme?: CheckpointScheme;
  /** the L1 token locked in the Vault (informational) */
  token?: string;
  /** L1 block the contracts were deployed in: the watcher scans from here */
  startBlock?: number;
  /** sign a checkpoint every `epochLength` blocks (default: genesis.params.epochLength, else 100) */
  epochLength?: number;
  /**
   * when an L1 deposit is final enough to mint: 'finalized' (L1's finalized block tag, the
   * default) or a number of L1 blocks on top, for an L1 without that tag (anvil in tests)
   */
  confirmations?: Finality;
}

/** What a node's bridge plugin runs with. */
export interface BridgeNodeConfig {
  chain: Required<Omit<GenesisBridge, 'token'>> & { token: string | null; sidechainChainId: number };
  /** L1 JSON-RPC URL; without it the node signs checkpoints but cannot check deposits */
  l1Rpc: string | null;
  /** this node's finality rule (genesis default, or the node's own) */
  confirmations: Finality;
  pollMs: number;
  /** TEST ONLY: propose a deposit that never happened on L1 (others must reject the block) */
  testFakeDeposit: boolean;
}

export const DEFAULT_EPOCH = 100;
/** Ethereum finality; a node or genesis may set a depth instead (an L1 without the tag). */
export const DEFAULT_CONFIRMATIONS: Finality = 'finalized';
export const DEFAULT_POLL_MS = 1000;

const bad = (m: string) => new PocError<BridgeConfigErrorCode>('BRIDGE_CONFIG_INVALID', m);

/** The genesis `bridge` section, checked; null when the chain has no bridge. */
export function genesisBridge(g: Genesis): GenesisBridge | null {
  const b = g.bridge as Partial<GenesisBridge> | undefined;
  if (b === undefined || b === null) return null;
  if (typeof b !== 'object') throw bad('genesis.bridge must be an object');
  if (!Number.isSafeInteger(b.l1ChainId) || b.l1ChainId! <= 0) throw bad('genesis.bridge.l1ChainId must be a positive integer');
  for (const k of ['vault', 'checkpoints'] as const) {
    if (typeof b[k] !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(b[k]!)) throw bad(`genesis.bridge.${k} must be an address`);
  }
  if (b.confirmations !== undefined && b.confirmations !== 'finalized' && (!Number.isSafeInteger(b.confirmations) || (b.confirmations as number) < 0)) {
    throw bad("genesis.bridge.confirmations must be 'finalized' or a non-negative integer");
  }
  for (const k of ['startBlock', 'epochLength'] as const) {
    if (b[k] !== undefined && (!Number.isSafeInteger(b[k]) || b[k]! < 0)) throw bad(`genesis.bridge.${k} must be a non-negative integer`);
  }
  if (b.epochLength === 0) throw bad('genesis.bridge.epochLength must be positive');
  if (b.checkpointScheme !== undefined && b.checkpointScheme !== 'ecdsa' && b.checkpointScheme !== 'bls') throw bad("genesis.bridge.checkpointScheme must be 'ecdsa' or 'bls'");
  if (b.checkpointScheme === 'bls' && !g.validators.every((v) => v.blsPubKey)) throw bad("genesis.bridge.checkpointScheme 'bls' needs a BLS key (blsPubKey, blsPop) on every validator");
  return b as GenesisBridge;
}

/** Read one option from the node config object (flags/file) or the environment (POCCHAIN_X_Y). */
function opt(config: Record<string, any>, env: Record<string, string | undefined>, key: string): string | undefined {
  if (config[key] !== undefined && config[key] !== null && config[key] !== '') return String(config[key]);
  const envName = 'POCCHAIN_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
  return env[envName] !== undefined && env[envName] !== '' ? env[envName] : undefined;
}

/**
 * Resolve the node's bridge config: genesis `bridge` section + node options `l1Rpc`,
 * `l1Confirmations`, `l1PollMs`, `testFakeDeposit` (config keys, or env POCCHAIN_L1_RPC, ...).
 * `l1Vault` / `l1Checkpoints`, when given, must match genesis (a node cannot pick another bridge).
 * Returns null when the genesis has no bridge section.
 */
export function resolveBridgeConfig(config: Record<string, any>, genesis: Genesis, env: Record<string, string | undefined> = process.env): BridgeNodeConfig | null {
  const b = genesisBridge(genesis);
  if (!b) {
    if (opt(config, env, 'l1Rpc')) throw bad('--l1-rpc given but the genesis has no bridge section: deploy with `pocchain bridge deploy-l1 --write-genesis` first');
    return null;
  }
  for (const [key, field] of [['l1Vault', 'vault'], ['l1Checkpoints', 'checkpoints']] as const) {
    const v = opt(config, env, key);
    if (v !== undefined && getAddress(v) !== getAddress(b[field])) throw bad(`${key} ${v} differs from genesis.bridge.${field} ${b[field]}`);
  }
  const num = (key: string, dflt: number, min: number) => {
    const v = opt(config, env, key);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw bad(`${key} must be an integer ≥ ${min}${key === 'l1Confirmations' ? " or 'finalized'" : ''}, got ${v}`);
    return n;
  };
  const epochLength = b.epochLength ?? (typeof genesis.params?.epochLength === 'number' ? genesis.params.epochLength : DEFAULT_EPOCH);
  const fake = opt(config, env, 'testFakeDeposit');
  const chainFinality: Finality = b.confirmations ?? DEFAULT_CONFIRMATIONS;
  const own = opt(config, env, 'l1Confirmations');
  const finality: Finality = own === undefined ? chainFinality : own === 'finalized' ? 'finalized' : num('l1Confirmations', 0, 0);
  return {
    chain: {
      l1ChainId: b.l1ChainId,
      vault: getAddress(b.vault),
      checkpoints: getAddress(b.checkpoints),
      checkpointScheme: b.checkpointScheme ?? 'ecdsa',
      token: b.token ? getAddress(b.token) : null,
      startBlock: b.startBlock ?? 0,
      epochLength,
      confirmations: chainFinality,
      sidechainChainId: genesis.chainId,
    },
    l1Rpc: opt(config, env, 'l1Rpc') ?? null,
    confirmations: finality,
    pollMs: num('l1PollMs', DEFAULT_POLL_MS, 10),
    testFakeDeposit: fake === 'true' || fake === '1',
  };
}
