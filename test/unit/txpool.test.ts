/** Tx pool ordering, replacement and bounded size, on a real chain in a temp LevelDB. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet, Transaction, parseUnits } from 'ethers';
import { createTxFromRLP } from '@ethereumjs/tx';
import { hexToBytes } from '@ethereumjs/util';
import { Chain } from '../../chain/chain.ts';
import { TxPool } from '../../chain/txpool.ts';
import { buildGenesis } from '../../chain/devgenesis.ts';
import { tempDir } from '../helpers/proc.ts';

const a = Wallet.createRandom();
const b = Wallet.createRandom();
const genesis = buildGenesis({ chainId: 777, validators: [{ pubKey: '0x' + '11'.repeat(32), address: a.address, power: 1 }], funded: [a.address, b.address] });

async function signed(w: Wallet | ReturnType<typeof Wallet.createRandom>, nonce: number, tipGwei: number, common: any) {
  const raw = await w.signTransaction(Transaction.from({ type: 2, chainId: 777, nonce, to: b.address, value: 1n, gasLimit: 21000n, maxFeePerGas: parseUnits('100', 'gwei'), maxPriorityFeePerGas: parseUnits(String(tipGwei), 'gwei') }));
  return createTxFromRLP(hexToBytes(raw as `0x${string}`), { common });
}

test('per-sender nonce order, tip order across senders, gaps held back', async () => {
  const chain = await Chain.open({ datadir: tempDir(), genesis });
  try {
    const pool = new TxPool(chain);
    await pool.add(await signed(a, 1, 5, chain.common));
    await pool.add(await signed(a, 0, 1, chain.common));
    await pool.add(await signed(b, 0, 3, chain.common));
    await pool.add(await signed(b, 2, 9, chain.common)); // gap: nonce 1 missing
    const order = pool.pending().map((t) => [t.getSenderAddress().toString(), Number(t.nonce)]);
    assert.deepEqual(order, [
      [b.address.toLowerCase(), 0],
      [a.address.toLowerCase(), 0],
      [a.address.toLowerCase(), 1],
    ]);
    assert.equal(pool.size, 4, 'the gapped tx is queued, not dropped');
    assert.equal(pool.pendingNonce(a.address, 0n), 2n);
  } finally {
    await chain.close();
  }
});

test('bounded size: the cheapest is evicted for a better tx; a cheaper one is refused', async () => {
  const chain = await Chain.open({ datadir: tempDir(), genesis });
  try {
    const pool = new TxPool(chain, { maxSize: 3 });
    const hex = (t: { hash(): Uint8Array }) => '0x' + Buffer.from(t.hash()).toString('hex');
    const a0 = await signed(a, 0, 2, chain.common);
    const a1 = await signed(a, 1, 3, chain.common);
    const b0 = await signed(b, 0, 4, chain.common);
    for (const t of [a0, a1, b0]) await pool.add(t);
    await assert.rejects(pool.add(await signed(b, 1, 1, chain.common)), /txpool is full/);
    assert.equal(pool.size, 3);
    const better = await signed(b, 1, 10, chain.common);
    await pool.add(better);
    assert.equal(pool.size, 3);
    assert.equal(pool.get(hex(a0)), undefined, 'the cheapest tx was evicted');
    for (const t of [a1, b0, better]) assert.ok(pool.get(hex(t)), 'the others stay');
  } finally {
    await chain.close();
  }
});
