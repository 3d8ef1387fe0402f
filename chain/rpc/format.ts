/** Ethereum JSON-RPC representations of blocks, transactions, receipts and logs. */
import type { Block } from '@ethereumjs/block';
import type { TypedTransaction } from '@ethereumjs/tx';
import { bytesToHex, bigIntToHex, intToHex } from '@ethereumjs/util';
import type { StoredLog, StoredReceipt } from '../store.ts';
import { effectiveGasPrice } from '../execute.ts';

const h = (b: Uint8Array) => bytesToHex(b);
const q = (n: bigint | number) => (typeof n === 'number' ? intToHex(n) : bigIntToHex(n));

export interface TxContext {
  block?: Block;
  index?: number;
}

/** eth_getTransactionBy* shape. */
export function formatTx(tx: TypedTransaction, ctx: TxContext = {}): Record<string, unknown> {
  const t = tx as any;
  const out: Record<string, unknown> = {
    type: q(tx.type),
    hash: h(tx.hash()),
    nonce: q(tx.nonce),
    blockHash: ctx.block ? h(ctx.block.hash()) : null,
    blockNumber: ctx.block ? q(ctx.block.header.number) : null,
    transactionIndex: ctx.index !== undefined ? q(ctx.index) : null,
    from: tx.getSenderAddress().toString(),
    to: tx.to ? tx.to.toString() : null,
    value: q(tx.value),
    gas: q(tx.gasLimit),
    input: h(tx.data),
    v: q(tx.v ?? 0n),
    r: q(tx.r ?? 0n),
    s: q(tx.s ?? 0n),
  };
  if (t.chainId !== undefined) out.chainId = q(t.chainId);
  else if (tx.supports(155)) out.chainId = q(tx.common.chainId());
  if (t.maxFeePerGas !== undefined) {
    out.maxFeePerGas = q(t.maxFeePerGas);
    out.maxPriorityFeePerGas = q(t.maxPriorityFeePerGas);
    out.gasPrice = q(ctx.block ? effectiveGasPrice(tx, ctx.block.header.baseFeePerGas!) : t.maxFeePerGas);
    out.yParity = q(tx.v ?? 0n);
  } else {
    out.gasPrice = q(t.gasPrice);
  }
  if (t.accessList !== undefined) out.accessList = (tx.toJSON() as any).accessList ?? [];
  if (tx.type === 1) out.yParity = q(tx.v ?? 0n);
  return out;
}

/** eth_getBlockBy* shape. */
export function formatBlock(b: Block, fullTxs: boolean): Record<string, unknown> {
  const hd = b.header;
  return {
    number: q(hd.number),
    hash: h(b.hash()),
    parentHash: h(hd.parentHash),
    nonce: h(hd.nonce),
    sha3Uncles: h(hd.uncleHash),
    logsBloom: h(hd.logsBloom),
    transactionsRoot: h(hd.transactionsTrie),
    stateRoot: h(hd.stateRoot),
    receiptsRoot: h(hd.receiptTrie),
    miner: hd.coinbase.toString(),
    difficulty: '0x0',
    totalDifficulty: '0x0',
    extraData: h(hd.extraData),
    size: q(b.serialize().length),
    gasLimit: q(hd.gasLimit),
    gasUsed: q(hd.gasUsed),
    timestamp: q(hd.timestamp),
    mixHash: h(hd.mixHash),
    baseFeePerGas: q(hd.baseFeePerGas ?? 0n),
    withdrawalsRoot: hd.withdrawalsRoot ? h(hd.withdrawalsRoot) : undefined,
    withdrawals: [],
    blobGasUsed: q(hd.blobGasUsed ?? 0n),
    excessBlobGas: q(hd.excessBlobGas ?? 0n),
    parentBeaconBlockRoot: hd.parentBeaconBlockRoot ? h(hd.parentBeaconBlockRoot) : undefined,
    uncles: [],
    transactions: b.transactions.map((tx, i) => (fullTxs ? formatTx(tx, { block: b, index: i }) : h(tx.hash()))),
  };
}

/** A log in RPC shape. */
export function formatLog(l: StoredLog, at: { block: Block; txHash: Uint8Array; txIndex: number; logIndex: number; removed?: boolean }): Record<string, unknown> {
  return {
    address: h(l.address),
    topics: l.topics.map(h),
    data: h(l.data),
    blockNumber: q(at.block.header.number),
    blockHash: h(at.block.hash()),
    blockTimestamp: q(at.block.header.timestamp),
    transactionHash: h(at.txHash),
    transactionIndex: q(at.txIndex),
    logIndex: q(at.logIndex),
    removed: at.removed ?? false,
  };
}

/** eth_getTransactionReceipt shape. `firstLogIndex` is the block-wide index of its first log. */
export function formatReceipt(r: StoredReceipt, tx: TypedTransaction, block: Block, index: number, firstLogIndex: number): Record<string, unknown> {
  const txHash = tx.hash();
  return {
    transactionHash: h(txHash),
    transactionIndex: q(index),
    blockHash: h(block.hash()),
    blockNumber: q(block.header.number),
    from: tx.getSenderAddress().toString(),
    to: tx.to ? tx.to.toString() : null,
    cumulativeGasUsed: q(r.cumulativeGasUsed),
    gasUsed: q(r.gasUsed),
    effectiveGasPrice: q(r.effectiveGasPrice),
    contractAddress: r.contractAddress ? h(r.contractAddress) : null,
    logs: r.logs.map((l, i) => formatLog(l, { block, txHash, txIndex: index, logIndex: firstLogIndex + i })),
    logsBloom: h(r.logsBloom),
    status: q(r.status),
    type: q(tx.type),
  };
}
