/**
 * Calldata of the Hub system calls the node makes at block boundaries, from SYSTEM_ADDRESS with a
 * fixed gas limit that every validator must share (how far the bounded loops get depends on it).
 * Order in a block: schedule(randomness) before the transactions, finalize() after them.
 */
import { Interface } from 'ethers';
import { HUB_ADDRESS } from './params.ts';

const hub = new Interface(['function schedule(uint256 randomness)', 'function finalize()']);

/** Gas limit of each Hub system call (the value the contract tests use). */
export const SYSTEM_CALL_GAS = 30_000_000n;

/** Target of both system calls. */
export const SYSTEM_CALL_TARGET = HUB_ADDRESS;

/** Calldata of Hub.schedule(randomness); randomness is the block's prevrandao. */
export function encodeSchedule(randomness: bigint): string {
  return hub.encodeFunctionData('schedule', [randomness]);
}

/** Calldata of Hub.finalize(). */
export function encodeFinalize(): string {
  return hub.encodeFunctionData('finalize', []);
}
