/**
 * Minting of bridge deposits inside block execution: every node runs this for every block, so the
 * state root commits to who got what. It credits each deposit of the block's system data in
 * nonce order and keeps the next expected nonce and the running total in the sidechain Bridge's
 * storage (two slots far from its tree slots 0..32), so a gap, a replayed nonce or a repeated
 * deposit makes the block invalid on every node — whatever a proposer put in it.
 *
 * Blocks without deposits do not touch state here (a chain without a bridge is unaffected).
 */
import { Address, bigIntToBytes, bytesToBigInt, bytesToHex, hexToBytes, setLengthLeft } from '@ethereumjs/util';
import { keccak256, toUtf8Bytes } from 'ethers';
import type { SystemOps } from '../consensus/transition.ts';
import type { Deposit } from '../consensus/envelope.ts';
import { PocError } from '../lib/errors.ts';
import { rootFromBranch, TREE_DEPTH } from './merkle.ts';

export type DepositHookErrorCode = 'BRIDGE_DEPOSIT_OUT_OF_ORDER';

/** The sidechain Bridge system contract. */
export const BRIDGE_ADDRESS = '0x0000000000000000000000000000000000001002';
/** keccak256("pocchain.bridge.deposits.nextNonce"): next deposit nonce to mint. */
export const NEXT_NONCE_SLOT = keccak256(toUtf8Bytes('pocchain.bridge.deposits.nextNonce'));
/** keccak256("pocchain.bridge.deposits.minted"): sum of all minted deposits. */
export const MINTED_SLOT = keccak256(toUtf8Bytes('pocchain.bridge.deposits.minted'));

const bridgeAddr = new Address(hexToBytes(BRIDGE_ADDRESS));
const slotKey = (s: string | number) => setLengthLeft(typeof s === 'number' ? bigIntToBytes(BigInt(s)) : hexToBytes(s as `0x${string}`), 32);
const word = (b: Uint8Array) => (b.length === 0 ? 0n : bytesToBigInt(b));

/** State access the hook and readers need (a MerkleStateManager satisfies it). */
export interface StorageReader {
  getStorage(address: Address, key: Uint8Array): Promise<Uint8Array>;
}
export interface StorageWriter extends StorageReader {
  putStorage(address: Address, key: Uint8Array, value: Uint8Array): Promise<void>;
}

/** The bridge's view of one state: deposits minted so far and the withdrawal tree. */
export interface BridgeState {
  nextDepositNonce: bigint;
  mintedFromDeposits: bigint;
  withdrawalCount: number;
  withdrawalsRoot: string;
}

/** Read the bridge's counters and Bridge.root() from a state (no EVM call). */
export async function readBridgeState(sm: StorageReader): Promise<BridgeState> {
  const branch = await Promise.all(Array.from({ length: TREE_DEPTH }, (_, h) => sm.getStorage(bridgeAddr, slotKey(h)).then((v) => bytesToHex(setLengthLeft(v, 32)))));
  const count = Number(word(await sm.getStorage(bridgeAddr, slotKey(TREE_DEPTH))));
  return {
    nextDepositNonce: word(await sm.getStorage(bridgeAddr, slotKey(NEXT_NONCE_SLOT))),
    mintedFromDeposits: word(await sm.getStorage(bridgeAddr, slotKey(MINTED_SLOT))),
    withdrawalCount: count,
    withdrawalsRoot: rootFromBranch(branch, count),
  };
}

/** Next deposit nonce to mint in a state. */
export async function readNextNonce(sm: StorageReader): Promise<bigint> {
  return word(await sm.getStorage(bridgeAddr, slotKey(NEXT_NONCE_SLOT)));
}

/**
 * Apply a block's deposits to `sm`: each must carry exactly the next nonce. Throws
 * BRIDGE_DEPOSIT_OUT_OF_ORDER (the block is invalid) on a gap, a replay or a duplicate.
 */
export async function applyDeposits(sm: StorageWriter, deposits: readonly Deposit[], credit: (to: Address, amount: bigint) => Promise<void>): Promise<void> {
  if (deposits.length === 0) return;
  let next = word(await sm.getStorage(bridgeAddr, slotKey(NEXT_NONCE_SLOT)));
  let minted = word(await sm.getStorage(bridgeAddr, slotKey(MINTED_SLOT)));
  // all checks before any write: a refused block leaves nothing behind
  deposits.forEach((d, i) => {
    const want = next + BigInt(i);
    if (d.nonce !== want) {
      throw new PocError<DepositHookErrorCode>('BRIDGE_DEPOSIT_OUT_OF_ORDER', `deposit nonce ${d.nonce} where ${want} is next (${d.nonce < want ? 'already minted' : 'gap'})`, { data: { nonce: d.nonce.toString(), next: want.toString() } });
    }
  });
  for (const d of deposits) {
    await credit(new Address(d.recipient), d.amount);
    next += 1n;
    minted += d.amount;
  }
  await sm.putStorage(bridgeAddr, slotKey(NEXT_NONCE_SLOT), bigIntToBytes(next));
  await sm.putStorage(bridgeAddr, slotKey(MINTED_SLOT), bigIntToBytes(minted));
}

/** The bridge's step of the block transition: mint the block's deposits (consensus/transition.ts). */
export function depositSteps(): SystemOps {
  return {
    async deposits(ctx) {
      await applyDeposits(ctx.vm.stateManager as unknown as StorageWriter, ctx.inputs.deposits, (to, amount) => ctx.credit(to, amount));
    },
  };
}
