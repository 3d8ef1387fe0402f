/**
 * The L1 deposit watcher against a real anvil: the finality rule (anvil's `finalized` tag and a
 * fixed depth), the L1 chain id check, an unreachable L1, and reorgs deeper than the rule
 * (anvil evm_snapshot / evm_revert): detected, an unminted deposit replaced by its new version,
 * a minted one never offered again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deposit } from '../../bridge/client.ts';
import { deployL1, type L1Deployment } from '../../bridge/l1-deploy.ts';
import { DepositWatcher, type Finality } from '../../bridge/watcher.ts';
import { freePort } from '../../lib/anvil.ts';
import { isPocError } from '../../lib/errors.ts';
import { startL1, type L1 } from './bridge-fixture.ts';

const to = '0x' + 'cd'.repeat(20);

async function setup(): Promise<{ l1: L1; d: L1Deployment; watcher: (finality: Finality, chainId?: number) => DepositWatcher; mine: (n: number) => Promise<void>; stop(): Promise<void> }> {
  const l1 = await startL1();
  const d = await deployL1({ signer: l1.signers[0]!, sidechainChainId: 7777, validators: [{ address: await l1.signers[1]!.getAddress(), power: 1 }] });
  const made: DepositWatcher[] = [];
  return {
    l1,
    d,
    watcher: (finality, chainId = l1.anvil.chainId) => {
      const w = new DepositWatcher({ url: l1.anvil.url, l1ChainId: chainId, vault: d.vault, finality, startBlock: d.startBlock, pollMs: 60_000 });
      made.push(w);
      return w;
    },
    mine: async (n) => void (await l1.provider.send('anvil_mine', ['0x' + n.toString(16)])),
    async stop() {
      for (const w of made) await w.stop();
      await l1.stop();
    },
  };
}

test('watcher: finalized tag, fixed depth, L1 chain id, unreachable L1', { timeout: 120_000 }, async () => {
  const s = await setup();
  try {
    const byTag = s.watcher('finalized');
    const byDepth = s.watcher(2);
    const dep = await deposit({ signer: s.l1.signers[0]!, vault: s.d.vault, amount: 5n, to });
    assert.equal(dep.nonce, 0n);
    await s.mine(1);
    await byDepth.refresh();
    assert.equal(byDepth.error(), null);
    assert.equal(byDepth.get(0n), undefined, 'one block on top is below a depth of 2');
    await s.mine(1);
    await byDepth.refresh();
    assert.equal(byDepth.get(0n)?.amount, 5n);

    // anvil's finalized block trails its head by 64 (two epochs of 32 slots)
    const head = await s.l1.provider.getBlockNumber();
    await s.mine(dep.l1Block + 64 - head - 1);
    await byTag.refresh();
    assert.equal(byTag.error(), null);
    assert.equal((await s.l1.provider.getBlock('finalized'))!.number, dep.l1Block - 1);
    assert.equal(byTag.get(0n), undefined, 'not final yet');
    await s.mine(1);
    await byTag.refresh();
    assert.equal(byTag.get(0n)?.txHash, dep.l1TxHash);
    assert.equal(byTag.status().finality, 'finalized');

    const wrong = s.watcher(2, 1);
    await assert.rejects(wrong.checkChain(), (e: unknown) => isPocError(e, 'BRIDGE_L1_WRONG_CHAIN') && /serves chain 31337/.test((e as Error).message));
    await wrong.refresh();
    assert.match(wrong.error() ?? '', /serves chain 31337/);
    assert.equal(wrong.get(0n), undefined, 'nothing read from the wrong chain');

    const down = new DepositWatcher({ url: `http://127.0.0.1:${await freePort()}`, l1ChainId: 31337, vault: s.d.vault, finality: 2, startBlock: 0, pollMs: 60_000, requestTimeoutMs: 2000 });
    await down.refresh();
    assert.notEqual(down.error(), null);
    await down.stop();
  } finally {
    await s.stop();
  }
});

test('watcher: a reorg deeper than the depth is detected; unminted deposits are replaced, minted ones never offered again', { timeout: 120_000 }, async () => {
  const s = await setup();
  try {
    const w = s.watcher(2);
    const signer = s.l1.signers[0]!;

    // nonce 0: seen final, then reorged out (3 blocks > depth 2) and replaced before it was minted
    const snap1 = await s.l1.provider.send('evm_snapshot', []);
    const a = await deposit({ signer, vault: s.d.vault, amount: 5n, to });
    await s.mine(2);
    await w.refresh();
    assert.equal(w.get(0n)?.txHash, a.l1TxHash);
    assert.equal(await s.l1.provider.send('evm_revert', [snap1]), true);
    const b = await deposit({ signer, vault: s.d.vault, amount: 6n, to: '0x' + 'ef'.repeat(20) });
    assert.equal(b.nonce, 0n);
    await s.mine(2);
    await w.refresh();
    assert.equal(w.error(), null);
    assert.equal(w.status().deepReorgs, 1);
    assert.equal(w.get(0n)?.txHash, b.l1TxHash, 'the new version of the unminted nonce replaces the old');
    assert.equal(w.get(0n)?.amount, 6n);

    // nonce 1: seen, minted (pruned), then reorged out and replaced: the conflict is counted, never offered
    const snap2 = await s.l1.provider.send('evm_snapshot', []);
    const c = await deposit({ signer, vault: s.d.vault, amount: 7n, to });
    await s.mine(2);
    await w.refresh();
    assert.deepEqual(w.contiguousFrom(0n, 10).map((d) => d.txHash), [b.l1TxHash, c.l1TxHash]);
    w.prune(2n); // both minted on the sidechain
    assert.equal(await s.l1.provider.send('evm_revert', [snap2]), true);
    const e = await deposit({ signer, vault: s.d.vault, amount: 8n, to });
    assert.equal(e.nonce, 1n);
    await s.mine(2);
    await w.refresh();
    assert.equal(w.status().deepReorgs, 2);
    assert.equal(w.status().mintedConflicts, 1);
    assert.deepEqual(w.contiguousFrom(1n, 10), [], 'a minted nonce is never offered again');

    // the bridge goes on with the next nonce
    const f = await deposit({ signer, vault: s.d.vault, amount: 9n, to });
    assert.equal(f.nonce, 2n);
    await s.mine(2);
    await w.refresh();
    assert.deepEqual(w.contiguousFrom(2n, 10).map((d) => d.amount), [9n]);
    assert.equal(w.status().deepReorgs, 2, 'no reorg reported on a straight chain');
  } finally {
    await s.stop();
  }
});
