/**
 * Lays out an N-validator network on one host (like `cometbft testnet`): per node a data dir with
 * keys (0600), a p2p identity, the shared genesis and a config.json with ports and bootstrap peers.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { initKeys, publicIdentity, devAccounts } from '../lib/keys.ts';
import { loadOrCreateIdentity } from '../chain/p2p/index.ts';
import { buildGenesis } from '../chain/devgenesis.ts';

export interface TestnetSpec {
  out: string;
  validators: number;
  fullNodes?: number;
  chainId: number;
  rpcPort: number;
  p2pPort: number;
  blockTimeMs: number;
  /** extra genesis fields (e.g. bridge config) */
  genesisExtra?: Record<string, unknown>;
  funded?: string[];
  /** an open validator set (chain/devgenesis.ts GenesisSpec.staking) */
  staking?: Record<string, number | string>;
  epochLength?: number;
  /** explicit ports per node (overrides rpcPort+i / p2pPort+i) */
  ports?: { rpc: number[]; p2p: number[] };
}

export interface TestnetNode {
  name: string;
  datadir: string;
  rpcPort: number;
  p2pPort: number;
  peerId: string;
  multiaddr: string;
  validator: boolean;
  pubKey: string;
  address: string;
  blsPubKey: string;
  blsPop: string;
}

/** Create the node directories; returns what each node is. */
export async function createTestnet(s: TestnetSpec): Promise<{ genesis: string; nodes: TestnetNode[] }> {
  const total = s.validators + (s.fullNodes ?? 0);
  const nodes: TestnetNode[] = [];
  for (let i = 0; i < total; i++) {
    const datadir = join(s.out, `node${i}`);
    mkdirSync(datadir, { recursive: true, mode: 0o700 });
    const keys = initKeys(datadir);
    const pk = await loadOrCreateIdentity(join(datadir, 'consensus', 'p2p.key'));
    const peerId = peerIdFromPrivateKey(pk).toString();
    const p2pPort = s.ports?.p2p[i] ?? s.p2pPort + i;
    nodes.push({ name: `node${i}`, datadir, rpcPort: s.ports?.rpc[i] ?? s.rpcPort + i, p2pPort, peerId, multiaddr: `/ip4/127.0.0.1/tcp/${p2pPort}/p2p/${peerId}`, validator: i < s.validators, ...publicIdentity(keys) });
  }
  const genesis = buildGenesis({
    chainId: s.chainId,
    validators: nodes.filter((n) => n.validator).map((n) => ({ pubKey: n.pubKey, address: n.address, power: 10, name: n.name, blsPubKey: n.blsPubKey, blsPop: n.blsPop })),
    funded: s.funded ?? devAccounts(10).map((w) => w.address),
    blockTimeMs: s.blockTimeMs,
    ...(s.staking ? { staking: s.staking } : {}),
    ...(s.epochLength ? { epochLength: s.epochLength } : {}),
    ...(s.genesisExtra ? { extra: s.genesisExtra } : {}),
  });
  const gjson = JSON.stringify(genesis, null, 1);
  for (const n of nodes) {
    writeFileSync(join(n.datadir, 'genesis.json'), gjson);
    const config = { datadir: n.datadir, rpcPort: String(n.rpcPort), p2pPort: String(n.p2pPort), blockTime: String(s.blockTimeMs), bootstrap: nodes.filter((m) => m !== n).map((m) => m.multiaddr).join(',') };
    writeFileSync(join(n.datadir, 'config.json'), JSON.stringify(config, null, 1));
  }
  writeFileSync(join(s.out, 'genesis.json'), gjson);
  return { genesis: join(s.out, 'genesis.json'), nodes };
}
