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
 * Split along CometBFT's reactors: pure block rules (block-rules.ts: envelope checks, the evidence
 * rule, system-data assembly, byte budget, timeouts), block sync with peer scoring (block-sync.ts),
 * the evidence pool (evidence-pool.ts), batched tx gossip (tx-gossip.ts). The driver keeps the
 * queue, the WAL, the signer and the timers. Every peer input is bounded (limits.ts) before any
 * signature check or validator-set computation.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { createBlock } from '@ethereumjs/block';
import { bytesToBigInt, bytesToHex, equalsBytes } from '@ethereumjs/util';
import { RLP } from '@ethereumjs/rlp';
import { Packr } from 'msgpackr';
import type { Chain } from '../chain/chain.ts';
import type { TxPool } from '../chain/txpool.ts';
import type { ExecuteResult } from '../chain/execute.ts';
import type { GenesisValidator } from '../chain/genesis.ts';
import { chainTopics, protocolId, type P2PNode } from '../chain/p2p/index.ts';
import { createBftState, step, type BftInput, type BftOutput, type BftState, type BlockValidity, type TimeoutConfig } from './bft/machine.ts';
import { decodeCommit, decodeEvidence, decodeMessage, encodeCommit, encodeMessage, voteSignBytes } from './bft/codec.ts';
import { sign as edSign } from './bft/crypto.ts';
import { PrivValidator } from './bft/signer.ts';
import type { Commit, ConsensusMessage, Vote } from './bft/types.ts';
import { commitRandomness, verifyCommit, verifyEvidence, verifyProposal, verifyVoteSignature } from './bft/verify.ts';
import { inputOfWalRecord, MAX_WAL_RECORD_BYTES, Wal, walRecordOfInput } from './bft/wal.ts';
import type { ValidatorSet } from './validators.ts';
import { ValidatorSets } from './validator-sets.ts';
import { MAX_SET } from './validator-params.ts';
import { decodeEnvelope, encodeEnvelope, encodeSys, sysHash, type Deposit, type RandaoReveal, type SysData } from './envelope.ts';
import { checkRandao, nextMix, revealersUpTo, signReveal } from './randao.ts';
import { randaoKey } from '../lib/keys.ts';
import { PocError } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { checkLimits, CONSENSUS_GOSSIP_MAX, EVIDENCE_GOSSIP_MAX, HEIGHT_AHEAD, MAX_BLOCK_TX_BYTES, MAX_EVIDENCE_PER_BLOCK, MAX_TX_BYTES, ROUND_WINDOW } from './limits.ts';
import { assembleSys, checkEnvelope, depositsAllowed, MAX_FUTURE_SECONDS, fitByBytes, isCanonicalEvidence, judgementOfError, nextHeightDelayMs, ruleError, timeoutsFor, validationWaitMs, type Judgement } from './block-rules.ts';
import { canonicalEvidence, EvidencePool, evidenceKey } from './evidence-pool.ts';
import { BlockSync } from './block-sync.ts';
import { TxGossip } from './tx-gossip.ts';
import type { Metrics } from '../lib/metrics.ts';

const packr = new Packr({ useRecords: false, useBigIntExtension: true });

/** Where system inputs (bridge deposits) come from, and how a proposal's are checked. */
export interface SystemInputSource {
  /** deposits the proposer includes in the next block (asked in round 0 only) */
  deposits(): Promise<Deposit[]>;
  /**
   * Throws when a proposed block's deposits are not exactly what this node's L1 view allows. A
   * PocError whose code is a CannotJudgeCode (block-rules.ts: 'L1_UNAVAILABLE', 'L1_BEHIND')
   * means this node cannot judge them yet; any other throw means they are wrong.
   */
  check(deposits: Deposit[]): Promise<void>;
}

export interface BftDriverOptions {
  chain: Chain;
  pool: TxPool;
  p2p: P2PNode;
  validators: GenesisValidator[];
  /** the set of every height (validator-sets.ts); default: the genesis set for ever */
  sets?: ValidatorSets;
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
  /** the pool's largest transaction (checked against the block and gossip limits at start) */
  poolMaxTxBytes?: number;
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
  /** RANDAO randomness (genesis validators have BLS keys) or, on older chains, commit randomness */
  private readonly randao: boolean;
  /** our BLS randomness secret, when we are a validator of such a chain */
  private readonly randaoSecret: Uint8Array | null;
  private readonly topics: ReturnType<typeof chainTopics>;
  private readonly evidenceTopic: string;
  private readonly sets: ValidatorSets;
  private state: BftState;
  private wal!: Wal;
  private signer?: PrivValidator;
  private queue: Promise<void> = Promise.resolve();
  private chainQueue: Promise<unknown> = Promise.resolve();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly executed = new Map<string, Executed>();
  /** gas used claimed by blocks being validated (sizes the wait for a validation in flight) */
  private readonly gasOf = new Map<string, bigint>();
  private lastCommit: Commit | null = null;
  private readonly evidence: EvidencePool;
  private readonly sync: BlockSync;
  private readonly txGossip: TxGossip;
  private readonly timeouts: TimeoutConfig;
  private heightStartedAt = 0;
  private stopped = false;
  private syncing = false;
  private syncTimer?: NodeJS.Timeout;
  private unsub: (() => void)[] = [];
  private heightWaiters: { height: number; resolve: () => void }[] = [];
  private lastProgressAt = Date.now();
  /** figures for status and benchmarks */
  readonly stats = { lastCommitLatencyMs: 0, commits: 0, rounds: 0, evidenceSeen: 0, invalidMessages: 0, ignoredMessages: 0, evidenceRefused: 0, revalidations: 0, validationWaits: 0, cannotJudge: 0 };

  constructor(o: BftDriverOptions) {
    this.o = o;
    this.log = (o.logger ?? silentLogger).child({ module: 'bft' });
    this.chainId = `pocchain-${o.chain.chainId}`;
    this.topics = chainTopics(o.chain.chainId);
    this.evidenceTopic = `pocchain/${o.chain.chainId}/evidence`;
    this.sets = o.sets ?? new ValidatorSets({ genesis: o.validators, epochLength: null });
    this.randao = o.validators.every((v) => v.blsPubKey);
    this.randaoSecret = this.randao && o.me ? randaoKey(o.me.secretKey).secretKey : null;
    this.timeouts = { ...timeoutsFor(o.blockTimeMs), ...o.timeouts };
    this.state = createBftState({ chainId: this.chainId, timeouts: this.timeouts, maxFutureRounds: ROUND_WINDOW, maxBlockBytes: CONSENSUS_GOSSIP_MAX });
    this.evidence = new EvidencePool({ isCommitted: async (k) => (await o.chain.store.loadMeta(k)) !== undefined });
    this.sync = new BlockSync({
      p2p: o.p2p,
      chain: o.chain,
      log: this.log,
      // a block we already hold is skipped by the sync, and its (maybe old) set need not be read
      verifyCommit: (c, h) => void (h > Number(o.chain.head.header.number) && verifyCommit(c, this.membershipAt(h), this.chainId)),
      apply: (h, c, env) => this.applySynced(h, c, env),
      stopped: () => this.stopped,
    });
    this.txGossip = new TxGossip({ p2p: o.p2p, topic: this.topics.tx, pool: o.pool, log: this.log });
  }

  /**
   * Membership (keys, powers, indices) of a height: what signatures of votes, commits and evidence
   * are checked against. The sets of the epochs of the head and of the next height are always in
   * memory (loaded at start and when a block closes an epoch); older ones: `this.sets.membership`.
   */
  membershipAt(height: number): ValidatorSet {
    const s = this.sets.membershipAt(height);
    if (!s) throw new PocError('VALIDATOR_SET_UNKNOWN', `the validator set of height ${height} is not loaded`);
    return s;
  }

  /** Validator set of a height, with its proposer priorities (cached; cycle-aware, so O(1) at any height). */
  setAt(height: number): ValidatorSet {
    const s = this.sets.setAt(height);
    if (!s) throw new PocError('VALIDATOR_SET_UNKNOWN', `the validator set of height ${height} is not loaded`);
    return s;
  }

  get height(): number {
    return this.state.height;
  }

  /** Status for RPC and the devnet view. */
  status() {
    return { height: this.state.height, round: this.state.round, step: this.state.step, validator: this.myIndex(), syncing: this.sync.target > this.state.height, pendingEvidence: this.evidence.size, sync: this.sync.stats, txGossip: this.txGossip.stats, ...this.stats };
  }

  private myIndex(): number {
    return this.o.me ? this.setAt(this.state.height || 1).indexOf(this.o.me.secretKey.slice(32)) : -1;
  }

  async start(): Promise<void> {
    const { chain, p2p } = this.o;
    checkLimits({ validators: this.sets.maxSize(MAX_SET), consensusGossipMax: p2p.gossipLimit(this.topics.consensus), txGossipMax: p2p.gossipLimit(this.topics.tx), poolMaxTxBytes: this.o.poolMaxTxBytes ?? MAX_TX_BYTES, walRecordMax: MAX_WAL_RECORD_BYTES });
    mkdirSync(this.o.dir, { recursive: true });
    this.wal = await Wal.open(join(this.o.dir, 'wal'));
    if (this.o.me) this.signer = await PrivValidator.open({ secretKey: this.o.me.secretKey, statePath: join(this.o.dir, 'sign-state.json') });
    const head = Number(chain.head.header.number);
    await this.sets.load(head + 1);
    if (head > 0) {
      await this.sets.load(head);
      const c = await chain.getCommit(chain.head.hash());
      if (c) this.lastCommit = decodeCommit(c);
    }
    this.unsub.push(p2p.subscribe(this.topics.consensus, (d, from) => this.onConsensusGossip(d, from)));
    this.unsub.push(p2p.subscribe(this.topics.tx, (d) => this.txGossip.onGossip(d)));
    this.unsub.push(p2p.subscribe(this.evidenceTopic, (d) => this.onEvidenceGossip(d), { maxBytes: EVIDENCE_GOSSIP_MAX }));
    await this.sync.serve();
    await p2p.handle(protocolId(chain.chainId, 'votes'), (req) => this.serveVotes(req), { maxRequestBytes: 1024 });
    const onTx = (tx: any, local?: boolean) => {
      if (local) this.txGossip.publish(tx.serialize());
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
    this.txGossip.stop();
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
        this.o.metrics?.votesSigned.inc({ type: v.type });
        if (this.o.byzantine?.doubleSign && this.o.me) {
          // TEST ONLY: a second, conflicting vote for the same height/round/type, signed around the signer
          const other = { ...out.vote, blockHash: out.vote.blockHash ? null : new Uint8Array(32).fill(0xbb) };
          const sig = edSign(voteSignBytes(this.chainId, other), this.o.me.secretKey);
          void this.o.p2p.publish(this.topics.consensus, encodeMessage({ kind: 'vote', vote: { ...other, signature: sig } })).catch(() => {});
        }
        return;
      }
      case 'scheduleTimeout': {
        let ms = out.durationMs;
        if (out.awaiting) {
          // the proposal came in time and is still being validated: wait for it, sized by its gas
          ms = validationWaitMs(this.gasOf.get(bytesToHex(out.awaiting)) ?? 0n, this.timeouts);
          this.stats.validationWaits++;
        }
        const t = setTimeout(() => {
          this.timers.delete(t);
          this.enqueue({ type: 'timeout', kind: out.kind, height: out.height, round: out.round });
        }, ms);
        this.timers.add(t);
        return;
      }
      case 'buildBlock':
        void this.chainTask(() => this.build(out.height, out.round)).catch((err) => this.log.error({ err: (err as Error).message }, 'block build failed'));
        return;
      case 'validateBlock': {
        const k = bytesToHex(out.blockHash);
        this.gasOf.set(k, gasClaimed(out.block));
        if (out.decided) this.stats.revalidations++;
        void this.chainTask(() => this.validate(out.height, out.blockHash, out.block, !!out.decided, out.round)).then((result) => this.enqueue({ type: 'blockValidity', height: out.height, blockHash: out.blockHash, result }));
        return;
      }
      case 'missingBlock':
        void this.fetchMissing(out.height, out.blockHash);
        return;
      case 'commit':
        await this.commit(out.height, out.round, out.blockHash, out.block, out.commit);
        return;
      case 'evidence': {
        this.stats.evidenceSeen++;
        const c = canonicalEvidence(out.evidence);
        if ((await this.evidence.verdict(c.ev.voteA.height, c.key, this.state.height)) !== 'ok') return;
        if (this.evidence.add(c)) {
          this.log.warn({ height: c.ev.voteA.height, validator: c.ev.voteA.validatorIndex }, 'equivocation detected');
          void this.o.p2p.publish(this.evidenceTopic, c.bytes).catch(() => {});
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
    let deposits: Deposit[] = [];
    if (this.o.system && depositsAllowed(round)) {
      try {
        deposits = await this.o.system.deposits();
      } catch (err) {
        this.log.warn({ err: (err as Error).message, height }, 'no deposits this block: L1 source failed');
      }
    }
    let randao: RandaoReveal | undefined;
    let mixHash = this.lastCommit && height > 1 ? commitRandomness(this.lastCommit) : new Uint8Array(32);
    if (this.randaoSecret) {
      const signer = this.setAt(height).indexOf(this.o.me.secretKey.slice(32));
      randao = { signer, reveal: signReveal(this.randaoSecret, this.chainId, height) };
      mixHash = nextMix(chain.head.header.mixHash, randao.reveal);
    }
    const sys: SysData = assembleSys({ height, round, lastCommit: this.lastCommit ? encodeCommit(this.lastCommit) : null, evidence: await this.evidence.pick(height, MAX_EVIDENCE_PER_BLOCK), deposits, ...(randao ? { randao } : {}) });
    const header = chain.nextHeader({ coinbase: this.o.me.coinbase, mixHash, extraData: sysHash(sys) });
    // the block's transactions fit the byte budget, so its proposal always fits one gossip message
    const candidates = pool.pending(5000);
    const fit = fitByBytes((function* () {
      for (const t of candidates) yield t.serialize().length;
    })(), MAX_BLOCK_TX_BYTES);
    const res = await chain.build(header, candidates.slice(0, fit), Math.max(this.o.blockTimeMs, 500), sys);
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

  /**
   * Judge a proposed or synced block without side effects on the committed chain: valid, invalid,
   * cannot-judge (our L1 view or clock is behind), or mismatch (bytes ≠ hash). `decided`: +2/3
   * committed it, so the checks that depend on our local views (deposits against L1) are skipped
   * and only what can be checked — execution, signatures — decides.
   */
  private async validate(height: number, blockHash: Uint8Array, bytes: Uint8Array, decided: boolean, round: number): Promise<BlockValidity> {
    const { chain } = this.o;
    const key = bytesToHex(blockHash);
    if (this.executed.has(key)) return 'valid';
    try {
      const env = decodeEnvelope(bytes);
      // txs we already hold are reused with their recovered senders (decoded and recovered once)
      const block = chain.decodeBlock(env.rlp, (h) => this.o.pool.get(h));
      if (!equalsBytes(block.hash(), blockHash)) return 'mismatch';
      const lc = height > 1 && env.sys.lastCommit ? decodeCommit(env.sys.lastCommit) : null;
      const aheadS = Number(block.header.timestamp) - MAX_FUTURE_SECONDS - Date.now() / 1000;
      if (decided && aheadS > 0) {
        // +2/3 accepted its time by their clocks: ours is slow; wait it out (bounded) rather than refuse
        await new Promise((r) => setTimeout(r, Math.min(Math.ceil(aheadS * 1000) + 50, 60_000)));
      }
      checkEnvelope({
        blockNumber: Number(block.header.number),
        height,
        headNumber: Number(chain.head.header.number),
        extraDataMatches: equalsBytes(block.header.extraData, sysHash(env.sys)),
        lastCommit: lc ? { height: lc.height, forHead: equalsBytes(lc.blockHash, chain.head.hash()) } : null,
        // a chain with BLS keys checks its randao reveal below instead
        mixHashMatches: this.randao || equalsBytes(block.header.mixHash, lc ? commitRandomness(lc) : new Uint8Array(32)),
        evidenceCount: env.sys.evidence.length,
        depositCount: env.sys.deposits.length,
        timestamp: Number(block.header.timestamp),
        now: Math.floor(Date.now() / 1000),
      });
      if (lc) verifyCommit(lc, await this.sets.membership(height - 1), this.chainId);
      if (this.randao) {
        const keys = this.sets.entry(height)?.bls ?? new Map<string, Uint8Array>();
        const set = this.setAt(height);
        const proposers = revealersUpTo(set, round);
        checkRandao({ chainId: this.chainId, height, parentMix: chain.head.header.mixHash, mixHash: block.header.mixHash, randao: env.sys.randao, keyOf: (i) => { const pk = proposers.has(i) ? set.pubKeyOf(i) : undefined; return pk ? keys.get(Buffer.from(pk).toString('hex')) : undefined; } });
      }
      const seen = new Set<string>();
      for (const evb of env.sys.evidence) {
        const ev = decodeEvidence(evb);
        if (!isCanonicalEvidence(ev)) throw ruleError('evidence votes not in canonical order');
        const k = evidenceKey(evb);
        if (seen.has(k)) throw ruleError('evidence repeated in the block');
        seen.add(k);
        const v = await this.evidence.verdict(ev.voteA.height, k, height);
        if (v !== 'ok') throw ruleError(`evidence ${v}`);
        verifyEvidence(ev, await this.sets.membership(ev.voteA.height), this.chainId);
      }
      // +2/3 accepted these deposits against their L1 views; a node without L1 access follows them
      if (env.sys.deposits.length > 0 && !decided) {
        if (!this.o.system) throw Object.assign(ruleError('this node has no L1 view to check deposits'), { code: 'L1_UNAVAILABLE' });
        await this.o.system.check(env.sys.deposits);
      }
      const res = await chain.verify(block, env.sys);
      this.executed.set(key, { res, sys: env.sys });
      return 'valid';
    } catch (err) {
      const j: Judgement = judgementOfError(err);
      if (j === 'cannot-judge') this.stats.cannotJudge++;
      this.log.warn({ height, decided, verdict: j, err: (err as Error).message }, j === 'cannot-judge' ? 'cannot judge block yet' : 'invalid block');
      return j === 'cannot-judge' ? 'cannot-judge' : 'invalid';
    }
  }

  private async commit(height: number, round: number, blockHash: Uint8Array, block: Uint8Array, commit: Commit): Promise<void> {
    const { chain, pool } = this.o;
    const key = bytesToHex(blockHash);
    if (!this.executed.has(key)) {
      const r = await this.chainTask(() => this.validate(height, blockHash, block, true, round));
      if (r !== 'valid') throw new Error(`decided block ${key} does not validate locally: ${r}`);
    }
    const ex = this.executed.get(key)!;
    await this.chainTask(async () => {
      if (Number(chain.head.header.number) >= height) return; // already committed (WAL replay after a crash)
      // the evidence index goes into the block's own batch: committed evidence is never accepted twice
      await chain.commit(ex.res, { commit: encodeCommit(commit), sys: encodeSys(ex.sys), meta: ex.sys.evidence.map((evb) => ({ key: evidenceKey(evb), value: new Uint8Array([1]) })) });
    });
    // a block that closed an epoch: the next height's set is read now, before anything needs it
    const next = await this.sets.afterCommit(height);
    if (next) this.log.info({ epoch: next.epoch, firstHeight: next.firstHeight, validators: next.set.size, member: this.o.me ? next.set.indexOf(this.o.me.secretKey.slice(32)) >= 0 : false }, 'validator set of the next epoch');
    this.executed.clear();
    this.gasOf.clear();
    this.lastCommit = commit;
    this.evidence.markCommitted(ex.sys.evidence.map(evidenceKey));
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
    // The block time is the interval between heights' starts, not an idle gap after each commit:
    // a height that took longer than it (a loaded block) is followed at once, so under load the
    // chain does not idle a whole block time per height while transactions wait.
    const delay = this.sync.target > height ? 0 : nextHeightDelayMs(this.o.blockTimeMs, latency);
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
    if (h < this.state.height - 1 || h > this.state.height + HEIGHT_AHEAD || r > (h === this.state.height ? this.state.round : 0) + ROUND_WINDOW) {
      this.stats.ignoredMessages++;
      return 'ignore';
    }
    // the next epoch's set is known once its boundary block is committed: until then, not judgeable
    const members = this.sets.membershipAt(h);
    if (!members) {
      this.stats.ignoredMessages++;
      return 'ignore';
    }
    if (m.kind === 'vote') {
      if (!verifyVoteSignature(m.vote, members, this.chainId)) return 'reject';
      this.enqueue({ type: 'vote', vote: m.vote, verified: true }, { from });
    } else {
      if (!verifyProposal(m.proposal, this.setAt(h), this.chainId, CONSENSUS_GOSSIP_MAX)) return 'reject';
      this.enqueue({ type: 'proposal', proposal: m.proposal, verified: true }, { from });
    }
    return 'accept';
  }

  /**
   * Evidence from a peer: decoded (size-bounded by the topic), then the one evidence rule (age,
   * already committed — read from the store) before any signature check, then verified against
   * the membership of its height. Far, old and committed evidence is ignored, never pooled.
   */
  private async onEvidenceGossip(data: Uint8Array): Promise<'accept' | 'ignore' | 'reject'> {
    let c;
    try {
      c = canonicalEvidence(decodeEvidence(data));
    } catch {
      return 'reject';
    }
    if (this.evidence.has(c.key)) return 'ignore';
    const v = await this.evidence.verdict(c.ev.voteA.height, c.key, this.state.height);
    if (v !== 'ok') {
      this.stats.evidenceRefused++;
      return 'ignore';
    }
    try {
      verifyEvidence(c.ev, await this.sets.membership(c.ev.voteA.height), this.chainId);
    } catch {
      return 'reject';
    }
    if (!this.evidence.add(c)) return 'ignore';
    this.stats.evidenceSeen++;
    return 'accept';
  }

  // ---- block sync ----

  /** A synced block: the machine must have started height h (or it ignores the commit). */
  private async applySynced(h: number, commit: Commit, envelope: Uint8Array): Promise<boolean> {
    const env = decodeEnvelope(envelope);
    // decoded once: validation finds these tx objects again by hash (Chain.decodeTx cache)
    const block = this.o.chain.decodeBlock(env.rlp, (h) => this.o.pool.get(h));
    if (!equalsBytes(block.hash(), commit.blockHash)) throw new Error('synced envelope is not the committed block');
    for (let w = 0; w < 200 && this.state.height < h && !this.stopped; w++) await new Promise((r) => setTimeout(r, 10));
    this.log.debug({ height: h, machine: this.state.height, step: this.state.step }, 'sync: applying block');
    this.enqueue({ type: 'syncCommit', commit, block: envelope });
    return this.waitForHeight(h, 15_000);
  }

  private async syncTick(): Promise<void> {
    if (this.syncing || this.stopped) return;
    this.syncing = true;
    try {
      await this.sync.refresh();
      // Gossip is fire-and-forget: a peer that (re)joined mid-height missed our votes and we
      // missed theirs. When a height makes no progress, pull the peers' votes for it (as
      // CometBFT's reactor gossips the votes a peer is missing).
      if (Date.now() - this.lastProgressAt > 2000) await this.pullVotes(this.o.p2p.peers());
      await this.sync.run();
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

/** gasUsed a block envelope's header claims (0 when it does not decode): sizes the validation wait. */
function gasClaimed(bytes: Uint8Array): bigint {
  try {
    const gas = (RLP.decode(decodeEnvelope(bytes).rlp) as unknown as Uint8Array[][])[0]![10]!;
    return gas.length === 0 ? 0n : bytesToBigInt(gas);
  } catch {
    return 0n;
  }
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
