/**
 * A full pocchain node: the composition root. Wires the chain (LevelDB + EVM), the tx pool, the
 * JSON-RPC server, metrics and the block driver. The driver is the single-validator producer
 * (dev mode, or a one-validator network); the BFT driver takes its place when there are peers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { Wallet, Transaction } from 'ethers';
import { Chain } from '../chain/chain.ts';
import { TxPool, type TxPoolOptions } from '../chain/txpool.ts';
import { registerTxWorkMetrics, watchSystemReverts } from '../chain/metrics.ts';
import { describeSystemRevert } from './hub.ts';
import { createEthApi } from '../chain/rpc/eth.ts';
import { WorkerCallRunner } from '../chain/rpc/call-pool.ts';
import { DEFAULT_RPC_CALL_QUEUE, DEFAULT_RPC_CALL_WORKERS, DEFAULT_RPC_EVM_TIMEOUT_MS } from '../chain/rpc/limits.ts';
import { createDebugApi } from '../chain/rpc/debug.ts';
import { decodeSys } from './envelope.ts';
import { RpcServer, type RpcMethod } from '../chain/rpc/server.ts';
import type { Genesis } from '../chain/genesis.ts';
import { createMetrics, type Metrics } from '../lib/metrics.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import type { HDNodeWallet } from 'ethers';
import { P2PNode } from '../chain/p2p/index.ts';
import { BftDriver } from './driver.ts';
import type { NodePlugin } from './plugin.ts';
import { blockTransition, implementedSteps, TRANSITION_VERSION } from './transition.ts';
import { ValidatorSets } from './validator-sets.ts';
import { readActiveSet, stakingParams, validatorSteps } from './validator-steps.ts';
import { PocError } from '../lib/errors.ts';
import type { TimeoutConfig } from './bft/machine.ts';
import { RpcError, RPC } from '../chain/rpc/server.ts';

export interface NodeOptions {
  datadir: string;
  genesis: Genesis;
  rpc: {
    host?: string;
    port: number;
    /** eth_call / eth_estimateGas: gas cap, wall time per call, worker threads, waiting calls (chain/rpc/limits.ts defaults) */
    gasCap?: bigint;
    evmTimeoutMs?: number;
    callWorkers?: number;
    callQueue?: number;
  };
  /** coinbase for produced blocks (validator address) */
  coinbase: Uint8Array;
  blockTimeMs: number;
  /** dev accounts the node signs eth_sendTransaction for */
  devAccounts?: HDNodeWallet[];
  pool?: TxPoolOptions;
  logger?: Logger;
  /** extra RPC methods (e.g. pocchain_* from other layers) */
  extraMethods?: Record<string, RpcMethod>;
  extraRoutes?: Record<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>;
  /** consensus and p2p (a single validator runs the same BFT rounds alone) */
  bft: {
    p2pPort: number;
    p2pHost?: string;
    bootstrap: string[];
    /** ed25519 secret key when this node is a validator; null for a full node */
    consensusSecretKey: Uint8Array | null;
    dir: string;
    timeouts?: Partial<TimeoutConfig>;
    byzantine?: { doubleSign?: boolean; invalidProposal?: boolean };
    /** TEST ONLY: expose test_p2pBlock / test_p2pUnblock over RPC */
    testControls?: boolean;
  };
  /** upper layers: PoC system calls, bridge */
  plugins?: NodePlugin[];
}

export class PocNode {
  readonly chain: Chain;
  readonly pool: TxPool;
  readonly rpc: RpcServer;
  readonly metrics: Metrics;
  readonly logger: Logger;
  private plugins: NodePlugin[] = [];
  p2p?: P2PNode;
  bft?: BftDriver;
  private stopFilters: () => Promise<void>;

  private constructor(chain: Chain, pool: TxPool, rpc: RpcServer, metrics: Metrics, logger: Logger, stopFilters: () => Promise<void>) {
    this.chain = chain;
    this.pool = pool;
    this.rpc = rpc;
    this.metrics = metrics;
    this.logger = logger;
    this.stopFilters = stopFilters;
  }

  /** Open the chain, start RPC and (when solo) block production. */
  static async start(o: NodeOptions): Promise<PocNode> {
    const logger = o.logger ?? silentLogger;
    const metrics = createMetrics();
    const plugins = o.plugins ?? [];
    // a Validators contract in genesis: the set changes by stake at epoch boundaries
    const staking = stakingParams(o.genesis);
    const sets = new ValidatorSets({ genesis: o.genesis.validators, epochLength: staking ? Number(staking.epochLength) : null });
    const steps = [staking ? validatorSteps({ genesis: o.genesis, params: staking, sets }) : undefined, ...plugins.map((p) => p.steps)];
    const chain = await Chain.open({ datadir: o.datadir, genesis: o.genesis, logger, hooks: blockTransition(steps) });
    sets.attach(async (boundary) => {
      const b = await chain.getBlockByNumber(BigInt(boundary));
      if (!b) throw new PocError('VALIDATOR_SET_UNKNOWN', `block ${boundary}, which stored the validator set, is not in the store`);
      return readActiveSet(await chain.vmAt(b.header.stateRoot));
    });
    logger.info({ version: TRANSITION_VERSION, steps: implementedSteps(steps) }, 'block transition');
    const pool = new TxPool(chain, o.pool);
    registerTxWorkMetrics(metrics.registry, chain.counters);
    watchSystemReverts(chain, metrics.registry, logger, describeSystemRevert);
    const calls = new WorkerCallRunner({
      location: chain.store.level.location,
      chainId: chain.chainId,
      workers: o.rpc.callWorkers ?? DEFAULT_RPC_CALL_WORKERS,
      queue: o.rpc.callQueue ?? DEFAULT_RPC_CALL_QUEUE,
      timeoutMs: o.rpc.evmTimeoutMs ?? DEFAULT_RPC_EVM_TIMEOUT_MS,
      logger,
      onJob: (outcome) => metrics.rpcCalls.inc({ outcome }),
    });
    try {
      await calls.start();
    } catch (e) {
      await calls.stop();
      await chain.close();
      throw e;
    }
    const dev = o.devAccounts;
    let api: ReturnType<typeof createEthApi>;
    const devSigner = dev
      ? {
          addresses: dev.map((w) => w.address),
          sign: async (c: Record<string, unknown>) => {
            const w = dev.find((x) => x.address.toLowerCase() === String(c.from).toLowerCase())!;
            const call = (m: string, p: unknown[]) => api.methods[m]!(p, { id: 0 }) as Promise<string>;
            const nonce = c.nonce ?? (await call('eth_getTransactionCount', [w.address, 'pending']));
            const gas = c.gas ?? (await call('eth_estimateGas', [{ ...c, from: w.address }, 'latest']));
            const tip = BigInt((c.maxPriorityFeePerGas as string) ?? (await call('eth_maxPriorityFeePerGas', [])));
            const base = chain.nextHeader({ coinbase: new Uint8Array(20) }).baseFeePerGas;
            const tx = Transaction.from({
              type: 2,
              chainId: chain.chainId,
              nonce: Number(BigInt(nonce as string)),
              to: (c.to as string) ?? null,
              data: ((c.input ?? c.data) as string) ?? '0x',
              value: BigInt((c.value as string) ?? 0),
              gasLimit: BigInt(gas as string),
              maxPriorityFeePerGas: tip,
              maxFeePerGas: c.maxFeePerGas ? BigInt(c.maxFeePerGas as string) : base * 2n + tip,
            });
            return new Wallet(w.privateKey).signTransaction(tx);
          },
        }
      : undefined;
    let node: PocNode | undefined;
    let consensusUp = false;
    api = createEthApi({ chain, pool, calls, ...(o.rpc.gasCap !== undefined ? { rpcGasCap: o.rpc.gasCap } : {}), ...(devSigner ? { devSigner } : {}), syncing: () => {
      const b = node?.bft?.status();
      return b && b.syncing ? { startingBlock: 0n, currentBlock: chain.head.header.number, highestBlock: BigInt(Math.max(b.height - 1, Number(chain.head.header.number))) } : false;
    } });
    // traces replay a block with the system inputs its validators executed it with
    const debug = createDebugApi({ chain, ...(o.rpc.gasCap !== undefined ? { rpcGasCap: o.rpc.gasCap } : {}), inputsOf: (s) => (s?.sys ? decodeSys(s.sys) : { evidence: [], deposits: [] }) });
    const pocMethods: Record<string, RpcMethod> = {
      pocchain_status: () => ({
        chainId: Number(chain.chainId),
        head: Number(chain.head.header.number),
        headHash: '0x' + Buffer.from(chain.head.hash()).toString('hex'),
        peers: node?.p2p?.peerCount ?? 0,
        pendingTxs: pool.size,
        // the RPC answers before p2p and consensus have started: say so rather than guess
        consensus: consensusUp && node?.bft ? node.bft.status() : { starting: true },
      }),
      pocchain_nodeInfo: () => ({ peerId: node?.p2p?.peerId ?? null, p2p: node?.p2p?.multiaddrs() ?? [], peers: node?.p2p?.peers() ?? [], banned: node?.p2p?.bannedPeers() ?? [], p2pStats: node?.p2p?.stats() ?? null, rpcPort: rpc.port }),
      // the set that signs a height: index order is the order of commit signers and evidence indices
      pocchain_getValidatorSet: async ([tag]) => {
        const h = typeof tag === 'string' && /^0x[0-9a-f]+$/i.test(tag) ? Number(BigInt(tag)) : Number(chain.head.header.number) + 1;
        if (!Number.isSafeInteger(h) || h < 1 || h > Number(chain.head.header.number) + 1) throw new RpcError(RPC.INVALID_PARAMS, 'height must be between 1 and head + 1');
        const e = await sets.load(h);
        const operators = new Map(e.members.map((m) => [Buffer.from(m.pubKey).toString('hex'), m.operator]));
        return {
          height: h,
          epoch: e.epoch,
          firstHeight: e.firstHeight,
          epochLength: sets.epochLength,
          totalPower: String(e.set.totalPower),
          validators: e.set.list().map((v, index) => ({ index, pubKey: '0x' + Buffer.from(v.pubKey).toString('hex'), power: String(v.power), operator: operators.get(Buffer.from(v.pubKey).toString('hex')) ?? null })),
        };
      },
      pocchain_getBlockConsensus: async ([tag]) => {
        const n = typeof tag === 'string' && /^0x[0-9a-f]+$/i.test(tag) ? BigInt(tag) : chain.head.header.number;
        const b = await chain.getBlockByNumber(n);
        if (!b) return null;
        const s = await chain.getStored(b.hash());
        const { decodeSys } = await import('./envelope.ts');
        const { decodeCommit, decodeEvidence } = await import('./bft/codec.ts');
        const sys = s?.sys ? decodeSys(s.sys) : { evidence: [], deposits: [] };
        const hex = (x: Uint8Array | null) => (x ? '0x' + Buffer.from(x).toString('hex') : null);
        const c = s?.commit ? decodeCommit(s.commit) : null;
        return {
          number: '0x' + n.toString(16),
          commit: c ? { height: c.height, round: c.round, blockHash: hex(c.blockHash), signers: c.signatures.map((x, i) => (x ? i : -1)).filter((i) => i >= 0) } : null,
          evidence: sys.evidence.map((e) => {
            const ev = decodeEvidence(e);
            return { validatorIndex: ev.voteA.validatorIndex, height: ev.voteA.height, round: ev.voteA.round, type: ev.voteA.type, blockHashA: hex(ev.voteA.blockHash), blockHashB: hex(ev.voteB.blockHash) };
          }),
          randao: sys.randao ? { signer: sys.randao.signer, reveal: hex(sys.randao.reveal) } : null,
          deposits: sys.deposits.map((d) => ({ nonce: '0x' + d.nonce.toString(16), recipient: hex(d.recipient), amount: '0x' + d.amount.toString(16), l1TxHash: hex(d.l1TxHash) })),
        };
      },
    };
    if (o.bft?.testControls) {
      pocMethods.test_p2pBlock = async ([peer]) => {
        if (typeof peer !== 'string' || !node?.p2p) throw new RpcError(RPC.INVALID_PARAMS, 'peer id required');
        await node.p2p.blockPeer(peer);
        return true;
      };
      pocMethods.test_p2pUnblock = ([peer]) => {
        if (typeof peer !== 'string' || !node?.p2p) throw new RpcError(RPC.INVALID_PARAMS, 'peer id required');
        node.p2p.unblockPeer(peer);
        return true;
      };
    }
    pool.on('tx', () => metrics.poolSize.set(pool.size));
    const rpc = new RpcServer({
      host: o.rpc.host ?? '127.0.0.1',
      port: o.rpc.port,
      methods: Object.assign({ ...api.methods, ...debug.methods, ...pocMethods, ...(o.extraMethods ?? {}) }, ...plugins.map((p) => p.methods ?? {})),
      routes: {
        '/metrics': async (_req, res) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(await metrics.registry.metrics());
        },
        '/health': (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ ok: true, head: Number(chain.head.header.number) }));
        },
        ...(o.extraRoutes ?? {}),
        ...Object.assign({}, ...plugins.map((p) => p.routes ?? {})),
      },
      logger,
      onSlowClient: () => metrics.rpcSlowClients.inc(),
      onCall: (method, ok, s) => {
        const known = method in api.methods ? method : 'other';
        metrics.rpcRequests.inc({ method: known, status: ok ? 'ok' : 'error' });
        metrics.rpcSeconds.observe({ method: known }, s);
      },
    });
    try {
      await rpc.start();
    } catch (e) {
      await calls.stop();
      await chain.close();
      throw e;
    }
    metrics.headBlock.set(Number(chain.head.header.number));
    node = new PocNode(chain, pool, rpc, metrics, logger, async () => {
      api.filters.stop();
      await calls.stop();
    });
    node.plugins = plugins;
    try {
      node.p2p = new P2PNode({ config: { chainId: chain.chainId, keyFile: join(o.bft.dir, 'p2p.key'), host: o.bft.p2pHost ?? '127.0.0.1', port: o.bft.p2pPort, bootstrap: o.bft.bootstrap }, logger });
      await node.p2p.start();
      const system = plugins.find((p) => p.system)?.system;
      node.bft = new BftDriver({
        chain,
        pool,
        p2p: node.p2p,
        validators: o.genesis.validators,
        sets,
        me: o.bft.consensusSecretKey ? { secretKey: o.bft.consensusSecretKey, coinbase: o.coinbase } : null,
        dir: o.bft.dir,
        blockTimeMs: o.blockTimeMs,
        ...(o.pool?.maxTxBytes !== undefined ? { poolMaxTxBytes: o.pool.maxTxBytes } : {}),
        ...(o.bft.timeouts ? { timeouts: o.bft.timeouts } : {}),
        ...(system ? { system } : {}),
        ...(o.bft.byzantine ? { byzantine: o.bft.byzantine } : {}),
        logger,
        metrics,
      });
      const myPub = o.bft.consensusSecretKey ? Buffer.from(o.bft.consensusSecretKey.slice(32)).toString('hex') : '';
      const validatorIndex = o.genesis.validators.findIndex((v) => v.pubKey.replace(/^0x/, '').toLowerCase() === myPub);
      for (const p of plugins) await p.start?.({ chain, pool, p2p: node.p2p, logger: logger.child({ plugin: p.name }), metrics, datadir: dirname(o.datadir), validatorIndex, validatorSetAt: async (h) => (await sets.load(h)).members, validatorEpochLength: sets.epochLength });
      await node.bft.start();
      consensusUp = true;
    } catch (e) {
      await node.stop();
      throw e;
    }
    return node;
  }

  /** Stop producing, finish the block in progress, close RPC and the database. */
  async stop(): Promise<void> {
    await this.bft?.stop();
    for (const p of [...this.plugins].reverse()) await p.stop?.().catch(() => {});
    await this.p2p?.stop();
    await this.rpc.stop();
    await this.stopFilters();
    await this.chain.close();
  }
}
