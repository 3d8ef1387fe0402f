/** Validation of JSON-RPC parameters: every bad value becomes -32602 with a message naming it. */
import { hexToBytes } from '@ethereumjs/util';
import { RPC, RpcError } from './server.ts';

const bad = (what: string, v: unknown) => new RpcError(RPC.INVALID_PARAMS, `invalid argument: ${what}: ${JSON.stringify(v)?.slice(0, 100)}`);

export function quantity(v: unknown, what = 'quantity'): bigint {
  if (typeof v !== 'string' || !/^0x(0|[1-9a-fA-F][0-9a-fA-F]{0,63})$/.test(v)) throw bad(`${what} must be a hex quantity`, v);
  return BigInt(v);
}

export function optQuantity(v: unknown, what: string): bigint | undefined {
  return v === undefined || v === null ? undefined : quantity(v, what);
}

export function data(v: unknown, what = 'data'): Uint8Array {
  if (typeof v !== 'string' || !/^0x([0-9a-fA-F]{2})*$/.test(v)) throw bad(`${what} must be 0x-prefixed hex bytes`, v);
  return hexToBytes(v as `0x${string}`);
}

export function address(v: unknown, what = 'address'): Uint8Array {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(v)) throw bad(`${what} must be a 20-byte hex address`, v);
  return hexToBytes(v as `0x${string}`);
}

export function hash(v: unknown, what = 'hash'): Uint8Array {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(v)) throw bad(`${what} must be a 32-byte hex hash`, v);
  return hexToBytes(v as `0x${string}`);
}

export function bool(v: unknown, what: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw bad(`${what} must be a boolean`, v);
  return v;
}

export function object(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`${what} must be an object`, v);
  return v as Record<string, unknown>;
}

export type BlockTag = { kind: 'number'; number: bigint } | { kind: 'hash'; hash: Uint8Array } | { kind: 'latest' } | { kind: 'pending' };

/** A block tag: latest/pending/safe/finalized/earliest, a number, or an EIP-1898 object. */
export function blockTag(v: unknown, what = 'block'): BlockTag {
  if (v === undefined || v === null || v === 'latest' || v === 'safe' || v === 'finalized') return { kind: 'latest' };
  if (v === 'pending') return { kind: 'pending' };
  if (v === 'earliest') return { kind: 'number', number: 0n };
  if (typeof v === 'string') return { kind: 'number', number: quantity(v, what) };
  if (typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (o.blockHash !== undefined) return { kind: 'hash', hash: hash(o.blockHash, `${what}.blockHash`) };
    if (o.blockNumber !== undefined) return blockTag(o.blockNumber, `${what}.blockNumber`);
  }
  throw bad(`${what} must be a block number, tag or {blockHash}`, v);
}
