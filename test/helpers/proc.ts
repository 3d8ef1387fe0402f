/** Test helpers: run pocchain commands as separate OS processes and talk to them over RPC. */
import { stopChild } from '../../lib/child.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../lib/anvil.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const NODE = process.execPath;
export const CLI = join(ROOT, 'bin', 'pocchain.ts');

export function tempDir(prefix = 'pocchain-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** JSON-RPC call over HTTP; returns the whole response object (result or error). */
export async function rpcRaw(url: string, method: string, params: unknown[] = []): Promise<any> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  return r.json();
}

/** JSON-RPC call that throws on an error response. */
export async function rpc(url: string, method: string, params: unknown[] = []): Promise<any> {
  const j = await rpcRaw(url, method, params);
  if (j.error) throw Object.assign(new Error(`${method}: ${j.error.message}`), { rpc: j.error });
  return j.result;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Sum of a Prometheus metric's samples (GET <url>/metrics) whose labels include `labels`. */
export async function metricSum(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{([^}]*)\})? ([0-9.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

export interface NodeProc {
  url: string;
  wsUrl: string;
  port: number;
  datadir: string;
  child: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Start `pocchain node --dev` as a child process and wait for its RPC. */
export async function startDevNode(opts: { datadir?: string; port?: number; blockTimeMs?: number; args?: string[] } = {}): Promise<NodeProc> {
  const datadir = opts.datadir ?? tempDir();
  const port = opts.port ?? (await freePort());
  const args = [CLI, 'node', '--dev', '--datadir', datadir, '--rpc-port', String(port), '--block-time', String(opts.blockTimeMs ?? 200), '--log-level', 'warn', ...(opts.args ?? [])];
  const child = spawn(NODE, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  await waitFor('node RPC', async () => {
    if (child.exitCode !== null) throw new Error(`node exited ${child.exitCode}: ${out}`);
    return (await rpc(url, 'eth_chainId')) as string;
  }, 60_000);
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    datadir,
    child,
    output: () => out,
    stop: (signal = 'SIGINT') => stopChild(child, signal, 15_000),
  };
}
