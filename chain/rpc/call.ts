/**
 * EVM calls for the RPC (eth_call, eth_estimateGas; debug traces can add a job kind): what runs,
 * apart from how it is scheduled.
 *
 * A job is plain data (structured-clonable): the state root and header of the block it runs on,
 * and the call already validated on the main thread. `runJob` executes it on any `CallEnv` (a
 * read-only view of the chain's state); `CallRunner` is how the RPC hands jobs over. In a node
 * that is the worker pool (call-pool.ts), so a call never holds the thread that runs consensus
 * and block execution; `InlineCallRunner` runs jobs in-process, for tools and unit tests.
 */
import { createBlock, type JSONHeader } from '@ethereumjs/block';
import type { Common } from '@ethereumjs/common';
import type { MerkleStateManager } from '@ethereumjs/statemanager';
import { createTx, type TypedTransaction } from '@ethereumjs/tx';
import { Address, bigIntToHex, bytesToHex, createZeroAddress } from '@ethereumjs/util';
import { createVM, runTx, type RunTxResult, type VM } from '@ethereumjs/vm';
import { AbiCoder } from 'ethers';
import * as P from './params.ts';
import { RPC, RpcError } from './server.ts';

/** An RPC call object after validation (eth_call's first parameter). */
export interface CallParams {
  from?: Uint8Array;
  to?: Uint8Array;
  data: Uint8Array;
  value: bigint;
  gas?: bigint;
  gasPrice?: bigint;
  maxFeePerGas?: bigint;
  maxPriorityFeePerGas?: bigint;
}

/** The block a job runs on: its post-state root and header (JSON form, clonable). */
export interface CallBlock {
  stateRoot: Uint8Array;
  header: JSONHeader;
}

export type CallJob =
  /** eth_call: the return data as hex, or the revert/halt as an RpcError */
  | { kind: 'call'; block: CallBlock; call: CallParams; gasCap: bigint }
  /** eth_estimateGas: the lowest gas limit that succeeds, as a hex quantity */
  | { kind: 'estimateGas'; block: CallBlock; call: CallParams; gasCap: bigint };

/** A read-only view of the chain's state, as a job needs it. */
export interface CallEnv {
  common: Common;
  /** a private state manager at a committed root (the job may checkpoint/revert on it) */
  stateAt(root: Uint8Array): Promise<MerkleStateManager>;
  /** BLOCKHASH source: hash of committed block `n` */
  blockHash(n: bigint): Promise<Uint8Array | undefined>;
}

/** How the RPC runs jobs. Rejects with an RpcError the server returns as is. */
export interface CallRunner {
  run(job: CallJob): Promise<unknown>;
  stop(): Promise<void>;
}

/** Validate an RPC call object (bad fields → -32602 naming the field). */
export function parseCall(c: Record<string, unknown>): CallParams {
  const input = c.input ?? c.data;
  const out: CallParams = {
    data: input === undefined || input === null ? new Uint8Array() : P.data(input, 'input'),
    value: P.optQuantity(c.value, 'value') ?? 0n,
  };
  if (c.from !== undefined && c.from !== null) out.from = P.address(c.from, 'from');
  if (c.to !== undefined && c.to !== null) out.to = P.address(c.to, 'to');
  const gas = P.optQuantity(c.gas, 'gas');
  const gasPrice = P.optQuantity(c.gasPrice, 'gasPrice');
  const maxFee = P.optQuantity(c.maxFeePerGas, 'maxFeePerGas');
  const tip = P.optQuantity(c.maxPriorityFeePerGas, 'maxPriorityFeePerGas');
  if (gas !== undefined) out.gas = gas;
  if (gasPrice !== undefined) out.gasPrice = gasPrice;
  if (maxFee !== undefined) out.maxFeePerGas = maxFee;
  if (tip !== undefined) out.maxPriorityFeePerGas = tip;
  return out;
}

/** The gas limit a call runs with: its own `gas` when below the cap, else the cap. */
export function gasLimitOf(call: CallParams, cap: bigint): bigint {
  return call.gas !== undefined && call.gas < cap ? call.gas : cap;
}

/** Revert data → the message geth gives ("execution reverted: reason"). */
export function revertError(ret: Uint8Array): RpcError {
  const data = bytesToHex(ret);
  let msg = 'execution reverted';
  if (data.startsWith('0x08c379a0') && ret.length >= 68) {
    try {
      msg += ': ' + AbiCoder.defaultAbiCoder().decode(['string'], '0x' + data.slice(10))[0];
    } catch {
      /* undecodable reason: keep the plain message */
    }
  }
  return new RpcError(RPC.REVERTED, msg, data);
}

/** A tx from a call with an arbitrary sender (not signed). */
function callTx(env: CallEnv, c: CallParams, gasLimit: bigint): TypedTransaction {
  const from = c.from ? new Address(c.from) : createZeroAddress();
  const txData: Record<string, unknown> = { to: c.to, data: c.data, value: c.value, gasLimit, nonce: 0n };
  if (c.gasPrice !== undefined) txData.gasPrice = c.gasPrice;
  else {
    txData.type = 2;
    txData.maxFeePerGas = c.maxFeePerGas ?? 0n;
    txData.maxPriorityFeePerGas = c.maxPriorityFeePerGas ?? 0n;
  }
  const tx = createTx(txData as any, { common: env.common, freeze: false });
  (tx as any).getSenderAddress = () => from;
  return tx;
}

/**
 * A VM on the block's post-state, reused by every run of one job (its caches stay warm). Its own
 * copy of the Common (a shallow one): the EVM subscribes to its Common's 'hardforkChanged' and
 * never lets go, so a VM made on the shared Common stayed reachable with its job's state caches,
 * and a call worker ran out of memory after some thousands of calls (bench, 2026-12-03).
 */
async function jobVM(env: CallEnv, b: CallBlock): Promise<VM> {
  const sm = await env.stateAt(b.stateRoot);
  return createVM({ common: env.common.copy(), stateManager: sm, blockchain: blockHashes(env) as any });
}

/** Run a call as a tx on the block's post-state (nonce/balance checks skipped, state rolled back). */
async function simulate(env: CallEnv, vm: VM, b: CallBlock, c: CallParams, gasLimit: bigint): Promise<RunTxResult> {
  const tx = callTx(env, c, gasLimit);
  // Calls pay no fee: simulate with a zero base fee on the block's context.
  const blockGas = BigInt(b.header.gasLimit ?? 0);
  const block = createBlock({ header: { ...b.header, baseFeePerGas: 0n, gasLimit: gasLimit > blockGas ? gasLimit : blockGas } }, { common: env.common, setHardfork: false, skipConsensusFormatValidation: true });
  await vm.stateManager.checkpoint();
  try {
    return await runTx(vm, { tx, block, skipNonce: true, skipBalance: true, skipBlockGasLimitValidation: true, skipHardForkValidation: true });
  } finally {
    await vm.stateManager.revert();
  }
}

function blockHashes(env: CallEnv) {
  return {
    async getBlock(n: number | bigint) {
      const h = await env.blockHash(BigInt(n));
      return { hash: () => h ?? new Uint8Array(32) };
    },
    async putBlock() {},
    shallowCopy() {
      return this;
    },
  };
}

function failure(res: RunTxResult): RpcError | undefined {
  const err = res.execResult.exceptionError;
  if (!err) return undefined;
  if (err.error === 'revert') return revertError(res.execResult.returnValue);
  return new RpcError(RPC.SERVER, err.error);
}

/** Execute one job; resolves to the JSON-RPC result, rejects with an RpcError. */
export async function runJob(env: CallEnv, job: CallJob): Promise<unknown> {
  const limit = gasLimitOf(job.call, job.gasCap);
  const vm = await jobVM(env, job.block);
  const run = (gas: bigint) => simulate(env, vm, job.block, job.call, gas);
  if (job.kind === 'call') {
    const res = await run(limit);
    const f = failure(res);
    if (f) throw f;
    return bytesToHex(res.execResult.returnValue);
  }
  const first = await run(limit);
  const f = failure(first);
  if (f) throw f.code === RPC.SERVER ? new RpcError(RPC.SERVER, `gas required exceeds allowance (${limit})`) : f;
  // Binary search for the lowest limit that succeeds (refunds and the 63/64 rule make it higher
  // than gas used), to within 1.5% as geth (eth/gasestimator), starting from geth's optimistic
  // guess: a large call (a bag of tasks) runs 3 or 4 times, not 8.
  let lo = first.totalGasSpent - 1n;
  let hi = limit;
  const guess = ((first.totalGasSpent + first.gasRefund + 2300n) * 64n) / 63n;
  if (guess < hi) {
    const r = await run(guess);
    if (!r.execResult.exceptionError) hi = guess;
    else lo = guess;
  }
  while (hi - lo > 1n && (hi - lo) * 1000n > hi * 15n) {
    const mid = (hi + lo) / 2n;
    const r = await run(mid);
    if (r.execResult.exceptionError) lo = mid;
    else hi = mid;
  }
  return bigIntToHex(hi);
}

/** Runs jobs on the calling thread (tools, unit tests); a node uses the worker pool instead. */
export class InlineCallRunner implements CallRunner {
  readonly env: CallEnv;
  constructor(env: CallEnv) {
    this.env = env;
  }
  run(job: CallJob): Promise<unknown> {
    return runJob(this.env, job);
  }
  async stop(): Promise<void> {}
}
