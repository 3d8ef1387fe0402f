/**
 * debug_traceTransaction, debug_traceCall, debug_traceBlockByNumber/ByHash: geth's methods with
 * its `callTracer` and default struct logger (tracers.ts), so foundry, hardhat and tenderly-style
 * tools get call trees and opcode logs.
 *
 * Re-execution: a transaction is traced by replaying its block on the parent's state — the
 * block's system operations before the transactions (deposits, Hub.schedule; the same hooks and
 * system inputs the validators ran), then the earlier transactions untraced, then the target with
 * the tracer attached. It runs on a private state copy inside one checkpoint that is reverted, so
 * nothing reaches the database.
 *
 * Bounds (a hostile client must not stall the node): one trace at a time with a short queue
 * (TRACE_LIMITS.maxQueued, then "busy"); a wall-clock deadline checked on every traced message and
 * opcode and between replayed transactions (geth's `timeout` option may only shorten it); the
 * struct logger's entry and byte caps; debug_traceCall's gas capped like eth_call.
 */
import { createBlock, type Block } from '@ethereumjs/block';
import { createTx, type TypedTransaction } from '@ethereumjs/tx';
import { Address, createZeroAddress, bytesToHex, equalsBytes } from '@ethereumjs/util';
import { runTx, type VM } from '@ethereumjs/vm';
import type { EVMResult, InterpreterStep, Message } from '@ethereumjs/evm';
import type { Chain } from '../chain.ts';
import { executeBlock } from '../execute.ts';
import * as P from './params.ts';
import { RPC, RpcError, type RpcMethod } from './server.ts';
import { CallTracer, StructLogger, TraceLimitError, type StructLogOptions } from './tracers.ts';

/** Protocol-free node limits for tracing (see the file note). */
export const TRACE_LIMITS = {
  /** wall time of one trace request, ms (geth's default timeout is 5 s) */
  maxMs: 10_000,
  /** struct log entries of one transaction */
  maxEntries: 500_000,
  /** approximate bytes of struct log kept for one request */
  maxBytes: 256 * 1024 * 1024,
  /** traces waiting for their turn before new ones are refused */
  maxQueued: 4,
} as const;

export interface DebugApiOptions {
  chain: Chain;
  /** the system inputs a stored block was executed with (deposits, evidence), for replay */
  inputsOf?: (stored: Awaited<ReturnType<Chain['getStored']>>) => unknown;
  /** gas cap for debug_traceCall (default: block gas limit) */
  rpcGasCap?: bigint;
  limits?: Partial<typeof TRACE_LIMITS>;
}

interface TraceConfig {
  tracer?: 'callTracer';
  onlyTopCall: boolean;
  log: StructLogOptions;
  timeoutMs: number;
}

/** geth duration strings: "300ms", "5s", "1m", "1.5s". */
export function parseDuration(v: unknown): number {
  if (typeof v !== 'string') throw new RpcError(RPC.INVALID_PARAMS, 'invalid argument: timeout must be a duration string like "5s"');
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(v);
  if (!m) throw new RpcError(RPC.INVALID_PARAMS, `invalid argument: timeout ${JSON.stringify(v).slice(0, 40)} is not a duration like "5s"`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

/** Validate geth's TraceConfig; unknown tracers and overrides are refused, not ignored. */
export function parseTraceConfig(v: unknown, maxMs: number): TraceConfig {
  const c = v === undefined || v === null ? {} : P.object(v, 'trace config');
  const t = c.tracer;
  if (t !== undefined && t !== null && t !== 'callTracer') throw new RpcError(RPC.SERVER, `tracer ${JSON.stringify(t).slice(0, 60)} is not supported: use "callTracer" or omit tracer for the struct logger`);
  for (const k of ['stateOverrides', 'blockOverrides']) if (c[k] !== undefined && c[k] !== null) throw new RpcError(RPC.INVALID_PARAMS, `invalid argument: ${k} are not supported`);
  const tc = c.tracerConfig === undefined || c.tracerConfig === null ? {} : P.object(c.tracerConfig, 'tracerConfig');
  const flag = (x: unknown, what: string) => (x === undefined || x === null ? false : P.bool(x, what));
  const limit = c.limit === undefined || c.limit === null ? 0 : c.limit;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0) throw new RpcError(RPC.INVALID_PARAMS, 'invalid argument: limit must be a non-negative integer');
  const timeoutMs = c.timeout === undefined || c.timeout === null ? maxMs : Math.min(parseDuration(c.timeout), maxMs);
  return {
    ...(t === 'callTracer' ? { tracer: 'callTracer' as const } : {}),
    onlyTopCall: flag(tc.onlyTopCall, 'tracerConfig.onlyTopCall'),
    log: { disableStack: flag(c.disableStack, 'disableStack'), disableStorage: flag(c.disableStorage, 'disableStorage'), enableMemory: flag(c.enableMemory, 'enableMemory'), enableReturnData: flag(c.enableReturnData, 'enableReturnData'), limit },
    timeoutMs,
  };
}

/** One tracer run attached to a VM's events for the duration of one transaction. */
class Session {
  readonly call?: CallTracer;
  readonly log?: StructLogger;
  private readonly detach: (() => void)[] = [];

  constructor(vm: VM, cfg: TraceConfig, check: () => void, limits: typeof TRACE_LIMITS) {
    const ev = vm.evm.events!;
    if (cfg.tracer === 'callTracer') {
      const ct = (this.call = new CallTracer({ onlyTopCall: cfg.onlyTopCall, check }));
      const before = (m: Message) => ct.beforeMessage(m);
      const after = (r: EVMResult) => ct.afterMessage(r);
      ev.on('beforeMessage', before);
      ev.on('afterMessage', after);
      this.detach.push(() => ev.off('beforeMessage', before), () => ev.off('afterMessage', after));
    } else {
      const sl = (this.log = new StructLogger(cfg.log, limits, check));
      // two parameters: the EVM awaits `resolve` (SLOAD's value is read from state). A limit
      // throws synchronously, which rejects the EVM's wait and aborts the run.
      const step = (s: InterpreterStep, resolve?: (r?: unknown) => void) => {
        const p = sl.step(s);
        if (!p) return resolve?.();
        p.then(() => resolve?.(), (e) => {
          this.failure ??= e;
          resolve?.();
        });
      };
      const after = (r: EVMResult) => sl.afterMessage(r);
      ev.on('step', step);
      ev.on('afterMessage', after);
      this.detach.push(() => ev.off('step', step), () => ev.off('afterMessage', after));
    }
  }

  failure?: unknown;

  stop(): void {
    for (const d of this.detach) d();
  }

  result(top: { gas: bigint; gasUsed: bigint; failed: boolean; ret: Uint8Array }): unknown {
    if (this.call) return this.call.result({ gas: top.gas, gasUsed: top.gasUsed });
    return this.log!.result(top.gasUsed, top.failed, top.ret);
  }
}

export function createDebugApi(o: DebugApiOptions): { methods: Record<string, RpcMethod> } {
  const { chain } = o;
  const limits = { ...TRACE_LIMITS, ...(o.limits ?? {}) };
  let running: Promise<unknown> = Promise.resolve();
  let queued = 0;

  /** Run traces one at a time; refuse when too many wait. */
  async function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (queued >= limits.maxQueued) throw new RpcError(RPC.LIMIT, `node busy: ${queued} traces are waiting, try again later`);
    queued++;
    const prev = running;
    let release!: () => void;
    running = new Promise<void>((r) => (release = r));
    try {
      await prev;
      return await fn();
    } catch (e) {
      if (e instanceof TraceLimitError) throw new RpcError(RPC.LIMIT, e.message);
      throw e;
    } finally {
      queued--;
      release();
    }
  }

  function deadline(cfg: TraceConfig): () => void {
    const until = performance.now() + cfg.timeoutMs;
    return () => {
      if (performance.now() > until) throw new TraceLimitError('TRACE_TIMEOUT', `execution timeout: trace took longer than ${cfg.timeoutMs} ms`);
    };
  }

  async function blockOf(tag: unknown): Promise<Block> {
    const t = P.blockTag(tag);
    const b = t.kind === 'latest' || t.kind === 'pending' ? chain.head : t.kind === 'hash' ? await chain.getBlockByHash(t.hash) : await chain.getBlockByNumber(t.number);
    if (!b) throw new RpcError(RPC.SERVER, t.kind === 'number' ? `block #${t.number} not found` : 'block not found');
    return b;
  }

  /**
   * Replay `block` on its parent's state and trace the transactions whose index `want` accepts;
   * stops after the last wanted one. Nothing is written.
   */
  async function replay(block: Block, want: (i: number) => boolean, cfg: TraceConfig): Promise<{ txHash: string; result: unknown }[]> {
    if (block.header.number === 0n) throw new RpcError(RPC.SERVER, 'genesis is not traceable');
    const parent = await chain.getBlockByHash(block.header.parentHash);
    if (!parent) throw new RpcError(RPC.SERVER, `parent of block ${block.header.number} not found`);
    const txs = block.transactions as TypedTransaction[];
    let last = -1;
    txs.forEach((_, i) => {
      if (want(i)) last = i;
    });
    if (last < 0) return [];
    const check = deadline(cfg);
    const vm = await chain.vmAt(parent.header.stateRoot);
    const sm = vm.stateManager;
    const out: { txHash: string; result: unknown }[] = [];
    const receipts = await chain.getReceipts(block.hash());
    let index = -1;
    let session: Session | undefined;
    const onBefore = () => {
      index++;
      check();
      if (want(index)) session = new Session(vm, cfg, check, limits);
    };
    const onAfter = (r: { totalGasSpent: bigint; execResult: { exceptionError?: unknown; returnValue: Uint8Array } }) => {
      if (!session) return;
      session.stop();
      const s = session;
      session = undefined;
      if (s.failure) throw s.failure;
      const tx = txs[index]!;
      out.push({ txHash: bytesToHex(tx.hash()), result: s.result({ gas: tx.gasLimit, gasUsed: receipts[index]?.gasUsed ?? r.totalGasSpent, failed: !!r.execResult.exceptionError, ret: r.execResult.returnValue }) });
    };
    vm.events.on('beforeTx', onBefore);
    vm.events.on('afterTx', onAfter as any);
    const h = block.header;
    // the whole replay inside one checkpoint that is reverted: executeBlock's own commits stay in
    // memory instead of writing trie nodes of a partial block to the database
    await sm.checkpoint();
    try {
      await executeBlock({
        vm,
        common: chain.common,
        parentStateRoot: parent.header.stateRoot,
        header: { parentHash: h.parentHash, number: h.number, timestamp: h.timestamp, gasLimit: h.gasLimit, baseFeePerGas: h.baseFeePerGas ?? 0n, coinbase: h.coinbase.bytes, mixHash: h.mixHash, extraData: h.extraData },
        txs: txs.slice(0, last + 1),
        mode: 'verify',
        // only what runs before the transactions: finalize after them changes nothing traced
        hooks: chain.hooks.beforeTxs ? { beforeTxs: chain.hooks.beforeTxs.bind(chain.hooks) } : {},
        inputs: o.inputsOf ? o.inputsOf(await chain.getStored(block.hash())) : undefined,
      });
    } catch (e) {
      const cause = (e as { cause?: unknown }).cause;
      if (cause instanceof TraceLimitError) throw cause;
      if (session?.failure instanceof TraceLimitError) throw session.failure;
      throw e;
    } finally {
      session?.stop();
      vm.events.off('beforeTx', onBefore);
      vm.events.off('afterTx', onAfter as any);
      await sm.revert();
    }
    return out;
  }

  async function traceTx(hashParam: unknown, cfgParam: unknown): Promise<unknown> {
    const h = P.hash(hashParam, 'transaction hash');
    const cfg = parseTraceConfig(cfgParam, limits.maxMs);
    const loc = await chain.store.loadTxLocation(h);
    if (!loc) throw new RpcError(RPC.SERVER, 'transaction not found');
    const block = await chain.getBlockByHash(loc.blockHash);
    const tx = block?.transactions[loc.index];
    if (!block || !tx || !equalsBytes(tx.hash(), h)) throw new RpcError(RPC.SERVER, 'transaction not found');
    return exclusive(async () => (await replay(block, (i) => i === loc.index, cfg))[0]!.result);
  }

  async function traceBlock(block: Block, cfgParam: unknown): Promise<unknown> {
    const cfg = parseTraceConfig(cfgParam, limits.maxMs);
    return exclusive(() => replay(block, () => true, cfg));
  }

  /** A call object as an unsigned tx from any sender (eth_call's rules: no nonce or balance checks). */
  function callTx(c: Record<string, unknown>, gasLimit: bigint): TypedTransaction {
    const from = c.from !== undefined && c.from !== null ? new Address(P.address(c.from, 'from')) : createZeroAddress();
    const input = c.input ?? c.data;
    const gasPrice = P.optQuantity(c.gasPrice, 'gasPrice');
    const txData: Record<string, unknown> = {
      to: c.to === undefined || c.to === null ? undefined : P.address(c.to, 'to'),
      data: input === undefined ? new Uint8Array() : P.data(input, 'input'),
      value: P.optQuantity(c.value, 'value') ?? 0n,
      gasLimit,
      nonce: 0n,
      ...(gasPrice !== undefined ? { gasPrice } : { type: 2, maxFeePerGas: P.optQuantity(c.maxFeePerGas, 'maxFeePerGas') ?? 0n, maxPriorityFeePerGas: P.optQuantity(c.maxPriorityFeePerGas, 'maxPriorityFeePerGas') ?? 0n }),
    };
    const tx = createTx(txData as any, { common: chain.common, freeze: false });
    (tx as any).getSenderAddress = () => from;
    return tx;
  }

  const methods: Record<string, RpcMethod> = {
    debug_traceTransaction: ([hsh, cfg]) => traceTx(hsh, cfg),
    debug_traceBlockByNumber: async ([tag, cfg]) => traceBlock(await blockOf(tag ?? 'latest'), cfg),
    debug_traceBlockByHash: async ([hsh, cfg]) => traceBlock(await blockOf({ blockHash: hsh }), cfg),
    debug_traceCall: async ([c, tag, cfgParam]) => {
      const call = P.object(c, 'call');
      const cfg = parseTraceConfig(cfgParam, limits.maxMs);
      const b = await blockOf(tag);
      const cap = o.rpcGasCap ?? chain.head.header.gasLimit;
      const g = P.optQuantity(call.gas, 'gas');
      const gasLimit = g !== undefined && g < cap ? g : cap;
      const tx = callTx(call, gasLimit);
      return exclusive(async () => {
        const check = deadline(cfg);
        const vm = await chain.vmAt(b.header.stateRoot);
        // calls pay no fee: the block's context with a zero base fee, as eth_call
        const block = createBlock({ header: { ...b.header.toJSON(), baseFeePerGas: 0n, gasLimit: gasLimit > b.header.gasLimit ? gasLimit : b.header.gasLimit } }, { common: chain.common, setHardfork: false, skipConsensusFormatValidation: true });
        const session = new Session(vm, cfg, check, limits);
        await vm.stateManager.checkpoint();
        try {
          const r = await runTx(vm, { tx, block, skipNonce: true, skipBalance: true, skipBlockGasLimitValidation: true, skipHardForkValidation: true });
          if (session.failure) throw session.failure;
          return session.result({ gas: gasLimit, gasUsed: r.totalGasSpent, failed: !!r.execResult.exceptionError, ret: r.execResult.returnValue });
        } catch (e) {
          if (session.failure) throw session.failure;
          throw e;
        } finally {
          session.stop();
          await vm.stateManager.revert();
        }
      });
    },
  };
  return { methods };
}
