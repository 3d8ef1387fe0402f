import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drawValue, sample, sampleWeight, taskSeed, STAKE_UNIT, MAX_STAKE_UNITS } from '../../consensus/poc/index.ts';
import { keccak256, AbiCoder } from 'ethers';

const abi = AbiCoder.defaultAbiCoder();

test('seed and draw encodings are keccak256(abi.encode(...))', () => {
  const seed = taskSeed(7n, 3n);
  assert.equal(seed, keccak256(abi.encode(['uint256', 'uint256'], [7n, 3n])));
  assert.equal(drawValue(seed, 2), BigInt(keccak256(abi.encode(['bytes32', 'uint256'], [seed, 2n]))));
});

test('sample weight is capped stake units times capped reputation weight', () => {
  assert.equal(sampleWeight(10n ** 18n, 0n), 1000n * 2n);
  assert.equal(sampleWeight(10n ** 18n, 303n), 1000n * 100n);
  assert.equal(sampleWeight(10n ** 40n, 0n), MAX_STAKE_UNITS * 2n);
  assert.equal(sampleWeight(STAKE_UNIT - 1n, 0n), 0n);
});

test('sampling is deterministic, without replacement, and skips zero weights', () => {
  const w = [5n, 0n, 7n, 1n, 9n];
  const seed = taskSeed(123n, 1n);
  const a = sample(w, seed, 10);
  assert.deepEqual(a, sample(w, seed, 10));
  assert.equal(a.length, 4);
  assert.equal(new Set(a).size, 4);
  assert.ok(!a.includes(1));
  const orders = new Set<string>();
  for (let r = 0n; r < 30n; r++) orders.add(sample(w, taskSeed(r, 1n), 10).join(','));
  assert.ok(orders.size > 1, 'randomness changes the order');
});

test('draws form prefixes: the first k of k+1 draws are the k draws', () => {
  const w = [3n, 1n, 4n, 1n, 5n, 9n, 2n, 6n];
  for (let r = 0n; r < 20n; r++) {
    const seed = taskSeed(r, 9n);
    const full = sample(w, seed, 8);
    for (let k = 0; k <= 8; k++) assert.deepEqual(sample(w, seed, k), full.slice(0, k));
  }
});

test('first draws follow the weights (fixed seeds, so no flakiness)', () => {
  const w = [1n, 2n, 7n];
  const counts = [0, 0, 0];
  for (let r = 0n; r < 3000n; r++) counts[sample(w, taskSeed(r, 1n), 1)[0]!]!++;
  // expectations 300 / 600 / 2100; chi-square with 2 dof well below 13.8 (p = 0.001)
  const exp = [300, 600, 2100];
  const chi = counts.reduce((s, c, i) => s + (c - exp[i]!) ** 2 / exp[i]!, 0);
  assert.ok(chi < 13.8, `chi-square ${chi} for ${counts}`);
});
