/**
 * Checks on signed consensus objects against a validator set: votes, proposals, commits (for
 * syncing nodes on untrusted data) and duplicate-vote evidence. Nothing here writes anything.
 */
import { createHash } from 'node:crypto';
import { PocError } from '../../lib/errors.ts';
import type { ValidatorSet } from '../validators.ts';
import { packCanonical, proposalSignBytes, validateCommitShape, validateProposal, validateVote, voteSignBytes } from './codec.ts';
import { verifyWithKey } from './crypto.ts';
import type { Commit, DuplicateVoteEvidence, Proposal, Vote } from './types.ts';

export type VerifyErrorCode = 'BAD_COMMIT' | 'BAD_EVIDENCE' | 'BAD_SIGNATURE' | 'BAD_MESSAGE';

/** True when the vote's signature is valid for validator `vote.validatorIndex` of `set`. */
export function verifyVoteSignature(vote: Vote, set: ValidatorSet, chainId: string): boolean {
  const key = set.keyObject(vote.validatorIndex);
  if (!key) return false;
  return verifyWithKey(voteSignBytes(chainId, vote), vote.signature, key);
}

/** True when the proposal is signed by the proposer of its round at this set's height. */
export function verifyProposalSignature(p: Proposal, set: ValidatorSet, chainId: string): boolean {
  const key = set.keyObject(set.proposerForRound(p.round));
  if (!key) return false;
  return verifyWithKey(proposalSignBytes(chainId, p), p.signature, key);
}

/**
 * Verify that `commit` carries valid precommits of more than 2/3 of `set`'s power for its block
 * hash. Every present signature must be valid (a bad one is an error, not skipped), and the
 * signature list must have one slot per validator. Throws PocError('BAD_COMMIT').
 * Returns the signed power.
 */
export function verifyCommit(commit: Commit, set: ValidatorSet, chainId: string): bigint {
  try {
    validateCommitShape(commit);
  } catch (e) {
    throw new PocError<VerifyErrorCode>('BAD_COMMIT', 'malformed commit', { cause: e });
  }
  if (commit.signatures.length !== set.size) {
    throw new PocError<VerifyErrorCode>('BAD_COMMIT', 'commit size does not match validator set', { data: { got: commit.signatures.length, want: set.size } });
  }
  const msg = voteSignBytes(chainId, { type: 'precommit', height: commit.height, round: commit.round, blockHash: commit.blockHash });
  let power = 0n;
  for (let i = 0; i < commit.signatures.length; i++) {
    const sig = commit.signatures[i];
    if (sig === null || sig === undefined) continue;
    if (!verifyWithKey(msg, sig, set.keyObject(i)!)) {
      throw new PocError<VerifyErrorCode>('BAD_COMMIT', 'invalid precommit signature in commit', { data: { validatorIndex: i } });
    }
    power += set.powerOf(i);
  }
  if (!set.hasQuorum(power)) {
    throw new PocError<VerifyErrorCode>('BAD_COMMIT', 'commit lacks more than 2/3 of voting power', { data: { power: power.toString(), total: set.totalPower.toString() } });
  }
  return power;
}

/** The precommit votes a commit stands for (to feed a lagging state machine). */
export function commitToVotes(commit: Commit): Vote[] {
  const votes: Vote[] = [];
  commit.signatures.forEach((signature, validatorIndex) => {
    if (signature) votes.push({ type: 'precommit', height: commit.height, round: commit.round, blockHash: commit.blockHash, validatorIndex, signature });
  });
  return votes;
}

/**
 * Randomness derived from a commit: sha256 over the canonical encoding of (height, round,
 * blockHash, signatures in validator-index order). ed25519 signatures are deterministic, so the
 * value depends only on which validators signed; it becomes the next block's prevrandao. All nodes
 * must use the commit *included in the next block* (the proposer's), not their own local one.
 */
export function commitRandomness(commit: Commit): Uint8Array {
  const sigs = commit.signatures.map((s) => (s ? Buffer.from(s) : null));
  const enc = packCanonical(['pocchain/commit-randomness/1', commit.height, commit.round, Buffer.from(commit.blockHash), sigs]);
  return new Uint8Array(createHash('sha256').update(enc).digest());
}

function hashKey(h: Uint8Array | null): string {
  return h === null ? 'nil' : Buffer.from(h).toString('hex');
}

/**
 * Verify duplicate-vote evidence: two well-formed votes of the same validator, height, round and
 * type, for different values, both validly signed under `set` (the set of that height).
 * Throws PocError('BAD_EVIDENCE').
 */
export function verifyEvidence(ev: DuplicateVoteEvidence, set: ValidatorSet, chainId: string): void {
  const { voteA: a, voteB: b } = ev;
  try {
    validateVote(a);
    validateVote(b);
  } catch (e) {
    throw new PocError<VerifyErrorCode>('BAD_EVIDENCE', 'malformed vote in evidence', { cause: e });
  }
  if (a.height !== b.height || a.round !== b.round || a.type !== b.type || a.validatorIndex !== b.validatorIndex) {
    throw new PocError<VerifyErrorCode>('BAD_EVIDENCE', 'votes are not for the same height/round/type/validator');
  }
  if (hashKey(a.blockHash) === hashKey(b.blockHash)) throw new PocError<VerifyErrorCode>('BAD_EVIDENCE', 'votes do not conflict');
  if (a.validatorIndex >= set.size) throw new PocError<VerifyErrorCode>('BAD_EVIDENCE', 'validator index out of range');
  if (!verifyVoteSignature(a, set, chainId) || !verifyVoteSignature(b, set, chainId)) {
    throw new PocError<VerifyErrorCode>('BAD_EVIDENCE', 'invalid signature in evidence');
  }
}

/** Evidence with its votes in canonical order (by value), so equal evidence encodes equally. */
export function normalizeEvidence(voteA: Vote, voteB: Vote): DuplicateVoteEvidence {
  return hashKey(voteA.blockHash) < hashKey(voteB.blockHash) ? { voteA, voteB } : { voteA: voteB, voteB: voteA };
}

/** Proposal structural check plus signature (for drivers that verify before stepping). */
export function verifyProposal(p: Proposal, set: ValidatorSet, chainId: string, maxBlockBytes?: number): boolean {
  try {
    validateProposal(p, maxBlockBytes);
  } catch {
    return false;
  }
  return verifyProposalSignature(p, set, chainId);
}
