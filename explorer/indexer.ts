/**
 * The explorer's indices, in their own LevelDB beside the chain's (`<datadir>/explorer-index`),
 * so the explorer answers "recent txs of an address", "tasks", "deposits" with one range read
 * instead of scanning blocks. Fed from the chain's committed blocks: on start it catches up from
 * its last indexed height (once), then indexes each block as it commits, in order.
 *
 * Keys (heights and indices zero-padded hex, so keys sort by chain order; reads go backwards):
 *   a/<address>/<height>/<txIndex>   → {hash, dir}        txs sent, received or created
 *   e/<event>/<height>/<logIndex>    → IndexedEvent        system contracts' events + deposits
 *   t/<taskId>/<height>/<logIndex>   → IndexedEvent        the events of one task
 *   m/height                         → last indexed height
 * Derived data only: deleting the directory rebuilds it on the next start.
 */
import { Level } from 'level';
import { bytesToHex } from '@ethereumjs/util';
import { Interface, getAddress, type LogDescription } from 'ethers';
import type { Chain } from '../chain/chain.ts';
import { systemTxHash } from '../chain/execute.ts';
import { decodeSys } from '../consensus/envelope.ts';
import { loadArtifact } from '../contracts/artifacts.ts';
import { HUB_ADDRESS, STAKING_ADDRESS } from '../consensus/poc/params.ts';
import { BRIDGE_ADDRESS } from '../bridge/deposits-hook.ts';
import type { Logger } from '../lib/log.ts';

export interface IndexedEvent {
  name: string;
  contract: string;
  block: number;
  txHash: string;
  logIndex: number;
  args: Record<string, string | boolean | string[]>;
}

/** The system contracts whose events are indexed, by address. */
export const SYSTEM_CONTRACTS: Record<string, { name: string; iface: Interface }> = {
  [HUB_ADDRESS.toLowerCase()]: { name: 'Hub', iface: new Interface(loadArtifact('Hub').abi) },
  [STAKING_ADDRESS.toLowerCase()]: { name: 'Staking', iface: new Interface(loadArtifact('Staking').abi) },
  [BRIDGE_ADDRESS.toLowerCase()]: { name: 'Bridge', iface: new Interface(loadArtifact('Bridge').abi) },
};

const pad = (n: number | bigint, w: number) => n.toString(16).padStart(w, '0');
const H = (n: number | bigint) => pad(n, 12);

/** ABI values → JSON (bigints as decimal strings, bytes as hex). */
function jsonArgs(d: LogDescription): Record<string, string | boolean | string[]> {
  const out: Record<string, string | boolean | string[]> = {};
  d.fragment.inputs.forEach((inp, i) => {
    const v = d.args[i];
    out[inp.name || String(i)] = Array.isArray(v) ? v.map(String) : typeof v === 'boolean' ? v : String(v);
  });
  return out;
}

export class ExplorerIndex {
  private readonly db: Level<string, any>;
  private readonly chain: Chain;
  private readonly log?: Logger;
  private queue: Promise<void> = Promise.resolve();
  private indexed = -1;
  private readonly onBlock = () => this.schedule();

  constructor(dir: string, chain: Chain, log?: Logger) {
    this.db = new Level<string, any>(dir, { valueEncoding: 'json' });
    this.chain = chain;
    if (log) this.log = log;
  }

  async start(): Promise<void> {
    await this.db.open();
    const h = await this.db.get('m/height');
    this.indexed = typeof h === 'number' ? h : -1;
    this.chain.on('block', this.onBlock);
    this.schedule();
  }

  async stop(): Promise<void> {
    this.chain.off('block', this.onBlock);
    await this.queue.catch(() => {});
    await this.db.close();
  }

  /** Height up to which the indices are complete. */
  get height(): number {
    return this.indexed;
  }

  /** Resolves once every block up to the chain's head at call time is indexed. */
  async synced(): Promise<void> {
    this.schedule();
    await this.queue;
  }

  private schedule(): void {
    this.queue = this.queue.then(() => this.catchUp()).catch((e) => this.log?.error({ err: (e as Error).message }, 'explorer index failed'));
  }

  private async catchUp(): Promise<void> {
    const head = Number(this.chain.head.header.number);
    while (this.indexed < head) await this.indexBlock(this.indexed + 1);
  }

  /** Index one block in one batch (with the new height, so a crash never half-indexes a block). */
  private async indexBlock(n: number): Promise<void> {
    const b = await this.chain.getBlockByNumber(BigInt(n));
    if (!b) throw new Error(`block ${n} missing`);
    const ops: { type: 'put'; key: string; value: unknown }[] = [];
    const receipts = await this.chain.getReceipts(b.hash());
    b.transactions.forEach((tx, i) => {
      const hash = bytesToHex(tx.hash());
      const from = tx.getSenderAddress().toString();
      ops.push({ type: 'put', key: `a/${from}/${H(n)}/${pad(i, 6)}`, value: { hash, dir: 'out' } });
      const to = tx.to?.toString();
      if (to && to !== from) ops.push({ type: 'put', key: `a/${to}/${H(n)}/${pad(i, 6)}`, value: { hash, dir: 'in' } });
      const created = receipts[i]?.contractAddress;
      if (created) ops.push({ type: 'put', key: `a/${bytesToHex(created)}/${H(n)}/${pad(i, 6)}`, value: { hash, dir: 'create' } });
    });
    let logIndex = 0;
    receipts.forEach((r, i) => {
      const txHash = bytesToHex(i < b.transactions.length ? b.transactions[i]!.hash() : systemTxHash(b.header.number));
      for (const l of r.logs) {
        const li = logIndex++;
        const c = SYSTEM_CONTRACTS[bytesToHex(l.address)];
        if (!c) continue;
        let d: LogDescription | null = null;
        try {
          d = c.iface.parseLog({ topics: l.topics.map((t) => bytesToHex(t)), data: bytesToHex(l.data) });
        } catch {
          d = null;
        }
        if (!d) continue;
        const ev: IndexedEvent = { name: d.name, contract: c.name, block: n, txHash, logIndex: li, args: jsonArgs(d) };
        ops.push({ type: 'put', key: `e/${d.name}/${H(n)}/${pad(li, 6)}`, value: ev });
        if (d.fragment.inputs[0]?.name === 'taskId') ops.push({ type: 'put', key: `t/${pad(BigInt(ev.args.taskId as string), 64)}/${H(n)}/${pad(li, 6)}`, value: ev });
      }
    });
    const stored = await this.chain.getStored(b.hash());
    if (stored?.sys) {
      decodeSys(stored.sys).deposits.forEach((d, i) => {
        const ev: IndexedEvent = { name: 'Deposit', contract: 'Bridge', block: n, txHash: bytesToHex(d.l1TxHash), logIndex: i, args: { nonce: d.nonce.toString(), recipient: getAddress(bytesToHex(d.recipient)), amount: d.amount.toString() } };
        ops.push({ type: 'put', key: `e/Deposit/${H(n)}/${pad(i, 6)}`, value: ev });
        ops.push({ type: 'put', key: `a/${bytesToHex(d.recipient)}/${H(n)}/d${pad(i, 5)}`, value: { hash: ev.txHash, dir: 'deposit' } });
      });
    }
    ops.push({ type: 'put', key: 'm/height', value: n });
    await this.db.batch(ops);
    this.indexed = n;
  }

  private async range<T>(prefix: string, limit: number): Promise<T[]> {
    const out: T[] = [];
    for await (const v of this.db.values({ gte: prefix, lt: prefix + '\xff', reverse: true, limit })) out.push(v as T);
    return out;
  }

  /** Newest first: txs that touched `address` (lower-case 0x hex). */
  addressTxs(address: string, limit: number): Promise<{ hash: string; dir: string }[]> {
    return this.range(`a/${address.toLowerCase()}/`, limit);
  }

  /** Newest first: events of a name (e.g. TaskRequested, AppRegistered, Deposit, WithdrawalRequested). */
  events(name: string, limit: number): Promise<IndexedEvent[]> {
    return this.range(`e/${name}/`, limit);
  }

  /** Oldest first: all events of one task. */
  async taskEvents(taskId: bigint, limit: number): Promise<IndexedEvent[]> {
    return (await this.range<IndexedEvent>(`t/${pad(taskId, 64)}/`, limit)).reverse();
  }
}
