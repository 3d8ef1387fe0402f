import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  addVote, credibility, emptyTally, hasConsensus, logWeight, mulCap, replicasFor, weightOf, wouldReachConsensus, WEIGHT_CAP,
} from '../../consensus/poc/index.ts';

const H1 = '0x' + '11'.repeat(32);
const H2 = '0x' + '22'.repeat(32);

test('weight of a score: max(s/3, 3) - 1', () => {
  assert.equal(weightOf(0n), 2n); // newcomer
  assert.equal(weightOf(11n), 2n);
  assert.equal(weightOf(12n), 3n);
  assert.equal(weightOf(302n), 99n);
  assert.equal(weightOf(303n), 100n);
  assert.equal(weightOf(2n ** 200n), WEIGHT_CAP);
});

test('trust 100 needs 7 agreeing newcomers, 6 are not enough', () => {
  let t = emptyTally();
  for (let i = 0; i < 6; i++) t = addVote(t, H1, 2n);
  assert.equal(t.groups.get(H1), 64n);
  assert.equal(t.total, 65n);
  assert.equal(hasConsensus(64n, 65n, 100n), false);
  t = addVote(t, H1, 2n);
  assert.deepEqual(credibility(t, H1), { num: 128n, den: 129n });
  assert.equal(hasConsensus(t.groups.get(H1)!, t.total, 100n), true);
  assert.equal(replicasFor(100n, 2n), 7);
});

test('one executor with score >= 303 reaches trust 100 alone, 302 does not', () => {
  const t303 = addVote(emptyTally(), H1, weightOf(303n));
  assert.equal(hasConsensus(t303.groups.get(H1)!, t303.total, 100n), true);
  const t302 = addVote(emptyTally(), H1, weightOf(302n));
  assert.equal(hasConsensus(t302.groups.get(H1)!, t302.total, 100n), false);
  assert.equal(replicasFor(100n, weightOf(303n)), 1);
});

test('a dissenting vote raises the bar: 7 newcomers + 1 dissent is not consensus at trust 100', () => {
  let t = addVote(emptyTally(), H2, 2n);
  for (let i = 0; i < 7; i++) t = addVote(t, H1, 2n);
  assert.equal(t.total, 1n + 128n + 2n);
  assert.equal(hasConsensus(t.groups.get(H1)!, t.total, 100n), false);
  // one more newcomer on H1 is not enough (256*100 <= 259*99), two are (512*100 > 515*99)
  assert.equal(wouldReachConsensus(t, 100n, 2n), false);
  assert.equal(wouldReachConsensus(t, 100n, 4n), true);
  t = addVote(t, H1, 2n);
  assert.equal(hasConsensus(t.groups.get(H1)!, t.total, 100n), false);
  t = addVote(t, H1, 2n);
  assert.equal(hasConsensus(t.groups.get(H1)!, t.total, 100n), true);
});

test('trust 1 accepts a single contribution; trust 2 a single newcomer too (2*2 > 3)', () => {
  assert.equal(replicasFor(1n, 2n), 1);
  assert.equal(replicasFor(2n, 2n), 1);
  assert.equal(replicasFor(3n, 2n), 2); // 2*3 > 3*2 is false; 4*3 > 5*2
  assert.equal(hasConsensus(2n, 3n, 1n), true);
});

test('logWeight is floor(log2 w), at least 1', () => {
  assert.deepEqual([2n, 3n, 4n, 7n, 8n, 100n, WEIGHT_CAP].map(logWeight), [1, 1, 2, 2, 3, 6, 120]);
});

test('mulCap saturates at WEIGHT_CAP', () => {
  assert.equal(mulCap(2n ** 60n, 2n ** 60n), WEIGHT_CAP);
  assert.equal(mulCap(2n ** 60n, 2n ** 61n), WEIGHT_CAP);
  assert.equal(mulCap(WEIGHT_CAP, WEIGHT_CAP), WEIGHT_CAP);
  assert.equal(mulCap(3n, 5n), 15n);
  assert.equal(mulCap(0n, 5n), 0n);
});

test('saturation is conservative: consensus with capped weights implies consensus with exact weights', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ g: fc.integer({ min: 0, max: 2 }), s: fc.bigInt({ min: 0n, max: 2n ** 90n }) }), { minLength: 1, maxLength: 32 }),
      fc.bigInt({ min: 1n, max: 10n ** 9n }),
      (votes, trust) => {
        let capped = emptyTally();
        const exact = new Map<number, bigint>();
        for (const v of votes) {
          const h = '0x' + String(v.g).repeat(64);
          capped = addVote(capped, h, weightOf(v.s));
          const exactW = (v.s / 3n < 3n ? 3n : v.s / 3n) - 1n;
          exact.set(v.g, (exact.get(v.g) ?? 1n) * exactW);
        }
        const exactTotal = 1n + [...exact.values()].reduce((a, b) => a + b, 0n);
        for (const [g, ew] of exact) {
          const h = '0x' + String(g).repeat(64);
          if (hasConsensus(capped.groups.get(h)!, capped.total, trust)) {
            assert.ok(hasConsensus(ew, exactTotal, trust), `capped consensus on group ${g} without exact consensus`);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});
