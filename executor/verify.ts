/**
 * Re-execution of a settled task by anyone (`pocchain task verify`): read what the chain settled
 * (app, dataset, input, result digest), fetch the app and dataset by hash exactly as an executor
 * does (fetchAsset, verified), run the workload in the executors' sandbox with the limits of the
 * task's category, and compare keccak256(stdout) with the chain's result.
 *
 * Workloads are deterministic by contract (docs/workloads.md) and the sandbox makes everything
 * they observe host-independent, so an honest re-run gives the chain's digest byte for byte; a
 * different digest means the executors that won the vote did not run this workload on this input.
 *
 * A local run that fails can mean two different things. A failure of the workload itself (invalid
 * wasm, trap, non-zero exit, memory or output limit) is the same on every host: no honest executor
 * could have produced a result, so it counts as a disagreement. A failure of this host (the sandbox
 * broke, or the wall clock ran out on a slower machine) says nothing about the chain: it is an
 * error, never a verdict.
 *
 * judge() is the pure core (status check, comparison); verifyTask() is the I/O shell around it.
 */
import { ZeroHash, getBytes, keccak256, type Contract } from 'ethers';
import { PocError, isPocError } from '../lib/errors.ts';
import { STATUS_NAMES } from './hub-client.ts';
import { TaskStatus } from '../consensus/poc/index.ts';
import { MAX_CONTENT_BYTES, fetchAsset, type ContentCache } from './content.ts';
import { categoryLimits, runWorkload, type SandboxErrorCode, type WorkloadLimits } from './sandbox.ts';

/**
 * - TASK_UNKNOWN: no task with this id;
 * - TASK_NOT_FINAL: still active or revealing: try again after it completes;
 * - TASK_NO_RESULT: the task failed (no consensus, or no reveal): there is no result to check;
 * - TASK_RESULT_MISMATCH: the local run disagrees with the chain's result;
 * - VERIFY_INCONCLUSIVE: this host could not finish the run (sandbox failure, wall clock): retry,
 *   on a faster or less loaded machine for a timeout.
 */
export type VerifyErrorCode = 'TASK_UNKNOWN' | 'TASK_NOT_FINAL' | 'TASK_NO_RESULT' | 'TASK_RESULT_MISMATCH' | 'VERIFY_INCONCLUSIVE';

/** Sandbox failures of the host, not of the workload: they never make a verdict. */
const HOST_FAILURES: readonly string[] = ['SANDBOX_ERROR', 'WASM_TIMEOUT'] satisfies SandboxErrorCode[];

/** What the chain says about a task, as read from the Hub. */
export interface SettledTask {
  taskId: string;
  /** TaskStatus (0 none … 4 failed) */
  status: number;
  category: number;
  app: string;
  /** null when the task has no dataset */
  dataset: string | null;
  input: Uint8Array;
  /** the task's result digest (zero until completed) */
  result: string;
}

/** The outcome of the local run: a digest, or the workload's own failure. */
export type LocalRun =
  | { ok: true; digest: string; outputBytes: number; durationMs: number }
  | { ok: false; code: string; message: string };

export interface VerifyReport {
  taskId: string;
  status: string;
  category: number;
  app: string;
  dataset: string | null;
  /** keccak256 of the input bytes the workload got on stdin */
  inputHash: string;
  inputBytes: number;
  limits: WorkloadLimits;
  chainDigest: string;
  /** null when the workload failed here (see localError) */
  localDigest: string | null;
  agrees: boolean;
  outputBytes: number | null;
  durationMs: number | null;
  localError: { code: string; message: string } | null;
}

/** Throw unless the task has a result to check (TASK_UNKNOWN, TASK_NOT_FINAL, TASK_NO_RESULT). */
export function checkSettled(t: Pick<SettledTask, 'taskId' | 'status'>): void {
  const name = STATUS_NAMES[t.status] ?? String(t.status);
  if (t.status === TaskStatus.None) throw new PocError<VerifyErrorCode>('TASK_UNKNOWN', `task ${t.taskId} does not exist`, { data: { taskId: t.taskId } });
  if (t.status === TaskStatus.Active || t.status === TaskStatus.Revealing) {
    throw new PocError<VerifyErrorCode>('TASK_NOT_FINAL', `task ${t.taskId} is ${name}: it has no result yet; verify it once it is completed (pocchain task show ${t.taskId})`, { data: { taskId: t.taskId, status: name } });
  }
  if (t.status !== TaskStatus.Completed) {
    throw new PocError<VerifyErrorCode>('TASK_NO_RESULT', `task ${t.taskId} is ${name}: the chain settled no result, there is nothing to verify`, { data: { taskId: t.taskId, status: name } });
  }
}

/** Compare the local run with the chain's result (pure). */
export function judge(t: SettledTask, limits: WorkloadLimits, local: LocalRun): VerifyReport {
  checkSettled(t);
  const chainDigest = t.result.toLowerCase();
  const localDigest = local.ok ? local.digest.toLowerCase() : null;
  return {
    taskId: t.taskId,
    status: STATUS_NAMES[t.status] ?? String(t.status),
    category: t.category,
    app: t.app,
    dataset: t.dataset,
    inputHash: keccak256(t.input),
    inputBytes: t.input.length,
    limits,
    chainDigest,
    localDigest,
    agrees: localDigest === chainDigest,
    outputBytes: local.ok ? local.outputBytes : null,
    durationMs: local.ok ? Math.round(local.durationMs) : null,
    localError: local.ok ? null : { code: local.code, message: local.message },
  };
}

/** The report's one-line verdict, for humans and for the mismatch error's message. */
export function verdictLine(r: VerifyReport): string {
  if (r.agrees) return `task ${r.taskId}: the local run agrees with the chain (${r.chainDigest})`;
  if (r.localError) return `task ${r.taskId}: the chain settled ${r.chainDigest}, but the workload fails here with ${r.localError.code} (${r.localError.message})`;
  return `task ${r.taskId}: the chain settled ${r.chainDigest}, the local run gives ${r.localDigest}`;
}

/** Read a task from the Hub: status, category, app, dataset, input and result. */
export async function readSettledTask(hub: Contract, taskId: bigint): Promise<SettledTask> {
  const t = await hub.getFunction('getTask')(taskId);
  const status = Number(t.status);
  const input = status === TaskStatus.None ? '0x' : ((await hub.getFunction('taskInput')(taskId)) as string);
  return {
    taskId: String(taskId),
    status,
    category: Number(t.category),
    app: String(t.app).toLowerCase(),
    dataset: t.dataset === ZeroHash ? null : String(t.dataset).toLowerCase(),
    input: getBytes(input),
    result: String(t.result),
  };
}

export interface VerifyTaskParams {
  /** the Hub (a read-only contract is enough) */
  hub: Contract;
  /** the node whose content store serves the app and dataset */
  baseUrl: string;
  taskId: bigint;
  /** largest app/dataset accepted; default the executors' MAX_CONTENT_BYTES */
  maxContentBytes?: number;
  cache?: ContentCache;
}

/**
 * Re-run a completed task and compare. Resolves with the report whether or not it agrees; throws
 * TASK_* when there is nothing to verify, CONTENT_* when the app or dataset cannot be fetched or
 * does not match its hash, VERIFY_INCONCLUSIVE when this host could not finish the run.
 */
export async function verifyTask(p: VerifyTaskParams): Promise<VerifyReport> {
  const t = await readSettledTask(p.hub, p.taskId);
  checkSettled(t); // before any download
  const maxBytes = p.maxContentBytes ?? MAX_CONTENT_BYTES;
  const fetchOne = async (kind: 'app' | 'dataset', hash: string) => {
    const rec = await p.hub.getFunction(kind === 'app' ? 'getApp' : 'getDataset')(hash);
    return fetchAsset({ hash, baseUrl: p.baseUrl, uri: String(rec.uri ?? ''), maxBytes, ...(p.cache ? { cache: p.cache } : {}) });
  };
  const wasm = await fetchOne('app', t.app);
  const dataset = t.dataset ? await fetchOne('dataset', t.dataset) : undefined;
  const limits = categoryLimits(t.category);
  let local: LocalRun;
  try {
    const r = await runWorkload({ wasm, input: t.input, ...(dataset ? { dataset } : {}), limits });
    local = { ok: true, digest: r.digest, outputBytes: r.stdout.length, durationMs: r.durationMs };
  } catch (e) {
    if (!isPocError(e)) throw e;
    if (HOST_FAILURES.includes(e.code)) {
      throw new PocError<VerifyErrorCode>('VERIFY_INCONCLUSIVE', `task ${t.taskId}: the local run could not finish on this host (${e.code}: ${e.message}); no verdict`, { data: { taskId: t.taskId, sandbox: e.code }, cause: e });
    }
    local = { ok: false, code: e.code, message: e.message };
  }
  return judge(t, limits, local);
}
