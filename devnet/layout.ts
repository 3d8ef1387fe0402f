/**
 * What the devnet keeps on disk, and who plays which part. Created once (a new chain), read back
 * on every later start (resume); `layout.json` is written last, so a directory without it is a
 * creation that did not finish and is laid out again.
 *
 *   <dir>/layout.json          who is who (validators, executors, relayer, L1 deployment)
 *   <dir>/devnet.json          the running devnet for scripts (see manifest.ts), rewritten per start
 *   <dir>/devnet.pid           lock: pid of the running devnet
 *   <dir>/nodes/node<i>/       validator data dirs (keys 0600, genesis, config.json, LevelDB)
 *   <dir>/executors/executor<k>/  executor data dirs (journal, content cache)
 *   <dir>/l1/state.json        anvil state (loaded on start, dumped on exit and every 10 s)
 *   <dir>/logs/<name>.log      one log per child process
 *
 * Roles among the test mnemonic's accounts: 0 deploys the L1 contracts (and is the Vault owner),
 * 5, 6, 7 are the executors, 9 is the relayer (pays L1 gas); 0-4 and 8 are free for the user.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { L1Deployment } from '../bridge/l1-deploy.ts';

export const LAYOUT_VERSION = 1;
export const EXECUTOR_ACCOUNTS = [5, 6, 7, 8];
export const RELAYER_ACCOUNT = 9;
export const DEPLOYER_ACCOUNT = 0;

export interface LayoutValidator {
  name: string;
  /** relative to the devnet dir */
  datadir: string;
  peerId: string;
  /** secp256k1 address: signs checkpoints, block coinbase */
  address: string;
  /** ed25519 consensus key */
  pubKey: string;
}

export interface LayoutExecutor {
  name: string;
  account: number;
  address: string;
  /** relative to the devnet dir */
  datadir: string;
}

export interface Layout {
  version: number;
  createdAt: string;
  chainId: number;
  validators: LayoutValidator[];
  executors: LayoutExecutor[];
  relayer: { account: number; address: string };
  l1: { chainId: number; deployment: L1Deployment };
  epoch: number;
  confirmations: number;
}

export const paths = (dir: string) => ({
  layout: join(dir, 'layout.json'),
  manifest: join(dir, 'devnet.json'),
  lock: join(dir, 'devnet.pid'),
  nodes: join(dir, 'nodes'),
  executors: join(dir, 'executors'),
  l1State: join(dir, 'l1', 'state.json'),
  logs: join(dir, 'logs'),
  log: (name: string) => join(dir, 'logs', `${name}.log`),
});

/** The layout of `dir`, or null when none was completed there. */
export function loadLayout(dir: string): Layout | null {
  const f = paths(dir).layout;
  if (!existsSync(f)) return null;
  const l = JSON.parse(readFileSync(f, 'utf8')) as Layout;
  return l.version === LAYOUT_VERSION ? l : null;
}

export function saveLayout(dir: string, l: Layout): void {
  writeFileSync(paths(dir).layout, JSON.stringify(l, null, 1));
}

export const rel = (dir: string, p: string): string => relative(dir, p);
export const abs = (dir: string, p: string): string => resolve(dir, p);

/** True when `dir` is absent, empty, or looks like a devnet dir (safe to wipe on --reset). */
export function isDevnetDir(dir: string): boolean {
  if (!existsSync(dir)) return true;
  const entries = readdirSync(dir);
  if (entries.length === 0) return true;
  const ours = new Set(['layout.json', 'devnet.json', 'devnet.pid', 'nodes', 'executors', 'l1', 'logs']);
  return entries.every((e) => ours.has(e));
}

/** config.json of validator i for this start: ports may differ from the last run. Pure. */
export function nodeConfig(l: Layout, dir: string, i: number, ports: { rpc: number[]; p2p: number[] }, o: { blockTimeMs: number; l1Url: string }): Record<string, unknown> {
  const bootstrap = l.validators.map((v, j) => (j === i ? null : `/ip4/127.0.0.1/tcp/${ports.p2p[j]}/p2p/${v.peerId}`)).filter(Boolean).join(',');
  return {
    datadir: abs(dir, l.validators[i]!.datadir),
    rpcPort: String(ports.rpc[i]),
    p2pPort: String(ports.p2p[i]),
    blockTime: String(o.blockTimeMs),
    bootstrap,
    l1Rpc: o.l1Url,
    l1PollMs: 500,
  };
}

/**
 * The nodes executor k talks to, by index: node k mod n first (executors spread over the nodes,
 * now that any node serves any content), then the others in order, to fail over to.
 */
export function executorNodes(k: number, n: number): number[] {
  const first = k % n;
  return [first, ...Array.from({ length: n }, (_, i) => i).filter((i) => i !== first)];
}
