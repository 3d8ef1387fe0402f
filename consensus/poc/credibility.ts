/**
 * Credibility voting (iExec PoCo after Sarmenta 2002), exactly as Hub.sol computes it.
 *
 * An executor with score s weighs w = max(⌊s/3⌋, 3) − 1 (a newcomer weighs 2). A group of equal
 * results weighs the product of its members' weights; total = 1 + Σ groups. Result r reaches
 * consensus when group(r)·trust > total·(trust − 1), i.e. credibility group/total > 1 − 1/trust.
 * Weights and products saturate at WEIGHT_CAP (2^120): saturation only ever makes consensus
 * harder, never easier (proof in docs/poc-rules.md), and keeps every product inside uint256.
 */
import { FLAG_SOLO, WEIGHT_CAP } from './params.ts';

/** Credibility weight of a reputation score. */
export function weightOf(score: bigint): bigint {
  let q = score / 3n;
  if (q < 3n) q = 3n;
  const w = q - 1n;
  return w > WEIGHT_CAP ? WEIGHT_CAP : w;
}

/**
 * Weight of an executor on a task (Hub.taskWeight): w(score), capped at trust − 1 for trust ≥ 3
 * unless the request has FLAG_SOLO, so no single executor meets the trust alone
 * (w·trust > (1 + w)(trust − 1) needs w ≥ trust). Trust 1 and 2 are met by one newcomer anyway.
 */
export function taskWeight(score: bigint, trust: bigint, flags: number): bigint {
  const w = weightOf(score);
  return (flags & FLAG_SOLO) === 0 && trust >= 3n && w >= trust ? trust - 1n : w;
}

/** a·b saturated at WEIGHT_CAP. */
export function mulCap(a: bigint, b: bigint): bigint {
  if (a === 0n || b === 0n) return 0n;
  if (b > WEIGHT_CAP / a) return WEIGHT_CAP;
  const p = a * b;
  return p > WEIGHT_CAP ? WEIGHT_CAP : p;
}

/** ⌊log2 w⌋, at least 1: a winner's share unit of the reward. */
export function logWeight(w: bigint): number {
  let l = 0;
  while (w > 1n) {
    w >>= 1n;
    l++;
  }
  return l === 0 ? 1 : l;
}

/** Running tally of one task's votes. */
export interface Tally {
  /** weight of each result-hash group */
  groups: ReadonlyMap<string, bigint>;
  /** members per group */
  sizes: ReadonlyMap<string, number>;
  /** 1 + Σ groups */
  total: bigint;
  /** heaviest group */
  best: bigint;
}

/** The tally before any contribution. */
export function emptyTally(): Tally {
  return { groups: new Map(), sizes: new Map(), total: 1n, best: 0n };
}

/** Tally after one contribution of `resultHash` by an executor of weight `w`. */
export function addVote(t: Tally, resultHash: string, w: bigint): Tally {
  const g = t.groups.get(resultHash) ?? 0n;
  const ng = mulCap(g === 0n ? 1n : g, w);
  const groups = new Map(t.groups).set(resultHash, ng);
  const sizes = new Map(t.sizes).set(resultHash, (t.sizes.get(resultHash) ?? 0) + 1);
  return { groups, sizes, total: t.total + ng - g, best: ng > t.best ? ng : t.best };
}

/** Credibility of a group as an exact fraction group/total. */
export function credibility(t: Tally, resultHash: string): { num: bigint; den: bigint } {
  return { num: t.groups.get(resultHash) ?? 0n, den: t.total };
}

/** Consensus rule: group·trust > total·(trust − 1). */
export function hasConsensus(group: bigint, total: bigint, trust: bigint): boolean {
  return group * trust > total * (trust - 1n);
}

/**
 * Would `product` (the weight product of new executors, all agreeing with the heaviest group)
 * bring the task to consensus? Adding them to group g gives g·P against (total − g)·(trust − 1);
 * with no group yet, a new group of weight P against total·(trust − 1).
 */
export function wouldReachConsensus(t: Pick<Tally, 'total' | 'best'>, trust: bigint, product: bigint): boolean {
  const g0 = t.best === 0n ? 1n : t.best;
  return mulCap(g0, product) > (t.total - t.best) * (trust - 1n);
}

/** Fewest executors of weight `w` each that a fresh task of this trust needs (for docs/CLI). */
export function replicasFor(trust: bigint, w: bigint, max = 64): number {
  let p = 1n;
  for (let k = 1; k <= max; k++) {
    p = mulCap(p, w);
    if (wouldReachConsensus(emptyTally(), trust, p)) return k;
  }
  return Infinity;
}
