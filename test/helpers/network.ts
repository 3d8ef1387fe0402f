/** Test helper: an N-validator pocchain network of separate OS processes on 127.0.0.1. */
import { stopChild } from '../../lib/child.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createTestnet, type TestnetNode } from '../../consensus/testnet.ts';
import { freePort } from '../../lib/anvil.ts';
import { CLI, NODE, rpc, tempDir, waitFor } from './proc.ts';

export interface NetNode extends TestnetNode {
  url: string;
  child?: ChildProcess;
  extraArgs: string[];
}

export class TestNetwork {
  readonly dir: string;
  readonly nodes: NetNode[];
  readonly blockTimeMs: number;
  private constructor(dir: string, nodes: NetNode[], blockTimeMs: number) {
    this.dir = dir;
    this.nodes = nodes;
    this.blockTimeMs = blockTimeMs;
  }

  /** Lay out the network (nothing started). */
  static async create(opts: { validators?: number; fullNodes?: number; blockTimeMs?: number; genesisExtra?: Record<string, unknown>; staking?: Record<string, number | string>; epochLength?: number } = {}): Promise<TestNetwork> {
    const dir = tempDir('pocchain-net-');
    const total = (opts.validators ?? 4) + (opts.fullNodes ?? 0);
    // consecutive free ports are not guaranteed: ask for each and pass them explicitly below
    const rpcPorts = await Promise.all(Array.from({ length: total }, () => freePort()));
    const p2pPorts = await Promise.all(Array.from({ length: total }, () => freePort()));
    const r = await createTestnet({ out: dir, validators: opts.validators ?? 4, fullNodes: opts.fullNodes ?? 0, chainId: 31338, rpcPort: 0, p2pPort: 0, blockTimeMs: opts.blockTimeMs ?? 300, ...(opts.genesisExtra ? { genesisExtra: opts.genesisExtra } : {}), ...(opts.staking ? { staking: opts.staking } : {}), ...(opts.epochLength ? { epochLength: opts.epochLength } : {}), ports: { rpc: rpcPorts, p2p: p2pPorts } });
    const nodes = r.nodes.map((n) => ({ ...n, url: `http://127.0.0.1:${n.rpcPort}`, extraArgs: [] as string[] }));
    return new TestNetwork(dir, nodes, opts.blockTimeMs ?? 300);
  }

  /** Start node i as a process (with extra CLI flags); waits for its RPC. */
  async start(i: number, extraArgs?: string[]): Promise<void> {
    const n = this.nodes[i]!;
    if (extraArgs) n.extraArgs = extraArgs;
    const log = createWriteStream(join(this.dir, `${n.name}.log`), { flags: 'a' });
    const child = spawn(NODE, [CLI, 'node', '--config', join(n.datadir, 'config.json'), '--log-level', process.env.POCCHAIN_TEST_LOG ?? 'info', '--timeout-propose', '1500', ...n.extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    n.child = child;
    await waitFor(`${n.name} RPC and consensus`, async () => {
      if (child.exitCode !== null) throw new Error(`${n.name} exited with ${child.exitCode}; see ${join(this.dir, n.name + '.log')}`);
      // the RPC answers before p2p and consensus are up (status says `starting`): started means both
      return (await rpc(n.url, 'pocchain_status')).consensus.starting !== true;
    }, 120_000);
  }

  async startAll(extra: Record<number, string[]> = {}): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.start(i, extra[i])));
  }

  /** Stop node i with a signal; resolves when it exited. */
  async stop(i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const c = this.nodes[i]!.child;
    if (c) await stopChild(c, signal, 10_000);
  }

  kill(i: number): Promise<void> {
    return this.stop(i, 'SIGKILL');
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.stop(i)));
  }

  running(): number[] {
    return this.nodes.map((n, i) => (n.child && n.child.exitCode === null && n.child.signalCode === null ? i : -1)).filter((i) => i >= 0);
  }

  async height(i: number): Promise<number> {
    return Number(await rpc(this.nodes[i]!.url, 'eth_blockNumber'));
  }

  /** Wait until every listed node has reached `h`. */
  async waitHeight(h: number, which = this.running(), timeoutMs = 60_000): Promise<void> {
    await waitFor(`height ${h} on nodes ${which}`, async () => (await Promise.all(which.map((i) => this.height(i)))).every((x) => x >= h), timeoutMs, 100);
  }

  async blockHash(i: number, h: number): Promise<string | undefined> {
    const b = await rpc(this.nodes[i]!.url, 'eth_getBlockByNumber', ['0x' + h.toString(16), false]);
    return b?.hash;
  }

  /** Assert-friendly: every pair of listed nodes has the same hash at every height up to the lowest head. */
  async checkAgreement(which = this.running()): Promise<{ upTo: number; conflicts: string[] }> {
    const heads = await Promise.all(which.map((i) => this.height(i)));
    const upTo = Math.min(...heads);
    const conflicts: string[] = [];
    for (let h = 1; h <= upTo; h++) {
      const hashes = await Promise.all(which.map((i) => this.blockHash(i, h)));
      if (new Set(hashes).size !== 1) conflicts.push(`height ${h}: ${hashes.join(' ')}`);
    }
    return { upTo, conflicts };
  }
}
