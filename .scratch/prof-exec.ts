/**
 * npm run bench:execute — block execution in one process, phase by phase, without RPC, p2p or
 * consensus: where a node's time goes per tx. Two chains in temp LevelDBs play proposer and peer:
 * pool admission (decode + sender recovery) → build (execute, trie flush, roots) → commit (one
 * LevelDB batch); on the peer: decode the proposal → verify (re-execute) → commit.
 * Prints µs per tx for each phase, for ETH and ERC20 transfers, and the event loop's longest
 * stall during execution (monitorEventLoopDelay). --txs N per block (default 1000), --blocks N.
 */
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Wallet, parseEther } from 'ethers';
import { hexToBytes, createAddressFromString } from '@ethereumjs/util';
import { Chain } from '../chain/chain.ts';
import { TxPool } from '../chain/txpool.ts';
import { buildGenesis } from '../chain/devgenesis.ts';
import { loadArtifact } from '../contracts/artifacts.ts';
import { tempDir } from '../test/helpers/proc.ts';
import { signBatch, type SenderState } from '../test/helpers/load.ts';
import { getBytes, ContractFactory } from 'ethers';
import { table } from '../bench/lib.ts';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
const session = new Session(); session.connect(); await session.post('Profiler.enable'); await session.post('Profiler.setSamplingInterval', { interval: 200 });
let PROF = false;

const { values } = parseArgs({ options: { txs: { type: 'string', default: '1000' }, blocks: { type: 'string', default: '3' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log('usage: node bench/execute.ts [--txs N per block (1000)] [--blocks N per workload (3)]');
  process.exit(0);
}
const TXS = Number(values.txs);
const BLOCKS = Number(values.blocks);
const CHAIN_ID = 4242;

const wallets = Array.from({ length: 16 }, () => Wallet.createRandom());
const deployer = Wallet.createRandom();
const genesis = buildGenesis({ chainId: CHAIN_ID, validators: [{ pubKey: '0x' + '11'.repeat(32), address: deployer.address, power: 1 }], funded: [deployer.address, ...wallets.map((w) => w.address)] });
const senders: SenderState[] = wallets.map((w, i) => ({ wallet: w as any, key: getBytes(w.privateKey), nonce: 0, home: i }));

const [a, b] = await Promise.all([Chain.open({ datadir: tempDir('pocchain-bench-'), genesis }), Chain.open({ datadir: tempDir('pocchain-bench-'), genesis })]);
const pa = new TxPool(a, { maxPerSender: 100_000, maxNonceGap: 100_000, maxSize: 100_000 });
const pb = new TxPool(b, { maxPerSender: 100_000, maxNonceGap: 100_000, maxSize: 100_000 });

type Phase = 'admit' | 'build' | 'commitA' | 'decode' | 'verify' | 'commitB';
const now = () => performance.now();

async function block(raw: string[]): Promise<Record<Phase, number> & { txs: number }> {
  const t: Record<string, number> = {};
  let t0 = now();
  for (const r of raw) await pa.addRaw(hexToBytes(r as `0x${string}`));
  t.admit = now() - t0;
  for (const r of raw) await pb.addRaw(hexToBytes(r as `0x${string}`)); // the peer got them by gossip (not timed: same cost as admit)
  t0 = now();
  if (PROF) await session.post('Profiler.start');
  const res = await a.build(a.nextHeader({ coinbase: new Uint8Array(20) }), pa.pending());
  if (PROF) { const { profile } = await session.post('Profiler.stop'); writeFileSync(`/tmp/prof-build-${process.env.KIND}.cpuprofile`, JSON.stringify(profile)); }
  t.build = now() - t0;
  if (res.skipped.length) throw new Error(`skipped: ${res.skipped[0]!.reason}`);
  t0 = now();
  await a.commit(res);
  await pa.onBlock();
  t.commitA = now() - t0;
  const rlp = res.block.serialize();
  t0 = now();
  const blk = b.decodeBlock(rlp, (h) => pb.get(h));
  t.decode = now() - t0;
  t0 = now();
  const v = await b.verify(blk);
  t.verify = now() - t0;
  t0 = now();
  await b.commit(v);
  await pb.onBlock();
  t.commitB = now() - t0;
  return { ...(t as Record<Phase, number>), txs: res.block.transactions.length };
}

/** A deploy + mint block on both chains (not measured). */
async function setupToken(): Promise<string> {
  const art = loadArtifact('TestToken');
  const f = new ContractFactory(art.abi, art.bytecode);
  const deploy = await f.getDeployTransaction('Bench', 'B', parseEther('1000000'));
  const w = new Wallet(deployer.privateKey);
  const base = { type: 2, chainId: CHAIN_ID, maxFeePerGas: 50n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n };
  const raws = [await w.signTransaction({ ...base, nonce: 0, data: deploy.data, gasLimit: 3_000_000n })];
  const token = (await import('ethers')).getCreateAddress({ from: deployer.address, nonce: 0 });
  const { erc20 } = await import('../test/helpers/load.ts');
  for (const [i, s] of wallets.entries()) raws.push(await w.signTransaction({ ...base, nonce: i + 1, to: token, data: erc20.encodeFunctionData('mint', [s.address, parseEther('1000')]), gasLimit: 100_000n }));
  await block(raws);
  const acc = await (await a.headState()).getCode(createAddressFromString(token));
  if (acc.length === 0) throw new Error('token not deployed');
  return token;
}

const token = await setupToken();
const rows: Record<string, string | number>[] = [];
const loop = monitorEventLoopDelay({ resolution: 5 });
const tick = setInterval(() => {}, 5); // keep timers due, as RPC and consensus would
for (const kind of [process.env.KIND ?? 'erc20'] as ('eth'|'erc20')[]) {
  const sum: Record<string, number> = {};
  let n = 0;
  loop.reset();
  loop.enable();
  for (let i = 0; i < BLOCKS; i++) {
    const raw = signBatch(kind, CHAIN_ID, senders, TXS, token).map((t) => t.raw);
    PROF = i === BLOCKS - 1;
    const r = await block(raw);
    n += r.txs;
    for (const [k, v] of Object.entries(r)) if (k !== 'txs') sum[k] = (sum[k] ?? 0) + v;
    process.stderr.write(`execute: ${kind} block ${i + 1}/${BLOCKS}: build ${r.build.toFixed(0)} ms, verify ${r.verify.toFixed(0)} ms for ${r.txs} txs\n`);
  }
  loop.disable();
  const us = (k: string) => ((sum[k]! * 1000) / n).toFixed(0);
  const total = Object.values(sum).reduce((x, y) => x + y, 0);
  rows.push({ workload: kind === 'eth' ? 'ETH transfer' : 'ERC20 transfer', 'admit µs/tx': us('admit'), 'build µs/tx': us('build'), 'commit µs/tx': us('commitA'), 'decode µs/tx': us('decode'), 'verify µs/tx': us('verify'), 'peer commit µs/tx': us('commitB'), 'proposer tx/s': ((n * 1000) / (sum.admit! + sum.build! + sum.commitA!)).toFixed(0), 'loop max ms': (loop.max / 1e6).toFixed(0) });
  void total;
}
clearInterval(tick);
console.log(`\nblock execution in one process, ${TXS} txs per block, ${BLOCKS} blocks per workload (µs of wall time per tx; proposer tx/s = admit + build + commit)\n`);
console.log(table(rows));
await a.close();
await b.close();
