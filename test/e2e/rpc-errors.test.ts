/**
 * Every pool rejection returns a clear JSON-RPC error and leaves pool and state untouched;
 * malformed requests get standard errors and the node stays up.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet, Transaction, parseEther, parseUnits } from 'ethers';
import { devAccounts } from '../../lib/keys.ts';
import { startDevNode, rpc, rpcRaw, waitFor, type NodeProc } from '../helpers/proc.ts';

const [k0, k1] = devAccounts(2);
const poor = Wallet.createRandom();

describe('JSON-RPC rejections', () => {
  let node: NodeProc;
  before(async () => {
    // slow blocks so that pool contents can be checked between blocks
    node = await startDevNode({ blockTimeMs: 60_000 });
    // block 1 is committed at start; after it the next comes 60 s later
    await waitFor('block 1', async () => Number(await rpc(node.url, 'eth_blockNumber')) >= 1);
  });
  after(async () => {
    await node.stop();
  });

  async function snapshot() {
    const [pool, bal0, nonce0, head] = await Promise.all([
      rpc(node.url, 'txpool_status'),
      rpc(node.url, 'eth_getBalance', [k0!.address, 'latest']),
      rpc(node.url, 'eth_getTransactionCount', [k0!.address, 'pending']),
      rpc(node.url, 'eth_blockNumber'),
    ]);
    return { pool, bal0, nonce0, head };
  }

  async function sign(w: Wallet | typeof k0, fields: Record<string, unknown>): Promise<string> {
    const base = { type: 2, chainId: 31338, nonce: 0, to: k1!.address, value: 1n, gasLimit: 21000n, maxFeePerGas: parseUnits('10', 'gwei'), maxPriorityFeePerGas: parseUnits('1', 'gwei') };
    return new Wallet(w!.privateKey).signTransaction(Transaction.from({ ...base, ...fields } as any));
  }

  test('each invalid transaction gets a geth-compatible error and changes nothing', async () => {
    const before = await snapshot();
    const nonce = Number(BigInt(before.nonce0));
    const cases: [string, string, RegExp][] = [
      ['wrong chain id', await sign(k0, { chainId: 1, nonce }), /invalid chain id for signer/],
      ['nonce too low', await sign(k0, { nonce: 0, value: 2n }), nonce > 0 ? /nonce too low/ : /./],
      ['insufficient funds', await sign(poor, { nonce: 0 }), /insufficient funds for gas \* price \+ value/],
      ['gas limit above block', await sign(k0, { nonce, gasLimit: 31_000_000n }), /exceeds block gas limit/],
      ['intrinsic gas too low', await sign(k0, { nonce, gasLimit: 20_000n }), /intrinsic gas too low: gas 20000, minimum needed 21000/],
      ['fee cap below base fee', await sign(k0, { nonce, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n }), /max fee per gas less than block base fee/],
      ['oversized', await sign(k0, { nonce, data: '0x' + '00'.repeat(140_000), gasLimit: 29_000_000n }), /oversized data/],
    ];
    // a tx without a signature, and one whose signature is not on the curve
    const unsigned = Transaction.from(await sign(k0, { nonce })).unsignedSerialized;
    const signedHex = await sign(k0, { nonce, value: 3n });
    const badSig = signedHex.slice(0, -64) + 'f'.repeat(64); // s >= curve order
    cases.push(['bad signature', badSig, /invalid sender|invalid transaction/]);
    cases.push(['no signature', unsigned, /invalid sender|invalid transaction/]);
    if (nonce === 0) cases.splice(1, 1);
    for (const [name, raw, want] of cases) {
      const r = await rpcRaw(node.url, 'eth_sendRawTransaction', [raw]);
      assert.ok(r.error, `${name}: rejected`);
      assert.ok([-32000, -32602].includes(r.error.code), `${name}: code ${r.error.code}`);
      assert.match(r.error.message, want, `${name}: message "${r.error.message}"`);
    }
    assert.deepEqual(await snapshot(), before, 'pool and state unchanged');
  });

  test('replacement needs a fee bump; duplicates are already known', async () => {
    const before = await snapshot();
    const nonce = Number(BigInt(before.nonce0));
    const first = await sign(k0, { nonce, maxFeePerGas: parseUnits('10', 'gwei'), maxPriorityFeePerGas: parseUnits('1', 'gwei') });
    const h = await rpc(node.url, 'eth_sendRawTransaction', [first]);
    const dup = await rpcRaw(node.url, 'eth_sendRawTransaction', [first]);
    assert.match(dup.error.message, /already known/);
    const low = await rpcRaw(node.url, 'eth_sendRawTransaction', [await sign(k0, { nonce, value: 5n, maxFeePerGas: parseUnits('10.5', 'gwei'), maxPriorityFeePerGas: parseUnits('1.05', 'gwei') })]);
    assert.match(low.error.message, /replacement transaction underpriced/);
    assert.ok(await rpc(node.url, 'eth_getTransactionByHash', [h]), 'original still pending');
    const h2 = await rpc(node.url, 'eth_sendRawTransaction', [await sign(k0, { nonce, value: 6n, maxFeePerGas: parseUnits('11', 'gwei'), maxPriorityFeePerGas: parseUnits('1.1', 'gwei') })]);
    assert.equal(await rpc(node.url, 'eth_getTransactionByHash', [h]), null, 'replaced tx gone');
    assert.equal((await rpc(node.url, 'eth_getTransactionByHash', [h2])).value, '0x6');
    assert.equal((await rpc(node.url, 'txpool_status')).pending, '0x1');
    assert.equal(await rpc(node.url, 'eth_getTransactionCount', [k0!.address, 'pending']), '0x' + (nonce + 1).toString(16));
  });

  test('malformed requests get standard errors and the node stays up', async () => {
    const post = (body: string | Buffer, headers: Record<string, string> = {}) => fetch(node.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    let r: any = await (await post('{"jsonrpc":"2.0","id":1,"method":')).json();
    assert.equal(r.error.code, -32700);
    r = await (await post('{"jsonrpc":"2.0","id":1,"method":"eth_nope","params":[]}')).json();
    assert.equal(r.error.code, -32601);
    assert.match(r.error.message, /eth_nope does not exist/);
    r = await (await post('{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x1234","latest"]}')).json();
    assert.equal(r.error.code, -32602);
    assert.match(r.error.message, /address/);
    r = await (await post('{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":{"a":1}}')).json();
    assert.equal(r.error.code, -32602);
    r = await (await post('{"id":1,"method":"eth_chainId"}')).json();
    assert.equal(r.error.code, -32600);
    r = await (await post('[]')).json();
    assert.equal(r.error.code, -32600);
    r = await (await post('"hello"')).json();
    assert.equal(r.error.code, -32600);
    r = await (await post('{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0xzz", false]}')).json();
    assert.equal(r.error.code, -32602);
    r = await (await post('{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0xdeadbeef"]}')).json();
    assert.ok(r.error && [-32000, -32602].includes(r.error.code), JSON.stringify(r));
    r = await (await post('{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x0","toBlock":"0xffffff"}]}')).json();
    assert.equal(r.error.code, -32005);
    const big = await post(Buffer.alloc(6 * 1024 * 1024, 0x20));
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as any).error.code, -32600);
    // batch with a mix of good and bad
    const batch: any = await (await post(JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'eth_chainId' }, { jsonrpc: '2.0', id: 2, method: 'nope' }, 5]))).json();
    assert.equal(batch.length, 3);
    assert.equal(batch[0].result, '0x7a6a');
    assert.equal(batch[1].error.code, -32601);
    assert.equal(batch[2].error.code, -32600);
    assert.equal(await rpc(node.url, 'eth_chainId'), '0x7a6a', 'node still answers');
  });
});
