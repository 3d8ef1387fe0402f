/**
 * Proofs of compute results for L1 (contracts/l1/TaskResults.sol): a task's status and result
 * words in the Hub's storage, proven with eth_getProof under the state root of a checkpoint that
 * L1 accepted. Anyone can build one from a sidechain RPC and an L1 RPC; nothing here is trusted by
 * the verifier, which re-checks every node against the root stored on L1.
 *
 * The storage layout numbers are the Hub's (solc storageLayout of contracts/sidechain/Hub.sol) and
 * must equal TaskResults' constants: test/unit/task-proof.test.ts checks both.
 */
import { AbiCoder, Contract, getAddress, keccak256, toBeHex, zeroPadValue, type JsonRpcProvider } from 'ethers';
import { PocError } from '../lib/errors.ts';
import { HUB_ADDRESS, TaskStatus } from '../consensus/poc/index.ts';
import { l1CheckpointAt, latestL1Height } from './l1-checkpoints.ts';
import { hubIface } from '../executor/hub-client.ts';

export type TaskProofErrorCode =
  | 'PROVE_UNKNOWN_TASK'
  | 'PROVE_TASK_NOT_FINAL'
  | 'PROVE_TASK_FAILED'
  | 'PROVE_NOT_CHECKPOINTED'
  | 'PROVE_UNKNOWN_CHECKPOINT'
  | 'PROVE_ROOT_MISMATCH'
  | 'PROVE_BAD_NODE_ANSWER';

/** Hub storage: `tasks` mapping slot, and the words of `struct Task` holding status and result. */
export const HUB_TASKS_SLOT = 6n;
export const TASK_STATUS_WORD = 0n;
export const TASK_RESULT_WORD = 5n;

/** Storage keys (32-byte hex) of tasks[taskId].status (low byte of the word) and tasks[taskId].result. */
export function taskSlots(taskId: bigint): { status: string; result: string } {
  const base = BigInt(keccak256(AbiCoder.defaultAbiCoder().encode(['uint256', 'uint256'], [taskId, HUB_TASKS_SLOT])));
  const at = (w: bigint) => zeroPadValue(toBeHex((base + w) % 2n ** 256n), 32);
  return { status: at(TASK_STATUS_WORD), result: at(TASK_RESULT_WORD) };
}

/** Status byte of a task from the value of its status word. */
export const statusOfWord = (word: bigint): number => Number(word & 0xffn);

/** What TaskResults.verify / TaskResultConsumer.accept take, plus what it was built from. */
export interface TaskProof {
  taskId: string;
  result: string;
  /** sidechain block where the task was finalized */
  finalizedAt: number;
  /** the L1 checkpoint proven against (TaskResults takes it as its Checkpoint tuple) */
  checkpoint: { height: number; blockHash: string; stateRoot: string; withdrawalsRoot: string };
  hub: string;
  slots: { status: string; result: string };
  accountProof: string[];
  statusProof: string[];
  resultProof: string[];
}

/** The checkpoint to prove against: the newest on L1, which must be at or after `finalizedAt`. Pure. */
export function pickCheckpoint(latestOnL1: number, finalizedAt: number, height?: number): number {
  const h = height ?? latestOnL1;
  if (h < finalizedAt) {
    const msg = height !== undefined
      ? `checkpoint ${height} is before block ${finalizedAt} where the task was finalized`
      : `no checkpoint on L1 covers block ${finalizedAt} yet (latest is ${latestOnL1}): wait for a checkpoint at height ${finalizedAt} or above`;
    throw new PocError<TaskProofErrorCode>('PROVE_NOT_CHECKPOINTED', msg, { data: { finalizedAt, latestOnL1 } });
  }
  return h;
}

interface StorageProofAnswer {
  key: string;
  value: string;
  proof: string[];
}

/**
 * Build the proof of `taskId`'s result: the block where it was finalized (TaskFinalized log), the
 * newest checkpoint on L1 at or after it (or `height`), eth_getProof there, checked against what the
 * checkpoint stored and the Hub returns, so a node that disagrees with L1 is caught here.
 */
export async function buildTaskProof(o: { sidechain: JsonRpcProvider; l1: JsonRpcProvider; checkpoints: string; taskId: bigint; height?: number }): Promise<TaskProof> {
  const hub = new Contract(HUB_ADDRESS, hubIface, o.sidechain);
  const t = await hub.getFunction('getTask')(o.taskId).catch((e: unknown) => {
    throw new PocError<TaskProofErrorCode>('PROVE_UNKNOWN_TASK', `task ${o.taskId} does not exist`, { cause: e });
  });
  const status = Number(t.status);
  if (status === TaskStatus.None) throw new PocError<TaskProofErrorCode>('PROVE_UNKNOWN_TASK', `task ${o.taskId} does not exist`);
  if (status === TaskStatus.Failed) throw new PocError<TaskProofErrorCode>('PROVE_TASK_FAILED', `task ${o.taskId} failed: it has no result to prove`);
  if (status !== TaskStatus.Completed) throw new PocError<TaskProofErrorCode>('PROVE_TASK_NOT_FINAL', `task ${o.taskId} is not final yet (status ${status}): wait until \`pocchain task show ${o.taskId}\` says completed`);

  const topic = zeroPadValue(toBeHex(o.taskId), 32);
  const finalized = hubIface.getEvent('TaskFinalized')!.topicHash;
  const logs = await o.sidechain.getLogs({ address: HUB_ADDRESS, topics: [finalized, topic], fromBlock: Number(t.createdAt), toBlock: 'latest' });
  if (logs.length !== 1) throw new PocError<TaskProofErrorCode>('PROVE_BAD_NODE_ANSWER', `the node returned ${logs.length} TaskFinalized logs for completed task ${o.taskId}`);
  const finalizedAt = logs[0]!.blockNumber;

  const latest = await latestL1Height(o.l1, o.checkpoints);
  const height = pickCheckpoint(latest, finalizedAt, o.height);
  const cp = await l1CheckpointAt(o.l1, o.checkpoints, height);
  if (!cp) throw new PocError<TaskProofErrorCode>('PROVE_UNKNOWN_CHECKPOINT', `no checkpoint at height ${height} on L1`);
  const { blockHash, stateRoot, withdrawalsRoot } = cp;

  const block = await o.sidechain.getBlock(height);
  if (!block || block.hash !== blockHash || block.stateRoot !== stateRoot) {
    throw new PocError<TaskProofErrorCode>('PROVE_ROOT_MISMATCH', `the sidechain node's block ${height} (${block?.hash}) is not the one checkpointed on L1 (${blockHash})`);
  }
  const slots = taskSlots(o.taskId);
  const p = (await o.sidechain.send('eth_getProof', [HUB_ADDRESS, [slots.status, slots.result], toBeHex(height)])) as { accountProof: string[]; storageProof: StorageProofAnswer[] };
  const [sp, rp] = p.storageProof;
  if (!sp || !rp || statusOfWord(BigInt(sp.value)) !== TaskStatus.Completed || zeroPadValue(toBeHex(BigInt(rp.value)), 32) !== String(t.result).toLowerCase()) {
    throw new PocError<TaskProofErrorCode>('PROVE_BAD_NODE_ANSWER', `eth_getProof at ${height} does not show task ${o.taskId} completed with result ${t.result}`);
  }
  return {
    taskId: o.taskId.toString(),
    result: String(t.result).toLowerCase(),
    finalizedAt,
    checkpoint: { height, blockHash, stateRoot, withdrawalsRoot },
    hub: getAddress(HUB_ADDRESS),
    slots,
    accountProof: p.accountProof,
    statusProof: sp.proof,
    resultProof: rp.proof,
  };
}
