/**
 * The WebAssembly sandbox: run one untrusted WASI preview-1 command with limits.
 *
 * Contract with workloads (docs/workloads.md): input on stdin, optional dataset as the read-only
 * file `/dataset`, result = stdout, exit code 0 = success. The result digest is keccak256(stdout),
 * the value executors commit to on chain, so everything a workload can observe is made
 * host-independent (see sandbox-worker.ts) and honest executors agree byte for byte.
 *
 * At most `maxWorkers` runs at once (an executor sets it to its declared capacity, issue 14); more
 * wait in order for a slot, and their wall-clock limit starts only when they get a worker.
 * Each run gets a worker thread (pooled, see below) and a private temp dir (stdin file + a root
 * holding only the dataset), removed when the run ends, whatever the outcome. Limits:
 * - memory: checked statically and capped in the binary (wasm-limits.ts), plus Worker
 *   resourceLimits for the JS side;
 * - time: wall clock from handing the job to a booted worker; on expiry the worker is terminated
 *   (V8 interrupts even a tight wasm loop);
 * - output: enforced inside the worker, at the byte.
 * Failures are PocErrors with the codes below; SANDBOX_ERROR means the host failed, not the
 * workload, so an executor must not commit anything for that run.
 */
import { Worker } from 'node:worker_threads';
import { mkdtemp, mkdir, writeFile, chmod, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keccak256 } from 'ethers';
import { PocError } from '../lib/errors.ts';
import { capMemory } from './wasm-limits.ts';
import type { SandboxWorkerInput, SandboxWorkerMessage } from './sandbox-worker.ts';

export type SandboxErrorCode =
  | 'WASM_INVALID'
  | 'WASM_TIMEOUT'
  | 'WASM_MEMORY'
  | 'WASM_OUTPUT_LIMIT'
  | 'WASM_EXIT_NONZERO'
  | 'WASM_TRAP'
  | 'SANDBOX_ERROR';

export interface WorkloadLimits {
  /** Maximum linear memory, in 64 KiB pages (≤ 65536). */
  memoryPages: number;
  /** Wall-clock limit for compile + run, in milliseconds (worker boot not included). */
  timeoutMs: number;
  /** Maximum stdout size in bytes. */
  maxOutputBytes: number;
}

export interface RunWorkloadParams {
  wasm: Uint8Array;
  input: Uint8Array;
  dataset?: Uint8Array;
  limits: WorkloadLimits;
}

export interface RunWorkloadResult {
  ok: true;
  stdout: Uint8Array;
  /** keccak256(stdout), 0x-prefixed hex: what executors commit to. */
  digest: string;
  exitCode: number;
  durationMs: number;
  /** First 64 KiB of stderr, for logs only (not part of the result). */
  stderr: Uint8Array;
}

/** Sensible defaults for a small workload category; callers pass their category's own limits. */
export const DEFAULT_LIMITS: WorkloadLimits = { memoryPages: 256, timeoutMs: 10_000, maxOutputBytes: 1 << 20 };

/**
 * Sandbox limits per task category (T = 5, 20, 60, 240 blocks): the executors' and anyone's who
 * re-runs a task to check it (`pocchain task verify`). The wall time must leave room to commit
 * before the assignment expires (2T blocks), so it grows with T.
 */
export const CATEGORY_LIMITS: readonly WorkloadLimits[] = [
  { memoryPages: 256, timeoutMs: 2_000, maxOutputBytes: 1 << 20 },
  { memoryPages: 1024, timeoutMs: 10_000, maxOutputBytes: 4 << 20 },
  { memoryPages: 4096, timeoutMs: 60_000, maxOutputBytes: 8 << 20 },
  { memoryPages: 16384, timeoutMs: 300_000, maxOutputBytes: 8 << 20 },
];

/** The limits of a task's category (an unknown category gets the smallest). */
export function categoryLimits(category: number): WorkloadLimits {
  return CATEGORY_LIMITS[category] ?? CATEGORY_LIMITS[0]!;
}

/** Time allowed for a worker thread to boot before the run is declared a host failure. */
const WORKER_BOOT_MS = 15_000;

const WORKER_URL = new URL('./sandbox-worker.ts', import.meta.url);

/** keccak256 of a result, 0x-prefixed: the digest executors commit to. */
export function resultDigest(stdout: Uint8Array): string {
  return keccak256(stdout);
}

function checkLimits(l: WorkloadLimits): void {
  const ok =
    Number.isInteger(l.memoryPages) && l.memoryPages >= 1 && l.memoryPages <= 65536 &&
    Number.isFinite(l.timeoutMs) && l.timeoutMs > 0 &&
    Number.isInteger(l.maxOutputBytes) && l.maxOutputBytes >= 0;
  if (!ok) throw new PocError<SandboxErrorCode>('SANDBOX_ERROR', 'invalid sandbox limits', { data: { ...l } });
}

/**
 * Run a WASI command with `input` on stdin and `dataset` at /dataset; resolve with its stdout when
 * it exits 0, throw a PocError<SandboxErrorCode> otherwise.
 */
export async function runWorkload(params: RunWorkloadParams): Promise<RunWorkloadResult> {
  const { limits } = params;
  checkLimits(limits);
  const wasm = capMemory(params.wasm, limits.memoryPages);
  await acquireSlot();
  try {
    return await runAlone(wasm, params);
  } finally {
    releaseSlot();
  }
}

async function runAlone(wasm: Uint8Array, params: RunWorkloadParams): Promise<RunWorkloadResult> {
  const { limits } = params;

  const dir = await mkdtemp(join(tmpdir(), 'pocchain-wasm-'));
  const rootDir = join(dir, 'root');
  try {
    const stdinPath = join(dir, 'stdin');
    await mkdir(rootDir, { mode: 0o700 });
    await writeFile(stdinPath, params.input, { mode: 0o400 });
    if (params.dataset) await writeFile(join(rootDir, 'dataset'), params.dataset, { mode: 0o444 });
    await chmod(rootDir, 0o555);
    const result = await runInWorker({ wasm, stdinPath, rootDir, maxOutputBytes: limits.maxOutputBytes, memoryPages: limits.memoryPages }, limits.timeoutMs);
    if (result.kind === 'fail') {
      throw new PocError<SandboxErrorCode>(result.code, result.message, { data: { memoryPages: result.memoryPages, stderr: decodeStderr(result.stderr) } });
    }
    if (result.kind !== 'exit') throw new PocError<SandboxErrorCode>('SANDBOX_ERROR', 'unexpected worker message');
    if (result.exitCode !== 0) {
      const code: SandboxErrorCode = result.memoryPages >= limits.memoryPages ? 'WASM_MEMORY' : 'WASM_EXIT_NONZERO';
      throw new PocError<SandboxErrorCode>(code, `workload exited with code ${result.exitCode}`, {
        data: { exitCode: result.exitCode, memoryPages: result.memoryPages, stderr: decodeStderr(result.stderr) },
      });
    }
    const stdout = new Uint8Array(result.stdout);
    return { ok: true, stdout, digest: resultDigest(stdout), exitCode: 0, durationMs: result.durationMs, stderr: new Uint8Array(result.stderr) };
  } finally {
    await chmod(rootDir, 0o700).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

function decodeStderr(b: Uint8Array): string {
  return new TextDecoder().decode(b.subarray(0, 4096));
}

// ---- worker pool --------------------------------------------------------------------------
// Booting a worker thread costs tens of milliseconds, far more than a small workload, so workers
// that finished a job normally are kept (up to `idleWorkers`) and reused. Reuse is safe: every job
// gets a new WASI instance, module instance and memory, and the guest can reach nothing else. A
// worker that timed out, crashed or ran out of heap is never reused.

let idleWorkers = 2;
const idle: Worker[] = [];

// Concurrency: runs beyond maxWorkers wait in FIFO order for a slot.
let maxWorkers = Infinity;
let running = 0;
let peak = 0;
const waiting: (() => void)[] = [];

function pump(): void {
  while (running < maxWorkers && waiting.length > 0) {
    running++;
    if (running > peak) peak = running;
    waiting.shift()!();
  }
}

function acquireSlot(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    pump();
  });
}

function releaseSlot(): void {
  running--;
  pump();
}

/**
 * Size the pool: `idleWorkers` booted workers kept between runs (0 = a fresh worker for every
 * run), and at most `maxWorkers` runs at once (default: unbounded). Lowering maxWorkers lets the
 * runs in progress finish; waiting ones start as slots free up.
 */
export function configureSandbox(opts: { idleWorkers: number; maxWorkers?: number }): void {
  idleWorkers = Math.max(0, Math.floor(opts.idleWorkers));
  while (idle.length > idleWorkers) void idle.pop()!.terminate();
  if (opts.maxWorkers !== undefined) {
    if (!Number.isInteger(opts.maxWorkers) || opts.maxWorkers < 1) throw new RangeError(`maxWorkers ${opts.maxWorkers} is not a positive integer`);
    maxWorkers = opts.maxWorkers;
    peak = running;
    pump();
  }
}

/** Runs in progress, runs waiting for a slot, the most at once since the last configureSandbox, the bound. */
export function sandboxLoad(): { running: number; queued: number; peak: number; maxWorkers: number } {
  return { running, queued: waiting.length, peak, maxWorkers };
}

/** Terminate the idle workers (on shutdown; they do not keep the process alive anyway). */
export async function closeSandbox(): Promise<void> {
  await Promise.all(idle.splice(0).map((w) => w.terminate()));
}

function spawnWorker(): Promise<Worker> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, {
      env: {},
      execArgv: ['--no-warnings'],
      name: 'wasm-sandbox',
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
    });
    worker.on('exit', () => {
      const i = idle.indexOf(worker);
      if (i >= 0) idle.splice(i, 1);
    });
    const fail = (message: string, cause?: unknown) => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      void worker.terminate();
      reject(new PocError<SandboxErrorCode>('SANDBOX_ERROR', message, { cause }));
    };
    const timer = setTimeout(() => fail('sandbox worker did not start'), WORKER_BOOT_MS);
    const onMessage = (m: SandboxWorkerMessage) => {
      if (m.kind !== 'ready') return;
      clearTimeout(timer);
      worker.off('error', onError);
      resolve(worker);
    };
    const onError = (e: Error) => fail(`sandbox worker failed to start: ${e.message}`, e);
    worker.on('message', onMessage);
    worker.once('error', onError);
  });
}

async function acquireWorker(): Promise<Worker> {
  const w = idle.pop();
  if (w) {
    w.ref();
    return w;
  }
  return spawnWorker();
}

function releaseWorker(w: Worker): void {
  if (idle.length < idleWorkers) {
    w.unref();
    idle.push(w);
  } else void w.terminate();
}

/** Run one job on a pooled worker; the wall-clock timer starts when the job is handed over. */
async function runInWorker(job: SandboxWorkerInput, timeoutMs: number): Promise<SandboxWorkerMessage> {
  const worker = await acquireWorker();
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: PocError | undefined, result?: SandboxWorkerMessage, reusable = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (reusable) releaseWorker(worker);
      else void worker.terminate();
      if (err) reject(err);
      else resolve(result!);
    };
    const onMessage = (m: SandboxWorkerMessage) => {
      if (m.kind === 'ready') return;
      finish(undefined, m, !(m.kind === 'fail' && m.code === 'SANDBOX_ERROR'));
    };
    const onError = (e: Error & { code?: string }) => {
      if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') finish(new PocError<SandboxErrorCode>('WASM_MEMORY', 'sandbox worker ran out of memory', { cause: e }));
      else finish(new PocError<SandboxErrorCode>('SANDBOX_ERROR', `sandbox worker failed: ${e.message}`, { cause: e }));
    };
    const onExit = (code: number) => finish(new PocError<SandboxErrorCode>('SANDBOX_ERROR', `sandbox worker exited (${code}) without a result`));
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    const timer = setTimeout(() => finish(new PocError<SandboxErrorCode>('WASM_TIMEOUT', `workload exceeded ${timeoutMs} ms`, { data: { timeoutMs } })), timeoutMs);
    worker.postMessage(job);
  });
}
