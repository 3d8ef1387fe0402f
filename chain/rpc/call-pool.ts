/**
 * The pool of call worker threads (call-worker.ts) behind eth_call / eth_estimateGas.
 *
 * Why: the EVM is synchronous JavaScript; a call into an endless loop with a 50M gas cap runs for
 * seconds. On the main thread it would stall votes, proposals and block execution. Here calls run
 * on other threads and the main thread only posts a job and gets a message back.
 *
 * Bounds: at most `workers` calls run at once, at most `queue` wait (one more is refused at once
 * with -32005), each runs at most `timeoutMs` from hand-over (then its worker is terminated and
 * replaced, and the caller gets geth's "execution aborted (timeout = 5s)").
 */
import { Worker } from 'node:worker_threads';
import { silentLogger, type Logger } from '../../lib/log.ts';
import type { CallJob, CallRunner } from './call.ts';
import type { CallWorkerData, CallWorkerReply } from './call-worker.ts';
import { RPC, RpcError } from './server.ts';

const WORKER_URL = new URL('./call-worker.ts', import.meta.url);
/** A worker that does not report ready in this time is treated as failed. */
const WORKER_BOOT_MS = 30_000;

export interface CallPoolOptions {
  /** LevelDB directory of the chain (the node must open it with multithreading) */
  location: string;
  chainId: bigint;
  workers: number;
  queue: number;
  timeoutMs: number;
  /** trie nodes cached per worker (default 50,000) */
  cacheNodes?: number;
  logger?: Logger;
  /** called with 'ok' | 'error' | 'timeout' | 'rejected' for each job (metrics) */
  onJob?: (outcome: 'ok' | 'error' | 'timeout' | 'rejected') => void;
}

type Waiting = { job: CallJob; resolve: (v: unknown) => void; reject: (e: unknown) => void };

class Slot {
  worker?: Worker;
  ready?: Promise<void>;
  busy = false;
}

let nextJobId = 1;

export class WorkerCallRunner implements CallRunner {
  private readonly opts: CallPoolOptions;
  private readonly log: Logger;
  private readonly slots: Slot[];
  private readonly waiting: Waiting[] = [];
  private stopped = false;

  constructor(opts: CallPoolOptions) {
    if (!(opts.workers >= 1) || !(opts.queue >= 0) || !(opts.timeoutMs > 0)) throw new RangeError('call pool needs workers >= 1, queue >= 0, timeoutMs > 0');
    this.opts = opts;
    this.log = (opts.logger ?? silentLogger).child({ module: 'rpc-calls' });
    this.slots = Array.from({ length: opts.workers }, () => new Slot());
  }

  /** Boot the workers now (else the first calls pay the boot time). */
  async start(): Promise<void> {
    await Promise.all(this.slots.map((s) => this.boot(s)));
  }

  /** Calls running and waiting. */
  stats(): { running: number; queued: number } {
    return { running: this.slots.filter((s) => s.busy).length, queued: this.waiting.length };
  }

  run(job: CallJob): Promise<unknown> {
    if (this.stopped) return Promise.reject(new RpcError(RPC.SERVER, 'node is shutting down'));
    const free = this.slots.some((s) => !s.busy);
    if (!free && this.waiting.length >= this.opts.queue) {
      this.opts.onJob?.('rejected');
      return Promise.reject(new RpcError(RPC.LIMIT, `too many concurrent calls: ${this.opts.workers} running and ${this.waiting.length} queued (limit ${this.opts.queue}); try again later`));
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ job, resolve, reject });
      this.pump();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.waiting.splice(0)) w.reject(new RpcError(RPC.SERVER, 'node is shutting down'));
    await Promise.all(this.slots.map((s) => s.worker?.terminate()));
  }

  private boot(slot: Slot): Promise<void> {
    const data: CallWorkerData = { location: this.opts.location, chainId: this.opts.chainId, cacheNodes: this.opts.cacheNodes ?? 50_000 };
    const worker = new Worker(WORKER_URL, {
      workerData: data,
      name: 'rpc-call',
      execArgv: ['--no-warnings'],
      resourceLimits: { maxOldGenerationSizeMb: 512, maxYoungGenerationSizeMb: 32 },
    });
    worker.unref();
    slot.worker = worker;
    slot.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('call worker did not start')), WORKER_BOOT_MS);
      const fail = (e: Error) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        void worker.terminate();
        if (slot.worker === worker) slot.worker = undefined;
        reject(e);
      };
      const onMessage = (m: CallWorkerReply) => {
        if (m.kind === 'fatal') return fail(new Error(`call worker failed to start: ${m.message}`));
        if (m.kind !== 'ready') return;
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', fail);
        resolve();
      };
      worker.on('message', onMessage);
      worker.once('error', fail);
    });
    return slot.ready;
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (this.waiting.length === 0) return;
      if (slot.busy) continue;
      const w = this.waiting.shift()!;
      slot.busy = true;
      void this.dispatch(slot, w).finally(() => {
        slot.busy = false;
        if (!this.stopped) this.pump();
      });
    }
  }

  private async dispatch(slot: Slot, w: Waiting): Promise<void> {
    try {
      if (!slot.worker) await this.boot(slot);
      else await slot.ready;
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'call worker unavailable');
      this.opts.onJob?.('error');
      return w.reject(new RpcError(RPC.INTERNAL, `internal error: ${(e as Error).message}`));
    }
    const worker = slot.worker!;
    const id = nextJobId++;
    await new Promise<void>((done) => {
      const finish = (outcome: 'ok' | 'error' | 'timeout', fn: () => void, replace = false) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (replace) {
          void worker.terminate();
          if (slot.worker === worker) slot.worker = undefined;
        }
        this.opts.onJob?.(outcome);
        fn();
        done();
      };
      const onMessage = (m: CallWorkerReply) => {
        if (m.kind === 'result' && m.id === id) finish('ok', () => w.resolve(m.result));
        else if (m.kind === 'error' && m.id === id) {
          // a revert or an out-of-gas is the caller's business; anything else is the node's, and a
          // client only sees "missing revert data" for it (ethers), so it must be in our log
          if (m.error.code === RPC.INTERNAL) this.log.warn({ err: m.error.message, kind: w.job.kind }, 'call failed inside the node');
          finish('error', () => w.reject(new RpcError(m.error.code, m.error.message, m.error.data)));
        }
      };
      const onError = (e: Error & { code?: string }) => {
        const what = e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'call ran out of memory' : `call worker failed: ${e.message}`;
        this.log.warn({ err: what, kind: w.job.kind }, 'call worker lost; replacing it');
        finish('error', () => w.reject(new RpcError(RPC.INTERNAL, `internal error: ${what}`)), true);
      };
      const onExit = (code: number) => {
        this.log.warn({ code, kind: w.job.kind }, 'call worker exited; replacing it');
        finish('error', () => w.reject(new RpcError(RPC.INTERNAL, `internal error: call worker exited (${code})`)), true);
      };
      const secs = this.opts.timeoutMs / 1000;
      // geth's wording (internal/ethapi: "execution aborted (timeout = %v)")
      const timer = setTimeout(() => finish('timeout', () => w.reject(new RpcError(RPC.SERVER, `execution aborted (timeout = ${secs}s)`)), true), this.opts.timeoutMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage({ id, job: w.job });
    });
    // Replace a terminated worker right away, so the next call does not pay the boot.
    if (!slot.worker && !this.stopped) this.boot(slot).catch((e) => this.log.error({ err: (e as Error).message }, 'call worker failed to start'));
  }
}
