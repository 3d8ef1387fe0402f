/**
 * Private pools from the CLI (issue 13, the hybrid public/private grid): `pocchain pool create`,
 * `pool add` / `pool remove` (the owner lists executors), `pool show`. An executor joins a pool
 * that lists it with `pocchain executor --pool ID`; a requester restricts tasks to a pool with
 * `task submit --pool ID` (Hub.requestTasksInPool), and `market --pool ID` quotes its members.
 */
import { type Command } from 'commander';
import { Wallet, ZeroAddress, type Contract } from 'ethers';
import { PocError } from '../../lib/errors.ts';
import { action, common, example, openProvider, parseAddress, parseInteger, rpcUrl, signingKey, type Opts, type Outcome } from '../kit.ts';
import { HUB_ADDRESS, MAX_POOL_FEE_BPS } from '../../consensus/poc/index.ts';
import { hubContract, hubIface, TxSender } from '../../executor/hub-client.ts';
import { logsInWindows } from '../hub-reads.ts';

/** `--fee` in percent with up to two decimals → basis points (0..MAX_POOL_FEE_BPS). */
export function parsePoolFee(s: unknown): number {
  const t = String(s ?? '').trim();
  const m = /^(\d{1,3})(?:\.(\d{1,2}))?$/.exec(t);
  if (!m) throw new PocError('CLI_BAD_POOL_FEE', `--fee: "${t}" is not a percentage (e.g. 5 or 2.5)`);
  const bps = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0') || 0);
  if (bps > MAX_POOL_FEE_BPS) throw new PocError('CLI_BAD_POOL_FEE', `--fee: ${t}% is above the Hub's maximum, ${MAX_POOL_FEE_BPS / 100}%`);
  return bps;
}

/** A pool id from the command line (1 and up). */
export const parsePoolId = (s: unknown, what = 'pool'): bigint => parseInteger(s, what, { min: 1n, max: 2n ** 48n - 1n });

/** A pool's owner, fee, the executors its owner lists and those that joined (from events and poolOf). */
export async function describePool(hub: Contract, pool: bigint) {
  const info = await hub.getPool(pool);
  if (info.owner === ZeroAddress) throw new PocError('CLI_UNKNOWN_POOL', `pool ${pool} does not exist`);
  const provider = hub.runner!.provider as Parameters<typeof logsInWindows>[0];
  const logs = await logsInWindows(provider, { address: HUB_ADDRESS, topics: [hubIface.getEvent('PoolMemberSet')!.topicHash, '0x' + pool.toString(16).padStart(64, '0')] }, 0, await provider.getBlockNumber());
  const listed = new Map<string, boolean>();
  for (const l of logs) {
    const p = hubIface.parseLog(l)!;
    listed.set(p.args.executor as string, p.args.allowed as boolean);
  }
  const executors = [];
  for (const [e, allowed] of listed) {
    if (!allowed) continue;
    executors.push({ executor: e, member: (await hub.poolOf(e)) === pool });
  }
  return { pool: String(pool), owner: info.owner as string, feeBps: Number(info.feeBps), executors, members: executors.filter((x) => x.member).length };
}

async function withHub<T>(o: Opts, needKey: boolean, fn: (hub: Contract, tx?: TxSender) => Promise<T>): Promise<T> {
  const key = needKey ? signingKey(o) : undefined;
  const provider = await openProvider(rpcUrl(o));
  try {
    if (!key) return await fn(hubContract(provider));
    const wallet = new Wallet(key, provider);
    return await fn(hubContract(wallet), new TxSender(wallet));
  } finally {
    provider.destroy();
  }
}

export function registerPoolCommands(program: Command): void {
  const pool = program.command('pool').description('private pools: a pool owner lists executors, they join, requesters restrict tasks to the pool');
  const create = pool.command('create').description('create a pool you own; you take --fee percent of the executors\' reward of each task completed in it').option('--fee <percent>', `your cut of the reward, 0..${MAX_POOL_FEE_BPS / 100}`, '0');
  example(common(create, { key: 'pool owner' }), 'pocchain pool create --fee 5 --key-file owner.key --json');
  create.action(action(async (o: Opts): Promise<Outcome> => {
    const bps = parsePoolFee(o.fee);
    return withHub(o, true, async (hub, tx) => {
      const rc = await tx!.send('createPool', () => hub.createPool(bps));
      const ev = rc.logs.map((l) => hubIface.parseLog(l)).find((l) => l?.name === 'PoolCreated')!;
      const id = ev.args.pool as bigint;
      return { json: { pool: String(id), owner: ev.args.owner, feeBps: bps, tx: rc.hash }, text: `pool ${id} created (fee ${bps / 100}%), tx ${rc.hash}\nlist executors with \`pocchain pool add ${id} <executor>\`; each joins with \`pocchain executor --pool ${id}\`` };
    });
  }));
  for (const [name, allowed] of [['add', true], ['remove', false]] as const) {
    const c = pool.command(`${name} <pool> <executor>`).description(allowed ? 'list an executor in your pool (it becomes a member once it joins)' : 'delist an executor: it leaves the pool at once (its open assignments are kept)');
    example(common(c, { key: 'pool owner' }), `pocchain pool ${name} 1 0x<executor> --key-file owner.key`);
    c.action(action(async (id: string, executor: string, o: Opts): Promise<Outcome> => {
      const p = parsePoolId(id);
      const e = parseAddress(executor, 'executor');
      return withHub(o, true, async (hub, tx) => {
        const rc = await tx!.send('setPoolMember', () => hub.setPoolMember(p, e, allowed));
        return { json: { pool: String(p), executor: e, listed: allowed, tx: rc.hash }, text: `${e} ${allowed ? 'listed in' : 'delisted from'} pool ${p} (tx ${rc.hash})` };
      });
    }));
  }
  const show = pool.command('show <pool>').description('a pool\'s owner, fee, listed executors and which of them joined');
  example(common(show), 'pocchain pool show 1 --json');
  show.action(action(async (id: string, o: Opts): Promise<Outcome> => withHub(o, false, async (hub) => {
    const d = await describePool(hub, parsePoolId(id));
    return { json: d, text: [`pool ${d.pool}: owner ${d.owner}, fee ${d.feeBps / 100}%, ${d.members} member(s) of ${d.executors.length} listed`, ...d.executors.map((x) => `  ${x.executor}  ${x.member ? 'member' : 'listed, not joined'}`)].join('\n') };
  })));
}
