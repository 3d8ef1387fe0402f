/**
 * Block sync (CometBFT's blocksync reactor, reduced): a lagging node asks its peers for their
 * heads, fetches committed blocks in batches from the best-standing peer that claims to have them,
 * verifies each commit against the validator membership, and hands every block to the driver,
 * which takes it through the same verify → commit path as a block decided live.
 *
 * Peers are scored: serving valid blocks raises a peer's score; claiming a head and then not
 * serving it (an empty answer, a timeout, a bad commit) lowers it, marks the claim suspect for a
 * while, and penalises the peer in the p2p layer — and the next peer is tried at once. So one
 * peer claiming a huge head it cannot serve no longer stops a lagging node from catching up.
 */
import { Packr } from 'msgpackr';
import { protocolId, type P2PNode } from '../chain/p2p/index.ts';
import type { Chain } from '../chain/chain.ts';
import { decodeCommit } from './bft/codec.ts';
import type { Commit } from './bft/types.ts';
import { decodeSys, encodeEnvelope } from './envelope.ts';
import type { Logger } from '../lib/log.ts';

const packr = new Packr({ useRecords: false, useBigIntExtension: true });
export const SYNC_BATCH = 32;
const SERVE_MAX_BYTES = 8 * 1024 * 1024;
/** How long a peer's claimed head is ignored after it failed to serve it. */
export const SUSPECT_MS = 30_000;

export interface PeerView {
  id: string;
  head: number;
  score: number;
  suspectUntil: number;
}

/**
 * Pure choice of the peer to fetch from: one that claims more than our head and is not suspect,
 * best score first, then highest head, then id (deterministic). Undefined when none.
 */
export function pickSyncPeer(peers: readonly PeerView[], myHead: number, now: number): PeerView | undefined {
  return peers
    .filter((p) => p.head > myHead && p.suspectUntil <= now)
    .sort((a, b) => b.score - a.score || b.head - a.head || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0];
}

/** Score change for a fetch outcome (bounded to [-100, 100]). */
export function scoreAfter(score: number, outcome: 'served' | 'failed'): number {
  return Math.max(-100, Math.min(100, outcome === 'served' ? score + 1 : score - 10));
}

export interface BlockSyncOptions {
  p2p: P2PNode;
  chain: Chain;
  log: Logger;
  /** throws when the commit does not certify height h */
  verifyCommit(commit: Commit, height: number): void;
  /** hand a verified commit and its envelope to the driver; resolves true once height h is committed, throws when the envelope is not the committed block */
  apply(height: number, commit: Commit, envelope: Uint8Array): Promise<boolean>;
  stopped(): boolean;
  now?: () => number;
}

export class BlockSync {
  private readonly o: BlockSyncOptions;
  private readonly views = new Map<string, PeerView>();
  /** highest height served to us in a batch (not merely claimed): while above our head, the driver skips the block-time pause */
  target = 0;
  readonly stats = { served: 0, failures: 0 };

  constructor(o: BlockSyncOptions) {
    this.o = o;
  }

  private get now(): number {
    return (this.o.now ?? Date.now)();
  }

  peerViews(): PeerView[] {
    return [...this.views.values()].map((v) => ({ ...v }));
  }

  /** Register the handlers that serve our blocks and head. */
  async serve(): Promise<void> {
    const { p2p, chain } = this.o;
    await p2p.handle(protocolId(chain.chainId, 'status'), () => packr.pack([Number(chain.head.header.number)]));
    await p2p.handle(protocolId(chain.chainId, 'blocks'), (req) => this.serveBlocks(req), { maxRequestBytes: 1024 });
  }

  /** Serve [from, from+count) as [envelope, commit] pairs. */
  async serveBlocks(req: Uint8Array): Promise<Uint8Array> {
    const { chain } = this.o;
    const v = packr.unpack(req) as unknown;
    if (!Array.isArray(v) || v.length !== 2 || !Number.isSafeInteger(v[0]) || !Number.isSafeInteger(v[1]) || v[0] < 1 || v[1] < 1) throw Object.assign(new Error('bad blocks request'), { code: 'P2P_BAD_REQUEST' });
    const from = v[0] as number;
    const count = Math.min(v[1] as number, SYNC_BATCH);
    const out: [Uint8Array, Uint8Array][] = [];
    let bytes = 0;
    for (let h = from; h < from + count; h++) {
      const hash = await chain.store.loadHashByNumber(BigInt(h));
      if (!hash) break;
      const s = await chain.getStored(hash);
      if (!s?.commit) break;
      const env = encodeEnvelope({ rlp: s.rlp, sys: s.sys ? decodeSys(s.sys) : { evidence: [], deposits: [] } });
      bytes += env.length + s.commit.length;
      out.push([env, s.commit]);
      if (bytes > SERVE_MAX_BYTES) break;
    }
    return packr.pack(out);
  }

  /** Refresh the peers' claimed heads. */
  async refresh(): Promise<void> {
    const { p2p, chain } = this.o;
    const peers = p2p.peers();
    const alive = new Set(peers);
    for (const id of this.views.keys()) if (!alive.has(id)) this.views.delete(id);
    await Promise.all(
      peers.map(async (id) => {
        try {
          const r = packr.unpack(await p2p.request(id, protocolId(chain.chainId, 'status'), packr.pack([]), { timeoutMs: 2000, maxResponseBytes: 1024 })) as unknown;
          if (!Array.isArray(r) || !Number.isSafeInteger(r[0]) || (r[0] as number) < 0) return;
          const v = this.views.get(id) ?? { id, head: 0, score: 0, suspectUntil: 0 };
          v.head = r[0] as number;
          this.views.set(id, v);
        } catch {
          /* unreachable now: the next tick asks again */
        }
      }),
    );
  }

  private failed(v: PeerView, why: string, height: number): void {
    v.score = scoreAfter(v.score, 'failed');
    v.suspectUntil = this.now + SUSPECT_MS;
    this.stats.failures++;
    this.o.log.warn({ peer: v.id, claimed: v.head, height, why }, 'sync: peer did not serve the head it claims');
    this.o.p2p.penalize(v.id, 'false-claim');
  }

  /** Catch up as far as the peers can serve. Returns the number of blocks applied. */
  async run(): Promise<number> {
    const { p2p, chain } = this.o;
    let applied = 0;
    for (;;) {
      if (this.o.stopped()) return applied;
      const head = Number(chain.head.header.number);
      const v = pickSyncPeer([...this.views.values()], head, this.now);
      if (!v) return applied;
      const from = head + 1;
      let items: unknown;
      try {
        items = packr.unpack(await p2p.request(v.id, protocolId(chain.chainId, 'blocks'), packr.pack([from, SYNC_BATCH]), { timeoutMs: 10_000 }));
      } catch (err) {
        this.failed(v, (err as Error).message, from);
        continue;
      }
      if (!Array.isArray(items) || items.length === 0) {
        this.failed(v, 'no blocks', from);
        continue;
      }
      let ok = true;
      for (const [i, it] of items.entries()) {
        const h = from + i;
        if (!Array.isArray(it) || !(it[0] instanceof Uint8Array) || !(it[1] instanceof Uint8Array)) {
          ok = false;
          break;
        }
        let commit: Commit;
        try {
          commit = decodeCommit(it[1]);
          if (commit.height !== h) throw new Error('commit height');
          this.o.verifyCommit(commit, h);
        } catch {
          ok = false;
          break;
        }
        if (Number(chain.head.header.number) >= h) continue;
        // what was served, not what was claimed: a peer's claim alone never moves the target
        this.target = Math.max(this.target, from + items.length - 1);
        let done: boolean;
        try {
          done = await this.o.apply(h, commit, new Uint8Array(it[0]));
        } catch {
          ok = false; // the envelope is not the block the commit certifies
          break;
        }
        if (!done) return applied; // the driver could not apply it yet: retry next tick
        applied++;
        v.score = scoreAfter(v.score, 'served');
        this.stats.served++;
      }
      if (!ok) this.failed(v, 'bad block or commit', from);
    }
  }
}
