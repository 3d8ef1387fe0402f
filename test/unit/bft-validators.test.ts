import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidatorSet, validatorAddress } from '../../consensus/validators.ts';
import { testKeys } from '../../consensus/bft/testkit.ts';
import { isPocError } from '../../lib/errors.ts';

const keys = testKeys(8, 'valset');
const addr = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
const name = (set: ValidatorSet, i: number): string => Buffer.from(set.get(i)!.address).toString();

test('proposer sequence matches CometBFT TestProposerSelection1 (foo 1000, bar 300, baz 330)', () => {
  let set = ValidatorSet.create([
    { pubKey: keys[0]!.publicKey, power: 1000n, address: addr('foo') },
    { pubKey: keys[1]!.publicKey, power: 300n, address: addr('bar') },
    { pubKey: keys[2]!.publicKey, power: 330n, address: addr('baz') },
  ]);
  const got: string[] = [];
  for (let i = 0; i < 99; i++) {
    got.push(name(set, set.proposerIndex));
    set = set.nextHeight();
  }
  // Expected string copied from CometBFT types/validator_set_test.go.
  const expected =
    'foo baz foo bar foo foo baz foo bar foo foo baz foo foo bar foo baz foo foo bar foo foo baz foo bar foo foo baz foo bar foo foo baz foo foo bar foo baz foo foo bar foo baz foo foo bar foo baz foo foo bar foo baz foo foo foo baz bar foo foo foo baz foo bar foo foo baz foo bar foo foo baz foo bar foo foo baz foo bar foo foo baz foo foo bar foo baz foo foo bar foo baz foo foo bar foo baz foo foo';
  assert.equal(got.join(' '), expected);
});

test('hand-computed vector for powers a=1, b=2, c=3 (ties broken by lower address)', () => {
  // Priorities (a, b, c) after each increment, total 6:
  //  create: 0,0,0 -> +p: 1,2,3 -> c elected: 1,2,-3
  //  h2: 2,4,0 -> b: 2,-2,0     h3: 3,0,3 -> tie a/c, a lower: -3,0,3
  //  h4: -2,2,6 -> c: -2,2,0    h5: -1,4,3 -> b: -1,-2,3    h6: 0,0,6 -> c: 0,0,0 (cycle)
  let set = ValidatorSet.create([
    { pubKey: keys[0]!.publicKey, power: 1n, address: addr('a') },
    { pubKey: keys[1]!.publicKey, power: 2n, address: addr('b') },
    { pubKey: keys[2]!.publicKey, power: 3n, address: addr('c') },
  ]);
  // Index order: power descending.
  assert.deepEqual([0, 1, 2].map((i) => name(set, i)), ['c', 'b', 'a']);
  assert.deepEqual(set.list().map((v) => v.priority), [-3n, 2n, 1n]);
  const got: string[] = [];
  for (let h = 0; h < 12; h++) {
    got.push(name(set, set.proposerIndex));
    set = set.nextHeight();
  }
  assert.deepEqual(got, ['c', 'b', 'a', 'c', 'b', 'c', 'c', 'b', 'a', 'c', 'b', 'c']);
});

test('proposer of round r is the height set incremented r times; the set itself is unchanged', () => {
  const set = ValidatorSet.create([
    { pubKey: keys[0]!.publicKey, power: 1n, address: addr('a') },
    { pubKey: keys[1]!.publicKey, power: 2n, address: addr('b') },
    { pubKey: keys[2]!.publicKey, power: 3n, address: addr('c') },
  ]);
  assert.deepEqual([0, 1, 2, 3].map((r) => name(set, set.proposerForRound(r))), ['c', 'b', 'a', 'c']);
  assert.equal(name(set, set.proposerIndex), 'c');
  assert.deepEqual(set.list().map((v) => v.priority), [-3n, 2n, 1n]);
});

test('equal powers rotate round-robin; order is by address', () => {
  let set = ValidatorSet.create(keys.slice(0, 4).map((k) => ({ pubKey: k.publicKey, power: 10n })));
  const seen: number[] = [];
  for (let i = 0; i < 8; i++) {
    seen.push(set.proposerIndex);
    set = set.nextHeight();
  }
  assert.deepEqual(seen, [0, 1, 2, 3, 0, 1, 2, 3]);
  for (let i = 1; i < 4; i++) assert.ok(Buffer.compare(set.get(i - 1)!.address, set.get(i)!.address) < 0);
  assert.deepEqual(set.get(0)!.address, validatorAddress(set.get(0)!.pubKey));
});

test('quorum and one-third thresholds are strict', () => {
  const set = ValidatorSet.create(keys.slice(0, 4).map((k) => ({ pubKey: k.publicKey, power: 1n })));
  assert.equal(set.totalPower, 4n);
  assert.equal(set.hasQuorum(2n), false);
  assert.equal(set.hasQuorum(3n), true);
  assert.equal(set.hasOneThird(1n), false);
  assert.equal(set.hasOneThird(2n), true);
  const three = ValidatorSet.create(keys.slice(0, 3).map((k) => ({ pubKey: k.publicKey, power: 1n })));
  assert.equal(three.hasQuorum(2n), false, 'exactly 2/3 is not a quorum');
  assert.equal(three.hasQuorum(3n), true);
});

test('indexOf, keyObject cache and bad inputs', () => {
  const set = ValidatorSet.create(keys.slice(0, 3).map((k, i) => ({ pubKey: k.publicKey, power: BigInt(i + 1) })));
  for (let i = 0; i < 3; i++) assert.equal(set.indexOf(set.pubKeyOf(i)!), i);
  assert.equal(set.indexOf(keys[5]!.publicKey), -1);
  assert.equal(set.keyObject(0), set.keyObject(0));
  const bad = (f: () => unknown): void => assert.throws(f, (e: unknown) => isPocError(e, 'BAD_VALIDATOR_SET'));
  bad(() => ValidatorSet.create([]));
  bad(() => ValidatorSet.create([{ pubKey: new Uint8Array(31), power: 1n }]));
  bad(() => ValidatorSet.create([{ pubKey: keys[0]!.publicKey, power: 0n }]));
  bad(() => ValidatorSet.create([{ pubKey: keys[0]!.publicKey, power: 1n }, { pubKey: keys[0]!.publicKey, power: 2n }]));
  bad(() => ValidatorSet.create([{ pubKey: keys[0]!.publicKey, power: 2n ** 62n }]));
});

test('update: new validator enters at -1.125 total priority, removal and power change', () => {
  const base = ValidatorSet.create([
    { pubKey: keys[0]!.publicKey, power: 10n, address: addr('a') },
    { pubKey: keys[1]!.publicKey, power: 10n, address: addr('b') },
  ]);
  const up = base.update([{ pubKey: keys[2]!.publicKey, power: 20n, address: addr('c') }]);
  assert.equal(up.size, 3);
  assert.equal(up.totalPower, 40n);
  assert.equal(name(up, 0), 'c');
  // a and b keep their priorities, c enters at -(40 + 40>>3) = -45, then all shift by floor(avg).
  const prios = new Map(up.list().map((v) => [Buffer.from(v.address).toString(), v.priority]));
  const sumBefore = base.list().reduce((s, v) => s + v.priority, 0n) - 45n;
  const avg = sumBefore >= 0n ? sumBefore / 3n : -((-sumBefore + 2n) / 3n);
  assert.equal(prios.get('c'), -45n - avg);
  const removed = up.update([{ pubKey: keys[0]!.publicKey, power: 0n, address: addr('a') }]);
  assert.deepEqual(removed.list().map((v) => Buffer.from(v.address).toString()).sort(), ['b', 'c']);
  assert.throws(() => base.update([{ pubKey: keys[5]!.publicKey, power: 0n }]), (e: unknown) => isPocError(e, 'BAD_VALIDATOR_SET'));
  assert.throws(
    () => base.update([{ pubKey: keys[0]!.publicKey, power: 0n, address: addr('a') }, { pubKey: keys[1]!.publicKey, power: 0n, address: addr('b') }]),
    (e: unknown) => isPocError(e, 'BAD_VALIDATOR_SET'),
  );
});
