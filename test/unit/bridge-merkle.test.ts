/** The TS withdrawal tree: known values, build paths agree, every proof verifies, tampering fails. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AbiCoder, keccak256, toUtf8Bytes } from 'ethers';
import { hashPair, IncrementalMerkleTree, MAX_LEAVES, rootFromProof, TREE_DEPTH, verifyProof, withdrawalLeaf, ZERO_HASHES } from '../../bridge/merkle.ts';

const leafArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => '0x' + Buffer.from(b).toString('hex'));
/** Distinct leaves that are real hashes (never zero, never equal), so no node can equal its sibling. */
const distinctLeaves = (minLength: number, maxLength: number) =>
  fc.uniqueArray(fc.integer(), { minLength, maxLength }).map((xs) => xs.map((x) => keccak256(toUtf8Bytes(`leaf ${x}`))));

test('zero hashes are the keccak ladder', () => {
  assert.equal(ZERO_HASHES.length, TREE_DEPTH + 1);
  assert.equal(ZERO_HASHES[0], '0x' + '00'.repeat(32));
  // keccak256 of 64 zero bytes, a well-known constant
  assert.equal(ZERO_HASHES[1], '0xad3228b676f7d3cd4284a5443f17f1962b36e491b30a40b2405849e597ba5fb5');
  assert.equal(ZERO_HASHES[5], hashPair(ZERO_HASHES[4]!, ZERO_HASHES[4]!));
});

test('one leaf: root is the leaf hashed up the left edge against zeros', () => {
  const leaf = keccak256('0x01');
  let node = leaf;
  for (let h = 0; h < TREE_DEPTH; h++) node = hashPair(node, ZERO_HASHES[h]!);
  const t = IncrementalMerkleTree.fromLeaves([leaf]);
  assert.equal(t.root(), node);
  assert.deepEqual(t.proof(0), ZERO_HASHES.slice(0, TREE_DEPTH));
});

test('three leaves by hand', () => {
  const [a, b, c] = ['0x0a', '0x0b', '0x0c'].map((x) => keccak256(x)) as [string, string, string];
  let node = hashPair(hashPair(a, b), hashPair(c, ZERO_HASHES[0]!));
  for (let h = 2; h < TREE_DEPTH; h++) node = hashPair(node, ZERO_HASHES[h]!);
  assert.equal(IncrementalMerkleTree.fromLeaves([a, b, c]).root(), node);
});

test('push one by one gives the same tree as fromLeaves', () => {
  fc.assert(
    fc.property(fc.array(leafArb, { maxLength: 70 }), (leaves) => {
      const inc = new IncrementalMerkleTree();
      for (const l of leaves) inc.push(l);
      const bulk = IncrementalMerkleTree.fromLeaves(leaves);
      assert.equal(inc.count, leaves.length);
      assert.equal(inc.root(), bulk.root());
      for (let i = 0; i < leaves.length; i++) assert.deepEqual(inc.proof(i), bulk.proof(i));
    }),
    { numRuns: 40 },
  );
});

test('every proof verifies; a changed leaf, index or sibling does not', () => {
  fc.assert(
    fc.property(distinctLeaves(1, 40), fc.nat(), fc.nat({ max: TREE_DEPTH - 1 }), (leaves, pick, level) => {
      const t = IncrementalMerkleTree.fromLeaves(leaves);
      const root = t.root();
      const i = pick % leaves.length;
      const proof = t.proof(i);
      assert.ok(verifyProof(leaves[i]!, i, proof, root));
      assert.ok(!verifyProof(keccak256(leaves[i]!), i, proof, root));
      const flipped = Math.floor(i / 2 ** level) % 2 === 0 ? i + 2 ** level : i - 2 ** level;
      assert.ok(!verifyProof(leaves[i]!, flipped, proof, root));
      const bad = [...proof];
      bad[level] = keccak256(bad[level]!);
      assert.ok(!verifyProof(leaves[i]!, i, bad, root));
    }),
    { numRuns: 60 },
  );
});

test('indices past 2^31 are handled with plain arithmetic (no int32 bit tricks)', () => {
  // A leaf at index 2^32 - 2 (the last a tree can hold), siblings all zero: its root by hand.
  const leaf = keccak256('0x05');
  const index = 2 ** 32 - 2;
  let node = leaf;
  for (let h = 0; h < TREE_DEPTH; h++) node = h === 0 ? hashPair(node, ZERO_HASHES[0]!) : hashPair(ZERO_HASHES[h]!, node);
  assert.equal(rootFromProof(leaf, index, ZERO_HASHES.slice(0, TREE_DEPTH)), node);
});

test('a proof over an earlier prefix proves against the earlier root only', () => {
  const leaves = Array.from({ length: 9 }, (_, i) => keccak256('0x' + (i + 1).toString(16).padStart(2, '0')));
  const early = IncrementalMerkleTree.fromLeaves(leaves.slice(0, 5));
  const late = IncrementalMerkleTree.fromLeaves(leaves);
  assert.ok(verifyProof(leaves[2]!, 2, early.proof(2), early.root()));
  assert.ok(!verifyProof(leaves[2]!, 2, early.proof(2), late.root()));
  assert.ok(verifyProof(leaves[2]!, 2, late.proof(2), late.root()));
});

test('withdrawalLeaf is keccak256(abi.encode(index, recipient, amount))', () => {
  const w = { index: 7n, l1Recipient: '0x00000000000000000000000000000000000000aa', amount: 10n ** 18n };
  const manual = keccak256('0x' + (7).toString(16).padStart(64, '0') + 'aa'.padStart(64, '0') + (10n ** 18n).toString(16).padStart(64, '0'));
  assert.equal(withdrawalLeaf(w), manual);
  assert.equal(withdrawalLeaf(w), keccak256(AbiCoder.defaultAbiCoder().encode(['uint256', 'address', 'uint256'], [7n, w.l1Recipient, w.amount])));
});

test('bad input is refused with codes', () => {
  const t = IncrementalMerkleTree.fromLeaves([keccak256('0x01')]);
  assert.throws(() => t.proof(1), { code: 'MERKLE_INDEX_OUT_OF_RANGE' });
  assert.throws(() => t.proof(-1), { code: 'MERKLE_INDEX_OUT_OF_RANGE' });
  assert.throws(() => t.push('0x1234'), { code: 'MERKLE_BAD_HASH' });
  assert.throws(() => rootFromProof(keccak256('0x01'), 0, []), { code: 'MERKLE_BAD_HASH' });
  assert.throws(() => rootFromProof(keccak256('0x01'), 2 ** 32, t.proof(0)), { code: 'MERKLE_INDEX_OUT_OF_RANGE' });
  assert.equal(MAX_LEAVES, 2 ** 32 - 1);
});
