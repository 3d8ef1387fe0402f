/**
 * Commit-reveal encodings shared by executors and the Hub. resultHash binds the digest to the task
 * (equal results give equal hashes, so the Hub can count votes at commit time); resultSeal binds it
 * to the executor, so a copied commitment cannot be revealed by anyone else.
 */
import { AbiCoder, keccak256 } from 'ethers';

const abi = AbiCoder.defaultAbiCoder();

/** keccak256(abi.encode(taskId, digest)). */
export function resultHash(taskId: bigint, digest: string): string {
  return keccak256(abi.encode(['uint256', 'bytes32'], [taskId, digest]));
}

/** keccak256(abi.encode(executor, taskId, digest)). */
export function resultSeal(executor: string, taskId: bigint, digest: string): string {
  return keccak256(abi.encode(['address', 'uint256', 'bytes32'], [executor, taskId, digest]));
}
