/**
 * Wire and sign-bytes encodings of consensus messages (msgpackr, arrays only, no records or
 * extensions). Decoding treats bytes as hostile: size limit first, then msgpack, then every field
 * checked for type, length and range; anything else is a PocError('BAD_MESSAGE'). Decoders return
 * fresh plain Uint8Arrays (never views into the input buffer).
 *
 * Sign-bytes are the canonical msgpackr encoding of [domain, chainId, kind, ...fields without the
 * signature]. Vote sign-bytes omit the validator index (as CometBFT's CanonicalVote does), so a
 * Commit can rebuild them from (height, round, blockHash). Proposal sign-bytes omit the block
 * bytes: the signature binds blockHash, and the driver checks that the bytes hash to it.
 */
import { Packr, Unpackr } from 'msgpackr';
import { PocError } from '../../lib/errors.ts';
import { MAX_VALIDATORS } from '../validators.ts';
import type { Commit, ConsensusMessage, DuplicateVoteEvidence, Proposal, UnsignedProposal, UnsignedVote, Vote, VoteType } from './types.ts';
import { HASH_BYTES, SIGNATURE_BYTES } from './types.ts';

export type CodecErrorCode = 'BAD_MESSAGE' | 'MESSAGE_TOO_LARGE';

/** Domain tag of every signature made by consensus; a version bump invalidates old signatures. */
export const SIGN_DOMAIN = 'pocchain/bft/1';
/** Default size limit of a decoded consensus message (a proposal carries a whole block). */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Rounds are int32 as in CometBFT. */
export const MAX_ROUND = 2 ** 31 - 1;
export const MAX_CHAIN_ID_LENGTH = 64;

const MSG_VOTE = 1;
const MSG_PROPOSAL = 2;
const VOTE_TYPE_CODE: Record<VoteType, number> = { prevote: 1, precommit: 2 };

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, int64AsType: 'bigint' } as ConstructorParameters<typeof Unpackr>[0]);

function pack(value: unknown): Uint8Array {
  const b = packr.pack(value);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function fail(message: string, data?: Record<string, unknown>): never {
  throw new PocError<CodecErrorCode>('BAD_MESSAGE', message, data ? { data } : {});
}

// ---- field checks (used for decoding and for checking values handed in by callers) ----

function checkInt(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(`bad ${name}`, { field: name });
  return v;
}

function checkBytes(v: unknown, name: string, len?: number, maxLen?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(`bad ${name}: not bytes`, { field: name });
  if (len !== undefined && v.length !== len) fail(`bad ${name}: length ${v.length}`, { field: name });
  if (maxLen !== undefined && v.length > maxLen) fail(`bad ${name}: too long`, { field: name });
  return new Uint8Array(v); // copy: never alias the caller's buffer
}

function checkHeight(v: unknown): number {
  return checkInt(v, 'height', 1, Number.MAX_SAFE_INTEGER);
}

function checkRound(v: unknown, name = 'round'): number {
  return checkInt(v, name, 0, MAX_ROUND);
}

function checkVoteType(v: unknown): VoteType {
  if (v === VOTE_TYPE_CODE.prevote) return 'prevote';
  if (v === VOTE_TYPE_CODE.precommit) return 'precommit';
  fail('bad vote type', { field: 'type' });
}

/** Check a chain id (non-empty printable string, bounded length). */
export function checkChainId(chainId: string): void {
  if (typeof chainId !== 'string' || chainId.length === 0 || chainId.length > MAX_CHAIN_ID_LENGTH || !/^[\x21-\x7e]+$/.test(chainId)) {
    throw new PocError('BAD_CHAIN_ID', 'chain id must be 1..64 printable ASCII characters');
  }
}

// ---- sign bytes ----

/** Bytes a validator signs for a vote. */
export function voteSignBytes(chainId: string, v: Pick<UnsignedVote, 'type' | 'height' | 'round' | 'blockHash'>): Uint8Array {
  return pack([SIGN_DOMAIN, chainId, 'vote', VOTE_TYPE_CODE[v.type], v.height, v.round, v.blockHash === null ? null : Buffer.from(v.blockHash.buffer, v.blockHash.byteOffset, v.blockHash.byteLength)]);
}

/** Bytes the proposer signs for a proposal (without block bytes). */
export function proposalSignBytes(chainId: string, p: Pick<UnsignedProposal, 'height' | 'round' | 'polRound' | 'blockHash'>): Uint8Array {
  return pack([SIGN_DOMAIN, chainId, 'proposal', p.height, p.round, p.polRound, Buffer.from(p.blockHash.buffer, p.blockHash.byteOffset, p.blockHash.byteLength)]);
}

// ---- structural validation of in-memory values ----

/** Throws BAD_MESSAGE unless `v` is a well-formed unsigned vote. */
export function validateUnsignedVote(v: UnsignedVote): void {
  if (v.type !== 'prevote' && v.type !== 'precommit') fail('bad vote type');
  checkHeight(v.height);
  checkRound(v.round);
  if (v.blockHash !== null) checkBytes(v.blockHash, 'blockHash', HASH_BYTES);
  checkInt(v.validatorIndex, 'validatorIndex', 0, MAX_VALIDATORS - 1);
}

/** Throws BAD_MESSAGE unless `v` is a well-formed signed vote. */
export function validateVote(v: Vote): void {
  validateUnsignedVote(v);
  checkBytes(v.signature, 'signature', SIGNATURE_BYTES);
}

/** Throws BAD_MESSAGE unless `p` is a well-formed unsigned proposal. */
export function validateUnsignedProposal(p: UnsignedProposal, maxBlockBytes = DEFAULT_MAX_MESSAGE_BYTES): void {
  checkHeight(p.height);
  checkRound(p.round);
  checkInt(p.polRound, 'polRound', -1, p.round - 1);
  checkBytes(p.blockHash, 'blockHash', HASH_BYTES);
  if (!(p.block instanceof Uint8Array) || p.block.length > maxBlockBytes) fail('bad block bytes');
}

/** Throws BAD_MESSAGE unless `p` is a well-formed signed proposal. */
export function validateProposal(p: Proposal, maxBlockBytes = DEFAULT_MAX_MESSAGE_BYTES): void {
  validateUnsignedProposal(p, maxBlockBytes);
  checkBytes(p.signature, 'signature', SIGNATURE_BYTES);
}

// ---- wire encoding ----

function b(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function voteToArray(v: Vote): unknown[] {
  return [MSG_VOTE, VOTE_TYPE_CODE[v.type], v.height, v.round, v.blockHash === null ? null : b(v.blockHash), v.validatorIndex, b(v.signature)];
}

function voteFromArray(a: unknown): Vote {
  if (!Array.isArray(a) || a.length !== 7 || a[0] !== MSG_VOTE) fail('bad vote shape');
  const type = checkVoteType(a[1]);
  const height = checkHeight(a[2]);
  const round = checkRound(a[3]);
  const blockHash = a[4] === null ? null : checkBytes(a[4], 'blockHash', HASH_BYTES);
  const validatorIndex = checkInt(a[5], 'validatorIndex', 0, MAX_VALIDATORS - 1);
  const signature = checkBytes(a[6], 'signature', SIGNATURE_BYTES);
  return { type, height, round, blockHash, validatorIndex, signature };
}

function proposalToArray(p: Proposal): unknown[] {
  return [MSG_PROPOSAL, p.height, p.round, p.polRound, b(p.blockHash), b(p.block), b(p.signature)];
}

function proposalFromArray(a: unknown[], maxBlockBytes: number): Proposal {
  if (a.length !== 7) fail('bad proposal shape');
  const height = checkHeight(a[1]);
  const round = checkRound(a[2]);
  const polRound = checkInt(a[3], 'polRound', -1, round - 1);
  const blockHash = checkBytes(a[4], 'blockHash', HASH_BYTES);
  const block = checkBytes(a[5], 'block', undefined, maxBlockBytes);
  const signature = checkBytes(a[6], 'signature', SIGNATURE_BYTES);
  return { height, round, polRound, blockHash, block, signature };
}

function unpackStrict(bytes: Uint8Array, maxBytes: number): unknown {
  if (!(bytes instanceof Uint8Array)) fail('not bytes');
  if (bytes.length > maxBytes) throw new PocError<CodecErrorCode>('MESSAGE_TOO_LARGE', 'message exceeds size limit', { data: { size: bytes.length, maxBytes } });
  if (bytes.length === 0) fail('empty message');
  try {
    return unpackr.unpack(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    fail('malformed msgpack', { cause: (e as Error).message });
  }
}

/** Encode a vote or proposal for the wire. */
export function encodeMessage(m: ConsensusMessage): Uint8Array {
  if (m.kind === 'vote') {
    validateVote(m.vote);
    return pack(voteToArray(m.vote));
  }
  validateProposal(m.proposal);
  return pack(proposalToArray(m.proposal));
}

/** Decode untrusted wire bytes into a vote or proposal (structure only: signatures unchecked). */
export function decodeMessage(bytes: Uint8Array, opts: { maxBytes?: number } = {}): ConsensusMessage {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const a = unpackStrict(bytes, maxBytes);
  if (!Array.isArray(a) || a.length === 0) fail('message is not an array');
  if (a[0] === MSG_VOTE) return { kind: 'vote', vote: voteFromArray(a) };
  if (a[0] === MSG_PROPOSAL) return { kind: 'proposal', proposal: proposalFromArray(a, maxBytes) };
  fail('unknown message kind');
}

/** Encode one vote (convenience for WAL records and evidence). */
export function encodeVote(v: Vote): Uint8Array {
  return encodeMessage({ kind: 'vote', vote: v });
}

/** Decode one vote. */
export function decodeVote(bytes: Uint8Array): Vote {
  const m = decodeMessage(bytes, { maxBytes: 1024 });
  if (m.kind !== 'vote') fail('not a vote');
  return m.vote;
}

function commitToArray(c: Commit): unknown[] {
  return [c.height, c.round, b(c.blockHash), c.signatures.map((s) => (s === null ? null : b(s)))];
}

/** Throws BAD_MESSAGE unless `c` is a well-formed commit. */
export function validateCommitShape(c: Commit): void {
  checkHeight(c.height);
  checkRound(c.round);
  checkBytes(c.blockHash, 'blockHash', HASH_BYTES);
  if (!Array.isArray(c.signatures) || c.signatures.length === 0 || c.signatures.length > MAX_VALIDATORS) fail('bad signatures list');
  for (const s of c.signatures) if (s !== null) checkBytes(s, 'signature', SIGNATURE_BYTES);
}

/** Encode a commit (stored with blocks, gossiped to syncing nodes). */
export function encodeCommit(c: Commit): Uint8Array {
  validateCommitShape(c);
  return pack(commitToArray(c));
}

/** Decode an untrusted commit (structure only; use verifyCommit for signatures and power). */
export function decodeCommit(bytes: Uint8Array): Commit {
  const a = unpackStrict(bytes, 16 + MAX_VALIDATORS * 70);
  if (!Array.isArray(a) || a.length !== 4) fail('bad commit shape');
  const height = checkHeight(a[0]);
  const round = checkRound(a[1]);
  const blockHash = checkBytes(a[2], 'blockHash', HASH_BYTES);
  if (!Array.isArray(a[3]) || a[3].length === 0 || a[3].length > MAX_VALIDATORS) fail('bad signatures list');
  const signatures = (a[3] as unknown[]).map((s) => (s === null ? null : checkBytes(s, 'signature', SIGNATURE_BYTES)));
  return { height, round, blockHash, signatures };
}

/** Encode duplicate-vote evidence. */
export function encodeEvidence(ev: DuplicateVoteEvidence): Uint8Array {
  validateVote(ev.voteA);
  validateVote(ev.voteB);
  return pack([voteToArray(ev.voteA), voteToArray(ev.voteB)]);
}

/** Decode untrusted duplicate-vote evidence (structure only; use verifyEvidence). */
export function decodeEvidence(bytes: Uint8Array): DuplicateVoteEvidence {
  const a = unpackStrict(bytes, 1024);
  if (!Array.isArray(a) || a.length !== 2) fail('bad evidence shape');
  return { voteA: voteFromArray(a[0]), voteB: voteFromArray(a[1]) };
}

/** Canonical msgpack of an arbitrary array of plain values (for hashing; no validation). */
export function packCanonical(value: unknown[]): Uint8Array {
  return pack(value);
}

/** Decode msgpack without schema (internal: WAL records are validated by their reader). */
export function unpackRaw(bytes: Uint8Array): unknown {
  return unpackr.unpack(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
