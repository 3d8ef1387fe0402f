/**
 * Failover between nodes: an executor may be given several nodes (`--rpc URL1,URL2,...`). It uses
 * the first one until a request to it fails at the transport level (connection refused, reset,
 * timeout, HTTP error) and then moves on to the next, round robin. JSON-RPC errors (a revert, a
 * refused transaction) are answers, not failures: they never switch nodes. Nothing is lost by a
 * switch: the agent's catch-up scan starts from its saved cursor, and its websocket subscription
 * reconnects to whichever node is current.
 */
import { FetchRequest, JsonRpcProvider, type JsonRpcPayload, type JsonRpcResult } from 'ethers';
import { PocError } from '../lib/errors.ts';

export type EndpointErrorCode = 'ENDPOINTS_EMPTY';

/** Split `--rpc` values (comma-separated, possibly repeated) into distinct URLs, order kept. */
export function parseRpcList(values: string | readonly string[]): string[] {
  const all = (typeof values === 'string' ? [values] : values).flatMap((v) => v.split(',')).map((s) => s.trim().replace(/\/+$/, '')).filter(Boolean);
  const out = [...new Set(all)];
  if (out.length === 0) throw new PocError<EndpointErrorCode>('ENDPOINTS_EMPTY', 'no node URL given: --rpc URL[,URL...]');
  return out;
}

/** The node in use and the order to fail over in. */
export class Endpoints {
  readonly urls: readonly string[];
  #i = 0;
  /** times the current node changed */
  switches = 0;
  onSwitch?: (from: string, to: string) => void;

  constructor(urls: readonly string[]) {
    if (urls.length === 0) throw new PocError<EndpointErrorCode>('ENDPOINTS_EMPTY', 'no node URL given: --rpc URL[,URL...]');
    this.urls = urls;
  }

  current(): string {
    return this.urls[this.#i]!;
  }

  /** ws URL of the current node (http→ws). */
  currentWs(): string {
    return this.current().replace(/^http/, 'ws');
  }

  /** `url` failed: if it is still the current node, move to the next. Returns the current node. */
  failed(url: string): string {
    if (url === this.current() && this.urls.length > 1) {
      this.#i = (this.#i + 1) % this.urls.length;
      this.switches++;
      this.onSwitch?.(url, this.current());
    }
    return this.current();
  }
}

/** EVM calls: they run on the node's bounded pool of call workers (chain/rpc/call-pool.ts). */
const EVM_CALLS = new Set(['eth_call', 'eth_estimateGas']);
/** The node's "limit exceeded" answer: its call queue is full, try again later (EIP-1474). */
const NODE_BUSY = -32005;
/** Retries of a call the node was too busy to queue: ~6 s in all, doubling from 50 ms. */
const BUSY_RETRIES = 7;

/**
 * A JsonRpcProvider over the current endpoint: a transport failure marks the node failed and the
 * same payload is sent to the next, each node tried at most once per call. EVM calls
 * are bounded in flight and re-sent when the node answers busy (see the constructor).
 */
export class FailoverProvider extends JsonRpcProvider {
  readonly endpoints: Endpoints;
  readonly #timeoutMs: number;
  readonly #maxCalls: number;
  #calls = 0;
  readonly #waiting: (() => void)[] = [];
  /** calls the node answered "busy" and that were sent again */
  busyRetries = 0;

  /**
   * `maxCalls`: EVM calls in flight at once. An executor with many open tasks would otherwise ask
   * for one per task at each step and overflow the node's call queue (bench:compute at capacity 64:
   * ~6,500 "too many concurrent calls" answers, each costing its task a retry a block later); a
   * call answered busy anyway is sent again after a short backoff instead of failing its step.
   */
  constructor(endpoints: Endpoints, pollingMs = 100, timeoutMs = 10_000, maxCalls = 4) {
    super(endpoints.current(), undefined, { cacheTimeout: -1, pollingInterval: pollingMs, staticNetwork: true, batchMaxCount: 1 });
    this.endpoints = endpoints;
    this.#timeoutMs = timeoutMs;
    this.#maxCalls = maxCalls;
  }

  override _getConnection(): FetchRequest {
    const r = new FetchRequest(this.endpoints.current());
    r.timeout = this.#timeoutMs;
    return r;
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const one = Array.isArray(payload) ? (payload.length === 1 ? payload[0] : undefined) : payload;
    if (!one || !EVM_CALLS.has(one.method)) return this.#failover(payload);
    if (this.#calls >= this.#maxCalls) await new Promise<void>((r) => this.#waiting.push(r));
    else this.#calls++;
    try {
      for (let i = 0; ; i++) {
        const res = await this.#failover(payload);
        const busy = res.some((r) => 'error' in r && (r as { error?: { code?: number } }).error?.code === NODE_BUSY);
        if (!busy || i >= BUSY_RETRIES) return res;
        this.busyRetries++;
        await new Promise((r) => setTimeout(r, 50 * 2 ** i));
      }
    } finally {
      // hand the slot straight to the next waiter, or free it
      const next = this.#waiting.shift();
      if (next) next();
      else this.#calls--;
    }
  }

  async #failover(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    let last: unknown;
    for (let tries = 0; tries < this.endpoints.urls.length; tries++) {
      const url = this.endpoints.current();
      try {
        return (await super._send(payload)) as JsonRpcResult[];
      } catch (e) {
        last = e;
        this.endpoints.failed(url);
      }
    }
    throw last;
  }
}
