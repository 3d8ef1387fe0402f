/**
 * Genesis: the JSON file that defines a chain (chain id, allocations, gas limit, validators,
 * system contracts) and the building of block 0 and its state from it.
 */
import { readFileSync } from 'node:fs';
import { createBlock, type Block } from '@ethereumjs/block';
import type { Common } from '@ethereumjs/common';
import { Account, Address, hexToBytes, KECCAK256_RLP_ARRAY, bytesToHex, setLengthLeft } from '@ethereumjs/util';
import type { MerkleStateManager } from '@ethereumjs/statemanager';
import { verifyPop } from '../lib/bls.ts';
import { ChainError } from './errors.ts';

export interface GenesisAccount {
  balance?: string;
  nonce?: string | number;
  code?: string;
  storage?: Record<string, string>;
}

export interface GenesisValidator {
  /** ed25519 consensus public key (0x + 32 bytes) */
  pubKey: string;
  /** secp256k1 address used for checkpoints on L1 and as coinbase */
  address: string;
  power: number;
  name?: string;
  /** BLS12-381 public key of the validator's RANDAO reveals (0x + 48 bytes, compressed G1) */
  blsPubKey?: string;
  /** its proof of possession (0x + 96 bytes) */
  blsPop?: string;
}

export interface Genesis {
  chainId: number;
  timestamp?: number;
  gasLimit?: string;
  baseFeePerGas?: string;
  extraData?: string;
  alloc: Record<string, GenesisAccount>;
  validators: GenesisValidator[];
  /** protocol parameters; defaults apply where absent */
  params?: {
    blockTimeMs?: number;
    epochLength?: number;
    [k: string]: unknown;
  };
  /** names of system contracts by address, for tooling (their code is in alloc) */
  systemContracts?: Record<string, string>;
  /** extra chain configuration (bridge addresses on L1 etc.), opaque here */
  [k: string]: unknown;
}

export const DEFAULT_GAS_LIMIT = 30_000_000n;
export const DEFAULT_BASE_FEE = 1_000_000_000n;

/** Read and validate a genesis file. */
export function loadGenesis(path: string): Genesis {
  let g: Genesis;
  try {
    g = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ChainError('GENESIS_INVALID', `cannot read genesis ${path}: ${(e as Error).message}`, { cause: e });
  }
  validateGenesis(g);
  return g;
}

/** Throws GENESIS_INVALID with the first problem found. */
export function validateGenesis(g: Genesis): void {
  const bad = (m: string) => {
    throw new ChainError('GENESIS_INVALID', `genesis: ${m}`);
  };
  if (!Number.isSafeInteger(g.chainId) || g.chainId <= 0) bad('chainId must be a positive integer');
  if (typeof g.alloc !== 'object' || g.alloc === null) bad('alloc must be an object');
  for (const a of Object.keys(g.alloc)) if (!/^0x[0-9a-fA-F]{40}$/.test(a)) bad(`alloc key ${a} is not an address`);
  if (!Array.isArray(g.validators) || g.validators.length === 0) bad('at least one validator is required');
  for (const v of g.validators) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(v.pubKey)) bad(`validator pubKey ${v.pubKey} must be 32 bytes hex`);
    if (!/^0x[0-9a-fA-F]{40}$/.test(v.address)) bad(`validator address ${v.address} invalid`);
    if (!Number.isSafeInteger(v.power) || v.power <= 0) bad('validator power must be a positive integer');
  }
  // Block randomness comes from every proposer's BLS reveal, so either every validator has a BLS
  // key (with its proof of possession) or none has (the commit-derived randomness of older chains).
  const withBls = g.validators.filter((v) => v.blsPubKey !== undefined || v.blsPop !== undefined).length;
  if (withBls !== 0 && withBls !== g.validators.length) bad('either every validator has blsPubKey and blsPop, or none has');
  for (const v of withBls ? g.validators : []) {
    if (!/^0x[0-9a-fA-F]{96}$/.test(v.blsPubKey ?? '')) bad(`validator ${v.pubKey}: blsPubKey must be 48 bytes hex`);
    if (!/^0x[0-9a-fA-F]{192}$/.test(v.blsPop ?? '')) bad(`validator ${v.pubKey}: blsPop must be 96 bytes hex`);
    try {
      verifyPop(hexToBytes(v.blsPubKey as `0x${string}`), hexToBytes(v.blsPop as `0x${string}`));
    } catch (e) {
      bad(`validator ${v.pubKey}: ${(e as Error).message}`);
    }
  }
}

/** Write the genesis allocations into an empty state and return its root. */
export async function applyGenesisState(sm: MerkleStateManager, g: Genesis): Promise<Uint8Array> {
  await sm.checkpoint();
  for (const [addrHex, acc] of Object.entries(g.alloc)) {
    const address = new Address(hexToBytes(addrHex as `0x${string}`));
    await sm.putAccount(address, new Account(BigInt(acc.nonce ?? 0), BigInt(acc.balance ?? 0)));
    if (acc.code && acc.code !== '0x') await sm.putCode(address, hexToBytes(acc.code as `0x${string}`));
    for (const [k, v] of Object.entries(acc.storage ?? {})) {
      await sm.putStorage(address, setLengthLeft(hexToBytes(k as `0x${string}`), 32), hexToBytes(v as `0x${string}`));
    }
  }
  await sm.commit();
  await sm.flush();
  return sm.getStateRoot();
}

/** Block 0 for a genesis and its state root. */
export function makeGenesisBlock(g: Genesis, stateRoot: Uint8Array, common: Common): Block {
  return createBlock(
    {
      header: {
        number: 0n,
        stateRoot,
        gasLimit: BigInt(g.gasLimit ?? DEFAULT_GAS_LIMIT),
        timestamp: BigInt(g.timestamp ?? 0),
        baseFeePerGas: BigInt(g.baseFeePerGas ?? DEFAULT_BASE_FEE),
        extraData: hexToBytes((g.extraData ?? '0x') as `0x${string}`),
        uncleHash: KECCAK256_RLP_ARRAY,
        difficulty: 0n,
      },
    },
    { common, setHardfork: false },
  );
}

export const hex0x = bytesToHex;
