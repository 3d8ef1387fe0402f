/**
 * A byzantine validator (test-only mode) that double-signs every vote and proposes blocks with a
 * false state root: the other three keep safety and liveness, and the evidence lands in a block.
 * Malformed and oversized p2p messages from a rogue peer are rejected, the peer is banned, and no
 * node crashes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNetwork } from '../helpers/network.ts';
import { rpc, waitFor } from '../helpers/proc.ts';
import { PeerProc, planPeers } from '../fixtures/p2p-harness.ts';

describe('byzantine validator and rogue peer', { timeout: 600_000 }, () => {
  let net: TestNetwork;
  before(async () => {
    net = await TestNetwork.create({ validators: 4, blockTimeMs: 100 });
    await Promise.all([0, 1, 2].map((i) => net.start(i)));
    await net.start(3, ['--test-byzantine', 'double-sign,invalid-proposal']);
  });
  after(async () => {
    await net.stopAll();
  });

  test('honest nodes stay live and agree; the equivocation is committed as evidence', async () => {
    const byzIndex = (await rpc(net.nodes[3]!.url, 'pocchain_status')).consensus.validator as number;
    assert.ok(byzIndex >= 0);
    // enough heights for the byzantine node to be proposer several times
    await net.waitHeight(24, [0, 1, 2], 240_000);
    const r = await net.checkAgreement([0, 1, 2]);
    assert.deepEqual(r.conflicts, []);
    const evidence = await waitFor('evidence in a block', async () => {
      const head = await net.height(0);
      for (let h = 1; h <= head; h++) {
        const c = await rpc(net.nodes[0]!.url, 'pocchain_getBlockConsensus', ['0x' + h.toString(16)]);
        const ev = c.evidence.find((e: any) => e.validatorIndex === byzIndex);
        if (ev) return { h, ev };
      }
      return undefined;
    }, 120_000, 1000);
    assert.equal(evidence.ev.validatorIndex, byzIndex);
    assert.notEqual(evidence.ev.blockHashA, evidence.ev.blockHashB, 'two different values at one height/round/type');
    // no block proposed by the byzantine node with a false state root was committed: every node
    // re-executed every committed block (a mismatch would have been refused), and they agree
    const hashes = await Promise.all([0, 1, 2].map((i) => net.blockHash(i, evidence.h)));
    assert.equal(new Set(hashes).size, 1);
    // honest validators never equivocated
    const head = await net.height(0);
    for (let h = 1; h <= head; h++) {
      const c = await rpc(net.nodes[0]!.url, 'pocchain_getBlockConsensus', ['0x' + h.toString(16)]);
      for (const e of c.evidence) assert.equal(e.validatorIndex, byzIndex, `only the byzantine validator is accused (height ${h})`);
    }
  });

  test('malformed and oversized p2p messages: rejected, the peer banned, nodes keep going', async () => {
    const info = await rpc(net.nodes[0]!.url, 'pocchain_nodeInfo');
    const { specs, cleanup } = await planPeers(['rogue']);
    const rogue = new PeerProc(specs.rogue!, { chainId: 31338, bootstrap: [info.p2p[0]] }, 'malicious');
    try {
      await rogue.ready();
      await waitFor('rogue connected', async () => ((await rogue.call<any>('info')).peers as string[]).length > 0, 30_000);
      // gossipsub sends a publish only to peers it has seen subscribe to the topic, which comes
      // after the connection: wait for node0's subscriptions, or the garbage reaches no one.
      // That is not enough: the rogue's own outbound gossip stream to node0 is opened by a queue
      // of its own, and a publish before it exists is dropped silently (the likely cause of CI's
      // timeouts here). Hence the rounds below.
      for (const topic of ['consensus', 'tx']) {
        await waitFor(`rogue sees node0 on ${topic}`, async () => ((await rogue.call<string[]>('topicPeers', { topic })).includes(info.peerId)), 45_000); // a missing stream is reset after 15-20 s
      }
      const h0 = await net.height(0);
      // each round: two malformed consensus messages and one malformed tx batch (invalid-gossip,
      // 3 × 20), then one over the consensus topic's 2 MiB limit but under the RPC frame limit
      // (oversized-gossip, 50): 110 crosses node0's ban threshold of 100. Rounds repeat until the
      // ban so that one message lost on the way cannot fail the test; the counters show each kind
      // arrived.
      let rounds = 0;
      const nodeInfo = async (): Promise<any> => rpc(net.nodes[0]!.url, 'pocchain_nodeInfo');
      await waitFor('rogue banned by node0', async () => {
        if ((await nodeInfo()).banned.includes(specs.rogue!.peerId)) return true;
        rounds++;
        await rogue.call('publish', { topic: 'consensus', garbage: 512 }).catch(() => {});
        await rogue.call('publish', { topic: 'consensus', garbage: 600 }).catch(() => {});
        await rogue.call('publish', { topic: 'tx', garbage: 300 }).catch(() => {});
        await rogue.call('publish', { topic: 'consensus', garbage: 2 * 1024 * 1024 + 1024 }).catch(() => {});
        return false;
      }, 60_000, 1000).catch(async (err: Error) => {
        throw new Error(`${err.message} after ${rounds} rounds; node0 p2p ${JSON.stringify((await nodeInfo()).p2pStats)}; rogue ${JSON.stringify(await rogue.call('info'))}`);
      });
      // CI run 6: the rogue saw node0's subscriptions, yet none of 47 rounds reached node0 (its
      // own outbound gossip stream was never opened). Since then a node hangs up a connection
      // that lacks one (chain/p2p/node.ts #checkGossipStreams) and dials again; printed when it did
      const resets = (await rogue.call<any>('info')).stats.gossipStreamResets;
      if (resets > 0) console.log(`# the rogue reconnected ${resets} time(s) for a missing gossip stream`);
      const stats = (await rpc(net.nodes[0]!.url, 'pocchain_nodeInfo')).p2pStats;
      assert.ok(stats.gossipRejected >= 3, `malformed messages rejected (${stats.gossipRejected})`);
      assert.ok(stats.gossipOversized >= 1, `oversized message dropped (${stats.gossipOversized})`);
      await net.waitHeight(h0 + 3, [0, 1, 2], 60_000);
      for (const i of [0, 1, 2, 3]) assert.equal(net.nodes[i]!.child!.exitCode, null, `node${i} still running`);
    } finally {
      await rogue.call('stop').catch(() => {});
      await cleanup();
    }
  });
});
