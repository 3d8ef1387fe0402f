/**
 * The WebAssembly sandbox: run one untrusted WASI preview-1 command with limits.
 *
 * Contract with workloads (docs/workloads.md): input on stdin, optional dataset as the read-only
 * file `/dataset`, result = stdout, exit code 0 = success. The result digest is keccak256(stdout),
 * the value executors commit to on chain, so everything a workload can observe is made
 * host-independent (see sandbox-worker.ts) and honest executors agree byte for byte.
 *
 * Each run gets a fresh worker thread and a private temp dir (stdin file + a root holding only the
 * dataset), both removed when the run ends, whatever the outcome. Limits:
 * - memory: checked statically and capped in the binary (wasm-limits.ts), plus Worker
 *   resourceLimits for the JS side;
 * - time: wall clock from the worker's start of compilation; on expiry the worker is terminated;
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
  /** Wall-clock limit for compile + run, in milliseconds (counted from the worker's start). */
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

/** Start a worker, arm the timeout when it reports ready, resolve with its one result message. */
function runInWorker(data: SandboxWorkerInput, timeoutMs: number): Promise<SandboxWorkerMessage> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, {
      workerData: data,
      env: {},
      execArgv: [],
      stdout: true,
      stderr: true,
      name: 'wasm-sandbox',
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
    });
    worker.stdout.resume();
    worker.stderr.resume();
    let settled = false;
    const finish = (err: PocError | undefined, result?: SandboxWorkerMessage) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      if (err) reject(err);
      else resolve(result!);
    };
    let timer = setTimeout(() => finish(new PocError<SandboxErrorCode>('SANDBOX_ERROR', 'sandbox worker did not start')), WORKER_BOOT_MS);
    worker.on('message', (m: SandboxWorkerMessage) => {
      if (m.kind === 'ready') {
        clearTimeout(timer);
        timer = setTimeout(() => finish(new PocError<SandboxErrorCode>('WASM_TIMEOUT', `workload exceeded ${timeoutMs} ms`, { data: { timeoutMs } })), timeoutMs);
      } else finish(undefined, m);
    });
    worker.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') finish(new PocError<SandboxErrorCode>('WASM_MEMORY', 'sandbox worker ran out of memory', { cause: e }));
      else finish(new PocError<SandboxErrorCode>('SANDBOX_ERROR', `sandbox worker failed: ${e.message}`, { cause: e }));
    });
    worker.on('exit', (code) => finish(new PocError<SandboxErrorCode>('SANDBOX_ERROR', `sandbox worker exited (${code}) without a result`)));
  });
}
