/**
 * Compute-task benchmark (not part of npm test): a dev node and 3 executor processes on this host,
 * the trivial `echo` workload, trust 5 (all 3 executors must agree), category 0.
 *
 * - serial: one task at a time; latency = wall time from sending requestTask to seeing
 *   TaskFinalized over RPC, and the same in blocks.
 * - burst: N tasks sent at once; tasks/min = N / (last finalized − first sent).
 * - gas per task: requestTask + every executor's contribute and reveal (from receipts; withdraws
 *   are off), plus the Hub system calls (schedule + finalize) of every block of the run, read from
 *   the node's `pocchain_systemGas` (metered around each system call in consensus/hub.ts; system
 *   calls have no receipt). System gas is per block, so it is spread over the tasks of the run.
 *
 * Run: `npm run bench:tasks` (env BENCH_TASKS=N burst size, BENCH_BLOCK_MS block time).
 */
import { Transaction, Wallet, parseEther, parseUnits, ZeroHash, ZeroAddress } from 'ethers';
import { PocNet, WASM } from '../test/fixtures/poc-net.ts';
import { hubIface } from '../executor/hub-client.ts';
import { HUB_ADDRESS } from '../consensus/poc/index.ts';

const N = Number(process.env.BENCH_TASKS ?? 40);
const SERIAL = Number(process.env.BENCH_SERIAL ?? 10);
const BLOCK_MS = Number(process.env.BENCH_BLOCK_MS ?? 200);
const FINALIZED = hubIface.getEvent('TaskFinalized')!.topicHash;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function main() {
  const net = await PocNet.start(BLOCK_MS);
  try {
    const E = [1, 2, 3];
    await Promise.all(E.map((i) => net.startExecutor(i, { args: ['--withdraw-every', '0'] })));
    const app = await net.publishApp(0, WASM('echo'));
    const requester = new Wallet(net.wallet(0).privateKey);
    const chainId = Number((await net.provider.getNetwork()).chainId);
    const data = (k: number) => hubIface.encodeFunctionData('requestTask', [app, ZeroHash, new TextEncoder().encode(`task ${k}`), 5, 3, 3, 0, ZeroAddress]);

    /** Send `count` requests at once; resolve with per-task figures once all are finalized. */
    const runBatch = async (count: number, offset: number) => {
      const nonce = await net.provider.getTransactionCount(requester.address, 'pending');
      const first = Number(await net.hub.taskCount()) + 1;
      const raws = await Promise.all(Array.from({ length: count }, (_, k) => requester.signTransaction(Transaction.from({ type: 2, chainId, nonce: nonce + k, to: HUB_ADDRESS, data: data(offset + k), value: parseEther('0.03'), gasLimit: 400_000n, maxFeePerGas: parseUnits('50', 'gwei'), maxPriorityFeePerGas: parseUnits('1', 'gwei') }))));
      const startBlock = await net.provider.getBlockNumber();
      const sentAt: number[] = [];
      const hashes: string[] = [];
      for (const raw of raws) {
        sentAt.push(performance.now());
        hashes.push(await net.provider.send('eth_sendRawTransaction', [raw]));
      }
      const doneAt = new Map<number, { t: number; block: number }>();
      let from = startBlock + 1;
      while (doneAt.size < count) {
        const head = await net.provider.getBlockNumber();
        if (head >= from) {
          const logs = await net.provider.getLogs({ address: HUB_ADDRESS, topics: [FINALIZED], fromBlock: from, toBlock: head });
          const now = performance.now();
          for (const l of logs) {
            const id = Number(BigInt(l.topics[1]!));
            if (id >= first && id < first + count && !doneAt.has(id)) {
              if (BigInt('0x' + l.data.slice(66, 130)) !== 3n) throw new Error(`task ${id} failed`); // data = digest ‖ status
              doneAt.set(id, { t: now, block: l.blockNumber });
            }
          }
          from = head + 1;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const receipts = await Promise.all(hashes.map((h) => net.provider.getTransactionReceipt(h)));
      const endBlock = await net.provider.getBlockNumber();
      return {
        latencyMs: Array.from({ length: count }, (_, k) => doneAt.get(first + k)!.t - sentAt[k]!),
        latencyBlocks: Array.from({ length: count }, (_, k) => doneAt.get(first + k)!.block - receipts[k]!.blockNumber),
        spanMs: Math.max(...[...doneAt.values()].map((d) => d.t)) - sentAt[0]!,
        requestGas: receipts.reduce((s, r) => s + r!.gasUsed, 0n),
        startBlock,
        endBlock,
      };
    };

    const gasOf = async (from: number, to: number) => {
      let exec = 0n;
      let sys = 0n;
      let missing = 0;
      const execs = E.map((i) => net.executors.get(i)!.address.toLowerCase());
      for (let n = from + 1; n <= to; n++) {
        const b = await net.provider.send('eth_getBlockByNumber', ['0x' + n.toString(16), true]);
        for (const tx of b.transactions) if (execs.includes(tx.from.toLowerCase())) exec += BigInt((await net.provider.send('eth_getTransactionReceipt', [tx.hash])).gasUsed);
        const g = await net.provider.send('pocchain_systemGas', ['0x' + n.toString(16)]);
        if (g) sys += BigInt(g.schedule) + BigInt(g.finalize);
        else missing++;
      }
      return { exec, sys, missing };
    };

    // warm-up (first fetch of the wasm, sandbox workers)
    await runBatch(1, 0);
    const serial: { ms: number[]; blocks: number[] } = { ms: [], blocks: [] };
    const s0 = await net.provider.getBlockNumber();
    let serialReqGas = 0n;
    for (let k = 0; k < SERIAL; k++) {
      const r = await runBatch(1, 1 + k);
      serial.ms.push(r.latencyMs[0]!);
      serial.blocks.push(r.latencyBlocks[0]!);
      serialReqGas += r.requestGas;
    }
    const s1 = await net.provider.getBlockNumber();
    const serialGas = await gasOf(s0, s1);

    const burst = await runBatch(N, 1000);
    const burstGas = await gasOf(burst.startBlock, burst.endBlock);

    const rows = [
      ['scenario', 'tasks', 'tasks/min', 'p50 latency', 'p90 latency', 'p50 blocks', 'gas/task (txs)', 'gas/task (system)', 'gas/task (total)'],
      ['serial', String(SERIAL), (SERIAL / ((serial.ms.reduce((a, b) => a + b, 0)) / 60_000)).toFixed(1), `${pct(serial.ms, 50).toFixed(0)} ms`, `${pct(serial.ms, 90).toFixed(0)} ms`, String(pct(serial.blocks, 50)), String((serialReqGas + serialGas.exec) / BigInt(SERIAL)), String(serialGas.sys / BigInt(SERIAL)), String((serialReqGas + serialGas.exec + serialGas.sys) / BigInt(SERIAL))],
      ['burst', String(N), (N / (burst.spanMs / 60_000)).toFixed(1), `${pct(burst.latencyMs, 50).toFixed(0)} ms`, `${pct(burst.latencyMs, 90).toFixed(0)} ms`, String(pct(burst.latencyBlocks, 50)), String((burst.requestGas + burstGas.exec) / BigInt(N)), String(burstGas.sys / BigInt(N)), String((burst.requestGas + burstGas.exec + burstGas.sys) / BigInt(N))],
    ];
    const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    console.log(`\ncompute tasks: echo, trust 5 (3 executors agree), category 0, block time ${BLOCK_MS} ms, 3 executor processes + 1 dev node on this host`);
    for (const r of rows) console.log(r.map((x, c) => x.padEnd(w[c]!)).join('  '));
    if (serialGas.missing + burstGas.missing > 0) console.log(`(system gas missing for ${serialGas.missing + burstGas.missing} blocks)`);
    console.log('gas/task (txs) = requestTask + 3 × contribute + 3 × reveal; (system) = Hub.schedule + Hub.finalize of all blocks of the run / tasks');
    if (process.env.BENCH_JSON) {
      const fig = (ms: number[], count: number, spanMs: number) => ({ tasks: count, tasksPerMin: count / (spanMs / 60_000), p50Ms: pct(ms, 50), p90Ms: pct(ms, 90) });
      const out = { blockTimeMs: BLOCK_MS, serial: fig(serial.ms, SERIAL, serial.ms.reduce((a, b) => a + b, 0)), burst: fig(burst.latencyMs, N, burst.spanMs), gasPerTaskBurst: String((burst.requestGas + burstGas.exec + burstGas.sys) / BigInt(N)) };
      (await import('node:fs')).writeFileSync(process.env.BENCH_JSON, JSON.stringify(out));
    }
  } catch (e) {
    for (const x of net.executors.values()) process.stderr.write(x.output().split('\n').filter((l) => /"level":(40|50)/.test(l)).slice(0, 8).join('\n') + '\n');
    throw e;
  } finally {
    await net.stop();
  }
}

await main();
