/**
 * The Ethereum JSON-RPC methods, over a Chain and its TxPool. Reads go to committed state through
 * per-request state copies; writes only through the pool.
 */
import type { Block } from '@ethereumjs/block';
import { Address, bytesToHex, bigIntToHex, intToHex, setLengthLeft } from '@ethereumjs/util';
import { getMerkleStateProof } from '@ethereumjs/statemanager';
import { keccak_256 } from '@noble/hashes/sha3.js';
import type { Chain } from '../chain.ts';
import type { TxPool } from '../txpool.ts';
import { formatBlock, formatReceipt, formatTx } from './format.ts';
import * as P from './params.ts';
import { RPC, RpcError, type RpcMethod } from './server.ts';
import { Filters } from './filters.ts';
import { parseCall, revertError, type CallJob, type CallRunner } from './call.ts';
import { DEFAULT_RPC_GAS_CAP } from './limits.ts';
import { LogReader } from './logs.ts';

export const CLIENT_VERSION = `pocchain/v0.1.0/${process.platform}-${process.arch}/node${process.versions.node}`;
const SUGGESTED_TIP = 1_000_000_000n;
const q = (n: bigint | number) => (typeof n === 'number' ? intToHex(n) : bigIntToHex(n));

export interface EthApiOptions {
  chain: Chain;
  pool: TxPool;
  /** dev mode: accounts the node signs for (eth_accounts / eth_sendTransaction) */
  devSigner?: { addresses: string[]; sign(tx: Record<string, unknown>): Promise<string> };
  /** extra status for eth_syncing while catching up */
  syncing?: () => false | { startingBlock: bigint; currentBlock: bigint; highestBlock: bigint };
  /** runs eth_call / eth_estimateGas off the main thread (call-pool.ts) */
  calls: CallRunner;
  /** gas cap for eth_call / estimateGas (default DEFAULT_RPC_GAS_CAP, 50M as geth) */
  rpcGasCap?: bigint;
}

/** Revert data → JSON-RPC error (kept here for importers). */
export { revertError };

export function createEthApi(o: EthApiOptions): { methods: Record<string, RpcMethod>; filters: Filters; logs: LogReader } {
  const { chain, pool } = o;
  const logs = new LogReader(chain);
  const filters = new Filters(chain, pool, logs);

  async function resolveBlock(tag: P.BlockTag): Promise<Block> {
    if (tag.kind === 'latest' || tag.kind === 'pending') return chain.head;
    const b = tag.kind === 'hash' ? await chain.getBlockByHash(tag.hash) : await chain.getBlockByNumber(tag.number);
    if (!b) throw new RpcError(RPC.SERVER, tag.kind === 'hash' ? 'header not found' : `header for block ${tag.number} not found`);
    return b;
  }

  async function maybeBlock(tag: P.BlockTag): Promise<Block | null> {
    if (tag.kind === 'number' && tag.number > chain.head.header.number) return null;
    if (tag.kind === 'hash') return (await chain.getBlockByHash(tag.hash)) ?? null;
    return resolveBlock(tag);
  }

  async function stateFor(tag: unknown) {
    const b = await resolveBlock(P.blockTag(tag));
    // reads at the head share one state manager whose caches stay warm until the head moves
    // (these methods only read: nothing checkpoints or writes on it)
    return { block: b, state: b === chain.head ? await chain.headState() : await chain.stateAt(b.header.stateRoot) };
  }

  /** A call job on the block `tag` names (resolved here, run by the call runner). */
  async function callJob(kind: CallJob['kind'], c: unknown, tag: unknown): Promise<CallJob> {
    const call = parseCall(P.object(c, 'call'));
    const b = await resolveBlock(P.blockTag(tag));
    return { kind, block: { stateRoot: b.header.stateRoot, header: b.header.toJSON() }, call, gasCap: o.rpcGasCap ?? DEFAULT_RPC_GAS_CAP };
  }

  const methods: Record<string, RpcMethod> = {
    web3_clientVersion: () => CLIENT_VERSION,
    web3_sha3: ([d]) => bytesToHex(keccak_256(P.data(d))),
    net_version: () => chain.chainId.toString(),
    net_listening: () => true,
    net_peerCount: () => '0x0',
    eth_chainId: () => q(chain.chainId),
    eth_blockNumber: () => q(chain.head.header.number),
    eth_syncing: () => {
      const s = o.syncing?.() ?? false;
      return s === false ? false : { startingBlock: q(s.startingBlock), currentBlock: q(s.currentBlock), highestBlock: q(s.highestBlock) };
    },
    eth_accounts: () => o.devSigner?.addresses ?? [],
    eth_coinbase: () => chain.head.header.coinbase.toString(),
    eth_mining: () => false,
    eth_hashrate: () => '0x0',
    eth_gasPrice: () => q(chain.nextHeader({ coinbase: new Uint8Array(20) }).baseFeePerGas + SUGGESTED_TIP),
    eth_maxPriorityFeePerGas: () => q(SUGGESTED_TIP),
    eth_blobBaseFee: () => '0x1',
    eth_getBalance: async ([a, tag]) => {
      const addr = new Address(P.address(a));
      const { state } = await stateFor(tag);
      return q((await state.getAccount(addr))?.balance ?? 0n);
    },
    eth_getTransactionCount: async ([a, tag]) => {
      const addrBytes = P.address(a);
      const t = P.blockTag(tag);
      const { state } = await stateFor(t.kind === 'pending' ? 'latest' : tag);
      const n = (await state.getAccount(new Address(addrBytes)))?.nonce ?? 0n;
      return q(t.kind === 'pending' ? pool.pendingNonce(bytesToHex(addrBytes), n) : n);
    },
    eth_getCode: async ([a, tag]) => {
      const addr = new Address(P.address(a));
      const { state } = await stateFor(tag);
      return bytesToHex(await state.getCode(addr));
    },
    eth_getStorageAt: async ([a, slot, tag]) => {
      const addr = new Address(P.address(a));
      const key = setLengthLeft(P.data(typeof slot === 'string' && slot.length % 2 === 1 ? '0x0' + slot.slice(2) : slot, 'slot'), 32);
      if (key.length !== 32) throw new RpcError(RPC.INVALID_PARAMS, 'invalid argument: storage slot longer than 32 bytes');
      const { state } = await stateFor(tag);
      return bytesToHex(setLengthLeft(await state.getStorage(addr, key), 32));
    },
    eth_getProof: async ([a, slots, tag]) => {
      const addr = new Address(P.address(a));
      if (!Array.isArray(slots)) throw new RpcError(RPC.INVALID_PARAMS, 'invalid argument: storage keys must be an array');
      const keys = slots.map((s) => setLengthLeft(P.data(s, 'storage key'), 32));
      const { state } = await stateFor(tag);
      return getMerkleStateProof(state, addr, keys);
    },
    eth_call: async ([c, tag]) => o.calls.run(await callJob('call', c, tag)),
    eth_estimateGas: async ([c, tag]) => o.calls.run(await callJob('estimateGas', c, tag)),
    eth_sendRawTransaction: async ([raw]) => bytesToHex(await pool.addRaw(P.data(raw, 'transaction'))),
    eth_sendTransaction: async ([c]) => {
      if (!o.devSigner) throw new RpcError(RPC.SERVER, 'unknown account: this node holds no keys (use eth_sendRawTransaction)');
      const call = P.object(c, 'transaction');
      const from = typeof call.from === 'string' ? call.from.toLowerCase() : '';
      if (!o.devSigner.addresses.map((a) => a.toLowerCase()).includes(from)) throw new RpcError(RPC.SERVER, `unknown account ${String(call.from)}`);
      const raw = await o.devSigner.sign(call);
      return bytesToHex(await pool.addRaw(P.data(raw)));
    },
    eth_getTransactionByHash: async ([hsh]) => {
      const h = P.hash(hsh);
      const loc = await chain.store.loadTxLocation(h);
      if (!loc) {
        const tx = pool.get(bytesToHex(h));
        return tx ? formatTx(tx) : null;
      }
      const b = await chain.getBlockByHash(loc.blockHash);
      const tx = b?.transactions[loc.index];
      return b && tx ? formatTx(tx, { block: b, index: loc.index }) : null;
    },
    eth_getTransactionReceipt: async ([hsh]) => {
      const h = P.hash(hsh);
      const loc = await chain.store.loadTxLocation(h);
      if (!loc) return null;
      const b = await chain.getBlockByHash(loc.blockHash);
      const tx = b?.transactions[loc.index];
      if (!b || !tx) return null;
      const receipts = await chain.getReceipts(b.hash());
      let first = 0;
      for (let i = 0; i < loc.index; i++) first += receipts[i]!.logs.length;
      return formatReceipt(receipts[loc.index]!, tx, b, loc.index, first);
    },
    eth_getBlockByNumber: async ([tag, full]) => {
      const b = await maybeBlock(P.blockTag(tag));
      return b ? formatBlock(b, P.bool(full, 'full transactions')) : null;
    },
    eth_getBlockByHash: async ([hsh, full]) => {
      const b = await chain.getBlockByHash(P.hash(hsh));
      return b ? formatBlock(b, P.bool(full, 'full transactions')) : null;
    },
    eth_getBlockTransactionCountByNumber: async ([tag]) => {
      const b = await maybeBlock(P.blockTag(tag));
      return b ? q(b.transactions.length) : null;
    },
    eth_getBlockTransactionCountByHash: async ([hsh]) => {
      const b = await chain.getBlockByHash(P.hash(hsh));
      return b ? q(b.transactions.length) : null;
    },
    eth_getTransactionByBlockNumberAndIndex: async ([tag, i]) => {
      const b = await maybeBlock(P.blockTag(tag));
      const idx = Number(P.quantity(i, 'index'));
      const tx = b?.transactions[idx];
      return b && tx ? formatTx(tx, { block: b, index: idx }) : null;
    },
    eth_getTransactionByBlockHashAndIndex: async ([hsh, i]) => {
      const b = await chain.getBlockByHash(P.hash(hsh));
      const idx = Number(P.quantity(i, 'index'));
      const tx = b?.transactions[idx];
      return b && tx ? formatTx(tx, { block: b, index: idx }) : null;
    },
    eth_getBlockReceipts: async ([tag]) => {
      const b = await maybeBlock(P.blockTag(tag));
      if (!b) return null;
      const receipts = await chain.getReceipts(b.hash());
      let first = 0;
      return b.transactions.map((tx, i) => {
        const r = formatReceipt(receipts[i]!, tx, b, i, first);
        first += receipts[i]!.logs.length;
        return r;
      });
    },
    eth_getUncleCountByBlockNumber: () => '0x0',
    eth_getUncleCountByBlockHash: () => '0x0',
    eth_feeHistory: async ([count, newest, percentiles]) => {
      let n = Number(typeof count === 'number' ? BigInt(count) : P.quantity(count, 'blockCount'));
      if (n < 1) throw new RpcError(RPC.INVALID_PARAMS, 'invalid argument: blockCount must be at least 1');
      n = Math.min(n, 1024);
      const last = await resolveBlock(P.blockTag(newest));
      const pct = percentiles === undefined || percentiles === null ? [] : (percentiles as unknown[]);
      if (!Array.isArray(pct) || pct.some((p) => typeof p !== 'number' || p < 0 || p > 100)) throw new RpcError(RPC.INVALID_PARAMS, 'invalid argument: reward percentiles must be numbers in [0, 100]');
      const oldest = last.header.number - BigInt(n) + 1n < 0n ? 0n : last.header.number - BigInt(n) + 1n;
      const baseFees: string[] = [];
      const ratios: number[] = [];
      const rewards: string[][] = [];
      for (let i = oldest; i <= last.header.number; i++) {
        const b = (await chain.getBlockByNumber(i))!;
        baseFees.push(q(b.header.baseFeePerGas ?? 0n));
        ratios.push(Number(b.header.gasUsed) / Number(b.header.gasLimit));
        if (pct.length) {
          const receipts = await chain.getReceipts(b.hash());
          const tips = b.transactions.map((t, j) => ({ tip: receipts[j]!.effectiveGasPrice - (b.header.baseFeePerGas ?? 0n), gas: receipts[j]!.gasUsed })).sort((x, y) => (x.tip < y.tip ? -1 : x.tip > y.tip ? 1 : 0));
          const total = tips.reduce((a, t) => a + t.gas, 0n);
          rewards.push(
            (pct as number[]).map((p) => {
              if (tips.length === 0) return '0x0';
              const threshold = (Number(total) * p) / 100;
              let acc = 0;
              for (const t of tips) {
                acc += Number(t.gas);
                if (acc >= threshold) return q(t.tip);
              }
              return q(tips[tips.length - 1]!.tip);
            }),
          );
        }
      }
      baseFees.push(q(last.header.number === chain.head.header.number ? chain.nextHeader({ coinbase: new Uint8Array(20) }).baseFeePerGas : (await chain.getBlockByNumber(last.header.number + 1n))!.header.baseFeePerGas!));
      return { oldestBlock: q(oldest), baseFeePerGas: baseFees, gasUsedRatio: ratios, ...(pct.length ? { reward: rewards } : {}) };
    },
    eth_getLogs: async ([f]) => {
      const lf = Filters.parse(P.object(f, 'filter'));
      const head = chain.head.header.number;
      return logs.query(lf, lf.fromBlock ?? head, lf.toBlock ?? head);
    },
    txpool_status: () => {
      const pending = pool.pending().length;
      return { pending: q(pending), queued: q(pool.size - pending) };
    },
    ...filters.methods(),
  };
  return { methods, filters, logs };
}
