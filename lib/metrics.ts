/**
 * Prometheus metrics, defined in one typed place. Each node process owns one registry; names end
 * in their unit (_seconds, _total, _bytes) as Prometheus asks.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Event-loop delay (Node's monitorEventLoopDelay, 10 ms resolution) as two gauges over the window
 * since the previous scrape: how late timers and I/O callbacks ran — consensus timeouts, votes
 * and RPC replies all wait behind a blocked loop. Reading resets the window.
 */
function eventLoopDelayGauges(registry: Registry): void {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  let max = 0;
  let p99 = 0;
  const read = () => {
    max = h.count > 0 ? h.max / 1e9 : 0;
    p99 = h.count > 0 ? h.percentile(99) / 1e9 : 0;
    h.reset();
  };
  new Gauge({ name: 'pocchain_eventloop_delay_max_seconds', help: 'Largest event-loop delay since the previous scrape', registers: [registry], collect() {
    read();
    this.set(max);
  } });
  new Gauge({ name: 'pocchain_eventloop_delay_p99_seconds', help: '99th percentile event-loop delay since the previous scrape (read with the max)', registers: [registry], collect() {
    this.set(p99);
  } });
}

export function createMetrics(opts: { defaults?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaults !== false) collectDefaultMetrics({ register: registry, prefix: 'pocchain_process_' });
  const m = {
    registry,
    headBlock: new Gauge({ name: 'pocchain_chain_head_block', help: 'Number of the head block', registers: [registry] }),
    txsIncluded: new Counter({ name: 'pocchain_chain_txs_included_total', help: 'Transactions included in committed blocks', registers: [registry] }),
    blockGasUsed: new Counter({ name: 'pocchain_chain_gas_used_total', help: 'Gas used by committed blocks', registers: [registry] }),
    blockBuildSeconds: new Histogram({ name: 'pocchain_chain_block_build_seconds', help: 'Time to execute a block', buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5], registers: [registry] }),
    blockCommitSeconds: new Histogram({ name: 'pocchain_chain_block_commit_seconds', help: 'Time to write a block batch', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers: [registry] }),
    poolSize: new Gauge({ name: 'pocchain_txpool_transactions', help: 'Transactions in the pool', registers: [registry] }),
    poolRejected: new Counter({ name: 'pocchain_txpool_rejected_total', help: 'Transactions refused by the pool', labelNames: ['reason'] as const, registers: [registry] }),
    rpcRequests: new Counter({ name: 'pocchain_rpc_requests_total', help: 'JSON-RPC calls', labelNames: ['method', 'status'] as const, registers: [registry] }),
    rpcSeconds: new Histogram({ name: 'pocchain_rpc_request_seconds', help: 'JSON-RPC call duration', labelNames: ['method'] as const, buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] }),
    rpcCalls: new Counter({ name: 'pocchain_rpc_calls_total', help: 'eth_call/eth_estimateGas jobs on the call workers, by outcome (ok, error, timeout, rejected: queue full)', labelNames: ['outcome'] as const, registers: [registry] }),
    rpcSlowClients: new Counter({ name: 'pocchain_rpc_ws_slow_closed_total', help: 'Websocket connections closed because their unsent data passed the limit', registers: [registry] }),
    peers: new Gauge({ name: 'pocchain_p2p_peers', help: 'Connected peers', registers: [registry] }),
    commitLatencySeconds: new Histogram({ name: 'pocchain_consensus_commit_latency_seconds', help: 'Time from height start to commit', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10], registers: [registry] }),
    consensusRound: new Gauge({ name: 'pocchain_consensus_round', help: 'Current consensus round', registers: [registry] }),
    contentPeerRequests: new Counter({ name: 'pocchain_content_peer_requests_total', help: 'Content requests this node sent to peers on a local miss, by outcome (served, missing, mismatch: bytes not matching the hash, error: timeout or failure)', labelNames: ['outcome'] as const, registers: [registry] }),
    contentPeerBytes: new Counter({ name: 'pocchain_content_peer_fetched_bytes_total', help: 'Verified content bytes fetched from peers', registers: [registry] }),
    contentFetches: new Counter({ name: 'pocchain_content_fetches_total', help: 'Local content misses fetched from peers, by outcome (found, unavailable, busy)', labelNames: ['outcome'] as const, registers: [registry] }),
    contentServed: new Counter({ name: 'pocchain_content_served_to_peers_total', help: 'Content requests from peers answered, by outcome (found, missing)', labelNames: ['outcome'] as const, registers: [registry] }),
    votesSigned: new Counter({ name: 'pocchain_consensus_votes_signed_total', help: 'Votes this validator signed and sent, by type (prevote, precommit)', labelNames: ['type'] as const, registers: [registry] }),
  };
  eventLoopDelayGauges(registry);
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
