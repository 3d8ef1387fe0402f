/**
 * Every bound the JSON-RPC layer puts on one client, in one place. A public node answers anyone:
 * each request, connection and client gets a fixed share, and the error names the limit (the
 * wording follows geth/erigon so tooling that parses it keeps working).
 */
import { availableParallelism } from 'node:os';

/** eth_call / eth_estimateGas: gas cap per call (geth's --rpc.gascap default). */
export const DEFAULT_RPC_GAS_CAP = 50_000_000n;
/** eth_call / eth_estimateGas: wall time per call before the worker is stopped (geth's --rpc.evmtimeout). */
export const DEFAULT_RPC_EVM_TIMEOUT_MS = 5_000;
/** Calls waiting for a worker; beyond it a call is refused at once (no unbounded queue). */
export const DEFAULT_RPC_CALL_QUEUE = 64;
/** Worker threads running calls: leave one core to consensus and block execution. */
export const DEFAULT_RPC_CALL_WORKERS = Math.max(1, Math.min(4, availableParallelism() - 1));

/** Blocks one log query may span (eth_getLogs, eth_getFilterLogs, eth_getFilterChanges). */
export const MAX_LOG_RANGE = 10_000n;
/** Logs one query may return. */
export const MAX_LOGS = 10_000;

/** Polling filters one client (remote address) may hold at once. */
export const MAX_FILTERS_PER_CLIENT = 100;
/** Polling filters over all clients (a client spread over many addresses still meets this). */
export const MAX_FILTERS = 10_000;
/** Idle polling filters are removed after this long (geth: 5 min). */
export const FILTER_TTL_MS = 5 * 60_000;
/** Pending-tx hashes kept for polling filters (one shared ring, each filter a cursor into it). */
export const PENDING_TX_RING = 10_000;
/** Subscriptions one websocket connection may hold. */
export const MAX_SUBS_PER_CONNECTION = 100;
/**
 * Bytes a websocket connection may have queued and unsent. A reader slower than its
 * notifications is disconnected (close code 1008) instead of growing the node's memory.
 */
export const WS_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Messages of one websocket being worked on at once; past it the socket is paused (TCP backpressure). */
export const WS_MAX_INFLIGHT = 16;
/** Close code and reason given to such a reader. */
export const WS_CLOSE_SLOW = 1008;
