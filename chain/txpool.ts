/**
 * Transaction pool: admission checks with geth-compatible errors, per-sender nonce ordering,
 * replacement only with a fee bump, and a bounded size that evicts the cheapest transaction.
 *
 * Senders are recovered once, here, at admission (native secp256k1). The pool keeps those verified
 * tx objects, and block building, proposal decoding (Chain.decodeBlock looks txs up here by hash)
 * and commit reuse them, so each tx is decoded and recovered once per node. A tx that was just
 * committed and arrives again (late gossip) is answered from a bounded index of committed hashes
 * without recovering its sender.
 *
 * Eviction at capacity takes the *last* nonce of a sender (the cheapest such tail), never an
 * earlier one: dropping an earlier nonce would strand the sender's later txs behind a gap.
 */
import { EventEmitter } from 'node:events';
import type { TypedTransaction } from '@ethereumjs/tx';
import { Address, bytesToHex, createAddressFromString } from '@ethereumjs/util';
import { ChainError } from './errors.ts';
import type { Chain } from './chain.ts';

export interface TxPoolOptions {
  /** max txs held (pending + queued) */
  maxSize?: number;
  /** max encoded size of one tx in bytes (geth: 128 KiB) */
  maxTxBytes?: number;
  /** percent a replacement must raise both fee cap and tip by (geth: 10) */
  priceBumpPercent?: number;
  /** how far beyond the sender's executable txs a tx may be queued (a nonce gap) */
  maxNonceGap?: number;
  /** most txs one sender may hold in the pool */
  maxPerSender?: number;
  /** hashes of recently committed txs remembered to refuse late duplicates without recovery */
  recentCommitted?: number;
}

interface Entry {
  tx: TypedTransaction;
  sender: string;
  hash: string;
  nonce: bigint;
  feeCap: bigint;
  tip: bigint;
  cost: bigint;
  size: number;
}

function fees(tx: TypedTransaction): { feeCap: bigint; tip: bigint } {
  const t = tx as any;
  if (t.maxFeePerGas !== undefined) return { feeCap: t.maxFeePerGas, tip: t.maxPriorityFeePerGas };
  return { feeCap: t.gasPrice, tip: t.gasPrice };
}

const txError = (message: string, data?: Record<string, unknown>) => new ChainError('TX_INVALID', message, data ? { data } : {});

export class TxPool extends EventEmitter<{ tx: [TypedTransaction, boolean] }> {
  private readonly chain: Chain;
  private readonly opts: Required<TxPoolOptions>;
  /** sender -> nonce -> entry */
  private readonly bySender = new Map<string, Map<bigint, Entry>>();
  private readonly byHash = new Map<string, Entry>();
  /** account nonces at the head, refreshed on each block */
  private nonceCache = new Map<string, bigint>();

  constructor(chain: Chain, opts: TxPoolOptions = {}) {
    super();
    this.chain = chain;
    this.opts = { maxSize: opts.maxSize ?? 10_000, maxTxBytes: opts.maxTxBytes ?? 128 * 1024, priceBumpPercent: opts.priceBumpPercent ?? 10, maxNonceGap: opts.maxNonceGap ?? 64, maxPerSender: opts.maxPerSender ?? 2048, recentCommitted: opts.recentCommitted ?? 50_000 };
    chain.on('block', ({ block }) => {
      for (const t of block.transactions) {
        const h = bytesToHex(t.hash());
        const held = this.byHash.get(h);
        if (held) this.removeEntry(held); // included: gone at once (onBlock then drops stale nonces)
        this.committed.set(h, t.getSenderAddress().toString());
        if (this.committed.size > this.opts.recentCommitted) this.committed.delete(this.committed.keys().next().value!);
      }
    });
  }

  /** tx hash -> sender of recently committed txs (insertion order = age) */
  private readonly committed = new Map<string, string>();

  get size(): number {
    return this.byHash.size;
  }

  /** Decode raw bytes into a tx of this chain, with geth's errors for what cannot be decoded. */
  decode(raw: Uint8Array): TypedTransaction {
    if (raw.length > this.opts.maxTxBytes) throw txError(`oversized data: transaction size ${raw.length}, limit ${this.opts.maxTxBytes}`);
    let tx: TypedTransaction;
    try {
      tx = this.chain.decodeTx(raw);
    } catch (e) {
      const m = (e as Error).message;
      if (/chain ?id/i.test(m)) throw txError('invalid chain id for signer');
      if (/signature|recovery|v value/i.test(m)) throw txError('invalid sender');
      throw txError(`invalid transaction: ${m.split('\n')[0]}`);
    }
    if (tx.type === 3) throw txError('transaction type not supported: blob transactions');
    if (tx.type === 0 && !tx.supports(155)) throw txError('only replay-protected (EIP-155) transactions allowed over RPC');
    return tx;
  }

  /** Validate and add a raw tx; returns its hash. Throws TX_INVALID with a geth-compatible message. */
  async addRaw(raw: Uint8Array): Promise<Uint8Array> {
    const tx = this.decode(raw);
    await this.add(tx, raw.length, { local: true });
    return tx.hash();
  }

  /** Validate and add a decoded tx; `local` txs (from our RPC) are the ones we gossip. */
  async add(tx: TypedTransaction, size = tx.serialize().length, opts: { local?: boolean } = {}): Promise<void> {
    if (size > this.opts.maxTxBytes) throw txError(`oversized data: transaction size ${size}, limit ${this.opts.maxTxBytes}`);
    const hash = bytesToHex(tx.hash());
    // Before recovering the sender (the costly step): a tx we hold or just committed.
    if (this.byHash.has(hash)) throw txError('already known');
    const committedBy = this.committed.get(hash);
    if (committedBy !== undefined) {
      const acc = await (await this.chain.headState()).getAccount(createAddressFromString(committedBy));
      throw txError(`nonce too low: address ${committedBy}, tx: ${tx.nonce} state: ${acc?.nonce ?? 0n}`);
    }
    let senderAddr: Address;
    try {
      if (!tx.isSigned()) throw new Error('unsigned');
      senderAddr = tx.getSenderAddress();
    } catch {
      throw txError('invalid sender');
    }
    const sender = senderAddr.toString();
    const head = this.chain.head.header;
    if (tx.gasLimit > head.gasLimit) throw txError('exceeds block gas limit');
    const intrinsic = tx.getIntrinsicGas();
    if (tx.gasLimit < intrinsic) throw txError(`intrinsic gas too low: gas ${tx.gasLimit}, minimum needed ${intrinsic}`);
    const { feeCap, tip } = fees(tx);
    if (tip > feeCap) throw txError(`max priority fee per gas higher than max fee per gas: address ${sender}, maxPriorityFeePerGas: ${tip}, maxFeePerGas: ${feeCap}`);
    const baseFee = this.chain.nextHeader({ coinbase: new Uint8Array(20) }).baseFeePerGas;
    if (feeCap < baseFee) throw txError(`max fee per gas less than block base fee: address ${sender}, maxFeePerGas: ${feeCap}, baseFee: ${baseFee}`);

    const state = await this.chain.headState();
    const account = await state.getAccount(senderAddr);
    const stateNonce = account?.nonce ?? 0n;
    const balance = account?.balance ?? 0n;
    this.nonceCache.set(sender, stateNonce);
    if (tx.nonce < stateNonce) throw txError(`nonce too low: address ${sender}, tx: ${tx.nonce} state: ${stateNonce}`);
    // A gap is measured from the sender's executable frontier, so long nonce runs are fine.
    const frontier = this.pendingNonce(sender, stateNonce);
    if (tx.nonce > frontier + BigInt(this.opts.maxNonceGap)) throw txError(`nonce too high: address ${sender}, tx: ${tx.nonce} state: ${stateNonce} next: ${frontier}`);
    const cost = tx.gasLimit * feeCap + tx.value;
    // Include the cost of this sender's earlier queued txs, as geth does for pending balance.
    const txs = this.bySender.get(sender);
    let spent = 0n;
    for (const e of txs?.values() ?? []) if (e.nonce < tx.nonce) spent += e.cost;
    if (balance < cost + spent) throw txError(`insufficient funds for gas * price + value: address ${sender} have ${balance - spent} want ${cost}`);

    const entry: Entry = { tx, sender, hash, nonce: tx.nonce, feeCap, tip, cost, size };
    const existing = txs?.get(tx.nonce);
    if (!existing && (txs?.size ?? 0) >= this.opts.maxPerSender) throw txError(`txpool is full for this account: ${this.opts.maxPerSender} transactions pending from ${sender}`);
    if (existing) {
      const bump = BigInt(100 + this.opts.priceBumpPercent);
      if (feeCap * 100n < existing.feeCap * bump || tip * 100n < existing.tip * bump) throw txError('replacement transaction underpriced');
      this.removeEntry(existing);
    } else if (this.byHash.size >= this.opts.maxSize) {
      const victim = this.evictionCandidate();
      // The new tx must pay more, and must not itself land behind the gap the eviction opens.
      if (!victim || victim.tip >= tip || (victim.sender === sender && victim.nonce < tx.nonce)) throw txError('txpool is full');
      this.removeEntry(victim);
    }
    let m = this.bySender.get(sender);
    if (!m) this.bySender.set(sender, (m = new Map()));
    m.set(tx.nonce, entry);
    this.byHash.set(hash, entry);
    this.emit('tx', tx, opts.local ?? false);
  }

  /**
   * What to evict at capacity: among each sender's highest-nonce tx, the one with the lowest tip
   * (ties: the sender holding the most txs). Removing a sender's last nonce never leaves a gap.
   */
  private evictionCandidate(): Entry | undefined {
    let c: Entry | undefined;
    let cSize = 0;
    for (const m of this.bySender.values()) {
      let last: Entry | undefined;
      for (const e of m.values()) if (!last || e.nonce > last.nonce) last = e;
      if (last && (!c || last.tip < c.tip || (last.tip === c.tip && m.size > cSize))) (c = last), (cSize = m.size);
    }
    return c;
  }

  private removeEntry(e: Entry) {
    this.byHash.delete(e.hash);
    const m = this.bySender.get(e.sender);
    m?.delete(e.nonce);
    if (m && m.size === 0) this.bySender.delete(e.sender);
  }

  get(hash: string): TypedTransaction | undefined {
    return this.byHash.get(hash.toLowerCase())?.tx;
  }

  /** The next nonce of `address` counting its executable pool txs (eth_getTransactionCount "pending"). */
  pendingNonce(address: string, stateNonce: bigint): bigint {
    const m = this.bySender.get(address.toLowerCase());
    let n = stateNonce;
    while (m?.has(n)) n++;
    return n;
  }

  /**
   * Executable txs in block order: per sender by nonce from the account nonce without gaps,
   * across senders by highest tip first.
   */
  pending(limit = Infinity): TypedTransaction[] {
    const queues: Entry[][] = [];
    for (const [sender, m] of this.bySender) {
      let n = this.nonceCache.get(sender) ?? [...m.keys()].reduce((a, b) => (a < b ? a : b));
      const q: Entry[] = [];
      while (m.has(n)) q.push(m.get(n)!), n++;
      if (q.length) queues.push(q);
    }
    const out: TypedTransaction[] = [];
    const idx = new Array(queues.length).fill(0);
    // k-way merge by tip; queue heads are few relative to txs, a linear scan is fine here.
    while (out.length < limit) {
      let best = -1;
      for (let i = 0; i < queues.length; i++) {
        const e = queues[i]![idx[i]];
        if (e && (best < 0 || e.tip > queues[best]![idx[best]]!.tip)) best = i;
      }
      if (best < 0) break;
      out.push(queues[best]![idx[best]++]!.tx);
    }
    return out;
  }

  /** Drop txs made stale by a committed block (included, or nonce now too low). */
  async onBlock(): Promise<void> {
    const state = await this.chain.headState();
    this.nonceCache = new Map();
    for (const [sender, m] of [...this.bySender]) {
      const acc = await state.getAccount(createAddressFromString(sender));
      const nonce = acc?.nonce ?? 0n;
      this.nonceCache.set(sender, nonce);
      for (const e of [...m.values()]) if (e.nonce < nonce) this.removeEntry(e);
    }
  }

  /** Remove a tx the block builder found invalid. */
  drop(tx: TypedTransaction): void {
    const e = this.byHash.get(bytesToHex(tx.hash()));
    if (e) this.removeEntry(e);
  }
}
