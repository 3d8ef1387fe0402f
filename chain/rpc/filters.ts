/**
 * Polling filters (eth_newFilter & co., expiring when idle) and websocket subscriptions
 * (newHeads, logs, newPendingTransactions). Fed by the chain's block events and the pool's tx
 * events; never by control flow.
 *
 * Memory per filter is constant: a filter is a cursor, not a buffer. A block filter remembers the
 * next block number, a log filter the next block to scan (its changes are read from the store
 * with the same caps as eth_getLogs, see logs.ts), a pending-tx filter a position in one shared
 * ring of recent tx hashes. Filters are counted per client (remote address) and in total;
 * subscriptions per websocket connection (the server bounds each connection's send buffer).
 */
import { randomBytes } from 'node:crypto';
import type { Block } from '@ethereumjs/block';
import { bytesToHex } from '@ethereumjs/util';
import type { Chain, CommittedBlockEvent } from '../chain.ts';
import type { TxPool } from '../txpool.ts';
import { systemTxHash } from '../execute.ts';
import type { StoredLog } from '../store.ts';
import { formatBlock, formatLog } from './format.ts';
import { FILTER_TTL_MS, MAX_FILTERS, MAX_FILTERS_PER_CLIENT, MAX_SUBS_PER_CONNECTION, PENDING_TX_RING } from './limits.ts';
import { logMatches, type LogFilter, type LogReader } from './logs.ts';
import * as P from './params.ts';
import { RPC, RpcError, type RpcConnection, type RpcMethod } from './server.ts';

export type { LogFilter } from './logs.ts';

type FilterBody = { kind: 'logs'; filter: LogFilter; next: bigint } | { kind: 'blocks'; next: bigint } | { kind: 'txs'; next: number };
type Installed = { owner: string; touched: number } & FilterBody;

type Sub = { kind: 'newHeads' | 'newPendingTransactions' } | { kind: 'logs'; filter: LogFilter };

export interface FilterLimits {
  perClient: number;
  total: number;
  subsPerConnection: number;
  ttlMs: number;
  txRing: number;
}

const newId = () => '0x' + randomBytes(16).toString('hex');

export class Filters {
  private readonly installed = new Map<string, Installed>();
  private readonly perClient = new Map<string, number>();
  private readonly subs = new Map<string, { sub: Sub; conn: RpcConnection }>();
  private readonly subsPerConn = new Map<number, number>();
  /** recent pending tx hashes; txRing[i] has sequence number txBase + i */
  private readonly txRing: string[] = [];
  private txBase = 0;
  private readonly chain: Chain;
  private readonly logs: LogReader;
  private readonly limits: FilterLimits;
  private readonly timer: NodeJS.Timeout;

  constructor(chain: Chain, pool: TxPool, logs: LogReader, limits: Partial<FilterLimits> = {}) {
    this.chain = chain;
    this.logs = logs;
    this.limits = { perClient: MAX_FILTERS_PER_CLIENT, total: MAX_FILTERS, subsPerConnection: MAX_SUBS_PER_CONNECTION, ttlMs: FILTER_TTL_MS, txRing: PENDING_TX_RING, ...limits };
    chain.on('block', (ev) => this.onBlock(ev));
    pool.on('tx', (tx) => this.onTx(bytesToHex(tx.hash())));
    this.timer = setInterval(() => this.expire(), Math.min(30_000, this.limits.ttlMs)).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Filters installed (all clients) and subscriptions open (all connections). */
  stats(): { filters: number; subscriptions: number } {
    return { filters: this.installed.size, subscriptions: this.subs.size };
  }

  /** Parse an eth_getLogs / eth_newFilter criteria object. */
  static parse(o: Record<string, unknown>): LogFilter {
    const tagNum = (v: unknown, w: string): bigint | undefined => {
      if (v === undefined || v === null || v === 'latest' || v === 'pending' || v === 'safe' || v === 'finalized') return undefined;
      const t = P.blockTag(v, w);
      if (t.kind !== 'number') throw new RpcError(RPC.INVALID_PARAMS, `invalid argument: ${w} must be a block number or tag`);
      return t.number;
    };
    const f: LogFilter = { addresses: [], topics: [] };
    if (o.blockHash !== undefined && o.blockHash !== null) {
      if (o.fromBlock !== undefined || o.toBlock !== undefined) throw new RpcError(RPC.INVALID_PARAMS, 'invalid argument: cannot specify both blockHash and fromBlock/toBlock');
      f.blockHash = P.hash(o.blockHash, 'blockHash');
    }
    const from = tagNum(o.fromBlock, 'fromBlock');
    const to = tagNum(o.toBlock, 'toBlock');
    if (from !== undefined) f.fromBlock = from;
    if (to !== undefined) f.toBlock = to;
    if (o.address !== undefined && o.address !== null) {
      const list = Array.isArray(o.address) ? o.address : [o.address];
      if (list.length > 1000) throw new RpcError(RPC.INVALID_PARAMS, `invalid argument: at most 1000 addresses per filter (got ${list.length})`);
      f.addresses = list.map((a) => P.address(a, 'address'));
    }
    if (o.topics !== undefined && o.topics !== null) {
      if (!Array.isArray(o.topics) || o.topics.length > 4) throw new RpcError(RPC.INVALID_PARAMS, 'invalid argument: topics must be an array of at most 4 entries');
      f.topics = o.topics.map((t) => {
        if (t === null) return null;
        const alts = Array.isArray(t) ? t : [t];
        if (alts.length > 1000) throw new RpcError(RPC.INVALID_PARAMS, `invalid argument: at most 1000 alternatives per topic (got ${alts.length})`);
        return alts.map((x) => P.hash(x, 'topic'));
      });
    }
    return f;
  }

  private onBlock(ev: CommittedBlockEvent): void {
    if (this.subs.size === 0) return;
    const b = ev.block;
    let logs: ReturnType<Filters['logsOf']> | undefined;
    let head: Record<string, unknown> | undefined;
    for (const [id, { sub, conn }] of this.subs) {
      if (sub.kind === 'newHeads') {
        head ??= (({ transactions, uncles, withdrawals, size, totalDifficulty, ...h }) => h)(formatBlock(b, false) as any);
        conn.notify?.(id, head);
      } else if (sub.kind === 'logs') {
        logs ??= this.logsOf(b, ev);
        for (const l of logs) if (logMatches(sub.filter, l.raw)) conn.notify?.(id, l.json);
      }
    }
  }

  private logsOf(b: Block, ev: CommittedBlockEvent) {
    const out: { raw: StoredLog; json: Record<string, unknown> }[] = [];
    let li = 0;
    ev.receipts.forEach((r, i) => {
      for (const l of r.logs) out.push({ raw: l, json: formatLog(l, { block: b, txHash: b.transactions[i]!.hash(), txIndex: i, logIndex: li++ }) });
    });
    for (const l of ev.systemLogs) out.push({ raw: l, json: formatLog(l, { block: b, txHash: systemTxHash(b.header.number), txIndex: b.transactions.length, logIndex: li++ }) });
    return out;
  }

  private onTx(hash: string): void {
    this.txRing.push(hash);
    // drop the oldest half at once: amortised O(1) per tx, between txRing and 2 x txRing kept
    if (this.txRing.length >= 2 * this.limits.txRing) {
      this.txRing.splice(0, this.limits.txRing);
      this.txBase += this.limits.txRing;
    }
    for (const [id, { sub, conn }] of this.subs) if (sub.kind === 'newPendingTransactions') conn.notify?.(id, hash);
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, f] of this.installed) if (now - f.touched > this.limits.ttlMs) this.remove(id);
  }

  private remove(id: string): boolean {
    const f = this.installed.get(id);
    if (!f) return false;
    this.installed.delete(id);
    const n = (this.perClient.get(f.owner) ?? 1) - 1;
    if (n <= 0) this.perClient.delete(f.owner);
    else this.perClient.set(f.owner, n);
    return true;
  }

  private install(conn: RpcConnection, f: FilterBody): string {
    const owner = conn.client ?? `conn:${conn.id}`;
    const mine = this.perClient.get(owner) ?? 0;
    if (mine >= this.limits.perClient) throw new RpcError(RPC.LIMIT, `too many filters: this client has ${mine} installed (limit ${this.limits.perClient} per client); uninstall some with eth_uninstallFilter or let them expire (${this.limits.ttlMs / 1000} s idle)`, { limit: this.limits.perClient });
    if (this.installed.size >= this.limits.total) throw new RpcError(RPC.LIMIT, `too many filters installed on this node (limit ${this.limits.total}); try again later`, { limit: this.limits.total });
    const id = newId();
    this.installed.set(id, { ...f, owner, touched: Date.now() } as Installed);
    this.perClient.set(owner, mine + 1);
    return id;
  }

  private get(id: unknown): Installed {
    const f = typeof id === 'string' ? this.installed.get(id) : undefined;
    if (!f) throw new RpcError(RPC.SERVER, 'filter not found');
    f.touched = Date.now();
    return f;
  }

  private async changes(f: Installed): Promise<unknown[]> {
    const head = this.chain.head.header.number;
    if (f.kind === 'txs') {
      const start = Math.max(f.next, this.txBase);
      f.next = this.txBase + this.txRing.length;
      return this.txRing.slice(start - this.txBase);
    }
    if (f.kind === 'blocks') {
      let to = head;
      if (to - f.next + 1n > this.logs.maxRange) to = f.next + this.logs.maxRange - 1n;
      const out: string[] = [];
      for (let n = f.next; n <= to; n++) {
        const h = n === head ? this.chain.head.hash() : await this.chain.store.loadHashByNumber(n);
        if (h) out.push(bytesToHex(h));
      }
      if (to >= f.next) f.next = to + 1n;
      return out;
    }
    const from = f.filter.fromBlock !== undefined && f.filter.fromBlock > f.next ? f.filter.fromBlock : f.next;
    const to = f.filter.toBlock !== undefined && f.filter.toBlock < head ? f.filter.toBlock : head;
    const res = await this.logs.changes(f.filter, from, to);
    f.next = res.next > f.next ? res.next : f.next;
    return res.logs;
  }

  methods(): Record<string, RpcMethod> {
    const next = () => this.chain.head.header.number + 1n;
    return {
      eth_newFilter: ([o], conn) => {
        const filter = Filters.parse(P.object(o, 'filter'));
        if (filter.blockHash) throw new RpcError(RPC.INVALID_PARAMS, 'invalid argument: blockHash is not supported by eth_newFilter (use eth_getLogs)');
        return this.install(conn, { kind: 'logs', filter, next: next() });
      },
      eth_newBlockFilter: (_p, conn) => this.install(conn, { kind: 'blocks', next: next() }),
      eth_newPendingTransactionFilter: (_p, conn) => this.install(conn, { kind: 'txs', next: this.txBase + this.txRing.length }),
      eth_uninstallFilter: ([id]) => typeof id === 'string' && this.remove(id),
      eth_getFilterChanges: ([id]) => this.changes(this.get(id)),
      eth_getFilterLogs: async ([id]) => {
        const f = this.get(id);
        if (f.kind !== 'logs') throw new RpcError(RPC.SERVER, 'filter not found');
        const head = this.chain.head.header.number;
        return this.logs.query(f.filter, f.filter.fromBlock ?? head, f.filter.toBlock ?? head);
      },
      eth_subscribe: ([kind, opts], conn) => {
        if (!conn.notify) throw new RpcError(RPC.METHOD_NOT_FOUND, 'notifications not supported: use a websocket connection');
        let sub: Sub;
        if (kind === 'newHeads' || kind === 'newPendingTransactions') sub = { kind };
        else if (kind === 'logs') sub = { kind, filter: Filters.parse(opts === undefined ? {} : P.object(opts, 'filter')) };
        else throw new RpcError(RPC.INVALID_PARAMS, `invalid argument: unsupported subscription ${JSON.stringify(kind)}`);
        const mine = this.subsPerConn.get(conn.id) ?? 0;
        if (mine >= this.limits.subsPerConnection) throw new RpcError(RPC.LIMIT, `too many subscriptions on this connection: ${mine} (limit ${this.limits.subsPerConnection}); eth_unsubscribe some first`, { limit: this.limits.subsPerConnection });
        const id = newId();
        this.subs.set(id, { sub, conn });
        if (!this.subsPerConn.has(conn.id)) conn.onClose?.(() => this.dropConnection(conn.id));
        this.subsPerConn.set(conn.id, mine + 1);
        return id;
      },
      eth_unsubscribe: ([id], conn) => {
        const s = typeof id === 'string' ? this.subs.get(id) : undefined;
        if (!s || s.conn.id !== conn.id) return false;
        this.subs.delete(id as string);
        this.subsPerConn.set(conn.id, Math.max(0, (this.subsPerConn.get(conn.id) ?? 1) - 1));
        return true;
      },
    };
  }

  private dropConnection(connId: number): void {
    for (const [id, s] of this.subs) if (s.conn.id === connId) this.subs.delete(id);
    this.subsPerConn.delete(connId);
  }
}
