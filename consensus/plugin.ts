/**
 * Node plugins: how the upper layers (proof-of-contribution system calls, the bridge) attach to a
 * node without the composition root knowing their insides. A plugin may contribute operations for
 * steps of the block transition (run in the protocol's order, consensus/transition.ts, whatever
 * the plugin order), system inputs for proposals (deposits), RPC
 * methods, HTTP routes, and a start/stop lifecycle with access to the node's parts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Chain } from '../chain/chain.ts';
import type { TxPool } from '../chain/txpool.ts';
import type { SystemOps } from './transition.ts';
import type { RpcMethod } from '../chain/rpc/server.ts';
import type { P2PNode } from '../chain/p2p/index.ts';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { SystemInputSource } from './driver.ts';
import type { SetMember } from './validator-sets.ts';

export interface PluginContext {
  chain: Chain;
  pool: TxPool;
  p2p: P2PNode;
  logger: Logger;
  metrics: Metrics;
  /** node data directory (plugins keep their files under it) */
  datadir: string;
  /** this node's validator index in the genesis set, or -1 */
  validatorIndex: number;
  /**
   * The validator set that signs block `height` (1 ≤ height ≤ head + 1): the genesis set on a
   * fixed-set chain, else the set of the height's epoch (consensus/validator-sets.ts).
   */
  validatorSetAt(height: number): Promise<readonly SetMember[]>;
  /** blocks per validator epoch (the set can change after each multiple), or null when it never changes */
  validatorEpochLength: number | null;
}

export interface NodePlugin {
  name: string;
  /** operations for steps of the block transition */
  steps?: SystemOps;
  /** at most one plugin provides system inputs (deposits) */
  system?: SystemInputSource;
  methods?: Record<string, RpcMethod>;
  routes?: Record<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>;
  start?(ctx: PluginContext): Promise<void>;
  stop?(): Promise<void>;
}
