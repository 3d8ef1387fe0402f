import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBftState, step, timeoutDuration, DEFAULT_TIMEOUTS, type BftInput, type BftOutput, type BftState } from '../../consensus/bft/machine.ts';
import { makeBlock, signProposalWith, signVoteWith, testBlockValidity, testValidators } from '../../consensus/bft/testkit.ts';
import { verifyCommit, verifyEvidence } from '../../consensus/bft/verify.ts';
import type { Vote, VoteType } from '../../consensus/bft/types.ts';

const chainId = 'test-chain';
const { set, keysByIndex } = testValidators([1n, 1n, 1n, 1n], 'machine');
// Our node: a validator that is not the proposer of rounds 0..2 (equal powers rotate).
const ME = set.proposerForRound(3);
const others = [0, 1, 2, 3].filter((i) => i !== ME);
const hex = (h: Uint8Array | null): string => (h === null ? 'nil' : Buffer.from(h).toString('hex'));

function vote(i: number, type: VoteType, round: number, hash: Uint8Array | null, height = 1): Vote {
  return signVoteWith(keysByIndex[i]!.secretKey, chainId, { type, height, round, blockHash: hash, validatorIndex: i });
}

function proposalFor(round: number, b: { block: Uint8Array; blockHash: Uint8Array }, polRound = -1, height = 1) {
  const proposer = set.proposerForRound(round);
  return signProposalWith(keysByIndex[proposer]!.secretKey, chainId, { height, round, polRound, blockHash: b.blockHash, block: b.block });
}

/**
 * A driver in miniature: own votes/proposals are signed and fed back, block validation and
 * building are answered at once (unless `manualValidity`); all outputs are recorded.
 */
class Node {
  state: BftState;
  log: BftOutput[] = [];
  manualValidity = false;
  constructor(index = ME) {
    this.state = createBftState({ chainId });
    this.run({ type: 'startHeight', height: 1, validators: set, myPubKey: keysByIndex[index]!.publicKey });
  }
  run(input: BftInput): BftOutput[] {
    const out: BftOutput[] = [];
    const queue = [input];
    while (queue.length) {
      const r = step(this.state, queue.shift()!);
      this.state = r.state;
      for (const o of r.outputs) {
        out.push(o);
        if (o.type === 'broadcastVote') queue.push({ type: 'vote', vote: signVoteWith(keysByIndex[o.vote.validatorIndex]!.secretKey, chainId, o.vote), verified: true });
        if (o.type === 'broadcastProposal') {
          const signer = set.proposerForRound(o.proposal.round);
          queue.push({ type: 'proposal', proposal: signProposalWith(keysByIndex[signer]!.secretKey, chainId, o.proposal), verified: true });
        }
        if (o.type === 'validateBlock' && !this.manualValidity) queue.push({ type: 'blockValidity', height: o.height, blockHash: o.blockHash, result: testBlockValidity(o.blockHash, o.block) });
        if (o.type === 'buildBlock') queue.push({ type: 'ownBlock', height: o.height, round: o.round, ...makeBlock(o.height, o.round, ME, 7) });
      }
    }
    this.log.push(...out);
    return out;
  }
  votes(out: BftOutput[]): string[] {
    return out.flatMap((o) => (o.type === 'broadcastVote' ? [`${o.vote.type}:${o.vote.round}:${hex(o.vote.blockHash)}`] : []));
  }
  feedVotes(vs: Vote[]): BftOutput[] {
    return vs.flatMap((v) => this.run({ type: 'vote', vote: v }));
  }
  /** Move from the current round to the next via +2/3 nil precommits and the precommit timeout. */
  nextRoundViaNil(round: number): void {
    this.feedVotes(others.map((i) => vote(i, 'precommit', round, null)));
    this.run({ type: 'timeout', kind: 'propose', height: 1, round });
    this.run({ type: 'timeout', kind: 'prevote', height: 1, round });
    this.run({ type: 'timeout', kind: 'precommit', height: 1, round });
    assert.equal(this.state.round, round + 1);
  }
}

const A = makeBlock(1, 0, 0, 1);
const B = makeBlock(1, 1, 0, 2);

test('happy path: proposal, +2/3 prevotes, +2/3 precommits -> commit in round 0 with a valid Commit', () => {
  const n = new Node();
  const start = n.log;
  assert.ok(start.some((o) => o.type === 'scheduleTimeout' && o.kind === 'propose' && o.round === 0));
  assert.ok(!start.some((o) => o.type === 'buildBlock'), 'not the proposer');
  const out1 = n.run({ type: 'proposal', proposal: proposalFor(0, A) });
  assert.ok(out1.some((o) => o.type === 'validateBlock' && hex(o.blockHash) === hex(A.blockHash)));
  assert.deepEqual(n.votes(out1), [`prevote:0:${hex(A.blockHash)}`]);
  const out2 = n.feedVotes(others.slice(0, 2).map((i) => vote(i, 'prevote', 0, A.blockHash)));
  assert.deepEqual(n.votes(out2), [`precommit:0:${hex(A.blockHash)}`]);
  assert.equal(n.state.lockedRound, 0);
  const out3 = n.feedVotes(others.slice(0, 2).map((i) => vote(i, 'precommit', 0, A.blockHash)));
  const commit = out3.find((o) => o.type === 'commit');
  assert.ok(commit && commit.type === 'commit');
  assert.equal(commit.round, 0);
  assert.equal(hex(commit.blockHash), hex(A.blockHash));
  assert.deepEqual(commit.block, A.block);
  assert.equal(commit.commit.signatures.filter((s) => s !== null).length, 3);
  assert.equal(verifyCommit(commit.commit, set, chainId), 3n);
  assert.equal(n.state.step, 'commit');
  // Nothing more happens at this height.
  assert.deepEqual(n.run({ type: 'vote', vote: vote(others[2]!, 'precommit', 0, A.blockHash) }), []);
});

test('the proposer builds a block, proposes it and prevotes it', () => {
  const proposer = set.proposerForRound(0);
  const n = new Node(proposer);
  const kinds = n.log.map((o) => o.type);
  assert.ok(kinds.includes('buildBlock'));
  const prop = n.log.find((o) => o.type === 'broadcastProposal');
  assert.ok(prop && prop.type === 'broadcastProposal');
  assert.equal(prop.proposal.polRound, -1);
  assert.deepEqual(n.votes(n.log), [`prevote:0:${hex(prop.proposal.blockHash)}`]);
  // ownBlock again for the same round is ignored (no second proposal).
  assert.deepEqual(n.run({ type: 'ownBlock', height: 1, round: 0, ...makeBlock(1, 0, proposer, 99) }), []);
});

test('invalid block: prevote nil; block validity pending: wait, then vote', () => {
  const n = new Node();
  const bad = makeBlock(1, 0, 0, 5, false);
  assert.deepEqual(n.votes(n.run({ type: 'proposal', proposal: proposalFor(0, bad) })), ['prevote:0:nil']);
  const m = new Node();
  m.manualValidity = true;
  assert.deepEqual(m.votes(m.run({ type: 'proposal', proposal: proposalFor(0, A) })), []);
  assert.equal(m.state.step, 'propose');
  assert.deepEqual(m.votes(m.run({ type: 'blockValidity', height: 1, blockHash: A.blockHash, result: 'valid' })), [`prevote:0:${hex(A.blockHash)}`]);
});

test('block bytes that do not hash to the proposal are forgotten and can come again', () => {
  const m = new Node();
  m.manualValidity = true;
  const p = proposalFor(0, A);
  m.run({ type: 'proposal', proposal: { ...p, block: B.block } }); // relayer swapped the bytes
  m.run({ type: 'blockValidity', height: 1, blockHash: A.blockHash, result: 'mismatch' });
  assert.equal(m.state.step, 'propose');
  const again = m.run({ type: 'proposal', proposal: p });
  assert.ok(again.some((o) => o.type === 'validateBlock'));
  assert.deepEqual(m.votes(m.run({ type: 'blockValidity', height: 1, blockHash: A.blockHash, result: 'valid' })), [`prevote:0:${hex(A.blockHash)}`]);
});

test('lock rule: a validator locked on A prevotes nil for a different proposal without a newer POL', () => {
  const n = new Node();
  n.run({ type: 'proposal', proposal: proposalFor(0, A) });
  n.feedVotes(others.slice(0, 2).map((i) => vote(i, 'prevote', 0, A.blockHash)));
  assert.equal(n.state.lockedRound, 0);
  assert.equal(n.state.lockedValue, hex(A.blockHash));
  n.nextRoundViaNil(0);
  // Round 1: a fresh proposal for B (polRound -1) -> nil, since locked on A.
  const out = n.run({ type: 'proposal', proposal: proposalFor(1, B) });
  assert.deepEqual(n.votes(out), ['prevote:1:nil']);
  // A proposal claiming an old POL (round 0) for B without prevotes: wait, then nil on timeout.
  const m = new Node();
  m.run({ type: 'proposal', proposal: proposalFor(0, A) });
  m.feedVotes(others.slice(0, 2).map((i) => vote(i, 'prevote', 0, A.blockHash)));
  m.nextRoundViaNil(0);
  m.nextRoundViaNil(1);
  assert.deepEqual(m.votes(m.run({ type: 'proposal', proposal: proposalFor(2, B, 1) })), []);
  assert.deepEqual(m.votes(m.run({ type: 'timeout', kind: 'propose', height: 1, round: 2 })), ['prevote:2:nil']);
});

test('locked validator re-prevotes its locked value in a later round', () => {
  const n = new Node();
  n.run({ type: 'proposal', proposal: proposalFor(0, A) });
  n.feedVotes(others.slice(0, 2).map((i) => vote(i, 'prevote', 0, A.blockHash)));
  n.nextRoundViaNil(0);
  // Proposer of round 1 re-proposes A with its POL round 0.
  assert.deepEqual(n.votes(n.run({ type: 'proposal', proposal: proposalFor(1, A, 0) })), [`prevote:1:${hex(A.blockHash)}`]);
});

test('unlock via a newer POL: locked on A at round 0, B has +2/3 prevotes at round 1 -> prevote B at round 2', () => {
  const n = new Node();
  n.run({ type: 'proposal', proposal: proposalFor(0, A) });
  n.feedVotes(others.slice(0, 2).map((i) => vote(i, 'prevote', 0, A.blockHash)));
  n.nextRoundViaNil(0);
  n.nextRoundViaNil(1); // we missed round 1's proposal and prevotes
  n.run({ type: 'proposal', proposal: proposalFor(2, B, 1) });
  assert.equal(n.state.step, 'propose', 'waits for the POL');
  const out = n.feedVotes(others.map((i) => vote(i, 'prevote', 1, B.blockHash)));
  assert.deepEqual(n.votes(out), [`prevote:2:${hex(B.blockHash)}`]);
  // With more prevotes of round 2 it locks on B.
  const out2 = n.feedVotes(others.slice(0, 2).map((i) => vote(i, 'prevote', 2, B.blockHash)));
  assert.deepEqual(n.votes(out2), [`precommit:2:${hex(B.blockHash)}`]);
  assert.equal(n.state.lockedRound, 2);
  assert.equal(n.state.lockedValue, hex(B.blockHash));
});

test('a POL older than the lock does not unlock', () => {
  const n = new Node();
  n.nextRoundViaNil(0);
  // Lock on A in round 1.
  const A1 = makeBlock(1, 1, 0, 11);
  n.run({ type: 'proposal', proposal: proposalFor(1, A1) });
  n.feedVotes(others.slice(0, 2).map((i) => vote(i, 'prevote', 1, A1.blockHash)));
  assert.equal(n.state.lockedRound, 1);
  n.nextRoundViaNil(1);
  // Round 2 proposes B with POL round 0 (older than our lock), POL present: still nil.
  n.feedVotes(others.map((i) => vote(i, 'prevote', 0, B.blockHash)));
  assert.deepEqual(n.votes(n.run({ type: 'proposal', proposal: proposalFor(2, B, 0) })), ['prevote:2:nil']);
});

test('round skip: f+1 power in a higher round moves us there; f alone does not', () => {
  const n = new Node();
  n.run({ type: 'vote', vote: vote(others[0]!, 'prevote', 5, null) });
  assert.equal(n.state.round, 0, 'one validator of four is not f+1');
  const out = n.run({ type: 'vote', vote: vote(others[1]!, 'precommit', 5, null) });
  assert.equal(n.state.round, 5);
  const t = out.find((o) => o.type === 'scheduleTimeout' && o.kind === 'propose');
  assert.ok(t && t.type === 'scheduleTimeout');
  assert.equal(t.round, 5);
  assert.equal(t.durationMs, DEFAULT_TIMEOUTS.proposeMs + 5 * DEFAULT_TIMEOUTS.proposeDeltaMs);
});

test('timeouts grow with the round and stale timeouts are ignored', () => {
  assert.equal(timeoutDuration(DEFAULT_TIMEOUTS, 'propose', 0), 3000);
  assert.equal(timeoutDuration(DEFAULT_TIMEOUTS, 'propose', 3), 4500);
  assert.equal(timeoutDuration(DEFAULT_TIMEOUTS, 'prevote', 2), 2000);
  assert.equal(timeoutDuration(DEFAULT_TIMEOUTS, 'precommit', 4), 3000);
  const n = new Node();
  const durations: number[] = [];
  for (let r = 0; r < 3; r++) {
    // ME is not the proposer of rounds 0..2.
    const out = n.run({ type: 'timeout', kind: 'propose', height: 1, round: r });
    assert.deepEqual(n.votes(out), [`prevote:${r}:nil`]);
    const pw = n.feedVotes(others.map((i) => vote(i, 'prevote', r, null)));
    assert.deepEqual(n.votes(pw), [`precommit:${r}:nil`]);
    const pc = n.feedVotes(others.map((i) => vote(i, 'precommit', r, null)));
    const t = pc.find((o) => o.type === 'scheduleTimeout' && o.kind === 'precommit');
    assert.ok(t && t.type === 'scheduleTimeout');
    durations.push(t.durationMs);
    // A stale timeout from an earlier round does nothing.
    if (r > 0) assert.deepEqual(n.run({ type: 'timeout', kind: 'precommit', height: 1, round: r - 1 }), []);
    n.run({ type: 'timeout', kind: 'precommit', height: 1, round: r });
  }
  assert.deepEqual(durations, [1000, 1500, 2000]);
  assert.equal(n.state.round, 3);
  // Round 3 is ours: we build and propose.
  assert.ok(n.log.some((o) => o.type === 'broadcastProposal' && o.proposal.round === 3));
});

test('nil is never committed: +2/3 nil precommits only lead to the next round', () => {
  const n = new Node();
  n.run({ type: 'timeout', kind: 'propose', height: 1, round: 0 });
  const out = n.feedVotes(others.map((i) => vote(i, 'precommit', 0, null)));
  assert.ok(!out.some((o) => o.type === 'commit'));
  assert.notEqual(n.state.step, 'commit');
  n.run({ type: 'timeout', kind: 'precommit', height: 1, round: 0 });
  assert.equal(n.state.round, 1);
  assert.ok(!n.log.some((o) => o.type === 'commit'));
});

test('+2/3 precommits for a block we never saw ask for it, then commit once it validates', () => {
  const n = new Node();
  const out = n.feedVotes(others.map((i) => vote(i, 'precommit', 0, A.blockHash)));
  const miss = out.find((o) => o.type === 'missingBlock');
  assert.ok(miss && miss.type === 'missingBlock' && hex(miss.blockHash) === hex(A.blockHash));
  const done = n.run({ type: 'block', height: 1, blockHash: A.blockHash, block: A.block });
  const c = done.find((o) => o.type === 'commit');
  assert.ok(c && c.type === 'commit' && hex(c.blockHash) === hex(A.blockHash));
});

test('syncCommit: a verified commit decides the height; a forged one is rejected', () => {
  const sigs = [0, 1, 2, 3].map((i) => (i === ME ? null : vote(i, 'precommit', 3, A.blockHash).signature));
  const commit = { height: 1, round: 3, blockHash: A.blockHash, signatures: sigs };
  const bad = new Node();
  const forged = { ...commit, signatures: sigs.map((s) => (s ? new Uint8Array(64) : null)) };
  const rej = bad.run({ type: 'syncCommit', commit: forged, block: A.block });
  assert.ok(rej.some((o) => o.type === 'invalidMessage'));
  assert.notEqual(bad.state.step, 'commit');
  const n = new Node();
  const out = n.run({ type: 'syncCommit', commit, block: A.block });
  const c = out.find((o) => o.type === 'commit');
  assert.ok(c && c.type === 'commit');
  assert.equal(c.round, 3);
  assert.deepEqual(c.commit, commit);
});

test('equivocation yields DuplicateVoteEvidence once; an identical duplicate is ignored', () => {
  const n = new Node();
  const v1 = vote(others[0]!, 'prevote', 0, A.blockHash);
  const v2 = vote(others[0]!, 'prevote', 0, B.blockHash);
  assert.deepEqual(n.run({ type: 'vote', vote: v1 }), []);
  assert.deepEqual(n.run({ type: 'vote', vote: v1 }), []);
  const out = n.run({ type: 'vote', vote: v2 });
  const ev = out.filter((o) => o.type === 'evidence');
  assert.equal(ev.length, 1);
  const e = ev[0]!;
  assert.ok(e.type === 'evidence');
  verifyEvidence(e.evidence, set, chainId);
  assert.deepEqual(n.run({ type: 'vote', vote: v2 }), []);
  // The equivocator's power still counts once in the round's total.
  assert.equal(n.state.rounds.get(0)!.prevotes.total, 1n);
});

test('bad signatures, wrong proposer and out-of-range indices are reported, not counted', () => {
  const n = new Node();
  const v = vote(others[0]!, 'prevote', 0, A.blockHash);
  const forged = { ...v, signature: new Uint8Array(v.signature).fill(7) };
  assert.equal(n.run({ type: 'vote', vote: forged })[0]?.type, 'invalidMessage');
  const misIndexed = { ...v, validatorIndex: others[1]! };
  assert.equal(n.run({ type: 'vote', vote: misIndexed })[0]?.type, 'invalidMessage');
  assert.equal(n.run({ type: 'vote', vote: { ...v, validatorIndex: 9 } })[0]?.type, 'invalidMessage');
  const wrongProposer = signProposalWith(keysByIndex[set.proposerForRound(1)]!.secretKey, chainId, { height: 1, round: 0, polRound: -1, blockHash: A.blockHash, block: A.block });
  assert.equal(n.run({ type: 'proposal', proposal: wrongProposer })[0]?.type, 'invalidMessage');
  const otherChain = signVoteWith(keysByIndex[others[0]!]!.secretKey, 'other-chain', { type: 'prevote', height: 1, round: 0, blockHash: A.blockHash, validatorIndex: others[0]! });
  assert.equal(n.run({ type: 'vote', vote: otherChain })[0]?.type, 'invalidMessage');
  assert.equal(n.state.rounds.get(0)?.prevotes.total ?? 0n, 0n);
  assert.equal(n.state.step, 'propose');
});

test('next-height messages are buffered and applied at startHeight', () => {
  const n = new Node();
  const A2 = makeBlock(2, 0, 0, 3);
  const set2 = set.nextHeight();
  const prop2 = signProposalWith(keysByIndex[set2.proposerForRound(0)]!.secretKey, chainId, { height: 2, round: 0, polRound: -1, ...A2 });
  const me2 = set2.indexOf(keysByIndex[ME]!.publicKey);
  const voters2 = [0, 1, 2, 3].filter((i) => i !== me2);
  n.run({ type: 'proposal', proposal: prop2 });
  for (const i of voters2) n.run({ type: 'vote', vote: vote(i, 'prevote', 0, A2.blockHash, 2) });
  n.run({ type: 'vote', vote: vote(voters2[0]!, 'prevote', 0, A2.blockHash, 3) }); // too far ahead: dropped
  assert.equal(n.state.buffer.length, 4);
  n.feedVotes(others.map((i) => vote(i, 'precommit', 0, A.blockHash)));
  n.run({ type: 'block', height: 1, blockHash: A.blockHash, block: A.block });
  assert.equal(n.state.step, 'commit');
  const out = n.run({ type: 'startHeight', height: 2, validators: set2, myPubKey: keysByIndex[ME]!.publicKey });
  // Proposal + 3 prevotes arrived before we got here: we prevote and precommit A2 immediately.
  assert.deepEqual(n.votes(out), [`prevote:0:${hex(A2.blockHash)}`, `precommit:0:${hex(A2.blockHash)}`]);
});

test('determinism: replaying the same inputs gives the same outputs', () => {
  const inputs: BftInput[] = [
    { type: 'startHeight', height: 1, validators: set, myPubKey: keysByIndex[ME]!.publicKey },
    { type: 'proposal', proposal: proposalFor(0, A) },
    { type: 'blockValidity', height: 1, blockHash: A.blockHash, result: 'valid' },
    { type: 'vote', vote: vote(others[0]!, 'prevote', 0, A.blockHash) },
    { type: 'vote', vote: vote(others[1]!, 'prevote', 0, null) },
    { type: 'vote', vote: vote(others[2]!, 'prevote', 0, A.blockHash) },
    { type: 'timeout', kind: 'prevote', height: 1, round: 0 },
  ];
  const runAll = (): string => {
    let s = createBftState({ chainId });
    const outs: BftOutput[] = [];
    for (const i of inputs) {
      const r = step(s, i);
      s = r.state;
      outs.push(...r.outputs);
    }
    return JSON.stringify(outs, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'bigint' ? v.toString() : v));
  };
  const a = runAll();
  assert.equal(a, runAll());
  assert.ok(a.includes('broadcastVote'));
});

test('a proposal received in time and still validating is waited for once, not prevoted nil at the propose timeout', () => {
  const m = new Node();
  m.manualValidity = true;
  m.run({ type: 'proposal', proposal: proposalFor(0, A) });
  const t1 = m.run({ type: 'timeout', kind: 'propose', height: 1, round: 0 });
  assert.deepEqual(m.votes(t1), [], 'no nil prevote while validating');
  const wait = t1.find((o) => o.type === 'scheduleTimeout');
  assert.ok(wait && wait.type === 'scheduleTimeout' && wait.kind === 'propose' && hex(wait.awaiting ?? null) === hex(A.blockHash), 'an awaiting timeout for the block');
  assert.deepEqual(m.votes(m.run({ type: 'blockValidity', height: 1, blockHash: A.blockHash, result: 'valid' })), [`prevote:0:${hex(A.blockHash)}`]);
  // bounded: the second timeout of the round prevotes nil if the answer is still missing
  const s = new Node();
  s.manualValidity = true;
  s.run({ type: 'proposal', proposal: proposalFor(0, A) });
  s.run({ type: 'timeout', kind: 'propose', height: 1, round: 0 });
  assert.deepEqual(s.votes(s.run({ type: 'timeout', kind: 'propose', height: 1, round: 0 })), ['prevote:0:nil']);
  // no proposal at all: nil at the first timeout, as before
  const e = new Node();
  assert.deepEqual(e.votes(e.run({ type: 'timeout', kind: 'propose', height: 1, round: 0 })), ['prevote:0:nil']);
});

test('cannot-judge: prevote nil; +2/3 precommits then re-validate once with decided and commit', () => {
  for (const first of ['cannot-judge', 'invalid'] as const) {
    const m = new Node();
    m.manualValidity = true;
    m.run({ type: 'proposal', proposal: proposalFor(0, A) });
    assert.deepEqual(m.votes(m.run({ type: 'blockValidity', height: 1, blockHash: A.blockHash, result: first })), ['prevote:0:nil'], first);
    const out = m.feedVotes(others.map((i) => vote(i, 'precommit', 0, A.blockHash)));
    const again = out.filter((o) => o.type === 'validateBlock');
    assert.equal(again.length, 1, `${first}: asked once more`);
    assert.ok(again[0]!.type === 'validateBlock' && again[0]!.decided === true);
    assert.ok(!out.some((o) => o.type === 'commit'));
    const done = m.run({ type: 'blockValidity', height: 1, blockHash: A.blockHash, result: 'valid' });
    const c = done.find((o) => o.type === 'commit');
    assert.ok(c && c.type === 'commit' && hex(c.blockHash) === hex(A.blockHash), `${first}: committed after re-validation`);
  }
  // a block that really is invalid stays uncommitted (re-validation answers invalid again, once)
  const r = new Node();
  r.manualValidity = true;
  r.run({ type: 'proposal', proposal: proposalFor(0, A) });
  r.run({ type: 'blockValidity', height: 1, blockHash: A.blockHash, result: 'invalid' });
  r.feedVotes(others.map((i) => vote(i, 'precommit', 0, A.blockHash)));
  const out = r.run({ type: 'blockValidity', height: 1, blockHash: A.blockHash, result: 'invalid' });
  assert.ok(!out.some((o) => o.type === 'commit' || o.type === 'validateBlock'));
});

test('a flood of equivocating votes yields one evidence per (type, round, validator)', () => {
  const n = new Node();
  const byz = others[0]!;
  const out = n.feedVotes(Array.from({ length: 20 }, (_, k) => vote(byz, 'prevote', 0, makeBlock(1, 0, byz, 100 + k).blockHash)));
  assert.equal(out.filter((o) => o.type === 'evidence').length, 1);
});
