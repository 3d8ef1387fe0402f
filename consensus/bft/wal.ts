/**
 * Consensus write-ahead log. The driver appends every input before stepping the machine; after a
 * crash it replays the inputs of the unfinished height through a fresh machine and so reaches
 * the same state (the signer returns the same signatures for the same HRS).
 *
 * File format: frames of [u32 BE payload length][u32 BE crc32(payload)][payload = msgpackr].
 * On open the file is scanned; the first incomplete or corrupt frame and everything after it are
 * cut off (a crash mid-write leaves a torn tail). Own messages are appended with fsync (`sync`);
 * peers' messages are not (they can be received again). `endHeight(h)` writes a durable marker:
 * `replay()` yields only the records after the last marker. The file is rewritten to just the
 * marker when it grows past `maxFileBytes` (the records before it are no longer needed).
 */
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { Packr, Unpackr } from 'msgpackr';
import { PocError } from '../../lib/errors.ts';
import type { ValidatorSet } from '../validators.ts';
import type { BftInput } from './machine.ts';
import { writeFileAtomic } from './signer.ts';

export type WalErrorCode = 'WAL_RECORD_TOO_LARGE' | 'WAL_CLOSED';

/** Largest record (a proposal with its block). */
export const MAX_WAL_RECORD_BYTES = 64 * 1024 * 1024;
const HEADER = 8;

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** The marker record that closes a height. */
export interface EndHeightRecord {
  type: 'endHeight';
  height: number;
}

function isEndHeight(r: unknown): r is EndHeightRecord {
  return typeof r === 'object' && r !== null && (r as { type?: unknown }).type === 'endHeight' && typeof (r as { height?: unknown }).height === 'number';
}

function frame(record: unknown): Buffer {
  const payload = packr.pack(record);
  if (payload.length > MAX_WAL_RECORD_BYTES) throw new PocError<WalErrorCode>('WAL_RECORD_TOO_LARGE', 'WAL record too large', { data: { size: payload.length } });
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(crc32(payload), 4);
  payload.copy(out, HEADER);
  return out;
}

/** Parse frames; returns the records and the byte length of the valid prefix. */
export function scanWal(buf: Uint8Array): { records: unknown[]; validBytes: number } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: unknown[] = [];
  let off = 0;
  while (off + HEADER <= b.length) {
    const len = b.readUInt32BE(off);
    const crc = b.readUInt32BE(off + 4);
    if (len > MAX_WAL_RECORD_BYTES || off + HEADER + len > b.length) break;
    const payload = b.subarray(off + HEADER, off + HEADER + len);
    if (crc32(payload) !== crc) break;
    let rec: unknown;
    try {
      rec = unpackr.unpack(payload);
    } catch {
      break;
    }
    records.push(rec);
    off += HEADER + len;
  }
  return { records, validBytes: off };
}

export interface WalOpenResult {
  /** Bytes cut off the end because they were torn or corrupt. */
  truncatedBytes: number;
}

export class Wal {
  readonly path: string;
  readonly maxFileBytes: number;
  /** What opening the file repaired. */
  readonly opened: WalOpenResult;
  private fh: FileHandle | null;
  private size: number;
  private pending: unknown[];
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(path: string, fh: FileHandle, size: number, pending: unknown[], maxFileBytes: number, opened: WalOpenResult) {
    this.path = path;
    this.fh = fh;
    this.size = size;
    this.pending = pending;
    this.maxFileBytes = maxFileBytes;
    this.opened = opened;
  }

  /** Open (or create) the WAL at `path`, cutting off a torn tail. */
  static async open(path: string, opts: { maxFileBytes?: number } = {}): Promise<Wal> {
    await mkdir(dirname(path), { recursive: true });
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      data = Buffer.alloc(0);
    }
    const { records, validBytes } = scanWal(data);
    const fh = await open(path, data.length === 0 ? 'w+' : 'r+');
    if (validBytes < data.length) {
      await fh.truncate(validBytes);
      await fh.sync();
    }
    let last = -1;
    records.forEach((r, i) => {
      if (isEndHeight(r)) last = i;
    });
    return new Wal(path, fh, validBytes, records.slice(last + 1), opts.maxFileBytes ?? 8 * 1024 * 1024, { truncatedBytes: data.length - validBytes });
  }

  /** Records written after the last endHeight marker, as found when the WAL was opened. */
  replay(): unknown[] {
    return this.pending.slice();
  }

  /** Height of the last endHeight marker found at open (0 when none). */
  static lastEndHeight(records: unknown[]): number {
    let h = 0;
    for (const r of records) if (isEndHeight(r)) h = r.height;
    return h;
  }

  /** Append a record; with `sync`, resolves only once it is on disk (use for own messages). */
  append(record: unknown, opts: { sync?: boolean } = {}): Promise<void> {
    const f = frame(record);
    return this.serialise(async () => {
      const fh = this.handle();
      await fh.write(f, 0, f.length, this.size);
      this.size += f.length;
      if (opts.sync) await fh.datasync();
    });
  }

  /** Durably mark `height` as finished (its block is committed); may compact the file. */
  endHeight(height: number): Promise<void> {
    const marker: EndHeightRecord = { type: 'endHeight', height };
    const f = frame(marker);
    return this.serialise(async () => {
      let fh = this.handle();
      if (this.size + f.length > this.maxFileBytes) {
        await writeFileAtomic(this.path, f);
        await fh.close();
        fh = await open(this.path, 'r+');
        this.fh = fh;
        this.size = f.length;
      } else {
        await fh.write(f, 0, f.length, this.size);
        this.size += f.length;
        await fh.sync();
      }
      this.pending = [];
    });
  }

  /** Flush and close. */
  close(): Promise<void> {
    return this.serialise(async () => {
      if (this.fh) {
        await this.fh.sync();
        await this.fh.close();
        this.fh = null;
      }
    });
  }

  /** Current file size in bytes. */
  get bytes(): number {
    return this.size;
  }

  private handle(): FileHandle {
    if (!this.fh) throw new PocError<WalErrorCode>('WAL_CLOSED', 'WAL is closed');
    return this.fh;
  }

  private serialise<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/**
 * A consensus input as a WAL record (startHeight keeps only what the driver cannot recompute), or
 * null for inputs that are not logged: validity verdicts depend on this node's views (L1, clock)
 * at that moment, so a restart asks again instead of replaying a verdict that may be stale.
 */
export function walRecordOfInput(input: BftInput): unknown {
  if (input.type === 'startHeight') return { type: 'startHeight', height: input.height, myPubKey: input.myPubKey };
  if (input.type === 'blockValidity') return null;
  return input;
}

function plainBytes(v: unknown): unknown {
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(plainBytes);
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = plainBytes(x);
    return o;
  }
  return v;
}

/**
 * Turn a replayed WAL record back into a machine input. `validatorsAt(height)` supplies the
 * validator set for startHeight records (the chain knows it; the WAL does not store it).
 * Returns null for records that are not inputs (e.g. endHeight markers).
 */
export function inputOfWalRecord(record: unknown, validatorsAt: (height: number) => ValidatorSet): BftInput | null {
  const r = plainBytes(record) as { type?: unknown; height?: unknown; myPubKey?: unknown };
  if (typeof r !== 'object' || r === null) return null;
  if (r.type === 'startHeight' && typeof r.height === 'number') {
    return { type: 'startHeight', height: r.height, validators: validatorsAt(r.height), myPubKey: r.myPubKey instanceof Uint8Array ? r.myPubKey : null };
  }
  // blockValidity records of older WALs are skipped: verdicts are asked again (see walRecordOfInput)
  const inputTypes = ['proposal', 'vote', 'timeout', 'ownBlock', 'block', 'syncCommit'];
  return typeof r.type === 'string' && inputTypes.includes(r.type) ? (r as unknown as BftInput) : null;
}
