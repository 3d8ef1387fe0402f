/** orderedTrieRoot gives the same root as @ethereumjs/mpt for tx/receipt-style tries of any size. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MerklePatriciaTrie } from '@ethereumjs/mpt';
import { RLP } from '@ethereumjs/rlp';
import { bytesToHex, KECCAK256_RLP } from '@ethereumjs/util';
import { orderedTrieRoot } from '../../chain/ordered-trie.ts';

async function reference(values: Uint8Array[]): Promise<Uint8Array> {
  const t = new MerklePatriciaTrie();
  for (const [i, v] of values.entries()) await t.put(RLP.encode(i), v);
  return t.root();
}

// deterministic pseudo-random bytes (LCG)
let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));

const cases: [string, number, () => number][] = [
  // tiny values make nodes under 32 bytes, which are embedded rather than hashed
  ['tiny values', 0, () => 1 + Math.floor(rnd() * 3)],
  ['short values', 0, () => 1 + Math.floor(rnd() * 40)],
  ['tx-sized values', 0, () => 100 + Math.floor(rnd() * 200)],
];

for (const [name, , len] of cases) {
  test(`same root as the MPT: ${name}`, async () => {
    for (const n of [1, 2, 3, 15, 16, 17, 127, 128, 129, 130, 255, 256, 257, 300, 1100]) {
      const values = Array.from({ length: n }, () => bytes(len()));
      assert.equal(bytesToHex(orderedTrieRoot(values)), bytesToHex(await reference(values)), `${n} items`);
    }
  });
}

test('the empty trie has the empty root', () => {
  assert.deepEqual(orderedTrieRoot([]), KECCAK256_RLP);
});
