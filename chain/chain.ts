/**
 * The ledger: genesis, head, EVM state over LevelDB, block execution and atomic commit.
 *
 * One writer: only the block producer/consensus driver calls `build`/`verify`/`commit`, one block
 * at a time, on the chain's own VM. Readers (RPC) get their own state manager at any committed
 * root via `stateAt`, sharing the trie database but not the caches, so reads never disturb
 * execution.
 */
import { EventEmitter } from 'node:events';
import { Block, createBlockHeaderFromBytesArray } from '@ethereumjs/block';
import { RLP } from '@ethereumjs/rlp';
import { createTxFromBlockBodyData, createTxFromRLP } from '@ethereumjs/tx';
import { keccak_256 } from '@noble/hashes/sha3.js';
import type { Common } from '@ethereumjs/common';
import { MerklePatriciaTrie } from '@ethereumjs/mpt';
import { Caches, MerkleStateManager } from '@ethereumjs/statemanager';
import { Address, bytesToHex, equalsBytes } from '@ethereumjs/util';
import { createVM, type VM } from '@ethereumjs/vm';
import { BlockStateManager } from './state-manager.ts';
import { createChainCommon, createTxCommon, newTxWorkCounters, type TxWorkCounters } from './common.ts';
import { ChainError } from './errors.ts';
import { executeBlock, systemTxHash, type ExecuteResult, type HeaderFields, type SystemHooks } from './execute.ts';
import { applyGenesisState, makeGenesisBlock, type Genesis } from './genesis.ts';
import { ChainStore, decodeValue, encodeValue, type StoredLog, type StoredReceipt } from './store.ts';
import type { TypedTransaction } from '@ethereumjs/tx';
import { silentLogger, type Logger } from '../lib/log.ts';

export interface ChainOptions {
  datadir: string;
  genesis: Genesis;
  logger?: Logger;
  hooks?: SystemHooks;
}

export interface CommittedBlockEvent {
  block: Block;
  receipts: StoredReceipt[];
  systemLogs: StoredLog[];
}

/** Extra, per-block data stored beside the Ethereum block. */
export interface BlockExtras {
  commit?: Uint8Array;
  systemLogs?: StoredLog[];
}

const BLOCK_CACHE = 256;
/** decoded tx objects kept by hash (above the pool's default 10,000 so pooled txs stay found) */
const TX_OBJECT_CACHE = 20_000;

export class Chain extends EventEmitter<{ block: [CommittedBlockEvent] }> {
  /** execution rules (VM, block headers) */
  readonly common: Common;
  /** the one Common every tx object of this chain shares (chain/common.ts says why) */
  readonly txCommon: Common;
  /** per-tx work done by this chain: recoveries, executions, commits (exported in /metrics) */
  readonly counters: TxWorkCounters = newTxWorkCounters();
  readonly store: ChainStore;
  readonly genesis: Genesis;
  readonly chainId: bigint;
  readonly logger: Logger;
  hooks: SystemHooks;
  head!: Block;
  genesisBlock!: Block;
  private vm!: VM;
  private sm!: MerkleStateManager;
  private readonly cache = new Map<string, Block>();
  /** tx hash -> the one decoded object of that tx on this node (its sender, once recovered, cached on it) */
  private readonly txObjects = new Map<string, TypedTransaction>();

  private constructor(store: ChainStore, genesis: Genesis, opts: ChainOptions) {
    super();
    this.store = store;
    this.genesis = genesis;
    this.chainId = BigInt(genesis.chainId);
    this.common = createChainCommon(genesis.chainId);
    this.txCommon = createTxCommon(genesis.chainId, this.counters);
    this.logger = (opts.logger ?? silentLogger).child({ module: 'chain' });
    this.hooks = opts.hooks ?? {};
  }

  /** Open the chain in `datadir`, initialising it from genesis on first use. */
  static async open(opts: ChainOptions): Promise<Chain> {
    const store = await ChainStore.open(opts.datadir);
    const chain = new Chain(store, opts.genesis, opts);
    try {
      await chain.init();
    } catch (e) {
      await store.close();
      throw e;
    }
    return chain;
  }

  private newStateManager(opts: { cached?: boolean } = {}): MerkleStateManager {
    // The executing state manager keeps account/storage/code caches and a trie-node cache across
    // blocks (measured: trie walks from LevelDB dominated ERC20 execution without them).
    const trie = new MerklePatriciaTrie({ db: this.store.stateDB, useKeyHashing: true, valueEncoding: 'view', common: this.common, ...(opts.cached ? { cacheSize: 100_000 } : {}) });
    return opts.cached ? new BlockStateManager({ trie, common: this.common, caches: new Caches() }) : new MerkleStateManager({ trie, common: this.common });
  }

  private async init(): Promise<void> {
    this.sm = this.newStateManager({ cached: true });
    const genesisRoot = await applyGenesisState(this.newStateManager(), this.genesis);
    this.genesisBlock = makeGenesisBlock(this.genesis, genesisRoot, this.common);
    const stored = await this.store.loadMeta('genesis');
    if (stored && !equalsBytes(stored, this.genesisBlock.hash())) {
      throw new ChainError('GENESIS_MISMATCH', `data dir holds chain with genesis ${bytesToHex(stored)}, but the genesis file gives ${bytesToHex(this.genesisBlock.hash())}`);
    }
    const head = await this.store.loadHead();
    if (!head) {
      await this.store.commitBlock({
        hash: this.genesisBlock.hash(),
        number: 0n,
        block: { rlp: this.genesisBlock.serialize(), senders: [] },
        receipts: [],
        txHashes: [],
        extra: [{ key: 'genesis', value: this.genesisBlock.hash() }],
      });
      this.head = this.genesisBlock;
    } else {
      const b = await this.getBlockByHash(head.hash);
      if (!b) throw new ChainError('DB_CORRUPT', `head block ${bytesToHex(head.hash)} missing`);
      this.head = b;
    }
    if (!(await this.sm.hasStateRoot(this.head.header.stateRoot))) {
      throw new ChainError('DB_CORRUPT', `state root of head block ${this.head.header.number} missing`);
    }
    await this.sm.setStateRoot(this.head.header.stateRoot);
    this.vm = await createVM({ common: this.common, stateManager: this.sm, blockchain: this.blockHashes() });
    this.logger.info({ head: Number(this.head.header.number), hash: bytesToHex(this.head.hash()) }, 'chain opened');
  }

  /** BLOCKHASH source for the EVM: committed blocks by number. */
  private blockHashes() {
    const self = this;
    return {
      async getBlock(n: number) {
        const h = await self.store.loadHashByNumber(BigInt(n));
        return { hash: () => h ?? new Uint8Array(32) } as any;
      },
      async putBlock() {},
      shallowCopy() {
        return this;
      },
    };
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  /** Header fields of the next block on top of the head. */
  nextHeader(opts: { coinbase: Uint8Array; mixHash?: Uint8Array; extraData?: Uint8Array; timestampMs?: number }): HeaderFields {
    const parent = this.head.header;
    const now = BigInt(Math.floor((opts.timestampMs ?? Date.now()) / 1000));
    return {
      parentHash: this.head.hash(),
      number: parent.number + 1n,
      // Sub-second blocks may share a timestamp; it never goes backwards.
      timestamp: now > parent.timestamp ? now : parent.timestamp,
      gasLimit: parent.gasLimit,
      baseFeePerGas: parent.number === 0n ? parent.baseFeePerGas! : parent.calcNextBaseFee(),
      coinbase: opts.coinbase,
      mixHash: opts.mixHash ?? new Uint8Array(32),
      extraData: opts.extraData ?? new Uint8Array(0),
    };
  }

  /** Build a block from candidate txs (skipping those that fail). Nothing is committed. */
  async build(header: HeaderFields, txs: TypedTransaction[], deadlineMs?: number, inputs?: unknown): Promise<ExecuteResult> {
    return executeBlock({ vm: this.vm, common: this.common, parentStateRoot: this.head.header.stateRoot, header, txs, mode: 'build', hooks: this.hooks, deadlineMs, inputs, counters: this.counters });
  }

  /**
   * The tx encoded by `raw` (canonical bytes: type || RLP, or the RLP list of a legacy tx). A tx
   * this node decoded before, from RPC, gossip or a block, is the same object, so its sender is
   * recovered at most once however it arrives. Throws what @ethereumjs/tx throws for bad bytes.
   */
  decodeTx(raw: Uint8Array): TypedTransaction {
    // keccak(raw) equals a stored tx's hash only if raw is its canonical encoding
    const hit = this.txObjects.get(bytesToHex(keccak_256(raw)));
    if (hit) return hit;
    return this.keepTx(createTxFromRLP(raw, { common: this.txCommon }));
  }

  private keepTx(tx: TypedTransaction): TypedTransaction {
    this.txObjects.set(bytesToHex(tx.hash()), tx);
    if (this.txObjects.size > TX_OBJECT_CACHE) this.txObjects.delete(this.txObjects.keys().next().value!);
    return tx;
  }

  /**
   * Decode a block's RLP (a proposal, a synced block or a stored one). Each tx whose hash `known`
   * returns (the pool's verified object, its sender already recovered) or that this node decoded
   * before is reused instead of being decoded and recovered again; the others are built on the
   * shared tx Common. Throws BLOCK_INVALID for bytes that are not a block of this chain.
   */
  decodeBlock(rlp: Uint8Array, known?: (txHash: string) => TypedTransaction | undefined): Block {
    try {
      const values = RLP.decode(rlp) as unknown;
      if (!Array.isArray(values) || values.length !== 4) throw new Error(`expected 4 block fields (header, txs, uncles, withdrawals), got ${Array.isArray(values) ? values.length : 'bytes'}`);
      const [headerData, txsData, uncles, withdrawals] = values as [Uint8Array[], (Uint8Array | Uint8Array[])[], unknown[], unknown[]];
      if (!Array.isArray(headerData) || !Array.isArray(txsData) || !Array.isArray(uncles) || !Array.isArray(withdrawals)) throw new Error('malformed block body');
      if (uncles.length > 0 || withdrawals.length > 0) throw new Error('uncles and withdrawals are not used on this chain');
      const opts = { common: this.common, setHardfork: false, skipConsensusFormatValidation: true } as const;
      const header = createBlockHeaderFromBytesArray(headerData, opts);
      const txs = txsData.map((d) => {
        // the tx hash is keccak of its canonical encoding: typed txs are carried as those bytes
        const hash = bytesToHex(keccak_256(d instanceof Uint8Array ? d : RLP.encode(d)));
        return known?.(hash) ?? this.txObjects.get(hash) ?? this.keepTx(createTxFromBlockBodyData(d, { common: this.txCommon }));
      });
      return new Block(header, txs, [], [], opts);
    } catch (e) {
      throw new ChainError('BLOCK_INVALID', `cannot decode block: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Re-execute a proposed/synced block on the head and check every root. Nothing is committed. */
  async verify(block: Block, inputs?: unknown): Promise<ExecuteResult> {
    const h = block.header;
    if (!equalsBytes(h.parentHash, this.head.hash())) throw new ChainError('BLOCK_INVALID', `block ${h.number} does not extend the head`);
    const expected = this.nextHeader({ coinbase: h.coinbase.bytes, mixHash: h.mixHash, extraData: h.extraData, timestampMs: Number(h.timestamp) * 1000 });
    if (h.number !== expected.number) throw new ChainError('BLOCK_INVALID', `block number ${h.number}, expected ${expected.number}`);
    if (h.timestamp < this.head.header.timestamp) throw new ChainError('BLOCK_INVALID', 'block timestamp goes backwards');
    if (h.timestamp > BigInt(Math.floor(Date.now() / 1000)) + 15n) throw new ChainError('BLOCK_INVALID', 'block timestamp too far in the future');
    if (h.baseFeePerGas !== expected.baseFeePerGas) throw new ChainError('BLOCK_INVALID', `base fee ${h.baseFeePerGas}, expected ${expected.baseFeePerGas}`);
    if (h.gasLimit !== expected.gasLimit) throw new ChainError('BLOCK_INVALID', 'gas limit changed');
    const res = await executeBlock({ vm: this.vm, common: this.common, parentStateRoot: this.head.header.stateRoot, header: { ...expected, timestamp: h.timestamp }, txs: block.transactions as TypedTransaction[], mode: 'verify', hooks: this.hooks, inputs, counters: this.counters });
    const got = res.block.header;
    for (const f of ['stateRoot', 'receiptTrie', 'transactionsTrie', 'logsBloom'] as const) {
      if (!equalsBytes(got[f], h[f])) throw new ChainError('BLOCK_INVALID', `block ${h.number}: ${f} mismatch`);
    }
    if (got.gasUsed !== h.gasUsed) throw new ChainError('BLOCK_INVALID', `block ${h.number}: gasUsed mismatch`);
    if (!equalsBytes(res.block.hash(), block.hash())) throw new ChainError('BLOCK_INVALID', `block ${h.number}: hash mismatch`);
    return res;
  }

  /** Make an executed block durable (one atomic batch) and move the head to it. */
  async commit(res: ExecuteResult, extras: { commit?: Uint8Array; sys?: Uint8Array; meta?: { key: string; value: Uint8Array }[] } = {}): Promise<void> {
    const b = res.block;
    if (!equalsBytes(b.header.parentHash, this.head.hash())) throw new ChainError('BLOCK_INVALID', `block ${b.header.number} does not extend the head`);
    const senders = b.transactions.map((t) => t.getSenderPublicKey());
    const txHashes = b.transactions.map((t) => t.hash());
    const receipts = res.systemLogs.length > 0 ? [...res.receipts, systemReceipt(res)] : res.receipts;
    if (res.systemLogs.length > 0) txHashes.push(systemTxHash(b.header.number));
    await this.store.commitBlock({
      hash: b.hash(),
      number: b.header.number,
      block: { rlp: b.serialize(), senders, ...(extras.commit ? { commit: extras.commit } : {}), ...(extras.sys ? { sys: extras.sys } : {}) },
      receipts,
      txHashes,
      ...(extras.meta ? { extra: extras.meta } : {}),
    });
    this.remember(b);
    this.head = b;
    this.counters.txsCommitted += b.transactions.length;
    this.emit('block', { block: b, receipts: res.receipts, systemLogs: res.systemLogs });
  }

  private remember(b: Block) {
    const k = bytesToHex(b.hash());
    this.cache.set(k, b);
    if (this.cache.size > BLOCK_CACHE) this.cache.delete(this.cache.keys().next().value!);
  }

  async getBlockByHash(hash: Uint8Array): Promise<Block | undefined> {
    const k = bytesToHex(hash);
    const hit = this.cache.get(k);
    if (hit) return hit;
    const s = await this.store.loadBlock(hash);
    if (!s) return undefined;
    const b = this.decodeBlock(s.rlp);
    // Senders were recovered when the block was made; restore them instead of recovering again.
    b.transactions.forEach((t, i) => {
      const sender = s.senders[i];
      if (sender) (t as any).cache.senderPubKey = new Uint8Array(sender);
    });
    this.remember(b);
    return b;
  }

  async getBlockByNumber(n: bigint): Promise<Block | undefined> {
    if (n === this.head.header.number) return this.head;
    const h = await this.store.loadHashByNumber(n);
    return h ? this.getBlockByHash(h) : undefined;
  }

  /** The consensus commit stored with a block, if any. */
  async getCommit(hash: Uint8Array): Promise<Uint8Array | undefined> {
    return (await this.store.loadBlock(hash))?.commit;
  }

  /** The stored block record (RLP, senders, commit, system data). */
  async getStored(hash: Uint8Array) {
    return this.store.loadBlock(hash);
  }

  async getReceipts(hash: Uint8Array): Promise<StoredReceipt[]> {
    return (await this.store.loadReceipts(hash)) ?? [];
  }

  private headStateCache?: { hash: Uint8Array; sm: Promise<MerkleStateManager> };

  /** A read-only state manager at the head, shared by readers until the head moves (its caches stay warm). */
  headState(): Promise<MerkleStateManager> {
    const h = this.head.hash();
    if (!this.headStateCache || !equalsBytes(this.headStateCache.hash, h)) this.headStateCache = { hash: h, sm: this.stateAt(this.head.header.stateRoot) };
    return this.headStateCache.sm;
  }

  /** A private state manager at a committed state root (callers may checkpoint/revert on it). */
  async stateAt(root: Uint8Array): Promise<MerkleStateManager> {
    const sm = this.sm.shallowCopy(false);
    await sm.setStateRoot(root);
    return sm;
  }

  /**
   * A VM over its own state copy at `root` (traces, system reads). On a copy of the Common: a VM
   * made on the chain's own Common would stay subscribed to it, and reachable, for ever (see
   * chain/rpc/call.ts jobVM).
   */
  async vmAt(root: Uint8Array): Promise<VM> {
    const sm = await this.stateAt(root);
    return createVM({ common: this.common.copy(), stateManager: sm, blockchain: this.blockHashes() });
  }
}

/** System logs stored as one extra receipt after the tx receipts (not part of receiptsRoot). */
function systemReceipt(res: ExecuteResult): StoredReceipt {
  const last = res.receipts[res.receipts.length - 1];
  return { status: 1, cumulativeGasUsed: last?.cumulativeGasUsed ?? 0n, gasUsed: 0n, effectiveGasPrice: 0n, logs: res.systemLogs, logsBloom: new Uint8Array(256), system: true } as StoredReceipt;
}

export { encodeValue, decodeValue };
