/**
 * The node's content store (pocchain_putContent, GET /content/0x<hash>) with bounds: one upload at
 * most `maxBytes`, all blobs together at most `quotaBytes`, and a blob is kept only when its hash
 * is registered on chain (an app or dataset registered, a result digest revealed) within `graceMs`
 * of its upload. Anyone may upload, so unregistered bytes are garbage: they are collected when the
 * store needs room, and on a timer.
 *
 * Persistence: blobs are files named by their hash (ContentCache, written atomically); a pinned
 * blob (registered) has an empty `<hash>.pin` file beside it. Upload time is the blob file's mtime.
 * The index (sizes, times, pins) is rebuilt from the directory at start. Registration is learnt
 * from committed blocks' Hub logs (`onRegistered`); hashes registered recently are remembered in
 * memory for `graceMs`, so a result uploaded just after its reveal is pinned at upload. (After a
 * restart that memory is empty: such an upload is then kept for the grace period only.)
 */
import { open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ContentCache, contentHash, normalizeHash } from '../executor/content.ts';
import { PocError } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';

export type ContentStoreErrorCode = 'CONTENT_EMPTY' | 'CONTENT_TOO_LARGE' | 'CONTENT_STORE_FULL';

/** Default total of all stored blobs. */
export const DEFAULT_CONTENT_QUOTA_BYTES = 1024 * 1024 * 1024;
/** Default time an upload may wait for its on-chain registration before it may be removed. */
export const DEFAULT_CONTENT_GRACE_MS = 60 * 60_000;

export interface BlobEntry {
  bytes: number;
  /** upload time, ms since epoch */
  storedAt: number;
  pinned: boolean;
}

/**
 * Which blobs to remove: unpinned ones older than the grace period, oldest first. With `need`
 * (bytes to free), only as many as that takes; without, all expired ones.
 */
export function gcPlan(entries: ReadonlyMap<string, BlobEntry>, now: number, graceMs: number, need?: number): string[] {
  const expired = [...entries].filter(([, e]) => !e.pinned && now - e.storedAt >= graceMs).sort((a, b) => a[1].storedAt - b[1].storedAt || (a[0] < b[0] ? -1 : 1));
  if (need === undefined) return expired.map(([h]) => h);
  const out: string[] = [];
  let freed = 0;
  for (const [h, e] of expired) {
    if (freed >= need) break;
    out.push(h);
    freed += e.bytes;
  }
  return out;
}

export interface ContentStoreOptions {
  dir: string;
  maxBytes: number;
  quotaBytes: number;
  graceMs: number;
  logger?: Logger;
  now?: () => number;
}

export class ContentStore {
  readonly cache: ContentCache;
  private readonly o: Required<Omit<ContentStoreOptions, 'logger'>> & { logger: Logger };
  private readonly index = new Map<string, BlobEntry>();
  /** hashes registered on chain recently (hash → when seen), for uploads that follow their registration */
  private readonly recent = new Map<string, number>();
  private used = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: ContentStoreOptions) {
    this.o = { now: Date.now, logger: silentLogger, ...opts };
    this.cache = new ContentCache(opts.dir);
  }

  /** Rebuild the index from the directory (and drop leftovers of interrupted writes). */
  async load(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.o.dir);
    } catch {
      return; // no directory yet: nothing stored
    }
    const pins = new Set(names.filter((n) => /^[0-9a-f]{64}\.pin$/.test(n)).map((n) => '0x' + n.slice(0, 64)));
    for (const n of names) {
      if (n.includes('.tmp-')) {
        await rm(join(this.o.dir, n), { force: true });
        continue;
      }
      if (!/^[0-9a-f]{64}$/.test(n)) continue;
      const s = await stat(join(this.o.dir, n));
      const hash = '0x' + n;
      this.index.set(hash, { bytes: s.size, storedAt: s.mtimeMs, pinned: pins.has(hash) });
      this.used += s.size;
    }
  }

  /** Bytes stored and the quota. */
  usage(): { used: number; quota: number; blobs: number; pinned: number } {
    let pinned = 0;
    for (const e of this.index.values()) if (e.pinned) pinned++;
    return { used: this.used, quota: this.o.quotaBytes, blobs: this.index.size, pinned };
  }

  get(hash: string): Promise<Uint8Array | undefined> {
    return this.cache.get(hash);
  }

  /** Store bytes (bounded); returns their hash. Uploads are serialised so the quota holds. */
  put(bytes: Uint8Array): Promise<string> {
    // check the size before queueing: a refused upload costs nothing
    if (bytes.length === 0) return Promise.reject(new PocError<ContentStoreErrorCode>('CONTENT_EMPTY', 'content is empty'));
    if (bytes.length > this.o.maxBytes) return Promise.reject(new PocError<ContentStoreErrorCode>('CONTENT_TOO_LARGE', `content too large: ${bytes.length} bytes, limit ${this.o.maxBytes} per upload`, { data: { bytes: bytes.length, limit: this.o.maxBytes } }));
    const run = this.queue.then(() => this.putNow(bytes));
    this.queue = run.catch(() => {});
    return run;
  }

  private async putNow(bytes: Uint8Array): Promise<string> {
    const hash = contentHash(bytes);
    if (this.index.has(hash)) return hash;
    if (this.used + bytes.length > this.o.quotaBytes) await this.collect(this.used + bytes.length - this.o.quotaBytes);
    if (this.used + bytes.length > this.o.quotaBytes) {
      throw new PocError<ContentStoreErrorCode>('CONTENT_STORE_FULL', `content store full: ${this.used} of ${this.o.quotaBytes} bytes used, ${bytes.length} more do not fit; uploads not registered on chain within ${Math.round(this.o.graceMs / 1000)} s are removed, try again later`, { data: { used: this.used, quota: this.o.quotaBytes } });
    }
    await this.cache.put(bytes);
    const pinned = this.recent.has(hash);
    if (pinned) await this.writePin(hash);
    this.index.set(hash, { bytes: bytes.length, storedAt: this.o.now(), pinned });
    this.used += bytes.length;
    return hash;
  }

  /** A hash was registered on chain (from a committed block's logs): keep its blob for good. */
  async onRegistered(hash: string): Promise<void> {
    const h = normalizeHash(hash);
    const now = this.o.now();
    this.recent.delete(h);
    this.recent.set(h, now);
    // forget registrations older than the grace period (an upload that late is not expected)
    for (const [k, t] of this.recent) {
      if (now - t < this.o.graceMs && this.recent.size <= 100_000) break;
      this.recent.delete(k);
    }
    const e = this.index.get(h);
    if (e && !e.pinned) {
      await this.writePin(h);
      e.pinned = true;
    }
  }

  /** Remove expired unregistered blobs (all, or enough to free `need` bytes). Serialised with uploads. */
  gc(): Promise<number> {
    const run = this.queue.then(() => this.collect());
    this.queue = run.catch(() => {});
    return run;
  }

  private async collect(need?: number): Promise<number> {
    const plan = gcPlan(this.index, this.o.now(), this.o.graceMs, need);
    let freed = 0;
    for (const h of plan) {
      const e = this.index.get(h)!;
      await rm(join(this.o.dir, h.slice(2)), { force: true });
      this.index.delete(h);
      this.used -= e.bytes;
      freed += e.bytes;
    }
    if (plan.length) this.o.logger.info({ removed: plan.length, freed, used: this.used }, 'content: removed uploads never registered on chain');
    return freed;
  }

  private async writePin(hash: string): Promise<void> {
    const fh = await open(join(this.o.dir, hash.slice(2) + '.pin'), 'w');
    await fh.close();
  }
}
