/**
 * The devnet's child processes. Each child:
 * - runs in its own process group (`detached`), so a terminal Ctrl-C reaches only the devnet, which
 *   then stops the children in order (relayer and executors, validators, the L1 last);
 * - writes stdout and stderr straight to its log file (an fd, not a pipe: a child never blocks or
 *   gets EPIPE because the devnet died);
 * - dies with the devnet even if the devnet is SIGKILLed: Node children preload watch-parent.ts
 *   (polls its parent pid), anvil runs under `setpriv --pdeathsig TERM` where that exists (Linux).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = join(ROOT, 'bin', 'pocchain.ts');
const WATCH_PARENT = join(ROOT, 'devnet', 'watch-parent.ts');
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => process.platform === 'linux' && existsSync(p));

export type ChildKind = 'l1' | 'validator' | 'executor' | 'relayer';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class Child {
  readonly name: string;
  readonly kind: ChildKind;
  readonly log: string;
  readonly process: ChildProcess;
  /** resolves when the process has exited */
  readonly exited: Promise<ChildExit>;
  exit: ChildExit | null = null;

  constructor(name: string, kind: ChildKind, log: string, proc: ChildProcess) {
    this.name = name;
    this.kind = kind;
    this.log = log;
    this.process = proc;
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      // a spawn failure (binary missing) is reported as an exit too
      proc.once('error', () => {
        if (this.exit) return;
        this.exit = { code: -1, signal: null };
        resolve(this.exit);
      });
    });
  }

  get pid(): number | null {
    return this.process.pid ?? null;
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** Send `signal`; SIGKILL after `graceMs`; resolves once exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<ChildExit> {
    if (!this.running) return this.exit!;
    try {
      this.process.kill(signal);
    } catch {
      /* already gone */
    }
    const t = setTimeout(() => this.kill(), graceMs);
    t.unref();
    const e = await this.exited;
    clearTimeout(t);
    return e;
  }

  /** SIGKILL, no questions asked. */
  kill(): void {
    if (!this.running) return;
    try {
      this.process.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }

  /** The last `lines` lines of the log file (for error messages). */
  tail(lines = 15): string {
    try {
      return readFileSync(this.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

function openLog(log: string): number {
  mkdirSync(dirname(log), { recursive: true });
  return openSync(log, 'a');
}

/** Run `pocchain <args>` (this checkout's CLI, this Node binary) as a devnet child. */
export function spawnPocchain(name: string, kind: ChildKind, args: string[], log: string, env: Record<string, string> = {}): Child {
  const fd = openLog(log);
  try {
    const proc = spawn(process.execPath, ['--import', WATCH_PARENT, CLI, ...args], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...env, POCCHAIN_DEVNET_PID: String(process.pid) },
    });
    return new Child(name, kind, log, proc);
  } finally {
    closeSync(fd);
  }
}

/** Run a binary (anvil) as a devnet child; tied to our life with PR_SET_PDEATHSIG when setpriv exists. */
export function spawnBinary(name: string, kind: ChildKind, bin: string, args: string[], log: string): Child {
  const fd = openLog(log);
  try {
    const [cmd, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'TERM', '--', bin, ...args]] : [bin, args];
    const proc = spawn(cmd, argv, { detached: true, stdio: ['ignore', fd, fd] });
    return new Child(name, kind, log, proc);
  } finally {
    closeSync(fd);
  }
}

/** True when `pid` is alive and its command line (from /proc) contains `marker`. */
export function isOurProcess(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // without /proc we cannot tell a reused pid from ours: leave it alone
  const f = `/proc/${pid}/cmdline`;
  if (!existsSync(f)) return false;
  try {
    return readFileSync(f, 'utf8').includes(marker);
  } catch {
    return false;
  }
}
