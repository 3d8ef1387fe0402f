/**
 * Tracers for debug_trace*: geth's `callTracer` (a tree of call frames) and its default struct
 * logger (one entry per opcode), fed by @ethereumjs/evm's events. They only turn events into
 * geth's JSON shapes; which transaction is traced, and the limits, are decided by debug.ts.
 *
 * Bounds: the struct logger counts entries and the bytes it keeps (stack, memory, storage) and
 * throws TraceLimitError past either cap, so a hostile request cannot make the node hold
 * gigabytes; the caller also passes a deadline that is checked on every event.
 */
import { bytesToHex, bigIntToHex, setLengthLeft, bigIntToBytes, type Address } from '@ethereumjs/util';
import type { EVMResult, InterpreterStep, Message } from '@ethereumjs/evm';
import { AbiCoder } from 'ethers';
import { PocError } from '../../lib/errors.ts';

export type TraceErrorCode = 'TRACE_LIMIT' | 'TRACE_TIMEOUT';
export class TraceLimitError extends PocError<TraceErrorCode> {}

/** geth's error strings for the EVM errors ethereumjs reports (so tools match on them). */
const GETH_ERRORS: Record<string, string> = {
  revert: 'execution reverted',
  'out of gas': 'out of gas',
  'invalid JUMP': 'invalid jump destination',
  'static state change': 'write protection',
  'stack underflow': 'stack underflow',
  'stack overflow': 'stack limit reached 1024 (1023)',
  'create collision': 'contract address collision',
  'code store out of gas': 'contract creation code storage out of gas',
  'code size to deposit exceeds maximum code size': 'max code size exceeded',
  'insufficient balance': 'insufficient balance for transfer',
};
export const gethError = (e: string): string => GETH_ERRORS[e] ?? e;

/** Error(string) revert data → the reason, as geth's `revertReason`. */
export function revertReason(ret: Uint8Array): string | undefined {
  if (ret.length < 68) return undefined;
  const hex = bytesToHex(ret);
  if (!hex.startsWith('0x08c379a0')) return undefined;
  try {
    return AbiCoder.defaultAbiCoder().decode(['string'], '0x' + hex.slice(10))[0] as string;
  } catch {
    return undefined;
  }
}

export interface CallFrame {
  type: string;
  from: string;
  to?: string;
  value?: string;
  gas: string;
  gasUsed: string;
  input: string;
  output?: string;
  error?: string;
  revertReason?: string;
  calls?: CallFrame[];
}

interface OpenFrame {
  frame: CallFrame;
  gas: bigint;
  isStatic: boolean;
}

/** geth `callTracer`: nested frames with type, gas, input/output, error and revert reason. */
export class CallTracer {
  private readonly stack: OpenFrame[] = [];
  private root?: CallFrame;
  private readonly onlyTopCall: boolean;
  private readonly check: () => void;

  constructor(opts: { onlyTopCall?: boolean; check?: () => void } = {}) {
    this.onlyTopCall = opts.onlyTopCall ?? false;
    this.check = opts.check ?? (() => {});
  }

  beforeMessage(m: Message): void {
    this.check();
    const parent = this.stack[this.stack.length - 1];
    const create = m.to === undefined;
    let type: string;
    if (create) type = m.salt !== undefined ? 'CREATE2' : 'CREATE';
    else if (m.delegatecall) type = 'DELEGATECALL';
    else if (m.isStatic && !(parent?.isStatic ?? false)) type = 'STATICCALL';
    else if (!m.codeAddress.equals(m.to as Address)) type = 'CALLCODE';
    else type = 'CALL';
    const frame: CallFrame = {
      type,
      from: m.caller.toString(),
      ...(create ? {} : { to: (m.to as Address).toString() }),
      // geth leaves value out of STATICCALL and DELEGATECALL frames
      ...(type === 'STATICCALL' || type === 'DELEGATECALL' ? {} : { value: bigIntToHex(m.value) }),
      gas: bigIntToHex(m.gasLimit),
      gasUsed: '0x0',
      input: bytesToHex(m.data),
    };
    if (parent && !(this.onlyTopCall && this.stack.length >= 1)) (parent.frame.calls ??= []).push(frame);
    if (!parent) this.root = frame;
    this.stack.push({ frame, gas: m.gasLimit, isStatic: m.isStatic });
  }

  afterMessage(r: EVMResult): void {
    const open = this.stack.pop();
    if (!open) return;
    const f = open.frame;
    const ex = r.execResult;
    f.gasUsed = bigIntToHex(ex.executionGasUsed);
    if (r.createdAddress && !ex.exceptionError) f.to = r.createdAddress.toString();
    const ret = ex.returnValue ?? new Uint8Array();
    // geth's `output` is omitempty: no key for empty return data
    if (!ex.exceptionError) {
      if (ret.length > 0) f.output = bytesToHex(ret);
    } else {
      f.error = gethError(ex.exceptionError.error);
      if (ex.exceptionError.error === 'revert' && ret.length > 0) {
        f.output = bytesToHex(ret);
        const reason = revertReason(ret);
        if (reason !== undefined) f.revertReason = reason;
      }
    }
  }

  /** The root frame; for a transaction geth reports the tx's gas limit and its receipt's gas used. */
  result(top?: { gas: bigint; gasUsed: bigint }): CallFrame | null {
    if (!this.root) return null;
    if (top) {
      this.root.gas = bigIntToHex(top.gas);
      this.root.gasUsed = bigIntToHex(top.gasUsed);
    }
    return order(this.root);
  }
}

/** Key order as geth prints a frame (tools diff these as text). */
function order(f: CallFrame): CallFrame {
  const out: Record<string, unknown> = { from: f.from, gas: f.gas, gasUsed: f.gasUsed };
  if (f.to !== undefined) out.to = f.to;
  out.input = f.input;
  if (f.output !== undefined) out.output = f.output;
  if (f.error !== undefined) out.error = f.error;
  if (f.revertReason !== undefined) out.revertReason = f.revertReason;
  if (f.calls) out.calls = f.calls.map(order);
  if (f.value !== undefined) out.value = f.value;
  out.type = f.type;
  return out as unknown as CallFrame;
}

export interface StructLogOptions {
  disableStack?: boolean;
  disableStorage?: boolean;
  enableMemory?: boolean;
  enableReturnData?: boolean;
  /** stop recording after this many entries (geth's `limit`; 0 = our cap) */
  limit?: number;
}

export interface StructLog {
  pc: number;
  op: string;
  gas: number;
  gasCost: number;
  depth: number;
  error?: string;
  stack?: string[];
  returnData?: string;
  memory?: string[];
  storage?: Record<string, string>;
  refund?: number;
}

const CALLS = new Set(['CALL', 'CALLCODE', 'DELEGATECALL', 'STATICCALL']);

/**
 * An opcode's cost as geth reports it: for the CALL family that includes the gas handed to the
 * callee (EIP-150: all but 1/64 of what is left, at most what was asked for); ethereumjs charges
 * that part later, so it is added here.
 */
export function opCost(s: Pick<InterpreterStep, 'gasLeft' | 'stack' | 'opcode'>): bigint {
  const base = s.opcode.dynamicFee ?? BigInt(s.opcode.fee);
  if (!CALLS.has(s.opcode.name) || s.stack.length === 0 || base > s.gasLeft) return base;
  const avail = s.gasLeft - base;
  const cap = avail - avail / 64n;
  const asked = s.stack[s.stack.length - 1]!;
  return base + (asked < cap ? asked : cap);
}

const hex64 = (b: Uint8Array) => bytesToHex(setLengthLeft(b, 32)).slice(2);
const word = (v: bigint) => hex64(bigIntToBytes(v));

/**
 * geth's default struct logger. Each entry is the state *before* the opcode: pc, op, gas left,
 * the opcode's cost, depth (1 = the transaction), and optionally stack, memory and the storage
 * slots the contract has touched so far (on SLOAD/SSTORE, as geth).
 */
export class StructLogger {
  readonly logs: StructLog[] = [];
  private bytes = 0;
  private readonly storage = new Map<string, Map<string, string>>();
  private lastReturn: Uint8Array = new Uint8Array();
  private readonly o: StructLogOptions;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly check: () => void;

  constructor(o: StructLogOptions, caps: { maxEntries: number; maxBytes: number }, check: () => void = () => {}) {
    this.o = o;
    this.maxEntries = o.limit && o.limit > 0 ? Math.min(o.limit, caps.maxEntries) : caps.maxEntries;
    this.maxBytes = caps.maxBytes;
    this.check = check;
  }

  /** The last call's return data (for enableReturnData). */
  afterMessage(r: EVMResult): void {
    this.lastReturn = r.execResult.returnValue ?? new Uint8Array();
  }

  /** Limits are checked synchronously (a throw here aborts the EVM); only SLOAD's read is async. */
  step(s: InterpreterStep): Promise<void> | void {
    this.check();
    if (this.logs.length >= this.maxEntries) {
      // geth's `limit` truncates silently; our own cap is an error (the answer would be wrong)
      if (this.o.limit && this.o.limit > 0) return;
      throw new TraceLimitError('TRACE_LIMIT', `trace exceeds ${this.maxEntries} struct log entries: use the callTracer, or a limit`);
    }
    const e: StructLog = { pc: s.pc, op: s.opcode.name, gas: Number(s.gasLeft), gasCost: Number(opCost(s)), depth: s.depth + 1 };
    let size = 64;
    if (!this.o.disableStack) {
      e.stack = s.stack.map((v) => bigIntToHex(v));
      size += e.stack.length * 40;
    }
    if (this.o.enableMemory) {
      const mem: string[] = [];
      for (let i = 0; i + 32 <= s.memory.length; i += 32) mem.push(bytesToHex(s.memory.subarray(i, i + 32)).slice(2));
      e.memory = mem;
      size += mem.length * 72;
    }
    if (s.gasRefund > 0n) e.refund = Number(s.gasRefund);
    if (this.o.enableReturnData && this.lastReturn.length > 0) {
      e.returnData = bytesToHex(this.lastReturn);
      size += this.lastReturn.length * 2;
    }
    const storageOp = !this.o.disableStorage && (s.opcode.name === 'SLOAD' || s.opcode.name === 'SSTORE') && s.stack.length >= (s.opcode.name === 'SSTORE' ? 2 : 1);
    const slots = storageOp ? this.slotsOf(s.address.toString()) : undefined;
    if (slots) size += (slots.size + 1) * 140;
    this.bytes += size;
    if (this.bytes > this.maxBytes) throw new TraceLimitError('TRACE_LIMIT', `trace exceeds ${this.maxBytes} bytes: disable memory/stack, or use a limit`);
    this.logs.push(e);
    if (!slots) return;
    const key = s.stack[s.stack.length - 1]!;
    const put = (value: string) => {
      slots.set(word(key), value);
      e.storage = Object.fromEntries(slots);
    };
    // geth: SSTORE shows the value being written, SLOAD the value it will read
    if (s.opcode.name === 'SSTORE') return put(word(s.stack[s.stack.length - 2]!));
    return s.stateManager.getStorage(s.address, setLengthLeft(bigIntToBytes(key), 32)).then((v) => put(hex64(v)));
  }

  private slotsOf(addr: string): Map<string, string> {
    let slots = this.storage.get(addr);
    if (!slots) this.storage.set(addr, (slots = new Map()));
    return slots;
  }

  /** geth's ExecutionResult. */
  result(gasUsed: bigint, failed: boolean, ret: Uint8Array): { gas: number; failed: boolean; returnValue: string; structLogs: StructLog[] } {
    return { gas: Number(gasUsed), failed, returnValue: bytesToHex(ret), structLogs: this.logs };
  }
}
