/**
 * Static memory checks on a WebAssembly binary, before it is compiled.
 *
 * A workload's memory is bounded by the module itself: we read the memory section, refuse a module
 * whose declared minimum or maximum exceeds the limit, and give a module without a maximum the
 * limit as its maximum (re-encoding that one section). `memory.grow` past the maximum then returns
 * -1 inside the guest — V8 never allocates it — which is the only enforcement that works for wasm
 * memory: it lives outside the V8 heap, so Worker `resourceLimits` do not see it.
 *
 * Pure: bytes in, bytes out. Codes: WASM_INVALID (not a module we can read), WASM_MEMORY (limit).
 */
import { PocError } from '../lib/errors.ts';

export type WasmLimitsErrorCode = 'WASM_INVALID' | 'WASM_MEMORY';

/** Size of one WebAssembly memory page in bytes. */
export const WASM_PAGE_BYTES = 65536;

/** One memory declared by the module (imported memories are refused, so all are defined). */
export interface MemoryDecl {
  minPages: bigint;
  maxPages?: bigint;
  shared: boolean;
  memory64: boolean;
}

const SECTION_IMPORT = 2;
const SECTION_MEMORY = 5;
const IMPORT_KIND_MEMORY = 2;

class Reader {
  pos: number;
  readonly bytes: Uint8Array;
  readonly end: number;
  constructor(bytes: Uint8Array, pos = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = pos;
    this.end = end;
  }
  byte(): number {
    if (this.pos >= this.end) throw invalid('unexpected end of module');
    return this.bytes[this.pos++]!;
  }
  /** Unsigned LEB128, up to 64 bits. */
  uleb(maxBits = 32): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) break;
      if (shift >= BigInt(maxBits + 7)) throw invalid('LEB128 too long');
    }
    if (result >= 1n << BigInt(maxBits)) throw invalid('LEB128 out of range');
    return result;
  }
  u32(): number {
    return Number(this.uleb(32));
  }
  skip(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw invalid('section overruns module');
    this.pos += n;
  }
  name(): void {
    this.skip(this.u32());
  }
}

function invalid(message: string): PocError<WasmLimitsErrorCode> {
  return new PocError<WasmLimitsErrorCode>('WASM_INVALID', `invalid wasm module: ${message}`);
}

function readLimits(r: Reader): MemoryDecl {
  const flags = r.byte();
  if (flags > 0x07) throw invalid(`unknown memory limits flags 0x${flags.toString(16)}`);
  const memory64 = (flags & 0x04) !== 0;
  const bits = memory64 ? 64 : 32;
  const minPages = r.uleb(bits);
  const decl: MemoryDecl = { minPages, shared: (flags & 0x02) !== 0, memory64 };
  if (flags & 0x01) decl.maxPages = r.uleb(bits);
  return decl;
}

function skipLimits(r: Reader): void {
  readLimits(r);
}

function writeUleb(out: number[], value: bigint): void {
  let v = value;
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
}

interface Section {
  id: number;
  start: number; // offset of the id byte
  bodyStart: number;
  bodyEnd: number;
}

function readSections(bytes: Uint8Array): Section[] {
  if (bytes.length < 8) throw invalid('too short');
  const magic = bytes[0] === 0x00 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d;
  if (!magic) throw invalid('bad magic (not a wasm binary)');
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) throw invalid('unsupported version (components are not accepted)');
  const r = new Reader(bytes, 8);
  const sections: Section[] = [];
  while (r.pos < r.end) {
    const start = r.pos;
    const id = r.byte();
    const size = r.u32();
    const bodyStart = r.pos;
    r.skip(size);
    sections.push({ id, start, bodyStart, bodyEnd: r.pos });
  }
  return sections;
}

/** Read the memories a module declares; refuses imported memories (a WASI command owns its memory). */
export function readMemories(bytes: Uint8Array): MemoryDecl[] {
  const sections = readSections(bytes);
  const mems: MemoryDecl[] = [];
  for (const s of sections) {
    if (s.id === SECTION_IMPORT) {
      const r = new Reader(bytes, s.bodyStart, s.bodyEnd);
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        r.name();
        r.name();
        const kind = r.byte();
        if (kind === 0) r.u32();
        else if (kind === 1) {
          r.byte(); // reftype
          skipLimits(r);
        } else if (kind === IMPORT_KIND_MEMORY) throw invalid('imported memory is not allowed (a WASI command defines its own)');
        else if (kind === 3) {
          r.byte();
          r.byte();
        } else if (kind === 4) {
          r.byte();
          r.u32();
        } else throw invalid(`unknown import kind ${kind}`);
      }
    } else if (s.id === SECTION_MEMORY) {
      const r = new Reader(bytes, s.bodyStart, s.bodyEnd);
      const n = r.u32();
      for (let i = 0; i < n; i++) mems.push(readLimits(r));
      if (r.pos !== s.bodyEnd) throw invalid('memory section has trailing bytes');
    }
  }
  return mems;
}

/**
 * Check the declared memories against `maxPages` and return a binary in which every memory has a
 * maximum ≤ maxPages. Throws WASM_MEMORY when a declared minimum or maximum exceeds the limit,
 * WASM_INVALID when the binary cannot be read or uses shared/imported memory.
 */
export function capMemory(bytes: Uint8Array, maxPages: number): Uint8Array {
  const limit = BigInt(maxPages);
  const sections = readSections(bytes);
  readMemories(bytes); // validates the import section too
  const mem = sections.find((s) => s.id === SECTION_MEMORY);
  if (!mem) return bytes; // no memory: wasi.start() will refuse it later, with a clear message
  const r = new Reader(bytes, mem.bodyStart, mem.bodyEnd);
  const n = r.u32();
  const body: number[] = [];
  writeUleb(body, BigInt(n));
  let changed = false;
  for (let i = 0; i < n; i++) {
    const d = readLimits(r);
    if (d.shared) throw invalid('shared memory is not supported');
    if (d.minPages > limit) {
      throw new PocError<WasmLimitsErrorCode>('WASM_MEMORY', `module needs ${d.minPages} memory pages at start, limit is ${maxPages}`, {
        data: { minPages: Number(d.minPages), limitPages: maxPages },
      });
    }
    if (d.maxPages !== undefined && d.maxPages > limit) {
      throw new PocError<WasmLimitsErrorCode>('WASM_MEMORY', `module declares up to ${d.maxPages} memory pages, limit is ${maxPages}`, {
        data: { maxPages: Number(d.maxPages), limitPages: maxPages },
      });
    }
    if (d.maxPages === undefined) changed = true;
    const max = d.maxPages ?? limit;
    body.push(0x01 | (d.memory64 ? 0x04 : 0));
    writeUleb(body, d.minPages);
    writeUleb(body, max);
  }
  if (!changed) return bytes;
  const header: number[] = [SECTION_MEMORY];
  writeUleb(header, BigInt(body.length));
  const out = new Uint8Array(mem.start + header.length + body.length + (bytes.length - mem.bodyEnd));
  out.set(bytes.subarray(0, mem.start), 0);
  out.set(header, mem.start);
  out.set(body, mem.start + header.length);
  out.set(bytes.subarray(mem.bodyEnd), mem.start + header.length + body.length);
  return out;
}
