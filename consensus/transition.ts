/**
 * The block transition: which system operations run in a block, and in what order. The order is
 * consensus: two nodes that ran the same operations in another order would compute other state
 * roots. So it is one fixed list here, versioned, and never the order in which the node's layers
 * happen to be wired together (plugins only say which step they implement).
 *
 * Version 2, for every block:
 *   1. epoch      — on a chain with the Validators contract (validator-steps.ts): block 1 bonds the
 *                   genesis validators; a block at a multiple of the epoch length checks new BLS
 *                   keys and closes the epoch (jails absentees, stores the next set). No operation
 *                   on a chain whose genesis set is fixed.
 *   2. slashing   — same chains: committed equivocations slash and jail their signer; members
 *                   absent from the block's last commit are counted missed
 *   3. deposits   — bridge deposits minted in nonce order (bridge/deposits-hook.ts)
 *   4. schedule   — Hub.schedule(randomness): executors drawn for open tasks (consensus/hub.ts)
 *   5. transactions
 *   6. finalize   — Hub.finalize(): tasks settled, paid, refunded (consensus/hub.ts)
 *
 * Deposits come before the schedule so that coins minted in a block are already there for the
 * block's system calls and transactions, as a user who sees the deposit land would expect.
 */
import type { SystemContext, SystemHooks } from '../chain/execute.ts';
import { EMPTY_SYS, type SysData } from './envelope.ts';
import { PocError } from '../lib/errors.ts';

export type TransitionErrorCode = 'TRANSITION_STEP_TAKEN' | 'TRANSITION_UNKNOWN_STEP';

/** Version of the block transition below; bump it with any change to the list or to a step's rules. */
export const TRANSITION_VERSION = 2;

/** Steps of a block, in execution order. */
export const BLOCK_STEPS = ['epoch', 'slashing', 'deposits', 'schedule', 'transactions', 'finalize'] as const;
export type BlockStep = (typeof BLOCK_STEPS)[number];
/** The steps a layer may implement (the transactions are the chain's own). */
export type SystemStep = Exclude<BlockStep, 'transactions'>;

/** A system operation: sees the block's typed system inputs (never undefined here). */
export type SystemOp = (ctx: SystemContext<SysData> & { inputs: SysData }) => Promise<void>;
/** What one layer contributes to the transition: an operation for some of the steps. */
export type SystemOps = Partial<Record<SystemStep, SystemOp>>;

const TX_INDEX = BLOCK_STEPS.indexOf('transactions');

/**
 * One transition from the layers' operations. Each step has at most one implementation: a second
 * one is a wiring error (TRANSITION_STEP_TAKEN), found when the node starts, not at some block.
 */
export function blockTransition(parts: readonly (SystemOps | undefined)[]): SystemHooks<SysData> {
  const ops = new Map<SystemStep, SystemOp>();
  for (const part of parts) {
    if (!part) continue;
    for (const [step, op] of Object.entries(part) as [string, SystemOp | undefined][]) {
      if (!op) continue;
      if (!(BLOCK_STEPS as readonly string[]).includes(step) || step === 'transactions') throw new PocError<TransitionErrorCode>('TRANSITION_UNKNOWN_STEP', `no block step named ${JSON.stringify(step)} (steps: ${BLOCK_STEPS.join(', ')})`);
      if (ops.has(step as SystemStep)) throw new PocError<TransitionErrorCode>('TRANSITION_STEP_TAKEN', `two operations for the block step ${step}`);
      ops.set(step as SystemStep, op);
    }
  }
  const run = async (steps: readonly BlockStep[], ctx: SystemContext<SysData>) => {
    const typed = { ...ctx, inputs: ctx.inputs ?? EMPTY_SYS };
    for (const s of steps) {
      const op = ops.get(s as SystemStep);
      if (op) await op(typed);
    }
  };
  const before = BLOCK_STEPS.slice(0, TX_INDEX);
  const after = BLOCK_STEPS.slice(TX_INDEX + 1);
  return {
    beforeTxs: (ctx) => run(before, ctx),
    afterTxs: (ctx) => run(after, ctx),
  };
}

/** The steps that have an operation, in order (for logs and `pocchain_nodeInfo`-style reports). */
export function implementedSteps(parts: readonly (SystemOps | undefined)[]): BlockStep[] {
  const have = new Set(parts.flatMap((p) => (p ? Object.keys(p).filter((k) => p[k as SystemStep]) : [])));
  return BLOCK_STEPS.filter((s) => s === 'transactions' || have.has(s));
}
