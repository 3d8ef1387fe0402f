/**
 * The Ethereum JSON-RPC methods, over a Chain and its TxPool. Reads go to committed state through
 * per-request state copies; writes only through the pool.
 */
import { createBlock, type Block } from '@ethereumjs/block';
import { createTx, type TypedTransaction } from '@ethereumjs/tx';
import { Address, createZeroAddress, bytesToHex, bigIntToHex, intToHex, setLengthLeft } from '@ethereumjs/util';
import { runTx } from '@ethereumjs/vm';
import { getMerkleStateProof } from '@ethereumjs/statemanager';
import { AbiCoder } from 'ethers';
import { keccak_256 } from '@noble/hashes/sha3.js';
import type { Chain } from '../chain.ts';
import type { TxPool } from '../txpool.ts';
import { systemTxHash } from '../execute.ts';
import type { StoredLog } from '../store.ts';
import { formatBlock, formatLog, formatReceipt, formatTx } from './format.ts';
import * as P from './params.ts';
import { RPC, RpcError, type RpcMethod } from './server.ts';
import { Filters, type LogFilter } from './filters.ts';

export const CLIENT_VERSION = `pocchain/v0.1.0/${process.platform}-${process.arch}/node${process.versions.node}`;
const SUGGESTED_TIP = 1_000_000_000n;
const MAX_LOG_RANGE = 10_000n;
const MAX_LOGS = 10_000;
const q = (n: bigint | number) => (typeof n === 'number' ? intToHex(n) : bigIntToHex(n));

export interface EthApiOptions {
  chain: Chain;
  pool: TxPool;
  /** dev mode: accounts the node signs for (eth_accounts / eth_sendTransaction) */
  devSigner?: { addresses: string[]; sign(tx: Record<string, unknown>): Promise<string> };
  /** extra status for eth_syncing while catching up */
  syncing?: () => false | { startingBlock: bigint; currentBlock: bigint; highestBlock: bigint };
  /** gas cap for eth_call / estimateGas (default: block gas limit) */
  rpcGasCap?: bigint;
}

/** Revert data → the message geth gives ("execution reverted: reason"). */
export function revertError(ret: Uint8Array): RpcError {
  const data = bytesToHex(ret);
  let msg = 'execution reverted';
  if (data.startsWith('0x08c379a0') && ret.length >= 68) {
    try {
      msg += ': ' + AbiCoder.defaultAbiCoder().decode(['string'], '0x' + data.slice(10))[0];
    } catch {
      /* undecodable reason: keep the plain message */
    }
  }
  return new RpcError(RPC.REVERTED, msg, data);
}

export function createEthApi(o: EthApiOptions): { methods: Record<string, RpcMethod>; filters: Filters } {
  const { chain, pool } = o;
  const filters = new Filters(chain, pool, (f, from, to) => getLogs(f, from, to));

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
    return { block: b, state: await chain.stateAt(b.header.stateRoot) };
  }

  /** Logs of a block with their block-wide indices, including system logs. */
  async function blockLogs(b: Block): Promise<{ log: StoredLog; txHash: Uint8Array; txIndex: number; logIndex: number }[]> {
    const receipts = await chain.getReceipts(b.hash());
    const out: { log: StoredLog; txHash: Uint8Array; txIndex: number; logIndex: number }[] = [];
    let li = 0;
    receipts.forEach((r, i) => {
      const txHash = i < b.transactions.length ? b.transactions[i]!.hash() : systemTxHash(b.header.number);
      for (const log of r.logs) out.push({ log, txHash, txIndex: i, logIndex: li++ });
    });
    return out;
  }

  async function getLogs(f: LogFilter, from: bigint, to: bigint): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    const blocks: Block[] = [];
    if (f.blockHash) {
      const b = await chain.getBlockByHash(f.blockHash);
      if (!b) throw new RpcError(RPC.SERVER, 'unknown block');
      blocks.push(b);
    }
    const head = chain.head.header.number;
    if (to > head) to = head;
    for (let n = from; !f.blockHash && n <= to; n++) {
      const b = await chain.getBlockByNumber(n);
      if (b) blocks.push(b);
    }
    for (const b of blocks) {
      for (const l of await blockLogs(b)) {
        if (!Filters.matches(f, l.log)) continue;
        out.push(formatLog(l.log, { block: b, txHash: l.txHash, txIndex: l.txIndex, logIndex: l.logIndex }));
        if (out.length > MAX_LOGS) throw new RpcError(RPC.LIMIT, `query returned more than ${MAX_LOGS} results`);
      }
    }
    return out;
  }

  /** A tx from an RPC call object with an arbitrary sender (not signed), for call/estimate. */
  function callTx(c: Record<string, unknown>, gasLimit: bigint, baseFee: bigint): { tx: TypedTransaction; from: Address } {
    const from = c.from !== undefined && c.from !== null ? new Address(P.address(c.from, 'from')) : createZeroAddress();
    const input = c.input ?? c.data;
    const txData: Record<string, unknown> = {
      to: c.to === undefined || c.to === null ? undefined : P.address(c.to, 'to'),
      data: input === undefined ? new Uint8Array() : P.data(input, 'input'),
      value: P.optQuantity(c.value, 'value') ?? 0n,
      gasLimit,
      nonce: 0n,
    };
    const gasPrice = P.optQuantity(c.gasPrice, 'gasPrice');
    const maxFee = P.optQuantity(c.maxFeePerGas, 'maxFeePerGas');
    const tip = P.optQuantity(c.maxPriorityFeePerGas, 'maxPriorityFeePerGas');
    if (gasPrice !== undefined) txData.gasPrice = gasPrice;
    else {
      txData.type = 2;
      txData.maxFeePerGas = maxFee ?? baseFee;
      txData.maxPriorityFeePerGas = tip ?? 0n;
    }
    const tx = createTx(txData as any, { common: chain.common, freeze: false });
    (tx as any).getSenderAddress = () => from;
    return { tx, from };
  }

  /** Run a call object as a tx (nonce/balance checks skipped); state is rolled back. */
  async function simulate(c: Record<string, unknown>, tag: unknown, gasLimit: bigint) {
    const b = await resolveBlock(P.blockTag(tag));
    const vm = await chain.vmAt(b.header.stateRoot);
    const { tx } = callTx(c, gasLimit, 0n);
    // Calls pay no fee: simulate with a zero base fee on the block's context.
    const block = createBlock({ header: { ...b.header.toJSON(), baseFeePerGas: 0n, gasLimit: gasLimit > b.header.gasLimit ? gasLimit : b.header.gasLimit } }, { common: chain.common, setHardfork: false, skipConsensusFormatValidation: true });
    await vm.stateManager.checkpoint();
    try {
      return await runTx(vm, { tx, block, skipNonce: true, skipBalance: true, skipBlockGasLimitValidation: true, skipHardForkValidation: true });
    } finally {
      await vm.stateManager.revert();
    }
  }

  function capOf(c: Record<string, unknown>): bigint {
    const cap = o.rpcGasCap ?? chain.head.header.gasLimit;
    const g = P.optQuantity(c.gas, 'gas');
    return g !== undefined && g < cap ? g : cap;
  }

  function failure(res: Awaited<ReturnType<typeof simulate>>): RpcError | undefined {
    const err = res.execResult.exceptionError;
    if (!err) return undefined;
    if (err.error === 'revert') return revertError(res.execResult.returnValue);
    return new RpcError(RPC.SERVER, err.error);
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
    eth_call: async ([c, tag]) => {
      const call = P.object(c, 'call');
      const res = await simulate(call, tag, capOf(call));
      const f = failure(res);
      if (f) throw f;
      return bytesToHex(res.execResult.returnValue);
    },
    eth_estimateGas: async ([c, tag]) => {
      const call = P.object(c, 'call');
      const cap = capOf(call);
      const first = await simulate(call, tag, cap);
      const f = failure(first);
      if (f) throw f.code === RPC.SERVER ? new RpcError(RPC.SERVER, `gas required exceeds allowance (${cap})`) : f;
      // Binary search for the lowest limit that succeeds (refunds and the 63/64 rule make it
      // higher than gas used), to within 0.5%, starting from geth's optimistic guess.
      let lo = first.totalGasSpent - 1n;
      let hi = cap;
      const guess = ((first.totalGasSpent + first.gasRefund + 2300n) * 64n) / 63n;
      if (guess < hi) {
        const r = await simulate(call, tag, guess);
        if (!r.execResult.exceptionError) hi = guess;
        else lo = guess;
      }
      while (hi - lo > 1n && (hi - lo) * 1000n > hi * 5n) {
        const mid = (hi + lo) / 2n;
        const r = await simulate(call, tag, mid);
        if (r.execResult.exceptionError) lo = mid;
        else hi = mid;
      }
      return q(hi);
    },
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
      const from = lf.fromBlock ?? head;
      const to = lf.toBlock ?? head;
      if (!lf.blockHash && to >= from && to - from + 1n > MAX_LOG_RANGE) throw new RpcError(RPC.LIMIT, `query exceeds max block range ${MAX_LOG_RANGE}`);
      if (!lf.blockHash && from > to) return [];
      return getLogs(lf, from, to);
    },
    txpool_status: () => {
      const pending = pool.pending().length;
      return { pending: q(pending), queued: q(pool.size - pending) };
    },
    ...filters.methods(),
  };
  return { methods, filters };
}
