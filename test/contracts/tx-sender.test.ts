/**
 * TxSender on anvil: pipelined (the executor's mode), many concurrent sends from one account take
 * consecutive nonces with one nonce read and no per-send fee lookups, all are mined; a refused
 * send drops the local nonce and the next one re-reads it from the node and goes through; a nonce
 * taken by another sender with the same key is read again and the send goes through.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonRpcProvider, Wallet, parseEther, type ContractTransactionResponse, type JsonRpcPayload, type JsonRpcResult } from 'ethers';
import { startAnvil, type AnvilHandle } from '../../lib/anvil.ts';
import { TxSender } from '../../executor/hub-client.ts';
import { devAccounts } from '../../lib/keys.ts';

/** A provider that counts the JSON-RPC methods it sends. */
class CountingProvider extends JsonRpcProvider {
  readonly calls = new Map<string, number>();
  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    for (const p of [payload].flat()) {
      // nonce reads ask for 'pending'; tx.wait's replacement checks read 'latest'
      const k = p.method === 'eth_getTransactionCount' ? `${p.method}:${(p.params as unknown[])[1]}` : p.method;
      this.calls.set(k, (this.calls.get(k) ?? 0) + 1);
    }
    return super._send(payload);
  }
  count(m: string): number {
    return this.calls.get(m) ?? 0;
  }
}

let anvil: AnvilHandle;
before(async () => {
  anvil = await startAnvil({ blockTime: 1 });
});
after(async () => {
  await anvil?.stop();
});

test('pipelined: 20 concurrent sends, consecutive nonces from one read, all mined; a refusal re-reads the nonce', async () => {
  const provider = new CountingProvider(anvil.url, undefined, { staticNetwork: true, batchMaxCount: 1, pollingInterval: 100, cacheTimeout: -1 });
  try {
    const [a, b] = devAccounts(2);
    const wallet = new Wallet(a!.privateKey, provider);
    const sender = new TxSender(wallet, { pipelined: true });
    const to = b!.address;
    const transfer = (value: bigint) => (o: object) => wallet.sendTransaction({ ...o, to, value, gasLimit: 21_000n }) as unknown as Promise<ContractTransactionResponse>;
    const start = await provider.getTransactionCount(wallet.address, 'pending');
    const before = provider.count('eth_getTransactionCount:pending');
    const receipts = await Promise.all(Array.from({ length: 20 }, () => sender.send('transfer', transfer(1n))));
    assert.equal(receipts.length, 20);
    for (const rc of receipts) assert.equal(rc.status, 1);
    const nonces = await Promise.all(receipts.map(async (rc) => (await provider.getTransaction(rc.hash))!.nonce));
    assert.deepEqual([...nonces].sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => start + i), 'consecutive nonces');
    assert.equal(provider.count('eth_getTransactionCount:pending') - before, 1, 'the nonce is read once, then kept');
    // a send the node refuses (more value than the balance): the local nonce is dropped…
    const balance = await provider.getBalance(wallet.address);
    await assert.rejects(sender.send('too much', transfer(balance + parseEther('1'))), (e: any) => e.code === 'TX_REFUSED');
    // …and the next send reads it again and is mined with the next nonce
    const reads = provider.count('eth_getTransactionCount:pending');
    const rc = await sender.send('transfer', transfer(1n));
    assert.equal(rc.status, 1);
    assert.equal((await provider.getTransaction(rc.hash))!.nonce, start + 20);
    assert.equal(provider.count('eth_getTransactionCount:pending') - reads, 1);
  } finally {
    provider.destroy();
  }
});

test('not pipelined (the CLI): the caller gets no overrides and ethers picks the nonce', async () => {
  const provider = new JsonRpcProvider(anvil.url, undefined, { staticNetwork: true });
  try {
    const [, , c, d] = devAccounts(4);
    const wallet = new Wallet(c!.privateKey, provider);
    const seen: object[] = [];
    const rc = await new TxSender(wallet).send('transfer', (o) => {
      seen.push(o);
      return wallet.sendTransaction({ ...o, to: d!.address, value: 1n }) as unknown as Promise<ContractTransactionResponse>;
    });
    assert.equal(rc.status, 1);
    assert.deepEqual(seen, [{}]);
  } finally {
    provider.destroy();
  }
});

test('pipelined: a nonce taken by another sender with the same key is read again; the send is not lost', async () => {
  const provider = new CountingProvider(anvil.url, undefined, { staticNetwork: true, batchMaxCount: 1, pollingInterval: 100, cacheTimeout: -1 });
  try {
    const [, , , , e, f] = devAccounts(6);
    const wallet = new Wallet(e!.privateKey, provider);
    const sender = new TxSender(wallet, { pipelined: true });
    const transfer = (o: object) => wallet.sendTransaction({ ...o, to: f!.address, value: 1n, gasLimit: 21_000n }) as unknown as Promise<ContractTransactionResponse>;
    const first = await sender.send('transfer', transfer);
    // the operator's CLI spends the nonce the agent keeps for its next send (mined: nonce too low)
    const other = new Wallet(e!.privateKey, new JsonRpcProvider(anvil.url, undefined, { staticNetwork: true }));
    const outside = await other.sendTransaction({ to: f!.address, value: 2n, gasLimit: 21_000n });
    await outside.wait();
    (other.provider as JsonRpcProvider).destroy();
    const reads = provider.count('eth_getTransactionCount:pending');
    const rc = await sender.send('transfer', transfer);
    assert.equal(rc.status, 1);
    const tx = (await provider.getTransaction(rc.hash))!;
    assert.equal(tx.nonce, outside.nonce + 1, 'sent with the nonce after the outside one');
    assert.equal(outside.nonce, (await provider.getTransaction(first.hash))!.nonce + 1);
    assert.equal(provider.count('eth_getTransactionCount:pending') - reads, 1, 'one fresh read');
    // a second refusal for the same reason is not retried forever: a plain refusal still surfaces
    const balance = await provider.getBalance(wallet.address);
    await assert.rejects(sender.send('too much', (o) => wallet.sendTransaction({ ...o, to: f!.address, value: balance + 1n, gasLimit: 21_000n }) as unknown as Promise<ContractTransactionResponse>), (err: any) => err.code === 'TX_REFUSED');
  } finally {
    provider.destroy();
  }
});
