/**
 * Block randomness a proposer cannot choose (RANDAO, as Ethereum's beacon chain): the proposer of
 * height h reveals its BLS signature over (chain id, h), and the block's prevrandao is the parent's
 * mix XOR keccak256(reveal). A BLS signature is unique for a key and a message, so the proposer
 * has exactly one value to offer: re-signing gives the same bytes, and which precommits it puts
 * in the last commit no longer matters (the commit-derived randomness this replaces could be
 * ground by both). Every validator checks the reveal and the mix; a wrong one makes the block
 * invalid.
 *
 * Remaining bias (docs/decisions.md): a proposer may withhold its block (the round fails and the
 * next round's proposer reveals instead), and a later round's proposer may re-propose an earlier
 * round's block with its reveal rather than its own; a block may carry only the reveal of a
 * proposer of its round or an earlier one (revealersUpTo). So who controls the proposers of k
 * rounds of a height chooses among at most k + 1 values, at the price of k failed rounds it
 * cannot hide.
 */
import { createHash } from 'node:crypto';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { blsSign, blsVerify } from '../lib/bls.ts';
import { ruleError } from './block-rules.ts';
import { REVEAL_BYTES, type RandaoReveal } from './envelope.ts';

export type { RandaoReveal };

/** What a reveal signs: sha256 of a domain tag, the chain id and the height. */
export function randaoMessage(chainId: string, height: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`pocchain/randao/1/${chainId}/${height}`).digest());
}

/** The reveal of `height` by the holder of `blsSecretKey`. */
export function signReveal(blsSecretKey: Uint8Array, chainId: string, height: number): Uint8Array {
  return blsSign(blsSecretKey, randaoMessage(chainId, height));
}

/** The next mix: parent's mix XOR keccak256(reveal). */
export function nextMix(parentMix: Uint8Array, reveal: Uint8Array): Uint8Array {
  const h = keccak_256(reveal);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = (parentMix[i] ?? 0) ^ h[i]!;
  return out;
}

/** Beyond this many rounds at one height, any validator of the height may have made the block. */
export const REVEAL_ROUND_WINDOW = 256;

/**
 * The validators whose reveal a block seen at `round` may carry: the proposers of rounds 0..round
 * (a block is made by its round's proposer and may be re-proposed later, never earlier). So a
 * coalition cannot hand its proposer the reveals of members who are not proposers yet: each more
 * value to choose from costs a failed round. Past REVEAL_ROUND_WINDOW rounds (the network has been
 * failing for long) any validator of the height.
 */
export function revealersUpTo(set: { size: number; proposerForRound(round: number): number }, round: number): Set<number> {
  if (round > REVEAL_ROUND_WINDOW) return new Set(Array.from({ length: set.size }, (_, i) => i));
  const out = new Set<number>();
  for (let r = 0; r <= round && out.size < set.size; r++) out.add(set.proposerForRound(r));
  return out;
}

/**
 * Throws BLOCK_RULE unless the block carries a valid reveal by a validator of the height and its
 * prevrandao is the mix that reveal gives. `keyOf` answers the BLS key of a validator index that
 * may reveal (revealersUpTo), undefined for any other index.
 */
export function checkRandao(o: { chainId: string; height: number; parentMix: Uint8Array; mixHash: Uint8Array; randao: RandaoReveal | undefined; keyOf: (index: number) => Uint8Array | undefined }): void {
  if (!o.randao) throw ruleError('block carries no randao reveal');
  const key = o.keyOf(o.randao.signer);
  if (!key) throw ruleError('randao reveal by no proposer of this height so far', { signer: o.randao.signer });
  if (o.randao.reveal.length !== REVEAL_BYTES || !blsVerify(key, randaoMessage(o.chainId, o.height), o.randao.reveal)) throw ruleError('randao reveal is not the signer\'s signature of this height');
  const want = nextMix(o.parentMix, o.randao.reveal);
  if (Buffer.compare(Buffer.from(want), Buffer.from(o.mixHash)) !== 0) throw ruleError('prevrandao is not the mix of the parent and the reveal');
}
