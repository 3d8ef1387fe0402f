/**
 * ethers v6 and viem against a pocchain node running as a separate process: deploy an ERC20
 * compiled by solc-js, transfer, read Transfer by eth_getLogs and by websocket subscription,
 * revert reasons surface as the client's normal error, gas estimates match gas used.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ContractFactory, JsonRpcProvider, WebSocketProvider, Wallet, Contract, parseEther, type Log } from 'ethers';
import { createPublicClient, createWalletClient, http, webSocket, parseAbi, decodeEventLog, defineChain, BaseError, ContractFunctionRevertedError } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { loadArtifact } from '../../contracts/artifacts.ts';
import { devAccounts } from '../../lib/keys.ts';
import { startDevNode, type NodeProc } from '../helpers/proc.ts';

const token = loadArtifact('TestToken');
const [k0, k1, k2] = devAccounts(3);

describe('JSON-RPC with real clients', () => {
  let node: NodeProc;
  before(async () => {
    node = await startDevNode({ blockTimeMs: 200 });
  });
  after(async () => {
    const code = await node.stop();
    assert.equal(code, 0, 'node exits cleanly on SIGINT');
  });

  test('ethers v6: deploy, transfer, logs, ws subscription, revert reason, gas estimate', async () => {
    const provider = new JsonRpcProvider(node.url, undefined, { staticNetwork: true, pollingInterval: 100 });
    const wallet = new Wallet(k0!.privateKey, provider);
    const net = await provider.getNetwork();
    assert.equal(net.chainId, 31338n);

    const factory = new ContractFactory(token.abi, token.bytecode, wallet);
    const c = (await factory.deploy('Test', 'TST', parseEther('1000'))) as Contract;
    await c.waitForDeployment();
    const addr = await c.getAddress();
    assert.equal(await c.balanceOf(k0!.address), parseEther('1000'));

    // websocket subscription set up before the transfer
    const ws = new WebSocketProvider(node.wsUrl);
    // the subscription is live once the node has answered eth_subscribe (ethers registers the id
    // then); a fixed 300 ms sleep raced a loaded machine and the Transfer could come first
    const subscribed = new Promise<void>((resolve) => {
      const register = ws._register.bind(ws);
      ws._register = (id, sub) => (register(id, sub), resolve());
    });
    const wsToken = new Contract(addr, token.abi, ws);
    const seen = new Promise<{ from: string; to: string; value: bigint }>((resolve) => {
      void wsToken.on('Transfer', (from: string, to: string, value: bigint) => resolve({ from, to, value }));
    });
    await subscribed;

    const est = await c.transfer.estimateGas(k1!.address, parseEther('5'));
    const tx = await c.transfer(k1!.address, parseEther('5'));
    const rc = (await tx.wait())!;
    assert.equal(rc.status, 1);
    assert.ok(est >= rc.gasUsed, `estimate ${est} covers used ${rc.gasUsed}`);
    assert.ok(Number(est - rc.gasUsed) <= Number(rc.gasUsed) * 0.01, `estimate ${est} within 1% of used ${rc.gasUsed}`);
    assert.equal(await c.balanceOf(k1!.address), parseEther('5'));

    const logs = await provider.getLogs({ address: addr, fromBlock: 0, toBlock: 'latest', topics: [c.interface.getEvent('Transfer')!.topicHash] });
    assert.equal(logs.length, 2, 'mint + transfer');
    const parsed = c.interface.parseLog(logs[1] as Log)!;
    assert.equal(parsed.args.to, k1!.address);
    assert.equal(parsed.args.value, parseEther('5'));
    assert.equal(logs[1]!.transactionHash, rc.hash);

    const ev = await Promise.race([seen, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no ws event')), 15_000))]);
    assert.equal(ev.to, k1!.address);
    assert.equal(ev.value, parseEther('5'));
    await ws.destroy();

    // require(string) revert: ethers decodes the reason
    await assert.rejects(c.transfer('0x0000000000000000000000000000000000000000', 1n), (e: any) => {
      assert.equal(e.code, 'CALL_EXCEPTION');
      assert.equal(e.reason, 'ERC20: transfer to zero address');
      return true;
    });
    // custom error revert: a static call decodes it with the ABI; a send carries the raw data
    const w2 = new Wallet(k2!.privateKey, provider);
    const asK2 = c.connect(w2) as Contract;
    await assert.rejects(asK2.transfer.staticCall(k1!.address, 1n), (e: any) => {
      assert.equal(e.code, 'CALL_EXCEPTION');
      assert.equal(e.revert?.name, 'InsufficientBalance');
      assert.deepEqual([...e.revert.args], [0n, 1n]);
      return true;
    });
    await assert.rejects(asK2.transfer(k1!.address, 1n), (e: any) => {
      assert.equal(e.code, 'CALL_EXCEPTION');
      assert.equal(c.interface.parseError(e.data)?.name, 'InsufficientBalance');
      return true;
    });
    provider.destroy();
  });

  test('viem: deploy, transfer, logs, ws watch, revert reason, gas estimate', async () => {
    const chain = defineChain({ id: 31338, name: 'pocchain-dev', nativeCurrency: { name: 'POC', symbol: 'POC', decimals: 18 }, rpcUrls: { default: { http: [node.url], webSocket: [node.wsUrl] } } });
    const account = privateKeyToAccount(k1!.privateKey as `0x${string}`);
    const pub = createPublicClient({ chain, transport: http(node.url), pollingInterval: 100 });
    const wallet = createWalletClient({ chain, account, transport: http(node.url) });
    const abi = token.abi;

    const hash = await wallet.deployContract({ abi, bytecode: token.bytecode, args: ['Viem', 'VIE', 10n ** 21n] });
    const rc = await pub.waitForTransactionReceipt({ hash, pollingInterval: 100 });
    assert.equal(rc.status, 'success');
    const address = rc.contractAddress!;

    const wsPub = createPublicClient({ chain, transport: webSocket(node.wsUrl) });
    // live once the node has answered eth_subscribe (viem's transport.subscribe resolves then)
    const subscribed = new Promise<void>((resolve) => {
      const t = wsPub.transport as any;
      const subscribe = t.subscribe;
      t.subscribe = async (...a: unknown[]) => {
        const r = await subscribe(...a);
        resolve();
        return r;
      };
    });
    const got = new Promise<any>((resolve) => {
      const unwatch = wsPub.watchContractEvent({ address, abi, eventName: 'Transfer', onLogs: (logs) => { unwatch(); resolve(logs[0]); } });
    });
    await subscribed;

    const est = await pub.estimateContractGas({ address, abi, functionName: 'transfer', args: [k2!.address, 7n], account });
    const txh = await wallet.writeContract({ address, abi, functionName: 'transfer', args: [k2!.address, 7n] });
    const r2 = await pub.waitForTransactionReceipt({ hash: txh, pollingInterval: 100 });
    assert.equal(r2.status, 'success');
    assert.ok(est >= r2.gasUsed && Number(est - r2.gasUsed) <= Number(r2.gasUsed) * 0.01, `estimate ${est} within 1% of used ${r2.gasUsed}`);
    assert.equal(await pub.readContract({ address, abi, functionName: 'balanceOf', args: [k2!.address] }), 7n);

    const logs = await pub.getLogs({ address, event: parseAbi(['event Transfer(address indexed from, address indexed to, uint256 value)'])[0], fromBlock: 0n });
    assert.equal(logs.length, 2);
    assert.equal(logs[1]!.args.to, k2!.address);
    assert.equal(logs[1]!.args.value, 7n);

    const wsLog = await Promise.race([got, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no ws log')), 15_000))]);
    const dec = decodeEventLog({ abi, data: wsLog.data, topics: wsLog.topics }) as any;
    assert.equal(dec.args.value, 7n);
    await wsPub.transport.getRpcClient?.().then((c: any) => c.close()).catch(() => {});

    await assert.rejects(pub.simulateContract({ address, abi, functionName: 'transfer', args: ['0x0000000000000000000000000000000000000000', 1n], account }), (e: any) => {
      assert.ok(e instanceof BaseError);
      const revert = e.walk((x: unknown) => x instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError;
      assert.ok(revert, 'a ContractFunctionRevertedError');
      assert.equal(revert.reason, 'ERC20: transfer to zero address');
      return true;
    });
    await assert.rejects(pub.simulateContract({ address, abi, functionName: 'transfer', args: [k1!.address, 1n], account: privateKeyToAccount(devAccounts(5)[4]!.privateKey as `0x${string}`) }), (e: any) => {
      const revert = e.walk((x: unknown) => x instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError;
      assert.equal(revert?.data?.errorName, 'InsufficientBalance');
      return true;
    });
  });
});
