/**
 * Block production by a single validator at a fixed interval: the dev-mode driver, and the
 * reference for what a BFT proposer does with the pool (build → commit → prune the pool).
 */
import type { Chain } from './chain.ts';
import type { TxPool } from './txpool.ts';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from '../lib/metrics.ts';
import { silentLogger } from '../lib/log.ts';

export interface ProducerOptions {
  chain: Chain;
  pool: TxPool;
  coinbase: Uint8Array;
  blockTimeMs: number;
  /** max txs considered per block */
  maxTxs?: number;
  logger?: Logger;
  metrics?: Metrics;
}

/** Build, commit and announce one block on top of the head. */
export async function produceBlock(o: ProducerOptions): Promise<void> {
  const { chain, pool } = o;
  const t0 = performance.now();
  const header = chain.nextHeader({ coinbase: o.coinbase });
  // Bound building time so a flood of txs cannot stretch the block interval indefinitely.
  const res = await chain.build(header, pool.pending(o.maxTxs ?? 5000), Math.max(o.blockTimeMs * 2, 500));
  const t1 = performance.now();
  await chain.commit(res);
  const t2 = performance.now();
  for (const s of res.skipped) if (!/higher gas limit than the remaining gas|block gas limit/i.test(s.reason)) pool.drop(s.tx);
  await pool.onBlock();
  o.metrics?.blockBuildSeconds.observe((t1 - t0) / 1000);
  o.metrics?.blockCommitSeconds.observe((t2 - t1) / 1000);
  o.metrics?.headBlock.set(Number(res.block.header.number));
  o.metrics?.txsIncluded.inc(res.block.transactions.length);
  o.metrics?.blockGasUsed.inc(Number(res.block.header.gasUsed));
  o.metrics?.poolSize.set(pool.size);
  if (res.block.transactions.length > 0 || res.block.header.number % 100n === 0n)
    (o.logger ?? silentLogger).info({ number: Number(res.block.header.number), txs: res.block.transactions.length, gasUsed: Number(res.block.header.gasUsed), buildMs: Math.round(t1 - t0), commitMs: Math.round(t2 - t1) }, 'block committed');
}

/** Runs `produceBlock` every blockTimeMs until stopped. */
export class SoloProducer {
  private readonly o: ProducerOptions;
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;

  constructor(o: ProducerOptions) {
    this.o = o;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const started = Date.now();
      try {
        await produceBlock(this.o);
      } catch (e) {
        (this.o.logger ?? silentLogger).error({ err: (e as Error).message }, 'block production failed');
      }
      const wait = Math.max(0, this.o.blockTimeMs - (Date.now() - started));
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, wait);
      });
    }
  }

  /** Finish the block in progress, then stop. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }
}
