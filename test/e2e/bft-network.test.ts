/**
 * Four validators as separate processes: agreement at every height; liveness with one down;
 * no progress and no fork with two down or a 2|2 partition; recovery; a full node joining past
 * height 100 syncs and verifies every commit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNetwork } from '../helpers/network.ts';
import { rpc, waitFor } from '../helpers/proc.ts';
import { bytesToHex, hexToBytes } from '@ethereumjs/util';
import { blsVerify } from '../../lib/bls.ts';
import { nextMix, randaoMessage } from '../../consensus/randao.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('BFT network of 4 validator processes', { timeout: 900_000 }, () => {
  let net: TestNetwork;
  before(async () => {
    net = await TestNetwork.create({ validators: 4, fullNodes: 1, blockTimeMs: 100 });
    console.log(`# network dir ${net.dir}`);
    for (let i = 0; i < 4; i++) net.nodes[i]!.extraArgs = ['--test-controls'];
    await Promise.all([0, 1, 2, 3].map((i) => net.start(i)));
  });
  after(async () => {
    await net.stopAll();
  });

  async function agree(which?: number[]) {
    const r = await net.checkAgreement(which);
    assert.deepEqual(r.conflicts, [], 'no two nodes disagree at any height');
    return r.upTo;
  }

  test('blocks are committed and every node has the same hash at every height', async () => {
    await net.waitHeight(5, [0, 1, 2, 3]);
    const upTo = await agree([0, 1, 2, 3]);
    assert.ok(upTo >= 5);
    const c = await rpc(net.nodes[0]!.url, 'pocchain_getBlockConsensus', ['0x3']);
    assert.ok(c.commit.signers.length >= 3, 'block 3 stored with a +2/3 commit');
    // RANDAO: every block carries its proposer's BLS reveal, and prevrandao chains from it
    const keys = net.nodes.filter((n) => n.validator).map((n) => hexToBytes(n.blsPubKey as `0x${string}`));
    const signers = new Set<number>();
    let parentMix = (await rpc(net.nodes[0]!.url, 'eth_getBlockByNumber', ['0x0', false])).mixHash as `0x${string}`;
    for (let h = 1; h <= upTo; h++) {
      const [cons, block] = await Promise.all([rpc(net.nodes[0]!.url, 'pocchain_getBlockConsensus', ['0x' + h.toString(16)]), rpc(net.nodes[0]!.url, 'eth_getBlockByNumber', ['0x' + h.toString(16), false])]);
      assert.ok(cons.randao, `block ${h} carries a randao reveal`);
      const reveal = hexToBytes(cons.randao.reveal);
      // the signer is an index in the height's (sorted) set: the reveal must verify under exactly one validator's key
      const by = keys.filter((k) => blsVerify(k, randaoMessage('pocchain-31338', h), reveal));
      assert.equal(by.length, 1, `block ${h}: the reveal is one validator's signature of this height`);
      assert.equal(block.mixHash, bytesToHex(nextMix(hexToBytes(parentMix), reveal)), `block ${h}: prevrandao = parent mix XOR keccak(reveal)`);
      parentMix = block.mixHash;
      signers.add(cons.randao.signer);
    }
    assert.ok(signers.size >= 2, 'reveals by more than one proposer');
  });

  test('one validator killed: the chain goes on', async () => {
    await net.kill(3);
    const h = await net.height(0);
    await net.waitHeight(h + 5, [0, 1, 2], 60_000);
    await agree([0, 1, 2]);
  });

  test('two validators down: no block is committed and none forks', async () => {
    await net.kill(2);
    await sleep(2000); // let an in-flight height finish
    const before = await Promise.all([0, 1].map((i) => net.height(i)));
    await sleep(8000);
    const after = await Promise.all([0, 1].map((i) => net.height(i)));
    assert.deepEqual(after, before, 'no progress without +2/3');
    await agree([0, 1]);
  });

  test('restarted validators catch up and progress resumes', async () => {
    await net.start(2);
    await net.start(3);
    const h = Math.max(...(await Promise.all([0, 1].map((i) => net.height(i)))));
    await net.waitHeight(h + 5, [0, 1, 2, 3], 90_000);
    await agree([0, 1, 2, 3]);
  });

  test('a 2|2 partition at the libp2p level makes no progress and no fork, then heals', async () => {
    const ids = await Promise.all([0, 1, 2, 3].map(async (i) => (await rpc(net.nodes[i]!.url, 'pocchain_nodeInfo')).peerId as string));
    const cut = async (method: string) => {
      for (const [a, b] of [[0, 2], [0, 3], [1, 2], [1, 3]] as const) {
        await rpc(net.nodes[a]!.url, method, [ids[b]]);
        await rpc(net.nodes[b]!.url, method, [ids[a]]);
      }
    };
    await cut('test_p2pBlock');
    await sleep(2000);
    const before = await Promise.all([0, 1, 2, 3].map((i) => net.height(i)));
    await sleep(8000);
    const during = await Promise.all([0, 1, 2, 3].map((i) => net.height(i)));
    assert.deepEqual(during, before, 'neither half commits');
    await agree([0, 1, 2, 3]);
    await cut('test_p2pUnblock');
    await net.waitHeight(Math.max(...during) + 5, [0, 1, 2, 3], 90_000);
    await agree([0, 1, 2, 3]);
  });

  test('a fresh full node joining at height 100+ syncs to the head and verifies every commit', async () => {
    await net.waitHeight(100, [0, 1, 2, 3], 180_000);
    await net.start(4); // node4: not a validator, fresh data dir
    const target = await net.height(0);
    await net.waitHeight(target, [4], 180_000);
    const upTo = await agree([0, 1, 2, 3, 4]);
    assert.ok(upTo >= 100);
    const status = await rpc(net.nodes[4]!.url, 'pocchain_status');
    assert.equal(status.consensus.validator, -1, 'node4 does not vote');
    for (let h = 1; h <= target; h++) {
      const c = await rpc(net.nodes[4]!.url, 'pocchain_getBlockConsensus', ['0x' + h.toString(16)]);
      assert.ok(c.commit && c.commit.signers.length >= 3, `height ${h} has a verified +2/3 commit on the full node`);
    }
    // the full node keeps following
    await waitFor('full node follows', async () => (await net.height(4)) > target + 3, 60_000);
  });
});
