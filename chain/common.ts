/**
 * The chain's hardfork rules (@ethereumjs/common) for a given chain id, with native secp256k1
 * sender recovery: measured ~16x faster than the pure-JS default, and sender recovery is on the
 * hot path of pool admission and block import.
 */
import { createCustomCommon, Hardfork, Mainnet, type Common } from '@ethereumjs/common';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let native: { ecdsaRecover(sig: Uint8Array, recid: number, msg: Uint8Array, compressed: boolean): Uint8Array } | undefined;
try {
  native = require('secp256k1');
} catch {
  native = undefined; // fall back to the JS implementation
}

/** Same contract as @ethereumjs/util ecrecover: returns the 64-byte uncompressed public key. */
function nativeEcrecover(msgHash: Uint8Array, v: bigint, r: Uint8Array, s: Uint8Array, chainId?: bigint): Uint8Array {
  let rec: bigint;
  if (v === 0n || v === 1n) rec = v;
  else if (chainId === undefined) rec = v - 27n;
  else rec = v - (chainId * 2n + 35n);
  if (rec !== 0n && rec !== 1n) throw new Error('Invalid signature v value');
  const sig = new Uint8Array(64);
  sig.set(r, 32 - r.length);
  sig.set(s, 64 - s.length);
  return native!.ecdsaRecover(sig, Number(rec), msgHash, false).slice(1);
}

export const HARDFORK = Hardfork.Cancun;

/** Common for the sidechain with the given chain id. */
export function createChainCommon(chainId: bigint | number): Common {
  return createCustomCommon(
    { chainId: Number(chainId), name: 'pocchain' },
    Mainnet,
    { hardfork: HARDFORK, customCrypto: native ? { ecrecover: nativeEcrecover } : {} },
  );
}
