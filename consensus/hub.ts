/**
 * The proof-of-contribution node plugin: the Hub's system calls at block boundaries, and a
 * content store (apps, datasets, results by keccak256) served on the RPC port.
 *
 * System calls. Every block, on every validator, inside block execution (chain/execute.ts):
 * `Hub.schedule(uint256(prevrandao))` before the transactions, `Hub.finalize()` after them, from
 * SYSTEM_ADDRESS with the chain's fixed system-call gas (30M). Both are bounded loops (see
 * docs/poc-rules.md "Bounded work per block"), so they fit in that gas.
 *
 * A reverting system call does NOT invalidate the block (`allowRevert: true`). Why: a revert of
 * schedule/finalize is a bug in the Hub or an unforeseen state, and it would repeat at every height:
 * throwing BLOCK_INVALID would make every proposal invalid and halt the chain for good. With
 * allowRevert the EVM rolls back the call's state changes and drops its logs, the block carries on
 * with the transactions, and the block's system receipt carries a SystemCallReverted log (logged
 * and counted by every node at commit, chain/metrics.ts). It stays deterministic: every validator runs
 * the same call on the same state and gets the same revert, so the state roots agree.
 *
 * Content store. `pocchain_putContent(hexBytes)` saves bytes under <datadir>/content/<hash> and
 * returns keccak256(bytes); `GET /content/0x<hash>` serves them (executor/content.ts verifies on
 * both sides). Uploads are not pushed to other nodes; instead a node that misses a blob asks its
 * peers for it over the p2p content protocol (content-p2p.ts), verifies it and keeps it, so every
 * node serves what any node holds. Bounded (content-store.ts): per upload, in total, and a blob is
 * kept only if its hash is registered on chain (AppRegistered, DatasetRegistered, Revealed in
 * committed blocks) within a grace period — blobs fetched from peers follow the same rule (an
 * expired copy is fetched again when asked for).
 */
import { join } from 'node:path';
import { Address, bytesToHex, hexToBytes } from '@ethereumjs/util';
import { Interface } from 'ethers';
import type { Genesis } from '../chain/genesis.ts';
import type { SystemContext } from '../chain/execute.ts';
import type { SystemOps } from './transition.ts';
import { RpcError, RPC } from '../chain/rpc/server.ts';
import { contentHandler } from '../executor/content.ts';
import { isPocError } from '../lib/errors.ts';
import { ContentStore, DEFAULT_CONTENT_GRACE_MS, DEFAULT_CONTENT_QUOTA_BYTES } from './content-store.ts';
import { CONTENT_MAX_REQUEST_BYTES, CONTENT_PROTOCOL, ContentFetcher, contentServer } from './content-p2p.ts';
import { protocolId } from '../chain/p2p/index.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { loadArtifact } from '../contracts/artifacts.ts';
import { HUB_ADDRESS, encodeFinalize, encodeSchedule } from './poc/index.ts';
import type { NodePlugin, PluginContext } from './plugin.ts';
import type { CommittedBlockEvent } from '../chain/chain.ts';
import type { StoredLog } from '../chain/store.ts';
import { equalsBytes } from '@ethereumjs/util';

let registrationTopics: { app: string; dataset: string; revealed: string } | undefined;
/** The content hash a Hub log registers (app, dataset, revealed result digest), if any. */
function registeredHash(hub: Uint8Array, l: StoredLog): string | undefined {
  if (!equalsBytes(l.address, hub) || l.topics.length === 0) return undefined;
  if (!registrationTopics) {
    const iface = new Interface(loadArtifact('Hub').abi);
    registrationTopics = { app: iface.getEvent('AppRegistered')!.topicHash, dataset: iface.getEvent('DatasetRegistered')!.topicHash, revealed: iface.getEvent('Revealed')!.topicHash };
  }
  const t0 = bytesToHex(l.topics[0]!);
  if ((t0 === registrationTopics.app || t0 === registrationTopics.dataset) && l.topics[1]) return bytesToHex(l.topics[1]);
  if (t0 === registrationTopics.revealed && l.data.length >= 32) return bytesToHex(l.data.subarray(0, 32));
  return undefined;
}

/**
 * Default upload limit. The RPC server accepts request bodies up to 5 MiB and content travels as
 * hex (2 chars per byte), so ~2.5 MiB is the most one pocchain_putContent call can carry today.
 */
export const DEFAULT_MAX_CONTENT_BYTES = 2 * 1024 * 1024;

export interface HubPluginOptions {
  genesis: Genesis;
  /** node data directory; content goes to <datadir>/content */
  datadir: string;
  maxContentBytes?: number;
  /** total bytes of stored content (DEFAULT_CONTENT_QUOTA_BYTES) */
  contentQuotaBytes?: number;
  /** time an upload may wait for its on-chain registration (DEFAULT_CONTENT_GRACE_MS) */
  contentGraceMs?: number;
  logger?: Logger;
}

/** True when the genesis places runtime code at the Hub address. */
export function hubInGenesis(genesis: Genesis): boolean {
  const entry = Object.entries(genesis.alloc).find(([a]) => a.toLowerCase() === HUB_ADDRESS);
  return !!entry && !!entry[1].code && entry[1].code !== '0x';
}

let systemIface: Interface | undefined;

/**
 * A system call's revert data in words: a custom error of the system contracts (Hub, Validators)
 * by name and arguments, else the raw bytes. For the SystemCallReverted watcher (chain/metrics.ts).
 */
export function describeSystemRevert(returnData: string): string {
  if (returnData === '0x') return 'empty revert data (out of gas or invalid opcode)';
  try {
    systemIface ??= new Interface([...loadArtifact('Hub').abi, ...loadArtifact('Validators').abi].filter((f: { type?: string }) => f.type === 'error'));
    const e = systemIface.parseError(returnData);
    if (e) return `${e.name}(${e.args.map(String).join(', ')})`;
  } catch {
    /* fall through */
  }
  return returnData.slice(0, 74);
}

/** Gas of the Hub system calls of one executed block. */
export interface SystemGas {
  schedule: bigint;
  finalize: bigint;
}

/**
 * ctx.call returns only the return data; the gas of the top-level message is read from the EVM's
 * message events around the call (nested CALLs also emit them, hence the depth stack).
 */
async function meteredCall(ctx: SystemContext, to: Address, data: Uint8Array): Promise<bigint> {
  const events = (ctx.vm.evm as unknown as { events?: { on: Function; off: Function } }).events;
  const depths: number[] = [];
  let gas = 0n;
  const onBefore = (m: { depth: number }) => void depths.push(m.depth);
  const onAfter = (r: { execResult: { executionGasUsed: bigint } }) => {
    if (depths.pop() === 0) gas = r.execResult.executionGasUsed;
  };
  events?.on('beforeMessage', onBefore);
  events?.on('afterMessage', onAfter);
  try {
    await ctx.call(to, data, { allowRevert: true });
    return gas;
  } finally {
    events?.off('beforeMessage', onBefore);
    events?.off('afterMessage', onAfter);
  }
}

/**
 * The Hub's steps of the block transition (schedule before txs, finalize after), reverts tolerated
 * and logged. `onGas` receives each block's system-call gas (for pocchain_systemGas and the bench).
 */
export function hubSteps(onGas?: (block: bigint, g: SystemGas) => void): SystemOps {
  const hub = new Address(hexToBytes(HUB_ADDRESS));
  let pending = 0n;
  // a revert leaves a SystemCallReverted log, which the node logs and counts at commit
  const run = async (ctx: SystemContext, data: string): Promise<bigint> => meteredCall(ctx, hub, hexToBytes(data as `0x${string}`));
  return {
    async schedule(ctx) {
      const randomness = BigInt(bytesToHex(ctx.block.header.mixHash));
      pending = await run(ctx, encodeSchedule(randomness));
    },
    async finalize(ctx) {
      const finalize = await run(ctx, encodeFinalize());
      onGas?.(ctx.block.header.number, { schedule: pending, finalize });
    },
  };
}

/** Create the PoC plugin: Hub system calls (when the Hub is in genesis) and the content store. */
export function createHubPlugin(opts: HubPluginOptions): NodePlugin {
  const maxBytes = opts.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES;
  let logger = opts.logger ?? silentLogger;
  const graceMs = opts.contentGraceMs ?? DEFAULT_CONTENT_GRACE_MS;
  const store = new ContentStore({ dir: join(opts.datadir, 'content'), maxBytes, quotaBytes: opts.contentQuotaBytes ?? DEFAULT_CONTENT_QUOTA_BYTES, graceMs, logger });
  let gcTimer: NodeJS.Timeout | undefined;
  let onBlock: ((ev: CommittedBlockEvent) => void) | undefined;
  let chainRef: PluginContext['chain'] | undefined;
  const withHub = hubInGenesis(opts.genesis);
  // The steps are created now (the chain takes them at open); their logger is swapped in start().
  // Gas of the system calls of recently executed blocks, by number (the last execution of a
  // height wins: a re-proposed height is executed again with its new contents).
  const gasByBlock = new Map<bigint, SystemGas>();
  const recordGas = (n: bigint, g: SystemGas) => {
    gasByBlock.delete(n);
    gasByBlock.set(n, g);
    if (gasByBlock.size > 4096) gasByBlock.delete(gasByBlock.keys().next().value!);
  };
  const steps: SystemOps | undefined = withHub ? hubSteps(recordGas) : undefined;
  let fetcher: ContentFetcher | undefined;
  let metrics: PluginContext['metrics'] | undefined;
  /** Local store first, then the peers (started nodes only). Throws CONTENT_BUSY. */
  const lookup = async (hash: string): Promise<Uint8Array | undefined> => {
    const local = await store.get(hash);
    if (local || !fetcher) return local;
    try {
      const bytes = await fetcher.fetch(hash);
      metrics?.contentFetches.inc({ outcome: 'found' });
      return bytes;
    } catch (e) {
      if (isPocError(e, 'CONTENT_UNAVAILABLE')) {
        metrics?.contentFetches.inc({ outcome: 'unavailable' });
        return undefined;
      }
      if (isPocError(e, 'CONTENT_BUSY')) metrics?.contentFetches.inc({ outcome: 'busy' });
      throw e;
    }
  };
  const serve = contentHandler(lookup);
  return {
    name: 'hub',
    ...(steps ? { steps } : {}),
    methods: {
      pocchain_putContent: async ([data]) => {
        // bound before any work: the length says the size, the regexp runs only on what fits
        if (typeof data !== 'string') throw new RpcError(RPC.INVALID_PARAMS, 'invalid params: expected 0x-prefixed hex bytes');
        const size = (data.length - 2) / 2;
        if (size > maxBytes) throw new RpcError(RPC.LIMIT, `content too large: ${Math.floor(size)} bytes, limit ${maxBytes} per upload`, { limit: maxBytes });
        if (!/^0x([0-9a-fA-F]{2})*$/.test(data)) throw new RpcError(RPC.INVALID_PARAMS, 'invalid params: expected 0x-prefixed hex bytes');
        if (size === 0) throw new RpcError(RPC.INVALID_PARAMS, 'content is empty');
        try {
          return await store.put(hexToBytes(data as `0x${string}`));
        } catch (e) {
          if (isPocError(e, 'CONTENT_STORE_FULL') || isPocError(e, 'CONTENT_TOO_LARGE')) throw new RpcError(RPC.LIMIT, e.message, e.data);
          throw e;
        }
      },
      pocchain_contentLimit: () => maxBytes,
      /** Bytes stored, the quota, blobs and how many are registered on chain. */
      pocchain_contentUsage: () => store.usage(),
      /** Gas of the Hub system calls of a block executed by this node (recent blocks only), or null. */
      pocchain_systemGas: ([n]) => {
        if (typeof n !== 'string' || !/^0x[0-9a-fA-F]+$/.test(n)) throw new RpcError(RPC.INVALID_PARAMS, 'invalid params: expected a block number as hex quantity');
        const g = gasByBlock.get(BigInt(n));
        return g ? { schedule: '0x' + g.schedule.toString(16), finalize: '0x' + g.finalize.toString(16) } : null;
      },
    },
    routes: {
      '/content/': async (req, res) => {
        if (!(await serve(req, res))) res.writeHead(404).end();
      },
    },
    async start(ctx) {
      logger = ctx.logger;
      metrics = ctx.metrics;
      await store.load();
      const m = ctx.metrics;
      const p2p = ctx.p2p;
      const protocol = protocolId(ctx.chain.chainId, CONTENT_PROTOCOL);
      fetcher = new ContentFetcher({
        net: {
          peers: () => p2p.peers(),
          request: (peer, req, o) => p2p.request(peer, protocol, req, o),
          penalize: (peer) => void p2p.penalize(peer, 'bad-response'),
        },
        maxBytes,
        save: async (bytes) => void (await store.put(bytes)),
        onPeer: (outcome, bytes) => {
          m.contentPeerRequests.inc({ outcome });
          if (outcome === 'served') m.contentPeerBytes.inc(bytes);
        },
        logger,
      });
      // the server reads the local store only: a miss never fans out further
      await p2p.handle(protocol, contentServer((hash) => store.get(hash), (found) => m.contentServed.inc({ outcome: found ? 'found' : 'missing' })), { maxRequestBytes: CONTENT_MAX_REQUEST_BYTES });
      // Registrations come from committed blocks (also those replayed by block sync).
      const hub = hexToBytes(HUB_ADDRESS);
      onBlock = (ev) => {
        for (const l of [...ev.receipts.flatMap((r) => r.logs), ...ev.systemLogs]) {
          const h = registeredHash(hub, l);
          if (h) store.onRegistered(h).catch((e) => logger.warn({ err: (e as Error).message }, 'content: cannot pin'));
        }
      };
      chainRef = ctx.chain;
      ctx.chain.on('block', onBlock);
      gcTimer = setInterval(() => void store.gc().catch((e) => logger.warn({ err: (e as Error).message }, 'content: gc failed')), Math.max(1000, Math.min(graceMs, 60_000))).unref();
      logger.info({ hub: withHub, content: store.cache.dir, maxContentBytes: maxBytes, ...store.usage(), graceMs }, 'hub plugin started');
    },
    async stop() {
      if (gcTimer) clearInterval(gcTimer);
      if (onBlock) chainRef?.off('block', onBlock);
      fetcher = undefined;
    },
  };
}
