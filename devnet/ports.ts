/**
 * The devnet's ports: which port each process gets (pure), and whether they are free (I/O).
 * Every port is checked before anything starts, so a busy port fails fast with the port, its user
 * in the devnet and the flag that moves it — never halfway through starting children.
 */
import { createServer } from 'node:net';
import { PocError } from '../lib/errors.ts';

export type DevnetPortErrorCode = 'DEVNET_PORT_BUSY' | 'DEVNET_BAD_PORT';

export interface PortBases {
  /** JSON-RPC (http + ws) of validator 0; validator i gets rpc + i */
  rpc: number;
  /** libp2p of validator 0; validator i gets p2p + i */
  p2p: number;
  /** anvil (the L1) */
  l1: number;
  /** Prometheus metrics of executor 0 (executor k gets metrics + k); absent: no metrics servers */
  executorMetrics?: number;
}

export interface PlannedPort {
  port: number;
  /** who listens there, for messages: "RPC of validator node0" */
  what: string;
  /** the flag that moves it */
  flag: string;
}

export interface PortPlan {
  rpc: number[];
  p2p: number[];
  l1: number;
  executorMetrics: number[] | null;
  all: PlannedPort[];
}

/** Assign ports from the bases; refuses out-of-range and overlapping ranges. Pure. */
export function planPorts(b: PortBases, validators: number, executors: number): PortPlan {
  const range = (base: number, n: number) => Array.from({ length: n }, (_, i) => base + i);
  const rpc = range(b.rpc, validators);
  const p2p = range(b.p2p, validators);
  const em = b.executorMetrics !== undefined ? range(b.executorMetrics, executors) : null;
  const all: PlannedPort[] = [
    ...rpc.map((port, i) => ({ port, what: `RPC of validator node${i}`, flag: '--rpc-port' })),
    ...p2p.map((port, i) => ({ port, what: `p2p of validator node${i}`, flag: '--p2p-port' })),
    { port: b.l1, what: 'the L1 (anvil) RPC', flag: '--l1-port' },
    ...(em ?? []).map((port, k) => ({ port, what: `metrics of executor${k}`, flag: '--executor-metrics-port' })),
  ];
  for (const p of all) {
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) throw new PocError<DevnetPortErrorCode>('DEVNET_BAD_PORT', `port ${p.port} for ${p.what} is not a TCP port (1-65535): change ${p.flag}`);
  }
  const seen = new Map<number, PlannedPort>();
  for (const p of all) {
    const other = seen.get(p.port);
    if (other) throw new PocError<DevnetPortErrorCode>('DEVNET_BAD_PORT', `port ${p.port} would serve both ${other.what} (${other.flag}) and ${p.what} (${p.flag}): move one of the ranges`);
    seen.set(p.port, p);
  }
  return { rpc, p2p, l1: b.l1, executorMetrics: em, all };
}

/** True when nothing listens on host:port (we can bind it). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** Throw DEVNET_PORT_BUSY naming the first busy port, its role and the flag to change. */
export async function assertPortsFree(plan: PortPlan, host = '127.0.0.1'): Promise<void> {
  const free = await Promise.all(plan.all.map((p) => isPortFree(p.port, host)));
  const busy = plan.all.filter((_, i) => !free[i]);
  if (busy.length === 0) return;
  const first = busy[0]!;
  const more = busy.length > 1 ? ` (also busy: ${busy.slice(1).map((b) => b.port).join(', ')})` : '';
  throw new PocError<DevnetPortErrorCode>('DEVNET_PORT_BUSY', `port ${first.port} (${first.what}) is already in use on ${host}${more}: stop the process using it, or pick other ports with ${first.flag} <port>`, { data: { busy: busy.map((b) => b.port) } });
}
