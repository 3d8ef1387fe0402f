/**
 * Log filters (eth_getLogs criteria), polling filters (eth_newFilter & co., expiring when idle)
 * and websocket subscriptions (newHeads, logs, newPendingTransactions). Fed by the chain's block
 * events and the pool's tx events; never by control flow.
 */
import { randomBytes } from 'node:crypto';
import type { Block } from '@ethereumjs/block';
import { bytesToHex, equalsBytes } from '@ethereumjs/util';
import type { Chain, CommittedBlockEvent } from '../chain.ts';
import type { TxPool } from '../txpool.ts';
import { systemTxHash } from '../execute.ts';
import type { StoredLog } from '../store.ts';
import { formatBlock, formatLog } from './format.ts';
import * as P from './params.ts';
import { RPC, RpcError, type RpcConnection, type RpcMethod } from './server.ts';

export interface LogFilter {
  fromBlock?: bigint;
  toBlock?: bigint;
  blockHash?: Uint8Array;
  addresses: Uint8Array[];
  /** per position: null = any, else one of */
  topics: (Uint8Array[] | null)[];
}

const FILTER_TTL_MS = 5 * 60_000;
const MAX_FILTERS = 1000;
const MAX_PENDING_EVENTS = 10_000;

type Installed =
  | { kind: 'logs'; filter: LogFilter; events: Record<string, unknown>[]; touched: number }
  | { kind: 'blocks'; events: string[]; touched: number }
  | { kind: 'txs'; events: string[]; touched: number };

type Sub = { kind: 'newHeads' | 'newPendingTransactions' } | { kind: 'logs'; filter: LogFilter };

const newId = () => '0x' + randomBytes(16).toString('hex');

export class Filters {
  private readonly installed = new Map<string, Installed>();
  private readonly subs = new Map<string, { sub: Sub; conn: RpcConnection }>();
  private readonly chain: Chain;
  private readonly getLogs: (f: LogFilter, from: bigint, to: bigint) => Promise<Record<string, unknown>[]>;
  private readonly timer: NodeJS.Timeout;

  constructor(chain: Chain, pool: TxPool, getLogs: (f: LogFilter, from: bigint, to: bigint) => Promise<Record<string, unknown>[]>) {
    this.chain = chain;
    this.getLogs = getLogs;
    chain.on('block', (ev) => this.onBlock(ev));
    pool.on('tx', (tx) => this.onTx(bytesToHex(tx.hash())));
    this.timer = setInterval(() => this.expire(), 30_000).unref();
  }

  stop(): void {
    clearInterval(this.timer);
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
    if (o.address !== undefined && o.address !== null) f.addresses = (Array.isArray(o.address) ? o.address : [o.address]).map((a) => P.address(a, 'address'));
    if (o.topics !== undefined && o.topics !== null) {
      if (!Array.isArray(o.topics) || o.topics.length > 4) throw new RpcError(RPC.INVALID_PARAMS, 'invalid argument: topics must be an array of at most 4 entries');
      f.topics = o.topics.map((t) => (t === null ? null : (Array.isArray(t) ? t : [t]).map((x) => P.hash(x, 'topic'))));
    }
    return f;
  }

  static matches(f: LogFilter, l: StoredLog): boolean {
    if (f.addresses.length && !f.addresses.some((a) => equalsBytes(a, l.address))) return false;
    for (let i = 0; i < f.topics.length; i++) {
      const want = f.topics[i];
      if (!want || want.length === 0) continue;
      const t = l.topics[i];
      if (!t || !want.some((w) => equalsBytes(w, t))) return false;
    }
    return true;
  }

  private onBlock(ev: CommittedBlockEvent): void {
    const b = ev.block;
    const blockHash = bytesToHex(b.hash());
    const logs = this.logsOf(b, ev);
    for (const f of this.installed.values()) {
      if (f.kind === 'blocks') push(f.events, blockHash);
      else if (f.kind === 'logs') for (const l of logs) if (Filters.matches(f.filter, l.raw)) push(f.events, l.json);
    }
    let head: Record<string, unknown> | undefined;
    for (const [id, { sub, conn }] of this.subs) {
      if (sub.kind === 'newHeads') {
        head ??= (({ transactions, uncles, withdrawals, size, totalDifficulty, ...h }) => h)(formatBlock(b, false) as any);
        conn.notify?.(id, head);
      } else if (sub.kind === 'logs') {
        for (const l of logs) if (Filters.matches(sub.filter, l.raw)) conn.notify?.(id, l.json);
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
    for (const f of this.installed.values()) if (f.kind === 'txs') push(f.events, hash);
    for (const [id, { sub, conn }] of this.subs) if (sub.kind === 'newPendingTransactions') conn.notify?.(id, hash);
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, f] of this.installed) if (now - f.touched > FILTER_TTL_MS) this.installed.delete(id);
  }

  private install(f: Installed): string {
    if (this.installed.size >= MAX_FILTERS) throw new RpcError(RPC.LIMIT, `too many filters installed (limit ${MAX_FILTERS})`);
    const id = newId();
    this.installed.set(id, f);
    return id;
  }

  private get(id: unknown): Installed {
    const f = typeof id === 'string' ? this.installed.get(id) : undefined;
    if (!f) throw new RpcError(RPC.SERVER, 'filter not found');
    f.touched = Date.now();
    return f;
  }

  methods(): Record<string, RpcMethod> {
    return {
      eth_newFilter: ([o]) => this.install({ kind: 'logs', filter: Filters.parse(P.object(o, 'filter')), events: [], touched: Date.now() }),
      eth_newBlockFilter: () => this.install({ kind: 'blocks', events: [], touched: Date.now() }),
      eth_newPendingTransactionFilter: () => this.install({ kind: 'txs', events: [], touched: Date.now() }),
      eth_uninstallFilter: ([id]) => typeof id === 'string' && this.installed.delete(id),
      eth_getFilterChanges: ([id]) => {
        const f = this.get(id);
        const ev = f.events;
        f.events = [] as any;
        return ev;
      },
      eth_getFilterLogs: async ([id]) => {
        const f = this.get(id);
        if (f.kind !== 'logs') throw new RpcError(RPC.SERVER, 'filter not found');
        const head = this.chain.head.header.number;
        return this.getLogs(f.filter, f.filter.fromBlock ?? head, f.filter.toBlock ?? head);
      },
      eth_subscribe: ([kind, opts], conn) => {
        if (!conn.notify) throw new RpcError(RPC.METHOD_NOT_FOUND, 'notifications not supported: use a websocket connection');
        let sub: Sub;
        if (kind === 'newHeads' || kind === 'newPendingTransactions') sub = { kind };
        else if (kind === 'logs') sub = { kind, filter: Filters.parse(opts === undefined ? {} : P.object(opts, 'filter')) };
        else throw new RpcError(RPC.INVALID_PARAMS, `invalid argument: unsupported subscription ${JSON.stringify(kind)}`);
        const id = newId();
        this.subs.set(id, { sub, conn });
        conn.onClose?.(() => this.subs.delete(id));
        return id;
      },
      eth_unsubscribe: ([id]) => typeof id === 'string' && this.subs.delete(id),
    };
  }
}

function push<T>(arr: T[], v: T) {
  if (arr.length >= MAX_PENDING_EVENTS) arr.shift();
  arr.push(v);
}
