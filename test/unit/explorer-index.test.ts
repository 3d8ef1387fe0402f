/**
 * The explorer in process, over a real LevelDB chain: the indices are built from committed blocks
 * (catch-up on start, then live), the pocchain_explorer* answers come from them, bad input gets
 * typed errors, and the HTTP routes serve only the listed files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hexToBytes, bytesToHex } from '@ethereumjs/util';
import { createTx } from '@ethereumjs/tx';
import { Interface, Wallet, keccak256, toUtf8Bytes } from 'ethers';
import { Chain } from '../../chain/chain.ts';
import { buildGenesis } from '../../chain/devgenesis.ts';
import { sysHash, type SysData } from '../../consensus/envelope.ts';
import { depositSteps } from '../../bridge/deposits-hook.ts';
import { blockTransition } from '../../consensus/transition.ts';
import { RpcServer, RpcError } from '../../chain/rpc/server.ts';
import { ExplorerIndex } from '../../explorer/indexer.ts';
import { createExplorerApi } from '../../explorer/api.ts';
import { createExplorerPlugin } from '../../explorer/plugin.ts';
import { loadArtifact } from '../../contracts/artifacts.ts';
import { freePort } from '../../lib/anvil.ts';
import { HUB_ADDRESS } from '../../consensus/poc/params.ts';

const alice = Wallet.createRandom();
const bob = Wallet.createRandom().address.toLowerCase();
const carol = Wallet.createRandom().address.toLowerCase();
const hubIface = new Interface(loadArtifact('Hub').abi);
const app = keccak256(toUtf8Bytes('an app'));

function signed(chain: Chain, nonce: number, to: string, value: bigint, data = '0x') {
  const tx = createTx({ type: 2 as const, chainId: chain.chainId, nonce: BigInt(nonce), to: to as `0x${string}`, value, data: hexToBytes(data as `0x${string}`), gasLimit: 300_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n }, { common: chain.common });
  return tx.sign(hexToBytes(alice.privateKey as `0x${string}`));
}

async function mine(chain: Chain, txs: ReturnType<typeof signed>[], sys: SysData = { evidence: [], deposits: [] }) {
  const res = await chain.build(chain.nextHeader({ coinbase: new Uint8Array(20), extraData: sysHash(sys) }), txs, 1000, sys);
  assert.equal(res.skipped.length, 0, JSON.stringify(res.skipped.map((s) => s.reason)));
  const { encodeSys } = await import('../../consensus/envelope.ts');
  await chain.commit(res, { sys: encodeSys(sys) });
  return res.block;
}

test('explorer indices and pocchain_explorer* over a real chain: catch-up, live blocks, search, bad input', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'explorer-index-'));
  const genesis = buildGenesis({ chainId: 4243, funded: [alice.address], validators: [{ pubKey: '0x' + '22'.repeat(32), address: Wallet.createRandom().address, power: 3 }] });
  const chain = await Chain.open({ datadir: join(dir, 'chain'), genesis, hooks: blockTransition([depositSteps()]) });
  let index = new ExplorerIndex(join(dir, 'explorer-index'), chain);
  const api = createExplorerApi({ chain: () => chain, index: () => index, validators: genesis.validators });
  const call = (m: string, p: unknown[] = []) => api[m]!(p, { id: 1 }) as Promise<any>;
  try {
    // blocks before the index exists: a transfer and a deposit, then an app registration
    const deposit = { nonce: 0n, recipient: hexToBytes(carol as `0x${string}`), amount: 5n * 10n ** 18n, l1TxHash: hexToBytes(keccak256(toUtf8Bytes('l1 tx')) as `0x${string}`) };
    const b1 = await mine(chain, [signed(chain, 0, bob, 1234n)], { evidence: [], deposits: [deposit] });
    const reg = signed(chain, 1, HUB_ADDRESS, 0n, hubIface.encodeFunctionData('registerApp', [app, 0n, 0, 'ipfs://app']));
    await mine(chain, [reg]);

    await index.start();
    await index.synced();
    assert.equal(index.height, 2, 'caught up to the head');
    const transferHash = bytesToHex(b1.transactions[0]!.hash());
    assert.deepEqual(await call('pocchain_explorerAddressTxs', [bob]), [{ hash: transferHash, dir: 'in' }]);
    const aliceTxs = await call('pocchain_explorerAddressTxs', [alice.address, 10]);
    assert.deepEqual(aliceTxs.map((t: any) => t.dir), ['out', 'out'], 'newest first');
    assert.equal(aliceTxs[0].hash, bytesToHex(reg.hash()));
    assert.deepEqual((await call('pocchain_explorerAddressTxs', [carol])).map((t: any) => t.dir), ['deposit']);
    const bridge = await call('pocchain_explorerBridge', []);
    assert.equal(bridge.deposits.length, 1);
    assert.equal(bridge.deposits[0].args.amount, (5n * 10n ** 18n).toString());
    assert.equal(bridge.deposits[0].args.recipient.toLowerCase(), carol);
    const assets = await call('pocchain_explorerAssets', []);
    assert.equal(assets.apps.length, 1);
    assert.equal(assets.apps[0].args.app, app);
    assert.equal(assets.apps[0].args.uri, 'ipfs://app');
    assert.deepEqual(await call('pocchain_explorerTasks', []), []);
    assert.equal(await call('pocchain_explorerTask', ['7']), null);
    const dec = await call('pocchain_explorerDecodeInput', [HUB_ADDRESS, bytesToHex(reg.data)]);
    assert.equal(dec.contract, 'Hub');
    assert.equal(dec.function, 'registerApp(bytes32,uint256,uint8,string)');
    assert.equal(await call('pocchain_explorerDecodeInput', [bob, '0x12345678']), null);
    const vals = await call('pocchain_explorerValidators', []);
    assert.equal(vals.validators.length, 1);
    assert.equal(vals.validators[0].power, 3);

    // live: a block committed while the index runs is indexed
    const b3 = await mine(chain, [signed(chain, 2, carol, 1n)]);
    await index.synced();
    assert.equal(index.height, 3);
    assert.equal((await call('pocchain_explorerAddressTxs', [carol]))[0].hash, bytesToHex(b3.transactions[0]!.hash()));

    // restart: the index resumes from its saved height (a task is requested meanwhile)
    await index.stop();
    const ZERO = '0x' + '00'.repeat(32);
    await mine(chain, [signed(chain, 3, bob, 2n), signed(chain, 4, HUB_ADDRESS, 10n ** 15n, hubIface.encodeFunctionData('requestTask', [app, ZERO, '0x68656c6c6f', 1n, 1n, 1n, 0n, '0x' + '00'.repeat(20)]))]);
    index = new ExplorerIndex(join(dir, 'explorer-index'), chain);
    await index.start();
    await index.synced();
    assert.equal(index.height, 4);
    assert.equal((await call('pocchain_explorerAddressTxs', [bob])).length, 2);
    const tasks = await call('pocchain_explorerTasks', []);
    assert.deepEqual(tasks.map((t: any) => [t.id, t.status, t.requester.toLowerCase(), t.app]), [['1', 'active', alice.address.toLowerCase(), app]]);
    const task = await call('pocchain_explorerTask', ['1']);
    assert.equal(task.status, 'active');
    assert.equal(task.input, '0x68656c6c6f');
    assert.deepEqual(task.events.map((e: any) => e.name), ['TaskRequested']);
    assert.deepEqual(await call('pocchain_explorerSearch', ['task 1']), { kind: 'task', id: '1' });

    // search: block number, tx hash, block hash, address, unknown things
    assert.deepEqual(await call('pocchain_explorerSearch', ['2']), { kind: 'block', id: 2 });
    assert.deepEqual(await call('pocchain_explorerSearch', [transferHash]), { kind: 'tx', id: transferHash });
    assert.deepEqual(await call('pocchain_explorerSearch', [bytesToHex(b1.hash())]), { kind: 'block', id: 1 });
    assert.equal((await call('pocchain_explorerSearch', [` ${bob} `])).kind, 'address');
    assert.equal(await call('pocchain_explorerSearch', ['0x' + '00'.repeat(32)]), null);
    assert.equal(await call('pocchain_explorerSearch', ['999999']), null, 'beyond the head and no such task');
    assert.equal(await call('pocchain_explorerSearch', ['hello']), null);

    // bad input: typed errors
    for (const [m, p] of [['pocchain_explorerAddressTxs', ['0x12']], ['pocchain_explorerAddressTxs', [bob, 0]], ['pocchain_explorerAddressTxs', [bob, 'ten']], ['pocchain_explorerTask', ['-1']], ['pocchain_explorerSearch', ['x'.repeat(101)]], ['pocchain_explorerSearch', [42]]] as const) {
      await assert.rejects(call(m, [...p]), (e: unknown) => e instanceof RpcError && e.code === -32602, `${m} ${JSON.stringify(p)}`);
    }
    assert.equal((await call('pocchain_explorerAddressTxs', [alice.address, 10_000])).length, 5, 'limit capped, all 5 returned');
  } finally {
    await index.stop().catch(() => {});
    await chain.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('explorer routes: / redirects, listed files served, anything else 404 (no path reaches the disk)', async () => {
  const genesis = buildGenesis({ chainId: 4244, validators: [{ pubKey: '0x' + '33'.repeat(32), address: Wallet.createRandom().address, power: 1 }] });
  const plugin = createExplorerPlugin(genesis);
  const server = new RpcServer({ port: await freePort(), methods: {}, routes: { '/health': (_q, r) => void r.end('ok'), ...plugin.routes } });
  await server.start();
  const base = `http://127.0.0.1:${server.port}`;
  try {
    const root = await fetch(`${base}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/explorer/');
    const page = await fetch(`${base}/explorer/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /importmap/);
    for (const f of ['app.js', 'rpc.js', 'style.css', 'vendor/preact.js', 'vendor/hooks.js', 'vendor/htm.js', 'vendor/uplot.js', 'vendor/uplot.css']) {
      const r = await fetch(`${base}/explorer/${f}`);
      assert.equal(r.status, 200, f);
      assert.ok((await r.arrayBuffer()).byteLength > 100, f);
    }
    assert.equal((await fetch(`${base}/health`)).status, 200, 'earlier routes still win');
    for (const bad of ['/explorer/../package.json', '/explorer/%2e%2e/package.json', '/explorer/vendor/', '/explorer/nope.js', '/nope', '/explorer/constructor']) {
      const r = await fetch(`${base}${bad}`, { redirect: 'manual' });
      assert.equal(r.status, 404, bad);
    }
  } finally {
    await server.stop();
  }
});
