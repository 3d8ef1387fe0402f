/**
 * Log queries over committed blocks: eth_getLogs, eth_getFilterLogs and the log filters' changes.
 *
 * Every query is bounded before any block is read: at most MAX_LOG_RANGE blocks, at most MAX_LOGS
 * results (the errors name the limit, in geth's words). Blocks are scanned one at a time (never
 * all loaded first), and a block's receipts are loaded only when its header's logsBloom may match
 * the filter, as geth does. System logs (Hub and bridge system calls) sit in a separate system
 * receipt outside the header bloom (docs/decisions.md), so a block with a bloom miss is still read
 * when it has a system receipt: one index lookup tells.
 */
import { RLP } from '@ethereumjs/rlp';
import type { Block } from '@ethereumjs/block';
import { equalsBytes } from '@ethereumjs/util';
import { keccak_256 } from '@noble/hashes/sha3.js';
import type { Chain } from '../chain.ts';
import { systemTxHash } from '../execute.ts';
import type { StoredLog } from '../store.ts';
import { formatLog } from './format.ts';
import { MAX_LOG_RANGE, MAX_LOGS } from './limits.ts';
import { RPC, RpcError } from './server.ts';

export interface LogFilter {
  fromBlock?: bigint;
  toBlock?: bigint;
  blockHash?: Uint8Array;
  addresses: Uint8Array[];
  /** per position: null = any, else one of */
  topics: (Uint8Array[] | null)[];
}

/** Does a log match the filter's addresses and topics? */
export function logMatches(f: LogFilter, l: StoredLog): boolean {
  if (f.addresses.length && !f.addresses.some((a) => equalsBytes(a, l.address))) return false;
  for (let i = 0; i < f.topics.length; i++) {
    const want = f.topics[i];
    if (!want || want.length === 0) continue;
    const t = l.topics[i];
    if (!t || !want.some((w) => equalsBytes(w, t))) return false;
  }
  return true;
}

/** The three bloom bits of one item (address or topic), as [byteIndex, mask] pairs. */
export function bloomBits(item: Uint8Array): [number, number][] {
  const h = keccak_256(item);
  const out: [number, number][] = [];
  for (let i = 0; i < 6; i += 2) {
    const bit = ((h[i]! << 8) | h[i + 1]!) & 2047;
    out.push([255 - (bit >> 3), 1 << (bit & 7)]);
  }
  return out;
}

/** A filter compiled for bloom checks: per condition, the alternatives' bits. */
export type BloomQuery = [number, number][][][];

export function bloomQuery(f: LogFilter): BloomQuery {
  const q: BloomQuery = [];
  if (f.addresses.length) q.push(f.addresses.map(bloomBits));
  for (const t of f.topics) if (t && t.length) q.push(t.map(bloomBits));
  return q;
}

/** False when the bloom proves no log of the block matches (every condition needs one hit). */
export function bloomMayMatch(bloom: Uint8Array, q: BloomQuery): boolean {
  return q.every((alternatives) => alternatives.some((bits) => bits.every(([i, m]) => (bloom[i]! & m) !== 0)));
}

export interface FormattedLogs {
  logs: Record<string, unknown>[];
  /** the first block not scanned (the next poll starts there) */
  next: bigint;
}

/** Reads logs of committed blocks for a filter, bounded as the module note says. */
export class LogReader {
  private readonly chain: Chain;
  readonly maxRange: bigint;
  readonly maxLogs: number;
  /** blocks whose receipts were loaded / skipped by the bloom (tests and metrics read these) */
  readonly counters = { loaded: 0, skipped: 0 };

  constructor(chain: Chain, opts: { maxRange?: bigint; maxLogs?: number } = {}) {
    this.chain = chain;
    this.maxRange = opts.maxRange ?? MAX_LOG_RANGE;
    this.maxLogs = opts.maxLogs ?? MAX_LOGS;
  }

  /** eth_getLogs semantics: all matching logs in [from, to] (to clipped at the head), or an error. */
  async query(f: LogFilter, from: bigint, to: bigint): Promise<Record<string, unknown>[]> {
    if (f.blockHash) {
      const b = await this.chain.getBlockByHash(f.blockHash);
      if (!b) throw new RpcError(RPC.SERVER, 'unknown block');
      const out = (await this.blockLogs(b)).filter((l) => logMatches(f, l.log)).map((l) => formatLog(l.log, { block: b, ...l }));
      if (out.length > this.maxLogs) throw this.tooMany();
      return out;
    }
    // the range asked for is checked before clipping at the head: the bound holds for any input
    if (from <= to) this.checkRange(from, to);
    const head = this.chain.head.header.number;
    if (to > head) to = head;
    if (from > to) return [];
    const res = await this.scan(f, from, to, false);
    return res.logs;
  }

  /**
   * Log filter changes: matching logs of blocks [from, to] (clipped to MAX_LOG_RANGE blocks), and
   * never more than MAX_LOGS unless one block alone has more; stops at a block boundary and says
   * where the next poll starts. Never throws for size: a poll always makes progress.
   */
  async changes(f: LogFilter, from: bigint, to: bigint): Promise<FormattedLogs> {
    const head = this.chain.head.header.number;
    if (to > head) to = head;
    if (from > to) return { logs: [], next: from };
    if (to - from + 1n > this.maxRange) to = from + this.maxRange - 1n;
    return this.scan(f, from, to, true);
  }

  /** Throws the range error when [from, to] spans more than the cap. */
  checkRange(from: bigint, to: bigint): void {
    const span = to - from + 1n;
    if (span > this.maxRange) throw new RpcError(RPC.LIMIT, `query exceeds max block range ${this.maxRange} (asked for ${span} blocks, ${from} to ${to}): split it into smaller ranges`, { maxRange: Number(this.maxRange) });
  }

  private tooMany(): RpcError {
    return new RpcError(RPC.LIMIT, `query returned more than ${this.maxLogs} results: narrow the block range or the filter`, { maxResults: this.maxLogs });
  }

  private async scan(f: LogFilter, from: bigint, to: bigint, partial: boolean): Promise<FormattedLogs> {
    const q = bloomQuery(f);
    const out: Record<string, unknown>[] = [];
    for (let n = from; n <= to; n++) {
      const b = await this.candidate(n, q);
      if (!b) continue;
      const matched = (await this.blockLogs(b)).filter((l) => logMatches(f, l.log));
      if (out.length + matched.length > this.maxLogs) {
        if (!partial) throw this.tooMany();
        if (out.length > 0) return { logs: out, next: n };
      }
      for (const l of matched) out.push(formatLog(l.log, { block: b, ...l }));
    }
    return { logs: out, next: to + 1n };
  }

  /** Block n when it may hold a matching log (bloom hit, or system logs), else undefined. */
  private async candidate(n: bigint, q: BloomQuery): Promise<Block | undefined> {
    const chain = this.chain;
    const hash = n === chain.head.header.number ? chain.head.hash() : await chain.store.loadHashByNumber(n);
    if (!hash) return undefined;
    if (q.length > 0) {
      const stored = await chain.getStored(hash);
      if (!stored) return undefined;
      // header = first item of the block RLP; logsBloom is its 7th field
      const bloom = (RLP.decode(stored.rlp) as Uint8Array[][])[0]![6]!;
      if (!bloomMayMatch(bloom, q) && !(await chain.store.loadTxLocation(systemTxHash(n)))) {
        this.counters.skipped++;
        return undefined;
      }
    }
    this.counters.loaded++;
    return chain.getBlockByHash(hash);
  }

  /** Logs of a block with their block-wide indices, system logs last. */
  private async blockLogs(b: Block): Promise<{ log: StoredLog; txHash: Uint8Array; txIndex: number; logIndex: number }[]> {
    const receipts = await this.chain.getReceipts(b.hash());
    const out: { log: StoredLog; txHash: Uint8Array; txIndex: number; logIndex: number }[] = [];
    let li = 0;
    receipts.forEach((r, i) => {
      const txHash = i < b.transactions.length ? b.transactions[i]!.hash() : systemTxHash(b.header.number);
      for (const log of r.logs) out.push({ log, txHash, txIndex: i, logIndex: li++ });
    });
    return out;
  }
}
