/**
 * Everything the CLI reads from the Hub and Staking contracts about one account — balances, Hub
 * credit, stakes, unbonding, the tasks it requested, the apps and datasets it owns and what they
 * earned — in one module, so a change of the contracts' views or events lands in one place.
 *
 * Lists come from the Hub's events (indexed by requester / owner / payee), read in windows of
 * LOG_WINDOW blocks because a node caps one log query (chain/rpc/limits.ts MAX_LOG_RANGE).
 */
import { ZeroHash, type Contract, type JsonRpcProvider, type Log } from 'ethers';
import { HUB_ADDRESS } from '../consensus/poc/index.ts';
import { hubContract, hubIface, stakingContract, STATUS_NAMES } from '../executor/hub-client.ts';

/** Blocks per log query: the node's MAX_LOG_RANGE is 10 000 (both ends inclusive). */
export const LOG_WINDOW = 5_000;

/** Payment kinds of the Hub's Paid event, by code. */
export const PAID_KINDS = ['reward', 'app-fee', 'dataset-fee', 'pool-fee'] as const;

const topicAddr = (a: string) => '0x' + a.toLowerCase().replace(/^0x/, '').padStart(64, '0');
const topicUint = (n: bigint) => '0x' + n.toString(16).padStart(64, '0');

/** eth_getLogs over [from, to] in windows the node accepts. */
export async function logsInWindows(provider: JsonRpcProvider, filter: { address: string; topics: (string | null)[] }, from: number, to: number): Promise<Log[]> {
  const out: Log[] = [];
  for (let a = from; a <= to; a += LOG_WINDOW) {
    const b = Math.min(to, a + LOG_WINDOW - 1);
    out.push(...(await provider.getLogs({ ...filter, fromBlock: a, toBlock: b })));
  }
  return out;
}

export interface Balance {
  address: string;
  block: number;
  /** native coin in the account */
  native: bigint;
  /** Hub credit: rewards, fees, refunds not yet withdrawn (`pocchain withdraw`) */
  hubCredit: bigint;
  staking: {
    stake: bigint;
    /** part of the stake locked by open commitments */
    locked: bigint;
    unbonding: bigint;
    /** block from which `unbonding` can be withdrawn (0: nothing unbonding) */
    unbondAt: number;
    unbondingDue: boolean;
    active: boolean;
  };
}

/** Native balance, Hub credit, stake and unbonding of `address`, all at one block. */
export async function readBalance(provider: JsonRpcProvider, address: string): Promise<Balance> {
  const block = await provider.getBlockNumber();
  const hub = hubContract(provider);
  const staking = stakingContract(provider);
  const at = { blockTag: block };
  const [native, credit, info] = await Promise.all([provider.getBalance(address, block), hub.getFunction('withdrawable')(address, at), staking.getFunction('executorInfo')(address, at)]);
  const unbondAt = Number(info.unbondAt);
  return {
    address,
    block,
    native,
    hubCredit: credit as bigint,
    staking: { stake: info.stake, locked: info.locked, unbonding: info.unbonding, unbondAt, unbondingDue: info.unbonding > 0n && block + 1 >= unbondAt, active: info.isActive },
  };
}

export interface TaskSummary {
  taskId: string;
  status: string;
  app: string;
  dataset: string | null;
  escrow: bigint;
  createdAt: number;
  finalDeadline: number;
  /** what the task credited back to the requester (a refund after a failure) */
  refunded: bigint;
}

/** Tasks `requester` asked for (TaskRequested events), newest first, with their status now. */
export async function tasksOf(provider: JsonRpcProvider, requester: string, fromBlock = 0): Promise<TaskSummary[]> {
  const head = await provider.getBlockNumber();
  const hub = hubContract(provider);
  const requested = await logsInWindows(provider, { address: HUB_ADDRESS, topics: [hubIface.getEvent('TaskRequested')!.topicHash, null, topicAddr(requester)] }, fromBlock, head);
  const refunds = await logsInWindows(provider, { address: HUB_ADDRESS, topics: [hubIface.getEvent('Refunded')!.topicHash, null, topicAddr(requester)] }, fromBlock, head);
  const refunded = new Map<string, bigint>();
  for (const l of refunds) {
    const p = hubIface.parseLog(l)!;
    refunded.set(String(p.args.taskId), (refunded.get(String(p.args.taskId)) ?? 0n) + (p.args.amount as bigint));
  }
  const out: TaskSummary[] = [];
  for (const l of requested) {
    const id = hubIface.parseLog(l)!.args.taskId as bigint;
    const t = await hub.getFunction('getTask')(id, { blockTag: head });
    out.push({ taskId: String(id), status: STATUS_NAMES[Number(t.status)] ?? String(t.status), app: t.app, dataset: t.dataset === ZeroHash ? null : t.dataset, escrow: t.escrow, createdAt: Number(t.createdAt), finalDeadline: Number(t.finalDeadline), refunded: refunded.get(String(id)) ?? 0n });
  }
  return out.reverse();
}

export interface AssetSummary {
  hash: string;
  price: bigint;
  category: number | null;
  uri: string;
  registeredAt: number;
  /** fees the Hub credited to the owner for tasks using it */
  earned: bigint;
  /** completed tasks that paid the fee */
  paidTasks: number;
}

/** Apps or datasets `owner` registered, with the fees each earned (Paid events to the owner). */
export async function assetsOf(provider: JsonRpcProvider, kind: 'app' | 'dataset', owner: string, fromBlock = 0): Promise<AssetSummary[]> {
  const head = await provider.getBlockNumber();
  const hub = hubContract(provider);
  const event = kind === 'app' ? 'AppRegistered' : 'DatasetRegistered';
  const regs = await logsInWindows(provider, { address: HUB_ADDRESS, topics: [hubIface.getEvent(event)!.topicHash, null, topicAddr(owner)] }, fromBlock, head);
  const paid = await logsInWindows(provider, { address: HUB_ADDRESS, topics: [hubIface.getEvent('Paid')!.topicHash, null, topicAddr(owner)] }, fromBlock, head);
  const feeKind = kind === 'app' ? 1 : 2;
  const earned = new Map<string, { amount: bigint; tasks: number }>();
  for (const l of paid) {
    const p = hubIface.parseLog(l)!;
    if (Number(p.args.kind) !== feeKind) continue;
    const t = await hub.getFunction('getTask')(p.args.taskId, { blockTag: head });
    const h = String(kind === 'app' ? t.app : t.dataset).toLowerCase();
    const e = earned.get(h) ?? { amount: 0n, tasks: 0 };
    e.amount += p.args.amount as bigint;
    e.tasks += 1;
    earned.set(h, e);
  }
  const out: AssetSummary[] = [];
  for (const l of regs) {
    const p = hubIface.parseLog(l)!;
    const hash = String(p.args[0]).toLowerCase();
    const rec = await (kind === 'app' ? hub.getFunction('getApp') : hub.getFunction('getDataset'))(hash, { blockTag: head });
    const e = earned.get(hash) ?? { amount: 0n, tasks: 0 };
    out.push({ hash, price: rec.price, category: kind === 'app' ? Number(rec.category) : null, uri: rec.uri, registeredAt: l.blockNumber, earned: e.amount, paidTasks: e.tasks });
  }
  return out;
}

export interface Credit {
  to: string;
  amount: bigint;
  kind: (typeof PAID_KINDS)[number] | 'refund';
}

/** Hub credit one task gave (its Paid and Refunded events: both add to `withdrawable`). */
export async function taskCredits(provider: JsonRpcProvider, hub: Contract, taskId: bigint): Promise<Credit[]> {
  const t = await hub.getFunction('getTask')(taskId);
  const logs = await logsInWindows(provider, { address: HUB_ADDRESS, topics: [null, topicUint(taskId)] }, Number(t.createdAt), await provider.getBlockNumber());
  const out: Credit[] = [];
  for (const l of logs) {
    const p = hubIface.parseLog(l);
    if (p?.name === 'Paid') out.push({ to: p.args.to, amount: p.args.amount, kind: PAID_KINDS[Number(p.args.kind)]! });
    if (p?.name === 'Refunded') out.push({ to: p.args.requester, amount: p.args.amount, kind: 'refund' });
  }
  return out;
}
