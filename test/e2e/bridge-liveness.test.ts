/**
 * Deposits cannot halt the chain (issue 10, item 4), with real processes against a real anvil:
 * 4 validators and a full node.
 *  - node2's L1 view misses every deposit (a depth it never reaches: an L1 RPC that lags);
 *  - node3 reaches L1 through a proxy the test cuts for a while (an L1 RPC that is down);
 *  - node4 is a full node without any L1 RPC.
 * While node3's L1 is cut, only 2 of 4 validators can judge a block with a deposit: round-0
 * proposals carrying it get no quorum, and the chain goes on with blocks without deposits. When the
 * proxy comes back the deposit is minted, and node2 and the full node follow the block by its
 * commit. Then an L1 reorg deeper than the depth replaces a minted deposit: every watching node
 * detects and logs it, nothing is minted twice, and later deposits still flow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseUnits } from 'ethers';
import { createBridgeNet, cuttableProxy, fundedUser, nodeLog, type BridgeNet, type CuttableProxy } from '../fixtures/bridge-net.ts';
import { rpc, waitFor } from '../helpers/proc.ts';
import { deposit } from '../../bridge/client.ts';

const DEPTH = 2;
const ALL = [0, 1, 2, 3, 4];
const WATCHING = [0, 1, 3]; // nodes whose L1 view sees deposits at the depth

test('a split or missing L1 view stalls only the bridge; a deep L1 reorg is detected and mints nothing twice', { timeout: 300_000 }, async () => {
  let proxy: CuttableProxy | undefined;
  let b: BridgeNet | undefined;
  try {
    b = await createBridgeNet({ validators: 4, fullNodes: 1, confirmations: DEPTH, l1BlockTime: 0, nodeConfig: { 2: { l1Confirmations: 1_000_000 }, 4: { l1Rpc: '' } } });
    const net = b.net;
    proxy = await cuttableProxy(b.anvil.port);
    // node3 watches L1 through the proxy (its config is rewritten before it first starts)
    const cfile = join(net.nodes[3]!.datadir, 'config.json');
    writeFileSync(cfile, JSON.stringify({ ...JSON.parse(readFileSync(cfile, 'utf8')), l1Rpc: proxy.url }, null, 1));

    await net.startAll();
    await net.waitHeight(3, ALL, 60_000);
    const status = (i: number) => rpc(net.nodes[i]!.url, 'pocchain_bridgeStatus');
    const bal = async (i: number, a: string) => BigInt(await rpc(net.nodes[i]!.url, 'eth_getBalance', [a, 'latest']));
    const mineL1 = async (n: number) => void (await b!.l1.send('anvil_mine', ['0x' + n.toString(16)]));
    const mintedEverywhere = (nonce: number) => waitFor(`nonce ${nonce} minted on every node`, async () => (await Promise.all(ALL.map(status))).every((s) => Number(s.nextDepositNonce) > nonce), 90_000);
    const user = await fundedUser(b, parseUnits('1000', 18));
    const [x, y, z, w] = ['a1', 'a2', 'a3', 'a4'].map((h) => '0x' + h.repeat(20));

    assert.equal((await rpc(net.nodes[4]!.url, 'pocchain_bridgeInfo')).l1Watching, false, 'the full node has no L1');

    // 1. node3's L1 goes down; a deposit becomes final for nodes 0 and 1 only
    await proxy.cut();
    await waitFor('node3 to see its L1 down', async () => (await status(3)).l1?.lastError !== null, 30_000);
    const a = await deposit({ signer: user, vault: b.d.vault, amount: 5n, to: x! });
    await mineL1(DEPTH);
    await waitFor('nodes 0 and 1 to hold the deposit', async () => (await Promise.all([0, 1].map(status))).every((s) => s.l1.highestNonce === '0'), 30_000);
    const h0 = await net.height(0);
    await net.waitHeight(h0 + 10, ALL, 120_000);
    for (const i of ALL) assert.equal((await status(i)).nextDepositNonce, '0', `node${i}: minted with only 2 of 4 validators able to judge`);

    // 2. node3's L1 comes back: the deposit is minted; node2 (behind) and node4 (no L1) follow by the commit
    await proxy.restore();
    await mintedEverywhere(0);
    for (const i of ALL) assert.equal(await bal(i, x!), 5n, `node${i}`);
    assert.equal((await status(2)).l1.highestNonce, null, 'node2 never saw the deposit itself');
    assert.equal(a.nonce, 0n);

    // 3. a deposit that is minted, then reorged out deeper than the depth and replaced on L1
    const snap = await b.l1.send('evm_snapshot', []);
    const bDep = await deposit({ signer: user, vault: b.d.vault, amount: 6n, to: y! });
    assert.equal(bDep.nonce, 1n);
    await mineL1(DEPTH);
    await mintedEverywhere(1);
    assert.equal(await b.l1.send('evm_revert', [snap]), true);
    const c = await deposit({ signer: user, vault: b.d.vault, amount: 9n, to: z! });
    assert.equal(c.nonce, 1n, 'the same nonce, other contents');
    await mineL1(DEPTH + 2);
    for (const i of WATCHING) {
      await waitFor(`node${i} to detect the deep reorg`, async () => (await status(i)).l1.deepReorgs > 0 && (await status(i)).l1.mintedConflicts > 0, 30_000);
      assert.match(nodeLog(b, i), /L1 reorg deeper than the confirmation depth/);
      assert.match(nodeLog(b, i), /deposit already minted shows other contents on L1 after a reorg: not minted again/);
    }
    const h1 = Math.max(...(await Promise.all(ALL.map((i) => net.height(i)))));
    await net.waitHeight(h1 + 5, ALL, 60_000);
    for (const i of ALL) {
      assert.equal(await bal(i, y!), 6n, `node${i}: the first version stays minted`);
      assert.equal(await bal(i, z!), 0n, `node${i}: the replacement is never minted`);
      assert.equal((await status(i)).nextDepositNonce, '2');
      assert.equal((await status(i)).mintedFromDeposits, '11');
    }

    // 4. the bridge goes on with the next nonce
    const d = await deposit({ signer: user, vault: b.d.vault, amount: 3n, to: w! });
    assert.equal(d.nonce, 2n);
    await mineL1(DEPTH);
    await mintedEverywhere(2);
    for (const i of ALL) assert.equal(await bal(i, w!), 3n, `node${i}`);
    const agree = await net.checkAgreement(ALL);
    assert.deepEqual(agree.conflicts, []);
  } finally {
    await proxy?.close();
    await b?.stop();
  }
});
