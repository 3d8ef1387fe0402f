/**
 * Prometheus counters of per-tx work, read from the chain's counters at each scrape: sender
 * recoveries (through the shared tx Common), tx executions (each runTx of build and verify) and
 * committed txs. Their ratios per node are the "recovered once, executed once" figures of
 * `npm run bench` and the throughput test.
 */
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../lib/log.ts';
import type { Chain } from './chain.ts';
import type { TxWorkCounters } from './common.ts';
import { systemReverts } from './execute.ts';

export const TX_WORK_METRICS = {
  senderRecoveries: 'pocchain_chain_sender_recoveries_total',
  txExecutions: 'pocchain_chain_tx_executions_total',
  txsCommitted: 'pocchain_chain_txs_committed_total',
} as const;

const HELP: Record<keyof TxWorkCounters, string> = {
  senderRecoveries: 'Transaction sender recoveries (secp256k1 ecrecover of a tx signature)',
  txExecutions: 'Transaction executions (block building and block verification)',
  txsCommitted: 'Transactions in committed blocks',
};

export function registerTxWorkMetrics(registry: Registry, counters: TxWorkCounters): void {
  for (const key of Object.keys(TX_WORK_METRICS) as (keyof TxWorkCounters)[]) {
    let seen = 0;
    new Counter({
      name: TX_WORK_METRICS[key],
      help: HELP[key],
      registers: [registry],
      collect() {
        const v = counters[key];
        if (v > seen) this.inc(v - seen);
        seen = v;
      },
    });
  }
}

/**
 * A system call that reverted in a committed block (see SYSTEM_CALL_REVERTED_EVENT): logged as an
 * error and counted by target and selector, so an operator's alert fires on the first one.
 */
export function watchSystemReverts(chain: Chain, registry: Registry, log: Logger, describe: (returnData: string) => string = (d) => d): void {
  const reverts = new Counter({ name: 'pocchain_chain_system_call_reverts_total', help: 'System calls (Hub, Validators) that reverted in committed blocks; the block stays valid and the call is rolled back', labelNames: ['target', 'selector'] as const, registers: [registry] });
  chain.on('block', ({ block, systemLogs }) => {
    for (const r of systemReverts(systemLogs)) {
      reverts.inc({ target: r.target, selector: r.selector });
      log.error({ height: Number(block.header.number), ...r, reason: describe(r.returnData) }, 'system call reverted (rolled back; the block stays valid)');
    }
  });
}
