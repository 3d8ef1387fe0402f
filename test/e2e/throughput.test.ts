/**
 * Four validator processes under a steady tx load (not timed): every tx is committed, every node
 * agrees, every height commits in round 0, and each node recovered each tx's sender exactly once (from its /metrics counters), how
 * ever the tx reached it (RPC, gossip, or inside a proposal first). The load is paced well below
 * saturation and each sender is pinned to one node, so its nonces arrive in order.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNetwork } from '../helpers/network.ts';
import { rpc } from '../helpers/proc.ts';
import { devAccounts } from '../../lib/keys.ts';
import { InclusionWatcher, loadSenders, scrape, sendPaced, signBatch, TX_WORK, waitIncluded } from '../helpers/load.ts';

const SENDERS = 8;
const TXS = 800;
const RATE = 120;

describe('4 validators under load: each tx recovered once per node', { timeout: 600_000 }, () => {
  let net: TestNetwork;
  before(async () => {
    process.env.POCCHAIN_TEST_LOG ??= 'warn';
    net = await TestNetwork.create({ validators: 4, blockTimeMs: 200 });
    console.log(`# network dir ${net.dir}`);
    await net.startAll();
    await net.waitHeight(2, [0, 1, 2, 3], 120_000);
  });
  after(async () => {
    await net?.stopAll();
  });

  test(`${TXS} transfers from ${SENDERS} senders spread over the 4 RPCs`, async () => {
    const urls = net.nodes.map((n) => n.url);
    const chainId = Number(await rpc(urls[0]!, 'eth_chainId'));
    const senders = await loadSenders(urls[0]!, devAccounts(SENDERS + 1).slice(1), urls.length);
    const txs = signBatch('eth', chainId, senders, TXS);
    const before = await Promise.all(urls.map((u) => scrape(u)));
    for (const m of before) assert.equal(m.get(TX_WORK.committed) ?? 0, 0, 'no tx committed before the load');
    const start = await net.height(0);

    const watcher = new InclusionWatcher(urls[0]!);
    await watcher.start();
    try {
      await sendPaced(urls, senders, txs, RATE, watcher);
      assert.ok(await waitIncluded(watcher, txs, 240_000), `all txs included (${txs.filter((t) => watcher.seenAt.has(t.hash)).length}/${TXS})`);
    } finally {
      await watcher.stop();
    }
    // every node has committed every block that holds the load
    const end = await net.height(0);
    await net.waitHeight(end, [0, 1, 2, 3], 60_000);
    const agreement = await net.checkAgreement([0, 1, 2, 3]);
    assert.deepEqual(agreement.conflicts, []);

    const rounds: number[] = [];
    for (let h = start + 1; h <= end; h++) rounds.push((await rpc(urls[0]!, 'pocchain_getBlockConsensus', ['0x' + h.toString(16)])).commit.round);
    const after = await Promise.all(urls.map((u) => scrape(u)));
    for (const [i, m] of after.entries()) {
      const committed = m.get(TX_WORK.committed);
      const recoveries = m.get(TX_WORK.recoveries);
      const executions = m.get(TX_WORK.executions)!;
      console.log(`# node${i}: committed ${committed}, sender recoveries ${recoveries}, executions ${executions} (${(executions / TXS).toFixed(2)} per tx)`);
      assert.equal(committed, TXS, `node${i} committed every tx once`);
      assert.equal(recoveries, TXS, `node${i} recovered each sender exactly once`);
      assert.ok(executions >= TXS, `node${i} executed every tx`);
    }
    console.log(`# heights ${start + 1}..${end}: rounds ${JSON.stringify(rounds.reduce<Record<number, number>>((a, r) => ((a[r] = (a[r] ?? 0) + 1), a), {}))} (round -> heights)`);
    // a validator that received a proposal in time waits for its validation: no nil round under load
    assert.deepEqual(rounds.filter((r) => r !== 0), [], 'every height under load committed in round 0');
  });
});
