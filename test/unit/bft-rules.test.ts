/**
 * Table tests of the driver's pure parts: block rules (envelope, evidence rule, system data, byte
 * budget, timing), the limits cross-check, sync peer choice, the evidence pool, tx batches, the
 * node:crypto signing fast path against tweetnacl, and proposer selection for far rounds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PocError, isPocError } from '../../lib/errors.ts';
import { assembleSys, checkEnvelope, depositsAllowed, evidenceVerdict, fitByBytes, isCanonicalEvidence, judgementOfError, nextHeightDelayMs, timeoutsFor, validationWaitMs, MAX_FUTURE_SECONDS, type EnvelopeFacts } from '../../consensus/block-rules.ts';
import { checkLimits, CONSENSUS_GOSSIP_MAX, EVIDENCE_MAX_AGE, MAX_EVIDENCE_PER_BLOCK, MAX_TX_BYTES, TX_GOSSIP_MAX, WAL_RECORD_MAX, maxProposalBytes } from '../../consensus/limits.ts';
import { pickSyncPeer, scoreAfter, type PeerView } from '../../consensus/block-sync.ts';
import { canonicalEvidence, EvidencePool } from '../../consensus/evidence-pool.ts';
import { decodeTxBatch, encodeTxBatch, MAX_TXS_PER_BATCH } from '../../consensus/tx-gossip.ts';
import { generateKeyPair, sign, signReference, verify } from '../../consensus/bft/crypto.ts';
import { signVoteWith, testValidators } from '../../consensus/bft/testkit.ts';
import { HeightSets, ValidatorSet, MAX_ROUND_STEPS } from '../../consensus/validators.ts';
import { DEFAULT_GOSSIP_LIMITS } from '../../chain/p2p/index.ts';

const ok: EnvelopeFacts = { blockNumber: 5, height: 5, headNumber: 4, extraDataMatches: true, lastCommit: { height: 4, forHead: true }, mixHashMatches: true, evidenceCount: 0, depositCount: 0, timestamp: 1000, now: 1000 };

test('checkEnvelope: each rule, invalid vs cannot-judge', () => {
  assert.equal(checkEnvelope(ok), 'valid');
  assert.equal(checkEnvelope({ ...ok, height: 1, blockNumber: 1, headNumber: 0, lastCommit: null }), 'valid');
  const cases: [string, Partial<EnvelopeFacts>, 'invalid' | 'cannot-judge', RegExp][] = [
    ['wrong number', { blockNumber: 6 }, 'invalid', /not at height/],
    ['not on our head', { headNumber: 3 }, 'invalid', /not at height/],
    ['extraData', { extraDataMatches: false }, 'invalid', /extraData/],
    ['no last commit', { lastCommit: null }, 'invalid', /missing last commit/],
    ['last commit of another height', { lastCommit: { height: 3, forHead: true } }, 'invalid', /parent/],
    ['last commit of another block', { lastCommit: { height: 4, forHead: false } }, 'invalid', /parent/],
    ['prevrandao', { mixHashMatches: false }, 'invalid', /prevrandao/],
    ['too much evidence', { evidenceCount: MAX_EVIDENCE_PER_BLOCK + 1 }, 'invalid', /evidence/],
    ['stamped ahead of our clock', { timestamp: 1000 + MAX_FUTURE_SECONDS + 1 }, 'cannot-judge', /clock/],
  ];
  for (const [name, patch, verdict, re] of cases) {
    assert.throws(() => checkEnvelope({ ...ok, ...patch }), (e) => re.test((e as Error).message) && judgementOfError(e) === verdict, name);
  }
  assert.equal(checkEnvelope({ ...ok, timestamp: 1000 + MAX_FUTURE_SECONDS }), 'valid', 'at the limit is fine');
});

test('judgementOfError: only the cannot-judge codes are cannot-judge', () => {
  const table: [unknown, string][] = [
    [new PocError('L1_UNAVAILABLE', 'x'), 'cannot-judge'],
    [new PocError('L1_BEHIND', 'x'), 'cannot-judge'],
    [new PocError('CLOCK_BEHIND', 'x'), 'cannot-judge'],
    [new PocError('BRIDGE_BAD_DEPOSITS', 'x'), 'invalid'],
    [new Error('boom'), 'invalid'],
    [null, 'invalid'],
    ['L1_BEHIND', 'invalid'],
  ];
  for (const [e, want] of table) assert.equal(judgementOfError(e), want, String(e));
});

test('evidenceVerdict: one rule for gossip, build and validation', () => {
  const H = 5000;
  const table: [number, boolean, string][] = [
    [H, false, 'ok'],
    [H - 1, false, 'ok'],
    [H - EVIDENCE_MAX_AGE, false, 'ok'],
    [H - EVIDENCE_MAX_AGE - 1, false, 'too-old'],
    [H + 1, false, 'future'],
    [4_000_000, false, 'future'],
    [Number.MAX_SAFE_INTEGER + 2, false, 'future'],
    [H - 10, true, 'committed'],
    [H + 1, true, 'future'],
    [0, false, 'too-old'],
  ];
  for (const [h, committed, want] of table) assert.equal(evidenceVerdict(h, H, committed), want, `h=${h} committed=${committed}`);
  assert.equal(evidenceVerdict(1, 3, false), 'ok', 'young chains accept evidence from height 1');
});

test('assembleSys: deposits only in round 0; lists capped; no last commit at height 1', () => {
  const dep = { nonce: 1n, recipient: new Uint8Array(20), amount: 5n, l1TxHash: new Uint8Array(32) };
  const ev = Array.from({ length: 20 }, (_, i) => Uint8Array.of(i));
  const r0 = assembleSys({ height: 3, round: 0, lastCommit: Uint8Array.of(9), evidence: ev, deposits: [dep] });
  assert.equal(r0.deposits.length, 1);
  assert.equal(r0.evidence.length, MAX_EVIDENCE_PER_BLOCK);
  assert.deepEqual(r0.lastCommit, Uint8Array.of(9));
  for (const round of [1, 2, 7]) assert.equal(assembleSys({ height: 3, round, lastCommit: null, evidence: [], deposits: [dep] }).deposits.length, 0, `round ${round}`);
  assert.equal(assembleSys({ height: 1, round: 0, lastCommit: Uint8Array.of(9), evidence: [], deposits: [] }).lastCommit, undefined);
  assert.deepEqual([0, 1, 5].map(depositsAllowed), [true, false, false]);
});

test('fitByBytes: the longest prefix within the budget, read lazily', () => {
  assert.equal(fitByBytes([], 10), 0);
  assert.equal(fitByBytes([4, 4, 4], 12), 3);
  assert.equal(fitByBytes([4, 4, 4], 11), 2);
  assert.equal(fitByBytes([20, 1], 10), 0);
  // nine pool-legal 128 KiB transactions (issue 10 item 6) never make an oversized block
  const n = fitByBytes(Array(9).fill(MAX_TX_BYTES), 1024 * 1024);
  assert.equal(n, 8);
  let read = 0;
  const lazy = (function* () {
    for (;;) {
      read++;
      yield 100;
    }
  })();
  assert.equal(fitByBytes(lazy, 1000), 10);
  assert.equal(read, 11, 'stops reading at the first that does not fit');
});

test('timeouts follow the block time; the validation wait follows the gas', () => {
  const t300 = timeoutsFor(300);
  const t2000 = timeoutsFor(2000);
  assert.ok(t300.proposeMs >= 1000 && t300.prevoteMs >= 500);
  assert.ok(t2000.proposeMs > t300.proposeMs && t2000.prevoteMs > t300.prevoteMs);
  assert.equal(t2000.proposeMs, 4500);
  assert.equal(validationWaitMs(0n, t300), t300.proposeMs, 'at least one propose timeout');
  assert.equal(validationWaitMs(30_000_000n, t300), 15_000, '30M gas at 2 Mgas/s');
  assert.equal(validationWaitMs(10n ** 18n, t300), 60_000, 'capped');
});

test('the next height starts one block time after the last one started, at once when it took longer', () => {
  const cases: [blockMs: number, tookMs: number, waitMs: number][] = [
    [500, 40, 460], // an empty block: the chain keeps its cadence
    [500, 499.6, 0],
    [500, 500, 0],
    [200, 900, 0], // a loaded height: no idle block time on top of it
    [0, 10, 0],
  ];
  for (const [b, took, want] of cases) assert.equal(nextHeightDelayMs(b, took), want, `block ${b} ms, height took ${took} ms`);
});

test('checkLimits: the defaults fit each other; each broken pairing is named', () => {
  const good = { validators: 4, consensusGossipMax: DEFAULT_GOSSIP_LIMITS.consensus, txGossipMax: DEFAULT_GOSSIP_LIMITS.tx, poolMaxTxBytes: MAX_TX_BYTES, walRecordMax: WAL_RECORD_MAX };
  checkLimits(good);
  assert.equal(DEFAULT_GOSSIP_LIMITS.consensus, CONSENSUS_GOSSIP_MAX);
  assert.equal(DEFAULT_GOSSIP_LIMITS.tx, TX_GOSSIP_MAX);
  const bad: [string, Partial<typeof good>, RegExp][] = [
    ['pool accepts huge txs', { poolMaxTxBytes: MAX_TX_BYTES * 2 }, /pool accepts/],
    ['tx gossip too small', { txGossipMax: 64 * 1024 }, /tx gossip/],
    ['consensus gossip at the old 1 MiB', { consensusGossipMax: 1024 * 1024 }, /proposal message/],
    ['many validators make a long last commit', { validators: 20_000 }, /proposal message/],
    ['WAL record too small', { walRecordMax: maxProposalBytes(4) }, /WAL/],
  ];
  for (const [name, patch, re] of bad) assert.throws(() => checkLimits({ ...good, ...patch }), (e) => isPocError(e, 'BAD_LIMITS') && re.test((e as Error).message), name);
});

test('pickSyncPeer: best standing first, suspect claims skipped, none when nobody is ahead', () => {
  const p = (id: string, head: number, score = 0, suspectUntil = 0): PeerView => ({ id, head, score, suspectUntil });
  assert.equal(pickSyncPeer([p('a', 10), p('b', 20)], 10, 0)?.id, 'b');
  assert.equal(pickSyncPeer([p('liar', 1e15, -10), p('b', 20, 0)], 10, 0)?.id, 'b', 'a peer that failed ranks below one that did not');
  assert.equal(pickSyncPeer([p('liar', 1e15, 5, 100), p('b', 20, 0)], 10, 50)?.id, 'b', 'a suspect claim is ignored while suspect');
  assert.equal(pickSyncPeer([p('liar', 1e15, 5, 100), p('b', 20, 0)], 10, 101)?.id, 'liar', 'and tried again later');
  assert.equal(pickSyncPeer([p('a', 10), p('b', 9)], 10, 0), undefined);
  assert.equal(pickSyncPeer([p('b', 20), p('a', 20)], 10, 0)?.id, 'a', 'deterministic tie-break');
  assert.equal(scoreAfter(0, 'failed'), -10);
  assert.equal(scoreAfter(100, 'served'), 100);
  assert.equal(scoreAfter(-100, 'failed'), -100);
});

test('evidence pool: canonical identity, committed read from the store, bounded, stale items dropped at pick', async () => {
  const chainId = 'ev-chain';
  const { keysByIndex } = testValidators([1n, 1n, 1n, 1n], 'ev');
  const vote = (h: number, i: number, v: number) => signVoteWith(keysByIndex[i]!.secretKey, chainId, { type: 'prevote', height: h, round: 0, blockHash: v === 0 ? null : new Uint8Array(32).fill(v), validatorIndex: i });
  const a = canonicalEvidence({ voteA: vote(10, 1, 7), voteB: vote(10, 1, 3) });
  const b = canonicalEvidence({ voteA: vote(10, 1, 3), voteB: vote(10, 1, 7) });
  assert.equal(a.key, b.key, 'the two orders are the same evidence');
  assert.ok(isCanonicalEvidence(a.ev));
  assert.ok(!isCanonicalEvidence({ voteA: a.ev.voteB, voteB: a.ev.voteA }));

  const store = new Set<string>();
  let reads = 0;
  const pool = new EvidencePool({ isCommitted: async (k) => (reads++, store.has(k)), max: 3 });
  assert.equal(await pool.verdict(4_000_000, a.key, 20), 'future');
  assert.equal(await pool.verdict(10, a.key, 20 + EVIDENCE_MAX_AGE), 'too-old');
  assert.equal(reads, 0, 'out-of-range evidence costs no store read');
  assert.equal(await pool.verdict(10, a.key, 20), 'ok');
  store.add(a.key); // committed before a restart: a fresh pool reads it from the store
  const fresh = new EvidencePool({ isCommitted: async (k) => store.has(k) });
  assert.equal(await fresh.verdict(10, a.key, 20), 'committed');

  assert.equal(pool.add(a), true);
  assert.equal(pool.add(b), false, 'same evidence');
  assert.deepEqual(await pool.pick(20, 10), [], 'committed meanwhile: not picked, and dropped');
  assert.equal(pool.size, 0);
  for (let h = 11; h <= 15; h++) pool.add(canonicalEvidence({ voteA: vote(h, 2, 1), voteB: vote(h, 2, 2) }));
  assert.equal(pool.size, 3, 'bounded: the oldest went');
  assert.equal((await pool.pick(20, 10)).length, 3);
  assert.equal((await pool.pick(15 + EVIDENCE_MAX_AGE, 10)).length, 1, "aged out at pick");
  assert.equal(pool.size, 1);
});

test('tx batches: round trip, and malformed or oversized batches refused', () => {
  const txs = [randomBytes(10), randomBytes(200)].map((b) => new Uint8Array(b));
  assert.deepEqual(decodeTxBatch(encodeTxBatch(txs)).map((x) => Buffer.from(x).toString('hex')), txs.map((x) => Buffer.from(x).toString('hex')));
  for (const bad of [encodeTxBatch([]), Uint8Array.of(0xc1), encodeTxBatch(Array(MAX_TXS_PER_BATCH + 1).fill(Uint8Array.of(1)))]) assert.throws(() => decodeTxBatch(bad));
});

test('ed25519 signing by node:crypto is byte-identical to tweetnacl and verifies', () => {
  for (let i = 0; i < 50; i++) {
    const kp = generateKeyPair(new Uint8Array(randomBytes(32)));
    const msg = new Uint8Array(randomBytes(i * 7));
    const fast = sign(msg, kp.secretKey);
    assert.deepEqual(fast, signReference(msg, kp.secretKey));
    assert.ok(verify(msg, fast, kp.publicKey));
  }
});

test('proposer of a far round: O(1) once the cycle is known, refused (not looped to) when it is not', () => {
  const keys = Array.from({ length: 4 }, () => new Uint8Array(randomBytes(32)));
  const set = ValidatorSet.create(keys.map((pubKey) => ({ pubKey, power: 10n })));
  const ref = ValidatorSet.create(keys.map((pubKey) => ({ pubKey, power: 10n })));
  for (let r = 1; r < 40; r++) assert.equal(set.proposerForRound(r), ref.incremented(r).proposerIndex, `round ${r}`);
  const big = 2 ** 31 - 1;
  assert.equal(set.proposerForRound(big), set.proposerForRound(((big - 1) % 4) + 1), 'the cycle of 4 equal validators');
  const huge = ValidatorSet.create([{ pubKey: keys[0]!, power: 3n ** 30n }, { pubKey: keys[1]!, power: 2n ** 40n }, { pubKey: keys[2]!, power: 7n }]);
  assert.throws(() => huge.proposerForRound(MAX_ROUND_STEPS + 5), (e) => isPocError(e, 'BAD_VALIDATOR_SET'));
  assert.equal(huge.proposerForRound(3), ValidatorSet.create(huge.list().map((v) => ({ pubKey: v.pubKey, power: v.power }))).incremented(3).proposerIndex);
});

test('HeightSets: the set of every height equals the sequence of nextHeight(); far heights are O(1) once the cycle is known', () => {
  for (const powers of [[10n, 10n, 10n, 10n], [1n, 2n, 3n], [40n, 20n, 20n, 10n, 10n], [3n ** 20n, 5n, 7n]]) {
    const keys = powers.map(() => new Uint8Array(randomBytes(32)));
    const genesis = ValidatorSet.create(keys.map((pubKey, i) => ({ pubKey, power: powers[i]! })));
    for (const maxTracked of [10_000, 7]) {
      const hs = new HeightSets(genesis, maxTracked);
      let s = genesis;
      for (let h = 1; h <= 300; h++) {
        assert.equal(hs.at(h).priorityKey(), s.priorityKey(), `powers ${powers} maxTracked ${maxTracked} height ${h}`);
        s = s.nextHeight();
      }
    }
    const hs = new HeightSets(genesis);
    if (hs.at(10_000) && hs.cycle > 0) {
      const far = 1_000_000_007;
      assert.equal(hs.at(far).priorityKey(), hs.at(far - hs.cycle).priorityKey());
    }
  }
  const eq = new HeightSets(ValidatorSet.create(Array.from({ length: 4 }, () => ({ pubKey: new Uint8Array(randomBytes(32)), power: 10n }))));
  eq.at(100);
  assert.ok(eq.cycle > 0 && eq.cycle <= 40, `4 equal validators cycle (${eq.cycle})`);
});
