/**
 * A websocket `eth_subscribe("logs")` that survives node restarts: it reconnects with a short
 * backoff and re-subscribes, and calls `onConnect` each time so the owner can run a catch-up scan
 * for whatever it missed while disconnected (notifications are a latency optimisation; the
 * eth_getLogs scan is what guarantees nothing is lost).
 */
import WebSocket from 'ws';
import type { Logger } from '../lib/log.ts';

export interface RawLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  transactionHash: string;
  logIndex: string;
  removed?: boolean;
}

export interface LogSubscriptionOptions {
  /** the endpoint, read again at each (re)connection: a function follows failover (endpoints.ts) */
  url: string | (() => string);
  filters: { address?: string; topics?: (string | string[] | null)[] }[];
  onLog: (log: RawLog) => void;
  onConnect?: () => void;
  /** the connection to `url` closed or could not open */
  onClose?: (url: string) => void;
  logger: Logger;
  reconnectMs?: number;
}

/** Open the subscription; returns a function that closes it for good. */
export function subscribeLogs(o: LogSubscriptionOptions): () => void {
  let ws: WebSocket | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const connect = () => {
    if (closed) return;
    const url = typeof o.url === 'function' ? o.url() : o.url;
    const sock = new WebSocket(url);
    ws = sock;
    sock.on('open', () => {
      o.filters.forEach((f, i) => sock.send(JSON.stringify({ jsonrpc: '2.0', id: i + 1, method: 'eth_subscribe', params: ['logs', f] })));
      o.logger.debug({ url }, 'log subscription connected');
      o.onConnect?.();
    });
    sock.on('message', (buf) => {
      let m: any;
      try {
        m = JSON.parse(buf.toString());
      } catch {
        return;
      }
      if (m.method === 'eth_subscription' && m.params?.result) o.onLog(m.params.result as RawLog);
      else if (m.error) o.logger.warn({ err: m.error.message }, 'log subscription refused');
    });
    sock.on('error', () => {}); // 'close' follows
    sock.on('close', () => {
      if (closed) return;
      o.onClose?.(url);
      timer = setTimeout(connect, o.reconnectMs ?? 1000);
    });
  };
  connect();
  return () => {
    closed = true;
    clearTimeout(timer);
    ws?.terminate();
  };
}
