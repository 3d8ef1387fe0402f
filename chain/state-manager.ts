/**
 * The state manager block execution and calls run on: @ethereumjs/statemanager's
 * MerkleStateManager with its storage writes kept in the cache until the block is flushed.
 *
 * Why: MerkleStateManager 10.1.3 `putStorage` reads
 *   this._caches?.storage?.put(address, key, v) ?? (await this._writeContractStorage(...))
 * and the cache's `put` returns undefined, so every SSTORE also went through to the storage trie
 * (walk the path, re-hash it, re-encode and re-hash the account in the state trie) although the
 * cache already held the value and the flush at the end of the block writes it again. Trie puts
 * and their hashing were the largest share of an ERC20 block's build time
 * (docs/performance.md). Accounts and code already stay in their caches that way.
 *
 * The state root does not change: the flush writes each slot's last value, storage before
 * accounts (MerkleStateManager.flush), exactly what the write-through left in the trie. A
 * property test checks roots against the plain, uncached manager.
 */
import { MerkleStateManager } from '@ethereumjs/statemanager';
import { RLP } from '@ethereumjs/rlp';
import { unpadBytes, type Address } from '@ethereumjs/util';

export class BlockStateManager extends MerkleStateManager {
  override async putStorage(address: Address, key: Uint8Array, value: Uint8Array): Promise<void> {
    const storage = this._caches?.storage;
    if (storage === undefined) return super.putStorage(address, key, value);
    // the same checks and encoding as MerkleStateManager.putStorage, without the write-through
    if (key.length !== 32) throw new Error('Storage key must be 32 bytes long');
    if (value.length > 32) throw new Error('Storage value cannot be longer than 32 bytes');
    if ((await this.getAccount(address)) === undefined) throw new Error('putStorage() called on non-existing account');
    storage.put(address, key, RLP.encode(unpadBytes(value)));
  }
}
