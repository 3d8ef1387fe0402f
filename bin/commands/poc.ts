/**
 * CLI of the compute market: `pocchain executor`, `pocchain app publish`, `pocchain dataset
 * publish`, `pocchain task submit`, `pocchain task show`. Thin: flags → executor/ and the Hub over
 * JSON-RPC. Keys come from --key, --key-file or POCCHAIN_KEY and are never printed or logged.
 * With --json each command prints exactly one JSON object on stdout; progress goes to stderr.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { Wallet, ZeroAddress, ZeroHash, formatEther, getAddress, hexlify, keccak256, parseEther, toUtf8String, type Contract, type JsonRpcProvider } from 'ethers';
import { PocError } from '../../lib/errors.ts';
import { accountAddress, accountOptions, action, common, openProvider, example, parseAddress, parseAmount, parseCount, parseHash, parseInteger, progress as say, rpcUrl, signingKey, type Opts, type Outcome } from '../kit.ts';
import { createLogger } from '../../lib/log.ts';
import { ASK_UNIT, HUB_ADDRESS, MAX_ASK, MAX_BAG, MAX_CAPACITY, NUM_CATEGORIES, categoryTime } from '../../consensus/poc/index.ts';
import { hubContract, hubIface, TxSender, explainError, STATUS_NAMES, ASSIGNMENT_NAMES } from '../../executor/hub-client.ts';
import { fetchContent } from '../../executor/content.ts';
import { PAID_KINDS, assetsOf, logsInWindows, taskCredits, tasksOf, type Credit } from '../hub-reads.ts';
import { DEFAULT_BAG_SIZE, registerJobCommands, submitBag } from './jobs.ts';
import { registerProveCommand } from './prove.ts';
import { registerVerifyCommand } from './verify.ts';
import { parsePoolId, registerPoolCommands } from './pools.ts';

/** Coins from a flag (the kit's one amount parser; zero allowed for prices). */
const coins = (v: unknown, what: string): bigint => parseAmount(v, what, { allowZero: true });

async function connect(o: Opts, needKey = true): Promise<{ provider: JsonRpcProvider; hub: Contract; wallet?: Wallet; tx?: TxSender }> {
  const key = needKey ? signingKey(o) : undefined; // a bad key fails before any network
  const provider = await openProvider(rpcUrl(o));
  if (!key) return { provider, hub: hubContract(provider) };
  const wallet = new Wallet(key, provider);
  return { provider, hub: hubContract(wallet), wallet, tx: new TxSender(wallet) };
}

async function putContent(provider: JsonRpcProvider, bytes: Uint8Array): Promise<string> {
  try {
    return (await provider.send('pocchain_putContent', [hexlify(bytes)])) as string;
  } catch (e) {
    throw new PocError('CLI_UPLOAD', `uploading to the node's content store failed: ${explainError(e)}`, { cause: e });
  }
}

// ---------------------------------------------------------------------------------- executor

/**
 * `--ask` values (repeatable, or comma-separated): `COINS` sets the ask of every category, `CAT:COINS`
 * of one category (0..3); later values win. Returns one ask per category in wei, null where none
 * was given (the chain's is kept). An ask is the least reward per task replica the executor takes.
 */
export function parseAsks(specs: readonly string[]): (bigint | null)[] {
  const asks: (bigint | null)[] = Array.from({ length: NUM_CATEGORIES }, () => null);
  for (const item of specs.flatMap((s) => String(s).split(',')).map((s) => s.trim())) {
    const m = /^(?:(\d+):)?(.+)$/.exec(item);
    const cat = m?.[1] !== undefined ? Number(m[1]) : null;
    if (!m || (cat !== null && cat >= NUM_CATEGORIES)) throw new PocError('CLI_BAD_ASK', `--ask: "${item}" is not COINS or CATEGORY:COINS with a category 0..${NUM_CATEGORIES - 1}`);
    const wei = coins(m[2], '--ask');
    if (wei % ASK_UNIT !== 0n || wei > MAX_ASK) throw new PocError('CLI_BAD_ASK', `--ask: ${m[2]} is not a multiple of ${formatEther(ASK_UNIT)} up to ${formatEther(MAX_ASK)}`);
    if (cat === null) asks.fill(wei);
    else asks[cat] = wei;
  }
  return asks;
}

/** Commander collector of a repeatable option. */
const collect = (v: string, prev: string[]): string[] => [...prev, v];

function executorCommand(program: Command): void {
  const c = program
    .command('executor')
    .description('run an executor agent: stake, receive tasks over ws, run them in the wasm sandbox, commit, reveal, withdraw earnings')
    .requiredOption('--datadir <dir>', 'executor data directory (task journal, cursor, content cache)')
    .option('--ws <url>', 'node websocket URL (default: the RPC URL with ws://)')
    .option('--stake <coins>', 'bonded stake to keep (topped up at start)', '2')
    .option('--ask <coins|cat:coins>', 'least reward per task replica you take, for every category or one (0..3); repeatable (default: keep the chain\'s, 0 if never declared)', collect, [])
    .option('--pool <id>', 'be a member of this private pool (its owner lists you first with `pool add`); 0 leaves your pool (default: keep the chain\'s)')
    .option('--capacity <n>', `tasks you take at once, 1..${MAX_CAPACITY}: the sandbox runs that many workloads concurrently (default: keep the chain's, 8 if never declared)`)
    .option('--metrics-port <port>', 'serve Prometheus metrics on 127.0.0.1:<port>/metrics')
    .option('--withdraw-every <seconds>', 'withdraw earnings this often (0 = never)', '30')
    .option('--scan-interval <ms>', 'catch-up scan interval', '1000')
    .addOption(new Option('--test-behaviour <mode>', 'TEST ONLY: wrong-result | silent | no-reveal | crash-after-reveal').hideHelp());
  example(common(c, { key: 'executor', log: true }), 'pocchain executor --key-file exec.key --datadir ./exec --stake 2 --rpc http://127.0.0.1:8545,http://127.0.0.1:8546', 'pocchain executor --key-file exec.key --datadir ./exec --ask 0.001 --ask 3:0.01 --capacity 4');
  c.action(
    action(async (o: Opts) => {
      const { ExecutorAgent } = await import('../../executor/agent.ts');
      const { createExecutorMetrics, serveMetrics } = await import('../../executor/metrics.ts');
      const asks = parseAsks(o.ask ?? []);
      const capacity = o.capacity !== undefined ? parseCount(o.capacity, '--capacity', 1, MAX_CAPACITY) : undefined;
      const logger = createLogger({ name: 'pocchain-executor', level: o.logLevel });
      const metrics = createExecutorMetrics({ defaults: true });
      const metricsPort = o.metricsPort !== undefined ? parseCount(o.metricsPort, '--metrics-port', 1, 65535) : undefined;
      const server = metricsPort !== undefined ? await serveMetrics(metrics, metricsPort) : undefined;
      const { parseRpcList } = await import('../../executor/endpoints.ts');
      // --rpc URL1,URL2,...: the first reachable node, the others to fail over to
      const [first, ...failoverUrls] = parseRpcList(rpcUrl(o));
      const agent = await ExecutorAgent.start({
        rpcUrl: first!,
        failoverUrls,
        ...(o.ws ? { wsUrl: o.ws } : {}),
        privateKey: signingKey(o),
        datadir: resolve(o.datadir),
        stake: coins(o.stake, '--stake'),
        asks,
        ...(capacity !== undefined ? { capacity } : {}),
        ...(o.pool !== undefined ? { pool: String(o.pool) === '0' ? 0n : parsePoolId(o.pool, '--pool') } : {}),
        withdrawEveryMs: parseCount(o.withdrawEvery, '--withdraw-every', 0, 86_400 * 365) * 1000,
        scanMs: parseCount(o.scanInterval, '--scan-interval', 10, 3_600_000),
        logger,
        metrics,
        ...(o.testBehaviour ? { testBehaviour: o.testBehaviour } : {}),
      });
      if (o.json) process.stdout.write(JSON.stringify({ executor: agent.address, datadir: resolve(o.datadir), metricsPort: metricsPort ?? null, asks: agent.offer!.asks.map(String), capacity: agent.offer!.capacity }) + '\n');
      let stopping = false;
      const shutdown = async () => {
        if (stopping) return;
        stopping = true;
        await agent.stop();
        server?.close();
        process.exit(0);
      };
      process.on('SIGINT', () => void shutdown());
      process.on('SIGTERM', () => void shutdown());
    }),
  );
}

// ---------------------------------------------------------------------------------- app / dataset

function publishCommands(program: Command): void {
  const app = program.command('app').description('workloads (WebAssembly apps) registered in the Hub');
  const pub = app
    .command('publish <wasm>')
    .description('upload a .wasm to the node\'s content store and register it in the Hub (hash = keccak256 of the bytes)')
    .option('--price <coins>', 'fee paid to you per completed task', '0')
    .option('--category <n>', 'task category: time reference T = 5, 20, 60, 240 blocks for 0..3', '0')
    .option('--uri <uri>', 'where else executors can fetch the wasm (http/https)', '')
    .option('--no-upload', 'do not upload; only register (the uri must serve the bytes)');
  example(common(pub, { key: 'app owner' }), 'pocchain app publish examples/build/echo.wasm --price 0.01 --key-file owner.key');
  pub.action(
    action(async (file: string, o: Opts) => {
      const bytes = new Uint8Array(readFileSync(resolve(file)));
      if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) throw new PocError('CLI_NOT_WASM', `${file} is not a WebAssembly binary`);
      const category = parseCount(o.category, '--category', 0, 255);
      categoryTime(category); // throws on an unknown category
      return publish(o, 'app', bytes, coins(o.price, '--price'), category);
    }),
  );
  assetListCommand(app, 'app');
  const ds = program.command('dataset').description('datasets registered in the Hub');
  assetListCommand(ds, 'dataset');
  const dpub = ds
    .command('publish <file>')
    .description('upload a dataset to the node\'s content store and register it in the Hub')
    .option('--price <coins>', 'fee paid to you per completed task using it', '0')
    .option('--uri <uri>', 'where else executors can fetch it (http/https)', '')
    .option('--no-upload', 'do not upload; only register');
  example(common(dpub, { key: 'dataset owner' }), 'pocchain dataset publish words.txt --price 0.005 --key-file owner.key');
  dpub.action(
    action(async (file: string, o: Opts) => {
      return publish(o, 'dataset', new Uint8Array(readFileSync(resolve(file))), coins(o.price, '--price'), 0);
    }),
  );
}

/** `app list` / `dataset list`: what an owner registered and what each earned. */
function assetListCommand(parent: Command, kind: 'app' | 'dataset'): void {
  const c = parent.command('list').description(`the ${kind}s you own, their price and the fees they earned (credited in the Hub: \`pocchain balance\`, \`pocchain withdraw\`)`).option('--from-block <n>', 'scan events from this block', '0');
  example(accountOptions(common(c, { key: `${kind} owner` })), `pocchain ${kind} list --key-file owner.key --json`);
  c.action(
    action(async (o: Opts): Promise<Outcome> => {
      const owner = accountAddress(o);
      const from = parseCount(o.fromBlock, '--from-block');
      const provider = await openProvider(rpcUrl(o));
      try {
        const list = await assetsOf(provider, kind, owner, from);
        const total = list.reduce((a, x) => a + x.earned, 0n);
        const text = [`${list.length} ${kind}(s) owned by ${owner}, earned ${formatEther(total)} in total`, ...list.map((x) => `  ${x.hash}  price ${formatEther(x.price)}${x.category !== null ? `, category ${x.category}` : ''}, earned ${formatEther(x.earned)} from ${x.paidTasks} task(s)`)].join('\n');
        return { json: { owner, [`${kind}s`]: list, earned: total }, text };
      } finally {
        provider.destroy();
      }
    }),
  );
}

async function publish(o: Opts, kind: 'app' | 'dataset', bytes: Uint8Array, price: bigint, category: number): Promise<Outcome> {
  const { provider, hub, wallet, tx } = await connect(o);
  try {
    const hash = keccak256(bytes);
    if (o.upload !== false) {
      const stored = await putContent(provider, bytes);
      if (stored.toLowerCase() !== hash) throw new PocError('CLI_UPLOAD', `node stored the bytes under ${stored}, expected ${hash}`);
    }
    const existing = kind === 'app' ? await hub.getApp(hash) : await hub.getDataset(hash);
    let txHash: string | null = null;
    let registered = false;
    if (existing.owner === ZeroAddress) {
      const rc = await tx!.send(`register ${kind}`, () => (kind === 'app' ? hub.registerApp(hash, price, category, String(o.uri ?? '')) : hub.registerDataset(hash, price, String(o.uri ?? ''))));
      txHash = rc.hash;
      registered = true;
    } else if (getAddress(existing.owner) !== wallet!.address) {
      throw new PocError('CLI_NOT_OWNER', `${kind} ${hash} is already registered by ${existing.owner}`);
    }
    const rec = kind === 'app' ? await hub.getApp(hash) : await hub.getDataset(hash);
    return {
      json: { [kind]: hash, owner: rec.owner, price: rec.price, ...(kind === 'app' ? { category: Number(rec.category) } : {}), uri: rec.uri, bytes: bytes.length, registered, tx: txHash },
      text: `${kind} ${hash}\n  owner ${rec.owner}, price ${formatEther(rec.price)}${kind === 'app' ? `, category ${rec.category} (T = ${categoryTime(Number(rec.category))} blocks)` : ''}, ${bytes.length} bytes${registered ? `\n  registered in tx ${txHash}` : '\n  (already registered)'}`,
    };
  } finally {
    provider.destroy();
  }
}

// ---------------------------------------------------------------------------------- task

function parseReplicas(s: string): [number, number] {
  const m = /^(\d{1,3})(?:\.\.(\d{1,3}))?$/.exec(String(s));
  if (!m) throw new PocError('CLI_BAD_REPLICAS', `--replicas: "${s}" is not N or MIN..MAX`);
  const a = parseCount(m[1], '--replicas min', 1, 255);
  return [a, m[2] ? parseCount(m[2], '--replicas max', a, 255) : a];
}

/** Progress of a waiting command, on stderr. */
const progress = (line: string): void => void process.stderr.write(line + '\n');

function taskCommands(program: Command): void {
  const task = program.command('task').description('compute tasks: request one, follow it, inspect it');
  const submit = task
    .command('submit')
    .description('request a task from the Hub (escrow = --price), optionally wait for its result')
    .requiredOption('--app <hash>', 'app hash (keccak256 of the wasm)')
    .option('--dataset <hash>', 'dataset hash')
    .option('--input <string>', 'input bytes (UTF-8) given to the workload on stdin', '')
    .option('--input-file <file>', 'input bytes from a file')
    .option('--inputs-file <path>', 'a bag: one task per line of this file, or per file of this directory (one job and one transaction per --bag-size inputs; --price is per task)')
    .option('--bag-size <n>', `with --inputs-file: tasks per job (1..${MAX_BAG}; default: with --wait/--out, as many as the executors on offer run at once, at most ${DEFAULT_BAG_SIZE}; else ${DEFAULT_BAG_SIZE}); larger jobs take more of a block and their gas estimate can time out on a busy chain`)
    .option('--out <dir>', 'with --inputs-file: wait, and write each task\'s result to <dir>/<index>.out (failed: <index>.failed) and results.json')
    .option('--max-in-flight <n>', 'with --inputs-file and --wait/--out: the next job is requested only when its tasks fit under n unsettled ones (default: twice the job size, or --bag-size when given: a task not drawn for within 5T blocks of its request fails, refunded)')
    .option('--solo', 'allow one executor to meet the trust alone (FLAG_SOLO)', false)
    .option('--pool <id>', 'only members of this private pool run the task(s); its owner takes its fee from the reward')
    .option('--trust <n>', 'consensus needs credibility > 1 − 1/trust (2 newcomers weigh 4: trust 3 needs 2 agreeing, 5 needs 3)', '3')
    .option('--replicas <a..b>', 'min..max executors assigned', '1..8')
    .option('--price <coins>', 'escrow: fees + the executors\' reward (default: fees + 0.01)')
    .option('--max-price <coins>', 'refuse if app + dataset fees exceed this (default: current fees)')
    .option('--callback <address>', 'contract receiving onTaskResult(taskId, digest)')
    .option('--wait', 'wait for the result, printing progress on stderr', false)
    .option('--timeout <seconds>', 'give up waiting after this long (default: until the final deadline)');
  example(common(submit, { key: 'requester' }), 'pocchain task submit --app 0x<hash> --input "hello" --trust 5 --wait --key-file me.key', 'pocchain task submit --app 0x<hash> --inputs-file inputs.txt --replicas 3 --out results/ --key-file me.key');
  submit.action(
    action(async (o: Opts): Promise<Outcome> => {
      const { provider, hub, tx } = await connect(o);
      try {
        const app = parseHash(o.app, '--app');
        const dataset = o.dataset ? parseHash(o.dataset, '--dataset') : ZeroHash;
        const input = o.inputFile ? new Uint8Array(readFileSync(resolve(o.inputFile))) : new TextEncoder().encode(String(o.input ?? ''));
        const [minR, maxR] = parseReplicas(o.replicas);
        const appRec = await hub.getApp(app);
        if (appRec.owner === ZeroAddress) throw new PocError('CLI_UNKNOWN_APP', `app ${app} is not registered: publish it with \`pocchain app publish\``);
        let fees = appRec.price as bigint;
        if (dataset !== ZeroHash) {
          const d = await hub.getDataset(dataset);
          if (d.owner === ZeroAddress) throw new PocError('CLI_UNKNOWN_DATASET', `dataset ${dataset} is not registered`);
          fees += d.price as bigint;
        }
        const escrow = o.price !== undefined ? coins(o.price, '--price') : fees + parseEther('0.01');
        const maxPrice = o.maxPrice !== undefined ? coins(o.maxPrice, '--max-price') : fees;
        const callback = o.callback ? parseAddress(o.callback, '--callback') : ZeroAddress;
        const trust = parseInteger(o.trust, '--trust', { min: 0n, max: 1_000_000n }); // the Hub judges the value (InvalidTrust)
        const timeoutS = o.timeout !== undefined ? parseCount(o.timeout, '--timeout', 1, 86_400 * 30) : undefined;
        const pool = o.pool !== undefined ? parsePoolId(o.pool, '--pool') : undefined;
        if (o.inputsFile !== undefined) {
          return await submitBag(o, provider, hub, tx!, { app, dataset, trust, minReplicas: minR, maxReplicas: maxR, maxPrice, callback, solo: !!o.solo, escrow, ...(pool ? { pool } : {}) });
        }
        if (o.solo) throw new PocError('USAGE', '--solo needs --inputs-file (a single task is requested with requestTask, which has no flags)');
        // a pool task is a bag of one through requestTasksInPool (requestTask has no pool)
        const rc = pool
          ? await tx!.sendCall('requestTasksInPool', hub.getFunction('requestTasksInPool'), [[app, dataset, trust, minR, maxR, maxPrice, callback, 0], [input], pool], { value: escrow })
          : await tx!.sendCall('requestTask', hub.getFunction('requestTask'), [app, dataset, input, trust, minR, maxR, maxPrice, callback], { value: escrow });
        const ev = rc.logs.map((l) => hubIface.parseLog(l)).find((l) => l?.name === 'TaskRequested')!;
        const taskId = ev.args.taskId as bigint;
        if (!o.wait) {
          return { json: { taskId: String(taskId), tx: rc.hash, block: rc.blockNumber, escrow: String(escrow), finalDeadline: String(ev.args.finalDeadline) }, text: `task ${taskId} requested in block ${rc.blockNumber} (tx ${rc.hash}), escrow ${formatEther(escrow)}, final deadline block ${ev.args.finalDeadline}` };
        }
        say(o, `task ${taskId} requested in block ${rc.blockNumber}, escrow ${formatEther(escrow)}, final deadline block ${ev.args.finalDeadline}`);
        const result = await waitForTask(provider, rpcUrl(o), hub, taskId, rc.blockNumber, timeoutS !== undefined ? timeoutS * 1000 : undefined);
        const credits = await taskCredits(provider, hub, taskId);
        return outcomeOf(o, taskId, result, credits);
      } finally {
        provider.destroy();
      }
    }),
  );
  const list = task
    .command('list')
    .description('the tasks you requested, newest first, with status and refunds')
    .addOption(new Option('--status <status>', 'only tasks in this status').choices(['active', 'revealing', 'completed', 'failed']))
    .option('--from-block <n>', 'scan events from this block', '0');
  example(accountOptions(common(list, { key: 'requester' })), 'pocchain task list --status failed --key-file me.key');
  list.action(
    action(async (o: Opts): Promise<Outcome> => {
      const requester = accountAddress(o);
      const from = parseCount(o.fromBlock, '--from-block');
      const provider = await openProvider(rpcUrl(o));
      try {
        const all = await tasksOf(provider, requester, from);
        const tasks = o.status ? all.filter((t) => t.status === o.status) : all;
        const counts: Record<string, number> = {};
        for (const t of all) counts[t.status] = (counts[t.status] ?? 0) + 1;
        const text = [`${tasks.length} task(s) requested by ${requester}${o.status ? ` in status ${o.status}` : ''} (${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'})`, ...tasks.map((t) => `  task ${t.taskId}  ${t.status.padEnd(9)}  escrow ${formatEther(t.escrow)}${t.refunded > 0n ? `, refunded ${formatEther(t.refunded)} (Hub credit)` : ''}  app ${t.app.slice(0, 10)}…  block ${t.createdAt}`)].join('\n');
        return { json: { requester, counts, tasks }, text };
      } finally {
        provider.destroy();
      }
    }),
  );
  const show = task.command('show <taskId>').description('status, assignees and their contributions, votes, payments of a task');
  example(common(show), 'pocchain task show 7');
  show.action(
    action(async (id: string, o: Opts): Promise<Outcome> => {
      const { provider, hub } = await connect(o, false);
      try {
        const info = await describeTask(provider, hub, parseInteger(id, 'taskId', { min: 1n, max: 2n ** 64n }));
        return { json: info, text: formatTask(info) };
      } finally {
        provider.destroy();
      }
    }),
  );
  registerProveCommand(task);
  registerVerifyCommand(task);
}

interface TaskOutcome {
  status: number;
  digest: string;
  result?: Uint8Array;
  task: any;
}

/** Poll the Hub's logs for one task and print each step on stderr until it is settled. */
async function waitForTask(provider: JsonRpcProvider, rpc: string, hub: Contract, taskId: bigint, fromBlock: number, timeoutMs?: number): Promise<TaskOutcome> {
  const topic = '0x' + taskId.toString(16).padStart(64, '0');
  let next = fromBlock;
  const started = Date.now();
  for (;;) {
    const head = await provider.getBlockNumber();
    if (head >= next) {
      const logs = await provider.getLogs({ address: HUB_ADDRESS, topics: [null, topic], fromBlock: next, toBlock: head });
      for (const l of logs) {
        const p = hubIface.parseLog(l);
        if (!p) continue;
        const a = p.args;
        const at = `block ${l.blockNumber}:`;
        if (p.name === 'TaskAssigned') progress(`${at} assigned to ${a.executor} (contribute by block ${a.expiry})`);
        else if (p.name === 'Contributed') progress(`${at} ${a.executor} committed (weight ${a.weight})`);
        else if (p.name === 'ConsensusReached') progress(`${at} consensus reached on ${a.resultHash}, reveals until block ${a.revealDeadline}`);
        else if (p.name === 'Revealed') progress(`${at} ${a.executor} revealed ${a.digest}`);
        else if (p.name === 'Slashed') progress(`${at} ${a.executor} slashed ${formatEther(a.amount)}, score now ${a.newScore}`);
        else if (p.name === 'Paid') progress(`${at} paid ${formatEther(a.amount)} to ${a.to} (${['reward', 'app fee', 'dataset fee', 'pool fee'][Number(a.kind)] ?? `kind ${a.kind}`})`);
        else if (p.name === 'Refunded') progress(`${at} refunded ${formatEther(a.amount)} to ${a.requester}`);
        else if (p.name === 'CallbackResult') progress(`${at} callback ${a.callback} ${a.ok ? 'succeeded' : 'failed'}`);
        else if (p.name === 'TaskFinalized') progress(`${at} finalized: ${STATUS_NAMES[Number(a.status)]}`);
      }
      next = head + 1;
    }
    // Read the status at the block the logs were read up to: at `latest` a block committed since
    // could show the task settled before its last steps were printed.
    const t = await hub.getTask(taskId, { blockTag: next - 1 });
    const status = Number(t.status);
    if (status === 3 || status === 4) {
      const out: TaskOutcome = { status, digest: t.result, task: t };
      if (status === 3) {
        out.result = await fetchContent({ hash: t.result, baseUrl: rpc, maxBytes: 8 << 20, timeoutMs: 5000 }).catch(() => undefined);
      }
      return out;
    }
    if (timeoutMs !== undefined && Date.now() - started > timeoutMs) throw new PocError('CLI_TIMEOUT', `task ${taskId} not settled after ${timeoutMs / 1000} s (status ${STATUS_NAMES[status]}); follow it with \`pocchain task show ${taskId}\``);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function printable(b: Uint8Array): string | undefined {
  try {
    const s = toUtf8String(b);
    return /^[\x09\x0a\x0d\x20-\x7e\u00a0-\uffff]*$/.test(s) ? s : undefined;
  } catch {
    return undefined;
  }
}

function outcomeOf(o: Opts, taskId: bigint, r: TaskOutcome, credits: Credit[]): Outcome {
  const text = r.result ? printable(r.result) : undefined;
  const json = {
    taskId: String(taskId),
    status: STATUS_NAMES[r.status],
    digest: r.status === 3 ? r.digest : null,
    result: text ?? null,
    resultHex: r.result && text === undefined ? hexlify(r.result) : null,
    resultAvailable: !!r.result,
    credited: credits.map((c) => ({ to: c.to, amount: String(c.amount), kind: c.kind, where: 'hub' })),
  };
  // what the task left where: every payment and refund is Hub credit (`pocchain balance`, `pocchain withdraw`)
  for (const c of credits) say(o, `credited ${formatEther(c.amount)} to ${c.to} (${c.kind}) in the Hub: see \`pocchain balance\`, take it with \`pocchain withdraw\``);
  const exitCode = r.status === 3 ? 0 : 2;
  if (r.status !== 3) return { json, exitCode, text: `task ${taskId} failed: no result` };
  if (!r.result) return { json, exitCode, text: `task ${taskId} completed, result digest ${r.digest} (bytes not in the node's content store)` };
  return text !== undefined ? { json, exitCode, text, raw: true } : { json, exitCode, text: hexlify(r.result) };
}

/** Everything the chain knows about a task, as plain JSON. */
export async function describeTask(provider: JsonRpcProvider, hub: Contract, taskId: bigint) {
  const t = await hub.getTask(taskId);
  if (Number(t.status) === 0) throw new PocError('CLI_UNKNOWN_TASK', `task ${taskId} does not exist`);
  const [assignees, votes, input] = await Promise.all([hub.taskAssignees(taskId), hub.taskVotes(taskId), hub.taskInput(taskId)]);
  const contributors = [];
  for (const e of assignees as string[]) {
    const a = await hub.getAssignment(taskId, e);
    contributors.push({ executor: e, status: ASSIGNMENT_NAMES[Number(a.status)], weight: String(a.weight), resultHash: a.resultHash === ZeroHash ? null : a.resultHash, expiry: Number(a.expiry) });
  }
  const topic = '0x' + taskId.toString(16).padStart(64, '0');
  const logs = await logsInWindows(provider, { address: HUB_ADDRESS, topics: [null, topic] }, Number(t.createdAt), await provider.getBlockNumber());
  const payments: { to: string; amount: string; kind: string }[] = [];
  const slashes: { executor: string; amount: string; newScore: string }[] = [];
  let refund: { to: string; amount: string } | null = null;
  for (const l of logs) {
    const p = hubIface.parseLog(l);
    if (p?.name === 'Paid') payments.push({ to: p.args.to, amount: String(p.args.amount), kind: PAID_KINDS[Number(p.args.kind)] ?? `kind ${p.args.kind}` });
    if (p?.name === 'Slashed') slashes.push({ executor: p.args.executor, amount: String(p.args.amount), newScore: String(p.args.newScore) });
    if (p?.name === 'Refunded') refund = { to: p.args.requester, amount: String(p.args.amount) };
  }
  const [hashes, weights, sizes] = votes as [string[], bigint[], bigint[]];
  return {
    taskId: String(taskId),
    status: STATUS_NAMES[Number(t.status)],
    requester: t.requester as string,
    app: t.app as string,
    dataset: t.dataset === ZeroHash ? null : (t.dataset as string),
    input: hexlify(input),
    trust: Number(t.trust),
    replicas: { min: Number(t.minReplicas), max: Number(t.maxReplicas) },
    escrow: String(t.escrow),
    fees: { app: String(t.appFee), dataset: String(t.datasetFee), pool: String(t.poolFee) },
    pool: BigInt(t.pool) === 0n ? null : String(t.pool),
    blocks: { created: Number(t.createdAt), contributionDeadline: Number(t.contributionDeadline), revealDeadline: Number(t.revealDeadline) || null, finalDeadline: Number(t.finalDeadline) },
    consensusHash: t.consensusHash === ZeroHash ? null : (t.consensusHash as string),
    result: t.result === ZeroHash ? null : (t.result as string),
    callback: t.callback === ZeroAddress ? null : (t.callback as string),
    contributors,
    votes: hashes.map((h, i) => ({ resultHash: h, weight: String(weights[i]), size: Number(sizes[i]) })),
    payments,
    slashes,
    refund,
  };
}

function formatTask(i: Awaited<ReturnType<typeof describeTask>>): string {
  const L = [
    `task ${i.taskId}: ${i.status}`,
    `  requester ${i.requester}, escrow ${formatEther(i.escrow)}, trust ${i.trust}, replicas ${i.replicas.min}..${i.replicas.max}`,
    `  app ${i.app}${i.dataset ? `, dataset ${i.dataset}` : ''}`,
    `  blocks: created ${i.blocks.created}, contributions until ${i.blocks.contributionDeadline}, final deadline ${i.blocks.finalDeadline}${i.blocks.revealDeadline ? `, reveals until ${i.blocks.revealDeadline}` : ''}`,
  ];
  if (i.result) L.push(`  result ${i.result}`);
  L.push(`  contributors (${i.contributors.length}):`);
  for (const c of i.contributors) L.push(`    ${c.executor}  ${c.status}${c.resultHash ? `  ${c.resultHash === i.consensusHash ? 'consensus' : 'other'} ${c.resultHash.slice(0, 18)}…` : ''}`);
  if (i.votes.length) {
    L.push('  votes:');
    for (const v of i.votes) L.push(`    ${v.resultHash.slice(0, 18)}…  weight ${v.weight}, ${v.size} executor(s)`);
  }
  for (const p of i.payments) L.push(`  paid ${formatEther(p.amount)} to ${p.to} (${p.kind})`);
  for (const s of i.slashes) L.push(`  slashed ${formatEther(s.amount)} from ${s.executor}, score now ${s.newScore}`);
  if (i.refund) L.push(`  refunded ${formatEther(i.refund.amount)} to ${i.refund.to}`);
  return L.join('\n');
}

/** Add the compute-market commands to the CLI. */
export function registerPocCommands(program: Command): void {
  executorCommand(program);
  publishCommands(program);
  taskCommands(program);
  registerJobCommands(program);
  registerPoolCommands(program);
}
