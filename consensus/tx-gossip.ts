/**
 * Transaction gossip (CometBFT's mempool reactor, batched): transactions submitted to this node
 * are published in batches — many per message, flushed by size, count or a short delay — instead
 * of one gossip message each. A received batch is bounded (TX_GOSSIP_MAX by the p2p layer, a
 * count cap here), each transaction is deduplicated by its hash (keccak of its bytes) against the
 * pool and a window of recently seen hashes before any decoding or sender recovery, and only
 * the new ones are added.
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex } from '@ethereumjs/util';
import { Packr } from 'msgpackr';
import type { P2PNode } from '../chain/p2p/index.ts';
import type { TxPool } from '../chain/txpool.ts';
import { TX_BATCH_BYTES, TX_BATCH_COUNT, TX_BATCH_DELAY_MS } from './limits.ts';
import type { Logger } from '../lib/log.ts';

const packr = new Packr({ useRecords: false });
/** Most transactions in one received batch. */
export const MAX_TXS_PER_BATCH = 4096;
const SEEN_MAX = 50_000;

export function encodeTxBatch(txs: readonly Uint8Array[]): Uint8Array {
  return packr.pack(txs);
}

/** Decode a batch; throws on anything but a list of at most MAX_TXS_PER_BATCH byte strings. */
export function decodeTxBatch(data: Uint8Array): Uint8Array[] {
  const v = packr.unpack(data) as unknown;
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_TXS_PER_BATCH || !v.every((x) => x instanceof Uint8Array)) throw new Error('bad tx batch');
  return v as Uint8Array[];
}

export class TxGossip {
  private readonly p2p: P2PNode;
  private readonly topic: string;
  private readonly pool: TxPool;
  private readonly log: Logger;
  private batch: Uint8Array[] = [];
  private batchBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly seen = new Set<string>();
  readonly stats = { batchesSent: 0, txsSent: 0, batchesReceived: 0, txsReceived: 0, duplicates: 0 };

  constructor(o: { p2p: P2PNode; topic: string; pool: TxPool; log: Logger }) {
    this.p2p = o.p2p;
    this.topic = o.topic;
    this.pool = o.pool;
    this.log = o.log;
  }

  /** Queue a transaction of ours for the next batch. */
  publish(raw: Uint8Array): void {
    this.markSeen(bytesToHex(keccak_256(raw)));
    this.batch.push(raw);
    this.batchBytes += raw.length;
    if (this.batchBytes >= TX_BATCH_BYTES || this.batch.length >= TX_BATCH_COUNT) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), TX_BATCH_DELAY_MS);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.length === 0) return;
    const txs = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    this.stats.batchesSent++;
    this.stats.txsSent += txs.length;
    void this.p2p.publish(this.topic, encodeTxBatch(txs)).catch((err) => this.log.debug({ err: (err as Error).message }, 'tx batch not published'));
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private markSeen(h: string): void {
    if (this.seen.size >= SEEN_MAX) this.seen.clear();
    this.seen.add(h);
  }

  /** Gossip handler: 'reject' for a malformed batch or a transaction no honest node forwards. */
  async onGossip(data: Uint8Array): Promise<'accept' | 'ignore' | 'reject'> {
    let raws: Uint8Array[];
    try {
      raws = decodeTxBatch(data);
    } catch {
      return 'reject';
    }
    this.stats.batchesReceived++;
    let fresh = 0;
    for (const raw of raws) {
      const h = bytesToHex(keccak_256(raw));
      if (this.seen.has(h) || this.pool.get(h)) {
        this.stats.duplicates++;
        continue;
      }
      this.markSeen(h);
      let tx;
      try {
        tx = this.pool.decode(raw);
      } catch {
        return 'reject';
      }
      try {
        await this.pool.add(tx, raw.length);
        fresh++;
      } catch (err) {
        // state-dependent refusals (nonce, funds, already known) are not the forwarder's fault
        if (/invalid sender|oversized|intrinsic gas|invalid chain id/.test((err as Error).message)) return 'reject';
      }
    }
    this.stats.txsReceived += fresh;
    return fresh > 0 ? 'accept' : 'ignore';
  }
}
