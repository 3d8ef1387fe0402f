/**
 * The bridge end to end: a real anvil L1, 4 validator processes (one of them proposing a fake
 * deposit in every block it proposes), the relayer as a process, and the CLI. Deposit 100 → 100
 * native → gas → withdraw 40 → checkpoint on L1 → release; exact balances on both sides and the
 * supply invariant after every step. Then L1 refusals with the network's real signatures (too
 * little power, forged, repeated, old height, reused proof, unknown checkpoint, bad proof), and a
 * relayer killed mid-submit (its tx still in the mempool) and restarted: the checkpoint lands once.
 * The L1 side is the ECDSA Checkpoints (a chain bridged before BLS checkpoints keeps working; the
 * BLS path end to end is bridge-handover.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Contract, JsonRpcProvider, Wallet, parseUnits, concat, Signature } from 'ethers';
import { createBridgeNet, fundedUser, nodeLog, runCli, startRelayer, type BridgeNet } from '../fixtures/bridge-net.ts';
import { rpc, waitFor } from '../helpers/proc.ts';
import { devAccounts } from '../../lib/keys.ts';
import { abiOf } from '../../bridge/abi.ts';
import { checkpointDigest, signDigest, compareAddresses } from '../../bridge/checkpoint.ts';
import { buildRelease, releaseCallArgs } from '../../bridge/prover.ts';
import { checkpointTuple } from '../../bridge/l1-checkpoints.ts';
import { FAKE_DEPOSIT_RECIPIENT } from '../../bridge/plugin.ts';
import { BRIDGE_ADDRESS } from '../../bridge/deposits-hook.ts';

const C = (n: string) => parseUnits(n, 18);

/** Assert a call is refused with custom error `name` (simulated: no state change possible). */
async function refused(c: Contract, method: string, args: unknown[], name: string): Promise<void> {
  let err: any;
  try {
    await c.getFunction(method).staticCall(...args);
  } catch (e) {
    err = e;
  }
  assert.ok(err, `${method} should revert with ${name}`);
  const data = err.data ?? err.info?.error?.data;
  const decoded = err.revert ?? (data ? c.interface.parseError(data) : null);
  assert.equal(decoded?.name, name, `${method}: expected ${name}, got ${decoded?.name ?? err.shortMessage}`);
}

test('bridge e2e: deposit, gas, withdraw, checkpoint, release; refusals; relayer kill; fake deposit rejected', { timeout: 300_000 }, async () => {
  const b: BridgeNet = await createBridgeNet({ validators: 4, epoch: 5, confirmations: 2, l1BlockTime: 1, nodeConfig: { 3: { testFakeDeposit: true } }, checkpointScheme: 'ecdsa' });
  const relayerKey = devAccounts(2)[1]!.privateKey;
  let relayer: ReturnType<typeof startRelayer> | undefined;
  try {
    await b.net.startAll();
    const urls = b.net.nodes.map((n) => n.url);
    const url = urls[0]!;
    const sc = new JsonRpcProvider(url, undefined, { cacheTimeout: -1, pollingInterval: 100 });
    const user = await fundedUser(b, C('1000'));
    const scBal = async (a: string, u = url) => BigInt(await rpc(u, 'eth_getBalance', [a, 'latest']));
    const invariant = async (what: string) => {
      const s = await runCli(['bridge', 'status', '--rpc', url, '--l1-rpc', b.anvil.url, '--json']);
      assert.equal(s.code, 0, s.stderr);
      assert.equal(s.json.invariantHolds, true, `invariant after ${what}: ${JSON.stringify(s.json)}`);
      assert.equal(BigInt(s.json.l1.lockedInVault), BigInt(s.json.nativeSupplyFromDeposits) + BigInt(s.json.pendingWithdrawals) + BigInt(s.json.l1.pendingDeposits));
      return s.json;
    };
    await invariant('start');

    // 1. deposit 100 through the CLI: waits for the mint
    const dep = await runCli(['bridge', 'deposit', '--l1-rpc', b.anvil.url, '--rpc', url, '--amount', '100', '--to', user.address, '--json'], { POCCHAIN_KEY: user.privateKey });
    assert.equal(dep.code, 0, dep.stderr);
    assert.match(dep.stderr, /minted on the sidechain/);
    assert.equal(dep.json.nonce, '0');
    const minted = await b.net.waitHeight(dep.json.creditedAt, [0, 1, 2, 3]).then(() => Promise.all(urls.map((u) => scBal(user.address, u))));
    assert.deepEqual(minted, [C('100'), C('100'), C('100'), C('100')], 'every node minted exactly 100');
    let st = await invariant('deposit');
    assert.equal(st.l1.lockedInVault, C('100').toString());

    // 2. spend some on gas: a plain transfer
    const userSc = new Wallet(user.privateKey, sc);
    const t = await (await userSc.sendTransaction({ to: '0x' + '77'.repeat(20), value: C('1') })).wait();
    const gas1 = t!.gasUsed * t!.gasPrice;
    assert.equal(await scBal(user.address), C('99') - gas1);
    await invariant('gas');

    // 3. withdraw 40 through the CLI, with the relayer running
    relayer = startRelayer(b, relayerKey);
    const wd = await runCli(['bridge', 'withdraw', '--rpc', url, '--l1-rpc', b.anvil.url, '--amount', '40', '--to', user.address, '--json'], { POCCHAIN_KEY: user.privateKey });
    assert.equal(wd.code, 0, wd.stderr);
    assert.match(wd.stderr, /waiting for a checkpoint on L1/);
    const wr = await sc.getTransactionReceipt(wd.json.sidechainTx);
    const gas2 = wr!.gasUsed * wr!.gasPrice;
    assert.equal(await scBal(user.address), C('59') - gas1 - gas2, 'sidechain balance exact');
    assert.equal(await b.token.getFunction('balanceOf')(user.address), C('940'), 'L1: 1000 − 100 + 40');
    assert.equal(await b.token.getFunction('balanceOf')(b.d.vault), C('60'));
    assert.equal(await scBal(BRIDGE_ADDRESS), C('40'), 'burned coin sits in the Bridge');
    st = await invariant('withdraw + release');
    assert.equal(st.nativeSupplyFromDeposits, C('60').toString());
    assert.equal(st.pendingWithdrawals, '0');

    // 4. a second withdrawal left pending, for the refusal cases
    const bridge = new Contract(BRIDGE_ADDRESS, abiOf('Bridge'), userSc);
    const w2 = await (await bridge.getFunction('withdraw').send(user.address, { value: C('2') })).wait();
    await waitFor('a checkpoint on L1 covering withdrawal 1', async () => Number(await b.checkpoints.getFunction('latestHeight')()) >= w2!.blockNumber, 60_000);
    st = await invariant('pending withdrawal');
    assert.equal(st.pendingWithdrawals, C('2').toString());
    await relayer.stop();
    relayer = undefined;

    // 5. refusals on L1, no state change
    const l1Height = Number(await b.checkpoints.getFunction('latestHeight')());
    const lockedBefore = await b.token.getFunction('balanceOf')(b.d.vault);
    const release1 = await buildRelease({ sidechain: sc, l1: b.l1, checkpoints: b.d.checkpoints, index: 1n });
    const release0 = await buildRelease({ sidechain: sc, l1: b.l1, checkpoints: b.d.checkpoints, index: 0n });
    await refused(b.vault, 'release', releaseCallArgs(release0), 'AlreadyReleased');
    await refused(b.vault, 'release', [{ ...checkpointTuple(release1.checkpoint), height: BigInt(l1Height + 1) }, release1.index, release1.l1Recipient, release1.amount, release1.proof], 'UnknownCheckpoint');
    await refused(b.vault, 'release', [release1.checkpoint, release1.index, release1.l1Recipient, C('3'), release1.proof], 'InvalidProof');
    const newer = await waitFor('a signed checkpoint above L1', async () => {
      const v = await rpc(url, 'pocchain_latestCheckpoint');
      return v && v.quorum && v.checkpoint.height > l1Height && v.signatures.length >= 3 ? v : undefined;
    }, 60_000);
    const cp = { ...newer.checkpoint, height: BigInt(newer.checkpoint.height) };
    const sorted = [...newer.signatures].sort((x: any, y: any) => compareAddresses(x.signer, y.signer));
    const pack = (sigs: any[]) => concat(sigs.map((s) => Signature.from(s.signature).serialized));
    await refused(b.checkpoints, 'submitCheckpoint', [cp, pack(sorted.slice(0, 2))], 'InsufficientPower');
    const forger = Wallet.createRandom();
    const domain = { l1ChainId: 31337n, checkpoints: b.d.checkpoints, sidechainChainId: 31338n };
    assert.equal(checkpointDigest(domain, cp), newer.digest);
    const forged = signDigest(forger.signingKey, newer.digest);
    await refused(b.checkpoints, 'submitCheckpoint', [cp, pack([...sorted.slice(0, 2), forged].sort((x, y) => compareAddresses(x.signer, y.signer)))], 'NotAValidator');
    await refused(b.checkpoints, 'submitCheckpoint', [cp, pack([sorted[0], sorted[0], sorted[1], sorted[2]])], 'SignersNotAscending');
    const landed = await b.checkpoints.getFunction('checkpointAt')(l1Height);
    await refused(b.checkpoints, 'submitCheckpoint', [{ height: BigInt(l1Height), blockHash: landed[0], stateRoot: landed[1], withdrawalsRoot: landed[2] }, pack(sorted)], 'HeightNotIncreasing');
    assert.equal(Number(await b.checkpoints.getFunction('latestHeight')()), l1Height);
    assert.equal(await b.token.getFunction('balanceOf')(b.d.vault), lockedBefore);

    // 6. relayer killed with its submission in the mempool, restarted: lands once, no wasted tx
    const relayerAddr = new Wallet(relayerKey).address;
    const nonceBefore = await b.l1.getTransactionCount(relayerAddr, 'latest');
    const acceptedTopic = b.checkpoints.interface.getEvent('CheckpointAccepted')!.topicHash;
    const fromBlock = await b.l1.getBlockNumber();
    await b.l1.send('evm_setIntervalMining', [0]);
    await b.l1.send('evm_setAutomine', [false]);
    const hanging = startRelayer(b, relayerKey, { POCCHAIN_TEST_RELAYER_HANG_AFTER_SEND: '1' }, 'relayer-hang');
    const sent = await waitFor('the relayer to send', async () => /TEST: sent 0x[0-9a-f]+ for (\d+)/.exec(hanging.output()) ?? undefined, 60_000);
    const sentHeight = Number(sent[1]);
    await hanging.stop('SIGKILL');
    assert.equal(await b.l1.getTransactionCount(relayerAddr, 'pending'), nonceBefore + 1, 'the killed relayer left its tx in the mempool');
    relayer = startRelayer(b, relayerKey, {}, 'relayer-2');
    await new Promise((r) => setTimeout(r, 2000)); // the restarted relayer polls and must wait
    assert.equal(await b.l1.getTransactionCount(relayerAddr, 'pending'), nonceBefore + 1, 'restarted relayer sent nothing while its old tx was pending');
    await b.l1.send('evm_setAutomine', [true]);
    await b.l1.send('evm_setIntervalMining', [1]);
    await waitFor('a newer checkpoint after the killed one', async () => Number(await b.checkpoints.getFunction('latestHeight')()) > sentHeight, 60_000);
    await relayer.stop();
    relayer = undefined;
    const logs = await b.l1.getLogs({ address: b.d.checkpoints, topics: [acceptedTopic], fromBlock, toBlock: 'latest' });
    const heights = logs.map((l) => Number(BigInt(l.topics[1]!)));
    assert.equal(heights.filter((h) => h === sentHeight).length, 1, 'the killed submission landed once');
    assert.equal(new Set(heights).size, heights.length);
    assert.equal(await b.l1.getTransactionCount(relayerAddr, 'latest') - nonceBefore, logs.length, 'every relayer tx was an accepted checkpoint (none reverted)');

    // 7. the fake deposit proposed by node3 was refused by the others, and the chain went on
    assert.match(nodeLog(b, 3), /TEST ONLY: proposing a fake deposit/);
    const honestRefusals = [0, 1, 2].map((i) => (nodeLog(b, i).match(/not confirmed on L1 in this node's view/g) ?? []).length);
    assert.ok(honestRefusals.some((n) => n > 0), `honest nodes refused the fake deposit: ${honestRefusals}`);
    for (const u of urls) assert.equal(await scBal(FAKE_DEPOSIT_RECIPIENT, u), 0n);
    const agree = await b.net.checkAgreement();
    assert.deepEqual(agree.conflicts, []);
    assert.ok(agree.upTo > 30, `chain went on (height ${agree.upTo})`);
    st = await invariant('end');
    assert.equal(st.sidechain.nextDepositNonce, '1');
    sc.destroy();
  } finally {
    await relayer?.stop();
    await b.stop();
  }
});
