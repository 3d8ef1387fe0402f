/**
 * Each tx is decoded, sender-recovered and executed once per node: the pool's verified objects are
 * reused to build, to decode a peer's block and to commit. Counted with the chain's own counters
 * (the same ones /metrics exports), on real chains in temp LevelDBs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet, Transaction, parseUnits } from 'ethers';
import { hexToBytes } from '@ethereumjs/util';
import { Chain } from '../../chain/chain.ts';
import { TxPool } from '../../chain/txpool.ts';
import { buildGenesis } from '../../chain/devgenesis.ts';
import { isPocError } from '../../lib/errors.ts';
import { tempDir } from '../helpers/proc.ts';

const senders = Array.from({ length: 4 }, () => Wallet.createRandom());
const genesis = buildGenesis({ chainId: 778, validators: [{ pubKey: '0x' + '11'.repeat(32), address: senders[0]!.address, power: 1 }], funded: senders.map((w) => w.address) });

async function workload(perSender: number): Promise<Uint8Array[]> {
  const raw: Uint8Array[] = [];
  for (let i = 0; i < perSender; i++)
    for (const w of senders) {
      const tx = Transaction.from({ type: 2, chainId: 778, nonce: i, to: senders[0]!.address, value: 1n, gasLimit: 21000n, maxFeePerGas: parseUnits('100', 'gwei'), maxPriorityFeePerGas: parseUnits('1', 'gwei') });
      raw.push(hexToBytes((await w.signTransaction(tx)) as `0x${string}`));
    }
  return raw;
}

test('build, peer decode, verify and commit: one recovery and one execution per tx per node', async () => {
  const [c1, c2] = await Promise.all([Chain.open({ datadir: tempDir(), genesis }), Chain.open({ datadir: tempDir(), genesis })]);
  try {
    const p1 = new TxPool(c1);
    const p2 = new TxPool(c2);
    const raw = await workload(5);
    for (const r of raw) await p1.addRaw(r);
    for (const r of raw) await p2.addRaw(r); // as gossip would bring them
    assert.deepEqual(c1.counters, { senderRecoveries: 20, txExecutions: 0, txsCommitted: 0 }, 'admission recovers each sender once');

    // proposer
    const res = await c1.build(c1.nextHeader({ coinbase: new Uint8Array(20) }), p1.pending());
    assert.equal(res.block.transactions.length, 20);
    await c1.commit(res);
    assert.deepEqual(c1.counters, { senderRecoveries: 20, txExecutions: 20, txsCommitted: 20 }, 'building and committing recover nothing again');

    // peer: decodes the proposal reusing its pool's objects, verifies, commits
    const block = c2.decodeBlock(res.block.serialize(), (h) => p2.get(h));
    assert.ok(block.transactions.every((t, i) => t === p2.get('0x' + Buffer.from(res.block.transactions[i]!.hash()).toString('hex'))), 'the pool objects themselves are in the decoded block');
    const v = await c2.verify(block);
    await c2.commit(v);
    assert.deepEqual(c2.counters, { senderRecoveries: 20, txExecutions: 20, txsCommitted: 20 });
    assert.deepEqual(c2.head.hash(), c1.head.hash());

    // a late duplicate of a committed tx is refused without recovering its sender
    await assert.rejects(p2.addRaw(raw[0]!), /nonce too low/);
    assert.equal(c2.counters.senderRecoveries, 20);

    // a node that never saw the txs decodes and recovers each once, on the shared tx Common
    const c3 = await Chain.open({ datadir: tempDir(), genesis });
    try {
      const b3 = c3.decodeBlock(res.block.serialize());
      const v3 = await c3.verify(b3);
      await c3.commit(v3);
      assert.deepEqual(c3.counters, { senderRecoveries: 20, txExecutions: 20, txsCommitted: 20 });
      assert.ok(b3.transactions.every((t) => t.common === c3.txCommon), 'txs share one Common (no per-tx copy)');
      // reading the block back from disk restores the stored senders instead of recovering
      const stored = await c3.store.loadBlock(b3.hash());
      assert.ok(stored);
      const again = c3.decodeBlock(stored.rlp);
      assert.equal(c3.counters.senderRecoveries, 20);
      assert.equal(again.transactions.length, 20);
    } finally {
      await c3.close();
    }
  } finally {
    await c1.close();
    await c2.close();
  }
});

test('bytes that are not a block are a typed BLOCK_INVALID error', async () => {
  const c = await Chain.open({ datadir: tempDir(), genesis });
  try {
    for (const bad of [new Uint8Array([0xc0]), new Uint8Array([0x80]), new Uint8Array([0xff, 0x01]), c.genesisBlock.header.serialize()]) {
      assert.throws(() => c.decodeBlock(bad), (e: unknown) => isPocError(e, 'BLOCK_INVALID'));
    }
    assert.deepEqual(c.decodeBlock(c.genesisBlock.serialize()).hash(), c.genesisBlock.hash());
  } finally {
    await c.close();
  }
});
