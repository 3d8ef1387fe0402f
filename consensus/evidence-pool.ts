/**
 * Evidence pool (CometBFT's evidence reactor, reduced): duplicate-vote evidence waiting to be put
 * in a block. Every path — gossip in, the machine's own detection, build, validation — applies
 * the same rule (block-rules.ts evidenceVerdict): bounded age, never evidence already committed.
 * "Committed" is read from the chain store (the index written in each block's own batch), so it
 * survives a restart; a small in-memory set only saves store reads.
 *
 * Evidence is identified by the keccak of its canonical encoding (votes ordered by value), so the
 * same equivocation in the other order is the same evidence. The pool is bounded: beyond
 * MAX_PENDING_EVIDENCE the oldest-height item is dropped.
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex } from '@ethereumjs/util';
import { encodeEvidence } from './bft/codec.ts';
import { normalizeEvidence } from './bft/verify.ts';
import type { DuplicateVoteEvidence } from './bft/types.ts';
import { evidenceVerdict, type EvidenceVerdict } from './block-rules.ts';
import { MAX_PENDING_EVIDENCE } from './limits.ts';

/** Store key of committed evidence: its hash, so distinct evidence never shares a key. */
export function evidenceKey(evb: Uint8Array): string {
  return 'ev:' + bytesToHex(keccak_256(evb)).slice(2);
}

/** Evidence in canonical order and its encoding. */
export function canonicalEvidence(ev: DuplicateVoteEvidence): { ev: DuplicateVoteEvidence; bytes: Uint8Array; key: string } {
  const n = normalizeEvidence(ev.voteA, ev.voteB);
  const bytes = encodeEvidence(n);
  return { ev: n, bytes, key: evidenceKey(bytes) };
}

export interface EvidencePoolOptions {
  /** reads the committed-evidence index (chain store meta) */
  isCommitted: (key: string) => Promise<boolean>;
  max?: number;
}

export class EvidencePool {
  private readonly pending = new Map<string, { ev: DuplicateVoteEvidence; bytes: Uint8Array; height: number }>();
  private readonly committedCache = new Set<string>();
  private readonly o: EvidencePoolOptions;
  private readonly max: number;

  constructor(o: EvidencePoolOptions) {
    this.o = o;
    this.max = o.max ?? MAX_PENDING_EVIDENCE;
  }

  get size(): number {
    return this.pending.size;
  }

  async committed(key: string): Promise<boolean> {
    if (this.committedCache.has(key)) return true;
    if (await this.o.isCommitted(key)) {
      this.remember(key);
      return true;
    }
    return false;
  }

  /**
   * The verdict on evidence of `evidenceHeight` while deciding `height`, by the one rule.
   * The age check comes first and costs nothing; the store is read only for in-range evidence.
   */
  async verdict(evidenceHeight: number, key: string, height: number): Promise<EvidenceVerdict> {
    const v = evidenceVerdict(evidenceHeight, height, false);
    if (v !== 'ok') return v;
    return evidenceVerdict(evidenceHeight, height, await this.committed(key));
  }

  has(key: string): boolean {
    return this.pending.has(key);
  }

  /** Add verified evidence (the caller checked the verdict and signatures). False when known. */
  add(c: { ev: DuplicateVoteEvidence; bytes: Uint8Array; key: string }): boolean {
    if (this.pending.has(c.key) || this.committedCache.has(c.key)) return false;
    this.pending.set(c.key, { ev: c.ev, bytes: c.bytes, height: c.ev.voteA.height });
    if (this.pending.size > this.max) {
      let oldest: string | undefined;
      let h = Infinity;
      for (const [k, e] of this.pending) if (e.height < h) (h = e.height), (oldest = k);
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    return true;
  }

  /** Up to `n` pending items usable at `height`, re-checked by the rule (stale ones are dropped). */
  async pick(height: number, n: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for (const [k, e] of [...this.pending]) {
      if (out.length >= n) break;
      const v = await this.verdict(e.height, k, height);
      if (v === 'ok') out.push(e.bytes);
      else if (v !== 'future') this.pending.delete(k);
    }
    return out;
  }

  /** A block carrying these evidence items was committed. */
  markCommitted(keys: string[]): void {
    for (const k of keys) {
      this.pending.delete(k);
      this.remember(k);
    }
  }

  private remember(key: string): void {
    if (this.committedCache.size >= 4096) this.committedCache.clear();
    this.committedCache.add(key);
  }
}
