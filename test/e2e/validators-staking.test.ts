/**
 * An open validator set, from separate processes: 4 genesis validators and a full node on a chain
 * whose Validators contract changes the set every 10 blocks.
 *   - node3 double-signs: the evidence is committed, its stake is slashed by exactly slashBps of
 *     what it had, it is jailed and out of the next epoch's set;
 *   - the full node (node4) syncs, its operator stakes with `pocchain validator stake` (the bond is
 *     signed by the node's consensus key and its BLS proof checked), it enters the set at the next
 *     epoch and its precommits appear in commits;
 *   - node2's owner unbonds everything: node2 leaves at the next epoch and withdraws after the delay;
 *   - the chain never stops, and every node agrees on every block.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Contract, JsonRpcProvider, Wallet, parseEther } from 'ethers';
import { TestNetwork } from '../helpers/network.ts';
import { CLI, NODE, rpc, waitFor } from '../helpers/proc.ts';
import { execFile } from 'node:child_process';
import { loadArtifact } from '../../contracts/artifacts.ts';
import { devAccounts, loadKeys } from '../../lib/keys.ts';
import { VALIDATORS_ADDRESS } from '../../consensus/validator-steps.ts';

const EPOCH = 10;
const SLASH_BPS = 1000n;
const UNBONDING = 5;

describe('validators join and leave by stake; a double-signer is slashed and jailed', { timeout: 600_000 }, () => {
  let net: TestNetwork;
  let provider: JsonRpcProvider;
  let validators: Contract;
  before(async () => {
    net = await TestNetwork.create({ validators: 4, fullNodes: 1, blockTimeMs: 200, epochLength: EPOCH, staking: { unbondingBlocks: UNBONDING, jailBlocks: 5, slashBps: Number(SLASH_BPS), downtimeBps: 10_000 } });
    await Promise.all([0, 1, 2, 4].map((i) => net.start(i)));
    await net.start(3, ['--test-byzantine', 'double-sign']);
    provider = new JsonRpcProvider(net.nodes[0]!.url, undefined, { staticNetwork: true, cacheTimeout: -1 });
    validators = new Contract(VALIDATORS_ADDRESS, loadArtifact('Validators').abi, provider);
  });
  after(async () => {
    provider?.destroy();
    await net.stopAll();
  });

  const setAt = async (h: number | 'next') => rpc(net.nodes[0]!.url, 'pocchain_getValidatorSet', h === 'next' ? [] : ['0x' + h.toString(16)]);
  const keyOf = (i: number) => net.nodes[i]!.pubKey.toLowerCase();
  const inSet = (set: any, i: number) => set.validators.some((v: any) => v.pubKey === keyOf(i));
  /** first height of the next epoch whose set is known */
  const waitEpochWith = (what: string, pred: (set: any) => boolean) =>
    waitFor(what, async () => {
      const s = await setAt('next');
      return pred(s) ? s : undefined;
    }, 180_000, 500);

  test('the genesis set signs epoch 0 and the genesis stake is bonded', async () => {
    const s = await setAt(1);
    assert.equal(s.epoch, 0);
    assert.equal(s.validators.length, 4);
    await net.waitHeight(2, [0]);
    for (const i of [0, 1, 2, 3]) {
      const v = await validators.validator!(keyOf(i));
      assert.equal(v.operator.toLowerCase(), net.nodes[i]!.address.toLowerCase());
      assert.ok(v.stake <= parseEther('10'), 'power 10 in genesis is 10 coins bonded (less once slashed)');
    }
  });

  test('a double-signer is slashed by the exact fraction, jailed and out of the next set', async () => {
    const key = keyOf(3);
    const slashed = await waitFor('Slashed event for node3', async () => {
      const logs = await validators.queryFilter(validators.filters.Slashed!(key), 0, 'latest');
      return logs.length > 0 ? logs : undefined;
    }, 180_000, 500);
    // every slash takes slashBps of what was left: 10 coins, then 9, then 8.1 ...
    let left = parseEther('10');
    for (const l of slashed) {
      const amount = (l as any).args.amount as bigint;
      assert.equal(amount, (left * SLASH_BPS) / 10_000n, 'slash = slashBps of stake + unbonding');
      left -= amount;
    }
    const v = await validators.validator!(key);
    assert.equal(v.jailed, true);
    // the evidence behind it is in a committed block
    const evHeight = await waitFor('evidence against node3 committed', async () => {
      const head = await net.height(0);
      for (let h = head; h >= 1; h--) {
        const c = await rpc(net.nodes[0]!.url, 'pocchain_getBlockConsensus', ['0x' + h.toString(16)]);
        for (const e of c.evidence) {
          const s = await setAt(e.height);
          if (s.validators[e.validatorIndex].pubKey === key) return h;
        }
      }
      return undefined;
    }, 60_000, 1000);
    assert.ok(evHeight >= 1);
    const s = await waitEpochWith('a set without node3', (s) => !inSet(s, 3));
    assert.ok(s.epoch >= 1);
    // conservation: the contract holds every bonded, unbonding, slashed and refunded coin, nothing
    // else. Read at one block: evidence of node3's last heights may still be slashing in new blocks
    const blockTag = await provider.getBlockNumber();
    const bal = await provider.getBalance(VALIDATORS_ADDRESS, blockTag);
    let sum = ((await validators.slashedTotal!({ blockTag })) as bigint) + ((await validators.refundsTotal!({ blockTag })) as bigint);
    for (const k of (await validators.candidates!({ blockTag })) as string[]) {
      const x = await validators.validator!(k, { blockTag });
      sum += x.stake + x.unbonding;
    }
    assert.equal(bal, sum);
  });

  test('a full node syncs, its operator stakes, it enters the set at the next epoch and signs', async () => {
    const n4 = net.nodes[4]!;
    await net.waitHeight((await net.height(0)) - 1, [4], 120_000);
    // the operator stakes with the CLI: it signs the bond with the node's consensus key
    const out = await new Promise<string>((resolve, reject) =>
      execFile(NODE, [CLI, 'validator', 'stake', '--dir', n4.datadir, '--amount', '20', '--rpc', net.nodes[0]!.url, '--json'], { env: { ...process.env, POCCHAIN_KEY: devAccounts(1)[0]!.privateKey } }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout))),
    );
    const staked = JSON.parse(out);
    assert.equal(staked.action, 'bond');
    assert.equal(staked.validator, keyOf(4));
    const s = await waitEpochWith('a set with node4', (s) => inSet(s, 4));
    const me = s.validators.find((v: any) => v.pubKey === keyOf(4));
    assert.equal(me.power, '20', 'power = stake in coins');
    assert.equal(me.operator.toLowerCase(), n4.address.toLowerCase());
    // node4 now precommits: its index shows in the commits of the new epoch's blocks
    await waitFor('a commit signed by node4', async () => {
      const head = await net.height(0);
      for (let h = Math.max(s.firstHeight, head - 5); h <= head; h++) {
        const c = await rpc(net.nodes[0]!.url, 'pocchain_getBlockConsensus', ['0x' + h.toString(16)]);
        if (c.commit && c.commit.signers.includes(me.index)) return true;
      }
      return undefined;
    }, 120_000, 500);
    assert.equal((await rpc(n4.url, 'pocchain_status')).consensus.validator >= 0, true);
  });

  test('a validator unbonds everything, leaves at the next epoch, withdraws after the delay; the chain goes on', async () => {
    const owner = loadKeys(net.nodes[2]!.datadir).validator.connect(provider);
    // the genesis owner is the operator address; give it gas money
    const funder = new Wallet(devAccounts(2)[1]!.privateKey, provider);
    await (await funder.sendTransaction({ to: owner.address, value: parseEther('1') })).wait();
    const key = keyOf(2);
    const stake = (await validators.validator!(key)).stake as bigint;
    assert.equal(stake, parseEther('10'));
    const rec = await (await (validators.connect(owner) as Contract).unbond!(key, stake)).wait();
    assert.equal(rec!.status, 1);
    const s = await waitEpochWith('a set without node2', (s) => !inSet(s, 2));
    assert.ok(!inSet(s, 3), 'the jailed node stays out');
    assert.ok(inSet(s, 0) && inSet(s, 1) && inSet(s, 4));
    // the delay (the contract test checks an early withdrawal is refused)
    const v = await validators.validator!(key);
    await net.waitHeight(Number(v.unbondAt), [0], 120_000);
    const b0 = await provider.getBalance(owner.address);
    const w = await (await (validators.connect(owner) as Contract).withdraw!(key)).wait();
    const b1 = await provider.getBalance(owner.address);
    assert.equal(b1 - b0 + BigInt(w!.gasUsed) * BigInt(w!.gasPrice), stake, 'the whole unbonded stake comes back');
    // the chain keeps committing under the new set, and every running node agrees
    const h = await net.height(0);
    await net.waitHeight(h + EPOCH, [0, 1, 4], 120_000);
    const r = await net.checkAgreement([0, 1, 2, 4]);
    assert.deepEqual(r.conflicts, []);
  });
});
