/**
 * BlockStateManager keeps storage writes in its cache until the flush (chain/state-manager.ts says
 * why). It must reach the same state roots as the plain, uncached MerkleStateManager, which
 * writes every SSTORE into the trie at once, over any sequence of writes, deletions, nested
 * checkpoints, commits and reverts, block after block.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MerklePatriciaTrie } from '@ethereumjs/mpt';
import { Caches, MerkleStateManager } from '@ethereumjs/statemanager';
import { Account, bytesToHex, createAddressFromString, setLengthLeft } from '@ethereumjs/util';
import { BlockStateManager } from '../../chain/state-manager.ts';
import { createChainCommon } from '../../chain/common.ts';

const common = createChainCommon(4242);
const addresses = ['0x' + '0a'.repeat(20), '0x' + '0b'.repeat(20), '0x' + '0c'.repeat(20)].map((a) => createAddressFromString(a));
const slot = (i: number) => setLengthLeft(new Uint8Array([i]), 32);

type Op = { kind: 'put'; a: number; s: number; v: number } | { kind: 'checkpoint' } | { kind: 'commit' } | { kind: 'revert' } | { kind: 'block' };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('put' as const), a: fc.nat(2), s: fc.nat(5), v: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'checkpoint' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'commit' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'revert' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'block' as const }) },
);

async function fresh(cached: boolean): Promise<MerkleStateManager> {
  const trie = new MerklePatriciaTrie({ useKeyHashing: true, common });
  const sm = cached ? new BlockStateManager({ trie, common, caches: new Caches() }) : new MerkleStateManager({ trie, common });
  for (const a of addresses) await sm.putAccount(a, new Account(0n, 1n));
  await sm.flush();
  return sm;
}

test('storage kept in the cache until the flush gives the roots the write-through manager gives', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
      const sms = [await fresh(false), await fresh(true)];
      let depth = 0;
      const roots = async () => Promise.all(sms.map(async (sm) => bytesToHex(await sm.getStateRoot())));
      for (const o of ops) {
        if (o.kind === 'put') {
          // value 0 deletes the slot, as SSTORE of zero does; even slots get a leading zero byte
          const v = o.v === 0 ? new Uint8Array(o.s % 2 === 0 ? 32 : 0) : o.s % 2 === 0 ? new Uint8Array([0, o.v]) : new Uint8Array([o.v]);
          for (const sm of sms) await sm.putStorage(addresses[o.a]!, slot(o.s), v);
        } else if (o.kind === 'checkpoint') {
          for (const sm of sms) await sm.checkpoint();
          depth++;
        } else if ((o.kind === 'commit' || o.kind === 'revert') && depth > 0) {
          for (const sm of sms) await (o.kind === 'commit' ? sm.commit() : sm.revert());
          depth--;
        } else if (o.kind === 'block') {
          for (; depth > 0; depth--) for (const sm of sms) await sm.commit();
          for (const sm of sms) await sm.flush();
          const [plain, cached] = await roots();
          assert.equal(cached, plain);
        }
        // reads agree at every step, whatever is flushed
        for (const a of addresses) for (let s = 0; s < 6; s++) {
          const [x, y] = await Promise.all(sms.map((sm) => sm.getStorage(a, slot(s))));
          assert.equal(bytesToHex(y!), bytesToHex(x!));
        }
      }
      for (; depth > 0; depth--) for (const sm of sms) await sm.commit();
      for (const sm of sms) await sm.flush();
      const [plain, cached] = await roots();
      assert.equal(cached, plain);
    }),
    { numRuns: 150 },
  );
});

test('an SSTORE no longer touches the storage trie before the flush', async () => {
  const sm = await fresh(true);
  const before = bytesToHex(await sm.getStateRoot());
  await sm.checkpoint();
  await sm.putStorage(addresses[0]!, slot(1), new Uint8Array([7]));
  const acct = await sm.getAccount(addresses[0]!);
  assert.equal(bytesToHex(acct!.storageRoot), bytesToHex(new MerklePatriciaTrie().EMPTY_TRIE_ROOT), 'the account storage root moves only at the flush');
  assert.equal(bytesToHex(await sm.getStorage(addresses[0]!, slot(1))), '0x07', 'the write is read back from the cache');
  await sm.commit(); // back to depth 0: MerkleStateManager flushes
  assert.notEqual(bytesToHex(await sm.getStateRoot()), before);
  await assert.rejects(sm.putStorage(createAddressFromString('0x' + 'ee'.repeat(20)), slot(1), new Uint8Array([1])), /non-existing account/);
  await assert.rejects(sm.putStorage(addresses[0]!, new Uint8Array(31), new Uint8Array([1])), /32 bytes/);
});
