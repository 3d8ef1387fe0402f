/**
 * `<dir>/devnet.json`: the running devnet, for scripts. Written once every child is spawned and
 * again on stop (`running: false`, pids null, so nobody signals a recycled pid). Shape:
 *
 *   { running, devnetPid, dir, startedAt, stoppedAt, chainId,
 *     nodes:     [{ name, validator, rpc, ws, p2p, pid, address, datadir, log }],
 *     executors: [{ name, account, address, rpc, pid, datadir, log, metrics }],
 *     relayer:   { account, address, pid, log },
 *     l1:        { rpc, ws, chainId, pid, stateFile, log },
 *     contracts: { sidechain: { staking, hub, bridge }, l1: { token, checkpoints, vault, startBlock } },
 *     bridge:    { epochLength, confirmations },
 *     devAccounts: { warning, mnemonic, accounts: [{ index, address, privateKey, role }] } }
 */
import { writeFileSync, renameSync } from 'node:fs';
import { devAccounts, TEST_MNEMONIC } from '../lib/keys.ts';
import { HUB_ADDRESS, STAKING_ADDRESS } from '../consensus/poc/index.ts';
import { BRIDGE_ADDRESS } from '../bridge/deposits-hook.ts';
import { abs, DEPLOYER_ACCOUNT, type Layout } from './layout.ts';

export interface ManifestInput {
  dir: string;
  layout: Layout;
  running: boolean;
  startedAt: string;
  stoppedAt?: string;
  rpcPorts: number[];
  p2pPorts: number[];
  l1Url: string;
  /** pid per child name (node0, executor0, relayer, l1); absent or null: not running */
  pids: Record<string, number | null>;
  logs: Record<string, string>;
  executorRpc: string[];
  executorMetrics: (number | null)[];
}

/** Roles of the dev accounts, for people reading the banner or the manifest. */
export function accountRoles(l: Layout): Map<number, string> {
  const m = new Map<number, string>([[DEPLOYER_ACCOUNT, 'L1 deployer, Vault owner']]);
  for (const e of l.executors) m.set(e.account, e.name);
  m.set(l.relayer.account, 'relayer (L1 gas)');
  return m;
}

/** Build the manifest object. Pure. */
export function buildManifest(m: ManifestInput): Record<string, unknown> {
  const l = m.layout;
  const pid = (name: string) => (m.running ? m.pids[name] ?? null : null);
  const roles = accountRoles(l);
  return {
    running: m.running,
    devnetPid: m.running ? process.pid : null,
    dir: m.dir,
    startedAt: m.startedAt,
    stoppedAt: m.stoppedAt ?? null,
    chainId: l.chainId,
    nodes: l.validators.map((v, i) => ({
      name: v.name,
      validator: true,
      rpc: `http://127.0.0.1:${m.rpcPorts[i]}`,
      ws: `ws://127.0.0.1:${m.rpcPorts[i]}`,
      p2p: `/ip4/127.0.0.1/tcp/${m.p2pPorts[i]}/p2p/${v.peerId}`,
      pid: pid(v.name),
      address: v.address,
      datadir: abs(m.dir, v.datadir),
      log: m.logs[v.name],
    })),
    executors: l.executors.map((e, k) => ({ name: e.name, account: e.account, address: e.address, rpc: m.executorRpc[k], pid: pid(e.name), datadir: abs(m.dir, e.datadir), log: m.logs[e.name], metrics: m.executorMetrics[k] ? `http://127.0.0.1:${m.executorMetrics[k]}/metrics` : null })),
    relayer: { account: l.relayer.account, address: l.relayer.address, pid: pid('relayer'), log: m.logs.relayer },
    l1: { rpc: m.l1Url, ws: m.l1Url.replace(/^http/, 'ws'), chainId: l.l1.chainId, pid: pid('l1'), stateFile: 'l1/state.json', log: m.logs.l1 },
    contracts: {
      sidechain: { staking: STAKING_ADDRESS, hub: HUB_ADDRESS, bridge: BRIDGE_ADDRESS },
      l1: { token: l.l1.deployment.token, checkpoints: l.l1.deployment.checkpoints, vault: l.l1.deployment.vault, startBlock: l.l1.deployment.startBlock },
    },
    bridge: { epochLength: l.epoch, confirmations: l.confirmations },
    devAccounts: {
      warning: 'DEV ONLY: the well-known test mnemonic; these keys are public, never use them on a real network',
      mnemonic: TEST_MNEMONIC,
      accounts: devAccounts(10).map((w, i) => ({ index: i, address: w.address, privateKey: w.privateKey, role: roles.get(i) ?? null })),
    },
  };
}

/** Write the manifest atomically (readers never see half a file). */
export function saveManifest(file: string, manifest: Record<string, unknown>): void {
  writeFileSync(file + '.tmp', JSON.stringify(manifest, null, 1));
  renameSync(file + '.tmp', file);
}
