/**
 * What a BFT proposal carries and a synced block is made of: the Ethereum block (RLP) plus the
 * consensus data it needs — the previous height's commit (whose hash is this block's prevrandao),
 * evidence of equivocation, and system inputs such as bridge deposits.
 *
 * The Ethereum block hash commits to all of it: header.extraData = keccak256(encode(sysdata)),
 * so a commit on the block hash is a commit on the whole envelope.
 */
import { Packr } from 'msgpackr';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { PocError } from '../lib/errors.ts';

const packr = new Packr({ useRecords: false, useBigIntExtension: true });

export interface Deposit {
  /** Vault deposit nonce on L1 (applied once, in order) */
  nonce: bigint;
  /** sidechain recipient (20 bytes) */
  recipient: Uint8Array;
  amount: bigint;
  /** L1 tx hash, for tracing */
  l1TxHash: Uint8Array;
}

/** A block's RANDAO reveal (consensus/randao.ts): the signer's index in the height's set and its BLS signature. */
export interface RandaoReveal {
  signer: number;
  reveal: Uint8Array;
}
export const REVEAL_BYTES = 96;

/** Consensus data that rides along with a block. */
export interface SysData {
  /** encoded Commit of the previous height (absent for height 1) */
  lastCommit?: Uint8Array;
  /** encoded DuplicateVoteEvidence items */
  evidence: Uint8Array[];
  deposits: Deposit[];
  /** the proposer's randomness reveal (chains whose genesis gives validators BLS keys) */
  randao?: RandaoReveal;
}

export interface Envelope {
  rlp: Uint8Array;
  sys: SysData;
}

export const EMPTY_SYS: SysData = { evidence: [], deposits: [] };

export function encodeSys(s: SysData): Uint8Array {
  const base = [s.lastCommit ?? null, s.evidence, s.deposits.map((d) => [d.nonce, d.recipient, d.amount, d.l1TxHash])];
  // a fourth field only when there is a reveal: blocks of chains without one keep their encoding
  return packr.pack(s.randao ? [...base, [s.randao.signer, s.randao.reveal]] : base);
}

/** keccak256 of the encoded system data: goes into header.extraData. */
export function sysHash(s: SysData): Uint8Array {
  return keccak_256(encodeSys(s));
}

export function encodeEnvelope(e: Envelope): Uint8Array {
  return packr.pack([e.rlp, encodeSys(e.sys)]);
}

const bad = (m: string) => new PocError('BAD_ENVELOPE', `block envelope: ${m}`);
const isBytes = (v: unknown, len?: number): v is Uint8Array => v instanceof Uint8Array && (len === undefined || v.length === len);

/** Decode untrusted envelope bytes; throws BAD_ENVELOPE on anything malformed. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  let v: unknown;
  try {
    v = packr.unpack(bytes);
  } catch {
    throw bad('not msgpack');
  }
  if (!Array.isArray(v) || v.length !== 2 || !isBytes(v[0]) || !isBytes(v[1])) throw bad('expected [rlp, sys]');
  return { rlp: v[0], sys: decodeSys(v[1]) };
}

export function decodeSys(bytes: Uint8Array): SysData {
  let v: unknown;
  try {
    v = packr.unpack(bytes);
  } catch {
    throw bad('sys not msgpack');
  }
  if (!Array.isArray(v) || (v.length !== 3 && v.length !== 4)) throw bad('sys: expected 3 or 4 fields');
  const [lc, ev, deps, rr] = v;
  if (lc !== null && !isBytes(lc)) throw bad('lastCommit must be bytes');
  if (!Array.isArray(ev) || ev.length > 100 || !ev.every((x) => isBytes(x))) throw bad('evidence must be a list of at most 100 byte strings');
  if (!Array.isArray(deps) || deps.length > 1000) throw bad('deposits must be a list of at most 1000');
  const deposits: Deposit[] = deps.map((d) => {
    if (!Array.isArray(d) || d.length !== 4) throw bad('deposit: expected 4 fields');
    const [nonce, recipient, amount, l1TxHash] = d;
    const big = (x: unknown) => (typeof x === 'bigint' ? x : typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? BigInt(x) : undefined);
    const n = big(nonce);
    const a = big(amount);
    if (n === undefined || a === undefined || a <= 0n) throw bad('deposit nonce/amount invalid');
    if (!isBytes(recipient, 20) || !isBytes(l1TxHash, 32)) throw bad('deposit recipient/l1TxHash invalid');
    return { nonce: n, recipient: new Uint8Array(recipient), amount: a, l1TxHash: new Uint8Array(l1TxHash) };
  });
  let randao: RandaoReveal | undefined;
  if (v.length === 4) {
    if (!Array.isArray(rr) || rr.length !== 2 || !Number.isSafeInteger(rr[0]) || rr[0] < 0 || rr[0] >= 1 << 16 || !isBytes(rr[1], REVEAL_BYTES)) throw bad('randao: expected [signer index, 96-byte reveal]');
    randao = { signer: rr[0], reveal: new Uint8Array(rr[1]) };
  }
  return { ...(lc ? { lastCommit: new Uint8Array(lc) } : {}), evidence: ev.map((x: Uint8Array) => new Uint8Array(x)), deposits, ...(randao ? { randao } : {}) };
}
