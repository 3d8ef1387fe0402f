/**
 * `pocchain node`, `init`, `testnet`, `version`: run and lay out nodes. Node flags come from
 * defaults < --config file < POCCHAIN_<FLAG> environment < flags.
 */
import { stakingInGenesis } from '../../consensus/validator-steps.ts';
import { Command, Option } from 'commander';
import { mkdtempSync, existsSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLogger } from '../../lib/log.ts';
import { initKeys, loadKeys, publicIdentity, devAccounts } from '../../lib/keys.ts';
import { loadGenesis, type Genesis } from '../../chain/genesis.ts';
import { buildGenesis, DEV_CHAIN_ID } from '../../chain/devgenesis.ts';
import { PocNode } from '../../consensus/node.ts';
import { CLIENT_VERSION } from '../../chain/rpc/eth.ts';
import { DEFAULT_CONTENT_GRACE_MS, DEFAULT_CONTENT_QUOTA_BYTES } from '../../consensus/content-store.ts';
import { DEFAULT_RPC_CALL_QUEUE, DEFAULT_RPC_CALL_WORKERS, DEFAULT_RPC_EVM_TIMEOUT_MS, DEFAULT_RPC_GAS_CAP } from '../../chain/rpc/limits.ts';
import { isPocError } from '../../lib/errors.ts';
import { createPlugins } from '../plugins.ts';
import { example } from '../kit.ts';

/** Print an actionable error and exit non-zero (no usage dump: the flags were fine). */
function fail(message: string): never {
  process.stderr.write(message + '\n');
  process.exit(1);
}

/** A whole number flag > 0 (>= 0 with zeroOk), or exit with an error naming the flag. */
function positive<T extends number | bigint>(v: unknown, flag: string, as: (s: string) => T, zeroOk = false): T {
  const s = String(v);
  if (!/^[0-9]+$/.test(s) || (!zeroOk && /^0+$/.test(s))) fail(`error: ${flag} must be a whole number${zeroOk ? '' : ' above 0'}, got ${JSON.stringify(v)}`);
  return as(s);
}

/** Config precedence: defaults < config file < environment (POCCHAIN_*) < flags. */
function readConfig(opts: Record<string, any>, cmd: Command): Record<string, any> {
  const file = opts.config ?? process.env.POCCHAIN_CONFIG;
  const fromFile = file ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const out: Record<string, any> = { ...fromFile };
  const explicit = new Set<string>(Object.keys(fromFile));
  for (const [k, v] of Object.entries(opts)) {
    const src = cmd.getOptionValueSource(k);
    const envName = 'POCCHAIN_' + k.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
    if (src === 'cli') (out[k] = v), explicit.add(k);
    else if (process.env[envName] !== undefined) (out[k] = process.env[envName]), explicit.add(k);
    else if (out[k] === undefined) out[k] = v;
  }
  out.explicit = explicit;
  return out;
}

export function registerNodeCommands(program: Command): void {
example(program
  .command('version')
  .description('print the client version')
  .action(() => console.log(CLIENT_VERSION)), 'pocchain version');

example(program
  .command('init')
  .description('create a data dir: node keys (0600, never printed) and a genesis with this node as the only validator; prints the node\'s genesis validator entry')
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
    // genesisValidator: this node's entry for a shared genesis's `validators` (public keys and the
    // BLS proof of possession only; the secrets stay in the data dir)
    console.log(JSON.stringify({ datadir: dir, genesis: gfile, consensusPubKey: id.pubKey, validatorAddress: id.address, genesisValidator: { pubKey: id.pubKey, address: id.address, power: 10, blsPubKey: id.blsPubKey, blsPop: id.blsPop } }, null, 1));
  }), 'pocchain init --datadir ./v0 --genesis shared-genesis.json');

example(program
  .command('node')
  .description('run a node: chain, JSON-RPC (http+ws), metrics at /metrics; --dev for a funded single-validator chain')
  .option('--config <file>', 'JSON config file (keys are the long flag names in camelCase)')
  .option('--datadir <dir>', 'data directory (with --dev: a temporary one if absent)')
  .option('--dev', 'development chain: one validator, the test mnemonic\'s first 10 accounts funded', false)
  .option('--rpc-host <host>', 'JSON-RPC listen host', '127.0.0.1')
  .option('--rpc-port <port>', 'JSON-RPC listen port (http and ws)', '8545')
  .option('--rpc-gas-cap <gas>', 'gas cap of one eth_call / eth_estimateGas', String(DEFAULT_RPC_GAS_CAP))
  .option('--rpc-evm-timeout <ms>', 'wall time of one eth_call / eth_estimateGas before it is aborted', String(DEFAULT_RPC_EVM_TIMEOUT_MS))
  .option('--rpc-call-workers <n>', 'worker threads running eth_call / eth_estimateGas', String(DEFAULT_RPC_CALL_WORKERS))
  .option('--rpc-call-queue <n>', 'calls that may wait for a worker; more are refused', String(DEFAULT_RPC_CALL_QUEUE))
  .option('--content-quota <bytes>', `total bytes of the node's content store (default ${DEFAULT_CONTENT_QUOTA_BYTES})`)
  .option('--content-grace <seconds>', `uploads whose hash is not registered on chain within this time may be removed (default ${DEFAULT_CONTENT_GRACE_MS / 1000})`)
  .option('--block-time <ms>', 'block interval in milliseconds', '1000')
  .option('--chain-id <id>', 'chain id for --dev', String(DEV_CHAIN_ID))
  .option('--p2p-host <host>', 'libp2p listen host', '127.0.0.1')
  .option('--p2p-port <port>', 'libp2p listen port (multi-validator networks)', '26656')
  .option('--bootstrap <multiaddrs>', 'comma-separated peers /ip4/…/tcp/…/p2p/<id>', '')
  .option('--timeout-propose <ms>', 'BFT propose timeout (default: from the block time, max(1000, 2×block+500); grows by half per round)', '2000')
  .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'))
  .option('--l1-rpc <url>', 'L1 JSON-RPC the bridge watches for deposits (env POCCHAIN_L1_RPC)')
  .option('--l1-confirmations <n>', "when an L1 deposit is final: 'finalized' (L1's finalized block) or a depth in blocks (default: genesis bridge.confirmations, else finalized)")
  .option('--l1-poll-ms <ms>', 'L1 poll interval (default 1000)')
  .option('--l1-vault <address>', 'Vault on L1 (must equal genesis bridge.vault)')
  .option('--l1-checkpoints <address>', 'Checkpoints on L1 (must equal genesis bridge.checkpoints)')
  .addOption(new Option('--test-fake-deposit', 'TEST ONLY: propose a deposit that never happened').hideHelp())
  .addOption(new Option('--test-byzantine <modes>', 'TEST ONLY: double-sign,invalid-proposal').hideHelp())
  .addOption(new Option('--test-controls', 'TEST ONLY: RPC methods to cut p2p links').hideHelp())
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
      fail('error: --datadir is required (or use --dev for a temporary chain)');
    }
    mkdirSync(datadir, { recursive: true, mode: 0o700 });
    const gfile = join(datadir, 'genesis.json');
    let genesis: Genesis;
    let coinbase: Uint8Array;
    let consensusSecretKey: Uint8Array | null = null;
    let isValidator = false;
    const dev = c.dev ? devAccounts(10) : undefined;
    if (c.dev) {
      const keys = initKeys(datadir);
      consensusSecretKey = keys.consensus.secretKey;
      coinbase = Buffer.from(keys.validator.address.slice(2), 'hex');
      if (!existsSync(gfile)) {
        const g = buildGenesis({ chainId: Number(c.chainId), validators: [{ ...publicIdentity(keys), power: 10 }], funded: dev!.map((w) => w.address), blockTimeMs: Number(c.blockTime) });
        writeFileSync(gfile, JSON.stringify(g, null, 1));
      }
      genesis = loadGenesis(gfile);
      isValidator = true;
    } else {
      if (!existsSync(gfile)) fail(`error: no genesis in ${datadir}: run \`pocchain init --datadir ${datadir}\` first`);
      genesis = loadGenesis(gfile);
      const keys = loadKeys(datadir);
      coinbase = Buffer.from(keys.validator.address.slice(2), 'hex');
      const me = publicIdentity(keys).pubKey.toLowerCase();
      isValidator = genesis.validators.some((v) => v.pubKey.toLowerCase() === me);
      // on a chain whose set changes by stake, any node with keys may be elected at an epoch boundary
      if (isValidator || stakingInGenesis(genesis)) consensusSecretKey = keys.consensus.secretKey;
    }
    const solo = genesis.validators.length === 1 && isValidator;
    const byz = String(c.testByzantine ?? '').split(',');
    let node: PocNode;
    try {
      node = await PocNode.start({
        datadir: join(datadir, 'chaindata'),
        genesis,
        rpc: {
          host: c.rpcHost,
          port: Number(c.rpcPort),
          gasCap: positive(c.rpcGasCap, '--rpc-gas-cap', BigInt),
          evmTimeoutMs: positive(c.rpcEvmTimeout, '--rpc-evm-timeout', Number),
          callWorkers: positive(c.rpcCallWorkers, '--rpc-call-workers', Number),
          callQueue: positive(c.rpcCallQueue, '--rpc-call-queue', Number, true),
        },
        coinbase,
        blockTimeMs: Number(c.blockTime),
        bft: {
          p2pHost: c.p2pHost,
          // a lone validator needs no fixed p2p port
          p2pPort: solo && !c.explicit.has('p2pPort') ? 0 : Number(c.p2pPort),
          bootstrap: String(c.bootstrap ?? '').split(',').map((x) => x.trim()).filter(Boolean),
          consensusSecretKey,
          dir: join(datadir, 'consensus'),
          // timeouts follow the block time (consensus/block-rules.ts timeoutsFor) unless set
          ...(c.explicit.has('timeoutPropose') ? { timeouts: { proposeMs: Number(c.timeoutPropose) } } : {}),
          byzantine: { doubleSign: byz.includes('double-sign'), invalidProposal: byz.includes('invalid-proposal') },
          testControls: !!c.testControls,
        },
        ...(dev ? { devAccounts: dev } : {}),
        plugins: await createPlugins(c, { genesis, datadir, keysDir: datadir }),
        logger,
      });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE') fail(`error: a port is already in use (RPC ${c.rpcHost}:${c.rpcPort}, p2p ${c.p2pHost}:${c.p2pPort}): stop the other process or pass --rpc-port / --p2p-port`);
      if (isPocError(e)) fail(`error [${e.code}]: ${e.message}`);
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
  }), 'pocchain node --dev --rpc-port 8545', 'pocchain node --datadir ./v0 --p2p-port 26656 --bootstrap /ip4/10.0.0.2/tcp/26656/p2p/<peerId> --l1-rpc https://your-l1');

example(program
  .command('testnet')
  .description('create data dirs, keys, a shared genesis and configs for an N-validator network on this host')
  .requiredOption('--out <dir>', 'output directory (node0, node1, ...)')
  .option('--validators <n>', 'number of validators', '4')
  .option('--full-nodes <n>', 'extra non-validating nodes', '0')
  .option('--chain-id <id>', 'chain id', String(DEV_CHAIN_ID))
  .option('--rpc-port <port>', 'RPC port of node0 (node i gets port+i)', '8545')
  .option('--p2p-port <port>', 'p2p port of node0 (node i gets port+i)', '26656')
  .option('--block-time <ms>', 'block interval', '1000')
  .option('--staking', 'an open validator set: the Validators contract in genesis (docs/validators.md); full nodes can stake and join')
  .option('--epoch-length <blocks>', 'blocks per epoch (with --staking)', '100')
  .action(async (opts) => {
    const { createTestnet } = await import('../../consensus/testnet.ts');
    const epochLength = Number(opts.epochLength);
    if (!Number.isSafeInteger(epochLength) || epochLength < 1) fail('error: --epoch-length must be a positive integer');
    const r = await createTestnet({ out: resolve(opts.out), validators: Number(opts.validators), fullNodes: Number(opts.fullNodes), chainId: Number(opts.chainId), rpcPort: Number(opts.rpcPort), p2pPort: Number(opts.p2pPort), blockTimeMs: Number(opts.blockTime), ...(opts.staking ? { staking: {}, epochLength } : {}) });
    console.log(JSON.stringify(r, null, 1));
  }), 'pocchain testnet --out ./net --validators 4');
}
