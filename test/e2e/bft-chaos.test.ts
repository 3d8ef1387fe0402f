/**
 * Random SIGKILL of validators under transaction load: afterwards every node agrees on every
 * height, every tx a client saw committed is still there (in the same block) on every node, and
 * no validator double-signed (no evidence was ever committed). POCCHAIN_CHAOS_SECONDS sets the
 * duration (default 90).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet, Transaction, parseUnits } from 'ethers';
import { TestNetwork } from '../helpers/network.ts';
import { rpc } from '../helpers/proc.ts';
import { devAccounts } from '../../lib/keys.ts';

const SECONDS = Number(process.env.POCCHAIN_CHAOS_SECONDS ?? 90);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test(`random SIGKILLs of validators under load for ${SECONDS} s`, { timeout: (SECONDS + 400) * 1000 }, async () => {
  const net = await TestNetwork.create({ validators: 4, blockTimeMs: 200 });
  console.log(`# network dir ${net.dir}`);
  try {
    await Promise.all([0, 1, 2, 3].map((i) => net.start(i)));
    await net.waitHeight(2);
    const keys = devAccounts(8).slice(4);
    const seen = new Map<string, string>(); // tx hash -> block hash seen by a client
    const live = () => net.running();
    let stop = false;
    let kills = 0;

    const senders = keys.map(async (k) => {
      const w = new Wallet(k.privateKey);
      let nonce = -1;
      while (!stop) {
        const nodes = live();
        const n = net.nodes[nodes[Math.floor(Math.random() * nodes.length)]!]!;
        try {
          if (nonce < 0) nonce = Number(BigInt(await rpc(n.url, 'eth_getTransactionCount', [k.address, 'latest'])));
          const raw = await w.signTransaction(Transaction.from({ type: 2, chainId: 31338, nonce, to: keys[0]!.address, value: 1n, gasLimit: 21000n, maxFeePerGas: parseUnits('50', 'gwei'), maxPriorityFeePerGas: 1n }));
          const hash = await rpc(n.url, 'eth_sendRawTransaction', [raw]);
          // wait for it on any live node, then record what the client saw
          for (let t = 0; t < 100 && !stop; t++) {
            await sleep(100);
            const m = net.nodes[live()[0]!]!;
            const r = await rpc(m.url, 'eth_getTransactionReceipt', [hash]).catch(() => null);
            if (r) {
              seen.set(hash, r.blockHash);
              break;
            }
          }
          nonce = -1; // re-read: the tx may have been lost with a killed node's pool (not committed)
        } catch {
          nonce = -1;
          await sleep(200);
        }
      }
    });

    const chaos = (async () => {
      const end = Date.now() + SECONDS * 1000;
      while (Date.now() < end) {
        await sleep(2000 + Math.random() * 4000);
        const victim = Math.floor(Math.random() * 4);
        if (!live().includes(victim)) continue;
        await net.kill(victim);
        kills++;
        await sleep(500 + Math.random() * 2500);
        await net.start(victim);
      }
    })();
    await chaos;
    stop = true;
    await Promise.allSettled(senders);

    for (const i of [0, 1, 2, 3]) if (!live().includes(i)) await net.start(i);
    const top = Math.max(...(await Promise.all([0, 1, 2, 3].map((i) => net.height(i)))));
    await net.waitHeight(top + 2, [0, 1, 2, 3], 180_000);
    const agreement = await net.checkAgreement([0, 1, 2, 3]);
    assert.deepEqual(agreement.conflicts, [], 'all nodes agree on every height');
    assert.ok(seen.size > 20, `load produced committed txs (${seen.size})`);
    for (const [hash, blockHash] of seen) {
      for (const i of [0, 1, 2, 3]) {
        const r = await rpc(net.nodes[i]!.url, 'eth_getTransactionReceipt', [hash]);
        assert.equal(r?.blockHash, blockHash, `tx ${hash} committed in ${blockHash} is on node${i}`);
      }
    }
    for (let h = 1; h <= agreement.upTo; h++) {
      const c = await rpc(net.nodes[0]!.url, 'pocchain_getBlockConsensus', ['0x' + h.toString(16)]);
      assert.deepEqual(c.evidence, [], `no double-sign evidence at height ${h}`);
    }
    console.log(`# chaos: ${kills} SIGKILLs in ${SECONDS} s, ${seen.size} committed txs checked on 4 nodes, ${agreement.upTo} heights agreed`);
  } finally {
    await net.stopAll();
  }
});
