/**
 * Wiring a laid-out network (consensus/testnet.ts) to an L1: deploy the bridge contracts for its
 * genesis validators, write the genesis `bridge` section into every copy of the genesis, and point
 * each node's config.json at the L1. Shared by the devnet and the bridge e2e fixture.
 * Must run before any node of the network has started (the genesis changes).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JsonRpcProvider, Network, parseUnits, type Signer } from 'ethers';
import { deployL1, type L1Deployment } from '../bridge/l1-deploy.ts';
import type { CheckpointScheme } from '../bridge/l1-checkpoints.ts';

/** An ethers provider for anvil/L1 that never asks for the network and never caches. */
export function l1Provider(url: string, chainId = 31337): JsonRpcProvider {
  return new JsonRpcProvider(url, Network.from(chainId), { staticNetwork: true, cacheTimeout: -1, pollingInterval: 100 });
}

export interface WireBridgeOptions {
  /** the network dir holding genesis.json (as written by createTestnet) */
  dir: string;
  /** node data dirs, each with genesis.json and config.json */
  datadirs: string[];
  /** L1 account paying for the deployment */
  deployer: Signer;
  l1Url: string;
  epoch: number;
  confirmations: number;
  l1PollMs?: number;
  periodLength?: number;
  periodCap?: bigint;
  /** extra config.json keys per node index */
  nodeConfig?: Record<number, Record<string, unknown>>;
  /** checkpoints contract (default: BLS when every genesis validator has a BLS key) */
  checkpointScheme?: CheckpointScheme;
}

/** Deploy the L1 side for the network's genesis and wire genesis + configs; returns the deployment. */
export async function wireBridge(o: WireBridgeOptions): Promise<L1Deployment> {
  const gfile = join(o.dir, 'genesis.json');
  const genesis = JSON.parse(readFileSync(gfile, 'utf8'));
  const d = await deployL1({ signer: o.deployer, sidechainChainId: genesis.chainId, validators: genesis.validators, epochLength: o.epoch, confirmations: o.confirmations, periodLength: o.periodLength ?? 3600, periodCap: o.periodCap ?? parseUnits('1000', 18), ...(o.checkpointScheme ? { scheme: o.checkpointScheme } : {}) });
  genesis.bridge = d;
  const gjson = JSON.stringify(genesis, null, 1);
  writeFileSync(gfile, gjson);
  o.datadirs.forEach((datadir, i) => {
    writeFileSync(join(datadir, 'genesis.json'), gjson);
    const cfile = join(datadir, 'config.json');
    const c = JSON.parse(readFileSync(cfile, 'utf8'));
    writeFileSync(cfile, JSON.stringify({ ...c, l1Rpc: o.l1Url, l1PollMs: o.l1PollMs ?? 200, ...(o.nodeConfig?.[i] ?? {}) }, null, 1));
  });
  return d;
}
