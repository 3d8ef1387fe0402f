/**
 * Reading the checkpoints contract on L1, whichever scheme it is: `Checkpoints` (ECDSA, one
 * signature per validator, stores the roots) or `CheckpointsBls` (one aggregate BLS signature,
 * stores a hash of the roots). Both take the same `Checkpoint` tuple, emit the same
 * `CheckpointAccepted(height, blockHash, stateRoot, withdrawalsRoot, validatorSetId, signedPower)`
 * and answer `latestHeight()`, `validatorSetId()` and `isCheckpoint(height, roots…)`, so a
 * checkpoint's roots are found in its event and proven to Vault / TaskResults through
 * `isCheckpoint`.
 */
import { Contract, id, toBeHex, zeroPadValue, type Provider } from 'ethers';
import { abiOf } from './abi.ts';
import type { Checkpoint } from './checkpoint.ts';

export type CheckpointScheme = 'ecdsa' | 'bls';

/** keccak256 of the hand-over type each contract signs: it tells the two apart. */
const SET_TYPEHASH: Record<CheckpointScheme, string> = {
  ecdsa: id('ValidatorSet(uint256 setId,address[] validators,uint256[] powers)'),
  bls: id('BlsValidatorSet(uint256 setId,bytes32 publicKeysHash,bytes32 powersHash)'),
};

/** The scheme of the checkpoints contract at `address` (from its VALIDATOR_SET_TYPEHASH). */
export async function checkpointScheme(l1: Provider, address: string): Promise<CheckpointScheme> {
  const h = String(await new Contract(address, abiOf('Checkpoints'), l1).getFunction('VALIDATOR_SET_TYPEHASH')());
  if (h === SET_TYPEHASH.bls) return 'bls';
  if (h === SET_TYPEHASH.ecdsa) return 'ecdsa';
  throw new Error(`${address} is not a pocchain checkpoints contract (VALIDATOR_SET_TYPEHASH ${h})`);
}

/** The ABI of a scheme's contract. */
export function checkpointsAbi(scheme: CheckpointScheme) {
  return abiOf(scheme === 'bls' ? 'CheckpointsBls' : 'Checkpoints');
}

/** Height of the newest checkpoint L1 accepted (0 before the first). */
export async function latestL1Height(l1: Provider, address: string): Promise<number> {
  return Number(await new Contract(address, abiOf('Checkpoints'), l1).getFunction('latestHeight')());
}

/**
 * The checkpoint L1 accepted at `height` (its roots from the CheckpointAccepted event, confirmed
 * with `isCheckpoint`), or null when there is none.
 */
export async function l1CheckpointAt(l1: Provider, address: string, height: number, fromBlock = 0): Promise<Checkpoint | null> {
  if (height < 1) return null;
  const c = new Contract(address, abiOf('Checkpoints'), l1);
  const topic = c.interface.getEvent('CheckpointAccepted')!.topicHash;
  const logs = await l1.getLogs({ address, topics: [topic, zeroPadValue(toBeHex(height), 32)], fromBlock, toBlock: 'latest' });
  for (const l of logs.reverse()) {
    const e = c.interface.parseLog(l)!;
    const cp: Checkpoint = { height: BigInt(height), blockHash: e.args.blockHash as string, stateRoot: e.args.stateRoot as string, withdrawalsRoot: e.args.withdrawalsRoot as string };
    if (await c.getFunction('isCheckpoint')(cp.height, cp.blockHash, cp.stateRoot, cp.withdrawalsRoot)) return cp;
  }
  return null;
}

/** A checkpoint as the contracts' `Checkpoint` tuple (for Vault.release, TaskResults.verify). */
export function checkpointTuple(cp: Checkpoint): { height: bigint; blockHash: string; stateRoot: string; withdrawalsRoot: string } {
  return { height: cp.height, blockHash: cp.blockHash, stateRoot: cp.stateRoot, withdrawalsRoot: cp.withdrawalsRoot };
}
