/**
 * Starts a real anvil (from the npm package @foundry-rs/anvil) as a child process on 127.0.0.1.
 * Used as Ethereum mainnet by tests, benchmarks and the devnet.
 */
import { stopChild } from './child.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createServer } from 'node:net';

export interface AnvilHandle {
  url: string;
  wsUrl: string;
  port: number;
  chainId: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface AnvilOptions {
  port?: number;
  chainId?: number;
  blockTime?: number;
  /** extra CLI flags */
  args?: string[];
  /** anvil --state file: load on start, dump on exit */
  stateFile?: string;
}

/** Absolute path of the anvil binary shipped by the platform package. */
export function anvilBinary(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('@foundry-rs/anvil-linux-amd64/package.json');
  const bin = join(dirname(pkg), 'bin', 'anvil');
  if (!existsSync(bin)) throw new Error(`anvil binary not found at ${bin}: run npm install`);
  return bin;
}

/** True when nothing listens on 127.0.0.1:port right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A free TCP port on 127.0.0.1, chosen BELOW the kernel's ephemeral range (32768+ on Linux): a
 * port the OS hands out with listen(0) is an ephemeral one, and by the time a test starts a
 * process on it minutes later, an outgoing connection may be using it as its source port.
 */
const handedOut = new Set<number>();
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (handedOut.has(port)) continue; // never the same port twice to one process
    handedOut.add(port);
    if (await canListen(port)) return port;
  }
  throw new Error('no free TCP port found in 20000-31999 on 127.0.0.1');
}

/** Spawn anvil and resolve once its RPC answers. */
export async function startAnvil(opts: AnvilOptions = {}): Promise<AnvilHandle> {
  const port = opts.port ?? (await freePort());
  const chainId = opts.chainId ?? 31337;
  const args = ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(chainId), '--silent'];
  if (opts.blockTime) args.push('--block-time', String(opts.blockTime));
  if (opts.stateFile) args.push('--state', opts.stateFile);
  if (opts.args) args.push(...opts.args);
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`anvil exited with ${child.exitCode}: ${stderr.trim()}`);
    try {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' });
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`anvil did not answer on ${url} within 20 s: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    chainId,
    process: child,
    stop: async () => {
      await stopChild(child, 'SIGTERM', 5000);
    },
  };
}
