/**
 * JSON-RPC 2.0 transport: HTTP POST and WebSocket on the same port, batches, size limits, and
 * the standard error codes. Method logic lives elsewhere; this file only frames and dispatches.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { silentLogger, type Logger } from '../../lib/log.ts';
import { WS_CLOSE_SLOW, WS_MAX_BUFFERED_BYTES, WS_MAX_INFLIGHT } from './limits.ts';

/** An error returned to the client as a JSON-RPC error object. */
export class RpcError extends Error {
  readonly code: number;
  readonly data?: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.code = code;
    if (data !== undefined) this.data = data;
  }
}

export const RPC = {
  PARSE: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL: -32603,
  SERVER: -32000,
  LIMIT: -32005,
  REVERTED: 3,
} as const;

/** A connection a method is called from; ws connections can receive notifications. */
export interface RpcConnection {
  id: number;
  /** who is calling (remote address): per-client quotas (filters) are counted by it */
  client?: string;
  notify?: (subscription: string, result: unknown) => void;
  onClose?: (fn: () => void) => void;
}

export type RpcMethod = (params: unknown[], conn: RpcConnection) => Promise<unknown> | unknown;

export interface RpcServerOptions {
  host?: string;
  port: number;
  methods: Record<string, RpcMethod>;
  /** extra GET routes (e.g. /content/<hash>, /health) */
  routes?: Record<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>;
  maxBodyBytes?: number;
  maxBatch?: number;
  /** bytes a websocket may have queued unsent before it is closed as too slow (WS_MAX_BUFFERED_BYTES) */
  maxWsBufferedBytes?: number;
  logger?: Logger;
  /** a websocket closed because its reader fell behind (metrics) */
  onSlowClient?: () => void;
  onCall?: (method: string, ok: boolean, seconds: number) => void;
}

type Req = { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };

let nextConnId = 1;

/**
 * Idle keep-alive connections stay open this long. Node's default (5 s) races clients that reuse a
 * socket after a pause: their request meets the server's FIN ("other side closed"). Load balancers
 * and geth keep idle connections 60–120 s; clients' own idle timeouts are shorter, so they close
 * first. Only idle sockets are timed out: a connection with a request in flight is never closed.
 */
export const HTTP_KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** Headers of a request must arrive within this; above the keep-alive timeout as Node requires. */
export const HTTP_HEADERS_TIMEOUT_MS = 66_000;

export class RpcServer {
  private readonly opts: Required<Omit<RpcServerOptions, 'routes' | 'onCall' | 'onSlowClient'>> & Pick<RpcServerOptions, 'routes' | 'onCall' | 'onSlowClient'>;
  private server?: Server;
  private wss?: WebSocketServer;
  private readonly log: Logger;

  constructor(opts: RpcServerOptions) {
    this.opts = { host: '127.0.0.1', maxBodyBytes: 5 * 1024 * 1024, maxBatch: 1000, maxWsBufferedBytes: WS_MAX_BUFFERED_BYTES, logger: silentLogger, ...opts };
    this.log = this.opts.logger.child({ module: 'rpc' });
  }

  /** Listen; rejects with EADDRINUSE etc. so the CLI can say which port is busy. */
  async start(): Promise<void> {
    const server = createServer({ keepAliveTimeout: HTTP_KEEP_ALIVE_TIMEOUT_MS, headersTimeout: HTTP_HEADERS_TIMEOUT_MS }, (req, res) => void this.onHttp(req, res));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.opts.maxBodyBytes });
    server.on('upgrade', (req, socket, head) => {
      this.wss!.handleUpgrade(req, socket, head, (ws) => this.onWs(ws, req.socket.remoteAddress ?? 'unknown'));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const addr = server.address();
    if (addr && typeof addr === 'object') this.opts.port = addr.port;
    this.log.info({ host: this.opts.host, port: this.opts.port }, 'rpc listening');
  }

  get port(): number {
    return this.opts.port;
  }

  async stop(): Promise<void> {
    for (const c of this.wss?.clients ?? []) c.terminate();
    this.wss?.close();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeAllConnections();
  }

  private async onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown) => {
      const s = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
      res.end(s);
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'content-type', 'access-control-allow-methods': 'POST, GET' });
      return void res.end();
    }
    if (req.method === 'GET') {
      const path = (req.url ?? '/').split('?')[0]!;
      const route = Object.entries(this.opts.routes ?? {}).find(([p]) => path === p || (p.endsWith('/') && path.startsWith(p)));
      if (route) {
        try {
          return await route[1](req, res);
        } catch (e) {
          return send(500, { error: (e as Error).message });
        }
      }
      return send(404, { error: 'not found: JSON-RPC is served by POST on /' });
    }
    if (req.method !== 'POST') return send(405, { jsonrpc: '2.0', id: null, error: { code: RPC.INVALID_REQUEST, message: `method ${req.method} not allowed: use POST` } });
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.opts.maxBodyBytes) {
      req.resume();
      return send(413, { jsonrpc: '2.0', id: null, error: { code: RPC.INVALID_REQUEST, message: `request body too large: ${declared} bytes, limit ${this.opts.maxBodyBytes}` } });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    for await (const c of req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > this.opts.maxBodyBytes) {
        tooBig = true;
        break;
      }
      chunks.push(c);
    }
    if (tooBig) return send(413, { jsonrpc: '2.0', id: null, error: { code: RPC.INVALID_REQUEST, message: `request body too large: limit ${this.opts.maxBodyBytes} bytes` } });
    const reply = await this.handleText(Buffer.concat(chunks).toString('utf8'), { id: nextConnId++, client: req.socket.remoteAddress ?? 'unknown' });
    if (reply === undefined) return void res.writeHead(204).end();
    send(200, reply);
  }

  private onWs(ws: WebSocket, client: string): void {
    const closers: (() => void)[] = [];
    const limit = this.opts.maxWsBufferedBytes;
    // Backpressure: a reader that does not keep up is closed, never buffered for without bound.
    // Memory per connection stays under the limit plus one message (close() flushes then ends;
    // ws destroys the socket if the peer never reads the close frame).
    /** True (after closing it) when the connection's unsent bytes passed the limit. */
    const tooSlow = () => {
      if (ws.bufferedAmount <= limit) return false;
      this.log.warn({ client, buffered: ws.bufferedAmount, limit }, 'websocket reader too slow: closing');
      this.opts.onSlowClient?.();
      ws.close(WS_CLOSE_SLOW, `too slow: more than ${limit} bytes of unsent responses/notifications`);
      return true;
    };
    const send = (msg: unknown) => {
      if (ws.readyState === ws.OPEN && !tooSlow()) ws.send(JSON.stringify(msg));
    };
    const conn: RpcConnection = {
      id: nextConnId++,
      client,
      notify: (subscription, result) => send({ jsonrpc: '2.0', method: 'eth_subscription', params: { subscription, result } }),
      onClose: (fn) => closers.push(fn),
    };
    // In-flight work per connection is bounded too: past WS_MAX_INFLIGHT unanswered messages the
    // socket is paused, so a client that sends without reading meets TCP backpressure instead of
    // queueing work (and replies) in the node.
    let inflight = 0;
    ws.on('message', async (data) => {
      if (++inflight >= WS_MAX_INFLIGHT) ws.pause();
      try {
        // closed (e.g. as too slow), or about to be: do no more work for it
        if (ws.readyState !== ws.OPEN || tooSlow()) return;
        const reply = await this.handleText(data.toString(), conn);
        if (reply !== undefined) send(reply);
      } finally {
        if (--inflight < WS_MAX_INFLIGHT && ws.isPaused && ws.readyState === ws.OPEN) ws.resume();
      }
    });
    ws.on('close', () => closers.splice(0).forEach((f) => f()));
    ws.on('error', () => ws.terminate());
  }

  /** Parse and answer one request text (single or batch). */
  async handleText(text: string, conn: RpcConnection): Promise<unknown> {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { jsonrpc: '2.0', id: null, error: { code: RPC.PARSE, message: 'parse error: request body is not valid JSON' } };
    }
    if (Array.isArray(body)) {
      if (body.length === 0) return { jsonrpc: '2.0', id: null, error: { code: RPC.INVALID_REQUEST, message: 'empty batch' } };
      if (body.length > this.opts.maxBatch) return { jsonrpc: '2.0', id: null, error: { code: RPC.LIMIT, message: `batch too large: ${body.length} requests, limit ${this.opts.maxBatch}` } };
      const out = [];
      for (const r of body) {
        const a = await this.handleOne(r, conn);
        if (a !== undefined) out.push(a);
      }
      return out.length ? out : undefined;
    }
    return this.handleOne(body, conn);
  }

  private async handleOne(r: unknown, conn: RpcConnection): Promise<unknown> {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) return { jsonrpc: '2.0', id: null, error: { code: RPC.INVALID_REQUEST, message: 'invalid request: expected an object' } };
    const req = r as Req;
    const id = req.id === undefined ? undefined : typeof req.id === 'string' || typeof req.id === 'number' || req.id === null ? req.id : null;
    if (req.jsonrpc !== '2.0' || typeof req.method !== 'string') return { jsonrpc: '2.0', id: id ?? null, error: { code: RPC.INVALID_REQUEST, message: 'invalid request: need jsonrpc "2.0" and a method string' } };
    const params = req.params === undefined ? [] : req.params;
    if (!Array.isArray(params)) return { jsonrpc: '2.0', id: id ?? null, error: { code: RPC.INVALID_PARAMS, message: 'invalid params: expected an array' } };
    const method = this.opts.methods[req.method];
    if (!Object.hasOwn(this.opts.methods, req.method) || !method) {
      return { jsonrpc: '2.0', id: id ?? null, error: { code: RPC.METHOD_NOT_FOUND, message: `the method ${req.method} does not exist/is not available` } };
    }
    const t0 = performance.now();
    try {
      const result = await method(params, conn);
      this.opts.onCall?.(req.method, true, (performance.now() - t0) / 1000);
      return id === undefined ? undefined : { jsonrpc: '2.0', id, result: result ?? null };
    } catch (e) {
      this.opts.onCall?.(req.method, false, (performance.now() - t0) / 1000);
      if (e instanceof RpcError) return { jsonrpc: '2.0', id: id ?? null, error: { code: e.code, message: e.message, ...(e.data !== undefined ? { data: e.data } : {}) } };
      const code = (e as any)?.code;
      if (code === 'TX_INVALID') return { jsonrpc: '2.0', id: id ?? null, error: { code: RPC.SERVER, message: (e as Error).message } };
      this.log.warn({ method: req.method, err: (e as Error).message }, 'rpc method failed');
      return { jsonrpc: '2.0', id: id ?? null, error: { code: RPC.INTERNAL, message: `internal error: ${(e as Error).message}` } };
    }
  }
}
