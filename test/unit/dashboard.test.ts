/** The Grafana dashboard only queries metrics the node and the executor really export. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMetrics } from '../../lib/metrics.ts';
import { createExecutorMetrics } from '../../executor/metrics.ts';
import { ROOT } from '../helpers/proc.ts';

test('docs/grafana/pocchain.json: valid dashboard, every queried metric exists', async () => {
  const dash = JSON.parse(readFileSync(join(ROOT, 'docs', 'grafana', 'pocchain.json'), 'utf8'));
  assert.equal(dash.uid, 'pocchain-node');
  const exprs: string[] = dash.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr));
  assert.ok(exprs.length >= 20);
  const ids = dash.panels.map((p: any) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const exported = new Set<string>();
  for (const reg of [createMetrics().registry, createExecutorMetrics().registry]) for (const m of await reg.getMetricsAsJSON()) exported.add(m.name);
  exported.add('pocchain_bridge_l1_events_total'); // registered by the bridge plugin when it watches L1 (bridge/plugin.ts)
  const used = new Set(exprs.flatMap((e) => e.match(/pocchain_[a-z0-9_]+/g) ?? []).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
  for (const name of used) assert.ok(exported.has(name), `${name} is exported`);
  for (const must of ['pocchain_chain_head_block', 'pocchain_consensus_commit_latency_seconds', 'pocchain_p2p_peers', 'pocchain_txpool_transactions', 'pocchain_executor_tasks_total', 'pocchain_executor_run_seconds', 'pocchain_bridge_l1_events_total']) assert.ok(used.has(must), `dashboard shows ${must}`);
});
