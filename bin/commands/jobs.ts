/**
 * Bags of tasks from the CLI: `pocchain task submit --inputs-file FILE|DIR` (one job — one
 * Hub.requestTasks transaction, one escrow — per MAX_BAG inputs), a progress bar on stderr while
 * the tasks settle, `--out DIR` collecting every result; `pocchain job show ID`; `pocchain market`
 * (the executors on offer and a quote for a request before it is paid).
 *
 * Pure parts (reading inputs, chunking, the quote, the progress line) are exported for unit tests;
 * the rest is thin I/O over JSON-RPC.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Command } from 'commander';
import { formatEther, ZeroAddress, ZeroHash, type Contract, type JsonRpcProvider } from 'ethers';
import { PocError } from '../../lib/errors.ts';
import { action, common, example, openProvider, parseAmount, parseCount, parseInteger, progress as say, rpcUrl, toCliError, type Opts, type Outcome } from '../kit.ts';
import { FLAG_SOLO, LOCK_PER_TASK, MAX_BAG, MAX_INPUT_BYTES, MIN_REWARD_PER_REPLICA, NUM_CATEGORIES, STAKING_ADDRESS, openAssignments, quote, replicasFor, rewardPerReplica, taskWeight, weightOf, type MarketEntry } from '../../consensus/poc/index.ts';
import { hubContract, hubIface, stakingIface, STATUS_NAMES, type TxSender } from '../../executor/hub-client.ts';
import { fetchContent } from '../../executor/content.ts';
import { Contract as EthersContract } from 'ethers';

/** Most inputs one `task submit --inputs-file` takes (bounds the work before any transaction). */
export const MAX_INPUTS = 100_000;
/** Tasks read per taskResults call (the Hub's MAX_RESULTS_VIEW). */
const RESULTS_PAGE = 1024;

export type JobCliCode = 'CLI_BAD_INPUTS' | 'CLI_UNKNOWN_JOB' | 'CLI_TIMEOUT';

/**
 * Inputs of a bag: a directory gives one input per regular file (sorted by name); a file gives one
 * input per line (UTF-8, without its line ending; a final empty line is not an input).
 */
export function readInputs(path: string): { inputs: Uint8Array[]; names: string[] } {
  const p = resolve(path);
  let st;
  try {
    st = statSync(p);
  } catch {
    throw new PocError<JobCliCode>('CLI_BAD_INPUTS', `--inputs-file: ${path} does not exist`);
  }
  const check = (inputs: Uint8Array[], names: string[]) => {
    if (inputs.length === 0) throw new PocError<JobCliCode>('CLI_BAD_INPUTS', `--inputs-file: ${path} holds no inputs`);
    const big = inputs.findIndex((x) => x.length > MAX_INPUT_BYTES);
    if (big >= 0) throw new PocError<JobCliCode>('CLI_BAD_INPUTS', `--inputs-file: input ${names[big]} has ${inputs[big]!.length} bytes, the Hub takes at most ${MAX_INPUT_BYTES}`);
    return { inputs, names };
  };
  if (st.isDirectory()) {
    const files = readdirSync(p).filter((f) => statSync(join(p, f)).isFile()).sort();
    if (files.length > MAX_INPUTS) throw new PocError<JobCliCode>('CLI_BAD_INPUTS', `--inputs-file: ${files.length} files, at most ${MAX_INPUTS}`);
    return check(files.map((f) => {
      if (statSync(join(p, f)).size > MAX_INPUT_BYTES) return new Uint8Array(MAX_INPUT_BYTES + 1);
      return new Uint8Array(readFileSync(join(p, f)));
    }), files);
  }
  if (st.size > MAX_INPUTS * (MAX_INPUT_BYTES + 2)) throw new PocError<JobCliCode>('CLI_BAD_INPUTS', `--inputs-file: ${path} is too large`);
  const lines = readFileSync(p, 'utf8').split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length > MAX_INPUTS) throw new PocError<JobCliCode>('CLI_BAD_INPUTS', `--inputs-file: ${lines.length} lines, at most ${MAX_INPUTS}`);
  const enc = new TextEncoder();
  return check(lines.map((l) => enc.encode(l.endsWith('\r') ? l.slice(0, -1) : l)), lines.map((_, i) => `line ${i + 1}`));
}

/**
 * Tasks per requestTasks the CLI sends by default. The Hub takes up to MAX_BAG (256), but a request
 * of 256 costs ~18.7M gas (62% of a block) and the node's gas estimate executes it several times:
 * seconds on a loaded chain, past the node's 5 s RPC EVM timeout (bench/compute.ts met it at the
 * second job of 1,000 inputs). 64 tasks (~4.7M gas) estimate quickly and share blocks with others.
 */
export const DEFAULT_BAG_SIZE = 64;

/** Split n inputs into bags of at most `size` (one job each). */
export function chunks<T>(xs: readonly T[], size = MAX_BAG): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/** Least escrow per task the Hub accepts: fees + maxReplicas × MIN_REWARD_PER_REPLICA. */
export function leastEscrow(fees: bigint, maxReplicas: number): bigint {
  return fees + BigInt(maxReplicas) * MIN_REWARD_PER_REPLICA;
}

/** One progress line: a bar and the counts. */
export function progressLine(done: number, total: number, completed: number, failed: number, width = 30): string {
  const filled = total === 0 ? width : Math.floor((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} settled (${completed} completed, ${failed} failed)`;
}

/** File name of result i of n: zero-padded index, so that `ls` lists them in input order. */
export const resultName = (i: number, n: number, ext: string) => `${String(i).padStart(String(Math.max(n - 1, 0)).length, '0')}.${ext}`;

export interface BagRequest {
  app: string;
  dataset: string;
  trust: bigint;
  minReplicas: number;
  maxReplicas: number;
  maxPrice: bigint;
  callback: string;
  solo: boolean;
  /** escrow per task */
  escrow: bigint;
  /** only members of this private pool (requestTasksInPool) */
  pool?: bigint;
}

export interface JobRef {
  jobId: bigint;
  firstTaskId: bigint;
  count: number;
  tx: string;
  block: number;
}

/** Send one requestTasks per bag of `bagSize` inputs. */
export async function requestBags(hub: Contract, tx: TxSender, r: BagRequest, inputs: Uint8Array[], log: (s: string) => void, bagSize = DEFAULT_BAG_SIZE): Promise<JobRef[]> {
  const spec = [r.app, r.dataset, r.trust, r.minReplicas, r.maxReplicas, r.maxPrice, r.callback, r.solo ? FLAG_SOLO : 0];
  const jobs: JobRef[] = [];
  for (const bag of chunks(inputs, bagSize)) {
    const value = { value: r.escrow * BigInt(bag.length) };
    const rc = r.pool
      ? await tx.sendCall('requestTasksInPool', hub.getFunction('requestTasksInPool'), [spec, bag, r.pool], value)
      : await tx.sendCall('requestTasks', hub.getFunction('requestTasks'), [spec, bag], value);
    const ev = rc.logs.map((l) => hubIface.parseLog(l)).find((l) => l?.name === 'JobRequested')!;
    const job = { jobId: ev.args.jobId as bigint, firstTaskId: ev.args.firstTaskId as bigint, count: Number(ev.args.count), tx: rc.hash, block: rc.blockNumber };
    jobs.push(job);
    log(`job ${job.jobId}: tasks ${job.firstTaskId}..${job.firstTaskId + BigInt(job.count) - 1n} requested in block ${job.block} (tx ${job.tx}), escrow ${formatEther(r.escrow * BigInt(bag.length))}`);
  }
  return jobs;
}

/**
 * How long a long-running bag command keeps retrying a node that fails transiently (restarting,
 * its call pool full, an internal error) before it gives up. One such read used to end a bag of
 * 1,000 tasks at 816 settled (the bench, run 2026-12-03) with "missing revert data".
 */
export const TRANSIENT_RETRY_MS = 60_000;
/** Failures of reads worth retrying: nothing was sent, the node may answer the next time. */
export const READ_RETRY = new Set(['RPC_UNREACHABLE', 'RPC_ERROR', 'RPC_TIMEOUT']);
/** Failures of a request worth retrying: its estimate failed, so nothing was sent. */
export const SEND_RETRY = new Set(['RPC_ERROR', 'TX_ESTIMATE_TIMEOUT']);

/** Run `fn`, retrying failures whose code is in `codes` for up to `budgetMs`, with a line each on `log`. */
export async function retryTransient<T>(what: string, fn: () => Promise<T>, codes: ReadonlySet<string>, log: (s: string) => void, budgetMs = TRANSIENT_RETRY_MS): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const err = toCliError(e);
      if (!codes.has(err.code) || Date.now() - started > budgetMs) throw e;
      log(`${what} failed [${err.code}]: ${err.message}; retrying`);
      await new Promise((r) => setTimeout(r, Math.min(500 * attempt, 5_000)));
    }
  }
}

/** Statuses and results of `count` tasks from `first`, in pages the Hub accepts. */
async function results(hub: Contract, first: bigint, count: number): Promise<{ statuses: number[]; digests: string[] }> {
  const statuses: number[] = [];
  const digests: string[] = [];
  for (let i = 0; i < count; i += RESULTS_PAGE) {
    const [s, d] = await hub.taskResults(first + BigInt(i), Math.min(RESULTS_PAGE, count - i));
    statuses.push(...(s as bigint[]).map(Number));
    digests.push(...(d as string[]));
  }
  return { statuses, digests };
}

export interface BagOutcome {
  completed: number;
  failed: number;
  collected: number;
  statuses: number[];
  digests: string[];
}

/**
 * Wait until every task of the jobs is settled, printing a progress line on stderr when the counts
 * change; with `out`, write each completed task's result bytes (from the node's content store) to
 * out/<index>.out as it completes, failed ones as out/<index>.failed, and out/results.json at the end.
 */
export async function collectBags(
  hub: Contract,
  rpc: string,
  jobs: JobRef[],
  o: {
    out?: string;
    timeoutMs?: number;
    log: (s: string) => void;
    /** tasks of the whole bag when `more` will add jobs (default: those of `jobs`) */
    total?: number;
    /** called at each poll with the number of unsettled tasks and the counts so far: the next job to follow, if it is time */
    more?: (unsettled: number, settled: { completed: number; failed: number }) => Promise<JobRef | undefined>;
    pollMs?: number;
  },
): Promise<BagOutcome> {
  const n = o.total ?? jobs.reduce((s, j) => s + j.count, 0);
  const written = new Set<number>();
  if (o.out) mkdirSync(o.out, { recursive: true });
  const started = Date.now();
  let last = '';
  // what each job read last: a job whose tasks are all settled is not read again (a bag of 1,000
  // in jobs of 8 made 125 calls per poll by its end)
  const known: { statuses: number[]; digests: string[] }[] = [];
  for (;;) {
    const statuses: number[] = [];
    const digests: string[] = [];
    for (const [k, j] of jobs.entries()) {
      let r = known[k];
      if (!r || !r.statuses.every((s) => s === 3 || s === 4)) r = known[k] = await retryTransient(`reading job ${j.jobId}`, () => results(hub, j.firstTaskId, j.count), READ_RETRY, o.log);
      statuses.push(...r.statuses);
      digests.push(...r.digests);
    }
    if (o.out) {
      for (let i = 0; i < n; i++) {
        if (written.has(i)) continue;
        if (statuses[i] === 3) {
          const bytes = await fetchContent({ hash: digests[i]!, baseUrl: rpc, maxBytes: 8 << 20, timeoutMs: 5000 }).catch(() => undefined);
          if (!bytes) continue; // the executor has not published it yet: next round
          writeFileSync(join(o.out, resultName(i, n, 'out')), bytes);
          written.add(i);
        } else if (statuses[i] === 4) {
          writeFileSync(join(o.out, resultName(i, n, 'failed')), '');
          written.add(i);
        }
      }
    }
    const completed = statuses.filter((s) => s === 3).length;
    const failed = statuses.filter((s) => s === 4).length;
    // jobs requested now count as active (status 1) until the next poll reads them
    for (let next = await o.more?.(statuses.length - completed - failed, { completed, failed }); next; next = await o.more!(statuses.length - completed - failed, { completed, failed })) {
      jobs.push(next);
      statuses.push(...new Array<number>(next.count).fill(1));
      digests.push(...new Array<string>(next.count).fill(ZeroHash));
    }
    const line = progressLine(completed + failed, n, completed, failed);
    if (line !== last) {
      o.log(line);
      last = line;
    }
    const settled = statuses.length === n && completed + failed === n && (!o.out || written.size === n);
    if (settled) {
      if (o.out) writeFileSync(join(o.out, 'results.json'), JSON.stringify({ jobs: jobs.map((j) => ({ ...j, jobId: String(j.jobId), firstTaskId: String(j.firstTaskId) })), tasks: statuses.map((s, i) => ({ index: i, taskId: String(taskIdAt(jobs, i)), status: STATUS_NAMES[s], digest: s === 3 ? digests[i] : null })) }, null, 1));
      return { completed, failed, collected: o.out ? [...written].filter((i) => statuses[i] === 3).length : 0, statuses, digests };
    }
    if (o.timeoutMs !== undefined && Date.now() - started > o.timeoutMs) throw new PocError<JobCliCode>('CLI_TIMEOUT', `${n - completed - failed} of ${n} tasks not settled after ${o.timeoutMs / 1000} s; follow them with \`pocchain job show ${jobs[0]!.jobId}\``);
    await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
  }
}

/** Task id of the i-th input across the jobs. */
function taskIdAt(jobs: JobRef[], i: number): bigint {
  for (const j of jobs) {
    if (i < j.count) return j.firstTaskId + BigInt(i);
    i -= j.count;
  }
  throw new RangeError('index past the jobs');
}

/**
 * How many tasks of this request the executors on offer run at once: their free assignment slots
 * (capacity and stake left, ask within the reward, in the pool) over the executors the Hub draws
 * per task (what a fresh task's trust needs of newcomers, within min..max replicas). At least 1.
 */
export async function concurrentTasks(provider: JsonRpcProvider, hub: Contract, r: BagRequest): Promise<{ tasks: number; slots: number; replicas: number }> {
  const m = await marketView(provider, hub, { app: r.app, ...(r.dataset !== ZeroHash ? { dataset: r.dataset } : {}), replicas: r.maxReplicas, tasks: 1, price: r.escrow, ...(r.pool ? { pool: r.pool } : {}) });
  return { ...tasksAtOnce(m.quote.slots, r), slots: m.quote.slots };
}

/** The pure part of concurrentTasks: executors per task, and tasks that `slots` run at once. */
export function tasksAtOnce(slots: number, r: Pick<BagRequest, 'trust' | 'minReplicas' | 'maxReplicas' | 'solo'>): { tasks: number; replicas: number } {
  const need = replicasFor(r.trust < 1n ? 1n : r.trust, taskWeight(0n, r.trust, r.solo ? FLAG_SOLO : 0), r.maxReplicas);
  const replicas = Math.min(r.maxReplicas, Math.max(r.minReplicas, need));
  return { tasks: Math.max(1, Math.floor(slots / replicas)), replicas };
}

/**
 * The paced bag's window of unsettled tasks, as TCP's congestion window: halved (down to one job)
 * when tasks failed since the last look, else grown by one job per window's worth of settled tasks
 * (up to `max`). Failures here are mostly deadlines a loaded chain made its tasks miss, so sending
 * more at the same rate would fail more.
 */
export function nextWindow(window: number, s: { jobSize: number; max: number; settled: number; failed: number }): number {
  if (s.failed > 0) return Math.max(s.jobSize, Math.floor(window / 2));
  return Math.min(s.max, window + (s.jobSize * Math.max(0, s.settled)) / window);
}

/** `task submit --inputs-file`: the bag path of the command (poc.ts parses the shared flags). */
export async function submitBag(o: Opts, provider: JsonRpcProvider, hub: Contract, tx: TxSender, r: BagRequest): Promise<Outcome> {
  const { inputs } = readInputs(String(o.inputsFile));
  const log = (s: string) => say(o, s);
  const paced = !!(o.wait || o.out);
  // A task is drawn for only while a whole assignment window (2T) fits before its contribution
  // deadline (created + 7T); one still waiting after 5T fails, refunded. So the tasks waiting for
  // executors must be few: a bag of 1,000 requested as jobs of 64 on 3 executors (8 tasks at a
  // time) failed 88 of its first 256 that way. Paced, by default: jobs of what the executors on
  // offer run at once, and at most twice that unsettled (one job running, the next one waiting).
  const offer = paced && o.bagSize === undefined ? await concurrentTasks(provider, hub, r) : undefined;
  const bagSize = o.bagSize !== undefined ? parseCount(o.bagSize, '--bag-size', 1, MAX_BAG) : offer ? Math.min(DEFAULT_BAG_SIZE, offer.tasks) : DEFAULT_BAG_SIZE;
  log(`${inputs.length} input(s): ${Math.ceil(inputs.length / bagSize)} job(s) of at most ${bagSize} tasks, escrow ${formatEther(r.escrow)} per task`);
  const refOf = (j: JobRef) => ({ jobId: String(j.jobId), firstTaskId: String(j.firstTaskId), count: j.count, tx: j.tx, block: j.block });
  if (!paced) {
    const jobs = await requestBags(hub, tx, r, inputs, log, bagSize);
    return { json: { jobs: jobs.map(refOf), tasks: inputs.length }, text: jobs.map((j) => `job ${j.jobId}: tasks ${j.firstTaskId}..${j.firstTaskId + BigInt(j.count) - 1n}`).join('\n') };
  }
  const maxInFlight = o.maxInFlight !== undefined ? parseCount(o.maxInFlight, '--max-in-flight', 1, MAX_INPUTS) : o.bagSize !== undefined ? bagSize : 2 * bagSize;
  const pacing = { jobSize: bagSize, maxInFlight, ...(offer ? { executorSlots: offer.slots, replicasPerTask: offer.replicas, concurrentTasks: offer.tasks } : {}) };
  if (offer) log(`paced: the executors on offer have ${offer.slots} free slot(s), ${offer.replicas} per task: jobs of ${bagSize}, at most ${maxInFlight} task(s) unsettled`);
  const pending = chunks(inputs, bagSize);
  const request = async (bag: Uint8Array[]): Promise<JobRef> => (await retryTransient('requesting a job', () => requestBags(hub, tx, r, bag, log, bagSize), SEND_RETRY, log))[0]!;
  const jobs = [await request(pending.shift()!)];
  // the unsettled tasks allowed follow the chain: tasks that fail (a deadline missed on a chain that
  // cannot settle what the executors' slots take) halve the window, settled ones let it grow back
  let window = maxInFlight;
  let seen = { completed: 0, failed: 0 };
  const more = async (unsettled: number, now: { completed: number; failed: number }): Promise<JobRef | undefined> => {
    const w = nextWindow(window, { jobSize: bagSize, max: maxInFlight, settled: now.completed + now.failed - seen.completed - seen.failed, failed: now.failed - seen.failed });
    if (w < window) log(`${now.failed - seen.failed} task(s) failed: at most ${w} unsettled from now (was ${Math.floor(window)})`);
    window = w;
    seen = now;
    return pending.length > 0 && unsettled + pending[0]!.length <= Math.max(window, pending[0]!.length) ? request(pending.shift()!) : undefined;
  };
  const timeoutMs = o.timeout !== undefined ? parseCount(o.timeout, '--timeout', 1, 86_400 * 30) * 1000 : undefined;
  const res = await collectBags(hub, rpcUrl(o), jobs, { ...(o.out ? { out: resolve(String(o.out)) } : {}), ...(timeoutMs !== undefined ? { timeoutMs } : {}), log, total: inputs.length, more });
  const json = { jobs: jobs.map(refOf), tasks: inputs.length, pacing, completed: res.completed, failed: res.failed, out: o.out ? resolve(String(o.out)) : null, collected: res.collected };
  const text = `${inputs.length} task(s) in ${jobs.length} job(s): ${res.completed} completed, ${res.failed} failed${o.out ? `; ${res.collected} result(s) written to ${resolve(String(o.out))}` : ''}`;
  return { json, text, exitCode: res.failed > 0 ? 2 : 0 };
}

// ------------------------------------------------------------------------------- job show

export async function describeJob(hub: Contract, jobId: bigint) {
  const j = await hub.getJob(jobId);
  if (j.requester === ZeroAddress) throw new PocError<JobCliCode>('CLI_UNKNOWN_JOB', `job ${jobId} does not exist`);
  const count = Number(j.count);
  const { statuses, digests } = await results(hub, j.firstTask as bigint, count);
  const counts: Record<string, number> = {};
  for (const s of statuses) counts[STATUS_NAMES[s]!] = (counts[STATUS_NAMES[s]!] ?? 0) + 1;
  return {
    jobId: String(jobId),
    requester: j.requester as string,
    app: j.app as string,
    dataset: j.dataset === ZeroHash ? null : (j.dataset as string),
    trust: Number(j.trust),
    replicas: { min: Number(j.minReplicas), max: Number(j.maxReplicas) },
    solo: (Number(j.flags) & FLAG_SOLO) !== 0,
    escrowPerTask: String(j.escrow),
    fees: { app: String(j.appFee), dataset: String(j.datasetFee), pool: String(j.poolFee) },
    pool: BigInt(j.pool) === 0n ? null : String(j.pool),
    blocks: { created: Number(j.createdAt), contributionDeadline: Number(j.contributionDeadline), finalDeadline: Number(j.finalDeadline) },
    firstTaskId: String(j.firstTask),
    count,
    counts,
    tasks: statuses.map((s, i) => ({ taskId: String((j.firstTask as bigint) + BigInt(i)), status: STATUS_NAMES[s], result: s === 3 ? digests[i] : null })),
  };
}

function formatJob(i: Awaited<ReturnType<typeof describeJob>>): string {
  const L = [
    `job ${i.jobId}: ${i.count} task(s) ${i.firstTaskId}..${BigInt(i.firstTaskId) + BigInt(i.count) - 1n}  (${Object.entries(i.counts).map(([k, v]) => `${v} ${k}`).join(', ')})`,
    `  requester ${i.requester}, escrow ${formatEther(i.escrowPerTask)} per task, trust ${i.trust}${i.solo ? ' (solo allowed)' : ''}, replicas ${i.replicas.min}..${i.replicas.max}${i.pool ? `, private pool ${i.pool} (fee ${formatEther(i.fees.pool)} per task)` : ''}`,
    `  app ${i.app}${i.dataset ? `, dataset ${i.dataset}` : ''}`,
    `  blocks: created ${i.blocks.created}, contributions until ${i.blocks.contributionDeadline}, final deadline ${i.blocks.finalDeadline}`,
  ];
  for (const t of i.tasks) L.push(`  task ${t.taskId}  ${t.status}${t.result ? `  ${t.result}` : ''}`);
  return L.join('\n');
}

// ------------------------------------------------------------------------------- market

/**
 * The executors on offer (active list: stake, free stake, score, weight, asks per category,
 * capacity in use / declared) and a quote for a request before it is paid: its reward per replica
 * ((escrow − fees) / maxReplicas, or --reward), how many executors the Hub could draw for it now
 * (ask ≤ reward, capacity and stake left), and the least escrow per task at which `replicas`
 * executors fit.
 */
export async function marketView(provider: JsonRpcProvider, hub: Contract, q: { app?: string; dataset?: string; replicas: number; tasks: number; category?: number; reward?: bigint; price?: bigint; pool?: bigint }) {
  const staking = new EthersContract(STAKING_ADDRESS, stakingIface, provider);
  const active = (await staking.activeExecutors()) as string[];
  const executors = [];
  const entries: MarketEntry[] = [];
  for (const a of active) {
    const [[stake, locked], score, [asks, capacity, declared], member] = await Promise.all([
      staking.executorInfo(a) as Promise<[bigint, bigint]>, hub.score(a) as Promise<bigint>, hub.offerOf(a) as Promise<[bigint[], bigint, boolean]>, hub.poolOf(a) as Promise<bigint>,
    ]);
    const offer = { asks: [...asks], capacity: Number(capacity), declared };
    entries.push({ executor: a, offer, free: stake - locked, locked, pool: member });
    const open = openAssignments(locked);
    executors.push({
      executor: a, stake: String(stake), free: String(stake - locked), freeSlots: Number((stake - locked) / LOCK_PER_TASK), score: String(score), weight: String(weightOf(score)),
      asks: offer.asks.map(String), declared, pool: member === 0n ? null : String(member), capacity: { open, total: offer.capacity, free: Math.max(0, Math.min(offer.capacity - open, Number((stake - locked) / LOCK_PER_TASK))) },
    });
  }
  let fees = 0n;
  let category = q.category ?? 0;
  if (q.app) {
    const app = await hub.getApp(q.app);
    fees += app.price as bigint;
    if (q.category === undefined) category = Number(app.category);
  }
  if (q.dataset) fees += (await hub.getDataset(q.dataset)).price as bigint;
  const feeBps = q.pool ? BigInt((await hub.getPool(q.pool)).feeBps) : 0n;
  const poolFee = (price: bigint) => ((price - fees) * feeBps) / 10_000n;
  const perReplica = q.reward ?? (q.price !== undefined ? (q.price > fees ? rewardPerReplica(q.price, fees + poolFee(q.price), q.replicas) : 0n) : MIN_REWARD_PER_REPLICA);
  const qt = quote(entries, category, perReplica, q.replicas, q.pool ?? 0n);
  // the executors' reward must be replicas × rewardFor after the pool's cut: reward / (1 − fee), rounded up
  const grossUp = (r: bigint) => (feeBps === 0n ? r : (r * 10_000n + (10_000n - feeBps) - 1n) / (10_000n - feeBps) + 1n);
  const floor = fees + grossUp(BigInt(q.replicas) * MIN_REWARD_PER_REPLICA);
  const perTask = qt.rewardFor === null ? floor : fees + grossUp(BigInt(q.replicas) * qt.rewardFor);
  return {
    executors,
    capacity: executors.reduce((s, e) => s + e.capacity.free, 0),
    quote: {
      app: q.app ?? null, dataset: q.dataset ?? null, pool: q.pool ? String(q.pool) : null, poolFeeBps: Number(feeBps), category, maxReplicas: q.replicas, fees: String(fees), rewardPerReplica: String(perReplica),
      fitting: qt.fitting, slots: qt.slots, pricedOut: qt.pricedOut, outsidePool: qt.outsidePool, busy: qt.busy,
      rewardForReplicas: qt.rewardFor === null ? null : String(qt.rewardFor),
      leastEscrowPerTask: String(perTask), tasks: q.tasks, leastEscrowTotal: String(perTask * BigInt(q.tasks)), minRewardPerReplica: String(MIN_REWARD_PER_REPLICA),
    },
  };
}

/** `job show ID` and `market`. */
export function registerJobCommands(program: Command): void {
  const job = program.command('job').description('jobs: bags of tasks requested in one transaction');
  const show = job.command('show <jobId>').description('a job\'s request, and the status and result of each of its tasks');
  example(common(show), 'pocchain job show 3 --json');
  show.action(
    action(async (id: string, o: Opts): Promise<Outcome> => {
      const provider = await openProvider(rpcUrl(o));
      try {
        const info = await describeJob(hubContract(provider), parseInteger(id, 'jobId', { min: 1n, max: 2n ** 64n }));
        return { json: info, text: formatJob(info) };
      } finally {
        provider.destroy();
      }
    }),
  );
  const market = program
    .command('market')
    .description('executors on offer (stake, score, asks per category, capacity in use) and a quote for a request before it is paid: how many executors its reward per replica reaches')
    .option('--app <hash>', 'app of the request (its fee and category are in the quote)')
    .option('--dataset <hash>', 'dataset of the request')
    .option('--category <n>', `task category 0..${NUM_CATEGORIES - 1} (default: the app's, else 0)`)
    .option('--replicas <n>', 'maxReplicas of the request', '8')
    .option('--reward <coins>', 'reward per replica to quote (default: from --price, else the Hub\'s minimum)')
    .option('--price <coins>', 'escrow per task to quote: reward per replica = (price − fees) / replicas')
    .option('--tasks <n>', 'tasks in the bag', '1')
    .option('--pool <id>', 'quote a request restricted to this private pool (its members, after its fee)');
  example(common(market), 'pocchain market --app 0x<hash> --replicas 3 --tasks 200', 'pocchain market --category 1 --replicas 3 --reward 0.002 --json');
  market.action(
    action(async (o: Opts): Promise<Outcome> => {
      const provider = await openProvider(rpcUrl(o));
      try {
        const v = await marketView(provider, hubContract(provider), {
          ...(o.app ? { app: String(o.app) } : {}),
          ...(o.dataset ? { dataset: String(o.dataset) } : {}),
          replicas: parseCount(o.replicas, '--replicas', 1, 32),
          tasks: parseCount(o.tasks, '--tasks', 1, MAX_INPUTS),
          ...(o.category !== undefined ? { category: parseCount(o.category, '--category', 0, NUM_CATEGORIES - 1) } : {}),
          ...(o.reward !== undefined ? { reward: parseAmount(o.reward, '--reward', { allowZero: true }) } : {}),
          ...(o.price !== undefined ? { price: parseAmount(o.price, '--price', { allowZero: true }) } : {}),
          ...(o.pool !== undefined ? { pool: parseInteger(o.pool, '--pool', { min: 1n, max: 2n ** 48n - 1n }) } : {}),
        });
        const q = v.quote;
        const L = [`${v.executors.length} active executor(s), ${v.capacity} free assignment slot(s) (capacity left, within free stake at ${formatEther(LOCK_PER_TASK)} per assignment)`];
        for (const e of v.executors) L.push(`  ${e.executor}  stake ${formatEther(e.stake)}, free ${formatEther(e.free)}, score ${e.score}, weight ${e.weight}, asks ${e.asks.map((a) => formatEther(a)).join(' / ')}${e.declared ? '' : ' (never declared)'}, capacity ${e.capacity.free}/${e.capacity.total} free (${e.capacity.open} open)`);
        L.push(`quote, category ${q.category}, ${q.maxReplicas} replica(s), reward ${formatEther(q.rewardPerReplica)} per replica: ${q.fitting} executor(s) fit now (${q.slots} slot(s)); ${q.pricedOut} ask more, ${q.busy} at capacity or short of stake`);
        L.push(q.rewardForReplicas === null
          ? `  fewer than ${q.maxReplicas} executors have room now at any price; the least escrow the Hub takes is ${formatEther(q.leastEscrowPerTask)} per task`
          : `  ${q.maxReplicas} executor(s) fit from ${formatEther(q.rewardForReplicas)} per replica: escrow at least fees ${formatEther(q.fees)} + ${q.maxReplicas} × ${formatEther(q.rewardForReplicas)} = ${formatEther(q.leastEscrowPerTask)} per task, ${formatEther(q.leastEscrowTotal)} for ${q.tasks} task(s)`);
        return { json: v, text: L.join('\n') };
      } finally {
        provider.destroy();
      }
    }),
  );
}
