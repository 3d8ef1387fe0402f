/**
 * pocchain_explorer* RPC methods: what the explorer pages need that standard JSON-RPC has no index
 * for. Each answer is one index range read (indexer.ts) plus a few contract views at the head;
 * nothing here walks the chain. Every list is bounded (MAX_LIST); inputs are validated first.
 */
import { Address, bytesToHex, hexToBytes } from '@ethereumjs/util';
import { Interface, getAddress } from 'ethers';
import type { Chain } from '../chain/chain.ts';
import { RPC, RpcError, type RpcMethod } from '../chain/rpc/server.ts';
import * as P from '../chain/rpc/params.ts';
import { decodeCommit } from '../consensus/bft/codec.ts';
import { TaskStatus } from '../consensus/poc/params.ts';
import { HUB_ADDRESS, STAKING_ADDRESS } from '../consensus/poc/params.ts';
import { SYSTEM_CONTRACTS, type ExplorerIndex } from './indexer.ts';

export const MAX_LIST = 100;
const VIEW_GAS = 50_000_000n;
const STATUS_NAMES = Object.fromEntries(Object.entries(TaskStatus).map(([k, v]) => [v, k.toLowerCase()]));

const hub = SYSTEM_CONTRACTS[HUB_ADDRESS.toLowerCase()]!.iface;
const staking = SYSTEM_CONTRACTS[STAKING_ADDRESS.toLowerCase()]!.iface;

function limitOf(v: unknown, def = 20): number {
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RpcError(RPC.INVALID_PARAMS, 'invalid argument: limit must be a positive integer');
  return Math.min(v, MAX_LIST);
}

function taskIdOf(v: unknown): bigint {
  if (typeof v === 'string' && /^(0x[0-9a-fA-F]{1,64}|[0-9]{1,78})$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw new RpcError(RPC.INVALID_PARAMS, 'invalid argument: task id must be a number or hex quantity');
}

/** Plain JSON of an ethers Result (struct → object, bigint → decimal string). */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) {
    const r = v as unknown as { toObject?: () => Record<string, unknown> };
    const keys = typeof r.toObject === 'function' ? Object.keys(r.toObject()) : [];
    if (keys.length > 0 && !keys.every((k, i) => k === String(i))) return Object.fromEntries(keys.map((k) => [k, plain((r.toObject!() as any)[k])]));
    return v.map(plain);
  }
  return v;
}

export function createExplorerApi(o: { chain: () => Chain; index: () => ExplorerIndex; validators: { pubKey: string; power: number; address?: string }[] }): Record<string, RpcMethod> {
  /** A view call on a system contract at the head. */
  async function view(iface: Interface, to: string, fn: string, args: unknown[]): Promise<any> {
    const chain = o.chain();
    const vm = await chain.vmAt(chain.head.header.stateRoot);
    const r = await vm.evm.runCall({ to: new Address(hexToBytes(to as `0x${string}`)), data: hexToBytes(iface.encodeFunctionData(fn, args) as `0x${string}`), gasLimit: VIEW_GAS, skipBalance: true });
    if (r.execResult.exceptionError) throw new RpcError(RPC.SERVER, `${fn} reverted`);
    return iface.decodeFunctionResult(fn, bytesToHex(r.execResult.returnValue));
  }

  async function task(id: bigint) {
    const [t] = await view(hub, HUB_ADDRESS, 'getTask', [id]);
    if (Number(t.status) === 0) return null;
    const [assignees] = await view(hub, HUB_ADDRESS, 'taskAssignees', [id]);
    const [hashes, weights, sizes] = await view(hub, HUB_ADDRESS, 'taskVotes', [id]);
    const [input] = await view(hub, HUB_ADDRESS, 'taskInput', [id]);
    const events = await o.index().taskEvents(id, MAX_LIST);
    return {
      ...(plain(t) as Record<string, unknown>),
      id: id.toString(),
      status: STATUS_NAMES[Number(t.status)] ?? String(t.status),
      input,
      assignees: [...assignees],
      votes: (hashes as string[]).map((h, i) => ({ resultHash: h, weight: weights[i].toString(), size: Number(sizes[i]) })),
      events,
    };
  }

  return {
    pocchain_explorerAddressTxs: async ([a, limit]) => o.index().addressTxs(bytesToHex(P.address(a)), limitOf(limit, 25)),
    pocchain_explorerTasks: async ([limit]) => {
      const reqs = await o.index().events('TaskRequested', limitOf(limit));
      return Promise.all(reqs.map(async (e) => {
        const [t] = await view(hub, HUB_ADDRESS, 'getTask', [BigInt(e.args.taskId as string)]);
        return { id: e.args.taskId, block: e.block, txHash: e.txHash, requester: e.args.requester, app: e.args.app, status: STATUS_NAMES[Number(t.status)] ?? String(t.status), escrow: e.args.escrow, trust: e.args.trust, contributions: Number(t.contributedCount), consensusHash: t.consensusHash };
      }));
    },
    pocchain_explorerTask: async ([id]) => task(taskIdOf(id)),
    pocchain_explorerAssets: async ([limit]) => ({
      apps: await o.index().events('AppRegistered', limitOf(limit)),
      datasets: await o.index().events('DatasetRegistered', limitOf(limit)),
    }),
    pocchain_explorerExecutors: async () => {
      const [addrs] = await view(staking, STAKING_ADDRESS, 'activeExecutors', []);
      const list = [...(addrs as string[])].slice(0, MAX_LIST);
      return Promise.all(list.map(async (a) => ({
        address: a,
        stake: (await view(staking, STAKING_ADDRESS, 'stakeOf', [a]))[0].toString(),
        freeStake: (await view(staking, STAKING_ADDRESS, 'freeStakeOf', [a]))[0].toString(),
        score: (await view(hub, HUB_ADDRESS, 'score', [a]))[0].toString(),
      })));
    },
    pocchain_explorerBridge: async ([limit]) => ({
      deposits: await o.index().events('Deposit', limitOf(limit)),
      withdrawals: await o.index().events('WithdrawalRequested', limitOf(limit)),
    }),
    pocchain_explorerValidators: async ([count]) => {
      // recent signing from the commits stored with the last blocks (bounded window)
      const chain = o.chain();
      const n = limitOf(count, 20);
      const signed = o.validators.map(() => 0);
      let seen = 0;
      const stop = chain.head.header.number - BigInt(2 * n); // bounded even where commits are missing
      for (let h = chain.head.header.number; h > 0n && h > stop && seen < n; h--) {
        const b = await chain.getBlockByNumber(h);
        const c = b ? await chain.getCommit(b.hash()) : undefined;
        if (!c) continue;
        seen++;
        decodeCommit(c).signatures.forEach((s, i) => {
          if (s && i < signed.length) signed[i]!++;
        });
      }
      return { window: seen, validators: o.validators.map((v, i) => ({ index: i, pubKey: v.pubKey, power: v.power, ...(v.address ? { address: v.address } : {}), signed: signed[i] })) };
    },
    pocchain_explorerDecodeInput: async ([to, data]) => {
      const c = typeof to === 'string' ? SYSTEM_CONTRACTS[to.toLowerCase()] : undefined;
      if (!c) return null;
      const d = c.iface.parseTransaction({ data: bytesToHex(P.data(data, 'input')) });
      return d ? { contract: c.name, function: d.signature, args: plain(d.args) } : null;
    },
    pocchain_explorerSearch: async ([q]) => {
      if (typeof q !== 'string' || q.length > 100) throw new RpcError(RPC.INVALID_PARAMS, 'invalid argument: search text must be a string of at most 100 characters');
      const s = q.trim();
      const chain = o.chain();
      if (/^0x[0-9a-fA-F]{40}$/.test(s)) return { kind: 'address', id: getAddress(s) };
      if (/^0x[0-9a-fA-F]{64}$/.test(s)) {
        const h = hexToBytes(s as `0x${string}`);
        if (await chain.store.loadTxLocation(h)) return { kind: 'tx', id: s.toLowerCase() };
        const b = await chain.getBlockByHash(h);
        if (b) return { kind: 'block', id: Number(b.header.number) };
        return null;
      }
      const m = /^(?:task\s*#?\s*|#)?([0-9]{1,20})$/i.exec(s);
      if (m) {
        const n = BigInt(m[1]!);
        const isTask = /^(task|#)/i.test(s);
        if (!isTask && n <= chain.head.header.number) return { kind: 'block', id: Number(n) };
        if (await task(n).catch(() => null)) return { kind: 'task', id: n.toString() };
        return null;
      }
      return null;
    },
  };
}
