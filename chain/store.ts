/**
 * Persistence of the chain in one LevelDB: state-trie nodes, blocks, receipts and indices.
 *
 * Invariant: everything a block changes — its trie nodes, the block, its receipts, the tx-hash and
 * number indices and the head pointer — is written in ONE LevelDB batch (`commitBlock`). A process
 * killed at any instant therefore reopens either before or after a block, never in between.
 * Trie writes made while executing are buffered in `StateDB` (in memory) until that batch.
 */
import { Level } from 'level';
import { Packr } from 'msgpackr';
import type { DB, BatchDBOp, EncodingOpts } from '@ethereumjs/util';
import { ChainError } from './errors.ts';
import { yieldIfBusy } from './yield.ts';

const packr = new Packr({ useRecords: false, useBigIntExtension: true });

/** Key prefixes (one byte, then the key). */
const P = {
  state: 's', // trie node / code, keyed by hex string from the MPT
  block: 'b', // block hash -> StoredBlock
  receipts: 'r', // block hash -> StoredReceipt[]
  number: 'n', // 8-byte big-endian number -> block hash
  tx: 'x', // tx hash -> [blockNumber, index]
  meta: 'm', // misc: head, genesis
} as const;

export interface StoredLog {
  address: Uint8Array;
  topics: Uint8Array[];
  data: Uint8Array;
}

export interface StoredReceipt {
  status: 0 | 1;
  cumulativeGasUsed: bigint;
  gasUsed: bigint;
  effectiveGasPrice: bigint;
  logs: StoredLog[];
  logsBloom: Uint8Array;
  contractAddress?: Uint8Array;
}

export interface StoredBlock {
  /** RLP of the Ethereum block (header + txs). */
  rlp: Uint8Array;
  /** public keys (64 bytes) of the block's tx senders, in order: recovered once, restored on load. */
  senders: Uint8Array[];
  /** consensus commit (opaque bytes: precommit signatures) that finalized this block, if any. */
  commit?: Uint8Array;
  /** consensus/system data carried with the block (opaque bytes; hashed into extraData) */
  sys?: Uint8Array;
}

export interface TxLocation {
  blockNumber: bigint;
  index: number;
  blockHash: Uint8Array;
}

const enc = (v: unknown) => packr.pack(v);
const dec = <T>(b: Uint8Array) => packr.unpack(b) as T;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
function num8(n: bigint): string {
  return n.toString(16).padStart(16, '0');
}

/**
 * The state-trie database handed to @ethereumjs/mpt. Writes are kept in memory until the next
 * `commitBlock` drains them into the block's batch; reads look at pending writes first.
 */
export class StateDB implements DB<string, string | Uint8Array> {
  readonly level: Level<string, Uint8Array>;
  readonly pending: Map<string, Uint8Array | undefined>;
  constructor(level: Level<string, Uint8Array>, pending?: Map<string, Uint8Array | undefined>) {
    this.level = level;
    this.pending = pending ?? new Map();
  }
  async get(key: string, _opts?: EncodingOpts): Promise<Uint8Array | undefined> {
    // the trie reads and writes here between hashing steps: a chance to let timers and RPC in
    await yieldIfBusy();
    if (this.pending.has(key)) return this.pending.get(key);
    return (await this.level.get(P.state + key)) ?? undefined;
  }
  async put(key: string, val: string | Uint8Array): Promise<void> {
    await yieldIfBusy();
    this.pending.set(key, typeof val === 'string' ? Buffer.from(val, 'hex') : val);
  }
  async del(_key: string): Promise<void> {
    // Trie nodes are content-addressed and shared between roots; never delete (no pruning).
  }
  async batch(ops: BatchDBOp<string, string | Uint8Array>[]): Promise<void> {
    for (const op of ops) if (op.type === 'put') await this.put(op.key, op.value as Uint8Array);
  }
  shallowCopy(): StateDB {
    return new StateDB(this.level, this.pending);
  }
  async open(): Promise<void> {}
  /** Move buffered writes out, as batch operations. */
  drain(): { type: 'put'; key: string; value: Uint8Array }[] {
    const ops: { type: 'put'; key: string; value: Uint8Array }[] = [];
    for (const [k, v] of this.pending) if (v !== undefined) ops.push({ type: 'put', key: P.state + k, value: v });
    return ops;
  }
  /** Forget writes that are now durable (only those, in case more were buffered since). */
  settle(ops: { key: string; value: Uint8Array }[]): void {
    for (const op of ops) {
      const k = op.key.slice(1);
      if (this.pending.get(k) === op.value) this.pending.delete(k);
    }
  }
}

export interface Head {
  hash: Uint8Array;
  number: bigint;
}

/** Block, receipt and index store. */
export class ChainStore {
  readonly level: Level<string, Uint8Array>;
  readonly stateDB: StateDB;
  constructor(level: Level<string, Uint8Array>) {
    this.level = level;
    this.stateDB = new StateDB(level);
  }

  /** Open (or create) the database under `dir`. */
  static async open(dir: string): Promise<ChainStore> {
    // multithreading: the RPC's call workers (chain/rpc/call-worker.ts) open the same location
    // from their threads to read committed state; classic-level then shares one native handle.
    const level = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view', multithreading: true });
    try {
      await level.open();
    } catch (e) {
      throw new ChainError('DB_CORRUPT', `cannot open database at ${dir}: ${(e as Error).message}`, { cause: e });
    }
    return new ChainStore(level);
  }

  async close(): Promise<void> {
    await this.level.close();
  }

  /**
   * Write a block with everything it changed in one atomic batch and move the head to it.
   * Drains the StateDB's pending trie nodes into the same batch.
   */
  async commitBlock(args: {
    hash: Uint8Array;
    number: bigint;
    block: StoredBlock;
    receipts: StoredReceipt[];
    txHashes: Uint8Array[];
    extra?: { key: string; value: Uint8Array }[];
  }): Promise<void> {
    const stateOps = this.stateDB.drain();
    const h = hex(args.hash);
    const ops: { type: 'put'; key: string; value: Uint8Array }[] = [...stateOps];
    ops.push({ type: 'put', key: P.block + h, value: enc(args.block) });
    ops.push({ type: 'put', key: P.receipts + h, value: enc(args.receipts) });
    ops.push({ type: 'put', key: P.number + num8(args.number), value: args.hash });
    args.txHashes.forEach((t, i) => ops.push({ type: 'put', key: P.tx + hex(t), value: enc([args.number, i, args.hash]) }));
    for (const e of args.extra ?? []) ops.push({ type: 'put', key: P.meta + e.key, value: e.value });
    ops.push({ type: 'put', key: P.meta + 'head', value: enc([args.hash, args.number]) });
    // sync: a block the RPC has shown as mined must survive a power cut, not only a process kill.
    await this.level.batch(ops, { sync: true });
    this.stateDB.settle(stateOps);
  }

  async loadHead(): Promise<Head | undefined> {
    const v = await this.level.get(P.meta + 'head');
    if (!v) return undefined;
    const [hash, number] = dec<[Uint8Array, bigint | number]>(v);
    return { hash, number: BigInt(number) };
  }

  async loadBlock(hash: Uint8Array): Promise<StoredBlock | undefined> {
    const v = await this.level.get(P.block + hex(hash));
    return v ? dec<StoredBlock>(v) : undefined;
  }

  async loadReceipts(hash: Uint8Array): Promise<StoredReceipt[] | undefined> {
    const v = await this.level.get(P.receipts + hex(hash));
    if (!v) return undefined;
    return dec<any[]>(v).map(normalizeReceipt);
  }

  async loadHashByNumber(n: bigint): Promise<Uint8Array | undefined> {
    return (await this.level.get(P.number + num8(n))) ?? undefined;
  }

  async loadTxLocation(txHash: Uint8Array): Promise<TxLocation | undefined> {
    const v = await this.level.get(P.tx + hex(txHash));
    if (!v) return undefined;
    const [n, i, h] = dec<[bigint | number, number, Uint8Array]>(v);
    return { blockNumber: BigInt(n), index: i, blockHash: h };
  }

  async saveMeta(key: string, value: Uint8Array): Promise<void> {
    await this.level.put(P.meta + key, value);
  }
  async loadMeta(key: string): Promise<Uint8Array | undefined> {
    return (await this.level.get(P.meta + key)) ?? undefined;
  }
}

/** msgpackr decodes small bigints as numbers; give receipts their declared types back. */
function normalizeReceipt(r: any): StoredReceipt {
  return {
    ...r,
    cumulativeGasUsed: BigInt(r.cumulativeGasUsed),
    gasUsed: BigInt(r.gasUsed),
    effectiveGasPrice: BigInt(r.effectiveGasPrice),
  };
}

export const encodeValue = enc;
export const decodeValue = dec;
