import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulate, type SimOptions, type SimResult } from '../../consensus/bft/testkit.ts';
import { verifyCommit, verifyEvidence } from '../../consensus/bft/verify.ts';

/** Safety: no two honest nodes decided different blocks at one height. Returns heights agreed. */
function assertAgreement(r: SimResult): number {
  const byHeight = new Map<number, Set<string>>();
  for (const m of r.decided.values()) {
    for (const [h, hash] of m) {
      let s = byHeight.get(h);
      if (!s) byHeight.set(h, (s = new Set()));
      s.add(hash);
    }
  }
  for (const [h, s] of byHeight) assert.equal(s.size, 1, `disagreement at height ${h}`);
  return byHeight.size;
}

function run(opts: SimOptions): SimResult {
  const r = simulate(opts);
  assertAgreement(r);
  for (const [node, m] of r.decided) {
    assert.ok(m.size >= opts.heights, `seed ${opts.seed}: node ${node} decided only ${m.size}/${opts.heights} heights`);
  }
  assert.equal(r.signerRefusals, 0, 'honest signers never had to refuse');
  return r;
}

test('4 honest validators, perfect network: every height commits in round 0', () => {
  const r = run({ seed: 1, powers: [1n, 1n, 1n, 1n], heights: 8, maxDelayMs: 5 });
  assert.equal(r.maxRound, 0);
  for (const m of r.commits.values()) for (const c of m.values()) assert.equal(c.round, 0);
});

test('many seeds with random delays, reordering and 20% drops: always agree, always progress', () => {
  const rounds: number[] = [];
  for (let seed = 100; seed < 130; seed++) {
    const r = run({ seed, powers: [1n, 1n, 1n, 1n], heights: 4, dropRate: 0.2, maxDelayMs: 120 });
    rounds.push(r.maxRound);
    // Every commit handed out is a valid proof for syncing nodes (membership is the same at every height).
    for (const m of r.commits.values()) for (const c of m.values()) assert.ok(verifyCommit(c, r.set, 'sim-chain') >= 3n);
  }
  assert.ok(rounds.some((x) => x > 0), 'the perturbations did force extra rounds sometimes');
});

test('unequal powers (one validator with 40%) still agree under drops', () => {
  for (let seed = 200; seed < 215; seed++) run({ seed, powers: [40n, 20n, 20n, 10n, 10n], heights: 4, dropRate: 0.15, maxDelayMs: 80 });
});

test('one byzantine validator that double-votes and double-proposes: honest nodes agree and report evidence', () => {
  let evidence = 0;
  for (let seed = 300; seed < 325; seed++) {
    const byz = seed % 4;
    const r = run({ seed, powers: [1n, 1n, 1n, 1n], heights: 4, byzantine: [byz], dropRate: 0.1, maxDelayMs: 60, invalidBlockRate: 0.3 });
    for (const ev of r.evidence) {
      assert.equal(ev.voteA.validatorIndex, ev.voteB.validatorIndex);
      verifyEvidence(ev, r.set, 'sim-chain');
    }
    evidence += r.evidence.length;
  }
  assert.ok(evidence > 0, 'equivocations were detected');
});

test('byzantine power at the bound (1 of 4 with unequal powers, < 1/3) never breaks safety', () => {
  for (let seed = 400; seed < 410; seed++) {
    // Validator powers 3,3,3,2: the byzantine one (index chosen by seed) has at most 3/11 < 1/3.
    run({ seed, powers: [3n, 3n, 3n, 2n], heights: 3, byzantine: [seed % 4], dropRate: 0.1, maxDelayMs: 60 });
  }
});

test('a validator that judges every block invalid (or cannot judge it) at first still commits each one once +2/3 have', () => {
  for (const verdict of ['invalid', 'cannot-judge'] as const) {
    for (let seed = 500; seed < 512; seed++) {
      const lag = seed % 4;
      const r = run({ seed, powers: [1n, 1n, 1n, 1n], heights: 5, lagging: [lag], laggingVerdict: verdict, dropRate: 0.1, maxDelayMs: 60 });
      assert.ok(r.decided.get(lag)!.size >= 5, `${verdict} seed ${seed}: the lagging node committed every height`);
    }
  }
});

test('validators that crash and replay their WAL at random times (verdicts not logged) agree and progress', () => {
  let restarts = 0;
  for (let seed = 600; seed < 620; seed++) {
    const r = simulate({ seed, powers: [1n, 1n, 1n, 1n], heights: 5, restarting: [seed % 4, (seed + 1) % 4], restartEveryMs: 400, dropRate: 0.1, maxDelayMs: 60 });
    assertAgreement(r);
    for (const [node, m] of r.decided) assert.ok(m.size >= 5, `seed ${seed}: node ${node} decided ${m.size}/5`);
    restarts += r.restarts;
  }
  assert.ok(restarts > 20, `restarts happened (${restarts})`);
});
