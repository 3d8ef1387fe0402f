/**
 * Content by hash: apps (wasm) and datasets are named by keccak256 of their bytes.
 *
 * fetchContent() downloads from a node's content endpoint (`GET <base>/content/0x<hash>`) or a given
 * URL, streams with a size limit (the body is cut at maxBytes + 1, whatever Content-Length says),
 * verifies the hash and keeps verified bytes in a local content-addressed cache. Nothing unverified
 * is ever returned or cached: a cached file is re-hashed on read and dropped if it does not match.
 * contentHandler() is the serving side, for any http.Server (a node's content store, an executor
 * serving its result bytes).
 */
import { writeFileAtomic } from '../lib/fs.ts';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { keccak256 } from 'ethers';
import { PocError } from '../lib/errors.ts';

export type ContentErrorCode = 'CONTENT_HASH_MISMATCH' | 'CONTENT_TOO_LARGE' | 'CONTENT_UNAVAILABLE' | 'CONTENT_BAD_HASH';

const HASH_RE = /^0x[0-9a-f]{64}$/;

/** Largest app or dataset an executor accepts by default (bytes). */
export const MAX_CONTENT_BYTES = 8 << 20;

/** keccak256 of content bytes, 0x-prefixed lower-case hex. */
export function contentHash(bytes: Uint8Array): string {
  return keccak256(bytes);
}

/** Normalise a content hash to 0x + 64 lower-case hex, or throw CONTENT_BAD_HASH. */
export function normalizeHash(hash: string): string {
  const h = (hash.startsWith('0x') || hash.startsWith('0X') ? '0x' + hash.slice(2) : '0x' + hash).toLowerCase();
  if (!HASH_RE.test(h)) throw new PocError<ContentErrorCode>('CONTENT_BAD_HASH', `not a 32-byte hex hash: ${hash.slice(0, 80)}`);
  return h;
}

/** A directory of verified content, one file per hash. */
export class ContentCache {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  #path(hash: string): string {
    return join(this.dir, normalizeHash(hash).slice(2));
  }

  /** Bytes for `hash` if cached and still matching; a damaged file is deleted. */
  async get(hash: string): Promise<Uint8Array | undefined> {
    const path = this.#path(hash);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch {
      return undefined;
    }
    if (contentHash(bytes) === normalizeHash(hash)) return bytes;
    await rm(path, { force: true });
    return undefined;
  }

  /** Store bytes (atomically: tmp + fsync + rename); returns their hash. */
  async put(bytes: Uint8Array): Promise<string> {
    const hash = contentHash(bytes);
    await mkdir(this.dir, { recursive: true });
    const path = this.#path(hash);
    await writeFileAtomic(path, bytes, 0o644);
    return hash;
  }
}

export interface FetchContentParams {
  /** Expected keccak256 of the bytes. */
  hash: string;
  /** Base URL of a node serving `/content/0x<hash>` (e.g. http://127.0.0.1:8545). */
  baseUrl?: string;
  /** Or the exact URL to fetch. */
  url?: string;
  /** Refuse bodies larger than this (CONTENT_TOO_LARGE). */
  maxBytes: number;
  /** Whole-request timeout; default 30 s. */
  timeoutMs?: number;
  /** Look here first and store verified downloads here. */
  cache?: ContentCache;
}

/** Fetch content by hash, verified; from the cache when present. */
export async function fetchContent(p: FetchContentParams): Promise<Uint8Array> {
  const hash = normalizeHash(p.hash);
  const cached = await p.cache?.get(hash);
  if (cached) {
    if (cached.length > p.maxBytes) throw tooLarge(hash, p.maxBytes);
    return cached;
  }
  const url = p.url ?? (p.baseUrl ? `${p.baseUrl.replace(/\/+$/, '')}/content/${hash}` : undefined);
  if (!url) throw new PocError<ContentErrorCode>('CONTENT_UNAVAILABLE', 'no url or baseUrl to fetch content from');
  const bytes = await download(url, hash, p.maxBytes, p.timeoutMs ?? 30_000);
  const got = contentHash(bytes);
  if (got !== hash) {
    throw new PocError<ContentErrorCode>('CONTENT_HASH_MISMATCH', `content from ${url} hashes to ${got}, expected ${hash}`, { data: { url, expected: hash, got } });
  }
  await p.cache?.put(bytes);
  return bytes;
}

export interface FetchAssetParams {
  /** Expected keccak256 of the bytes (an app's or a dataset's hash). */
  hash: string;
  /** Base URL of the node whose content store is asked first. */
  baseUrl: string;
  /** The uri the owner registered with the app or dataset: the fallback when the node has none. */
  uri?: string;
  maxBytes: number;
  timeoutMs?: number;
  cache?: ContentCache;
}

/**
 * An app's or dataset's bytes by hash, verified: the node's content store first, then the uri its
 * owner registered (http(s) only) when the node does not have them. One path for everyone who
 * runs a workload (the executor agent, `pocchain task verify`), so they see the same bytes.
 */
export async function fetchAsset(p: FetchAssetParams): Promise<Uint8Array> {
  const common = { hash: p.hash, maxBytes: p.maxBytes, ...(p.timeoutMs !== undefined ? { timeoutMs: p.timeoutMs } : {}), ...(p.cache ? { cache: p.cache } : {}) };
  try {
    return await fetchContent({ ...common, baseUrl: p.baseUrl });
  } catch (e) {
    // the node does not have it (404): try the uri the owner registered
    if (!(e instanceof PocError && e.code === 'CONTENT_UNAVAILABLE') || !/^https?:\/\//.test(p.uri ?? '')) throw e;
  }
  return fetchContent({ ...common, url: p.uri! });
}

function tooLarge(hash: string, maxBytes: number): PocError<ContentErrorCode> {
  return new PocError<ContentErrorCode>('CONTENT_TOO_LARGE', `content ${hash} is larger than ${maxBytes} bytes`, { data: { hash, maxBytes } });
}

async function download(url: string, hash: string, maxBytes: number, timeoutMs: number): Promise<Uint8Array> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs);
  try {
    let res: Response;
    try {
      res = await fetch(url, { signal: controller.signal, redirect: 'follow' });
    } catch (cause) {
      throw new PocError<ContentErrorCode>('CONTENT_UNAVAILABLE', `fetching ${url} failed: ${(cause as Error).message}`, { data: { url }, cause });
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => {});
      throw new PocError<ContentErrorCode>('CONTENT_UNAVAILABLE', `fetching ${url}: HTTP ${res.status}`, { data: { url, status: res.status } });
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > maxBytes) {
      await res.body.cancel().catch(() => {});
      throw tooLarge(hash, maxBytes);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.length;
        if (total > maxBytes) {
          await reader.cancel().catch(() => {});
          throw tooLarge(hash, maxBytes);
        }
        chunks.push(value);
      }
    } catch (e) {
      if (e instanceof PocError) throw e;
      throw new PocError<ContentErrorCode>('CONTENT_UNAVAILABLE', `reading ${url} failed: ${(e as Error).message}`, { data: { url }, cause: e });
    }
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * An http request handler for `GET /content/0x<hash>`: answers 200 with the bytes, 404 when
 * `lookup` has none, 400 for a malformed hash (before any lookup), 503 when `lookup` throws
 * CONTENT_BUSY. Returns false (and answers nothing) for other paths,
 * so it can be chained in front of another handler.
 */
export function contentHandler(lookup: (hash: string) => Promise<Uint8Array | undefined>) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? '').split('?')[0]!;
    if (!path.startsWith('/content/')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    let hash: string;
    try {
      hash = normalizeHash(path.slice('/content/'.length));
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('bad content hash\n');
      return true;
    }
    let bytes: Uint8Array | undefined;
    try {
      bytes = await lookup(hash);
    } catch (e) {
      // the node is fetching too much from its peers right now: a retry soon will do
      if (!(e instanceof PocError && e.code === 'CONTENT_BUSY')) throw e;
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('busy fetching content from peers, retry\n');
      return true;
    }
    if (!bytes) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return true;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length, 'cache-control': 'public, max-age=31536000, immutable' });
    res.end(req.method === 'HEAD' ? undefined : bytes);
    return true;
  };
}
