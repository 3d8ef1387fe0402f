/**
 * The L1 deposit watcher: follows the Vault's Deposited logs up to a *final* L1 block and keeps
 * them by nonce for the proposer and for the check of others' proposals.
 *
 * Final means L1's `finalized` block tag by default (Ethereum finality, ~13 min); an L1 without it
 * (or a test/devnet L1) may use a fixed depth instead: a log in block b counts when head − b ≥ depth.
 * Logs are only read up to that point, a range a normal reorg cannot touch.
 *
 * A reorg *deeper* than that (a finality failure, or a depth set too small) is still detected: the
 * watcher remembers the hash of the last block it scanned (and of every block a held deposit came
 * from); when one of them no longer matches L1, it logs the reorg loudly, walks back to the newest
 * remembered block that still matches, forgets the not-yet-minted deposits above it and rescans.
 * A nonce seen again with other contents replaces the old version while it is not minted; once
 * minted it cannot be minted again (the sidechain mints nonce by nonce), so the conflict is only
 * logged and counted — an operator must settle it (the new L1 deposit stays locked, unminted).
 *
 * The L1 chain id is checked against the configured one before anything else is read.
 */
import { FetchRequest, getAddress, JsonRpcProvider, Network, type Log } from 'ethers';
import { PocError } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { decodeDepositLog, DEPOSITED_TOPIC, type Deposit } from './deposit.ts';

export type WatcherErrorCode = 'BRIDGE_L1_WRONG_CHAIN' | 'BRIDGE_L1_NO_FINALIZED';

/** When an L1 block counts as final: L1's own `finalized` tag, or a fixed number of blocks on top. */
export type Finality = 'finalized' | number;

export interface WatcherOptions {
  /** L1 JSON-RPC URL */
  url: string;
  l1ChainId: number;
  vault: string;
  finality: Finality;
  /** first L1 block to scan (the Vault's deployment block) */
  startBlock: number;
  pollMs: number;
  /** most blocks per eth_getLogs */
  chunk?: number;
  /** per-request timeout of the L1 RPC (ms) */
  requestTimeoutMs?: number;
  logger?: Logger;
  /** the next nonce the sidechain will mint (committed state): lower ones are pruned each poll */
  nextToMint?: () => Promise<bigint>;
  /** called once per deep reorg detected and per minted deposit found changed (metrics) */
  onEvent?: (e: 'deep_reorg' | 'minted_conflict' | 'replaced') => void;
}

export interface WatcherStatus {
  l1Head: number;
  /** highest L1 block scanned (= the final block at the last poll) */
  scannedTo: number;
  /** 'finalized' or the depth in blocks */
  finality: Finality;
  /** the depth as a number when finality is a depth (older clients read this) */
  confirmations: number | null;
  /** confirmed deposits held (not yet pruned) */
  held: number;
  /** highest confirmed nonce seen, or null */
  highestNonce: string | null;
  /** L1 reorgs deeper than the finality rule seen since start */
  deepReorgs: number;
  /** minted deposits that L1 later showed with other contents (never minted again) */
  mintedConflicts: number;
  lastError: string | null;
}

/** Most remembered block hashes (scan ends and deposit blocks) used to find a fork point. */
const MAX_ANCHORS = 256;
/** Minted deposits remembered to recognise a changed one after a deep reorg. */
const MAX_MINTED_MEMORY = 1024;

export class DepositWatcher {
  readonly o: WatcherOptions;
  readonly provider: JsonRpcProvider;
  private readonly log: Logger;
  private readonly byNonce = new Map<bigint, Deposit>();
  /** recently minted deposits (pruned from byNonce), to tell a changed minted deposit */
  private readonly minted = new Map<bigint, Deposit>();
  /** block number → hash, for blocks at or below scannedTo */
  private readonly anchors = new Map<number, string>();
  /** nonces below this are minted in committed state */
  private mintedBelow = 0n;
  private scannedTo: number;
  private l1Head = -1;
  private chainChecked = false;
  private fatal: PocError | null = null;
  private deepReorgs = 0;
  private mintedConflicts = 0;
  private lastError: string | null = null;
  private timer?: NodeJS.Timeout;
  private inflight?: Promise<void>;
  private stopped = false;

  constructor(o: WatcherOptions) {
    if (o.finality !== 'finalized' && (!Number.isSafeInteger(o.finality) || o.finality < 0)) throw new RangeError(`finality must be 'finalized' or a depth ≥ 0, got ${o.finality}`);
    this.o = o;
    this.log = (o.logger ?? silentLogger).child({ module: 'l1-watcher' });
    const req = new FetchRequest(o.url);
    req.timeout = o.requestTimeoutMs ?? 5000;
    this.provider = new JsonRpcProvider(req, Network.from(o.l1ChainId), { staticNetwork: true, cacheTimeout: -1 });
    this.scannedTo = o.startBlock - 1;
  }

  /** Begin polling (the first poll runs now, without waiting for it). */
  start(): void {
    const tick = async () => {
      await this.refresh();
      if (!this.stopped) this.timer = setTimeout(tick, this.o.pollMs);
    };
    void tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inflight?.catch(() => {});
    this.provider.destroy();
  }

  /**
   * Check the L1 chain id now. Throws BRIDGE_L1_WRONG_CHAIN when the RPC serves another chain
   * (and keeps refusing to poll); an unreachable RPC throws its own error and is retried by polls.
   */
  async checkChain(): Promise<void> {
    if (this.fatal) throw this.fatal;
    if (this.chainChecked) return;
    const id = Number(BigInt(await this.provider.send('eth_chainId', [])));
    if (id !== this.o.l1ChainId) {
      this.fatal = new PocError<WatcherErrorCode>('BRIDGE_L1_WRONG_CHAIN', `the L1 RPC serves chain ${id}, genesis bridge.l1ChainId is ${this.o.l1ChainId}: point --l1-rpc at the right L1`, { data: { got: id, want: this.o.l1ChainId } });
      throw this.fatal;
    }
    this.chainChecked = true;
  }

  /** Poll L1 now (joins a poll in progress); never throws, errors are kept in status(). */
  refresh(): Promise<void> {
    if (!this.inflight) {
      this.inflight = this.poll()
        .then(() => {
          this.lastError = null;
        })
        .catch((e) => {
          this.lastError = (e as Error).message;
          this.log.warn({ err: this.lastError }, 'L1 poll failed');
        })
        .finally(() => {
          this.inflight = undefined;
        });
    }
    return this.inflight;
  }

  /** The error of the last poll, or null when it succeeded. */
  error(): string | null {
    return this.lastError;
  }

  private async finalBlock(head: number): Promise<number> {
    if (this.o.finality !== 'finalized') return head - this.o.finality;
    const b = await this.provider.getBlock('finalized');
    if (!b) throw new PocError<WatcherErrorCode>('BRIDGE_L1_NO_FINALIZED', 'the L1 RPC has no finalized block: set a confirmation depth (--l1-confirmations N)');
    return b.number;
  }

  private async hashAt(n: number): Promise<string | null> {
    return (await this.provider.getBlock(n))?.hash ?? null;
  }

  private async poll(): Promise<void> {
    await this.checkChain();
    if (this.o.nextToMint) this.prune(await this.o.nextToMint());
    const head = await this.provider.getBlockNumber();
    this.l1Head = head;
    await this.detectReorg();
    const safe = Math.min(head, await this.finalBlock(head));
    const chunk = this.o.chunk ?? 5000;
    while (this.scannedTo < safe && !this.stopped) {
      const from = this.scannedTo + 1;
      const to = Math.min(safe, from + chunk - 1);
      // the anchor is read before the logs: a reorg between the two shows as a mismatch next poll
      const anchor = await this.hashAt(to);
      if (!anchor) return; // L1 went shorter under us: the next poll sees it
      const logs = await this.provider.getLogs({ address: this.o.vault, topics: [DEPOSITED_TOPIC], fromBlock: from, toBlock: to });
      for (const l of logs) this.add(l);
      this.remember(to, anchor);
      this.scannedTo = to;
    }
  }

  /** Compare the newest remembered block with L1; on a mismatch, roll back to the fork point. */
  private async detectReorg(): Promise<void> {
    if (this.anchors.size === 0) return;
    const top = Math.max(...this.anchors.keys());
    if ((await this.hashAt(top)) === this.anchors.get(top)) return;
    const numbers = [...this.anchors.keys()].sort((a, b) => b - a);
    let base = this.o.startBlock - 1;
    for (const n of numbers) {
      if ((await this.hashAt(n)) === this.anchors.get(n)) {
        base = n;
        break;
      }
    }
    this.deepReorgs++;
    this.o.onEvent?.('deep_reorg');
    const dropped = [...this.byNonce.values()].filter((d) => d.l1Block > base);
    this.log.error(
      { finality: this.o.finality, scannedTo: this.scannedTo, forkBase: base, droppedNonces: dropped.map((d) => d.nonce.toString()) },
      'L1 reorg deeper than the confirmation depth: rescanning from the fork point; minted deposits are never minted again',
    );
    for (const d of dropped) this.byNonce.delete(d.nonce);
    for (const n of numbers) if (n > base) this.anchors.delete(n);
    this.scannedTo = base;
    this.recomputeHighest();
  }

  private remember(n: number, hash: string): void {
    this.anchors.set(n, hash);
    if (this.anchors.size > MAX_ANCHORS) {
      // keep the newest; the oldest anchors only matter for reorgs deeper than all of them
      const oldest = Math.min(...this.anchors.keys());
      this.anchors.delete(oldest);
    }
  }

  private highest: bigint | null = null;
  private recomputeHighest(): void {
    this.highest = null;
    for (const n of this.byNonce.keys()) if (this.highest === null || n > this.highest) this.highest = n;
  }

  private add(l: Log): void {
    if (l.removed) return;
    let d: Deposit;
    try {
      d = decodeDepositLog(l);
    } catch (e) {
      return void this.log.warn({ err: (e as Error).message, tx: l.transactionHash }, 'undecodable Deposited log');
    }
    if (getAddress(l.address) !== getAddress(this.o.vault)) return;
    const same = (a: Deposit) => a.recipient === d.recipient && a.amount === d.amount && a.txHash === d.txHash;
    if (d.nonce < this.mintedBelow) {
      const was = this.minted.get(d.nonce);
      if (was && !same(was)) {
        this.mintedConflicts++;
        this.o.onEvent?.('minted_conflict');
        this.log.error({ nonce: d.nonce.toString(), minted: was.txHash, now: d.txHash, amount: d.amount.toString() }, 'deposit already minted shows other contents on L1 after a reorg: not minted again (operator action needed)');
      }
      return;
    }
    const seen = this.byNonce.get(d.nonce);
    if (seen) {
      if (same(seen)) return;
      this.o.onEvent?.('replaced');
      this.log.warn({ nonce: d.nonce.toString(), was: seen.txHash, now: d.txHash }, 'deposit nonce replaced after an L1 reorg (not minted yet)');
    }
    this.byNonce.set(d.nonce, d);
    if (l.blockHash && d.l1Block >= 0) this.remember(d.l1Block, l.blockHash);
    if (this.highest === null || d.nonce > this.highest) this.highest = d.nonce;
    this.log.info({ nonce: d.nonce.toString(), recipient: d.recipient, amount: d.amount.toString(), l1Block: d.l1Block }, 'deposit confirmed on L1');
  }

  /** The confirmed deposit with `nonce`, if known. */
  get(nonce: bigint): Deposit | undefined {
    return this.byNonce.get(nonce);
  }

  /** Confirmed deposits with nonces next, next+1, ... (contiguous), at most `max`. */
  contiguousFrom(next: bigint, max: number): Deposit[] {
    const out: Deposit[] = [];
    for (let n = next; out.length < max && this.byNonce.has(n); n++) out.push(this.byNonce.get(n)!);
    return out;
  }

  /** Forget deposits below `nonce` (minted in committed state); remember them to spot a changed one. */
  prune(nonce: bigint): void {
    if (nonce > this.mintedBelow) this.mintedBelow = nonce;
    for (const [n, d] of this.byNonce) {
      if (n >= nonce) continue;
      this.byNonce.delete(n);
      this.minted.set(n, d);
    }
    while (this.minted.size > MAX_MINTED_MEMORY) this.minted.delete(this.minted.keys().next().value!);
  }

  status(): WatcherStatus {
    return {
      l1Head: this.l1Head,
      scannedTo: this.scannedTo,
      finality: this.o.finality,
      confirmations: this.o.finality === 'finalized' ? null : this.o.finality,
      held: this.byNonce.size,
      highestNonce: this.highest === null ? null : this.highest.toString(),
      deepReorgs: this.deepReorgs,
      mintedConflicts: this.mintedConflicts,
      lastError: this.lastError,
    };
  }
}
