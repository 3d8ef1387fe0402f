/**
 * Transaction load for benches and throughput tests: pre-signed transfers (native secp256k1, so
 * the client is not the bottleneck), sent paced over JSON-RPC batches, each sender pinned to one
 * node in nonce order, and a watcher that records when each tx appears in a block. Also reads
 * the Prometheus figures a node exports (counters, event-loop delay).
 */
import { createRequire } from 'node:module';
import { Interface, Signature, Transaction, getBytes, parseUnits, type HDNodeWallet } from 'ethers';

const require = createRequire(import.meta.url);
const secp: { ecdsaSign(msg: Uint8Array, key: Uint8Array): { signature: Uint8Array; recid: number } } = require('secp256k1');

export const erc20 = new Interface(['function transfer(address,uint256) returns (bool)', 'function mint(address,uint256)']);

async function post(url: string, body: unknown): Promise<any> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return r.json();
}

export async function call(url: string, method: string, params: unknown[] = []): Promise<any> {
  const j = await post(url, { jsonrpc: '2.0', id: 1, method, params });
  if (j.error) throw new Error(`${method}: ${j.error.message}`);
  return j.result;
}

export interface SenderState {
  wallet: HDNodeWallet;
  key: Uint8Array;
  nonce: number;
  /** index of the node this sender sends to (its txs stay in nonce order there) */
  home: number;
}

export interface SignedTx {
  raw: string;
  hash: string;
  sender: number;
}

export type Kind = 'eth' | 'erc20';

/** Senders with their next nonces read from `url` ('pending'), pinned round-robin to `nodes` nodes. */
export async function loadSenders(url: string, wallets: HDNodeWallet[], nodes: number): Promise<SenderState[]> {
  return Promise.all(wallets.map(async (w, i) => ({ wallet: w, key: getBytes(w.privateKey), nonce: Number(BigInt(await call(url, 'eth_getTransactionCount', [w.address, 'pending']))), home: i % nodes })));
}

/** Sign `count` transfers interleaved across senders (advancing their nonces). */
export function signBatch(kind: Kind, chainId: number, senders: SenderState[], count: number, token?: string): SignedTx[] {
  const out: SignedTx[] = [];
  for (let i = 0; i < count; i++) {
    const k = i % senders.length;
    const s = senders[k]!;
    const to = senders[(k + 1) % senders.length]!.wallet.address;
    const fields = kind === 'eth' ? { to, value: 1n, gasLimit: 21_000n } : { to: token!, data: erc20.encodeFunctionData('transfer', [to, 1n]), gasLimit: 60_000n };
    const tx = Transaction.from({ type: 2, chainId, nonce: s.nonce++, maxFeePerGas: parseUnits('50', 'gwei'), maxPriorityFeePerGas: parseUnits('1', 'gwei'), ...fields });
    const { signature, recid } = secp.ecdsaSign(getBytes(tx.unsignedHash), s.key);
    tx.signature = Signature.from({ r: '0x' + Buffer.from(signature.subarray(0, 32)).toString('hex'), s: '0x' + Buffer.from(signature.subarray(32)).toString('hex'), v: 27 + recid });
    out.push({ raw: tx.serialized, hash: tx.hash!.toLowerCase(), sender: k });
  }
  return out;
}

/** Watches a chain's new blocks: when each tx hash first appears, and eth_blockNumber latencies. */
export class InclusionWatcher {
  readonly seenAt = new Map<string, number>();
  /** eth_blockNumber round trips (ms): the RPC latency a client sees under the load */
  readonly rpcMs: number[] = [];
  private last = 0;
  private on = true;
  private loop?: Promise<void>;
  private readonly url: string;
  private readonly everyMs: number;
  constructor(url: string, everyMs = 25) {
    this.url = url;
    this.everyMs = everyMs;
  }

  async start(): Promise<void> {
    this.last = Number(BigInt(await call(this.url, 'eth_blockNumber')));
    this.loop = (async () => {
      while (this.on) {
        try {
          await this.poll();
        } catch {
          /* a refused poll is retried on the next tick */
        }
        await new Promise((r) => setTimeout(r, this.everyMs));
      }
    })();
  }

  private async poll(): Promise<void> {
    const t0 = performance.now();
    const head = Number(BigInt(await call(this.url, 'eth_blockNumber')));
    const now = performance.now();
    this.rpcMs.push(now - t0);
    if (head <= this.last) return;
    const batch = [];
    for (let h = this.last + 1; h <= head; h++) batch.push({ jsonrpc: '2.0', id: h, method: 'eth_getBlockByNumber', params: ['0x' + h.toString(16), false] });
    const blocks = (await post(this.url, batch)) as any[];
    if (!Array.isArray(blocks) || blocks.some((b) => !b.result)) return;
    for (const b of blocks) for (const h of b.result.transactions as string[]) if (!this.seenAt.has(h)) this.seenAt.set(h.toLowerCase(), now);
    this.last = head;
  }

  async stop(): Promise<void> {
    this.on = false;
    await this.loop;
  }
}

export interface SendResult {
  sentAt: Map<string, number>;
  firstSend: number;
  lastSend: number;
  /** how far the sender fell behind the schedule at worst (ms): the client's own limit */
  maxLagMs: number;
}

/**
 * Send `txs` at `rate` tx/s (0 = as fast as possible) to `urls[sender.home]`, in JSON-RPC batches
 * of up to 100. A sender holds back while `window` of its txs are unseen by `watcher`, so above
 * capacity the load turns closed-loop instead of overflowing the pool. Throws on any refusal.
 */
export async function sendPaced(urls: string[], senders: SenderState[], txs: SignedTx[], rate: number, watcher: InclusionWatcher, window = 400): Promise<SendResult> {
  const sentAt = new Map<string, number>();
  const inFlight = senders.map(() => [] as string[]);
  const t0 = performance.now();
  let next = 0;
  let maxLagMs = 0;
  const pending = (k: number) => {
    const q = inFlight[k]!;
    while (q.length && watcher.seenAt.has(q[0]!)) q.shift();
    return q.length;
  };
  while (next < txs.length) {
    const now = performance.now();
    let due = rate > 0 ? Math.min(txs.length, Math.floor(((now - t0) / 1000) * rate) + 1) : txs.length;
    for (let k = next; k < due; k++) if (pending(txs[k]!.sender) + 1 > window) (due = k);
    if (due > next) {
      if (rate > 0) maxLagMs = Math.max(maxLagMs, now - (t0 + (next / rate) * 1000));
      const slice = txs.slice(next, due);
      next = due;
      for (const t of slice) inFlight[t.sender]!.push(t.hash);
      await Promise.all(
        urls.map(async (url, i) => {
          const mine = slice.filter((t) => senders[t.sender]!.home === i);
          for (let b = 0; b < mine.length; b += 100) {
            const part = mine.slice(b, b + 100);
            const at = performance.now();
            for (const t of part) sentAt.set(t.hash, at);
            const res = (await post(url, part.map((t, j) => ({ jsonrpc: '2.0', id: j, method: 'eth_sendRawTransaction', params: [t.raw] })))) as any[];
            const err = res.find((x) => x.error);
            if (err) throw new Error(`send to ${url} refused: ${err.error.message}`);
          }
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return { sentAt, firstSend: t0, lastSend: performance.now(), maxLagMs };
}

/** Wait until every tx is seen; false on timeout. */
export async function waitIncluded(watcher: InclusionWatcher, txs: SignedTx[], timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (txs.every((t) => watcher.seenAt.has(t.hash))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
}

/** Scalar samples of a Prometheus text exposition (name{labels} -> value), without histograms' buckets. */
export async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#') || line.includes('_bucket{')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

export const TX_WORK = {
  recoveries: 'pocchain_chain_sender_recoveries_total',
  executions: 'pocchain_chain_tx_executions_total',
  committed: 'pocchain_chain_txs_committed_total',
  loopMaxSeconds: 'pocchain_process_nodejs_eventloop_lag_max_seconds',
} as const;
