/**
 * The withdrawal tree, in TS, bit for bit the one contracts/sidechain/Bridge.sol keeps: an
 * incremental Merkle tree of depth 32 (the eth2 deposit contract's shape, keccak256 instead of
 * sha256, no length mix-in). Leaf i is keccak256(abi.encode(i, l1Recipient, amount)); missing
 * leaves are bytes32(0) and an empty level-h subtree hashes to ZERO_HASHES[h].
 *
 * Why not @openzeppelin/merkle-tree: it sorts and double-hashes leaves over a complete tree, which
 * is another tree. This one is small and checked against the contract in the tests.
 *
 * A proof for a checkpoint must be built over the leaves that existed at the checkpoint's height
 * (Bridge.count() there): `IncrementalMerkleTree.fromLeaves(leaves.slice(0, countAtHeight))`.
 * Pure: no I/O.
 */
import { AbiCoder, concat, getAddress, Interface, keccak256, type Log } from 'ethers';
import { PocError } from '../lib/errors.ts';

export const TREE_DEPTH = 32;
/** As the contract: one less than 2^32 so the incremental insert always finds a slot. */
export const MAX_LEAVES = 2 ** 32 - 1;

export type MerkleErrorCode = 'MERKLE_INDEX_OUT_OF_RANGE' | 'MERKLE_TREE_FULL' | 'MERKLE_BAD_HASH' | 'BRIDGE_BAD_LOG';

const ZERO32 = '0x' + '00'.repeat(32);

/** keccak256(a ‖ b) of two 32-byte hex strings. */
export function hashPair(a: string, b: string): string {
  return keccak256(concat([a, b]));
}

/** ZERO_HASHES[h] = root of an empty subtree of height h; ZERO_HASHES[32] is the empty tree's root. */
export const ZERO_HASHES: readonly string[] = (() => {
  const z = [ZERO32];
  for (let h = 0; h < TREE_DEPTH; h++) z.push(hashPair(z[h]!, z[h]!));
  return Object.freeze(z);
})();

function checkHash(h: string): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(h)) throw new PocError<MerkleErrorCode>('MERKLE_BAD_HASH', `not a 32-byte hex hash: ${h}`);
  return h.toLowerCase();
}

/**
 * Append-only Merkle tree of depth 32. Keeps every level's filled nodes, so a push costs 32 hashes
 * and a proof costs none.
 */
export class IncrementalMerkleTree {
  /** levels[h][i] = node i at height h (levels[0] = leaves); nodes past the filled part are implied zero. */
  readonly #levels: string[][] = Array.from({ length: TREE_DEPTH + 1 }, () => []);

  /** Build a tree from leaves in index order; O(n) hashes. */
  static fromLeaves(leaves: readonly string[]): IncrementalMerkleTree {
    if (leaves.length > MAX_LEAVES) throw new PocError<MerkleErrorCode>('MERKLE_TREE_FULL', `${leaves.length} leaves exceed ${MAX_LEAVES}`);
    const t = new IncrementalMerkleTree();
    const levels = t.#levels;
    levels[0] = leaves.map(checkHash);
    for (let h = 0; h < TREE_DEPTH; h++) {
      const below = levels[h]!;
      const up: string[] = new Array(Math.ceil(below.length / 2));
      for (let i = 0; i < up.length; i++) up[i] = hashPair(below[2 * i]!, below[2 * i + 1] ?? ZERO_HASHES[h]!);
      levels[h + 1] = up;
    }
    return t;
  }

  /** Number of leaves. */
  get count(): number {
    return this.#levels[0]!.length;
  }

  /** Leaf at `index`. */
  leaf(index: number): string {
    this.#checkIndex(index);
    return this.#levels[0]![index]!;
  }

  /** Append a leaf; returns its index. */
  push(leaf: string): number {
    const index = this.count;
    if (index >= MAX_LEAVES) throw new PocError<MerkleErrorCode>('MERKLE_TREE_FULL', `tree holds ${MAX_LEAVES} leaves`);
    this.#levels[0]!.push(checkHash(leaf));
    // Plain arithmetic, not bit operators: indices reach 2^32 - 2, past int32.
    let i = index;
    for (let h = 0; h < TREE_DEPTH; h++) {
      const level = this.#levels[h]!;
      const l = i - (i % 2);
      const left = level[l]!;
      const right = level[l + 1] ?? ZERO_HASHES[h]!;
      i = Math.floor(i / 2);
      this.#levels[h + 1]![i] = hashPair(left, right);
    }
    return index;
  }

  /** Root over all leaves, zero-padded to 2^32; equals Bridge.root() after the same withdrawals. */
  root(): string {
    return this.#levels[TREE_DEPTH]![0] ?? ZERO_HASHES[TREE_DEPTH]!;
  }

  /** The 32 sibling hashes from leaf `index` up to the root, as Vault.release takes them. */
  proof(index: number): string[] {
    this.#checkIndex(index);
    const out: string[] = [];
    let i = index;
    for (let h = 0; h < TREE_DEPTH; h++) {
      const sibling = i % 2 === 0 ? i + 1 : i - 1;
      out.push(this.#levels[h]![sibling] ?? ZERO_HASHES[h]!);
      i = Math.floor(i / 2);
    }
    return out;
  }

  #checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      throw new PocError<MerkleErrorCode>('MERKLE_INDEX_OUT_OF_RANGE', `leaf ${index} not in a tree of ${this.count}`, { data: { index, count: this.count } });
    }
  }
}

/** Storage slots of the sidechain Bridge: branch[h] at slot h (0..31), count at slot 32. */
export const BRIDGE_STORAGE = { branchSlot: (h: number) => h, countSlot: 32 } as const;

/**
 * Bridge.root() recomputed from the Bridge's storage (its 32 branch words and its count), the
 * way the contract does: lets a node read the withdrawals root of a block without an EVM call.
 */
export function rootFromBranch(branch: readonly string[], count: number): string {
  if (branch.length !== TREE_DEPTH) throw new PocError<MerkleErrorCode>('MERKLE_BAD_HASH', `branch has ${branch.length} words, want ${TREE_DEPTH}`);
  if (!Number.isInteger(count) || count < 0 || count > MAX_LEAVES) throw new PocError<MerkleErrorCode>('MERKLE_INDEX_OUT_OF_RANGE', `count ${count} out of range`);
  let node = ZERO_HASHES[0]!;
  let size = count;
  for (let h = 0; h < TREE_DEPTH; h++) {
    node = size % 2 === 1 ? hashPair(checkHash(branch[h]!), node) : hashPair(node, ZERO_HASHES[h]!);
    size = Math.floor(size / 2);
  }
  return node;
}

/** Root implied by `leaf` at `index` with `proof` (the computation Vault.release makes). */
export function rootFromProof(leaf: string, index: number, proof: readonly string[]): string {
  if (proof.length !== TREE_DEPTH) throw new PocError<MerkleErrorCode>('MERKLE_BAD_HASH', `proof has ${proof.length} hashes, want ${TREE_DEPTH}`);
  if (!Number.isInteger(index) || index < 0 || index >= 2 ** TREE_DEPTH) {
    throw new PocError<MerkleErrorCode>('MERKLE_INDEX_OUT_OF_RANGE', `leaf index ${index} outside 0..2^${TREE_DEPTH}-1`);
  }
  let node = checkHash(leaf);
  for (let h = 0; h < TREE_DEPTH; h++) {
    const sibling = checkHash(proof[h]!);
    node = Math.floor(index / 2 ** h) % 2 === 1 ? hashPair(sibling, node) : hashPair(node, sibling);
  }
  return node;
}

/** True when `proof` shows `leaf` at `index` under `root`. */
export function verifyProof(leaf: string, index: number, proof: readonly string[], root: string): boolean {
  return rootFromProof(leaf, index, proof) === checkHash(root);
}

// ------------------------------------------------------------------ withdrawal leaves and logs

/** One withdrawal as the sidechain Bridge recorded it. */
export interface Withdrawal {
  index: bigint;
  l1Recipient: string;
  amount: bigint;
}

/** A WithdrawalRequested log, decoded. */
export interface WithdrawalEvent extends Withdrawal {
  from: string;
  leaf: string;
  blockNumber: number;
  transactionHash: string;
  logIndex: number;
}

const coder = AbiCoder.defaultAbiCoder();

/** leaf = keccak256(abi.encode(uint256 index, address l1Recipient, uint256 amount)). */
export function withdrawalLeaf(w: Withdrawal): string {
  return keccak256(coder.encode(['uint256', 'address', 'uint256'], [w.index, w.l1Recipient, w.amount]));
}

export const BRIDGE_EVENTS = new Interface([
  'event WithdrawalRequested(uint256 indexed index, address indexed from, address indexed l1Recipient, uint256 amount, bytes32 leaf)',
]);
/** topic0 of WithdrawalRequested. */
export const WITHDRAWAL_REQUESTED_TOPIC = BRIDGE_EVENTS.getEvent('WithdrawalRequested')!.topicHash;

type LogLike = Pick<Log, 'topics' | 'data'> & Partial<Pick<Log, 'blockNumber' | 'transactionHash' | 'index'>> & { logIndex?: number };

/** Decode a Bridge WithdrawalRequested log; checks that the logged leaf matches its fields. */
export function decodeWithdrawalLog(log: LogLike): WithdrawalEvent {
  if (log.topics[0] !== WITHDRAWAL_REQUESTED_TOPIC) {
    throw new PocError<MerkleErrorCode>('BRIDGE_BAD_LOG', `not a WithdrawalRequested log: topic ${log.topics[0]}`);
  }
  const d = BRIDGE_EVENTS.decodeEventLog('WithdrawalRequested', log.data, log.topics);
  const w: WithdrawalEvent = {
    index: d.index as bigint,
    from: getAddress(d.from as string),
    l1Recipient: getAddress(d.l1Recipient as string),
    amount: d.amount as bigint,
    leaf: (d.leaf as string).toLowerCase(),
    blockNumber: log.blockNumber ?? -1,
    transactionHash: log.transactionHash ?? '',
    logIndex: log.index ?? log.logIndex ?? -1,
  };
  if (withdrawalLeaf(w) !== w.leaf) throw new PocError<MerkleErrorCode>('BRIDGE_BAD_LOG', `withdrawal ${w.index}: logged leaf does not match its fields`);
  return w;
}
