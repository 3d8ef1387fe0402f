/**
 * consensus/poc — the reference model of the proof-of-contribution market (pure TypeScript,
 * bigint wherever the contracts use uint256, no I/O).
 *
 * The Hub and Staking system contracts enforce these rules on chain; this folder states them a
 * second time so that tests can check the contracts against an independent, readable version and
 * so that the node, the executor and the CLI can predict outcomes (how many replicas a trust level
 * needs, what a contribution commits to) without an RPC round trip. The rules are written out in
 * docs/poc-rules.md; any change must land in Hub.sol, here and there together.
 *
 * - credibility.ts — weights, saturating products, the consensus rule, replica planning
 * - sampling.ts    — stake × reputation weighted sampling without replacement
 * - commitments.ts — resultHash / resultSeal encodings
 * - settle.ts      — payouts, slashes and score changes of a settled task
 * - offers.ts      — executor asks and capacity: who the scheduler may draw, the market's quote
 * - market.ts      — Staking + Hub as a state machine (used to cross-check the contracts)
 * - system-calls.ts — calldata and gas of the node's Hub system calls
 */
export * from './params.ts';
export * from './credibility.ts';
export * from './sampling.ts';
export * from './commitments.ts';
export * from './settle.ts';
export * from './system-calls.ts';
export * from './offers.ts';
export { MarketModel, StakingModel } from './market.ts';
export type { AssignmentState, ExecutorState, ModelEvent, TaskRequest, TaskState, Asset } from './market.ts';
