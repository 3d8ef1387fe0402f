/**
 * Durability: a clean restart keeps head, balances, receipts and logs; SIGKILL at random instants
 * under load never leaves an inconsistent database or loses a block a client saw as mined.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet, Transaction, parseUnits, ContractFactory, JsonRpcProvider, Contract, parseEther } from 'ethers';
import { devAccounts } from '../../lib/keys.ts';
import { loadArtifact } from '../../contracts/artifacts.ts';
import { startDevNode, rpc, tempDir, waitFor } from '../helpers/proc.ts';

const keys = devAccounts(6);

test('clean restart keeps head, balances, receipts and logs', async () => {
  const datadir = tempDir();
  let node = await startDevNode({ datadir, blockTimeMs: 200 });
  const provider = new JsonRpcProvider(node.url, undefined, { staticNetwork: true, pollingInterval: 100 });
  const w = new Wallet(keys[0]!.privateKey, provider);
  const token = loadArtifact('TestToken');
  const c = (await new ContractFactory(token.abi, token.bytecode, w).deploy('T', 'T', parseEther('100'))) as Contract;
  await c.waitForDeployment();
  const rc = (await (await c.transfer(keys[1]!.address, 42n)).wait())!;
  provider.destroy();
  const height = rc.blockNumber;
  const blockBefore = await rpc(node.url, 'eth_getBlockByNumber', ['0x' + height.toString(16), true]);
  const receiptBefore = await rpc(node.url, 'eth_getTransactionReceipt', [rc.hash]);
  const logsBefore = await rpc(node.url, 'eth_getLogs', [{ fromBlock: '0x0', toBlock: '0x' + height.toString(16) }]);
  const balBefore = await rpc(node.url, 'eth_getBalance', [keys[0]!.address, '0x' + height.toString(16)]);
  const headBefore = Number(await rpc(node.url, 'eth_blockNumber'));
  assert.equal(await node.stop('SIGINT'), 0);

  node = await startDevNode({ datadir, blockTimeMs: 200 });
  assert.ok(Number(await rpc(node.url, 'eth_blockNumber')) >= headBefore, 'head not behind');
  assert.deepEqual(await rpc(node.url, 'eth_getBlockByNumber', ['0x' + height.toString(16), true]), blockBefore);
  assert.deepEqual(await rpc(node.url, 'eth_getTransactionReceipt', [rc.hash]), receiptBefore);
  assert.deepEqual(await rpc(node.url, 'eth_getLogs', [{ fromBlock: '0x0', toBlock: '0x' + height.toString(16) }]), logsBefore);
  assert.equal(await rpc(node.url, 'eth_getBalance', [keys[0]!.address, '0x' + height.toString(16)]), balBefore);
  assert.equal(await new Contract(receiptBefore.contractAddress ?? rc.to!, token.abi, new JsonRpcProvider(node.url, undefined, { staticNetwork: true })).balanceOf(keys[1]!.address), 42n);
  assert.equal(await node.stop('SIGINT'), 0);
});

test('SIGKILL at random instants under load: consistent database, no mined tx lost', { timeout: 600_000 }, async () => {
  const datadir = tempDir();
  const seenMined = new Map<string, string>(); // tx hash -> block hash the client saw
  const nonces = new Map<string, number>();
  const ROUNDS = Number(process.env.POCCHAIN_KILL_ROUNDS ?? 8);
  for (let round = 0; round < ROUNDS; round++) {
    const node = await startDevNode({ datadir, blockTimeMs: 100 });
    // consistency checks on the reopened database
    const head = Number(await rpc(node.url, 'eth_blockNumber'));
    const headBlock = await rpc(node.url, 'eth_getBlockByNumber', ['latest', false]);
    await rpc(node.url, 'eth_getProof', [keys[0]!.address, [], headBlock.number]); // head state root loads
    for (const [tx, blockHash] of seenMined) {
      const r = await rpc(node.url, 'eth_getTransactionReceipt', [tx]);
      assert.ok(r, `round ${round}: mined tx ${tx} has its receipt after restart`);
      assert.equal(r.blockHash, blockHash, `round ${round}: tx ${tx} stays in the block the client saw`);
    }
    // every indexed tx of the last blocks has its receipt
    for (let n = Math.max(0, head - 30); n <= head; n++) {
      const b = await rpc(node.url, 'eth_getBlockByNumber', ['0x' + n.toString(16), false]);
      for (const h of b.transactions) assert.ok(await rpc(node.url, 'eth_getTransactionReceipt', [h]), `receipt of ${h} in block ${n}`);
    }
    // resume nonces from the chain after a kill (pool contents are not persisted)
    for (const k of keys) nonces.set(k.address, Number(BigInt(await rpc(node.url, 'eth_getTransactionCount', [k.address, 'latest']))));

    // load: each account sends transfers; a watcher records what it saw mined
    let stop = false;
    const sent: string[] = [];
    const senders = keys.map(async (k) => {
      const wallet = new Wallet(k.privateKey);
      while (!stop) {
        const nonce = nonces.get(k.address)!;
        const raw = await wallet.signTransaction(Transaction.from({ type: 2, chainId: 31338, nonce, to: keys[(nonce + 1) % keys.length]!.address, value: 1n, gasLimit: 21000n, maxFeePerGas: parseUnits('20', 'gwei'), maxPriorityFeePerGas: 1n }));
        try {
          const h = await rpc(node.url, 'eth_sendRawTransaction', [raw]);
          sent.push(h);
          nonces.set(k.address, nonce + 1);
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });
    const watcher = (async () => {
      while (!stop) {
        for (const h of sent.splice(0, 200)) {
          try {
            const r = await rpc(node.url, 'eth_getTransactionReceipt', [h]);
            if (r) seenMined.set(h, r.blockHash);
            else sent.push(h);
          } catch {
            sent.push(h);
          }
        }
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    await new Promise((r) => setTimeout(r, 500 + Math.random() * 2500));
    node.child.kill('SIGKILL');
    await new Promise((r) => node.child.once('exit', r));
    stop = true;
    await Promise.allSettled([...senders, watcher]);
  }
  assert.ok(seenMined.size > 0, 'the load produced mined transactions');
  // final check on a last restart
  const node = await startDevNode({ datadir, blockTimeMs: 100 });
  for (const [tx, blockHash] of seenMined) assert.equal((await rpc(node.url, 'eth_getTransactionReceipt', [tx]))?.blockHash, blockHash);
  await waitFor('block production resumes', async () => Number(await rpc(node.url, 'eth_blockNumber')) > 0);
  console.log(`# kill test: ${ROUNDS} SIGKILLs, ${seenMined.size} mined txs checked`);
  await node.stop();
});
