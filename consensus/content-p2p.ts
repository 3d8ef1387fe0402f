/**
 * Content over p2p: a node that lacks a blob asks its peers for it, so an app uploaded to one node
 * can be fetched from any node (issue 14).
 *
 * Protocol `/pocchain/<chainId>/content/1` (chain/p2p request/response, one exchange per stream):
 *   request  = the 32 raw bytes of the keccak256 content hash (anything else: P2P_BAD_REQUEST,
 *              the requester is penalised, before any lookup);
 *   response = 0x00 (not here) | 0x01 ‖ blob bytes.
 * A server answers from its local store only, never by asking its own peers: a miss cannot fan
 * out through the network, and one request costs one disk read.
 *
 * Fetching (ContentFetcher, I/O injected): peers are asked one at a time (those that served us
 * before first), at most `maxPeers` of them, each with a timeout and a response limit of the
 * content size limit + the status byte. Bytes that do not hash to the requested hash are not
 * believed: the peer is penalised and the next one asked. Concurrent misses for one hash share one
 * fetch (single flight); at most `maxConcurrent` hashes are fetched at once and `maxQueued` wait,
 * beyond that CONTENT_BUSY (retry later). No peer has it: CONTENT_UNAVAILABLE.
 */
import { PocError, isPocError } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { contentHash, normalizeHash } from '../executor/content.ts';
import { p2pError } from '../chain/p2p/errors.ts';

/** Name of the content protocol (see chain/p2p protocolId). */
export const CONTENT_PROTOCOL = 'content';
/** Largest request a content server reads: the raw hash, with room to spare. */
export const CONTENT_MAX_REQUEST_BYTES = 64;

const NOT_HERE = 0;
const HERE = 1;

/**
 * CONTENT_UNAVAILABLE: no connected peer (among those asked) has the blob, or every answer was
 * wrong; try later or use the uri registered with the app/dataset.
 * CONTENT_BUSY: too many fetches in flight on this node; retry in a moment.
 * CONTENT_BAD_RESPONSE: a peer's answer is not a content response (that peer is skipped).
 */
export type ContentFetchErrorCode = 'CONTENT_UNAVAILABLE' | 'CONTENT_BUSY' | 'CONTENT_BAD_RESPONSE';

/** The request for `hash` (normalised or not; throws CONTENT_BAD_HASH when malformed). */
export function encodeContentRequest(hash: string): Uint8Array {
  return Uint8Array.from(Buffer.from(normalizeHash(hash).slice(2), 'hex'));
}

/** The hash a request asks for; throws P2P_BAD_REQUEST (requester penalised) unless it is 32 bytes. */
export function decodeContentRequest(req: Uint8Array): string {
  if (req.length !== 32) throw p2pError('P2P_BAD_REQUEST', `content request must be a 32-byte hash, got ${req.length} bytes`);
  return '0x' + Buffer.from(req).toString('hex');
}

export function encodeContentResponse(bytes: Uint8Array | undefined): Uint8Array {
  if (!bytes) return Uint8Array.of(NOT_HERE);
  const out = new Uint8Array(bytes.length + 1);
  out[0] = HERE;
  out.set(bytes, 1);
  return out;
}

/** The blob in a response, or undefined for "not here"; throws CONTENT_BAD_RESPONSE otherwise. */
export function decodeContentResponse(body: Uint8Array): Uint8Array | undefined {
  if (body.length === 1 && body[0] === NOT_HERE) return undefined;
  if (body.length > 1 && body[0] === HERE) return body.subarray(1);
  throw new PocError<ContentFetchErrorCode>('CONTENT_BAD_RESPONSE', 'not a content response', { data: { bytes: body.length } });
}

/**
 * The request handler of a content server: `lookup` reads the LOCAL store only. Malformed requests
 * are refused before any lookup.
 */
export function contentServer(lookup: (hash: string) => Promise<Uint8Array | undefined>, onServed?: (found: boolean, bytes: number) => void) {
  return async (req: Uint8Array): Promise<Uint8Array> => {
    const hash = decodeContentRequest(req);
    const bytes = await lookup(hash);
    onServed?.(!!bytes, bytes?.length ?? 0);
    return encodeContentResponse(bytes);
  };
}

/** Outcome of asking one peer. */
export type PeerOutcome = 'served' | 'missing' | 'mismatch' | 'error';

/** What the fetcher needs of the network (chain/p2p P2PNode in production, fakes in tests). */
export interface ContentNet {
  /** connected peers */
  peers(): string[];
  request(peer: string, req: Uint8Array, opts: { timeoutMs: number; maxResponseBytes: number }): Promise<Uint8Array>;
  /** the peer answered bytes that are not the blob asked for */
  penalize(peer: string): void;
}

export interface ContentFetcherOptions {
  net: ContentNet;
  /** largest blob accepted (the node's content size limit) */
  maxBytes: number;
  /** keep verified bytes (the node's store; may refuse, e.g. when full: the bytes are served anyway) */
  save(bytes: Uint8Array): Promise<void>;
  /** peers asked per fetch, default 6 */
  maxPeers?: number;
  /** per-peer request timeout, default 5 s */
  timeoutMs?: number;
  /** hashes fetched at once, default 4 */
  maxConcurrent?: number;
  /** hashes waiting for a slot, default 64 */
  maxQueued?: number;
  /** one call per peer asked */
  onPeer?(outcome: PeerOutcome, bytes: number): void;
  logger?: Logger;
}

/**
 * Pure order in which to ask peers: those that served us more often first, then by id
 * (deterministic), at most `max`.
 */
export function peerOrder(peers: readonly string[], served: ReadonlyMap<string, number>, max: number): string[] {
  return [...new Set(peers)].sort((a, b) => (served.get(b) ?? 0) - (served.get(a) ?? 0) || (a < b ? -1 : a > b ? 1 : 0)).slice(0, max);
}

export class ContentFetcher {
  readonly #o: Required<Omit<ContentFetcherOptions, 'onPeer' | 'logger'>> & Pick<ContentFetcherOptions, 'onPeer'> & { logger: Logger };
  readonly #inflight = new Map<string, Promise<Uint8Array>>();
  readonly #served = new Map<string, number>();
  readonly #waiting: (() => void)[] = [];
  #active = 0;

  constructor(o: ContentFetcherOptions) {
    this.#o = { maxPeers: 6, timeoutMs: 5000, maxConcurrent: 4, maxQueued: 64, logger: silentLogger, ...o };
  }

  /** Fetches running and waiting (for tests and metrics). */
  load(): { active: number; queued: number; hashes: number } {
    return { active: this.#active, queued: this.#waiting.length, hashes: this.#inflight.size };
  }

  /** The verified blob from a peer (saved locally). Throws CONTENT_BAD_HASH, CONTENT_BUSY, CONTENT_UNAVAILABLE. */
  fetch(hash: string): Promise<Uint8Array> {
    let h: string;
    try {
      h = normalizeHash(hash);
    } catch (e) {
      return Promise.reject(e);
    }
    const running = this.#inflight.get(h);
    if (running) return running;
    if (this.#active >= this.#o.maxConcurrent && this.#waiting.length >= this.#o.maxQueued) {
      return Promise.reject(new PocError<ContentFetchErrorCode>('CONTENT_BUSY', `too many content fetches in flight (${this.#active} running, ${this.#waiting.length} waiting): retry in a moment`, { data: { hash: h } }));
    }
    const p = this.#slot(() => this.#fetchNow(h)).finally(() => this.#inflight.delete(h));
    this.#inflight.set(h, p);
    return p;
  }

  async #slot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#o.maxConcurrent) await new Promise<void>((r) => this.#waiting.push(r));
    else this.#active++;
    try {
      return await fn();
    } finally {
      // hand the slot straight to the next waiter (active stays the same), or free it
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }

  async #fetchNow(hash: string): Promise<Uint8Array> {
    const o = this.#o;
    const req = encodeContentRequest(hash);
    const asked = peerOrder(o.net.peers(), this.#served, o.maxPeers);
    const tally: Record<PeerOutcome, number> = { served: 0, missing: 0, mismatch: 0, error: 0 };
    for (const peer of asked) {
      let blob: Uint8Array | undefined;
      try {
        blob = decodeContentResponse(await o.net.request(peer, req, { timeoutMs: o.timeoutMs, maxResponseBytes: o.maxBytes + 1 }));
      } catch (e) {
        tally.error++;
        o.onPeer?.('error', 0);
        o.logger.debug({ peer, hash, err: (e as Error).message, code: (e as PocError).code }, 'content: peer request failed');
        continue;
      }
      if (!blob) {
        tally.missing++;
        o.onPeer?.('missing', 0);
        continue;
      }
      if (blob.length > o.maxBytes || contentHash(blob) !== hash) {
        tally.mismatch++;
        o.onPeer?.('mismatch', blob.length);
        o.net.penalize(peer);
        this.#served.delete(peer);
        o.logger.warn({ peer, hash, bytes: blob.length }, 'content: peer answered bytes that are not the blob asked for');
        continue;
      }
      tally.served++;
      o.onPeer?.('served', blob.length);
      this.#served.set(peer, (this.#served.get(peer) ?? 0) + 1);
      // copy out of the response buffer: the store and the caller keep it
      const bytes = blob.slice();
      try {
        await o.save(bytes);
      } catch (e) {
        // e.g. the store is full: serve the verified bytes all the same, just not cached
        o.logger.warn({ hash, err: (e as Error).message, code: isPocError(e) ? e.code : undefined }, 'content: fetched from a peer but not kept');
      }
      o.logger.debug({ peer, hash, bytes: bytes.length }, 'content: fetched from a peer');
      return bytes;
    }
    throw new PocError<ContentFetchErrorCode>('CONTENT_UNAVAILABLE', `content ${hash} is not on this node, and none of the ${asked.length} peer(s) asked has it`, { data: { hash, asked: asked.length, ...tally } });
  }
}
