/**
 * Consensus message types. Hashes are 32 bytes; `blockHash: null` in a vote means nil.
 * Heights start at 1; rounds at 0; a proposal's polRound is -1 (no proof of lock) or < round.
 */

export type VoteType = 'prevote' | 'precommit';
export type Hash = Uint8Array;

/** A vote without its signature: what a signer signs. */
export interface UnsignedVote {
  type: VoteType;
  height: number;
  round: number;
  /** 32-byte block hash, or null for a nil vote. */
  blockHash: Hash | null;
  validatorIndex: number;
}

export interface Vote extends UnsignedVote {
  /** ed25519 signature (64 bytes) over voteSignBytes(chainId, vote). */
  signature: Uint8Array;
}

/** A proposal without its signature. `block` is opaque here; the driver ties it to blockHash. */
export interface UnsignedProposal {
  height: number;
  round: number;
  polRound: number;
  blockHash: Hash;
  block: Uint8Array;
}

export interface Proposal extends UnsignedProposal {
  /** ed25519 signature by the round's proposer over proposalSignBytes (which omit the block bytes). */
  signature: Uint8Array;
}

/**
 * Proof that a block was decided: the precommit signatures for (height, round, blockHash),
 * indexed by validator index (null where the validator's precommit is not included).
 */
export interface Commit {
  height: number;
  round: number;
  blockHash: Hash;
  signatures: (Uint8Array | null)[];
}

/** Two signed votes of one validator for the same height/round/type with different values. */
export interface DuplicateVoteEvidence {
  voteA: Vote;
  voteB: Vote;
}

/** What goes over the wire for consensus. */
export type ConsensusMessage = { kind: 'vote'; vote: Vote } | { kind: 'proposal'; proposal: Proposal };

export const HASH_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const PUBLIC_KEY_BYTES = 32;
