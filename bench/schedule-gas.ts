/**
 * Gas of one Hub.schedule() system call at 256 staked executors (a full active list, MAX_EXECUTORS),
 * measured on anvil with the Hub and Staking runtime code placed at their genesis addresses (as
 * test/contracts/hub-market.test.ts does), the call made from SYSTEM_ADDRESS with the node's fixed
 * SYSTEM_CALL_GAS. Not part of npm test; prints figures.
 *
 * Cases (each from the same snapshot of 256 executors staked 2.000, 2.001, … coins):
 * - worst: the griefing mix of issue "market" at the highest trust (1 × 16 replicas, then 55 ×
 *   32 replicas, least escrow): every examined task needs a full round of draws over 256
 *   candidates, so the gas rule (docs/poc-rules.md, "Bounded work per block") is what stops the
 *   call. The figure is the largest schedule() until every task has its executors.
 * - bag: a full bag (MAX_BAG = 256 tasks, one requestTasks) at trust 5, 3..3 replicas: what a big
 *   honest job costs the first blocks after it lands.
 * - one: a single trust-5, 3-replica task (the serial case of bench/compute.ts).
 *
 * Run: `node bench/schedule-gas.ts` (BENCH_JSON=<file> for bench/all.ts).
 */
import { writeFileSync } from 'node:fs';
import { startHubFixture, type HubFixture, type Receipt } from '../test/contracts/hub-fixture.ts';
import * as poc from '../consensus/poc/index.ts';
import { HUB_ADDRESS, SYSTEM_ADDRESS } from '../consensus/poc/index.ts';
import { table } from './lib.ts';

const ETH = 10n ** 18n;
const ZERO32 = '0x' + '00'.repeat(32);
const ZERO20 = '0x' + '00'.repeat(20);
const APP = '0x' + 'a9'.repeat(32);
const N = poc.MAX_EXECUTORS;
const least = (replicas: number) => BigInt(replicas) * poc.MIN_REWARD_PER_REPLICA;
const say = (s: string) => process.stderr.write(`[schedule-gas] ${s}\n`);

function ok(r: Receipt, what: string): Receipt {
  if (r.status !== 1) throw new Error(`${what} reverted`);
  return r;
}

/** schedule() once per block until a call assigns nothing; gas of each call and assignments made. */
async function scheduleAll(f: HubFixture, seed: bigint): Promise<{ gas: bigint[]; assigned: number[] }> {
  const gas: bigint[] = [];
  const assigned: number[] = [];
  for (let i = 0; i < 64; i++) {
    const r = ok(await f.send(SYSTEM_ADDRESS, HUB_ADDRESS, f.hub.encodeFunctionData('schedule', [seed * 7919n + BigInt(i)]), 0n, poc.SYSTEM_CALL_GAS), 'schedule');
    const n = f.parseLogs(r).filter((l) => l.name === 'TaskAssigned').length;
    if (n === 0) break;
    gas.push(r.gasUsed);
    assigned.push(n);
  }
  return { gas, assigned };
}

async function main() {
  const f = await startHubFixture(N + 8);
  try {
    const [owner, attacker, requester] = f.accounts as [string, string, string];
    const executors = f.accounts.slice(4, 4 + N);
    say(`staking ${N} executors on anvil`);
    for (const [i, e] of executors.entries()) ok(await f.stakingTx(e, 'stakeExecutor', [], 2n * ETH + BigInt(i) * 10n ** 15n), 'stakeExecutor');
    // declared offers at the largest capacity: every pool slot is read, and capacity never stops a draw
    for (const e of executors) ok(await f.hubTx(e, 'setOffer', [[0n, 0n, 0n, 0n], BigInt(poc.MAX_CAPACITY)]), 'setOffer');
    const active = (await f.stakingView('activeCount'))[0] as bigint;
    if (active !== BigInt(N)) throw new Error(`active executors ${active}, expected ${N}`);
    // category 1 (T = 20 blocks): no deadline passes while the calls run
    ok(await f.hubTx(owner, 'registerApp', [APP, 0n, 1, 'ipfs://app']), 'registerApp');
    let base = await f.snapshot();
    // anvil drops a snapshot once reverted to: take it again after each revert
    const reset = async () => {
      await f.revert(base);
      base = await f.snapshot();
    };

    const request = (from: string, trust: bigint, min: number, max: number, value: bigint) => f.hubTx(from, 'requestTask', [APP, ZERO32, '0x', trust, BigInt(min), BigInt(max), 0n, ZERO20], value).then((r) => ok(r, 'requestTask'));

    say('worst case: 1 × 16 + 55 × 32 replicas at MAX_TRUST');
    await request(attacker, poc.MAX_TRUST, 16, 16, least(16));
    for (let i = 0; i < 55; i++) await request(attacker, poc.MAX_TRUST, 32, 32, least(32));
    const worst = await scheduleAll(f, 1n);
    await reset();

    say(`bag: ${poc.MAX_BAG} tasks, trust 5, 3..3 replicas`);
    const inputs = Array.from({ length: poc.MAX_BAG }, (_, k) => '0x' + k.toString(16).padStart(8, '0'));
    const bagReq = ok(await f.hubTx(requester, 'requestTasks', [[APP, ZERO32, 5n, 3n, 3n, 0n, ZERO20, 0n], inputs], BigInt(poc.MAX_BAG) * least(3)), 'requestTasks');
    const bag = await scheduleAll(f, 2n);
    await reset();

    say('one task, trust 5, 3..3 replicas');
    const oneReq = await request(requester, 5n, 3, 3, least(3));
    const one = await scheduleAll(f, 3n);

    const max = (xs: bigint[]) => xs.reduce((a, b) => (b > a ? b : a), 0n);
    const M = (g: bigint) => `${(Number(g) / 1e6).toFixed(2)} M`;
    const rows = [
      { case: `worst: 1×16 + 55×32 replicas, trust MAX`, calls: String(worst.gas.length), 'max gas of one schedule()': M(max(worst.gas)), 'of the limit': `${((Number(max(worst.gas)) / Number(poc.SYSTEM_CALL_GAS)) * 100).toFixed(1)}%`, 'assignments per call': worst.assigned.join(' ') },
      { case: `bag of ${poc.MAX_BAG}, trust 5, 3 replicas`, calls: String(bag.gas.length), 'max gas of one schedule()': M(max(bag.gas)), 'of the limit': `${((Number(max(bag.gas)) / Number(poc.SYSTEM_CALL_GAS)) * 100).toFixed(1)}%`, 'assignments per call': bag.assigned.join(' ') },
      { case: 'one task, trust 5, 3 replicas', calls: String(one.gas.length), 'max gas of one schedule()': M(max(one.gas)), 'of the limit': `${((Number(max(one.gas)) / Number(poc.SYSTEM_CALL_GAS)) * 100).toFixed(1)}%`, 'assignments per call': one.assigned.join(' ') },
    ];
    console.log(`\nHub.schedule() at ${N} staked executors (anvil, genesis bytecode, system call gas limit ${poc.SYSTEM_CALL_GAS})\n`);
    console.log(table(rows));
    console.log(`requestTasks of ${poc.MAX_BAG}: ${bagReq.gasUsed} gas (${bagReq.gasUsed / BigInt(poc.MAX_BAG)} per task); requestTask of one: ${oneReq.gasUsed} gas`);
    const out = { executors: N, limit: String(poc.SYSTEM_CALL_GAS), worst: { gas: worst.gas.map(String), max: String(max(worst.gas)) }, bag: { tasks: poc.MAX_BAG, gas: bag.gas.map(String), max: String(max(bag.gas)), requestGas: String(bagReq.gasUsed) }, one: { gas: one.gas.map(String), requestGas: String(oneReq.gasUsed) } };
    if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(out));
    else if (process.argv.includes('--json')) console.log(JSON.stringify(out));
  } finally {
    await f.stop();
  }
}

await main();
