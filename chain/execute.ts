/**
 * Block execution: the one path that both builds a block (proposer) and verifies one (everyone
 * else, and sync). Same code, same order, so both sides compute the same roots.
 *
 * Order inside a block: `beforeTxs` system operations, then the transactions, then `afterTxs`
 * system operations. Which operations and in what order is the protocol's, not this layer's: see
 * consensus/transition.ts (epoch, slashing, deposits, schedule | txs | finalize). System operations are not
 * transactions: their logs are kept in a separate "system receipt" (as Polygon's state-sync
 * receipts), visible to eth_getLogs but outside receiptsRoot, so Ethereum tooling sees a plain
 * block.
 */
import { Block, createBlock, createBlockHeader } from '@ethereumjs/block';
import type { Common } from '@ethereumjs/common';
import type { TypedTransaction } from '@ethereumjs/tx';
import { Address, equalsBytes, KECCAK256_RLP, KECCAK256_RLP_ARRAY, bigIntToBytes, bytesToHex, concatBytes, hexToBytes, setLengthLeft, utf8ToBytes } from '@ethereumjs/util';
import { AbiCoder } from 'ethers';
import { encodeReceipt, runTx, type VM, type TxReceipt } from '@ethereumjs/vm';
import type { MerkleStateManager } from '@ethereumjs/statemanager';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { ChainError } from './errors.ts';
import type { StoredLog, StoredReceipt } from './store.ts';
import type { TxWorkCounters } from './common.ts';
import { yieldIfBusy } from './yield.ts';
import { orderedTrieRoot } from './ordered-trie.ts';

/** Caller of system operations; as EIP-4788's SYSTEM_ADDRESS. */
export const SYSTEM_ADDRESS = new Address(hexToBytes('0xfffffffffffffffffffffffffffffffffffffffe'));
const SYSTEM_GAS = 30_000_000n;

/**
 * A system call allowed to revert (Hub scheduling, validator steps) rolls back without
 * invalidating the block, so that a contract bug cannot halt the chain. It must not go unseen
 * either: it leaves this log in the block's system receipt, from SYSTEM_ADDRESS, found with
 * eth_getLogs like any event, and the node logs and counts it when the block commits.
 *   event SystemCallReverted(address indexed target, bytes4 indexed selector, string error, bytes returnData)
 */
export const SYSTEM_CALL_REVERTED_EVENT = 'SystemCallReverted(address,bytes4,string,bytes)';
export const SYSTEM_CALL_REVERTED_TOPIC = keccak_256(utf8ToBytes(SYSTEM_CALL_REVERTED_EVENT));

/** A decoded SystemCallReverted log. */
export interface SystemRevert {
  target: string;
  selector: string;
  /** the EVM's error: 'revert', 'out of gas', ... */
  error: string;
  returnData: string;
}

function revertLog(to: Address, data: Uint8Array, error: string, returnData: Uint8Array): StoredLog {
  const selector = new Uint8Array(32);
  selector.set(data.subarray(0, 4));
  return {
    address: SYSTEM_ADDRESS.bytes,
    topics: [SYSTEM_CALL_REVERTED_TOPIC, setLengthLeft(to.bytes, 32), selector],
    data: hexToBytes(AbiCoder.defaultAbiCoder().encode(['string', 'bytes'], [error, returnData]) as `0x${string}`),
  };
}

/** The SystemCallReverted logs among a block's system logs, decoded. */
export function systemReverts(logs: readonly StoredLog[]): SystemRevert[] {
  return logs
    .filter((l) => equalsBytes(l.address, SYSTEM_ADDRESS.bytes) && l.topics.length === 3 && equalsBytes(l.topics[0]!, SYSTEM_CALL_REVERTED_TOPIC))
    .map((l) => {
      const [error, returnData] = AbiCoder.defaultAbiCoder().decode(['string', 'bytes'], l.data) as unknown as [string, string];
      return { target: bytesToHex(l.topics[1]!.subarray(12)), selector: bytesToHex(l.topics[2]!.subarray(0, 4)), error, returnData };
    });
}

export interface HeaderFields {
  parentHash: Uint8Array;
  number: bigint;
  timestamp: bigint;
  gasLimit: bigint;
  baseFeePerGas: bigint;
  coinbase: Uint8Array;
  /** randomness for this block (from the previous commit), as block.prevrandao */
  mixHash: Uint8Array;
  /** 32 bytes committing to the block's system inputs (e.g. deposits), or empty */
  extraData: Uint8Array;
}

/** What system operations see and may do during execution; `I` is the type of the block's system inputs. */
export interface SystemContext<I = unknown> {
  vm: VM;
  block: Block;
  /** Call a contract as SYSTEM_ADDRESS; reverts throw BLOCK_INVALID unless allowRevert (then a SystemCallReverted log). */
  call(to: Address, data: Uint8Array, opts?: { allowRevert?: boolean }): Promise<Uint8Array>;
  /** Credit native balance (bridge deposits). */
  credit(to: Address, amount: bigint): Promise<void>;
  /** System inputs carried with this block (deposits, evidence...), typed by the layer that defines them. */
  inputs: I | undefined;
}

export interface SystemHooks<I = unknown> {
  beforeTxs?(ctx: SystemContext<I>): Promise<void>;
  afterTxs?(ctx: SystemContext<I>): Promise<void>;
}

export interface ExecuteInput {
  vm: VM;
  common: Common;
  parentStateRoot: Uint8Array;
  header: HeaderFields;
  txs: TypedTransaction[];
  /** 'build' skips txs that do not fit or fail validation; 'verify' rejects the block for them */
  mode: 'build' | 'verify';
  hooks?: SystemHooks;
  /** build mode: stop adding txs after this many ms (keeps block time bounded under load) */
  deadlineMs?: number;
  /** system inputs for the hooks (see SystemContext.inputs) */
  inputs?: unknown;
  /** counts each tx execution (txExecutions) */
  counters?: TxWorkCounters;
}

export interface ExecuteResult {
  block: Block;
  receipts: StoredReceipt[];
  /** logs of system operations (outside receiptsRoot), may be empty */
  systemLogs: StoredLog[];
  /** txs dropped in build mode, with the reason */
  skipped: { tx: TypedTransaction; reason: string }[];
}

/** The pseudo tx hash under which a block's system logs are served. */
export function systemTxHash(blockNumber: bigint): Uint8Array {
  return keccak_256(concatBytes(utf8ToBytes('pocchain-system'), bigIntToBytes(blockNumber)));
}

function toStoredLogs(logs: [Uint8Array, Uint8Array[], Uint8Array][] | undefined): StoredLog[] {
  return (logs ?? []).map(([address, topics, data]) => ({ address, topics, data }));
}

/** Header template for execution: the fields known before running txs. */
function templateBlock(h: HeaderFields, common: Common, txs: TypedTransaction[] = []): Block {
  return createBlock(
    {
      header: {
        ...h,
        uncleHash: KECCAK256_RLP_ARRAY,
        difficulty: 0n,
        nonce: new Uint8Array(8),
        withdrawalsRoot: KECCAK256_RLP,
        blobGasUsed: 0n,
        excessBlobGas: 0n,
        parentBeaconBlockRoot: new Uint8Array(32),
      },
      transactions: txs,
      withdrawals: [],
    },
    { common, setHardfork: false, skipConsensusFormatValidation: true },
  );
}

/** Execute a block on top of `parentStateRoot`; returns the sealed block and its receipts. */
export async function executeBlock(input: ExecuteInput): Promise<ExecuteResult> {
  const { vm, common, header, mode } = input;
  const sm = vm.stateManager;
  // Keep the warm caches when we are already at the parent's state (the common case: building or
  // verifying on the block just committed); otherwise move there and drop them.
  if (!equalsBytes(await sm.getStateRoot(), input.parentStateRoot)) await sm.setStateRoot(input.parentStateRoot);
  const template = templateBlock(header, common);
  const systemLogs: StoredLog[] = [];

  const ctx: SystemContext = {
    vm,
    block: template,
    inputs: input.inputs,
    async call(to, data, opts = {}) {
      const res = await vm.evm.runCall({ caller: SYSTEM_ADDRESS, origin: SYSTEM_ADDRESS, to, data, gasLimit: SYSTEM_GAS, block: template, skipBalance: true });
      if (res.execResult.exceptionError) {
        if (opts.allowRevert) {
          systemLogs.push(revertLog(to, data, res.execResult.exceptionError.error, res.execResult.returnValue));
          return res.execResult.returnValue;
        }
        throw new ChainError('BLOCK_INVALID', `system call to ${to.toString()} failed: ${res.execResult.exceptionError.error}`);
      }
      systemLogs.push(...toStoredLogs(res.execResult.logs as any));
      return res.execResult.returnValue;
    },
    async credit(to, amount) {
      const acc = (await sm.getAccount(to)) ?? new (await import('@ethereumjs/util')).Account();
      acc.balance += amount;
      await sm.putAccount(to, acc);
    },
  };

  const included: TypedTransaction[] = [];
  const receipts: StoredReceipt[] = [];
  const rawReceipts: TxReceipt[] = [];
  const skipped: { tx: TypedTransaction; reason: string }[] = [];
  let gasUsed = 0n;
  const started = Date.now();
  // Every exit by exception must close the block's checkpoint, or the next block would execute
  // inside it and its state would never be flushed.
  await sm.checkpoint();
  let closed = false;
  try {
    if (input.hooks?.beforeTxs) await input.hooks.beforeTxs(ctx);

    for (const tx of input.txs) {
      if (mode === 'build') {
        if (input.deadlineMs !== undefined && Date.now() - started > input.deadlineMs) break;
        if (tx.gasLimit > header.gasLimit - gasUsed) {
          if (header.gasLimit - gasUsed < 21000n) break;
          continue; // does not fit this block; stays in the pool
        }
      }
      // Serve timers and I/O between txs: a loaded block must not hold RPC and consensus up.
      await yieldIfBusy();
      let res;
      if (input.counters) input.counters.txExecutions++;
      try {
        await sm.checkpoint();
        res = await runTx(vm, { tx, block: template, blockGasUsed: gasUsed, skipHardForkValidation: true });
        await sm.commit();
      } catch (e) {
        await sm.revert();
        if (mode === 'verify') throw new ChainError('BLOCK_INVALID', `tx ${Buffer.from(tx.hash()).toString('hex')} invalid: ${(e as Error).message}`, { cause: e });
        skipped.push({ tx, reason: (e as Error).message });
        continue;
      }
      gasUsed += res.totalGasSpent;
      included.push(tx);
      rawReceipts.push(res.receipt);
      const r = res.receipt as TxReceipt & { status: 0 | 1 };
      receipts.push({
        status: r.status,
        cumulativeGasUsed: r.cumulativeBlockGasUsed,
        gasUsed: res.totalGasSpent,
        effectiveGasPrice: effectiveGasPrice(tx, header.baseFeePerGas),
        logs: toStoredLogs(r.logs as any),
        logsBloom: r.bitvector,
        contractAddress: res.createdAddress?.bytes,
      });
    }

    if (input.hooks?.afterTxs) await input.hooks.afterTxs(ctx);
    await sm.commit();
    closed = true;
  } finally {
    if (!closed) await sm.revert();
  }
  await (sm as MerkleStateManager).flush();
  const stateRoot = await sm.getStateRoot();

  const bloom = new Uint8Array(256);
  for (const r of receipts) for (let i = 0; i < 256; i++) bloom[i]! |= r.logsBloom[i]!;
  await yieldIfBusy();
  const receiptTrie = orderedTrieRoot(rawReceipts.map((r, i) => encodeReceipt(r, included[i]!.type)));
  await yieldIfBusy();
  const transactionsTrie = orderedTrieRoot(included.map((t) => t.serialize()));
  // The block is assembled from the very tx objects that were executed (their senders recovered
  // and hashes cached), not re-created from their fields as createBlock would.
  const opts = { common, setHardfork: false, skipConsensusFormatValidation: true } as const;
  const sealed = createBlockHeader({ ...template.header.toJSON(), stateRoot, receiptTrie, transactionsTrie, logsBloom: bloom, gasUsed }, opts);
  const block = new Block(sealed, included, [], [], opts);
  return { block, receipts, systemLogs, skipped };
}

/** Price per gas actually paid by a tx in a block with the given base fee. */
export function effectiveGasPrice(tx: TypedTransaction, baseFee: bigint): bigint {
  const t = tx as any;
  if (t.maxFeePerGas !== undefined) {
    const tip = t.maxPriorityFeePerGas < t.maxFeePerGas - baseFee ? t.maxPriorityFeePerGas : t.maxFeePerGas - baseFee;
    return baseFee + tip;
  }
  return t.gasPrice as bigint;
}
