/**
 * The devnet's live status: gathered over JSON-RPC only (what any client could read) and rendered
 * as one line of `key=value` fields, the same on a terminal (redrawn in place) and in a pipe (one
 * line per interval), so scripts and tests can parse it with parseStatusLine:
 *
 *   status height=42 commit_ms=510 peers=3 pending_txs=0 tasks_running=0 tasks_finalized=1 executors=3 l1_checkpoint=40 l1_block=87 procs=9/9
 *
 * height / commit_ms / peers / pending_txs: `pocchain_status` of the first validator that answers
 * (commit_ms = its last block's commit latency); tasks_*: Hub `openTasks()` and `taskCount()`
 * (finalized = every task no longer open: completed, failed or refunded); executors: Staking
 * `activeCount()` (executors with active stake); l1_checkpoint: Checkpoints `latestHeight()` on L1;
 * l1_block: the L1 head; procs: devnet children running / started. `-` marks a value that could not
 * be read (a node down, the L1 down).
 */
import { hubIface, stakingIface } from '../executor/hub-client.ts';
import { abiOf } from '../bridge/abi.ts';
import { HUB_ADDRESS, STAKING_ADDRESS } from '../consensus/poc/index.ts';

export interface DevnetStatus {
  height: number | null;
  commitMs: number | null;
  peers: number | null;
  pendingTxs: number | null;
  tasksRunning: number | null;
  tasksFinalized: number | null;
  executors: number | null;
  l1Checkpoint: number | null;
  l1Block: number | null;
  procs: { running: number; total: number };
}

export interface StatusSources {
  /** validators' RPC URLs, tried in order */
  rpcUrls: string[];
  l1Url: string;
  /** Checkpoints on L1 */
  checkpoints: string;
}

const checkpointsIface = abiOf('Checkpoints');

/** One JSON-RPC call with a timeout; throws on an error response. */
export async function rpcCall(url: string, method: string, params: unknown[] = [], timeoutMs = 3000): Promise<any> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), signal: AbortSignal.timeout(timeoutMs) });
  const j = (await r.json()) as { result?: unknown; error?: { message: string } };
  if (j.error) throw new Error(`${method}: ${j.error.message}`);
  return j.result;
}

const settle = async <T>(p: Promise<T>): Promise<T | null> => p.catch(() => null);

async function viewCall(url: string, to: string, iface: typeof hubIface, fn: string): Promise<any> {
  const data = iface.encodeFunctionData(fn, []);
  const out = await rpcCall(url, 'eth_call', [{ to, data }, 'latest']);
  return iface.decodeFunctionResult(fn, out)[0];
}

/** Read the status from the network and the L1; never throws (unknown values are null). */
export async function gatherStatus(src: StatusSources, procs: { running: number; total: number }): Promise<DevnetStatus> {
  let url: string | null = null;
  let st: any = null;
  for (const u of src.rpcUrls) {
    st = await settle(rpcCall(u, 'pocchain_status', [], 2000));
    if (st) {
      url = u;
      break;
    }
  }
  const [taskCount, open, active, cp, l1Head] = await Promise.all([
    url ? settle(viewCall(url, HUB_ADDRESS, hubIface, 'taskCount')) : null,
    url ? settle(viewCall(url, HUB_ADDRESS, hubIface, 'openTasks')) : null,
    url ? settle(viewCall(url, STAKING_ADDRESS, stakingIface, 'activeCount')) : null,
    settle(viewCall(src.l1Url, src.checkpoints, checkpointsIface, 'latestHeight')),
    settle(rpcCall(src.l1Url, 'eth_blockNumber', [], 2000)),
  ]);
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  const running = open ? (open as unknown[]).length : null;
  return {
    height: num(st?.head),
    commitMs: num(st?.consensus?.lastCommitLatencyMs),
    peers: num(st?.peers),
    pendingTxs: num(st?.pendingTxs),
    tasksRunning: running,
    tasksFinalized: taskCount !== null && running !== null ? Number(taskCount) - running : null,
    executors: num(active),
    l1Checkpoint: num(cp),
    l1Block: l1Head ? Number(BigInt(l1Head)) : null,
    procs,
  };
}

/** The status line (without a newline). Pure. */
export function formatStatus(s: DevnetStatus): string {
  const v = (x: number | null) => (x === null ? '-' : String(x));
  return `status height=${v(s.height)} commit_ms=${v(s.commitMs)} peers=${v(s.peers)} pending_txs=${v(s.pendingTxs)} tasks_running=${v(s.tasksRunning)} tasks_finalized=${v(s.tasksFinalized)} executors=${v(s.executors)} l1_checkpoint=${v(s.l1Checkpoint)} l1_block=${v(s.l1Block)} procs=${s.procs.running}/${s.procs.total}`;
}

/** Fields of a status line, or null when `line` is not one (e.g. `{height: '42', ...}`). Pure. */
export function parseStatusLine(line: string): Record<string, string> | null {
  const i = line.lastIndexOf('status ');
  if (i < 0) return null;
  const fields: Record<string, string> = {};
  for (const kv of line.slice(i + 7).trim().split(/\s+/)) {
    const eq = kv.indexOf('=');
    if (eq > 0) fields[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return 'height' in fields ? fields : null;
}
