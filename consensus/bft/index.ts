/**
 * consensus/bft — Tendermint/CometBFT consensus as a pure state machine, plus the I/O pieces a
 * driver needs around it.
 *
 * Design: `machine.ts` is the only writer of consensus state and does no I/O (`step(state, input)
 * -> {state, outputs}`). A driver (consensus/node.ts) owns timers, the network and disk:
 *
 *   for each input (peer message, timer, block validity, built block, own signed message):
 *     wal.append(walRecordOfInput(input), { sync: isOwn })   // write-ahead
 *     ({ state, outputs } = step(state, input))
 *     for each output:
 *       broadcastVote/broadcastProposal -> privValidator.sign*() (persists HRS first), publish
 *                                          encodeMessage(...), then feed back as input (verified)
 *       scheduleTimeout                 -> setTimeout(feed timeout input, durationMs)
 *       buildBlock / validateBlock      -> chain builds / executes, feeds ownBlock / blockValidity
 *       missingBlock                    -> fetch block by hash from peers, feed `block`
 *       commit                          -> store block + commit atomically, wal.endHeight(h),
 *                                          then feed startHeight(h+1, nextSet, myPubKey)
 *       evidence                        -> evidence pool / include in a block
 *
 * After a crash: open the WAL, feed `inputOfWalRecord(r, setAt)` for each `wal.replay()` record
 * into a fresh machine (the signer hands back the same signatures for the same HRS), then resume.
 *
 * Invariants: a node never signs two different values at one (height, round, step) (PrivValidator);
 * a commit is emitted at most once per height and only with >2/3 precommits for a non-nil block
 * whose bytes validated; decisions of honest nodes agree while byzantine power is < 1/3.
 */
export * from './types.ts';
export * from './codec.ts';
export * from './crypto.ts';
export * from './machine.ts';
export * from './verify.ts';
export * from './signer.ts';
export * from './wal.ts';
export { ValidatorSet, validatorAddress, ed25519KeyObject, MAX_TOTAL_VOTING_POWER, MAX_VALIDATORS } from '../validators.ts';
export type { Validator, ValidatorInput } from '../validators.ts';
