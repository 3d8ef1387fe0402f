/**
 * Test helpers for whole devnets (`pocchain devnet` / `npm start`): free port ranges, start in a
 * process group as a terminal would, the status lines, Ctrl-C, and the pids that must be gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isPortFree } from '../../devnet/ports.ts';
import { parseStatusLine } from '../../devnet/status.ts';
import { waitFor } from './proc.ts';

/** A run of `n` consecutive free ports on 127.0.0.1 below the ephemeral range, none in `avoid`. */
export async function freeRange(n: number, avoid: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const ports = Array.from({ length: n }, (_, i) => base + i);
    if (ports.some((p) => avoid.has(p))) continue;
    if ((await Promise.all(ports.map((p) => isPortFree(p)))).every(Boolean)) {
      ports.forEach((p) => avoid.add(p));
      return base;
    }
  }
  throw new Error('no free port range');
}

/** The devnet port flags for free ports: 4 RPC, 4 p2p, 1 L1. */
export async function devnetPortArgs(): Promise<{ args: string[]; rpcPort: number; l1Port: number }> {
  const used = new Set<number>();
  const rpcPort = await freeRange(4, used);
  const p2pPort = await freeRange(4, used);
  const l1Port = await freeRange(1, used);
  return { args: ['--rpc-port', String(rpcPort), '--p2p-port', String(p2pPort), '--l1-port', String(l1Port)], rpcPort, l1Port };
}

export interface DevnetRun {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
  statuses: () => Record<string, string>[];
}

/** Spawn `cmd argv` in its own process group (as a terminal runs a foreground job). */
export function spawnGroup(cmd: string, argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): DevnetRun {
  const env = { ...opts.env };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(cmd, argv, { cwd: opts.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited, statuses: () => out.split('\n').map(parseStatusLine).filter((s): s is Record<string, string> => s !== null) };
}

const num = (v: string | undefined) => (v === undefined || v === '-' ? -1 : Number(v));

/** Wait for a status line matching `pred`; on failure say what the devnet and node0 last said. */
export async function waitStatus(r: DevnetRun, dir: string, what: string, pred: (s: Record<string, number>) => boolean, timeoutMs = 180_000): Promise<Record<string, string>> {
  try {
    return await waitFor(
      what,
      async () => {
        if (r.child.exitCode !== null) throw new Error(`devnet exited ${r.child.exitCode}: ${r.err()}`);
        return r.statuses().find((s) => pred(Object.fromEntries(Object.entries(s).map(([k, v]) => [k, num(v)]))));
      },
      timeoutMs,
      250,
    );
  } catch (e) {
    const tail = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').trimEnd().split('\n').slice(-5).join('\n') : '(none)');
    const lines = r.out().trimEnd().split('\n');
    throw new Error(`${(e as Error).message}\nlast status: ${lines[lines.length - 1]}\nstderr: ${r.err()}\nnode0.log: ${tail(join(dir, 'logs', 'node0.log'))}`);
  }
}

/** Ctrl-C in a terminal (SIGINT to the whole process group), then wait for the exit. */
export async function ctrlC(r: DevnetRun, timeoutMs = 90_000): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  try {
    process.kill(-r.child.pid!, 'SIGINT');
  } catch {
    /* already gone */
  }
  await waitFor('devnet exit', async () => r.child.exitCode !== null || r.child.signalCode !== null, timeoutMs, 200);
}

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Pids of every child a devnet manifest lists. */
export function manifestPids(m: any): number[] {
  return [...m.nodes.map((n: any) => n.pid), ...m.executors.map((e: any) => e.pid), m.relayer.pid, m.l1.pid].filter((p) => typeof p === 'number');
}

/** Live processes whose command line or working directory is under `dir` (Linux /proc). */
export function processesUnder(dir: string): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ').trim();
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${e}/cwd`);
      } catch {
        /* not ours to read */
      }
      if (cmd.includes(dir) || cwd === dir || cwd.startsWith(dir + '/')) out.push({ pid: Number(e), cmd });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** PATH as a new user has it: without any node_modules/.bin (so `npx` is the machine's own). */
export function userPath(path = process.env.PATH ?? ''): string {
  return path
    .split(':')
    .filter((p) => p && !p.includes('node_modules'))
    .join(':');
}

/** The environment of a new user's shell: no pocchain settings, no test-runner variables. */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // npm_* come from an outer `npm test` (npm_config_local_prefix would point npm at this checkout)
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: userPath() };
  for (const k of Object.keys(env)) if (k.startsWith('POCCHAIN_') || k.startsWith('npm_') || k === 'NODE_TEST_CONTEXT' || k === 'INIT_CWD') delete env[k];
  return { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', ...extra };
}
