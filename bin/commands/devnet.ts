/**
 * `pocchain devnet` (what `npm start` runs): a whole local network in one command — anvil as the
 * L1 with the bridge deployed, validators, executors and the relayer as child processes, a banner
 * and a live status line. Thin: flags → devnet/devnet.ts.
 */
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEV_CHAIN_ID } from '../../chain/devgenesis.ts';
import { MAX_CAPACITY, DEFAULT_CAPACITY } from '../../consensus/poc/params.ts';
import { example, parseAmount, parseCount } from '../kit.ts';

/** A kit parser as a commander argParser: a bad value is a usage error, before anything starts. */
const arg = <T>(parse: (v: string) => T) => (v: string): T => {
  try {
    return parse(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};
const int = (what: string, min = 0, max = 2 ** 32) => arg((v) => parseCount(v, what, min, max));
/** A coin amount, checked here rather than by each executor after the network is up. */
const amount = (what: string) => arg((v) => (parseAmount(v, what), v));

/** Register `devnet` on the program. */
export function registerDevnetCommand(program: Command): void {
  const c = program
    .command('devnet')
    .description('run a local network: anvil L1 + bridge, 4 validators, 3 executors, the relayer; status until Ctrl-C (data kept; run again to resume)')
    .option('--dir <dir>', 'devnet directory', '.pocchain/devnet')
    .option('--reset', 'delete the devnet directory first and start a new chain', false)
    .option('--rpc-port <port>', 'JSON-RPC (http+ws) of validator 0; validator i gets port+i', int('--rpc-port'), 8545)
    .option('--p2p-port <port>', 'libp2p of validator 0; validator i gets port+i', int('--p2p-port'), 26656)
    .option('--l1-port <port>', 'the L1 (anvil) JSON-RPC', int('--l1-port'), 8645)
    .option('--executor-metrics-port <port>', 'serve executor k\'s Prometheus metrics on port+k (default: off)', int('--executor-metrics-port'))
    .option('--executor-capacity <n>', `each executor's capacity, open assignments at once, 1..${MAX_CAPACITY} (default: the chain's, ${DEFAULT_CAPACITY} if never declared)`, int('--executor-capacity', 1, MAX_CAPACITY))
    .option('--executor-stake <coins>', 'each executor\'s bonded stake, topped up at start (default 2; 0.1 is locked per open assignment)', amount('--executor-stake'))
    .option('--block-time <ms>', 'sidechain block interval', int('--block-time'), 500)
    .option('--status-interval <s>', 'status refresh in seconds (0: 1 on a terminal, 5 otherwise; a line per refresh when stdout is not a terminal)', Number, 0)
    .option('--log-level <level>', 'log level of the children (their logs go to <dir>/logs/)', 'info')
    .addOption(new Option('--validators <n>', 'validators (new chains only)').argParser(int('--validators')).default(4))
    .addOption(new Option('--executors <n>', 'executors, 0-4 (new chains only)').argParser(int('--executors')).default(3))
    .addOption(new Option('--epoch <blocks>', 'checkpoint every this many blocks (new chains only)').argParser(int('--epoch')).default(10))
    .addOption(new Option('--confirmations <n>', 'L1 confirmations before a deposit is minted (new chains only)').argParser(int('--confirmations')).default(2))
    .addOption(new Option('--chain-id <id>', 'sidechain chain id (new chains only)').argParser(int('--chain-id')).default(DEV_CHAIN_ID));
  example(c, 'npm start -- --reset', 'pocchain devnet --executor-capacity 64 --executor-stake 8', 'pocchain devnet --rpc-port 9545 --p2p-port 27656 --l1-port 9645');
  c.action(async (o) => {
      const { runDevnet } = await import('../../devnet/devnet.ts');
      const tty = !!process.stdout.isTTY;
      const code = await runDevnet({
        dir: resolve(o.dir),
        reset: !!o.reset,
        ports: { rpc: o.rpcPort, p2p: o.p2pPort, l1: o.l1Port, ...(o.executorMetricsPort !== undefined ? { executorMetrics: o.executorMetricsPort } : {}) },
        validators: o.validators,
        executors: o.executors,
        ...(o.executorCapacity !== undefined ? { executorCapacity: o.executorCapacity } : {}),
        ...(o.executorStake !== undefined ? { executorStake: String(o.executorStake) } : {}),
        blockTimeMs: o.blockTime,
        epoch: o.epoch,
        confirmations: o.confirmations,
        chainId: o.chainId,
        l1ChainId: 31337,
        statusIntervalMs: (o.statusInterval > 0 ? o.statusInterval : tty ? 1 : 5) * 1000,
        logLevel: o.logLevel,
        out: process.stdout,
        err: process.stderr,
      });
      process.exit(code);
    });
}
