/**
 * The L1 deposit watcher: follows the Vault's Deposited logs and keeps those with at least
 * `confirmations` L1 blocks on top (a log in block b counts when head − b ≥ confirmations).
 *
 * Why this is safe against L1 reorgs shallower than the confirmation depth: logs are only read up
 * to head − confirmations, a range such a reorg cannot touch, and each nonce is kept once (the
 * sidechain mints nonce by nonce, so even a deposit re-mined in another block cannot mint twice).
 * A nonce seen again with other contents means a reorg deeper than the depth: logged loudly,
 * the first view is kept, and the operator must raise the depth.
 */
import { getAddress, JsonRpcProvider, Network, type Log } from 'ethers';
import { silentLogger, type Logger } from '../lib/log.ts';
import { decodeDepositLog, DEPOSITED_TOPIC, type Deposit } from './deposit.ts';

export interface WatcherOptions {
  /** L1 JSON-RPC URL */
  url: string;
  l1ChainId: number;
  vault: string;
  confirmations: number;
  /** first L1 block to scan (the Vault's deployment block) */
  startBlock: number;
  pollMs: number;
  /** most blocks per eth_getLogs */
  chunk?: number;
  logger?: Logger;
}

export interface WatcherStatus {
  l1Head: number;
  /** highest L1 block scanned (= head − confirmations at the last poll) */
  scannedTo: number;
  confirmations: number;
  /** confirmed deposits held (not yet pruned) */
  held: number;
  /** highest confirmed nonce seen, or null */
  highestNonce: string | null;
  lastError: string | null;
}

export class DepositWatcher {
  readonly o: WatcherOptions;
  readonly provider: JsonRpcProvider;
  private readonly log: Logger;
  private readonly byNonce = new Map<bigint, Deposit>();
  private scannedTo: number;
  private l1Head = -1;
  private highest: bigint | null = null;
  private lastError: string | null = null;
  private timer?: NodeJS.Timeout;
  private inflight?: Promise<void>;
  private stopped = false;

  constructor(o: WatcherOptions) {
    this.o = o;
    this.log = (o.logger ?? silentLogger).child({ module: 'l1-watcher' });
    this.provider = new JsonRpcProvider(o.url, Network.from(o.l1ChainId), { staticNetwork: true, cacheTimeout: -1 });
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

  private async poll(): Promise<void> {
    const head = await this.provider.getBlockNumber();
    this.l1Head = head;
    const safe = head - this.o.confirmations;
    const chunk = this.o.chunk ?? 5000;
    while (this.scannedTo < safe && !this.stopped) {
      const from = this.scannedTo + 1;
      const to = Math.min(safe, from + chunk - 1);
      const logs = await this.provider.getLogs({ address: this.o.vault, topics: [DEPOSITED_TOPIC], fromBlock: from, toBlock: to });
      for (const l of logs) this.add(l);
      this.scannedTo = to;
    }
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
    const seen = this.byNonce.get(d.nonce);
    if (seen) {
      if (seen.recipient !== d.recipient || seen.amount !== d.amount || seen.txHash !== d.txHash) {
        this.log.error({ nonce: d.nonce.toString(), first: seen.txHash, now: d.txHash }, 'deposit nonce seen twice with different contents: L1 reorg deeper than the confirmation depth');
      }
      return;
    }
    this.byNonce.set(d.nonce, d);
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

  /** Forget deposits below `nonce` (minted in committed state). */
  prune(nonce: bigint): void {
    for (const n of this.byNonce.keys()) if (n < nonce) this.byNonce.delete(n);
  }

  status(): WatcherStatus {
    return { l1Head: this.l1Head, scannedTo: this.scannedTo, confirmations: this.o.confirmations, held: this.byNonce.size, highestNonce: this.highest === null ? null : this.highest.toString(), lastError: this.lastError };
  }
}
