/**
 * L1 CheckpointsBls follows the sidechain's validator set. A bridged staking chain (anvil as L1, 4
 * genesis validators and a full node as separate processes, validator epochs of 8 blocks,
 * checkpoints every 4; the validators have BLS keys, so deploy-l1 picks CheckpointsBls and every
 * checkpoint and hand-over lands as one aggregate signature) with the relayer running:
 *   - the full node's operator stakes 20 (`pocchain validator stake`): it enters the set at the next epoch, the outgoing set
 *     signs the hand-over, the relayer lands it (set id 1) and L1's validators() is the new set;
 *   - genesis validator 2 unbonds everything: it leaves, hand-over 2 lands, L1 follows;
 *   - a withdrawal made after both changes is released on L1 from a checkpoint signed by set 2,
 *     which needs the new validator's signature (the three genesis validators left hold 30 of 50).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Contract, JsonRpcProvider, Wallet, hexlify, keccak256, parseEther, parseUnits } from 'ethers';
import { createBridgeNet, fundedUser, runCli, startRelayer, type BridgeNet } from '../fixtures/bridge-net.ts';
import { rpc, waitFor } from '../helpers/proc.ts';
import { devAccounts, loadKeys } from '../../lib/keys.ts';
import { loadArtifact } from '../../contracts/artifacts.ts';
import { VALIDATORS_ADDRESS } from '../../consensus/validator-steps.ts';
import { blsKeysFromContract } from '../../bridge/checkpoint-bls.ts';

const C = (n: string) => parseUnits(n, 18);
const EPOCH = 8;

test('bridge hand-over: L1 Checkpoints follows the validator set; a withdrawal after the changes is released', { timeout: 300_000 }, async () => {
  const b: BridgeNet = await createBridgeNet({ validators: 4, fullNodes: 1, epoch: 4, confirmations: 1, blockTimeMs: 200, l1BlockTime: 1, epochLength: EPOCH, staking: { unbondingBlocks: 5, jailBlocks: 5, slashBps: 1000, downtimeBps: 10_000 } });
  let relayer: ReturnType<typeof startRelayer> | undefined;
  const sc = new JsonRpcProvider(b.net.nodes[0]!.url, undefined, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 100 });
  try {
    await b.net.startAll();
    const url = b.net.nodes[0]!.url;
    const validators = new Contract(VALIDATORS_ADDRESS, loadArtifact('Validators').abi, sc);
    relayer = startRelayer(b, devAccounts(2)[1]!.privateKey);
    assert.equal(b.d.checkpointScheme, 'bls');
    /** L1's set as blsKey:power, sorted (the contract orders by keccak of the key) */
    const l1Set = async () => {
      const [keys, powers] = (await b.checkpoints.getFunction('validators')()) as [string, bigint[]];
      return { id: Number(await b.checkpoints.getFunction('validatorSetId')()), set: blsKeysFromContract(keys).map((k, i) => `${hexlify(k)}:${powers[i]}`).sort() };
    };
    const bls = (i: number) => b.net.nodes[i]!.blsPubKey.toLowerCase();
    /** the sidechain's set of the next height as L1 should hold it: blsKey:power, sorted */
    const scSet = async () => {
      const s = await rpc(url, 'pocchain_getValidatorSet', []);
      const blsOf = new Map(b.net.nodes.map((n, i) => [n.pubKey.toLowerCase(), bls(i)]));
      return s.validators.map((v: any) => `${blsOf.get(v.pubKey.toLowerCase())}:${v.power}`).sort();
    };
    const genesisSet = [0, 1, 2, 3].map((i) => `${bls(i)}:10`).sort();
    assert.deepEqual(await l1Set(), { id: 0, set: genesisSet });

    // money to withdraw later: a deposit, made while the set changes
    const user = await fundedUser(b, C('100'));
    const deposit = runCli(['bridge', 'deposit', '--l1-rpc', b.anvil.url, '--rpc', url, '--amount', '100', '--to', user.address, '--json'], { POCCHAIN_KEY: user.privateKey });

    // 1. the full node's operator stakes 20 and enters; L1 follows through hand-over 1
    // the CLI signs the bond with the node's consensus key (Validators checks it at the boundary)
    const staked = await runCli(['validator', 'stake', '--dir', b.net.nodes[4]!.datadir, '--amount', '20', '--rpc', url, '--json'], { POCCHAIN_KEY: devAccounts(1)[0]!.privateKey });
    assert.equal(staked.code, 0, staked.stderr);
    assert.equal(staked.json.action, 'bond');
    const first = await waitFor('L1 holds the set with node4', async () => {
      const s = await l1Set();
      return s.set.includes(`${bls(4)}:20`) ? s : undefined;
    }, 120_000, 300);
    assert.equal(first.id, 1, 'one hand-over: the genesis stake bonded at block 1 is the genesis set, no change there');
    assert.deepEqual(first.set, [...genesisSet, `${bls(4)}:20`].sort());
    const h1 = await rpc(url, 'pocchain_handover', [1]);
    assert.equal(h1.quorum, true);
    assert.equal(h1.totalPower, '40', 'signed by the outgoing (genesis) set');
    assert.equal(h1.boundary % EPOCH, 0);
    assert.equal(h1.scheme, 'bls');
    for (const s of h1.signatures) assert.ok([0, 1, 2, 3].some((i) => bls(i) === s.signer), `hand-over 1 signer ${s.signer} is a genesis validator`);
    assert.equal(await rpc(url, 'pocchain_handover', [3]), null);

    // 2. genesis validator 2 unbonds everything and leaves; L1 follows through hand-over 2
    const op2 = loadKeys(b.net.nodes[2]!.datadir).validator.connect(sc);
    await (await new Wallet(devAccounts(2)[1]!.privateKey, sc).sendTransaction({ to: op2.address, value: parseEther('1') })).wait();
    const key2 = b.net.nodes[2]!.pubKey.toLowerCase();
    const stake2 = (await validators.validator!(key2)).stake as bigint;
    assert.equal((await (await (validators.connect(op2) as Contract).unbond!(key2, stake2)).wait())!.status, 1);
    const second = await waitFor('L1 holds the set without node2', async () => {
      const s = await l1Set();
      return s.set.some((x) => x.startsWith(bls(2))) ? undefined : s;
    }, 120_000, 300);
    assert.equal(second.id, 2);
    assert.deepEqual(second.set, await scSet(), 'L1 holds the sidechain set');
    const h2 = await rpc(url, 'pocchain_handover', [2]);
    assert.equal(h2.totalPower, '60', 'signed by set 1 (genesis + node4)');
    assert.ok(h2.boundary > h1.boundary);
    // every hand-over landed once, in order, with the sets the nodes served
    const events = await b.checkpoints.queryFilter(b.checkpoints.filters.ValidatorSetUpdated!(), 0, 'latest');
    assert.deepEqual(events.map((e: any) => Number(e.args.setId)), [0, 1, 2]);
    assert.deepEqual(events.slice(1).map((e: any) => e.args.publicKeysHash), [keccak256(h1.publicKeys), keccak256(h2.publicKeys)]);
    // every node serves the hand-overs it saw (the relayer merges them; each kept only verified signatures)
    for (const n of b.net.nodes) {
      const h = await rpc(n.url, 'pocchain_handover', [1]);
      assert.equal(h.digest, h1.digest, `${n.name} serves hand-over 1 over the same digest`);
    }

    // 3. a withdrawal after both changes is released on L1 (the CLI waits for a covering checkpoint)
    const dep = await deposit;
    assert.equal(dep.code, 0, dep.stderr);
    const wd = await runCli(['bridge', 'withdraw', '--rpc', url, '--l1-rpc', b.anvil.url, '--amount', '40', '--to', user.address, '--json'], { POCCHAIN_KEY: user.privateKey });
    assert.equal(wd.code, 0, wd.stderr);
    assert.equal(await b.token.getFunction('balanceOf')(user.address), C('40'), 'L1: 100 deposited, 40 released');
    const cps = await b.checkpoints.queryFilter(b.checkpoints.filters.CheckpointAccepted!(), 0, 'latest');
    const wr = await sc.getTransactionReceipt(wd.json.sidechainTx);
    const covering = cps.find((e: any) => Number(e.args.height) >= wr!.blockNumber) as any;
    assert.equal(Number(covering.args.validatorSetId), 2, 'released from a checkpoint of set 2');
    assert.ok(BigInt(covering.args.signedPower) > 30n, 'node4 signed it');
    // gas of the checkpoints the relayer landed as aggregates (4 genesis validators of power 10 for the first)
    const gas = await Promise.all(cps.map(async (e: any) => [Number(e.args.validatorSetId), Number(e.args.signedPower), (await b.l1.getTransactionReceipt(e.transactionHash))!.gasUsed]));
    console.log('relayed BLS checkpoints [setId, signedPower, gasUsed]:', JSON.stringify(gas, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
  } finally {
    await relayer?.stop();
    sc.destroy();
    await b.stop();
  }
});
