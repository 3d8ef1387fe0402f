/**
 * Validator signer with double-sign protection (CometBFT's FilePV "last sign state").
 *
 * The signer remembers the last (height, round, step) it signed, with the sign-bytes and the
 * signature. A request for an earlier HRS is refused; a request for the same HRS returns the
 * stored signature if the sign-bytes are identical (a replay after a crash) and is refused if
 * they differ (that would be equivocation). The new state is persisted atomically (tmp file +
 * fsync + rename + directory fsync) BEFORE the signature is handed out, so a crash at any instant
 * can never let the node sign two different things at one HRS.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PocError } from '../../lib/errors.ts';
import { proposalSignBytes, validateUnsignedProposal, validateUnsignedVote, voteSignBytes } from './codec.ts';
import { generateKeyPair, sign, type Ed25519KeyPair } from './crypto.ts';
import type { Proposal, UnsignedProposal, UnsignedVote, Vote } from './types.ts';

export type SignerErrorCode = 'SIGN_REGRESSION' | 'DOUBLE_SIGN' | 'SIGNER_STATE_CORRUPT' | 'BAD_KEY';

/** CometBFT step numbers: the order of signatures within a round. */
export const SIGN_STEP = { propose: 1, prevote: 2, precommit: 3 } as const;

export interface LastSignState {
  height: number;
  round: number;
  step: number;
  /** Hex of the last sign-bytes, or null before the first signature. */
  signBytes: string | null;
  /** Hex of the last signature, or null before the first signature. */
  signature: string | null;
}

export const EMPTY_SIGN_STATE: LastSignState = { height: 0, round: 0, step: 0, signBytes: null, signature: null };

/**
 * Decide whether (height, round, step, signBytes) may be signed after `last`.
 * Returns 'sign' or the stored signature to reuse; throws SIGN_REGRESSION / DOUBLE_SIGN.
 */
export function checkSignRequest(last: LastSignState, height: number, round: number, step: number, signBytes: Uint8Array): 'sign' | { reuse: Uint8Array } {
  const hrs = { height, round, step, last: { height: last.height, round: last.round, step: last.step } };
  if (height < last.height) throw new PocError<SignerErrorCode>('SIGN_REGRESSION', 'height regression', { data: hrs });
  if (height > last.height) return 'sign';
  if (round < last.round) throw new PocError<SignerErrorCode>('SIGN_REGRESSION', 'round regression', { data: hrs });
  if (round > last.round) return 'sign';
  if (step < last.step) throw new PocError<SignerErrorCode>('SIGN_REGRESSION', 'step regression', { data: hrs });
  if (step > last.step) return 'sign';
  if (last.signBytes !== null && last.signature !== null && last.signBytes === Buffer.from(signBytes).toString('hex')) {
    return { reuse: new Uint8Array(Buffer.from(last.signature, 'hex')) };
  }
  throw new PocError<SignerErrorCode>('DOUBLE_SIGN', 'conflicting data at the same height/round/step', { data: hrs });
}

function parseState(text: string): LastSignState {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new PocError<SignerErrorCode>('SIGNER_STATE_CORRUPT', 'signer state is not JSON', { cause: e });
  }
  const s = o as Record<string, unknown>;
  const int = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const hexOrNull = (v: unknown): boolean => v === null || (typeof v === 'string' && /^([0-9a-f]{2})*$/.test(v));
  if (!s || typeof s !== 'object' || !int(s.height) || !int(s.round) || !int(s.step) || (s.step as number) > 3 || !hexOrNull(s.signBytes) || !hexOrNull(s.signature)) {
    throw new PocError<SignerErrorCode>('SIGNER_STATE_CORRUPT', 'signer state has bad fields');
  }
  return { height: s.height as number, round: s.round as number, step: s.step as number, signBytes: s.signBytes as string | null, signature: s.signature as string | null };
}

export { writeFileAtomic } from '../../lib/fs.ts';
import { writeFileAtomic } from '../../lib/fs.ts';

/** Where a signer keeps its last-sign state. */
export interface SignStateStore {
  save(state: LastSignState): Promise<void>;
}

/** File-backed last-sign state (JSON), written atomically. */
export class FileSignStateStore implements SignStateStore {
  readonly path: string;
  constructor(path: string) {
    this.path = path;
  }
  /** Load the stored state, or the empty state when the file does not exist. */
  async load(): Promise<LastSignState> {
    try {
      return parseState(await readFile(this.path, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ...EMPTY_SIGN_STATE };
      throw e;
    }
  }
  async save(state: LastSignState): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify(state));
  }
}

/** Sign-state kept in memory only (tests and simulations; no crash protection). */
export class MemorySignStateStore implements SignStateStore {
  state: LastSignState = { ...EMPTY_SIGN_STATE };
  async save(state: LastSignState): Promise<void> {
    this.state = { ...state };
  }
}

/** A validator's consensus signer. All requests are serialised. */
export class PrivValidator {
  readonly publicKey: Uint8Array;
  private readonly secretKey: Uint8Array;
  private readonly store: SignStateStore;
  private last: LastSignState;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(secretKey: Uint8Array, store: SignStateStore, last: LastSignState = { ...EMPTY_SIGN_STATE }) {
    if (!(secretKey instanceof Uint8Array) || secretKey.length !== 64) throw new PocError<SignerErrorCode>('BAD_KEY', 'ed25519 secret key must be 64 bytes');
    this.secretKey = new Uint8Array(secretKey);
    this.publicKey = this.secretKey.slice(32);
    this.store = store;
    this.last = { ...last };
  }

  /** A signer whose state lives in `statePath` (created on first signature). */
  static async open(opts: { secretKey: Uint8Array; statePath: string }): Promise<PrivValidator> {
    const store = new FileSignStateStore(opts.statePath);
    await mkdir(dirname(opts.statePath), { recursive: true });
    return new PrivValidator(opts.secretKey, store, await store.load());
  }

  /** The last signed HRS (copy). */
  get lastSignState(): LastSignState {
    return { ...this.last };
  }

  /** Sign a vote (refusing regressions and conflicts); persists before returning. */
  signVote(chainId: string, vote: UnsignedVote): Promise<Vote> {
    validateUnsignedVote(vote);
    const bytes = voteSignBytes(chainId, vote);
    return this.serialise(async () => {
      const signature = await this.signChecked(vote.height, vote.round, SIGN_STEP[vote.type], bytes);
      return { type: vote.type, height: vote.height, round: vote.round, blockHash: vote.blockHash, validatorIndex: vote.validatorIndex, signature };
    });
  }

  /** Sign a proposal (refusing regressions and conflicts); persists before returning. */
  signProposal(chainId: string, p: UnsignedProposal): Promise<Proposal> {
    validateUnsignedProposal(p);
    const bytes = proposalSignBytes(chainId, p);
    return this.serialise(async () => {
      const signature = await this.signChecked(p.height, p.round, SIGN_STEP.propose, bytes);
      return { height: p.height, round: p.round, polRound: p.polRound, blockHash: p.blockHash, block: p.block, signature };
    });
  }

  private serialise<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async signChecked(height: number, round: number, step: number, bytes: Uint8Array): Promise<Uint8Array> {
    const verdict = checkSignRequest(this.last, height, round, step, bytes);
    if (verdict !== 'sign') return verdict.reuse;
    const signature = sign(bytes, this.secretKey);
    const next: LastSignState = { height, round, step, signBytes: Buffer.from(bytes).toString('hex'), signature: Buffer.from(signature).toString('hex') };
    await this.store.save(next); // durable before anyone sees the signature
    this.last = next;
    return signature;
  }
}

/** Load an ed25519 key from a JSON key file ({"seed": hex}), creating it (mode 600) if absent. */
export async function loadOrCreateKeyFile(path: string): Promise<Ed25519KeyPair> {
  try {
    const o = JSON.parse(await readFile(path, 'utf8')) as { seed?: unknown };
    if (typeof o.seed !== 'string' || !/^[0-9a-f]{64}$/.test(o.seed)) throw new PocError<SignerErrorCode>('BAD_KEY', 'key file has no valid seed');
    return generateKeyPair(new Uint8Array(Buffer.from(o.seed, 'hex')));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const seed = new Uint8Array(randomBytes(32));
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, JSON.stringify({ seed: Buffer.from(seed).toString('hex') }));
  return generateKeyPair(seed);
}
