/**
 * The bridge as a node plugin: deposit minting inside block execution (every node), the deposits a
 * proposer includes and the check of a proposal's deposits against this node's own L1 view
 * (nodes with an L1 RPC), checkpoint signing and collection (validators sign, every node collects),
 * and RPC methods: pocchain_bridgeInfo, pocchain_bridgeStatus, pocchain_checkpoint(height),
 * pocchain_latestCheckpoint, pocchain_handover(setId) (the outgoing set's signatures over a
 * validator set change, bridge/handover.ts).
 */
import { Address, hexToBytes } from '@ethereumjs/util';
import { getAddress, hexlify, randomBytes } from 'ethers';
import type { Chain } from '../chain/chain.ts';
import type { Genesis } from '../chain/genesis.ts';
import { RpcError, RPC } from '../chain/rpc/server.ts';
import type { Deposit as SysDeposit } from '../consensus/envelope.ts';
import type { NodePlugin, PluginContext } from '../consensus/plugin.ts';
import type { L1JudgeCode } from '../consensus/block-rules.ts';
import { Counter } from 'prom-client';
import { isPocError, PocError } from '../lib/errors.ts';
import { loadKeys, randaoKey, type NodeKeys } from '../lib/keys.ts';
import type { Logger } from '../lib/log.ts';
import { blsSigning, CheckpointService, ecdsaSigning } from './checkpoint-signer.ts';
import type { BridgeNodeConfig } from './config.ts';
import { BRIDGE_ADDRESS, depositSteps, readBridgeState, readNextNonce } from './deposits-hook.ts';
import type { Deposit as L1Deposit } from './deposit.ts';
import { DepositWatcher } from './watcher.ts';

export type BridgePluginErrorCode = 'BRIDGE_DEPOSIT_MISMATCH' | 'BRIDGE_DEPOSIT_OUT_OF_ORDER';

/** Most deposits one block mints. */
export const MAX_DEPOSITS_PER_BLOCK = 100;
/** Longest a proposal's deposit check waits for one more L1 poll before answering L1_UNAVAILABLE. */
export const CHECK_POLL_TIMEOUT_MS = 3000;
/** Recipient of the TEST ONLY fake deposit. */
export const FAKE_DEPOSIT_RECIPIENT = '0x00000000000000000000000000000000000fa4e0';

const hexBytes = (h: string) => hexToBytes(h as `0x${string}`);

/** `p`, or the message 'timed out' after `ms` (the poll itself goes on). */
function withTimeout(p: Promise<string | null>, ms: number): Promise<string | null> {
  let t: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (t = setTimeout(() => resolve(`no answer within ${ms} ms`), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(t));
}

/** An L1 deposit as the block's system data carries it. */
export function toSysDeposit(d: L1Deposit): SysDeposit {
  return { nonce: d.nonce, recipient: hexBytes(d.recipient), amount: d.amount, l1TxHash: hexBytes(d.txHash) };
}

/**
 * The two answers that mean "this node cannot judge the deposits yet" (its L1 view is missing or
 * behind): the validator must not vote for the block but must not pin it as invalid either (the
 * consensus driver tells them from a real refusal by these codes). Every other throw = invalid.
 */
export type { L1JudgeCode } from '../consensus/block-rules.ts';

/** This node's L1 view, as `checkDeposits` needs it. */
export interface L1View {
  /** the final deposit with `nonce` in this view, if known */
  get(nonce: bigint): L1Deposit | undefined;
  /** poll L1 once more; resolves to the poll's error message, or null when it succeeded */
  refresh(): Promise<string | null>;
}

/**
 * Throws unless `proposed` is exactly the next run of final deposits in this node's L1 view.
 * Pure rule over the view: a wrong nonce order or contents that differ from a deposit this node
 * knows are invalid (BRIDGE_DEPOSIT_OUT_OF_ORDER / _MISMATCH); a deposit it does not know after
 * one more poll is L1_BEHIND (its L1 may lag the proposer's), and an L1 it cannot reach is
 * L1_UNAVAILABLE. An unknown deposit cannot be told from a forged one, so it is never a vote for
 * the block: a forged deposit costs its proposer the round, and from round 1 on blocks carry none.
 */
export async function checkDeposits(proposed: readonly SysDeposit[], next: bigint, view: L1View | null): Promise<void> {
  for (const [i, d] of proposed.entries()) {
    const want = next + BigInt(i);
    if (d.nonce !== want) throw new PocError<BridgePluginErrorCode>('BRIDGE_DEPOSIT_OUT_OF_ORDER', `proposed deposit nonce ${d.nonce}, expected ${want}`);
  }
  if (proposed.length === 0) return;
  if (!view) throw new PocError<L1JudgeCode>('L1_UNAVAILABLE', 'this node has no L1 RPC (--l1-rpc): it cannot check deposits');
  let polled = false;
  for (const d of proposed) {
    let l1 = view.get(d.nonce);
    if (!l1 && !polled) {
      polled = true; // our view may lag the proposer's by one poll
      const err = await view.refresh();
      if (err !== null) throw new PocError<L1JudgeCode>('L1_UNAVAILABLE', `L1 RPC unavailable, cannot check deposit ${d.nonce}: ${err}`);
      l1 = view.get(d.nonce);
    }
    if (!l1) throw new PocError<L1JudgeCode>('L1_BEHIND', `deposit ${d.nonce} is not confirmed on L1 in this node's view`, { data: { nonce: d.nonce.toString() } });
    const mine = toSysDeposit(l1);
    if (hexlify(mine.recipient) !== hexlify(d.recipient) || mine.amount !== d.amount || hexlify(mine.l1TxHash) !== hexlify(d.l1TxHash)) {
      throw new PocError<BridgePluginErrorCode>('BRIDGE_DEPOSIT_MISMATCH', `deposit ${d.nonce} differs from the L1 log`);
    }
  }
}

/** Build the bridge plugin for a node. `cfg` null: a chain without a bridge (only the mint hook). */
export function createBridgePlugin(genesis: Genesis, cfg: BridgeNodeConfig | null): NodePlugin {
  let chain: Chain | undefined;
  let watcher: DepositWatcher | undefined;
  let checkpoints: CheckpointService | undefined;
  let log: Logger | undefined;

  const need = <T>(x: T | undefined, what: string): T => {
    if (x === undefined) throw new RpcError(RPC.SERVER, `bridge: ${what} not available on this node`);
    return x;
  };
  const positive = (what: string) => (v: unknown): number => {
    const n = typeof v === 'string' ? Number(BigInt(v)) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new RpcError(RPC.INVALID_PARAMS, `${what} must be a positive integer or hex quantity`);
    return n;
  };
  const heightParam = positive('height');
  const setIdParam = positive('set id');

  const plugin: NodePlugin = {
    name: 'bridge',
    steps: depositSteps(),
    methods: {
      pocchain_bridgeInfo: () =>
        cfg
          ? { l1ChainId: cfg.chain.l1ChainId, vault: cfg.chain.vault, checkpoints: cfg.chain.checkpoints, checkpointScheme: cfg.chain.checkpointScheme, token: cfg.chain.token, startBlock: cfg.chain.startBlock, epochLength: cfg.chain.epochLength, confirmations: cfg.confirmations, bridge: BRIDGE_ADDRESS, l1Watching: !!watcher }
          : null,
      pocchain_bridgeStatus: async () => {
        const c = need(chain, 'chain');
        const st = await readBridgeState(await c.headState());
        const burned = (await (await c.headState()).getAccount(new Address(hexBytes(BRIDGE_ADDRESS))))?.balance ?? 0n;
        return {
          head: Number(c.head.header.number),
          nextDepositNonce: st.nextDepositNonce.toString(),
          mintedFromDeposits: st.mintedFromDeposits.toString(),
          withdrawalCount: st.withdrawalCount,
          burnedByWithdrawals: burned.toString(),
          withdrawalsRoot: st.withdrawalsRoot,
          l1: watcher ? watcher.status() : null,
        };
      },
      pocchain_checkpoint: async ([h]) => need(checkpoints, 'checkpoints').view(heightParam(h)),
      pocchain_latestCheckpoint: async () => need(checkpoints, 'checkpoints').latest(),
      pocchain_handover: async ([id]) => need(checkpoints, 'checkpoints').handover(setIdParam(id)),
    },
    async start(ctx: PluginContext) {
      chain = ctx.chain;
      log = ctx.logger;
      if (!cfg) return;
      if (cfg.l1Rpc) {
        const events = new Counter({ name: 'pocchain_bridge_l1_events_total', help: 'L1 watcher events: deep_reorg (deeper than the finality rule), minted_conflict (a minted deposit changed on L1), replaced (an unminted deposit changed)', labelNames: ['event'] as const, registers: [ctx.metrics.registry] });
        const w = new DepositWatcher({ url: cfg.l1Rpc, l1ChainId: cfg.chain.l1ChainId, vault: cfg.chain.vault, finality: cfg.confirmations, startBlock: cfg.chain.startBlock, pollMs: cfg.pollMs, logger: ctx.logger, nextToMint: async () => readNextNonce(await ctx.chain.headState()), onEvent: (e) => events.inc({ event: e }) });
        // a wrong L1 is a configuration error: refuse to start; an unreachable one is retried by polls
        try {
          await w.checkChain();
        } catch (e) {
          if (isPocError(e, 'BRIDGE_L1_WRONG_CHAIN')) {
            await w.stop();
            throw e;
          }
          ctx.logger.warn({ err: (e as Error).message }, 'L1 RPC unreachable at start: deposits wait until it answers');
        }
        watcher = w;
        watcher.start();
      } else {
        ctx.logger.warn({}, 'no L1 RPC configured (--l1-rpc / POCCHAIN_L1_RPC): this node cannot check deposits');
      }
      // the node's key signs checkpoints and hand-overs of every height whose set has it (the
      // genesis set on a fixed-set chain): its secp256k1 key as an operator (ECDSA Checkpoints), or
      // its BLS key, derived from its consensus key (CheckpointsBls); a node without keys only collects
      let keys: NodeKeys | null = null;
      try {
        keys = loadKeys(ctx.datadir);
      } catch (e) {
        if (!isPocError(e, 'KEYS_MISSING')) throw e;
      }
      const key = keys?.validator ?? null;
      if (cfg.chain.checkpointScheme === 'ecdsa' && ctx.validatorIndex >= 0 && key && getAddress(genesis.validators[ctx.validatorIndex]!.address) !== key.address) {
        ctx.logger.warn({ address: key.address, genesis: genesis.validators[ctx.validatorIndex]!.address }, 'validator key is not the genesis operator address: it signs only where a later set names it');
      }
      checkpoints = new CheckpointService({
        chain: ctx.chain,
        p2p: ctx.p2p,
        domain: { l1ChainId: BigInt(cfg.chain.l1ChainId), checkpoints: cfg.chain.checkpoints, sidechainChainId: BigInt(cfg.chain.sidechainChainId) },
        setAt: ctx.validatorSetAt,
        setEpochLength: ctx.validatorEpochLength,
        epochLength: cfg.chain.epochLength,
        signing: cfg.chain.checkpointScheme === 'bls' ? blsSigning(keys ? randaoKey(keys.consensus.secretKey) : null) : ecdsaSigning(key),
        logger: ctx.logger,
      });
      await checkpoints.start();
    },
    async stop() {
      await checkpoints?.stop();
      await watcher?.stop();
    },
  };

  if (cfg) {
    // every node of a bridged chain has a system source: without an L1 RPC it proposes no
    // deposits and answers L1_UNAVAILABLE to blocks carrying some (it follows them by their commit)
    plugin.system = {
      async deposits() {
        if (!watcher) return [];
        const c = need(chain, 'chain');
        const next = await readNextNonce(await c.headState());
        watcher.prune(next);
        if (cfg.testFakeDeposit) {
          log?.warn({ nonce: next.toString() }, 'TEST ONLY: proposing a fake deposit');
          return [{ nonce: next, recipient: hexBytes(FAKE_DEPOSIT_RECIPIENT), amount: 10n ** 24n, l1TxHash: randomBytes(32) }];
        }
        return watcher.contiguousFrom(next, MAX_DEPOSITS_PER_BLOCK).map(toSysDeposit);
      },
      async check(deposits) {
        const c = need(chain, 'chain');
        const next = await readNextNonce(await c.headState());
        const w = watcher;
        if (w) w.prune(next);
        await checkDeposits(deposits, next, w ? { get: (n) => w.get(n), refresh: () => withTimeout(w.refresh().then(() => w.error()), CHECK_POLL_TIMEOUT_MS) } : null);
      },
    };
  }
  return plugin;
}
