/**
 * Log scans over a real chain (temp LevelDB, blocks built and committed): the range and result
 * caps, the header bloom deciding which blocks' receipts are read, and filter changes that stop at
 * a block boundary and resume where they stopped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet, Transaction } from 'ethers';
import { createTxFromRLP } from '@ethereumjs/tx';
import { hexToBytes } from '@ethereumjs/util';
import { Chain } from '../../chain/chain.ts';
import { buildGenesis } from '../../chain/devgenesis.ts';
import { LogReader, type LogFilter } from '../../chain/rpc/logs.ts';
import { RPC, RpcError } from '../../chain/rpc/server.ts';
import { tempDir } from '../helpers/proc.ts';

const EMITTER = '0x' + '44'.repeat(20); // LOG1(0, 0, topic 0xaa); STOP
const TOPIC = '0x' + '00'.repeat(31) + 'aa';
const w = Wallet.createRandom();
const genesis = buildGenesis({ chainId: 780, validators: [{ pubKey: '0x' + '11'.repeat(32), address: w.address, power: 1 }], funded: [w.address] });
genesis.alloc[EMITTER] = { balance: '0x0', code: '0x60aa60006000a100' };

/** Blocks 1..n; block i holds `logsIn(i)` txs to the emitter (one log each). */
async function chainWith(n: number, logsIn: (i: number) => number): Promise<Chain> {
  const chain = await Chain.open({ datadir: tempDir(), genesis });
  let nonce = 0;
  for (let i = 1; i <= n; i++) {
    const txs = [];
    for (let k = 0; k < logsIn(i); k++) {
      const raw = await w.signTransaction(Transaction.from({ type: 2, chainId: 780, nonce: nonce++, to: EMITTER, gasLimit: 50_000n, maxFeePerGas: 10n ** 11n, maxPriorityFeePerGas: 1n }));
      txs.push(createTxFromRLP(hexToBytes(raw as `0x${string}`), { common: chain.common }));
    }
    const res = await chain.build(chain.nextHeader({ coinbase: new Uint8Array(20) }), txs);
    assert.equal(res.block.transactions.length, txs.length, `block ${i} holds its txs`);
    await chain.commit(res);
  }
  return chain;
}

const filter = (topics: string[] = [TOPIC]): LogFilter => ({ addresses: [hexToBytes(EMITTER as `0x${string}`)], topics: [topics.map((t) => hexToBytes(t as `0x${string}`))] });

test('the header bloom decides which receipts are read; caps name their limit', async () => {
  // logs in blocks 2, 4 and 6 only
  const chain = await chainWith(6, (i) => (i % 2 === 0 ? 1 : 0));
  try {
    const r = new LogReader(chain, { maxRange: 4n, maxLogs: 2 });
    const got = await r.query(filter(), 2n, 5n);
    assert.deepEqual(got.map((l) => Number(BigInt(l.blockNumber as string))), [2, 4]);
    assert.deepEqual(r.counters, { loaded: 2, skipped: 2 }, 'blocks 3 and 5 are skipped by their bloom');
    const none = new LogReader(chain, { maxRange: 10n });
    assert.deepEqual(await none.query(filter(['0x' + 'bb'.repeat(32)]), 0n, 6n), []);
    assert.deepEqual(none.counters, { loaded: 0, skipped: 7 }, 'a topic nobody logged reads no receipts');
    await assert.rejects(r.query(filter(), 1n, 5n), (e: RpcError) => e.code === RPC.LIMIT && /max block range 4 \(asked for 5 blocks, 1 to 5\)/.test(e.message));
    await assert.rejects(r.query(filter(), 0n, 1n << 40n), (e: RpcError) => e.code === RPC.LIMIT, 'the range asked for counts, not the part below the head');
    await assert.rejects(new LogReader(chain, { maxRange: 10n, maxLogs: 2 }).query(filter(), 1n, 6n), (e: RpcError) => e.code === RPC.LIMIT && /query returned more than 2 results/.test(e.message), '3 logs in blocks 2, 4, 6');
  } finally {
    await chain.close();
  }
});

test('filter changes stop at a block boundary under the result cap and resume there; the range per poll is capped', async () => {
  // blocks 1..5 with 2, 1, 2, 0, 1 logs
  const per = [0, 2, 1, 2, 0, 1];
  const chain = await chainWith(5, (i) => per[i]!);
  try {
    const r = new LogReader(chain, { maxRange: 3n, maxLogs: 3 });
    const a = await r.changes(filter(), 1n, 5n);
    assert.deepEqual([a.logs.length, a.next], [3, 3n], 'blocks 1-2 (3 logs); block 3 would pass the cap');
    const b = await r.changes(filter(), a.next, 5n);
    assert.deepEqual([b.logs.length, b.next], [3, 6n], 'blocks 3-5');
    const c = await new LogReader(chain, { maxRange: 3n, maxLogs: 100 }).changes(filter(), 1n, 100n);
    assert.deepEqual([c.logs.length, c.next], [5, 4n], 'one poll spans at most 3 blocks');
    const d = await r.changes(filter(), 6n, 5n);
    assert.deepEqual([d.logs.length, d.next], [0, 6n], 'nothing new: the cursor stays');
    const big = new LogReader(chain, { maxRange: 10n, maxLogs: 1 });
    const e = await big.changes(filter(), 1n, 5n);
    assert.deepEqual([e.logs.length, e.next], [2, 2n], 'a block alone above the cap is still returned whole: a poll always advances');
  } finally {
    await chain.close();
  }
});
