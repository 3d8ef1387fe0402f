/**
 * `pocchain devnet` (and `npm start`): the whole system on one machine, in one command.
 *
 * Starts, in this order: anvil as the L1 (state in <dir>/l1/state.json), the bridge contracts on it
 * (first run only), 4 validator processes (`pocchain node`), then the relayer and 3 executor
 * processes (`pocchain executor`). Prints a banner (URLs, chain ids, contracts, the funded dev
 * keys) and a live status line (status.ts). Ctrl-C stops the children in reverse order — relayer
 * and executors, validators, the L1 last (so anvil dumps its state after the last deposit check) —
 * and exits 0; a second Ctrl-C (more than a second later: npm forwards the terminal's Ctrl-C, so
 * the first one arrives twice) kills everything at once. Running again resumes the same chains
 * (the validators' LevelDB and anvil's state file); --reset wipes the dir first.
 *
 * Lifetime: children run in their own process groups and die with the devnet even when it is
 * SIGKILLed (children.ts); a later start also stops leftovers listed in the old devnet.json.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Contract, Wallet, parseUnits } from 'ethers';
import { PocError } from '../lib/errors.ts';
import { anvilBinary } from '../lib/anvil.ts';
import { devAccounts, TEST_MNEMONIC } from '../lib/keys.ts';
import { createTestnet } from '../consensus/testnet.ts';
import { deployL1 } from '../bridge/l1-deploy.ts';
import { abiOf } from '../bridge/abi.ts';
import { HUB_ADDRESS, STAKING_ADDRESS } from '../consensus/poc/index.ts';
import { BRIDGE_ADDRESS } from '../bridge/deposits-hook.ts';
import { assertPortsFree, planPorts, type PortBases, type PortPlan } from './ports.ts';
import { Child, isOurProcess, spawnBinary, spawnPocchain } from './children.ts';
import { l1Provider, wireBridge } from './bridge-setup.ts';
import { abs, executorNodes, EXECUTOR_ACCOUNTS, isDevnetDir, LAYOUT_VERSION, loadLayout, nodeConfig, paths, rel, RELAYER_ACCOUNT, DEPLOYER_ACCOUNT, saveLayout, type Layout } from './layout.ts';
import { accountRoles, buildManifest, saveManifest } from './manifest.ts';
import { formatStatus, gatherStatus, rpcCall } from './status.ts';

export type DevnetErrorCode = 'DEVNET_RUNNING' | 'DEVNET_NOT_A_DEVNET_DIR' | 'DEVNET_START_FAILED' | 'DEVNET_L1_LOST' | 'DEVNET_BAD_OPTION';

export interface DevnetOptions {
  /** devnet directory (default .pocchain/devnet under the cwd) */
  dir: string;
  /** wipe the directory and start a new chain */
  reset: boolean;
  ports: PortBases;
  validators: number;
  executors: number;
  /** each executor's declared capacity (open assignments at once); default: keep the chain's (Hub DEFAULT_CAPACITY when never declared) */
  executorCapacity?: number;
  /** each executor's bonded stake in coins (LOCK_PER_TASK is locked per open assignment); default: the executor's */
  executorStake?: string;
  /** sidechain block interval */
  blockTimeMs: number;
  /** checkpoint every this many blocks (new chains only) */
  epoch: number;
  /** L1 confirmations before a deposit is minted (new chains only) */
  confirmations: number;
  /** sidechain chain id (new chains only) */
  chainId: number;
  l1ChainId: number;
  /** status refresh: in place on a TTY, one line per interval otherwise */
  statusIntervalMs: number;
  logLevel: string;
  out: { write(s: string): unknown; isTTY?: boolean };
  err: { write(s: string): unknown };
}

const fail = (code: DevnetErrorCode, msg: string, data?: Record<string, unknown>) => new PocError<DevnetErrorCode>(code, msg, data ? { data } : {});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A signal arriving this soon after the first is the same Ctrl-C (terminal + npm's forward). */
const SAME_CTRL_C_MS = 1000;

/** Run the devnet until a signal; resolves to the process exit code. */
export async function runDevnet(o: DevnetOptions): Promise<number> {
  const d = new Devnet(o);
  return d.run();
}

class Devnet {
  readonly o: DevnetOptions;
  readonly dir: string;
  readonly p: ReturnType<typeof paths>;
  readonly children: Child[] = [];
  plan!: PortPlan;
  layout!: Layout;
  l1Url = '';
  stopping = false;
  firstSignalAt = 0;
  startedAt = new Date().toISOString();
  statusShown = false;
  private wake: (() => void) | null = null;
  private lockTaken = false;

  constructor(o: DevnetOptions) {
    this.o = o;
    this.dir = o.dir;
    this.p = paths(o.dir);
  }

  async run(): Promise<number> {
    const onSignal = (sig: NodeJS.Signals) => this.onSignal(sig);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
    let code = 0;
    try {
      const t0 = Date.now();
      const fresh = await this.prepare();
      if (!this.stopping) await this.startAll(fresh);
      if (!this.stopping) {
        this.banner(fresh, Date.now() - t0);
        await this.statusLoop();
      }
    } catch (e) {
      this.clearStatus();
      const msg = e instanceof PocError ? `error [${e.code}]: ${e.message}` : `error: ${(e as Error).stack ?? e}`;
      this.o.err.write(msg + '\n');
      code = 1;
    }
    await this.shutdown();
    return code;
  }

  // ------------------------------------------------------------------------------ preparation

  /** Lock the dir, stop leftovers, check ports, lay out a new chain if needed. Returns true when new. */
  private async prepare(): Promise<boolean> {
    const o = this.o;
    if (o.validators < 1 || o.validators > 16) throw fail('DEVNET_BAD_OPTION', `--validators must be 1-16 (got ${o.validators})`);
    if (o.executors < 0 || o.executors > EXECUTOR_ACCOUNTS.length) throw fail('DEVNET_BAD_OPTION', `--executors must be 0-${EXECUTOR_ACCOUNTS.length} (got ${o.executors})`);
    if (!(o.epoch >= 1)) throw fail('DEVNET_BAD_OPTION', `--epoch must be a positive number of blocks (got ${o.epoch})`);
    if (!(o.blockTimeMs >= 50)) throw fail('DEVNET_BAD_OPTION', `--block-time must be at least 50 ms (got ${o.blockTimeMs})`);
    this.checkLock();
    await this.stopLeftovers();
    if (o.reset && existsSync(this.dir)) {
      if (!isDevnetDir(this.dir)) throw fail('DEVNET_NOT_A_DEVNET_DIR', `--reset would delete ${this.dir}, which holds files that are not a devnet's: choose another --dir`);
      rmSync(this.dir, { recursive: true, force: true });
    }
    const existing = loadLayout(this.dir);
    if (!existing && !isDevnetDir(this.dir)) throw fail('DEVNET_NOT_A_DEVNET_DIR', `${this.dir} is not empty and is not a devnet directory: choose another --dir`);
    // a resumed chain keeps its validator count
    const validators = existing ? existing.validators.length : o.validators;
    const executors = existing ? existing.executors.length : o.executors;
    this.plan = planPorts(o.ports, validators, executors);
    await assertPortsFree(this.plan);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSync(this.p.lock, String(process.pid));
    this.lockTaken = true;
    this.l1Url = `http://127.0.0.1:${this.plan.l1}`;
    if (existing) {
      this.layout = existing;
      if (existing.validators.length !== o.validators || existing.executors.length !== o.executors) this.note(`resuming the existing devnet: ${existing.validators.length} validators, ${existing.executors.length} executors (--reset to change)`);
      return false;
    }
    // an unfinished creation: start it over
    for (const sub of [this.p.nodes, this.p.executors, join(this.dir, 'l1')]) rmSync(sub, { recursive: true, force: true });
    return true;
  }

  /** Refuse to run twice on one directory. */
  private checkLock(): void {
    if (!existsSync(this.p.lock)) return;
    const pid = Number(readFileSync(this.p.lock, 'utf8').trim());
    if (pid > 0 && pid !== process.pid && isOurProcess(pid, 'devnet')) throw fail('DEVNET_RUNNING', `a devnet is already running from ${this.dir} (pid ${pid}): stop it with Ctrl-C (or kill ${pid}), or use another --dir`, { pid });
  }

  /** Children of a devnet that was killed: they stop on their own within a second or so; wait, then insist. */
  private async stopLeftovers(): Promise<void> {
    if (!existsSync(this.p.manifest)) return;
    let m: any;
    try {
      m = JSON.parse(readFileSync(this.p.manifest, 'utf8'));
    } catch {
      return;
    }
    const listed: { pid: number; marker: string }[] = [];
    for (const n of [...(m.nodes ?? []), ...(m.executors ?? []), m.relayer ?? {}]) if (n.pid) listed.push({ pid: n.pid, marker: 'pocchain' });
    if (m.l1?.pid) listed.push({ pid: m.l1.pid, marker: 'anvil' });
    let alive = listed.filter((x) => isOurProcess(x.pid, x.marker));
    if (alive.length === 0) return;
    this.note(`waiting for ${alive.length} process(es) of a previous run to exit…`);
    for (let i = 0; i < 100 && alive.length > 0; i++) {
      if (i === 20) for (const x of alive) tryKill(x.pid, 'SIGTERM');
      if (i === 80) for (const x of alive) tryKill(x.pid, 'SIGKILL');
      await sleep(200);
      alive = alive.filter((x) => isOurProcess(x.pid, x.marker));
    }
  }

  // ------------------------------------------------------------------------------ start

  private async startAll(fresh: boolean): Promise<void> {
    const o = this.o;
    const l1 = this.startL1();
    await this.waitUp(l1, this.l1Url, 30_000);
    if (fresh) await this.create();
    else await this.checkL1();
    if (this.stopping) return;
    // configs follow this start's ports
    const l = this.layout;
    l.validators.forEach((v, i) => writeFileSync(join(abs(this.dir, v.datadir), 'config.json'), JSON.stringify(nodeConfig(l, this.dir, i, this.plan, { blockTimeMs: o.blockTimeMs, l1Url: this.l1Url }), null, 1)));
    const nodes = l.validators.map((v) => this.add(spawnPocchain(v.name, 'validator', ['node', '--config', join(abs(this.dir, v.datadir), 'config.json'), '--log-level', o.logLevel], this.p.log(v.name))));
    await Promise.all(nodes.map((c, i) => this.waitUp(c, this.rpcUrl(i), 120_000)));
    if (this.stopping) return;
    const keys = devAccounts(10);
    this.add(spawnPocchain('relayer', 'relayer', ['relayer', '--rpc', l.validators.map((_, i) => this.rpcUrl(i)).join(','), '--l1-rpc', this.l1Url, '--poll-ms', '1000', '--log-level', o.logLevel], this.p.log('relayer'), { POCCHAIN_KEY: keys[l.relayer.account]!.privateKey }));
    l.executors.forEach((e, k) => {
      const metrics = this.plan.executorMetrics?.[k];
      mkdirSync(abs(this.dir, e.datadir), { recursive: true });
      this.add(spawnPocchain(e.name, 'executor', ['executor', '--rpc', this.executorRpcs(k).join(','), '--datadir', abs(this.dir, e.datadir), '--log-level', o.logLevel, ...(metrics ? ['--metrics-port', String(metrics)] : []), ...(o.executorCapacity !== undefined ? ['--capacity', String(o.executorCapacity)] : []), ...(o.executorStake !== undefined ? ['--stake', o.executorStake] : [])], this.p.log(e.name), { POCCHAIN_KEY: keys[e.account]!.privateKey }));
    });
    this.writeManifest(true);
  }

  private rpcUrl(i: number): string {
    return `http://127.0.0.1:${this.plan.rpc[i]}`;
  }

  /** Executor k's node (node k mod n: any node fetches content it lacks from its peers). */
  private executorRpc(k: number): string {
    return this.executorRpcs(k)[0]!;
  }

  /** Executor k's node, then the others to fail over to. */
  private executorRpcs(k: number): string[] {
    return executorNodes(k, this.layout.validators.length).map((i) => this.rpcUrl(i));
  }

  private startL1(): Child {
    mkdirSync(join(this.dir, 'l1'), { recursive: true });
    // --state: load on start, dump on exit; --state-interval: also every 10 s, in case we are killed
    const args = ['--host', '127.0.0.1', '--port', String(this.plan.l1), '--chain-id', String(this.o.l1ChainId), '--block-time', '1', '--state', this.p.l1State, '--state-interval', '10'];
    return this.add(spawnBinary('l1', 'l1', anvilBinary(), args, this.p.log('l1')));
  }

  private add(c: Child): Child {
    this.children.push(c);
    void c.exited.then((e) => {
      if (this.stopping) return;
      this.clearStatus();
      this.o.err.write(`! ${c.name} exited unexpectedly (${e.signal ?? `code ${e.code}`}); its log: ${c.log}\n${indent(c.tail(8))}\n`);
    });
    return c;
  }

  /** Wait for a child's JSON-RPC; fail with its log tail if it exits first. */
  private async waitUp(c: Child, url: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.stopping) return;
      if (!c.running) throw fail('DEVNET_START_FAILED', `${c.name} exited during start-up (${c.exit!.signal ?? `code ${c.exit!.code}`}); its log ${c.log} ends with:\n${indent(c.tail())}`);
      try {
        await rpcCall(url, 'eth_chainId', [], 2000);
        return;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) throw fail('DEVNET_START_FAILED', `${c.name} did not answer on ${url} within ${timeoutMs / 1000} s; see ${c.log}`);
      await sleep(200);
    }
  }

  /** A new chain: lay out the validators, deploy the bridge on the L1, fund the dev accounts with L1 tokens. */
  private async create(): Promise<void> {
    const o = this.o;
    const t = await createTestnet({ out: this.p.nodes, validators: o.validators, chainId: o.chainId, rpcPort: this.plan.rpc[0]!, p2pPort: this.plan.p2p[0]!, blockTimeMs: o.blockTimeMs, ports: { rpc: this.plan.rpc, p2p: this.plan.p2p } });
    const provider = l1Provider(this.l1Url, o.l1ChainId);
    const keys = devAccounts(10);
    try {
      // mine each deployment at once, then switch to 1 s blocks so deposits gain confirmations on an idle L1
      await rpcCall(this.l1Url, 'evm_setAutomine', [true]);
      const deployer = new Wallet(keys[DEPLOYER_ACCOUNT]!.privateKey, provider);
      const deployment = await wireBridge({ dir: this.p.nodes, datadirs: t.nodes.map((n) => n.datadir), deployer, l1Url: this.l1Url, epoch: o.epoch, confirmations: o.confirmations, l1PollMs: 500, periodLength: 3600, periodCap: parseUnits('100000', 18) });
      // every dev account gets 10,000 test tokens on L1 to deposit (the deployer holds the supply)
      const token = new Contract(deployment.token, abiOf('TestToken'), deployer);
      let nonce = await provider.getTransactionCount(deployer.address, 'pending');
      const sent = [];
      for (let i = 1; i < keys.length; i++) sent.push(await token.getFunction('transfer').send(keys[i]!.address, parseUnits('10000', 18), { nonce: nonce++ }));
      await Promise.all(sent.map((tx) => tx.wait()));
      await rpcCall(this.l1Url, 'evm_setIntervalMining', [1]);
      this.layout = {
        version: LAYOUT_VERSION,
        createdAt: new Date().toISOString(),
        chainId: o.chainId,
        validators: t.nodes.map((n) => ({ name: n.name, datadir: rel(this.dir, n.datadir), peerId: n.peerId, address: n.address, pubKey: n.pubKey })),
        executors: Array.from({ length: o.executors }, (_, k) => ({ name: `executor${k}`, account: EXECUTOR_ACCOUNTS[k]!, address: keys[EXECUTOR_ACCOUNTS[k]!]!.address, datadir: rel(this.dir, join(this.p.executors, `executor${k}`)) })),
        relayer: { account: RELAYER_ACCOUNT, address: keys[RELAYER_ACCOUNT]!.address },
        l1: { chainId: o.l1ChainId, deployment },
        epoch: o.epoch,
        confirmations: o.confirmations,
      };
      saveLayout(this.dir, this.layout);
    } finally {
      provider.destroy();
    }
  }

  /**
   * A resumed chain: the L1 must still hold the bridge. If anvil's state file was lost, redeploy
   * from the same deployer: a fresh anvil gives the same addresses (deployer nonce 0), so the
   * sidechain's genesis still points at them — but earlier deposits and checkpoints are gone.
   */
  private async checkL1(): Promise<void> {
    const dep = this.layout.l1.deployment;
    const code = await rpcCall(this.l1Url, 'eth_getCode', [dep.checkpoints, 'latest']);
    if (code && code !== '0x') return;
    const provider = l1Provider(this.l1Url, this.layout.l1.chainId);
    try {
      const deployer = new Wallet(devAccounts(1)[0]!.privateKey, provider);
      const nonce = await provider.getTransactionCount(deployer.address);
      if (nonce !== 0) throw fail('DEVNET_L1_LOST', `the L1 state in ${this.p.l1State} does not hold the bridge contracts of this devnet: start over with --reset`);
      await rpcCall(this.l1Url, 'evm_setAutomine', [true]);
      const genesis = JSON.parse(readFileSync(join(this.p.nodes, 'genesis.json'), 'utf8'));
      const again = await deployL1({ signer: deployer, sidechainChainId: this.layout.chainId, validators: genesis.validators, epochLength: this.layout.epoch, confirmations: this.layout.confirmations, periodLength: 3600, periodCap: parseUnits('100000', 18) });
      await rpcCall(this.l1Url, 'evm_setIntervalMining', [1]);
      if (again.checkpoints !== dep.checkpoints || again.vault !== dep.vault) throw fail('DEVNET_L1_LOST', 'the L1 state was lost and a redeployment landed at other addresses: start over with --reset');
      this.note(`the L1 state (${this.p.l1State}) was lost: redeployed the bridge at the same addresses; earlier L1 deposits and checkpoints are gone (--reset for a consistent bridge)`);
    } finally {
      provider.destroy();
    }
  }

  // ------------------------------------------------------------------------------ output

  private banner(fresh: boolean, startMs: number): void {
    const l = this.layout;
    const dep = l.l1.deployment;
    const keys = devAccounts(10);
    const roles = accountRoles(l);
    const lines = [
      '',
      `pocchain devnet — ${fresh ? 'new chain' : 'resumed'}, up in ${(startMs / 1000).toFixed(1)} s; data in ${this.dir}`,
      '',
      `  sidechain   chain id ${l.chainId}   RPC ${this.rpcUrl(0)}   ws ws://127.0.0.1:${this.plan.rpc[0]}`,
      ...l.validators.map((v, i) => `  ${v.name.padEnd(10)}  RPC ${this.rpcUrl(i)}   p2p /ip4/127.0.0.1/tcp/${this.plan.p2p[i]}/p2p/${v.peerId}`),
      `  L1 (anvil)  chain id ${l.l1.chainId}   RPC ${this.l1Url}   ws ${this.l1Url.replace(/^http/, 'ws')}`,
      `  contracts   sidechain: Staking ${STAKING_ADDRESS}  Hub ${HUB_ADDRESS}  Bridge ${BRIDGE_ADDRESS}`,
      `              L1: TestToken ${dep.token}  Checkpoints ${dep.checkpoints}  Vault ${dep.vault}`,
      ...l.executors.map((e, k) => `  ${e.name.padEnd(10)}  ${e.address} (account ${e.account}) via ${this.executorRpc(k)} (then the other nodes)`),
      `  relayer     ${l.relayer.address} (account ${l.relayer.account}) → L1 Checkpoints`,
      `  bridge      a checkpoint every ${l.epoch} blocks; deposits minted after ${l.confirmations} L1 confirmations`,
      '',
      `development accounts — DEV ONLY: the public test mnemonic "${TEST_MNEMONIC}";`,
      `never use these keys on a real network. Each holds 10000 coins on the sidechain, 10000 ETH and 10000 PCT on L1:`,
      ...keys.map((w, i) => `  (${i}) ${w.address}  ${w.privateKey}${roles.has(i) ? `  [${roles.get(i)}]` : ''}`),
      '',
      `for scripts: ${this.p.manifest}   logs: ${this.p.logs}/`,
      'Ctrl-C stops everything (the data is kept: run again to resume, --reset to start over)',
      '',
    ];
    this.o.out.write(lines.join('\n') + '\n');
  }

  private note(msg: string): void {
    this.clearStatus();
    this.o.err.write(msg + '\n');
  }

  private clearStatus(): void {
    if (this.statusShown && this.o.out.isTTY) this.o.out.write('\r\x1b[2K');
  }

  private async statusLoop(): Promise<void> {
    const l = this.layout;
    const src = { rpcUrls: l.validators.map((_, i) => this.rpcUrl(i)), l1Url: this.l1Url, checkpoints: l.l1.deployment.checkpoints };
    while (!this.stopping) {
      const s = await gatherStatus(src, { running: this.children.filter((c) => c.running).length, total: this.children.length });
      if (this.stopping) break;
      const line = formatStatus(s);
      if (this.o.out.isTTY) this.o.out.write('\r\x1b[2K' + line);
      else this.o.out.write(line + '\n');
      this.statusShown = true;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.o.statusIntervalMs);
        this.wake = () => (clearTimeout(t), resolve());
      });
    }
  }

  private writeManifest(running: boolean): void {
    const l = this.layout;
    const pids: Record<string, number | null> = {};
    const logs: Record<string, string> = {};
    for (const c of this.children) {
      pids[c.name] = c.running ? c.pid : null;
      logs[c.name] = c.log;
    }
    saveManifest(this.p.manifest, buildManifest({ dir: this.dir, layout: l, running, startedAt: this.startedAt, ...(running ? {} : { stoppedAt: new Date().toISOString() }), rpcPorts: this.plan.rpc, p2pPorts: this.plan.p2p, l1Url: this.l1Url, pids, logs, executorRpc: l.executors.map((_, k) => this.executorRpc(k)), executorMetrics: l.executors.map((_, k) => this.plan.executorMetrics?.[k] ?? null) }));
  }

  // ------------------------------------------------------------------------------ stop

  private onSignal(sig: NodeJS.Signals): void {
    const now = Date.now();
    if (!this.stopping) {
      this.stopping = true;
      this.firstSignalAt = now;
      this.clearStatus();
      this.o.err.write(`${sig}: stopping the devnet… (Ctrl-C again to force)\n`);
      this.wake?.();
      return;
    }
    if (now - this.firstSignalAt < SAME_CTRL_C_MS) return;
    this.o.err.write('forced stop: killing every child\n');
    for (const c of this.children) c.kill();
    this.releaseLock();
    process.exit(130);
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const stop = (kinds: string[], graceMs: number) => Promise.all(this.children.filter((c) => kinds.includes(c.kind)).map((c) => c.stop('SIGTERM', graceMs)));
    await stop(['relayer', 'executor'], 10_000);
    await stop(['validator'], 20_000);
    await stop(['l1'], 15_000);
    if (this.layout && this.children.length > 0) this.writeManifest(false);
    this.releaseLock();
    if (this.children.length > 0) this.o.err.write(`devnet stopped; data kept in ${this.dir} (run again to resume, --reset to start over)\n`);
  }

  private releaseLock(): void {
    if (this.lockTaken) rmSync(this.p.lock, { force: true });
    this.lockTaken = false;
  }
}

function tryKill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

const indent = (s: string) => s.split('\n').map((x) => '    ' + x).join('\n');
