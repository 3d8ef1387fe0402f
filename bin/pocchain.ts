#!/usr/bin/env node
/**
 * The `pocchain` command. Thin: parses flags, reads config (file < env < flags), calls the layers.
 */
import { Command, Option } from 'commander';
import { mkdtempSync, existsSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLogger } from '../lib/log.ts';
import { initKeys, loadKeys, publicIdentity, devAccounts } from '../lib/keys.ts';
import { loadGenesis, type Genesis } from '../chain/genesis.ts';
import { buildGenesis, DEV_CHAIN_ID } from '../chain/devgenesis.ts';
import { PocNode } from '../consensus/node.ts';
import { CLIENT_VERSION } from '../chain/rpc/eth.ts';
import { isPocError } from '../lib/errors.ts';

const program = new Command();
program.name('pocchain').description('pocchain: an EVM sidechain for decentralized computing').showHelpAfterError();

/** Config precedence: defaults < config file < environment (POCCHAIN_*) < flags. */
function readConfig(opts: Record<string, any>, cmd: Command): Record<string, any> {
  const file = opts.config ?? process.env.POCCHAIN_CONFIG;
  const fromFile = file ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const out: Record<string, any> = { ...fromFile };
  for (const [k, v] of Object.entries(opts)) {
    const src = cmd.getOptionValueSource(k);
    const envName = 'POCCHAIN_' + k.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
    if (src === 'cli') out[k] = v;
    else if (process.env[envName] !== undefined) out[k] = process.env[envName];
    else if (out[k] === undefined) out[k] = v;
  }
  return out;
}

program
  .command('version')
  .description('print the client version')
  .action(() => console.log(CLIENT_VERSION));

program
  .command('init')
  .description('create a data dir: node keys (0600, never printed) and a genesis with this node as the only validator')
  .requiredOption('--datadir <dir>', 'data directory')
  .option('--chain-id <id>', 'chain id', String(DEV_CHAIN_ID))
  .option('--genesis <file>', 'use this genesis instead of creating one')
  .option('--fund <addresses>', 'comma-separated addresses to fund in a new genesis', '')
  .action((opts) => {
    const dir = resolve(opts.datadir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keys = initKeys(dir);
    const id = publicIdentity(keys);
    const gfile = join(dir, 'genesis.json');
    if (opts.genesis) writeFileSync(gfile, readFileSync(opts.genesis));
    else if (!existsSync(gfile)) {
      const g = buildGenesis({ chainId: Number(opts.chainId), validators: [{ ...id, power: 10 }], funded: opts.fund ? String(opts.fund).split(',').filter(Boolean) : [] });
      writeFileSync(gfile, JSON.stringify(g, null, 1));
    }
    console.log(JSON.stringify({ datadir: dir, genesis: gfile, consensusPubKey: id.pubKey, validatorAddress: id.address }, null, 1));
  });

program
  .command('node')
  .description('run a node: chain, JSON-RPC (http+ws), metrics at /metrics; --dev for a funded single-validator chain')
  .option('--config <file>', 'JSON config file (keys are the long flag names in camelCase)')
  .option('--datadir <dir>', 'data directory (with --dev: a temporary one if absent)')
  .option('--dev', 'development chain: one validator, the test mnemonic\'s first 10 accounts funded', false)
  .option('--rpc-host <host>', 'JSON-RPC listen host', '127.0.0.1')
  .option('--rpc-port <port>', 'JSON-RPC listen port (http and ws)', '8545')
  .option('--block-time <ms>', 'block interval in milliseconds', '1000')
  .option('--chain-id <id>', 'chain id for --dev', String(DEV_CHAIN_ID))
  .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'))
  .action(async (opts, cmd) => {
    const c = readConfig(opts, cmd);
    const logger = createLogger({ level: c.logLevel });
    let datadir = '';
    let temp = false;
    if (c.datadir) datadir = resolve(c.datadir);
    else if (c.dev) {
      datadir = mkdtempSync(join(tmpdir(), 'pocchain-dev-'));
      temp = true;
    } else {
      program.error('error: --datadir is required (or use --dev for a temporary chain)');
    }
    mkdirSync(datadir, { recursive: true, mode: 0o700 });
    const gfile = join(datadir, 'genesis.json');
    let genesis: Genesis;
    let coinbase: Uint8Array;
    const dev = c.dev ? devAccounts(10) : undefined;
    if (c.dev) {
      const keys = initKeys(datadir);
      coinbase = Buffer.from(keys.validator.address.slice(2), 'hex');
      if (!existsSync(gfile)) {
        const g = buildGenesis({ chainId: Number(c.chainId), validators: [{ ...publicIdentity(keys), power: 10 }], funded: dev!.map((w) => w.address), blockTimeMs: Number(c.blockTime) });
        writeFileSync(gfile, JSON.stringify(g, null, 1));
      }
      genesis = loadGenesis(gfile);
    } else {
      if (!existsSync(gfile)) program.error(`error: no genesis in ${datadir}: run \`pocchain init --datadir ${datadir}\` first`);
      genesis = loadGenesis(gfile);
      coinbase = Buffer.from(loadKeys(datadir).validator.address.slice(2), 'hex');
    }
    let node: PocNode;
    try {
      node = await PocNode.start({
        datadir: join(datadir, 'chaindata'),
        genesis,
        rpc: { host: c.rpcHost, port: Number(c.rpcPort) },
        coinbase,
        blockTimeMs: Number(c.blockTime),
        solo: genesis.validators.length === 1,
        ...(dev ? { devAccounts: dev } : {}),
        logger,
      });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE') program.error(`error: RPC port ${c.rpcPort} on ${c.rpcHost} is already in use: stop the other process or pass --rpc-port`);
      if (isPocError(e)) program.error(`error [${e.code}]: ${e.message}`);
      throw e;
    }
    logger.info({ rpc: `http://${c.rpcHost}:${node.rpc.port}`, chainId: genesis.chainId, datadir, dev: !!c.dev }, 'node started');
    if (dev) {
      process.stderr.write(`\npocchain dev chain ${genesis.chainId}: RPC http://${c.rpcHost}:${node.rpc.port} (ws on the same port)\n` + `development accounts (test mnemonic, DEV ONLY — never use on a real network):\n` + dev.map((w, i) => `  (${i}) ${w.address}  ${w.privateKey}`).join('\n') + '\n\n');
    }
    let stopping = false;
    const shutdown = async (sig: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal: sig }, 'stopping');
      await node.stop();
      if (temp) rmSync(datadir, { recursive: true, force: true });
      process.exit(0);
    };
    process.on('SIGINT', () => void shutdown('SIGINT'));
    process.on('SIGTERM', () => void shutdown('SIGTERM'));
  });

program.parseAsync(process.argv).catch((e) => {
  process.stderr.write(`error: ${isPocError(e) ? `[${e.code}] ` : ''}${(e as Error).message}\n`);
  process.exit(1);
});
