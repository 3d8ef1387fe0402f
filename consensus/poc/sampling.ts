/**
 * Stake- and reputation-weighted sampling without replacement, deterministic from the block's
 * randomness, exactly as Hub.schedule draws: per task a seed keccak256(abi.encode(randomness,
 * taskId)); draw j takes r = keccak256(abi.encode(seed, j)) mod (sum of remaining weights) and walks
 * the candidates in list order; the drawn candidate's weight drops to 0. Draws are sequential, so
 * the first k draws of sample(…, k+1) are sample(…, k): the Hub stops as soon as it has enough.
 */
import { AbiCoder, keccak256 } from 'ethers';
import { weightOf } from './credibility.ts';
import { MAX_SAMPLE_REP_WEIGHT, MAX_STAKE_UNITS, STAKE_UNIT } from './params.ts';

const abi = AbiCoder.defaultAbiCoder();

/** Sampling weight of an executor: capped stake units × capped credibility weight. */
export function sampleWeight(freeStake: bigint, score: bigint): bigint {
  let units = freeStake / STAKE_UNIT;
  if (units > MAX_STAKE_UNITS) units = MAX_STAKE_UNITS;
  let w = weightOf(score);
  if (w > MAX_SAMPLE_REP_WEIGHT) w = MAX_SAMPLE_REP_WEIGHT;
  return units * w;
}

/** Reward per replica of a request: ⌊(escrow − fees) / maxReplicas⌋ (Hub.rewardPerReplica). */
export function rewardPerReplica(escrow: bigint, fees: bigint, maxReplicas: number): bigint {
  return (escrow - fees) / BigInt(maxReplicas);
}

/** Per-task seed: keccak256(abi.encode(randomness, taskId)). */
export function taskSeed(randomness: bigint, taskId: bigint): string {
  return keccak256(abi.encode(['uint256', 'uint256'], [randomness, taskId]));
}

/** Random value of draw j: keccak256(abi.encode(seed, j)) as an integer. */
export function drawValue(seed: string, j: number): bigint {
  return BigInt(keccak256(abi.encode(['bytes32', 'uint256'], [seed, BigInt(j)])));
}

/** Indices of k candidates drawn without replacement (fewer if the weight runs out). */
export function sample(weights: readonly bigint[], seed: string, k: number): number[] {
  const w = [...weights];
  let sum = w.reduce((a, b) => a + b, 0n);
  const out: number[] = [];
  for (let j = 0; j < k && sum > 0n; j++) {
    let r = drawValue(seed, j) % sum;
    let i = 0;
    while (r >= w[i]!) {
      r -= w[i]!;
      i++;
    }
    out.push(i);
    sum -= w[i]!;
    w[i] = 0n;
  }
  return out;
}
