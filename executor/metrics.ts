/**
 * Prometheus metrics of the executor agent (its own registry, separate from the node's
 * lib/metrics.ts), and the small HTTP server that exposes them on --metrics-port.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The executor's metrics; names end in their unit as Prometheus asks. */
export function createExecutorMetrics(opts: { defaults?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry, prefix: 'pocchain_executor_process_' });
  const r = [registry];
  return {
    registry,
    tasks: new Counter({ name: 'pocchain_executor_tasks_total', help: 'Task steps reached (assigned, ran, committed, revealed, done, abandoned)', labelNames: ['step'] as const, registers: r }),
    runSeconds: new Histogram({ name: 'pocchain_executor_run_seconds', help: 'Sandbox run time of a workload', buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60], registers: r }),
    runFailures: new Counter({ name: 'pocchain_executor_run_failures_total', help: 'Workload runs refused or failed, by error code', labelNames: ['code'] as const, registers: r }),
    txs: new Counter({ name: 'pocchain_executor_txs_total', help: 'Transactions sent', labelNames: ['kind', 'status'] as const, registers: r }),
    gasUsed: new Counter({ name: 'pocchain_executor_gas_used_total', help: 'Gas used by the executor\'s transactions', registers: r }),
    withdrawnWei: new Counter({ name: 'pocchain_executor_withdrawn_wei_total', help: 'Earnings withdrawn from the Hub (wei, as a float)', registers: r }),
    headBlock: new Gauge({ name: 'pocchain_executor_scanned_block', help: 'Last block scanned for assignments', registers: r }),
    stakeWei: new Gauge({ name: 'pocchain_executor_stake_wei', help: 'Bonded stake (wei, as a float)', registers: r }),
    openTasks: new Gauge({ name: 'pocchain_executor_open_tasks', help: 'Journaled tasks not yet done or abandoned', registers: r }),
  };
}

export type ExecutorMetrics = ReturnType<typeof createExecutorMetrics>;

/** Serve GET /metrics on host:port; resolves with the server once listening. */
export async function serveMetrics(m: ExecutorMetrics, port: number, host = '127.0.0.1'): Promise<Server> {
  const server = createServer(async (req, res) => {
    if ((req.url ?? '').split('?')[0] !== '/metrics') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': m.registry.contentType });
    res.end(await m.registry.metrics());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
