/**
 * The rest of the JSON-RPC surface against a node process: polling filters, eth_getProof verified
 * against the block's state root, fee history, storage, block tags, counts, syncing, accounts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ContractFactory, JsonRpcProvider, Wallet, Contract, parseEther, keccak256, toBeHex, zeroPadValue } from 'ethers';
import { createMPTFromProof } from '@ethereumjs/mpt';
import { hexToBytes, bytesToHex } from '@ethereumjs/util';
import { RLP } from '@ethereumjs/rlp';
import { loadArtifact } from '../../contracts/artifacts.ts';
import { devAccounts } from '../../lib/keys.ts';
import { rpc, rpcRaw, startDevNode, type NodeProc } from '../helpers/proc.ts';

const [k0, k1] = devAccounts(2);
const token = loadArtifact('TestToken');

describe('JSON-RPC methods', () => {
  let node: NodeProc;
  let c: Contract;
  let addr: string;
  let provider: JsonRpcProvider;
  before(async () => {
    node = await startDevNode({ blockTimeMs: 150 });
    provider = new JsonRpcProvider(node.url, undefined, { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 });
    const w = new Wallet(k0!.privateKey, provider);
    c = (await new ContractFactory(token.abi, token.bytecode, w).deploy('F', 'F', parseEther('100'))) as Contract;
    await c.waitForDeployment();
    addr = await c.getAddress();
  });
  after(async () => {
    provider.destroy();
    await node.stop();
  });

  test('log, block and pending-tx filters report changes once, then uninstall', async () => {
    const logF = await rpc(node.url, 'eth_newFilter', [{ address: addr, topics: [c.interface.getEvent('Transfer')!.topicHash] }]);
    const blockF = await rpc(node.url, 'eth_newBlockFilter');
    const txF = await rpc(node.url, 'eth_newPendingTransactionFilter');
    const tx = await c.transfer(k1!.address, 9n);
    const rc = await tx.wait();
    const logs = await rpc(node.url, 'eth_getFilterChanges', [logF]);
    assert.equal(logs.length, 1);
    assert.equal(logs[0].transactionHash, rc!.hash);
    assert.equal(BigInt(logs[0].data), 9n);
    assert.deepEqual(await rpc(node.url, 'eth_getFilterChanges', [logF]), [], 'changes are reported once');
    const blocks = await rpc(node.url, 'eth_getFilterChanges', [blockF]);
    assert.ok(blocks.includes(rc!.blockHash), 'the block filter saw the tx block');
    assert.ok((await rpc(node.url, 'eth_getFilterChanges', [txF])).includes(rc!.hash));
    assert.equal((await rpc(node.url, 'eth_getFilterLogs', [logF])).length >= 0, true);
    assert.equal(await rpc(node.url, 'eth_uninstallFilter', [logF]), true);
    const gone = await rpcRaw(node.url, 'eth_getFilterChanges', [logF]);
    assert.match(gone.error.message, /filter not found/);
  });

  test('eth_getProof proves balance and a storage slot under the block state root', async () => {
    const block = await rpc(node.url, 'eth_getBlockByNumber', ['latest', false]);
    // TestToken layout: name, symbol, totalSupply, balanceOf (slot 3)
    const slot = keccak256(zeroPadValue(k0!.address, 32) + toBeHex(3, 32).slice(2));
    const proof = await rpc(node.url, 'eth_getProof', [addr, [slot], block.number]);
    const acctTrie = await createMPTFromProof(proof.accountProof.map((p: string) => hexToBytes(p as `0x${string}`)), { useKeyHashing: true });
    assert.equal(bytesToHex(acctTrie.root()), block.stateRoot, 'account proof is rooted in the block state root');
    const acct = RLP.decode(await acctTrie.get(hexToBytes(addr as `0x${string}`))) as Uint8Array[];
    assert.equal(bytesToHex(acct[2]!), proof.storageHash);
    const stTrie = await createMPTFromProof(proof.storageProof[0].proof.map((p: string) => hexToBytes(p as `0x${string}`)), { useKeyHashing: true });
    assert.equal(bytesToHex(stTrie.root()), proof.storageHash);
    const stored = BigInt(bytesToHex(RLP.decode(await stTrie.get(hexToBytes(slot as `0x${string}`))) as Uint8Array));
    assert.equal(stored, await c.balanceOf(k0!.address, { blockTag: Number(block.number) }));
    assert.equal(BigInt(proof.storageProof[0].value), stored);
    assert.equal(BigInt(await rpc(node.url, 'eth_getStorageAt', [addr, slot, block.number])), stored);
  });

  test('fee history, gas price, counts, tags, syncing, accounts, client version', async () => {
    const head = Number(await rpc(node.url, 'eth_blockNumber'));
    const fh = await rpc(node.url, 'eth_feeHistory', ['0x4', 'latest', [10, 50, 90]]);
    assert.equal(fh.baseFeePerGas.length, 5, 'count + 1 base fees');
    assert.equal(fh.gasUsedRatio.length, 4);
    assert.equal(fh.reward.length, 4);
    assert.ok(fh.reward.every((r: string[]) => r.length === 3));
    assert.ok(BigInt(await rpc(node.url, 'eth_gasPrice')) > BigInt(await rpc(node.url, 'eth_maxPriorityFeePerGas')));
    const latest = await rpc(node.url, 'eth_getBlockByNumber', ['latest', true]);
    assert.equal(Number(latest.number) >= head, true);
    assert.deepEqual(await rpc(node.url, 'eth_getBlockByNumber', ['finalized', false]).then((b: any) => Number(b.number) >= head), true, 'finalized = latest under BFT');
    assert.equal((await rpc(node.url, 'eth_getBlockByNumber', ['earliest', false])).number, '0x0');
    assert.equal(await rpc(node.url, 'eth_getBlockByNumber', ['0xffffffff', false]), null);
    const b1 = await rpc(node.url, 'eth_getBlockByNumber', ['0x1', false]);
    assert.equal(await rpc(node.url, 'eth_getBlockTransactionCountByHash', [b1.hash]), '0x' + b1.transactions.length.toString(16));
    assert.equal(await rpc(node.url, 'eth_syncing'), false);
    assert.deepEqual((await rpc(node.url, 'eth_accounts')).length, 10, 'dev mode exposes the test accounts');
    assert.match(await rpc(node.url, 'web3_clientVersion'), /^pocchain\//);
    assert.equal(await rpc(node.url, 'net_version'), '31338');
    const st = await rpc(node.url, 'pocchain_status');
    assert.equal(st.chainId, 31338);
    const m = await (await fetch(node.url + '/metrics')).text();
    assert.match(m, /pocchain_chain_head_block \d+/);
    assert.match(m, /pocchain_rpc_requests_total\{method="eth_feeHistory",status="ok"\} \d+/);
  });
});
