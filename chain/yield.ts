/**
 * Cooperative yielding for long CPU work on the main thread (block execution, trie hashing).
 *
 * Awaiting an already-resolved promise runs as a microtask and never lets timers or sockets in, so
 * a block of 1,000 txs used to hold the event loop for its whole execution (issue 11: up to 1.3 s).
 * `yieldIfBusy` gives the loop one turn (setImmediate: after pending I/O callbacks) once
 * YIELD_EVERY_MS of work have passed since the last turn, so RPC and consensus timers wait at
 * most about that long, at the cost of one loop turn (~µs when idle) per slice.
 */
import { setImmediate as turn } from 'node:timers/promises';

/** longest stretch of work between two event-loop turns */
export const YIELD_EVERY_MS = 10;

let last = performance.now();

/** Give the event loop a turn if YIELD_EVERY_MS of work have passed since the last one. */
export async function yieldIfBusy(): Promise<void> {
  const now = performance.now();
  if (now - last < YIELD_EVERY_MS) return;
  await turn();
  last = performance.now();
}
