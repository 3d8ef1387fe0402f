/**
 * The executor agent: a separate process that earns coins by running other people's WebAssembly.
 * It talks to a node ONLY over JSON-RPC (http for calls and transactions, ws for log
 * notifications).
 *
 * Life of a task here (every step journaled, executor/journal.ts):
 *   TaskAssigned(task, me) ─► assigned ─► fetch app/dataset by hash (verified), run in the sandbox
 *   ─► ran (result bytes + digest saved BEFORE anything is sent) ─► contribute(resultHash, seal)
 *   ─► committed ─► once the task is REVEALING (ConsensusReached) and our hash is the consensus:
 *   reveal(digest) ─► revealed ─► TaskFinalized ─► done. Any step can end in `abandoned` (workload
 *   failed, deadline passed, lost the vote, task settled without us).
 *
 * Nothing is missed across restarts: assignments come from a ws `logs` subscription (latency) and
 * from an eth_getLogs scan from the last scanned block, kept in <datadir>/cursor.json (safety).
 * Every scan also re-examines each unfinished journaled task against the chain, so deadlines and
 * missed ConsensusReached/TaskFinalized events are handled without their logs.
 *
 * Never twice: a task past `assigned` is never run again; a restarted agent reads the chain before
 * re-sending a commit (the assignment may already be `contributed`) or a reveal.
 *
 * Earnings are pull-based in the Hub; the agent calls withdraw() periodically.
 *
 * Offer: at start the agent declares its asks (least reward per replica, per category) and its
 * capacity (open assignments at once) with Hub.setOffer — one transaction, only when they differ
 * from the chain's — and sizes the sandbox to its capacity: at most that many workloads run at
 * once, since the Hub never gives it more open assignments than that (workers kept warm between
 * runs: at most one per core).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { Wallet, ZeroHash, keccak256, toBeHex, zeroPadValue, type Contract, type JsonRpcProvider } from 'ethers';
import { PocError, isPocError } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { HUB_ADDRESS, MIN_EXECUTOR_STAKE, TaskStatus, AssignmentStatus, resultHash, resultSeal } from '../consensus/poc/index.ts';
import { categoryLimits, configureSandbox, runWorkload, type WorkloadLimits } from './sandbox.ts';
import { ContentCache, MAX_CONTENT_BYTES, fetchAsset } from './content.ts';
import { TaskJournal, newSalt, type TaskRecord } from './journal.ts';
import { TxSender, hubContract, hubIface, stakingContract, explainError } from './hub-client.ts';
import { subscribeLogs, type RawLog } from './subscription.ts';
import { Endpoints, FailoverProvider } from './endpoints.ts';
import { createExecutorMetrics, type ExecutorMetrics } from './metrics.ts';

/** TEST ONLY misbehaviours, to exercise the chain's handling of bad executors. */
export type TestBehaviour = 'wrong-result' | 'silent' | 'no-reveal' | 'crash-after-reveal';
export const TEST_BEHAVIOURS: readonly TestBehaviour[] = ['wrong-result', 'silent', 'no-reveal', 'crash-after-reveal'];

/** What a `wrong-result` executor returns instead of running the workload: the same for all, so liars collude. */
export const WRONG_RESULT = new TextEncoder().encode('wrong result\n');

export interface AgentOptions {
  rpcUrl: string;
  /** more nodes to fail over to, in order, when the current one stops answering (endpoints.ts) */
  failoverUrls?: string[];
  /** ws endpoint; default: rpcUrl with http→ws */
  wsUrl?: string;
  privateKey: string;
  datadir: string;
  /** bonded stake to keep (wei); the agent tops up to it at start. Default 2 coins. */
  stake?: bigint;
  /** asks per category (wei per replica); null or missing = keep the chain's (0 if never declared) */
  asks?: readonly (bigint | null)[];
  /** open assignments at once (1..MAX_CAPACITY); missing = keep the chain's (DEFAULT_CAPACITY if never declared) */
  capacity?: number;
  /** private pool to be a member of (its owner must list us first); 0n = none; missing = keep the chain's */
  pool?: bigint;
  /** override the per-category limits */
  limits?: (category: number) => WorkloadLimits;
  /** catch-up scan and re-check interval (ms), default 1000 */
  scanMs?: number;
  /** withdraw earnings this often (ms), default 30 s; 0 = never */
  withdrawEveryMs?: number;
  /** largest app/dataset accepted (bytes), default MAX_CONTENT_BYTES */
  maxContentBytes?: number;
  /** first block to scan when there is no cursor yet; default head − 10,000 */
  fromBlock?: number;
  logger?: Logger;
  metrics?: ExecutorMetrics;
  testBehaviour?: TestBehaviour;
}

export type AgentErrorCode = 'AGENT_CONFIG' | 'AGENT_STAKE' | 'AGENT_OFFER';

const TASK_ASSIGNED = hubIface.getEvent('TaskAssigned')!.topicHash;
const CONSENSUS_REACHED = hubIface.getEvent('ConsensusReached')!.topicHash;
const TASK_FINALIZED = hubIface.getEvent('TaskFinalized')!.topicHash;
const CONTRIBUTED = hubIface.getEvent('Contributed')!.topicHash;
const REVEALED = hubIface.getEvent('Revealed')!.topicHash;

const MAX_LOG_RANGE = 2000;

/** A task, our assignment in it and the head block, read together. */
async function readChainState(hub: Contract, provider: JsonRpcProvider, me: string, id: string) {
  const [t, a, head] = await Promise.all([hub.getTask(BigInt(id)), hub.getAssignment(BigInt(id), me), provider.getBlockNumber()]);
  return { t, a, head };
}
type ChainState = Awaited<ReturnType<typeof readChainState>>;

export class ExecutorAgent {
  readonly address: string;
  readonly journal: TaskJournal;
  readonly metrics: ExecutorMetrics;
  readonly #o: AgentOptions;
  readonly #log: Logger;
  readonly #provider: JsonRpcProvider;
  readonly endpoints: Endpoints;
  readonly #hub: Contract;
  readonly #wallet: Wallet;
  readonly #tx: TxSender;
  readonly #cache: ContentCache;
  #cursor = -1;
  #busy = new Map<string, { again: boolean }>();
  #scanning: Promise<void> | undefined;
  #timers: NodeJS.Timeout[] = [];
  #unsubscribe: (() => void) | undefined;
  #stopped = false;
  #tasks = new Set<Promise<void>>();
  /** the offer in force on chain once started */
  offer: { asks: bigint[]; capacity: number } | undefined;

  private constructor(o: AgentOptions, journal: TaskJournal) {
    this.#o = o;
    this.#log = (o.logger ?? silentLogger).child({ module: 'executor' });
    this.endpoints = new Endpoints([...new Set([o.rpcUrl, ...(o.failoverUrls ?? [])])]);
    this.endpoints.onSwitch = (from, to) => this.#log.warn({ from, to }, 'node unreachable: failing over');
    this.#provider = new FailoverProvider(this.endpoints);
    this.#wallet = new Wallet(o.privateKey, this.#provider);
    this.address = this.#wallet.address;
    this.#hub = hubContract(this.#wallet);
    this.#tx = new TxSender(this.#wallet, { pipelined: true });
    this.#cache = new ContentCache(join(o.datadir, 'content'));
    this.journal = journal;
    this.metrics = o.metrics ?? createExecutorMetrics();
  }

  /** Open the journal, stake if needed, subscribe, catch up, and start the loops. */
  static async start(o: AgentOptions): Promise<ExecutorAgent> {
    if (o.testBehaviour && !TEST_BEHAVIOURS.includes(o.testBehaviour)) throw new PocError<AgentErrorCode>('AGENT_CONFIG', `unknown test behaviour ${o.testBehaviour}`);
    await mkdir(o.datadir, { recursive: true, mode: 0o700 });
    const journal = await TaskJournal.open(join(o.datadir, 'journal'));
    const a = new ExecutorAgent(o, journal);
    try {
      await a.#loadCursor();
      await a.#ensureStake();
      await a.#ensureOffer();
      a.#log.info({ executor: a.address, node: a.endpoints.current(), stake: String(o.stake ?? 2n * MIN_EXECUTOR_STAKE), asks: a.offer!.asks.map(String), capacity: a.offer!.capacity, fromBlock: a.#cursor + 1, unfinished: journal.unfinished().length, testBehaviour: o.testBehaviour }, 'executor started');
      a.#unsubscribe = subscribeLogs({
        // an explicit --ws pins the subscription; otherwise it follows the current node
        url: o.wsUrl ?? (() => a.endpoints.currentWs()),
        ...(o.wsUrl ? {} : { onClose: (url: string) => void a.endpoints.failed(url.replace(/^ws/, 'http')) }),
        filters: [
          { address: HUB_ADDRESS, topics: [TASK_ASSIGNED, null, zeroPadValue(a.address, 32)] },
          { address: HUB_ADDRESS, topics: [[CONSENSUS_REACHED, TASK_FINALIZED]] },
        ],
        onLog: (l) => a.#onLog(l),
        onConnect: () => a.#scanSoon(),
        logger: a.#log,
      });
      await a.scan();
      a.#timers.push(setInterval(() => a.#scanSoon(), o.scanMs ?? 1000));
      const w = o.withdrawEveryMs ?? 30_000;
      if (w > 0) a.#timers.push(setInterval(() => void a.withdraw().catch((e) => a.#log.warn({ err: explainError(e) }, 'withdraw failed')), w));
    } catch (e) {
      await a.stop();
      throw e;
    }
    return a;
  }

  /** Stop loops and subscriptions, let in-flight steps finish, close the journal. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timers.forEach((t) => clearInterval(t));
    this.#unsubscribe?.();
    await this.#scanning?.catch(() => {});
    await Promise.allSettled([...this.#tasks]);
    await this.journal.close();
    this.#provider.destroy();
  }

  // ---------------------------------------------------------------- stake and earnings

  async #ensureStake(): Promise<void> {
    const target = this.#o.stake ?? 2n * MIN_EXECUTOR_STAKE;
    const staking = stakingContract(this.#wallet);
    const have = (await staking.stakeOf(this.address)) as bigint;
    if (have < target) {
      const add = target - have;
      try {
        const rc = await this.#tx.send('stake', (o) => staking.stakeExecutor({ ...o, value: add }));
        this.#countTx('stake', rc.gasUsed);
        this.#log.info({ added: String(add), tx: rc.hash }, 'staked');
      } catch (e) {
        throw new PocError<AgentErrorCode>('AGENT_STAKE', `could not stake ${add} wei: ${explainError(e)}`, { cause: e });
      }
    }
    this.metrics.stakeWei.set(Number(await staking.stakeOf(this.address)));
  }

  /**
   * Declare the asks and capacity asked for (Hub.setOffer) when they differ from the chain's, then
   * size the sandbox to the capacity in force.
   */
  async #ensureOffer(): Promise<void> {
    const [asks, capacity, declared] = (await this.#hub.offerOf(this.address)) as unknown as [bigint[], bigint, boolean];
    const want = { asks: [...asks].map((a, c) => this.#o.asks?.[c] ?? a), capacity: this.#o.capacity ?? Number(capacity) };
    if (want.capacity !== Number(capacity) || want.asks.some((a, c) => a !== asks[c])) {
      try {
        const rc = await this.#tx.send('setOffer', (o) => this.#hub.setOffer(want.asks, want.capacity, o));
        this.#countTx('setOffer', rc.gasUsed);
        this.#log.info({ asks: want.asks.map(String), capacity: want.capacity, previously: declared ? { asks: [...asks].map(String), capacity: Number(capacity) } : 'never declared', tx: rc.hash }, 'offer declared');
      } catch (e) {
        throw new PocError<AgentErrorCode>('AGENT_OFFER', `could not declare asks ${want.asks.join(',')} and capacity ${want.capacity}: ${explainError(e)}`, { cause: e });
      }
    }
    this.offer = want;
    // An open assignment runs its workload only between assignment and commit, so a capacity of 64
    // rarely means 64 runs at once; keep warm only as many workers as the host has cores.
    configureSandbox({ idleWorkers: Math.min(want.capacity, availableParallelism()), maxWorkers: want.capacity });
    const pool = this.#o.pool;
    if (pool !== undefined && pool !== ((await this.#hub.poolOf(this.address)) as bigint)) {
      try {
        const rc = await this.#tx.send('joinPool', (o) => this.#hub.joinPool(pool, o));
        this.#countTx('joinPool', rc.gasUsed);
        this.#log.info({ pool: String(pool), tx: rc.hash }, pool === 0n ? 'left the private pool' : 'joined a private pool');
      } catch (e) {
        throw new PocError<AgentErrorCode>('AGENT_OFFER', `could not join pool ${pool}: ${explainError(e)}`, { cause: e });
      }
    }
  }

  /** Withdraw Hub earnings if there are any; returns the amount (0n if none). */
  async withdraw(): Promise<bigint> {
    const owed = (await this.#hub.withdrawable(this.address)) as bigint;
    if (owed === 0n) return 0n;
    const rc = await this.#tx.send('withdraw', (o) => this.#hub.withdraw(o));
    this.#countTx('withdraw', rc.gasUsed);
    this.metrics.withdrawnWei.inc(Number(owed));
    this.#log.info({ amount: String(owed), tx: rc.hash }, 'earnings withdrawn');
    return owed;
  }

  /** A Hub call with headroom over its estimate (TxSender.sendCall says why). */
  #send(method: 'contribute' | 'reveal' | 'decline', args: unknown[]) {
    return this.#tx.sendCall(method, this.#hub.getFunction(method), args);
  }

  #countTx(kind: string, gas: bigint, ok = true): void {
    this.metrics.txs.inc({ kind, status: ok ? 'ok' : 'failed' });
    this.metrics.gasUsed.inc(Number(gas));
  }

  // ---------------------------------------------------------------- discovery

  async #loadCursor(): Promise<void> {
    try {
      this.#cursor = Number(JSON.parse(await readFile(join(this.#o.datadir, 'cursor.json'), 'utf8')).block);
    } catch {
      const head = await this.#provider.getBlockNumber();
      this.#cursor = (this.#o.fromBlock ?? Math.max(0, head - 10_000)) - 1;
    }
  }

  async #saveCursor(): Promise<void> {
    const path = join(this.#o.datadir, 'cursor.json');
    await writeFile(path + '.tmp', JSON.stringify({ block: this.#cursor }));
    await rename(path + '.tmp', path);
  }

  #scanSoon(): void {
    if (this.#stopped || this.#scanning) return;
    void this.scan().catch((e) => this.#log.warn({ err: explainError(e) }, 'scan failed; will retry'));
  }

  /** Catch up on TaskAssigned logs since the cursor, then re-examine every unfinished task. */
  scan(): Promise<void> {
    if (this.#scanning) return this.#scanning;
    const run = async () => {
      const head = await this.#provider.getBlockNumber();
      while (this.#cursor < head && !this.#stopped) {
        const from = this.#cursor + 1;
        const to = Math.min(head, from + MAX_LOG_RANGE - 1);
        const logs = await this.#provider.getLogs({ address: HUB_ADDRESS, topics: [TASK_ASSIGNED, null, zeroPadValue(this.address, 32)], fromBlock: from, toBlock: to });
        for (const l of logs) await this.#assigned(BigInt(l.topics[1]!), BigInt(l.data), l.blockNumber);
        this.#cursor = to;
        await this.#saveCursor();
      }
      this.metrics.headBlock.set(this.#cursor);
      const open = this.journal.unfinished();
      this.metrics.openTasks.set(open.length);
      for (const r of open) this.#kick(r.taskId);
    };
    this.#scanning = run().finally(() => (this.#scanning = undefined));
    return this.#scanning;
  }

  #onLog(l: RawLog): void {
    if (this.#stopped || l.removed) return;
    const topic = l.topics[0];
    const id = BigInt(l.topics[1]!);
    if (topic === TASK_ASSIGNED) {
      void this.#assigned(id, BigInt(l.data), Number(l.blockNumber)).catch((e) => this.#log.warn({ task: String(id), err: (e as Error).message }, 'journal write failed'));
    } else if (this.journal.get(String(id))) this.#kick(String(id));
  }

  async #assigned(taskId: bigint, expiry: bigint, block: number): Promise<void> {
    const id = String(taskId);
    if (!this.journal.get(id)) {
      await this.journal.assigned(id, { expiry: Number(expiry), block });
      this.metrics.tasks.inc({ step: 'assigned' });
      this.#log.info({ task: id, expiry: Number(expiry), block }, 'task assigned');
    }
    this.#kick(id);
  }

  // ---------------------------------------------------------------- per-task state machine

  /** Advance a task as far as the chain allows; one runner per task, re-run if kicked meanwhile. */
  #kick(id: string): void {
    if (this.#stopped) return;
    const b = this.#busy.get(id);
    if (b) {
      b.again = true;
      return;
    }
    const slot = { again: false };
    this.#busy.set(id, slot);
    const p = (async () => {
      try {
        do {
          slot.again = false;
          await this.#advance(id);
        } while (slot.again && !this.#stopped);
      } catch (e) {
        this.#log.warn({ task: id, err: explainError(e), code: (e as PocError).code }, 'task step failed; will retry');
      } finally {
        this.#busy.delete(id);
      }
    })();
    this.#tasks.add(p);
    void p.finally(() => this.#tasks.delete(p));
  }

  async #advance(id: string): Promise<void> {
    for (;;) {
      if (this.#stopped) return;
      const r = this.journal.get(id);
      if (!r) return;
      const before = r.state;
      if (r.state === 'assigned') await this.#run(r);
      else if (r.state === 'ran') await this.#commit(r);
      else if (r.state === 'committed') await this.#reveal(r);
      else if (r.state === 'revealed') await this.#settle(r);
      else return;
      if (this.journal.get(id)!.state === before) return; // waiting on the chain
    }
  }

  async #abandon(id: string, reason: string): Promise<void> {
    await this.journal.abandoned(id, reason);
    this.metrics.tasks.inc({ step: 'abandoned' });
    this.#log.warn({ task: id, reason }, 'task abandoned');
  }

  /**
   * Give a live assignment up (Hub.decline) when the workload cannot run here: the lock comes
   * back at once and nothing is lost, where letting the assignment expire costs EXPIRY_PENALTY.
   * Best effort: if it fails (expired, closed meanwhile), the task is abandoned all the same.
   */
  async #decline(id: string): Promise<void> {
    try {
      const rc = await this.#send('decline', [BigInt(id)]);
      this.#countTx('decline', rc.gasUsed);
      this.#log.info({ task: id }, 'assignment declined');
    } catch (e) {
      this.#countTx('decline', 0n, false);
      this.#log.warn({ task: id, err: explainError(e) }, 'decline refused');
    }
  }

  #chainState(id: string): Promise<ChainState> {
    return readChainState(this.#hub, this.#provider, this.address, id);
  }

  /**
   * The chain state #run read, handed to the #commit that follows it at once (and the state the
   * contribution's receipt shows, when it reached the consensus, handed to #reveal): reading it
   * again would cost a round trip inside the one block each step has to reach the next proposer
   * (the Hub checks everything again anyway). Taken once; a retry or a restart reads afresh.
   */
  readonly #fresh = new Map<string, ChainState>();

  #takeFresh(id: string): ChainState | undefined {
    const st = this.#fresh.get(id);
    this.#fresh.delete(id);
    return st;
  }

  /** assigned → ran (or abandoned): fetch, verify, run in the sandbox, journal the result. */
  async #run(r: TaskRecord): Promise<void> {
    const id = r.taskId;
    if (this.#o.testBehaviour === 'silent') return; // TEST ONLY: never answers
    // the input is read with the state (one round trip, not two): the workload needs both
    const [state, input] = await Promise.all([this.#chainState(id), this.#hub.taskInput(BigInt(id)) as Promise<string>]);
    const { t, a, head } = state;
    if (Number(t.status) !== TaskStatus.Active) return this.#abandon(id, `task is ${statusName(t.status)} before we ran it`);
    if (Number(a.status) !== AssignmentStatus.Assigned) return this.#abandon(id, `assignment is ${Number(a.status)} on chain but this journal never ran it`);
    if (head >= Number(a.expiry)) return this.#abandon(id, `assignment expired at block ${a.expiry}`);
    let stdout: Uint8Array;
    if (this.#o.testBehaviour === 'wrong-result') {
      stdout = WRONG_RESULT; // TEST ONLY: a saboteur that does not compute
    } else {
      try {
        const limits = this.#o.limits?.(Number(t.category)) ?? categoryLimits(Number(t.category));
        const wasm = await this.#fetch('app', t.app as string);
        const dataset = t.dataset !== ZeroHash ? await this.#fetch('dataset', t.dataset as string) : undefined;
        const res = await runWorkload({ wasm, input: getBytesOf(input), ...(dataset ? { dataset } : {}), limits });
        this.metrics.runSeconds.observe(res.durationMs / 1000);
        stdout = res.stdout;
        this.#log.info({ task: id, digest: res.digest, ms: Math.round(res.durationMs), bytes: stdout.length }, 'task ran');
      } catch (e) {
        if (!isPocError(e) || e.code === 'SANDBOX_ERROR' || e.code === 'CONTENT_UNAVAILABLE') throw e; // host trouble: retry later
        this.metrics.runFailures.inc({ code: e.code });
        await this.#decline(id);
        return this.#abandon(id, `${e.code}: ${e.message}`);
      }
    }
    await this.journal.ran(id, { stdout, digest: keccak256(stdout), salt: newSalt() });
    this.metrics.tasks.inc({ step: 'ran' });
    this.#fresh.set(id, state);
  }

  /** App or dataset bytes by hash: node content store first, then the registered uri; verified. */
  async #fetch(kind: 'app' | 'dataset', hash: string): Promise<Uint8Array> {
    const maxBytes = this.#o.maxContentBytes ?? MAX_CONTENT_BYTES;
    const cached = await this.#cache.get(hash);
    if (cached) return cached;
    const rec = kind === 'app' ? await this.#hub.getApp(hash) : await this.#hub.getDataset(hash);
    return fetchAsset({ hash, baseUrl: this.endpoints.current(), uri: String(rec.uri ?? ''), maxBytes, cache: this.#cache });
  }

  /** ran → committed: read the chain first (a commit may have landed before a crash), then contribute. */
  async #commit(r: TaskRecord): Promise<void> {
    const id = r.taskId;
    const { t, a, head } = this.#takeFresh(id) ?? (await this.#chainState(id));
    if (Number(a.status) >= AssignmentStatus.Contributed) {
      const tx = await this.#findTx(CONTRIBUTED, id);
      await this.journal.committed(id, tx ?? 'unknown');
      this.metrics.tasks.inc({ step: 'committed' });
      return;
    }
    if (Number(t.status) !== TaskStatus.Active) return this.#abandon(id, `task is ${statusName(t.status)}: contributions closed before our commit`);
    if (head + 1 > Number(a.expiry)) return this.#abandon(id, `assignment expired at block ${a.expiry} before our commit`);
    const digest = r.digest!;
    const rh = resultHash(BigInt(id), digest);
    const seal = resultSeal(this.address, BigInt(id), digest);
    try {
      const rc = await this.#send('contribute', [BigInt(id), rh, seal]);
      this.#countTx('contribute', rc.gasUsed);
      // our contribution reached the consensus on our hash: the receipt says all #reveal needs
      const reached = rc.logs.filter((l) => l.topics[0] === CONSENSUS_REACHED).map((l) => hubIface.parseLog(l)!).find((e) => String(e.args.taskId) === id);
      if (reached && reached.args.resultHash === rh) {
        this.#fresh.set(id, { t: { status: TaskStatus.Revealing, consensusHash: rh, revealDeadline: reached.args.revealDeadline }, a: { status: AssignmentStatus.Contributed, resultHash: rh }, head: rc.blockNumber });
      }
      await this.journal.committed(id, rc.hash);
      this.metrics.tasks.inc({ step: 'committed' });
      this.#log.info({ task: id, resultHash: rh, tx: rc.hash }, 'contribution committed');
    } catch (e) {
      if (!isPocError(e) || (e.code !== 'TX_REFUSED' && e.code !== 'TX_REVERTED')) throw e;
      this.#countTx('contribute', 0n, false);
      // refused: find out why from the chain (maybe a resent commit after a crash)
      const again = await this.#chainState(id);
      if (Number(again.a.status) >= AssignmentStatus.Contributed) return this.#commit(r);
      return this.#abandon(id, `contribute refused: ${e.message}`);
    }
  }

  /** committed → revealed once the task is REVEALING with our hash as the consensus. */
  async #reveal(r: TaskRecord): Promise<void> {
    const id = r.taskId;
    if (this.#o.testBehaviour === 'no-reveal') return; // TEST ONLY: withholds its reveal
    const { t, a, head } = this.#takeFresh(id) ?? (await this.#chainState(id));
    if (Number(a.status) === AssignmentStatus.Revealed) {
      await this.journal.revealed(id, (await this.#findTx(REVEALED, id)) ?? 'unknown');
      this.metrics.tasks.inc({ step: 'revealed' });
      return;
    }
    const status = Number(t.status);
    if (status === TaskStatus.Active) return; // vote still open
    if (status !== TaskStatus.Revealing) return this.#abandon(id, `task ${statusName(status)} without our reveal`);
    if (a.resultHash !== t.consensusHash) return this.#abandon(id, `lost the vote: our ${a.resultHash} vs consensus ${t.consensusHash}`);
    if (head + 1 > Number(t.revealDeadline)) return this.#abandon(id, `reveal deadline ${t.revealDeadline} passed`);
    // the bytes go to the node's store before the reveal: the reveal's block can settle the task,
    // and a requester waiting on it reads the result at once (CI run 10 found none there)
    await this.#publishResult(r).catch((e) => this.#log.debug({ task: id, err: (e as Error).message }, 'result upload skipped'));
    try {
      const rc = await this.#send('reveal', [BigInt(id), r.digest!]);
      // TEST ONLY: dies between the reveal's receipt and its journal entry, the instant after which
      // a restart must find the reveal on chain instead of sending it again
      if (this.#o.testBehaviour === 'crash-after-reveal') process.kill(process.pid, 'SIGKILL');
      this.#countTx('reveal', rc.gasUsed);
      await this.journal.revealed(id, rc.hash);
      this.metrics.tasks.inc({ step: 'revealed' });
      this.#log.info({ task: id, digest: r.digest, tx: rc.hash }, 'result revealed');
    } catch (e) {
      if (!isPocError(e) || (e.code !== 'TX_REFUSED' && e.code !== 'TX_REVERTED')) throw e;
      this.#countTx('reveal', 0n, false);
      const again = await this.#chainState(id);
      if (Number(again.a.status) === AssignmentStatus.Revealed) return this.#reveal(r);
      return this.#abandon(id, `reveal refused: ${e.message}`);
    }
  }

  /** Put the result bytes in the node's content store (by digest), so requesters can read them. */
  async #publishResult(r: TaskRecord): Promise<void> {
    const bytes = await this.journal.resultOf(r.taskId);
    if (bytes.length === 0) return;
    await this.#provider.send('pocchain_putContent', ['0x' + Buffer.from(bytes).toString('hex')]);
  }

  /** revealed → done when the task is settled. */
  async #settle(r: TaskRecord): Promise<void> {
    const t = await this.#hub.getTask(BigInt(r.taskId));
    const s = Number(t.status);
    if (s !== TaskStatus.Completed && s !== TaskStatus.Failed) return;
    await this.journal.done(r.taskId);
    this.metrics.tasks.inc({ step: 'done' });
    this.#log.info({ task: r.taskId, status: statusName(s) }, 'task settled');
  }

  /** Transaction hash of our own Contributed/Revealed log for a task (after a crash). */
  async #findTx(topic: string, id: string): Promise<string | undefined> {
    const block = Number(this.journal.get(id)?.meta.block ?? 0);
    const logs = await this.#provider.getLogs({ address: HUB_ADDRESS, topics: [topic, toBeHex(BigInt(id), 32), zeroPadValue(this.address, 32)], fromBlock: block, toBlock: 'latest' });
    return logs[0]?.transactionHash;
  }
}

function statusName(s: unknown): string {
  return ['none', 'active', 'revealing', 'completed', 'failed'][Number(s)] ?? String(s);
}

function getBytesOf(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(String(hex).replace(/^0x/, ''), 'hex'));
}

