/**
 * Deposits against a real anvil with one validator process: nothing is minted before the
 * confirmation depth; an L1 reorg shallower than the depth (evm_snapshot / evm_revert) that
 * replaces a deposit mints only the surviving one, once; a node restart (watcher rescans L1 from
 * the deployment block) mints nothing twice; `bridge status` shows the invariant.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUnits } from 'ethers';
import { createBridgeNet, fundedUser, runCli, type BridgeNet } from '../fixtures/bridge-net.ts';
import { rpc, waitFor } from '../helpers/proc.ts';
import { deposit } from '../../bridge/client.ts';

const CONFIRMATIONS = 3;

test('deposits wait for confirmations, survive a shallow L1 reorg and a node restart, mint once', { timeout: 150_000 }, async () => {
  const b: BridgeNet = await createBridgeNet({ validators: 1, confirmations: CONFIRMATIONS, l1BlockTime: 0 });
  try {
    await b.net.start(0);
    const url = b.net.nodes[0]!.url;
    const status = () => rpc(url, 'pocchain_bridgeStatus');
    const bal = async (a: string) => BigInt(await rpc(url, 'eth_getBalance', [a, 'latest']));
    const user = await fundedUser(b, parseUnits('1000', 18));
    const to = '0x' + 'ab'.repeat(20);
    const mineL1 = async (n: number) => {
      for (let i = 0; i < n; i++) await b.l1.send('evm_mine', []);
    };
    const sidechainBlocks = async (n: number) => {
      const h = await b.net.height(0);
      await b.net.waitHeight(h + n, [0], 30_000);
    };

    const snap = await b.l1.send('evm_snapshot', []);
    const first = await deposit({ signer: user, vault: b.d.vault, amount: 5n, to });
    await mineL1(CONFIRMATIONS - 1); // one block short of the depth
    const l1Head = await b.l1.getBlockNumber();
    assert.equal(l1Head - first.l1Block, CONFIRMATIONS - 1);
    await sidechainBlocks(6); // the watcher polls every 200 ms: it had time to see the log
    assert.equal((await status()).nextDepositNonce, '0', 'minted before the confirmation depth');
    assert.equal(await bal(to), 0n);

    // reorg: the deposit (and the blocks on top, fewer than the depth) disappear; another one takes nonce 0
    assert.equal(await b.l1.send('evm_revert', [snap]), true);
    const second = await deposit({ signer: user, vault: b.d.vault, amount: 7n, to });
    assert.equal(second.nonce, 0n);
    assert.notEqual(second.l1TxHash, first.l1TxHash);
    await mineL1(CONFIRMATIONS);
    await waitFor('the surviving deposit to be minted', async () => (await status()).nextDepositNonce === '1', 30_000);
    assert.equal(await bal(to), 7n, 'the reorged-out deposit of 5 must not be minted');
    assert.equal((await status()).mintedFromDeposits, '7');

    // restart: the watcher rescans L1 from the deployment block and sees nonce 0 again
    await b.net.stop(0);
    await b.net.start(0);
    await mineL1(CONFIRMATIONS);
    await sidechainBlocks(6);
    assert.equal(await bal(to), 7n, 'nothing minted twice after a restart');
    assert.equal((await status()).nextDepositNonce, '1');

    const third = await deposit({ signer: user, vault: b.d.vault, amount: 3n, to });
    assert.equal(third.nonce, 1n);
    await mineL1(CONFIRMATIONS);
    await waitFor('the next deposit to be minted', async () => (await status()).nextDepositNonce === '2', 30_000);
    assert.equal(await bal(to), 10n);

    const s = await runCli(['bridge', 'status', '--rpc', url, '--l1-rpc', b.anvil.url, '--json']);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(s.json.l1.lockedInVault, '10');
    assert.equal(s.json.nativeSupplyFromDeposits, '10');
    assert.equal(s.json.pendingWithdrawals, '0');
    assert.equal(s.json.invariantHolds, true);

    // a refused CLI call: clear error, non-zero exit, nothing locked
    const bad = await runCli(['bridge', 'deposit', '--l1-rpc', b.anvil.url, '--vault', b.d.vault, '--amount', '0', '--to', to, '--json'], { POCCHAIN_KEY: user.privateKey });
    assert.equal(bad.code, 1);
    assert.equal(bad.json.error.code, 'BAD_AMOUNT');
    assert.equal(await b.token.getFunction('balanceOf')(b.d.vault), 10n);
  } finally {
    await b.stop();
  }
});
