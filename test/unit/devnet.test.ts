/** The devnet's pure parts: port plan and busy-port refusal, status line, node configs, manifest, dir safety. */
import { freePort } from '../../lib/anvil.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertPortsFree, planPorts } from '../../devnet/ports.ts';
import { formatStatus, parseStatusLine, type DevnetStatus } from '../../devnet/status.ts';
import { executorNodes, isDevnetDir, nodeConfig, type Layout } from '../../devnet/layout.ts';
import { buildManifest } from '../../devnet/manifest.ts';
import { isPocError } from '../../lib/errors.ts';
import { tempDir } from '../helpers/proc.ts';

test('planPorts: node i gets base+i; overlaps and bad ports are refused naming the flags', () => {
  const p = planPorts({ rpc: 8545, p2p: 26656, l1: 8645 }, 4, 3);
  assert.deepEqual(p.rpc, [8545, 8546, 8547, 8548]);
  assert.deepEqual(p.p2p, [26656, 26657, 26658, 26659]);
  assert.equal(p.executorMetrics, null);
  assert.equal(p.all.length, 9);
  assert.deepEqual(planPorts({ rpc: 8545, p2p: 26656, l1: 8645, executorMetrics: 9100 }, 4, 3).executorMetrics, [9100, 9101, 9102]);
  assert.throws(() => planPorts({ rpc: 8545, p2p: 26656, l1: 8547 }, 4, 3), (e: unknown) => isPocError(e, 'DEVNET_BAD_PORT') && /8547.*--rpc-port.*--l1-port/.test((e as Error).message));
  assert.throws(() => planPorts({ rpc: 65534, p2p: 26656, l1: 8645 }, 4, 3), (e: unknown) => isPocError(e, 'DEVNET_BAD_PORT') && /65536/.test((e as Error).message));
});

test('assertPortsFree: a busy port fails with the port, its role and the flag', async () => {
  // below the ephemeral range, so that neighbouring ports are not in use by outgoing connections
  const s = createServer();
  const busy = await freePort();
  await new Promise<void>((r) => s.listen(busy, '127.0.0.1', r));
  try {
    const plan = planPorts({ rpc: busy - 2, p2p: busy + 100, l1: busy + 200 }, 4, 0);
    await assert.rejects(assertPortsFree(plan), (e: unknown) => isPocError(e, 'DEVNET_PORT_BUSY') && (e as Error).message.includes(`port ${busy} (RPC of validator node2)`) && (e as Error).message.includes('--rpc-port <port>'));
  } finally {
    await new Promise((r) => s.close(r));
  }
});

test('status line: formatted with - for unknowns, parsed back', () => {
  const s: DevnetStatus = { height: 42, commitMs: 510, peers: 3, pendingTxs: 0, tasksRunning: 1, tasksFinalized: 2, executors: 3, l1Checkpoint: 40, l1Block: null, procs: { running: 8, total: 9 } };
  const line = formatStatus(s);
  assert.equal(line, 'status height=42 commit_ms=510 peers=3 pending_txs=0 tasks_running=1 tasks_finalized=2 executors=3 l1_checkpoint=40 l1_block=- procs=8/9');
  assert.deepEqual(parseStatusLine('\r\x1b[2K' + line), { height: '42', commit_ms: '510', peers: '3', pending_txs: '0', tasks_running: '1', tasks_finalized: '2', executors: '3', l1_checkpoint: '40', l1_block: '-', procs: '8/9' });
  assert.equal(parseStatusLine('pocchain devnet — new chain'), null);
});

const layout: Layout = {
  version: 1,
  createdAt: '2020-01-01T00:00:00.000Z',
  chainId: 31338,
  validators: [0, 1, 2].map((i) => ({ name: `node${i}`, datadir: `nodes/node${i}`, peerId: `peer${i}`, address: '0x' + String(i).repeat(40), pubKey: '0x' })),
  executors: [{ name: 'executor0', account: 5, address: '0x' + '5'.repeat(40), datadir: 'executors/executor0' }],
  relayer: { account: 9, address: '0x' + '9'.repeat(40) },
  l1: { chainId: 31337, deployment: { l1ChainId: 31337, token: '0x' + 'a'.repeat(40), checkpoints: '0x' + 'b'.repeat(40), vault: '0x' + 'c'.repeat(40), startBlock: 1 } },
  epoch: 10,
  confirmations: 2,
};

test('nodeConfig: this start\'s ports, bootstrap = the other validators', () => {
  const c = nodeConfig(layout, '/d', 1, { rpc: [100, 101, 102], p2p: [200, 201, 202] }, { blockTimeMs: 500, l1Url: 'http://127.0.0.1:9' });
  assert.equal(c.datadir, '/d/nodes/node1');
  assert.equal(c.rpcPort, '101');
  assert.equal(c.p2pPort, '201');
  assert.equal(c.bootstrap, '/ip4/127.0.0.1/tcp/200/p2p/peer0,/ip4/127.0.0.1/tcp/202/p2p/peer2');
  assert.equal(c.l1Rpc, 'http://127.0.0.1:9');
});

test('manifest: URLs, contracts, dev keys marked; no pids once stopped', () => {
  const base = { dir: '/d', layout, startedAt: 'x', rpcPorts: [100, 101, 102], p2pPorts: [200, 201, 202], l1Url: 'http://127.0.0.1:9', pids: { node0: 11, node1: 12, node2: 13, executor0: 14, relayer: 15, l1: 16 }, logs: {}, executorRpc: ['http://127.0.0.1:101'], executorMetrics: [null] };
  const m = buildManifest({ ...base, running: true }) as any;
  assert.equal(m.nodes[2].ws, 'ws://127.0.0.1:102');
  assert.equal(m.nodes[2].p2p, '/ip4/127.0.0.1/tcp/202/p2p/peer2');
  assert.deepEqual([m.nodes[0].pid, m.executors[0].pid, m.relayer.pid, m.l1.pid], [11, 14, 15, 16]);
  assert.equal(m.l1.ws, 'ws://127.0.0.1:9');
  assert.equal(m.contracts.sidechain.bridge, '0x0000000000000000000000000000000000001002');
  assert.equal(m.contracts.l1.vault, layout.l1.deployment.vault);
  assert.match(m.devAccounts.warning, /DEV ONLY/);
  assert.equal(m.devAccounts.accounts[5].role, 'executor0');
  const stopped = buildManifest({ ...base, running: false, stoppedAt: 'y' }) as any;
  assert.deepEqual([stopped.nodes[0].pid, stopped.relayer.pid, stopped.l1.pid, stopped.devnetPid], [null, null, null, null]);
});

test('isDevnetDir: --reset never wipes a directory holding anything else', () => {
  const d = tempDir('pocchain-devnet-unit-');
  assert.equal(isDevnetDir(join(d, 'absent')), true);
  assert.equal(isDevnetDir(d), true, 'empty');
  mkdirSync(join(d, 'nodes'));
  writeFileSync(join(d, 'layout.json'), '{}');
  assert.equal(isDevnetDir(d), true);
  writeFileSync(join(d, 'thesis.tex'), '');
  assert.equal(isDevnetDir(d), false);
});

test('executorNodes: executor k on node k mod n first, then every other node once, in order', () => {
  assert.deepEqual(executorNodes(0, 4), [0, 1, 2, 3]);
  assert.deepEqual(executorNodes(1, 4), [1, 0, 2, 3]);
  assert.deepEqual(executorNodes(2, 4), [2, 0, 1, 3]);
  assert.deepEqual(executorNodes(5, 4), [1, 0, 2, 3]);
  assert.deepEqual(executorNodes(3, 1), [0]);
});
