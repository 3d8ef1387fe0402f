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

test('bounded size: the cheapest sender tail is evicted for a better tx; a cheaper one is refused', async () => {
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
    // a0 is the cheapest tx, but evicting it would strand a1 behind a gap: a's last nonce goes
    assert.equal(pool.get(hex(a1)), undefined, "the cheapest sender's last nonce was evicted");
    for (const t of [a0, b0, better]) assert.ok(pool.get(hex(t)), 'the others stay');
    assert.equal(pool.pendingNonce(a.address, 0n), 1n, 'a keeps an executable run from its state nonce');
    assert.equal(pool.pending().length, 3, 'every pooled tx is executable');
  } finally {
    await chain.close();
  }
});

test('a tx that would land behind the gap its own eviction opens is refused', async () => {
  const chain = await Chain.open({ datadir: tempDir(), genesis });
  try {
    const pool = new TxPool(chain, { maxSize: 2 });
    await pool.add(await signed(a, 0, 5, chain.common));
    await pool.add(await signed(a, 1, 1, chain.common));
    // a2 pays more than a1, but evicting a1 (the cheapest tail) would leave a2 behind a gap
    await assert.rejects(pool.add(await signed(a, 2, 9, chain.common)), /txpool is full/);
    assert.equal(pool.size, 2);
    assert.equal(pool.pending().length, 2);
  } finally {
    await chain.close();
  }
});

test('at capacity, eviction never leaves a sender with a nonce gap', async () => {
  const wallets = Array.from({ length: 5 }, () => Wallet.createRandom());
  const g = buildGenesis({ chainId: 777, validators: [{ pubKey: '0x' + '11'.repeat(32), address: a.address, power: 1 }], funded: wallets.map((w) => w.address) });
  const chain = await Chain.open({ datadir: tempDir(), genesis: g });
  try {
    const pool = new TxPool(chain, { maxSize: 12 });
    // deterministic pseudo-random tips (LCG): senders outbid each other at capacity
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
    const next = wallets.map(() => 0);
    let evictions = 0;
    let refused = 0;
    for (let i = 0; i < 60; i++) {
      const s = Math.floor(rnd() * wallets.length);
      const before = pool.size;
      try {
        await pool.add(await signed(wallets[s]!, next[s]!, 1 + Math.floor(rnd() * 40), chain.common));
        next[s]!++;
        if (before === 12) evictions++;
      } catch (e) {
        assert.match((e as Error).message, /txpool is full/);
        refused++;
      }
      // every tx held is executable: per sender, nonces run from the state nonce (0) without a gap
      assert.equal(pool.pending().length, pool.size, `after add ${i}: a sender has a gap`);
      // a sender whose tail was evicted continues from its new frontier
      for (let w = 0; w < wallets.length; w++) next[w] = Number(pool.pendingNonce(wallets[w]!.address, 0n));
    }
    assert.equal(pool.size, 12);
    assert.ok(evictions > 5, `evictions happened (${evictions})`);
    assert.ok(refused > 0, `cheaper txs were refused (${refused})`);
  } finally {
    await chain.close();
  }
});
