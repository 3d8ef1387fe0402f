/**
 * A full pocchain node: the composition root. Wires the chain (LevelDB + EVM), the tx pool, the
 * JSON-RPC server, metrics and the block driver. The driver is the single-validator producer
 * (dev mode, or a one-validator network); the BFT driver takes its place when there are peers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Wallet, Transaction } from 'ethers';
import { Chain } from '../chain/chain.ts';
import { SoloProducer } from '../chain/producer.ts';
import { TxPool, type TxPoolOptions } from '../chain/txpool.ts';
import { createEthApi } from '../chain/rpc/eth.ts';
import { RpcServer, type RpcMethod } from '../chain/rpc/server.ts';
import type { Genesis } from '../chain/genesis.ts';
import { createMetrics, type Metrics } from '../lib/metrics.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import type { HDNodeWallet } from 'ethers';

export interface NodeOptions {
  datadir: string;
  genesis: Genesis;
  rpc: { host?: string; port: number };
  /** coinbase for produced blocks (validator address) */
  coinbase: Uint8Array;
  blockTimeMs: number;
  /** produce blocks alone (dev mode / single validator) */
  solo: boolean;
  /** dev accounts the node signs eth_sendTransaction for */
  devAccounts?: HDNodeWallet[];
  pool?: TxPoolOptions;
  logger?: Logger;
  /** extra RPC methods (e.g. pocchain_* from other layers) */
  extraMethods?: Record<string, RpcMethod>;
  extraRoutes?: Record<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>;
}

export class PocNode {
  readonly chain: Chain;
  readonly pool: TxPool;
  readonly rpc: RpcServer;
  readonly metrics: Metrics;
  readonly logger: Logger;
  private producer?: SoloProducer;
  private stopFilters: () => void;

  private constructor(chain: Chain, pool: TxPool, rpc: RpcServer, metrics: Metrics, logger: Logger, stopFilters: () => void) {
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
    const chain = await Chain.open({ datadir: o.datadir, genesis: o.genesis, logger });
    const pool = new TxPool(chain, o.pool);
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
    api = createEthApi({ chain, pool, ...(devSigner ? { devSigner } : {}) });
    pool.on('tx', () => metrics.poolSize.set(pool.size));
    const rpc = new RpcServer({
      host: o.rpc.host ?? '127.0.0.1',
      port: o.rpc.port,
      methods: { ...api.methods, ...(o.extraMethods ?? {}) },
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
      },
      logger,
      onCall: (method, ok, s) => {
        const known = method in api.methods ? method : 'other';
        metrics.rpcRequests.inc({ method: known, status: ok ? 'ok' : 'error' });
        metrics.rpcSeconds.observe({ method: known }, s);
      },
    });
    try {
      await rpc.start();
    } catch (e) {
      await chain.close();
      throw e;
    }
    metrics.headBlock.set(Number(chain.head.header.number));
    const node = new PocNode(chain, pool, rpc, metrics, logger, () => api.filters.stop());
    if (o.solo) {
      node.producer = new SoloProducer({ chain, pool, coinbase: o.coinbase, blockTimeMs: o.blockTimeMs, logger, metrics });
      node.producer.start();
    }
    return node;
  }

  /** Stop producing, finish the block in progress, close RPC and the database. */
  async stop(): Promise<void> {
    await this.producer?.stop();
    await this.rpc.stop();
    this.stopFilters();
    await this.chain.close();
  }
}
