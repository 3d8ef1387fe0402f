/**
 * `pocchain bridge …` and `pocchain relayer`: thin wrappers over bridge/ (deploy the L1 side,
 * deposit, withdraw, release, status, relay checkpoints). Progress and logs go to stderr; with
 * --json, stdout carries exactly one JSON object. Keys come from --key, --key-file or
 * POCCHAIN_KEY and are never printed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { formatUnits, parseUnits, Wallet, type JsonRpcProvider } from 'ethers';
import { loadGenesis } from '../../chain/genesis.ts';
import { isPocError, PocError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { devAccounts } from '../../lib/keys.ts';
import { bridgeInfo, bridgeStatus, deposit, provider, releaseWithdrawal, withdraw } from '../../bridge/client.ts';
import { deployL1 } from '../../bridge/l1-deploy.ts';
import { Relayer } from '../../bridge/relayer.ts';

type Opts = Record<string, any>;

const stringify = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x), 1);

/** Run a command body; print its result (JSON or text) or an actionable error, exit non-zero on error. */
function action(fn: (o: Opts) => Promise<Record<string, unknown>>, text: (r: any) => string = stringify) {
  return async (o: Opts) => {
    try {
      const r = await fn(o);
      process.stdout.write((o.json ? JSON.stringify(r, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)) : text(r)) + '\n');
      process.exit(0);
    } catch (e) {
      const err = e as any;
      const msg = isPocError(e) ? `[${e.code}] ${e.message}` : err.shortMessage ?? err.message;
      if (o.json) process.stdout.write(JSON.stringify({ error: { code: err.code ?? 'ERROR', message: msg } }) + '\n');
      process.stderr.write(`error: ${msg}\n`);
      process.exit(1);
    }
  };
}

const progress = (o: Opts) => (msg: string, data?: Record<string, unknown>) => {
  if (!o.quiet) process.stderr.write(`… ${msg}${data ? ' ' + JSON.stringify(data) : ''}\n`);
};

/** The private key from --key, --key-file (hex or JSON {privateKey}) or POCCHAIN_KEY; --dev-key: anvil's first test account. */
function privateKey(o: Opts, which = 'key'): string {
  const flag = o[which];
  const file = o[which + 'File'];
  if (flag) return String(flag);
  if (file) {
    const raw = readFileSync(String(file), 'utf8').trim();
    return raw.startsWith('{') ? JSON.parse(raw).privateKey : raw;
  }
  if (which === 'key' && process.env.POCCHAIN_KEY) return process.env.POCCHAIN_KEY;
  if (o.devKey) return devAccounts(1)[0]!.privateKey;
  throw new PocError('KEY_MISSING', `a key is required: --${which === 'key' ? 'key' : 'l1-key'} <hex>, --${which === 'key' ? 'key' : 'l1-key'}-file <file> or POCCHAIN_KEY`);
}

function amountOf(o: Opts): bigint {
  const a = String(o.amount ?? '');
  let v: bigint;
  try {
    v = o.wei ? BigInt(a) : parseUnits(a, 18);
  } catch {
    throw new PocError('BAD_AMOUNT', `--amount ${a} is not a ${o.wei ? 'whole number of base units' : 'decimal number of coins'}`);
  }
  if (v <= 0n) throw new PocError('BAD_AMOUNT', '--amount must be positive');
  return v;
}

const keyOpts = (c: Command, what: string) => c.option('--key <hex>', `private key of the ${what} (prefer --key-file or POCCHAIN_KEY)`).option('--key-file <file>', 'file holding the private key (hex, or JSON {privateKey})').option('--dev-key', "use anvil's first test account (DEV ONLY)", false);

async function l1For(o: Opts, sc?: JsonRpcProvider): Promise<{ l1: JsonRpcProvider; vault: string; checkpoints: string }> {
  if (!o.l1Rpc) throw new PocError('MISSING_FLAG', '--l1-rpc is required');
  const l1 = provider(o.l1Rpc);
  const info = sc && (!o.vault || !o.checkpoints) ? await bridgeInfo(sc) : undefined;
  const vault = o.vault ?? info?.vault;
  const checkpoints = o.checkpoints ?? info?.checkpoints;
  if (!vault) throw new PocError('MISSING_FLAG', '--vault is required (or --rpc of a sidechain node to read it from)');
  return { l1, vault, checkpoints };
}

/** Register `bridge` and `relayer` on the program. */
export function registerBridgeCommands(program: Command): void {
  const bridge = program.command('bridge').description('the L1 bridge: deploy-l1, deposit, withdraw, release, status');

  keyOpts(
    bridge
      .command('deploy-l1')
      .description('deploy TestToken (unless --token), Checkpoints (validators from --genesis) and Vault on an L1; prints the genesis `bridge` section')
      .requiredOption('--l1-rpc <url>', 'L1 JSON-RPC URL')
      .requiredOption('--genesis <file>', 'sidechain genesis (chain id and validators)')
      .option('--token <address>', 'bridge an existing ERC20 instead of deploying a TestToken')
      .option('--epoch <blocks>', 'checkpoint every this many sidechain blocks')
      .option('--confirmations <n>', 'L1 confirmations before a deposit is minted')
      .option('--period-length <s>', 'Vault release window in seconds', '86400')
      .option('--period-cap <coins>', 'Vault release cap per window, in coins', '1000000')
      .option('--fund <addresses>', 'comma-separated L1 addresses to mint test tokens to', '')
      .option('--fund-amount <coins>', 'test tokens per funded address', '10000')
      .option('--write-genesis <files>', 'comma-separated genesis files to add the bridge section to (before the chain starts!)', '')
      .option('--json', 'print one JSON object', false),
    'L1 deployer',
  ).action(
    action(async (o) => {
      const g = loadGenesis(o.genesis);
      const l1 = provider(o.l1Rpc);
      const signer = new Wallet(privateKey(o), l1);
      const d = await deployL1({
        signer,
        sidechainChainId: g.chainId,
        validators: g.validators,
        ...(o.token ? { token: o.token } : {}),
        periodLength: Number(o.periodLength),
        periodCap: parseUnits(String(o.periodCap), 18),
        ...(o.epoch ? { epochLength: Number(o.epoch) } : {}),
        ...(o.confirmations ? { confirmations: Number(o.confirmations) } : {}),
      });
      const funded = String(o.fund).split(',').filter(Boolean);
      if (funded.length > 0) {
        const { Contract } = await import('ethers');
        const { abiOf } = await import('../../bridge/abi.ts');
        const token = new Contract(d.token, abiOf('TestToken'), signer);
        for (const a of funded) await (await token.getFunction('mint').send(a, parseUnits(String(o.fundAmount), 18))).wait();
      }
      for (const f of String(o.writeGenesis).split(',').filter(Boolean)) {
        const j = JSON.parse(readFileSync(f, 'utf8'));
        j.bridge = d;
        writeFileSync(f, JSON.stringify(j, null, 1));
      }
      l1.destroy();
      return { bridge: d };
    }),
  );

  keyOpts(
    bridge
      .command('deposit')
      .description('lock tokens in the L1 Vault for a sidechain address; waits until minted when --rpc is given')
      .requiredOption('--l1-rpc <url>', 'L1 JSON-RPC URL')
      .requiredOption('--amount <coins>', 'amount in coins (18 decimals; --wei for base units)')
      .requiredOption('--to <address>', 'sidechain recipient')
      .option('--vault <address>', 'Vault address (default: from the sidechain node at --rpc)')
      .option('--rpc <url>', 'sidechain JSON-RPC: read the bridge config and wait for the credit')
      .option('--no-wait', 'return once locked on L1')
      .option('--timeout <s>', 'give up waiting after this many seconds', '600')
      .option('--wei', 'amount is in base units', false)
      .option('--quiet', 'no progress on stderr', false)
      .option('--json', 'print one JSON object', false),
    'L1 depositor',
  ).action(
    action(
      async (o) => {
        const sc = o.rpc ? provider(o.rpc) : undefined;
        const { l1, vault } = await l1For(o, sc);
        const r = await deposit({ signer: new Wallet(privateKey(o), l1), vault, amount: amountOf(o), to: o.to, ...(sc && o.wait !== false ? { sidechain: sc } : {}), timeoutMs: Number(o.timeout) * 1000, progress: progress(o) });
        l1.destroy();
        sc?.destroy();
        return { ...r };
      },
      (r) => `deposit ${r.nonce}: ${formatUnits(r.amount, 18)} to ${r.recipient} (L1 tx ${r.l1TxHash})${r.creditedAt !== undefined ? `, minted at sidechain block ${r.creditedAt}` : ''}`,
    ),
  );

  keyOpts(
    bridge
      .command('withdraw')
      .description('burn coins on the sidechain for an L1 address, wait for a checkpoint covering it on L1, prove and release')
      .requiredOption('--rpc <url>', 'sidechain JSON-RPC URL')
      .requiredOption('--l1-rpc <url>', 'L1 JSON-RPC URL')
      .requiredOption('--amount <coins>', 'amount in coins (18 decimals; --wei for base units)')
      .requiredOption('--to <address>', 'L1 recipient')
      .option('--l1-key <hex>', 'L1 key paying for the release (default: --key)')
      .option('--l1-key-file <file>', 'file with the L1 key')
      .option('--vault <address>', 'Vault (default: from the sidechain)')
      .option('--checkpoints <address>', 'Checkpoints (default: from the sidechain)')
      .option('--timeout <s>', 'give up waiting for a checkpoint after this many seconds', '900')
      .option('--wei', 'amount is in base units', false)
      .option('--quiet', 'no progress on stderr', false)
      .option('--json', 'print one JSON object', false),
    'sidechain account',
  ).action(
    action(
      async (o) => {
        const sc = provider(o.rpc);
        const { l1, vault, checkpoints } = await l1For(o, sc);
        const key = privateKey(o);
        const l1Key = o.l1Key || o.l1KeyFile ? privateKey(o, 'l1Key') : key;
        const r = await withdraw({ sidechainSigner: new Wallet(key, sc), l1Signer: new Wallet(l1Key, l1), sidechain: sc, l1, amount: amountOf(o), to: o.to, vault, checkpoints, timeoutMs: Number(o.timeout) * 1000, progress: progress(o) });
        l1.destroy();
        sc.destroy();
        return { ...r };
      },
      (r) => `withdrawal ${r.index}: ${formatUnits(r.amount, 18)} to ${r.l1Recipient}, checkpoint ${r.checkpointHeight}, released in L1 tx ${r.l1ReleaseTx}`,
    ),
  );

  keyOpts(
    bridge
      .command('release')
      .description('release an already requested withdrawal on L1 (e.g. after an interrupted withdraw); anyone may')
      .requiredOption('--rpc <url>', 'sidechain JSON-RPC URL')
      .requiredOption('--l1-rpc <url>', 'L1 JSON-RPC URL')
      .requiredOption('--index <n>', 'withdrawal index')
      .option('--vault <address>', 'Vault (default: from the sidechain)')
      .option('--checkpoints <address>', 'Checkpoints (default: from the sidechain)')
      .option('--timeout <s>', 'give up waiting for a checkpoint after this many seconds', '900')
      .option('--quiet', 'no progress on stderr', false)
      .option('--json', 'print one JSON object', false),
    'L1 account paying gas',
  ).action(
    action(async (o) => {
      const sc = provider(o.rpc);
      const { l1, vault, checkpoints } = await l1For(o, sc);
      const logs = await sc.getLogs({ address: '0x0000000000000000000000000000000000001002', fromBlock: 0, toBlock: 'latest', topics: [null, '0x' + BigInt(o.index).toString(16).padStart(64, '0')] });
      const r = await releaseWithdrawal({ l1Signer: new Wallet(privateKey(o), l1), sidechain: sc, l1, vault, checkpoints, index: BigInt(o.index), minHeight: logs[0]?.blockNumber ?? 0, timeoutMs: Number(o.timeout) * 1000, progress: progress(o) });
      l1.destroy();
      sc.destroy();
      return { index: String(o.index), ...r };
    }),
  );

  bridge
    .command('status')
    .description('both sides of the bridge: locked on L1, native supply from deposits, pending withdrawals, checkpoints; checks the invariant')
    .requiredOption('--rpc <url>', 'sidechain JSON-RPC URL')
    .requiredOption('--l1-rpc <url>', 'L1 JSON-RPC URL')
    .option('--json', 'print one JSON object', false)
    .action(
      action(
        async (o) => {
          const sc = provider(o.rpc);
          const l1 = provider(o.l1Rpc);
          const r = await bridgeStatus({ sidechain: sc, l1 });
          sc.destroy();
          l1.destroy();
          return { ...r };
        },
        (r) =>
          [
            `locked on L1:                ${formatUnits(r.l1.lockedInVault, 18)}`,
            `native supply from deposits: ${formatUnits(r.nativeSupplyFromDeposits, 18)} (minted ${formatUnits(r.sidechain.mintedFromDeposits, 18)} − burned ${formatUnits(r.sidechain.burnedByWithdrawals, 18)})`,
            `pending withdrawals:         ${formatUnits(r.pendingWithdrawals, 18)} (released ${formatUnits(r.l1.released, 18)})`,
            `deposits not yet minted:     ${formatUnits(r.l1.pendingDeposits, 18)} (next nonce on the sidechain ${r.sidechain.nextDepositNonce}, ${r.l1.depositsOnL1} on L1)`,
            `checkpoint on L1:            ${r.l1.latestCheckpoint}; sidechain head ${r.sidechain.head}, latest signed ${r.sidechain.latestSignedCheckpoint ?? '-'}${r.sidechain.checkpointQuorum ? ' (quorum)' : ''}`,
            `invariant locked = supply + pending withdrawals + unminted deposits: ${r.invariantHolds ? 'holds' : 'VIOLATED'}`,
          ].join('\n'),
      ),
    );

  keyOpts(
    program
      .command('relayer')
      .description('relay signed checkpoints from sidechain nodes to L1 Checkpoints (idempotent; several may run)')
      .requiredOption('--rpc <urls>', 'comma-separated sidechain JSON-RPC URLs (signatures are merged)')
      .requiredOption('--l1-rpc <url>', 'L1 JSON-RPC URL')
      .option('--checkpoints <address>', 'Checkpoints (default: from the sidechain)')
      .option('--poll-ms <ms>', 'poll interval', '1000')
      .option('--once', 'one attempt, then exit', false)
      .option('--log-level <level>', 'log level', 'info')
      .option('--json', 'with --once: print the outcome as one JSON object', false),
    'L1 account paying gas',
  ).action(async (o: Opts) => {
    const logger = createLogger({ level: o.logLevel });
    const sources = String(o.rpc).split(',').map((s) => s.trim()).filter(Boolean);
    const run = async () => {
      const sc = provider(sources[0]!);
      const info = await bridgeInfo(sc);
      const chainId = BigInt(await sc.send('eth_chainId', []));
      sc.destroy();
      const l1 = provider(o.l1Rpc);
      const relayer = new Relayer({
        sources,
        l1,
        signer: new Wallet(privateKey(o), l1),
        checkpoints: o.checkpoints ?? info.checkpoints,
        sidechainChainId: chainId,
        logger,
        // TEST ONLY: stop right after sending, so a test can kill the relayer mid-submit
        ...(process.env.POCCHAIN_TEST_RELAYER_HANG_AFTER_SEND ? { afterSend: async (tx: string, height: number) => (process.stderr.write(`TEST: sent ${tx} for ${height}, hanging\n`), new Promise<void>(() => {})) } : {}),
      });
      if (o.once) {
        const out = await relayer.runOnce();
        l1.destroy();
        return out;
      }
      const ac = new AbortController();
      process.on('SIGINT', () => ac.abort());
      process.on('SIGTERM', () => ac.abort());
      logger.info({ sources, checkpoints: o.checkpoints ?? info.checkpoints }, 'relayer started');
      await relayer.run(Number(o.pollMs), ac.signal, (out) => {
        if (out.kind === 'submitted') logger.info({ height: out.height, gasUsed: out.gasUsed.toString(), signers: out.signers }, 'checkpoint accepted on L1');
        if (out.kind === 'lost-race') logger.info({ height: out.height }, 'another relayer submitted first');
      });
      l1.destroy();
      return null;
    };
    await action(async () => ({ outcome: await run() }), (r) => (r.outcome ? stringify(r.outcome) : 'relayer stopped'))(o);
  });
}
