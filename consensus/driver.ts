/**
 * The BFT driver: the I/O shell around the pure consensus machine (consensus/bft/machine.ts).
 *
 * One writer: every input — a peer's message, our own signed message, a timeout, the answer to a
 * block build or validation, a synced commit — goes through one queue. Each is appended to the
 * WAL before the machine steps on it (own messages with fsync, before they are published), so a
 * validator killed at any instant replays the height and, with the signer's last-sign state,
 * can never sign two different values for one height/round/step.
 *
 * The chain is touched by one task at a time (`chainTask`): building, verifying and committing
 * all execute on the chain's single VM.
 *
 * Block sync: every second the driver asks peers for their head; if one has committed the height
 * we are on, it fetches blocks with their commits in batches and feeds each as a `syncCommit`
 * input, so synced blocks take the same verify → commit path as blocks decided live.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { createBlock } from '@ethereumjs/block';
import { bytesToHex, equalsBytes } from '@ethereumjs/util';
import { Packr } from 'msgpackr';
import { keccak_256 } from '@noble/hashes/sha3.js';
import type { Chain } from '../chain/chain.ts';
import type { TxPool } from '../chain/txpool.ts';
import type { ExecuteResult } from '../chain/execute.ts';
import type { GenesisValidator } from '../chain/genesis.ts';
import { chainTopics, protocolId, type P2PNode } from '../chain/p2p/index.ts';
import { createBftState, step, type BftInput, type BftOutput, type BftState, type TimeoutConfig } from './bft/machine.ts';
import { decodeCommit, decodeEvidence, decodeMessage, encodeCommit, encodeEvidence, encodeMessage, voteSignBytes } from './bft/codec.ts';
import { sign as edSign } from './bft/crypto.ts';
import { PrivValidator } from './bft/signer.ts';
import type { Commit, ConsensusMessage, DuplicateVoteEvidence, Vote } from './bft/types.ts';
import { commitRandomness, verifyCommit, verifyEvidence, verifyProposal, verifyVoteSignature } from './bft/verify.ts';
import { inputOfWalRecord, Wal, walRecordOfInput } from './bft/wal.ts';
import { ValidatorSet } from './validators.ts';
import { decodeEnvelope, decodeSys, encodeEnvelope, encodeSys, sysHash, type Deposit, type SysData } from './envelope.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { HEIGHT_AHEAD, ROUND_WINDOW } from './limits.ts';
import type { Metrics } from '../lib/metrics.ts';

const packr = new Packr({ useRecords: false, useBigIntExtension: true });
const SYNC_BATCH = 32;
const MAX_EVIDENCE_PER_BLOCK = 10;
const EVIDENCE_MAX_AGE = 1000;

/** Where system inputs (bridge deposits) come from, and how a proposal's are checked. */
export interface SystemInputSource {
  /** deposits the proposer includes in the next block */
  deposits(): Promise<Deposit[]>;
  /** throws when a proposed block's deposits are not exactly what this node's L1 view allows */
  check(deposits: Deposit[]): Promise<void>;
}

export interface BftDriverOptions {
  chain: Chain;
  pool: TxPool;
  p2p: P2PNode;
  validators: GenesisValidator[];
  /** null for a full node that follows without voting */
  me: { secretKey: Uint8Array; coinbase: Uint8Array } | null;
  /** directory for the WAL and the signer's last-sign state */
  dir: string;
  /** pause after a commit before the next height (CometBFT timeout_commit) */
  blockTimeMs: number;
  timeouts?: Partial<TimeoutConfig>;
  system?: SystemInputSource;
  logger?: Logger;
  metrics?: Metrics;
  /** TEST ONLY: misbehave to exercise the others' safety */
  byzantine?: { doubleSign?: boolean; invalidProposal?: boolean };
}

interface Executed {
  res: ExecuteResult;
  sys: SysData;
}

type Enq = { own?: boolean; replay?: boolean; from?: string; walDone?: boolean };

export class BftDriver {
  private readonly o: BftDriverOptions;
  private readonly log: Logger;
  private readonly chainId: string;
  private readonly topics: ReturnType<typeof chainTopics>;
  private readonly evidenceTopic: string;
  private readonly baseSet: ValidatorSet;
  private readonly setCache = new Map<number, ValidatorSet>();
  private state: BftState;
  private wal!: Wal;
  private signer?: PrivValidator;
  private queue: Promise<void> = Promise.resolve();
  private chainQueue: Promise<unknown> = Promise.resolve();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly executed = new Map<string, Executed>();
  private lastCommit: Commit | null = null;
  private pendingEvidence = new Map<string, DuplicateVoteEvidence>();
  private readonly committedEvidence = new Set<string>();
  private heightStartedAt = 0;
  private stopped = false;
  private syncTarget = 0;
  private syncing = false;
  private syncTimer?: NodeJS.Timeout;
  private unsub: (() => void)[] = [];
  private heightWaiters: { height: number; resolve: () => void }[] = [];
  private lastProgressAt = Date.now();
  /** hashes of synced blocks whose +2/3 commit we verified: their system inputs were accepted by the validators then */
  private readonly committed = new Set<string>();
  /** figures for status and benchmarks */
  readonly stats = { lastCommitLatencyMs: 0, commits: 0, rounds: 0, evidenceSeen: 0, invalidMessages: 0 };

  constructor(o: BftDriverOptions) {
    this.o = o;
    this.log = (o.logger ?? silentLogger).child({ module: 'bft' });
    this.chainId = `pocchain-${o.chain.chainId}`;
    this.topics = chainTopics(o.chain.chainId);
    this.evidenceTopic = `pocchain/${o.chain.chainId}/evidence`;
    this.baseSet = ValidatorSet.create(o.validators.map((v) => ({ pubKey: hexBytes(v.pubKey), power: BigInt(v.power) })));
    this.state = createBftState({ chainId: this.chainId, ...(o.timeouts ? { timeouts: o.timeouts } : {}) });
  }

  /** Validator set of a height (static from genesis; epochs would change it here). */
  setAt(height: number): ValidatorSet {
    let s = this.setCache.get(height);
    if (s) return s;
    const prev = this.setCache.get(height - 1);
    s = prev ? prev.nextHeight() : height <= 1 ? this.baseSet : this.baseSet.incremented(height - 1);
    this.setCache.set(height, s);
    if (this.setCache.size > 64) this.setCache.delete(Math.min(...this.setCache.keys()));
    return s;
  }

  get height(): number {
    return this.state.height;
  }

  /** Status for RPC and the devnet view. */
  status() {
    return { height: this.state.height, round: this.state.round, step: this.state.step, validator: this.myIndex(), syncing: this.syncTarget > this.state.height, ...this.stats };
  }

  private myIndex(): number {
    return this.o.me ? this.setAt(this.state.height || 1).indexOf(this.o.me.secretKey.slice(32)) : -1;
  }

  async start(): Promise<void> {
    const { chain, p2p } = this.o;
    mkdirSync(this.o.dir, { recursive: true });
    this.wal = await Wal.open(join(this.o.dir, 'wal'));
    if (this.o.me) this.signer = await PrivValidator.open({ secretKey: this.o.me.secretKey, statePath: join(this.o.dir, 'sign-state.json') });
    const head = Number(chain.head.header.number);
    if (head > 0) {
      const c = await chain.getCommit(chain.head.hash());
      if (c) this.lastCommit = decodeCommit(c);
    }
    this.unsub.push(p2p.subscribe(this.topics.consensus, (d, from) => this.onConsensusGossip(d, from)));
    this.unsub.push(p2p.subscribe(this.topics.tx, (d) => this.onTxGossip(d)));
    this.unsub.push(p2p.subscribe(this.evidenceTopic, (d) => this.onEvidenceGossip(d)));
    await p2p.handle(protocolId(chain.chainId, 'status'), () => packr.pack([Number(chain.head.header.number)]));
    await p2p.handle(protocolId(chain.chainId, 'blocks'), (req) => this.serveBlocks(req), { maxRequestBytes: 1024 });
    await p2p.handle(protocolId(chain.chainId, 'votes'), (req) => this.serveVotes(req), { maxRequestBytes: 1024 });
    const onTx = (tx: any, local?: boolean) => {
      if (local) void p2p.publish(this.topics.tx, tx.serialize()).catch(() => {});
    };
    this.o.pool.on('tx', onTx);
    this.unsub.push(() => this.o.pool.off('tx', onTx));

    // Replay the unfinished height from the WAL (only records of the height after our head).
    const height = head + 1;
    const records = this.wal.replay();
    const inputs = records.map((r) => inputOfWalRecord(r, (h) => this.setAt(h))).filter((i): i is BftInput => i !== null && inputHeight(i) === height);
    const hasStart = inputs.some((i) => i.type === 'startHeight');
    if (hasStart) {
      this.log.info({ height, records: inputs.length }, 'replaying WAL');
      for (const i of inputs) this.enqueue(i.type === 'startHeight' ? { ...i, validators: this.setAt(height), myPubKey: this.o.me ? this.o.me.secretKey.slice(32) : null } : i, { replay: true });
    } else {
      this.startHeight(height);
    }
    this.syncTimer = setInterval(() => void this.syncTick(), 1000);
    void this.syncTick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.syncTimer);
    for (const t of this.timers) clearTimeout(t);
    for (const u of this.unsub) u();
    await this.queue;
    await this.chainQueue.catch(() => {});
    await this.wal.close();
  }

  /** Resolves when the chain head reaches `height`. */
  waitForHeight(height: number, timeoutMs = 30_000): Promise<boolean> {
    if (Number(this.o.chain.head.header.number) >= height) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.heightWaiters.push({ height, resolve: () => (clearTimeout(t), resolve(true)) });
    });
  }

  private startHeight(height: number) {
    this.heightStartedAt = performance.now();
    this.enqueue({ type: 'startHeight', height, validators: this.setAt(height), myPubKey: this.o.me ? this.o.me.secretKey.slice(32) : null });
  }

  private enqueue(input: BftInput, e: Enq = {}): void {
    this.queue = this.queue.then(() => (this.stopped ? undefined : this.process(input, e))).catch((err) => this.log.error({ err: (err as Error).message, input: input.type }, 'consensus input failed'));
  }

  private chainTask<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chainQueue.then(fn, fn);
    this.chainQueue = next.catch(() => undefined);
    return next;
  }

  private async process(input: BftInput, e: Enq): Promise<void> {
    const rec = e.replay || e.walDone ? null : walRecordOfInput(input);
    if (rec !== null) await this.wal.append(rec, { sync: !!e.own });
    const before = `${this.state.height}/${this.state.round}/${this.state.step}`;
    const { state, outputs } = step(this.state, input);
    this.state = state;
    if (`${state.height}/${state.round}/${state.step}` !== before) this.lastProgressAt = Date.now();
    this.o.metrics?.consensusRound.set(state.round);
    for (const out of outputs) await this.handle(out, e);
  }

  private async handle(out: BftOutput, e: Enq): Promise<void> {
    switch (out.type) {
      case 'broadcastProposal': {
        if (!this.signer) return;
        let p;
        try {
          p = await this.signer.signProposal(this.chainId, out.proposal);
        } catch (err) {
          return void this.log.warn({ err: (err as Error).message, height: out.proposal.height, round: out.proposal.round }, 'signer refused proposal');
        }
        return this.sendOwn({ type: 'proposal', proposal: p, verified: true }, { kind: 'proposal', proposal: p });
      }
      case 'broadcastVote': {
        if (!this.signer) return;
        let v: Vote;
        try {
          v = await this.signer.signVote(this.chainId, out.vote);
        } catch (err) {
          return void this.log.warn({ err: (err as Error).message, height: out.vote.height, round: out.vote.round }, 'signer refused vote');
        }
        await this.sendOwn({ type: 'vote', vote: v, verified: true }, { kind: 'vote', vote: v });
        if (this.o.byzantine?.doubleSign && this.o.me) {
          // TEST ONLY: a second, conflicting vote for the same height/round/type, signed around the signer
          const other = { ...out.vote, blockHash: out.vote.blockHash ? null : new Uint8Array(32).fill(0xbb) };
          const sig = edSign(voteSignBytes(this.chainId, other), this.o.me.secretKey);
          void this.o.p2p.publish(this.topics.consensus, encodeMessage({ kind: 'vote', vote: { ...other, signature: sig } })).catch(() => {});
        }
        return;
      }
      case 'scheduleTimeout': {
        const t = setTimeout(() => {
          this.timers.delete(t);
          this.enqueue({ type: 'timeout', kind: out.kind, height: out.height, round: out.round });
        }, out.durationMs);
        this.timers.add(t);
        return;
      }
      case 'buildBlock':
        void this.chainTask(() => this.build(out.height, out.round)).catch((err) => this.log.error({ err: (err as Error).message }, 'block build failed'));
        return;
      case 'validateBlock':
        void this.chainTask(() => this.validate(out.height, out.blockHash, out.block)).then((result) => this.enqueue({ type: 'blockValidity', height: out.height, blockHash: out.blockHash, result }));
        return;
      case 'missingBlock':
        void this.fetchMissing(out.height, out.blockHash);
        return;
      case 'commit':
        await this.commit(out.height, out.round, out.blockHash, out.block, out.commit);
        return;
      case 'evidence': {
        const key = bytesToHex(encodeEvidence(out.evidence));
        this.stats.evidenceSeen++;
        if (!this.committedEvidence.has(key) && !this.pendingEvidence.has(key)) {
          this.pendingEvidence.set(key, out.evidence);
          this.log.warn({ height: out.evidence.voteA.height, validator: out.evidence.voteA.validatorIndex }, 'equivocation detected');
          void this.o.p2p.publish(this.evidenceTopic, encodeEvidence(out.evidence)).catch(() => {});
        }
        return;
      }
      case 'invalidMessage':
        this.stats.invalidMessages++;
        if (e.from) this.o.p2p.penalize(e.from, 'invalid-gossip');
        return;
    }
  }

  /** Our signed message: durable in the WAL before anyone sees it, then published, then stepped on. */
  private async sendOwn(input: BftInput, msg: ConsensusMessage): Promise<void> {
    await this.wal.append(walRecordOfInput(input), { sync: true });
    void this.o.p2p.publish(this.topics.consensus, encodeMessage(msg)).catch(() => {});
    this.enqueue(input, { own: true, walDone: true });
  }

  /** Build our proposal for (height, round) on the head; answers the machine with ownBlock. */
  private async build(height: number, round: number): Promise<void> {
    const { chain, pool } = this.o;
    if (Number(chain.head.header.number) + 1 !== height || !this.o.me) return;
    const sys: SysData = {
      ...(this.lastCommit && height > 1 ? { lastCommit: encodeCommit(this.lastCommit) } : {}),
      evidence: [...this.pendingEvidence.values()].slice(0, MAX_EVIDENCE_PER_BLOCK).map(encodeEvidence),
      deposits: this.o.system ? await this.o.system.deposits() : [],
    };
    const header = chain.nextHeader({ coinbase: this.o.me.coinbase, mixHash: this.lastCommit && height > 1 ? commitRandomness(this.lastCommit) : new Uint8Array(32), extraData: sysHash(sys) });
    const res = await chain.build(header, pool.pending(5000), Math.max(this.o.blockTimeMs, 500), sys);
    for (const s of res.skipped) if (!/remaining gas|block gas limit/i.test(s.reason)) pool.drop(s.tx);
    let block = res.block;
    if (this.o.byzantine?.invalidProposal) {
      // TEST ONLY: a block whose state root is a lie
      block = createBlock({ header: { ...block.header.toJSON(), stateRoot: crypto.getRandomValues(new Uint8Array(32)) }, transactions: block.transactions, withdrawals: [] }, { common: chain.common, setHardfork: false, skipConsensusFormatValidation: true });
      this.log.warn({ height, round }, 'byzantine: proposing an invalid block');
    } else {
      this.executed.set(bytesToHex(block.hash()), { res, sys });
    }
    this.enqueue({ type: 'ownBlock', height, round, blockHash: block.hash(), block: encodeEnvelope({ rlp: block.serialize(), sys }) });
  }

  /** Verify a proposed or synced block without side effects on the committed chain. */
  private async validate(height: number, blockHash: Uint8Array, bytes: Uint8Array): Promise<'valid' | 'invalid' | 'mismatch'> {
    const { chain } = this.o;
    const key = bytesToHex(blockHash);
    if (this.executed.has(key)) return 'valid';
    try {
      const env = decodeEnvelope(bytes);
      // txs we already hold are reused with their recovered senders (decoded and recovered once)
      const block = chain.decodeBlock(env.rlp, (h) => this.o.pool.get(h));
      if (!equalsBytes(block.hash(), blockHash)) return 'mismatch';
      if (Number(block.header.number) !== height || Number(chain.head.header.number) + 1 !== height) throw new Error(`block ${block.header.number} is not at height ${height} on head ${chain.head.header.number}`);
      if (!equalsBytes(block.header.extraData, sysHash(env.sys))) throw new Error('extraData does not commit to the system data');
      if (height > 1) {
        if (!env.sys.lastCommit) throw new Error('missing last commit');
        const lc = decodeCommit(env.sys.lastCommit);
        if (lc.height !== height - 1 || !equalsBytes(lc.blockHash, chain.head.hash())) throw new Error('last commit is not for the parent block');
        verifyCommit(lc, this.setAt(height - 1), this.chainId);
        if (!equalsBytes(block.header.mixHash, commitRandomness(lc))) throw new Error('prevrandao is not the last commit\'s randomness');
      } else if (!equalsBytes(block.header.mixHash, new Uint8Array(32))) throw new Error('height 1 prevrandao must be zero');
      for (const evb of env.sys.evidence) {
        const ev = decodeEvidence(evb);
        if (ev.voteA.height > height || ev.voteA.height < height - EVIDENCE_MAX_AGE) throw new Error('evidence out of range');
        verifyEvidence(ev, this.setAt(ev.voteA.height), this.chainId);
        if (this.committedEvidence.has(bytesToHex(evb)) || (await chain.store.loadMeta(evidenceKey(evb)))) throw new Error('evidence already committed');
      }
      // A synced block with a verified commit was already checked by +2/3 of the validators
      // against their L1 views; a full node without L1 access must still be able to follow.
      if (env.sys.deposits.length > 0 && !this.committed.has(key)) {
        if (!this.o.system) throw new Error('this node cannot check deposits');
        await this.o.system.check(env.sys.deposits);
      }
      const res = await chain.verify(block, env.sys);
      this.executed.set(key, { res, sys: env.sys });
      return 'valid';
    } catch (err) {
      this.log.warn({ height, err: (err as Error).message }, 'invalid block');
      return 'invalid';
    }
  }

  private async commit(height: number, round: number, blockHash: Uint8Array, block: Uint8Array, commit: Commit): Promise<void> {
    const { chain, pool } = this.o;
    const key = bytesToHex(blockHash);
    if (!this.executed.has(key)) {
      const r = await this.chainTask(() => this.validate(height, blockHash, block));
      if (r !== 'valid') throw new Error(`decided block ${key} does not validate locally: ${r}`);
    }
    const ex = this.executed.get(key)!;
    await this.chainTask(async () => {
      if (Number(chain.head.header.number) >= height) return; // already committed (WAL replay after a crash)
      // the evidence index goes into the block's own batch: committed evidence is never accepted twice
      await chain.commit(ex.res, { commit: encodeCommit(commit), sys: encodeSys(ex.sys), meta: ex.sys.evidence.map((evb) => ({ key: evidenceKey(evb), value: new Uint8Array([1]) })) });
    });
    this.executed.clear();
    this.committed.clear();
    this.lastCommit = commit;
    for (const evb of ex.sys.evidence) {
      const k = bytesToHex(evb);
      this.committedEvidence.add(k);
      this.pendingEvidence.delete(k);
    }
    await pool.onBlock();
    await this.wal.endHeight(height);
    const latency = performance.now() - this.heightStartedAt;
    this.stats.lastCommitLatencyMs = Math.round(latency);
    this.stats.commits++;
    this.stats.rounds += round;
    const m = this.o.metrics;
    m?.commitLatencySeconds.observe(latency / 1000);
    m?.headBlock.set(height);
    m?.txsIncluded.inc(ex.res.block.transactions.length);
    m?.poolSize.set(pool.size);
    m?.peers.set(this.o.p2p.peerCount);
    if (ex.res.block.transactions.length > 0 || height % 100 === 0) this.log.info({ height, round, txs: ex.res.block.transactions.length, latencyMs: Math.round(latency) }, 'block committed');
    this.heightWaiters = this.heightWaiters.filter((w) => (w.height <= height ? (w.resolve(), false) : true));
    const delay = this.syncTarget > height ? 0 : this.o.blockTimeMs;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.startHeight(height + 1);
    }, delay);
    this.timers.add(t);
  }

  // ---- gossip ----

  private onConsensusGossip(data: Uint8Array, from: string): 'accept' | 'ignore' | 'reject' {
    let m;
    try {
      m = decodeMessage(data);
    } catch {
      return 'reject';
    }
    const h = m.kind === 'vote' ? m.vote.height : m.proposal.height;
    const r = m.kind === 'vote' ? m.vote.round : m.proposal.round;
    // Bounded before any signature check or set computation: far heights (sync will catch up)
    // and far rounds are not useful now, and not provably the sender's fault either.
    if (h < this.state.height - 1 || h > this.state.height + HEIGHT_AHEAD) return 'ignore';
    if (r > (h === this.state.height ? this.state.round : 0) + ROUND_WINDOW) return 'ignore';
    const set = this.setAt(h);
    if (m.kind === 'vote') {
      if (!verifyVoteSignature(m.vote, set, this.chainId)) return 'reject';
      this.enqueue({ type: 'vote', vote: m.vote, verified: true }, { from });
    } else {
      if (!verifyProposal(m.proposal, set, this.chainId)) return 'reject';
      this.enqueue({ type: 'proposal', proposal: m.proposal, verified: true }, { from });
    }
    return 'accept';
  }

  private async onTxGossip(data: Uint8Array): Promise<'accept' | 'ignore' | 'reject'> {
    let tx;
    try {
      tx = this.o.pool.decode(data);
    } catch {
      return 'reject';
    }
    try {
      await this.o.pool.add(tx, data.length);
      return 'accept';
    } catch (err) {
      // state-dependent refusals (nonce, funds, already known) are not the forwarder's fault
      return /invalid sender|oversized|intrinsic gas|invalid chain id/.test((err as Error).message) ? 'reject' : 'ignore';
    }
  }

  private onEvidenceGossip(data: Uint8Array): 'accept' | 'ignore' | 'reject' {
    let ev;
    try {
      ev = decodeEvidence(data);
      verifyEvidence(ev, this.setAt(ev.voteA.height), this.chainId);
    } catch {
      return 'reject';
    }
    const key = bytesToHex(encodeEvidence(ev));
    if (this.committedEvidence.has(key) || this.pendingEvidence.has(key)) return 'ignore';
    this.pendingEvidence.set(key, ev);
    this.stats.evidenceSeen++;
    return 'accept';
  }

  // ---- block sync ----

  /** Serve [from, from+count) as [envelope, commit] pairs. */
  private async serveBlocks(req: Uint8Array): Promise<Uint8Array> {
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
      if (bytes > 8 * 1024 * 1024) break;
    }
    return packr.pack(out);
  }

  private async syncTick(): Promise<void> {
    if (this.syncing || this.stopped) return;
    this.syncing = true;
    try {
      const { p2p, chain } = this.o;
      const peers = p2p.peers();
      const heads = await Promise.all(
        peers.map(async (p) => {
          try {
            const r = packr.unpack(await p2p.request(p, protocolId(chain.chainId, 'status'), packr.pack([]), { timeoutMs: 2000, maxResponseBytes: 1024 })) as unknown;
            return Array.isArray(r) && Number.isSafeInteger(r[0]) ? { peer: p, head: r[0] as number } : undefined;
          } catch {
            return undefined;
          }
        }),
      );
      // Gossip is fire-and-forget: a peer that (re)joined mid-height missed our votes and we
      // missed theirs. When a height makes no progress, pull the peers' votes for it (as
      // CometBFT's reactor gossips the votes a peer is missing).
      if (Date.now() - this.lastProgressAt > 2000) await this.pullVotes(peers);
      const best = heads.filter((x) => x !== undefined).sort((a, b) => b.head - a.head)[0];
      if (!best) return;
      this.syncTarget = best.head;
      while (!this.stopped && Number(chain.head.header.number) < best.head) {
        const from = Number(chain.head.header.number) + 1;
        const resp = await p2p.request(best.peer, protocolId(chain.chainId, 'blocks'), packr.pack([from, SYNC_BATCH]), { timeoutMs: 10_000 });
        let items: unknown;
        try {
          items = packr.unpack(resp);
        } catch {
          p2p.penalize(best.peer, 'bad-response');
          return;
        }
        if (!Array.isArray(items) || items.length === 0) return;
        for (const [i, it] of items.entries()) {
          const h = from + i;
          if (!Array.isArray(it) || !(it[0] instanceof Uint8Array) || !(it[1] instanceof Uint8Array)) return void p2p.penalize(best.peer, 'bad-response');
          let commit: Commit;
          try {
            commit = decodeCommit(it[1]);
            if (commit.height !== h) throw new Error('commit height');
            verifyCommit(commit, this.setAt(h), this.chainId);
          } catch {
            this.log.warn({ peer: best.peer, height: h }, 'peer sent a block with an invalid commit');
            return void p2p.penalize(best.peer, 'bad-response');
          }
          if (Number(chain.head.header.number) >= h) continue;
          // the machine must have started height h, or it ignores a commit for it
          for (let w = 0; w < 200 && this.state.height < h && !this.stopped; w++) await new Promise((r) => setTimeout(r, 10));
          this.log.debug({ height: h, machine: this.state.height, step: this.state.step, peer: best.peer }, 'sync: applying block');
          this.committed.add(bytesToHex(commit.blockHash));
          this.enqueue({ type: 'syncCommit', commit, block: new Uint8Array(it[0]) });
          if (!(await this.waitForHeight(h, 15_000))) return;
        }
      }
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'sync tick failed');
    } finally {
      this.syncing = false;
    }
  }

  /** Serve the votes (and latest proposals) we hold for the requested height. */
  private serveVotes(req: Uint8Array): Uint8Array {
    const v = packr.unpack(req) as unknown;
    if (!Array.isArray(v) || !Number.isSafeInteger(v[0])) throw Object.assign(new Error('bad votes request'), { code: 'P2P_BAD_REQUEST' });
    if (v[0] !== this.state.height) return packr.pack([]);
    const msgs: Uint8Array[] = [];
    const rounds = [...this.state.rounds.keys()].sort((a, b) => b - a).slice(0, 4);
    for (const r of rounds) {
      const rs = this.state.rounds.get(r)!;
      for (const vt of [rs.prevotes, rs.precommits]) for (const vote of [...vt.votes, ...vt.conflicting]) if (vote) msgs.push(encodeMessage({ kind: 'vote', vote }));
      if (rs.proposal && r === rounds[0]) msgs.push(encodeMessage({ kind: 'proposal', proposal: rs.proposal }));
    }
    return packr.pack(msgs);
  }

  private async pullVotes(peers: string[]): Promise<void> {
    const { p2p, chain } = this.o;
    const height = this.state.height;
    await Promise.all(
      peers.map(async (p) => {
        try {
          const resp = packr.unpack(await p2p.request(p, protocolId(chain.chainId, 'votes'), packr.pack([height]), { timeoutMs: 3000 })) as unknown;
          if (!Array.isArray(resp)) return void p2p.penalize(p, 'bad-response');
          for (const m of resp) if (m instanceof Uint8Array) this.onConsensusGossip(m, p);
        } catch {
          /* peer unreachable: the next tick retries */
        }
      }),
    );
    this.lastProgressAt = Date.now();
  }

  private async fetchMissing(height: number, blockHash: Uint8Array): Promise<void> {
    // The block was decided by the others: it will be served by block sync once they commit it.
    this.log.debug({ height, hash: bytesToHex(blockHash) }, 'decided block missing; waiting for sync');
    setTimeout(() => void this.syncTick(), 200);
  }
}

/** Meta key of committed evidence: its hash, so distinct evidence never shares a key. */
function evidenceKey(evb: Uint8Array): string {
  return 'ev:' + bytesToHex(keccak_256(evb)).slice(2);
}

function hexBytes(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h.replace(/^0x/, ''), 'hex'));
}

function inputHeight(i: BftInput): number {
  switch (i.type) {
    case 'startHeight':
    case 'timeout':
    case 'blockValidity':
    case 'ownBlock':
    case 'block':
      return i.height;
    case 'proposal':
      return i.proposal.height;
    case 'vote':
      return i.vote.height;
    case 'syncCommit':
      return i.commit.height;
  }
}
