/**
 * The chain's hardfork rules (@ethereumjs/common) for a given chain id, with native secp256k1
 * sender recovery: measured ~16x faster than the pure-JS default, and sender recovery is on the
 * hot path of pool admission and block import.
 *
 * Two Commons per chain:
 * - the execution Common (VM, blocks), and
 * - a shared *transaction* Common: @ethereumjs/tx copies the Common it is given and re-applies its
 *   parameter table to the copy for every tx object it builds (`Common.updateParams`: a JSON deep
 *   copy and a cache rebuild, 3–8% of a loaded node's CPU, docs/performance.md). The tx Common
 *   has the tx parameters applied once, hands itself out as its own copy and skips re-applying a
 *   table it already holds. Txs never change their Common's hardfork, so sharing it is safe. Its
 *   ecrecover counts sender recoveries (the pocchain_chain_sender_recoveries_total metric), and is
 *   separate from the VM's so the ECRECOVER precompile is not counted.
 */
import { createCustomCommon, Hardfork, Mainnet, type Common } from '@ethereumjs/common';
import { paramsTx } from '@ethereumjs/tx';
import { ecrecover as jsEcrecover } from '@ethereumjs/util';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let native: { ecdsaRecover(sig: Uint8Array, recid: number, msg: Uint8Array, compressed: boolean): Uint8Array } | undefined;
try {
  native = require('secp256k1');
} catch {
  native = undefined; // fall back to the JS implementation
}

type Ecrecover = (msgHash: Uint8Array, v: bigint, r: Uint8Array, s: Uint8Array, chainId?: bigint) => Uint8Array;

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

/** Common for the sidechain with the given chain id (execution: VM, block headers). */
export function createChainCommon(chainId: bigint | number, ecrecover?: Ecrecover): Common {
  const rec = ecrecover ?? (native ? nativeEcrecover : undefined);
  return createCustomCommon({ chainId: Number(chainId), name: 'pocchain' }, Mainnet, { hardfork: HARDFORK, customCrypto: rec ? { ecrecover: rec } : {} });
}

/** Counters of per-tx work, read by /metrics (a test asserts "recovered once per node" from them). */
export interface TxWorkCounters {
  senderRecoveries: number;
  txExecutions: number;
  txsCommitted: number;
}

export function newTxWorkCounters(): TxWorkCounters {
  return { senderRecoveries: 0, txExecutions: 0, txsCommitted: 0 };
}

/**
 * The shared Common every tx object of this chain is built with (see the file comment). Each
 * sender recovery made through it adds one to `counters.senderRecoveries`.
 */
export function createTxCommon(chainId: bigint | number, counters: TxWorkCounters): Common {
  const base: Ecrecover = native ? nativeEcrecover : jsEcrecover;
  const counting: Ecrecover = (msgHash, v, r, s, cid) => {
    counters.senderRecoveries++;
    return base(msgHash, v, r, s, cid);
  };
  const c = createChainCommon(chainId, counting);
  c.updateParams(paramsTx);
  const applied = new WeakSet<object>([paramsTx]);
  const update = c.updateParams.bind(c);
  // Per-instance overrides: only this Common shares itself; the VM's Common keeps copy semantics.
  Object.defineProperty(c, 'copy', { value: () => c });
  Object.defineProperty(c, 'updateParams', {
    value: (params: object) => {
      if (applied.has(params)) return;
      applied.add(params);
      update(params as any);
    },
  });
  return c;
}
