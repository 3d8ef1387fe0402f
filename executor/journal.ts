/**
 * The executor's task journal: what it has done for each task, on disk, so that a restarted
 * executor finishes commit/reveal without running a task again and never reveals a result it did
 * not commit to.
 *
 * Persistence model (one directory):
 * - `journal.jsonl`: append-only, one JSON entry per line, each append fsynced before the call
 *   returns. On load, a last line without its newline (the write the crash interrupted) is ignored
 *   and cut off, so the next append starts on a clean line. Any other unreadable line is
 *   corruption (JOURNAL_CORRUPT), never silently skipped.
 * - `results/<digest>`: result bytes by keccak256 digest, written tmp + fsync + rename + dir fsync
 *   BEFORE the `ran` entry that names them, so a journaled result always has its bytes.
 * Task life: assigned → ran(digest, salt) → committed(tx) → revealed(tx) → done, or abandoned from
 * any unfinished state. `applyEntry` is the pure transition function used both on load and before
 * each append, so the file never holds an entry that the state machine would refuse.
 */
import { syncDir, writeFileAtomic } from '../lib/fs.ts';
import { mkdir, open, readFile, rename, truncate, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { keccak256 } from 'ethers';
import { PocError } from '../lib/errors.ts';

export type JournalErrorCode = 'JOURNAL_CORRUPT' | 'JOURNAL_TRANSITION' | 'JOURNAL_CLOSED' | 'JOURNAL_RESULT_MISSING';

export type TaskState = 'assigned' | 'ran' | 'committed' | 'revealed' | 'done' | 'abandoned';

/** What the journal knows about one task. */
export interface TaskRecord {
  taskId: string;
  state: TaskState;
  /** Caller-defined facts about the task at assignment (app hash, dataset hash, deadlines...). */
  meta: Record<string, unknown>;
  digest?: string;
  salt?: string;
  resultBytes?: number;
  commitTx?: string;
  revealTx?: string;
  reason?: string;
  updatedAt: number;
}

/** One line of journal.jsonl. `at` is the wall-clock time (ms) the entry was written. */
export type JournalEntry =
  | { t: 'assigned'; task: string; at: number; meta: Record<string, unknown> }
  | { t: 'ran'; task: string; at: number; digest: string; salt: string; size: number }
  | { t: 'committed'; task: string; at: number; tx: string }
  | { t: 'revealed'; task: string; at: number; tx: string }
  | { t: 'done'; task: string; at: number }
  | { t: 'abandoned'; task: string; at: number; reason: string }
  | { t: 'record'; task: string; at: number; record: TaskRecord }; // written by compact()

/** What an executor should do next for a task, given its record. */
export type NextStep = 'run' | 'commit' | 'reveal' | 'none';

const TERMINAL: ReadonlySet<TaskState> = new Set(['done', 'abandoned']);
const HEX32 = /^0x[0-9a-f]{64}$/;

/** The next action for a task: run it, commit its digest, reveal it, or nothing (finished). */
export function nextStep(record: TaskRecord | undefined): NextStep {
  if (!record || record.state === 'assigned') return 'run';
  if (record.state === 'ran') return 'commit';
  if (record.state === 'committed') return 'reveal';
  return 'none'; // revealed: wait for finalisation; done/abandoned: nothing
}

/** A fresh random commit salt, 32 bytes as 0x-hex. */
export function newSalt(): string {
  return '0x' + randomBytes(32).toString('hex');
}

function transitionError(task: string, from: TaskState | undefined, to: string): PocError<JournalErrorCode> {
  return new PocError<JournalErrorCode>('JOURNAL_TRANSITION', `task ${task}: cannot go from ${from ?? 'unknown'} to ${to}`, { data: { task, from, to } });
}

/**
 * Pure transition: the record after `entry`, or a JOURNAL_TRANSITION error. Returns `undefined`
 * when the entry repeats what the record already says (an idempotent retry: nothing to write).
 */
export function applyEntry(prev: TaskRecord | undefined, e: JournalEntry): TaskRecord | undefined {
  const base = { updatedAt: e.at };
  switch (e.t) {
    case 'record':
      return { ...e.record };
    case 'assigned':
      if (prev) return undefined; // the same TaskAssigned seen again after a restart
      return { taskId: e.task, state: 'assigned', meta: e.meta, ...base };
    case 'ran':
      if (prev?.state === 'ran' && prev.digest === e.digest) return undefined;
      if (prev?.state !== 'assigned') throw transitionError(e.task, prev?.state, 'ran');
      return { ...prev, state: 'ran', digest: e.digest, salt: e.salt, resultBytes: e.size, ...base };
    case 'committed':
      if (prev?.state === 'committed' && prev.commitTx === e.tx) return undefined;
      if (prev?.state !== 'ran') throw transitionError(e.task, prev?.state, 'committed');
      return { ...prev, state: 'committed', commitTx: e.tx, ...base };
    case 'revealed':
      if (prev?.state === 'revealed' && prev.revealTx === e.tx) return undefined;
      if (prev?.state !== 'committed') throw transitionError(e.task, prev?.state, 'revealed');
      return { ...prev, state: 'revealed', revealTx: e.tx, ...base };
    case 'done':
      if (prev?.state === 'done') return undefined;
      if (prev?.state !== 'revealed') throw transitionError(e.task, prev?.state, 'done');
      return { ...prev, state: 'done', ...base };
    case 'abandoned':
      if (prev?.state === 'abandoned') return undefined;
      if (!prev || TERMINAL.has(prev.state)) throw transitionError(e.task, prev?.state, 'abandoned');
      return { ...prev, state: 'abandoned', reason: e.reason, ...base };
  }
}

/** An open journal directory. One instance per directory (one writer). */
export class TaskJournal {
  readonly dir: string;
  #records = new Map<string, TaskRecord>();
  #fh: FileHandle | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #entries = 0;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Open (creating if needed) the journal in `dir` and load it. */
  static async open(dir: string): Promise<TaskJournal> {
    const j = new TaskJournal(dir);
    await mkdir(join(dir, 'results'), { recursive: true });
    await j.#load();
    j.#fh = await open(j.#path, 'a');
    return j;
  }

  get #path(): string {
    return join(this.dir, 'journal.jsonl');
  }

  async #load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) await truncate(this.#path, Buffer.byteLength(text.slice(0, end))); // torn last write
    const lines = text.slice(0, end).split('\n');
    lines.pop();
    lines.forEach((line, i) => {
      let entry: JournalEntry;
      try {
        entry = JSON.parse(line) as JournalEntry;
      } catch (cause) {
        throw new PocError<JournalErrorCode>('JOURNAL_CORRUPT', `journal line ${i + 1} is not JSON`, { data: { line: i + 1 }, cause });
      }
      const next = applyEntry(this.#records.get(entry.task), entry);
      if (next) this.#records.set(entry.task, next);
      this.#entries++;
    });
  }

  /** Validate, append and fsync one entry; serialised so the file order is the call order. */
  #append(entry: JournalEntry): Promise<TaskRecord> {
    const run = async (): Promise<TaskRecord> => {
      if (!this.#fh) throw new PocError<JournalErrorCode>('JOURNAL_CLOSED', 'journal is closed');
      const prev = this.#records.get(entry.task);
      const next = applyEntry(prev, entry);
      if (!next) return prev!;
      await this.#fh.write(JSON.stringify(entry) + '\n');
      await this.#fh.datasync();
      this.#records.set(entry.task, next);
      this.#entries++;
      return next;
    };
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => {});
    return p;
  }

  /** The record of one task, if any. */
  get(taskId: string): TaskRecord | undefined {
    const r = this.#records.get(taskId);
    return r && { ...r };
  }

  /** All records. */
  all(): TaskRecord[] {
    return [...this.#records.values()].map((r) => ({ ...r }));
  }

  /** Records not yet done or abandoned: what a restarted executor must pick up. */
  unfinished(): TaskRecord[] {
    return this.all().filter((r) => !TERMINAL.has(r.state));
  }

  /** Record an assignment. Idempotent: an already known task keeps its record. */
  assigned(taskId: string, meta: Record<string, unknown> = {}): Promise<TaskRecord> {
    return this.#append({ t: 'assigned', task: taskId, at: Date.now(), meta });
  }

  /** Record a finished run: saves `stdout` by digest first, then the entry. */
  async ran(taskId: string, r: { stdout: Uint8Array; digest: string; salt: string }): Promise<TaskRecord> {
    if (!HEX32.test(r.salt)) throw new PocError<JournalErrorCode>('JOURNAL_TRANSITION', 'salt must be 32 bytes of 0x-hex');
    const digest = await this.saveResult(r.stdout);
    if (digest !== r.digest.toLowerCase()) throw new PocError<JournalErrorCode>('JOURNAL_TRANSITION', `digest ${r.digest} is not keccak256 of the result`);
    return this.#append({ t: 'ran', task: taskId, at: Date.now(), digest, salt: r.salt, size: r.stdout.length });
  }

  /** Record that the commitment transaction was included. */
  committed(taskId: string, txHash: string): Promise<TaskRecord> {
    return this.#append({ t: 'committed', task: taskId, at: Date.now(), tx: txHash });
  }

  /** Record that the reveal transaction was included. */
  revealed(taskId: string, txHash: string): Promise<TaskRecord> {
    return this.#append({ t: 'revealed', task: taskId, at: Date.now(), tx: txHash });
  }

  /** Record that the task is finished (finalised on chain). */
  done(taskId: string): Promise<TaskRecord> {
    return this.#append({ t: 'done', task: taskId, at: Date.now() });
  }

  /** Give a task up (deadline passed, workload failed, ...). */
  abandoned(taskId: string, reason: string): Promise<TaskRecord> {
    return this.#append({ t: 'abandoned', task: taskId, at: Date.now(), reason });
  }

  #resultPath(digest: string): string {
    return join(this.dir, 'results', digest.toLowerCase().replace(/^0x/, ''));
  }

  /** Store result bytes by their keccak256 digest (atomic, durable); returns the digest. */
  async saveResult(bytes: Uint8Array): Promise<string> {
    const digest = keccak256(bytes);
    const path = this.#resultPath(digest);
    await writeFileAtomic(path, bytes, 0o644);
    return digest;
  }

  /** Result bytes by digest, verified; undefined when unknown or damaged. */
  async loadResult(digest: string): Promise<Uint8Array | undefined> {
    if (!HEX32.test(digest.toLowerCase())) return undefined;
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(this.#resultPath(digest)));
    } catch {
      return undefined;
    }
    return keccak256(bytes) === digest.toLowerCase() ? bytes : undefined;
  }

  /** The result bytes a task ran to; JOURNAL_RESULT_MISSING when it has none or they are damaged. */
  async resultOf(taskId: string): Promise<Uint8Array> {
    const r = this.#records.get(taskId);
    const bytes = r?.digest ? await this.loadResult(r.digest) : undefined;
    if (!bytes) throw new PocError<JournalErrorCode>('JOURNAL_RESULT_MISSING', `no stored result for task ${taskId}`, { data: { task: taskId, digest: r?.digest } });
    return bytes;
  }

  /** Number of entries in the file (for deciding when to compact). */
  get entryCount(): number {
    return this.#entries;
  }

  /**
   * Rewrite the journal as one `record` entry per task (dropping terminal tasks last updated before
   * `dropFinishedBefore`, a ms timestamp), atomically via tmp + rename.
   */
  compact(opts: { dropFinishedBefore?: number } = {}): Promise<void> {
    const run = async () => {
      if (!this.#fh) throw new PocError<JournalErrorCode>('JOURNAL_CLOSED', 'journal is closed');
      const keep = [...this.#records.values()].filter(
        (r) => !(TERMINAL.has(r.state) && opts.dropFinishedBefore !== undefined && r.updatedAt < opts.dropFinishedBefore),
      );
      const tmp = `${this.#path}.tmp`;
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(keep.map((r) => JSON.stringify({ t: 'record', task: r.taskId, at: r.updatedAt, record: r } satisfies JournalEntry) + '\n').join(''));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.#fh.close();
      await rename(tmp, this.#path);
      await syncDir(this.dir);
      this.#fh = await open(this.#path, 'a');
      this.#records = new Map(keep.map((r) => [r.taskId, r]));
      this.#entries = keep.length;
    };
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => {});
    return p;
  }

  /** Close the file; later writes fail with JOURNAL_CLOSED. */
  async close(): Promise<void> {
    await this.#queue;
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close();
  }
}

