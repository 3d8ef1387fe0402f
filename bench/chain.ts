/**
 * npm run bench:chain — the same workloads of ETH transfers and ERC20 transfers sent over JSON-RPC
 * to a pocchain dev node (separate process) and to anvil, in one run; prints tx/s and the ratio.
 * Flags: --txs N (per workload, default 2000), --senders N (default 8), --block-time ms (200).
 */
import { parseArgs } from 'node:util';
import { ContractFactory, JsonRpcProvider, Wallet, parseEther } from 'ethers';
import { startAnvil } from '../lib/anvil.ts';
import { devAccounts } from '../lib/keys.ts';
import { loadArtifact } from '../contracts/artifacts.ts';
import { startDevNode } from '../test/helpers/proc.ts';
import { erc20, rpcCall, runWorkload, signWorkload, table } from './lib.ts';

const { values } = parseArgs({ options: { txs: { type: 'string', default: '2000' }, senders: { type: 'string', default: '8' }, 'block-time': { type: 'string', default: '200' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log('usage: npm run bench:chain -- [--txs N] [--senders N] [--block-time ms]');
  process.exit(0);
}
const TXS = Number(values.txs);
const SENDERS = Number(values.senders);
const senders = devAccounts(SENDERS + 1).slice(1);
const deployer = devAccounts(1)[0]!;
const token = loadArtifact('TestToken');

/** Deploy the token and give each sender a balance; returns token address. */
async function setup(url: string): Promise<string> {
  const p = new JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 50 });
  const w = new Wallet(deployer.privateKey, p);
  const c = await new ContractFactory(token.abi, token.bytecode, w).deploy('Bench', 'B', parseEther('1000000'));
  await c.waitForDeployment();
  const addr = await c.getAddress();
  let nonce = Number(BigInt(await rpcCall(url, 'eth_getTransactionCount', [w.address, 'latest'])));
  const txs = [];
  for (const s of senders) txs.push(await w.sendTransaction({ to: addr, data: erc20.encodeFunctionData('mint', [s.address, parseEther('1000')]), nonce: nonce++, gasLimit: 100_000n }));
  for (const t of txs) await t.wait();
  p.destroy();
  return addr;
}

/**
 * anvil's automine can leave ready txs in its pool for good when many arrive at once
 * (foundry-rs/foundry#10122; runs here hung with ~1400 pending, anvil mining empty blocks in a loop
 * and its memory growing). While a workload runs on anvil, every 300 ms: if txs are pending and
 * the pool did not shrink since the last look, mine a block by hand (evm_mine takes all ready
 * txs); the stall still counts in anvil's time. Returns stop() → number of kicks.
 */
function unstickAnvil(url: string): () => Promise<number> {
  let on = true;
  let kicks = 0;
  const loop = (async () => {
    let last = Infinity;
    while (on) {
      await new Promise((r) => setTimeout(r, 300));
      // stuck: ready txs and the pool did not shrink in 300 ms (the miner idles or spins out empty blocks)
      const pending = Number((await rpcCall(url, 'txpool_status')).pending);
      if (pending > 0 && pending >= last) {
        await rpcCall(url, 'evm_mine');
        kicks++;
      }
      last = pending;
    }
  })();
  return async () => {
    on = false;
    await loop;
    return kicks;
  };
}

async function measure(name: string, url: string, chainId: number) {
  const tokenAddr = await setup(url);
  const nonces = await Promise.all(senders.map(async (s) => Number(BigInt(await rpcCall(url, 'eth_getTransactionCount', [s.address, 'latest'])))));
  const per = Math.ceil(TXS / SENDERS);
  process.stderr.write(`${name}: signing ${per * SENDERS} ETH transfers...\n`);
  const eth = await signWorkload('eth', chainId, senders, per, (_f, i) => ({ to: senders[(i + 1) % SENDERS]!.address, value: 1n, gasLimit: 21000n }), nonces);
  let stop = name === 'anvil' ? unstickAnvil(url) : null;
  const rEth = await runWorkload(url, eth);
  if (stop) process.stderr.write(`${name}: ${await stop()} stalls broken with evm_mine\n`);
  process.stderr.write(`${name}: ETH ${rEth.tps.toFixed(1)} tx/s; signing ERC20...\n`);
  const n2 = nonces.map((n) => n + per);
  const tok = await signWorkload('erc20', chainId, senders, per, (_f, i) => ({ to: tokenAddr, data: erc20.encodeFunctionData('transfer', [senders[(i + 1) % SENDERS]!.address, 1n]), gasLimit: 60_000n }), n2);
  stop = name === 'anvil' ? unstickAnvil(url) : null;
  const rTok = await runWorkload(url, tok);
  if (stop) process.stderr.write(`${name}: ${await stop()} stalls broken with evm_mine\n`);
  process.stderr.write(`${name}: ERC20 ${rTok.tps.toFixed(1)} tx/s\n`);
  return { eth: rEth, erc20: rTok };
}

const anvil = await startAnvil({ chainId: 31338 });
const node = await startDevNode({ blockTimeMs: Number(values['block-time']) });
try {
  const a = await measure('anvil', anvil.url, 31338);
  const p = await measure('pocchain', node.url, 31338);
  console.log(`\nchain throughput over JSON-RPC: ${SENDERS} senders, ${Math.ceil(TXS / SENDERS) * SENDERS} txs per workload, pocchain block time ${values['block-time']} ms, anvil automine\n`);
  console.log(
    table([
      { workload: 'ETH transfer', 'pocchain tx/s': p.eth.tps.toFixed(1), 'anvil tx/s': a.eth.tps.toFixed(1), 'ratio pocchain/anvil': (p.eth.tps / a.eth.tps).toFixed(2) },
      { workload: 'ERC20 transfer', 'pocchain tx/s': p.erc20.tps.toFixed(1), 'anvil tx/s': a.erc20.tps.toFixed(1), 'ratio pocchain/anvil': (p.erc20.tps / a.erc20.tps).toFixed(2) },
    ]),
  );
  const out = { pocchain: { eth: p.eth.tps, erc20: p.erc20.tps }, anvil: { eth: a.eth.tps, erc20: a.erc20.tps } };
  if (process.env.BENCH_JSON) (await import('node:fs')).writeFileSync(process.env.BENCH_JSON, JSON.stringify(out));
} finally {
  await node.stop();
  await anvil.stop();
}
