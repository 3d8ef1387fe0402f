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
import { PocError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { loadPrivateKey } from '../../lib/keys.ts';
import { bridgeInfo, bridgeStatus, deposit, releaseWithdrawal, withdraw } from '../../bridge/client.ts';
import { action, common, example, fail, l1RpcUrl, openProvider, parseAddress, parseAmount, parseCount, parseInteger, progress as say, rpcUrl, signingKey, type Opts, type Outcome } from '../kit.ts';
import { deployL1 } from '../../bridge/l1-deploy.ts';
import { Relayer } from '../../bridge/relayer.ts';

const stringify = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x), 1);

/** Wrap a bridge command body: its result printed as JSON (--json) or by `text`. */
function run(fn: (o: Opts) => Promise<Record<string, unknown>>, text: (r: any) => string = stringify) {
  return action(async (o: Opts): Promise<Outcome> => {
    const r = await fn(o);
    return { json: r, text: text(r) };
  });
}

const progress = (o: Opts) => (msg: string, data?: Record<string, unknown>) => say(o, `… ${msg}${data ? ' ' + JSON.stringify(data) : ''}`);

/** The L1 key of `bridge withdraw` (--l1-key/--l1-key-file, else the sidechain key). */
function l1Key(o: Opts): string {
  if (o.l1Key || o.l1KeyFile) return loadPrivateKey({ key: o.l1Key, keyFile: o.l1KeyFile, what: 'the L1 key' });
  return signingKey(o);
}

const amountOf = (o: Opts): bigint => parseAmount(o.amount, '--amount', { wei: !!o.wei });

const devKeyOpt = (c: Command) => c.option('--dev-key', "use the test mnemonic's first account (anvil's; DEV ONLY)", false);

async function l1For(o: Opts, sc?: JsonRpcProvider): Promise<{ l1: JsonRpcProvider; vault: string; checkpoints: string }> {
  const l1 = await openProvider(l1RpcUrl(o));
  const info = sc && (!o.vault || !o.checkpoints) ? await bridgeInfo(sc) : undefined;
  const vault = o.vault ? parseAddress(o.vault, '--vault') : info?.vault;
  const checkpoints = o.checkpoints ? parseAddress(o.checkpoints, '--checkpoints') : info?.checkpoints;
  if (!vault) throw new PocError('MISSING_FLAG', '--vault is required (or --rpc of a sidechain node to read it from)');
  return { l1, vault, checkpoints: checkpoints! };
}

/** Register `bridge` and `relayer` on the program. */
export function registerBridgeCommands(program: Command): void {
  const bridge = program.command('bridge').description('the L1 bridge: deploy-l1, deposit, withdraw, release, status');

  const deployL1Cmd = bridge
    .command('deploy-l1')
    .description('deploy TestToken (unless --token), CheckpointsBls (validators from --genesis with BLS keys; else ECDSA Checkpoints) and Vault on an L1; prints the genesis `bridge` section')
    .requiredOption('--genesis <file>', 'sidechain genesis (chain id and validators)')
    .option('--token <address>', 'bridge an existing ERC20 instead of deploying a TestToken')
    .option('--epoch <blocks>', 'checkpoint every this many sidechain blocks')
    .option('--confirmations <n>', 'L1 confirmations before a deposit is minted')
    .option('--period-length <s>', 'Vault release window in seconds', '86400')
    .option('--period-cap <coins>', 'Vault release cap per window, in coins', '1000000')
    .option('--fund <addresses>', 'comma-separated L1 addresses to mint test tokens to', '')
    .option('--fund-amount <coins>', 'test tokens per funded address', '10000')
    .option('--write-genesis <files>', 'comma-separated genesis files to add the bridge section to (before the chain starts!)', '');
  example(devKeyOpt(common(deployL1Cmd, { rpc: false, l1Rpc: true, key: 'L1 deployer' })), 'pocchain bridge deploy-l1 --l1-rpc http://127.0.0.1:8645 --genesis net/genesis.json --key-file deployer.key');
  deployL1Cmd.action(
    run(async (o) => {
      const g = loadGenesis(o.genesis);
      const key = signingKey(o);
      const funded = String(o.fund).split(',').filter(Boolean).map((a) => parseAddress(a, '--fund'));
      const fundAmount = parseAmount(o.fundAmount, '--fund-amount');
      const l1 = await openProvider(l1RpcUrl(o));
      const signer = new Wallet(key, l1);
      const d = await deployL1({
        signer,
        sidechainChainId: g.chainId,
        validators: g.validators,
        ...(o.token ? { token: parseAddress(o.token, '--token') } : {}),
        periodLength: parseCount(o.periodLength, '--period-length', 1, 86_400 * 3650),
        periodCap: parseAmount(o.periodCap, '--period-cap'),
        ...(o.epoch ? { epochLength: parseCount(o.epoch, '--epoch', 1, 1_000_000) } : {}),
        ...(o.confirmations ? { confirmations: parseCount(o.confirmations, '--confirmations', 0, 10_000) } : {}),
      });
      if (funded.length > 0) {
        const { Contract } = await import('ethers');
        const { abiOf } = await import('../../bridge/abi.ts');
        const token = new Contract(d.token, abiOf('TestToken'), signer);
        for (const a of funded) await (await token.getFunction('mint').send(a, fundAmount)).wait();
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

  const depositCmd = bridge
    .command('deposit')
    .description('lock tokens in the L1 Vault for a sidechain address, then wait until minted on the sidechain')
    .requiredOption('--amount <coins>', 'amount in coins (18 decimals; --wei for base units)')
    .requiredOption('--to <address>', 'sidechain recipient')
    .option('--vault <address>', 'Vault address (default: from the sidechain node at --rpc)')
    .option('--no-wait', 'return once locked on L1')
    .option('--timeout <s>', 'give up waiting after this many seconds', '600')
    .option('--wei', 'amount is in base units', false)
    .option('--quiet', 'no progress on stderr', false);
  example(devKeyOpt(common(depositCmd, { l1Rpc: true, key: 'L1 depositor' })), 'pocchain bridge deposit --amount 100 --to 0xYourAddress --key-file me.key');
  depositCmd.action(
    run(
      async (o) => {
        const key = signingKey(o);
        const amount = amountOf(o);
        const to = parseAddress(o.to, '--to');
        const timeoutMs = parseCount(o.timeout, '--timeout', 1, 86_400) * 1000;
        const sc = await openProvider(rpcUrl(o));
        const { l1, vault } = await l1For(o, sc);
        const r = await deposit({ signer: new Wallet(key, l1), vault, amount, to, ...(o.wait !== false ? { sidechain: sc } : {}), timeoutMs, progress: progress(o) });
        l1.destroy();
        sc.destroy();
        return { ...r };
      },
      (r) => `deposit ${r.nonce}: ${formatUnits(r.amount, 18)} to ${r.recipient} (L1 tx ${r.l1TxHash})${r.creditedAt !== undefined ? `, minted at sidechain block ${r.creditedAt}` : ''}`,
    ),
  );

  const withdrawCmd = bridge
    .command('withdraw')
    .description('burn coins on the sidechain for an L1 address, wait for a checkpoint covering it on L1, prove and release')
    .requiredOption('--amount <coins>', 'amount in coins (18 decimals; --wei for base units)')
    .requiredOption('--to <address>', 'L1 recipient')
    .option('--l1-key <hex>', 'L1 key paying for the release (default: --key)')
    .option('--l1-key-file <file>', 'file with the L1 key')
    .option('--vault <address>', 'Vault (default: from the sidechain)')
    .option('--checkpoints <address>', 'Checkpoints (default: from the sidechain)')
    .option('--timeout <s>', 'give up waiting for a checkpoint after this many seconds', '900')
    .option('--wei', 'amount is in base units', false)
    .option('--quiet', 'no progress on stderr', false);
  example(devKeyOpt(common(withdrawCmd, { l1Rpc: true, key: 'sidechain account' })), 'pocchain bridge withdraw --amount 40 --to 0xYourL1Address --key-file me.key');
  withdrawCmd.action(
    run(
      async (o) => {
        const key = signingKey(o);
        const k1 = l1Key(o);
        const amount = amountOf(o);
        const to = parseAddress(o.to, '--to');
        const timeoutMs = parseCount(o.timeout, '--timeout', 1, 86_400) * 1000;
        const sc = await openProvider(rpcUrl(o));
        const { l1, vault, checkpoints } = await l1For(o, sc);
        const r = await withdraw({ sidechainSigner: new Wallet(key, sc), l1Signer: new Wallet(k1, l1), sidechain: sc, l1, amount, to, vault, checkpoints, timeoutMs, progress: progress(o) });
        l1.destroy();
        sc.destroy();
        return { ...r };
      },
      (r) => `withdrawal ${r.index}: ${formatUnits(r.amount, 18)} to ${r.l1Recipient}, checkpoint ${r.checkpointHeight}, released in L1 tx ${r.l1ReleaseTx}`,
    ),
  );

  const releaseCmd = bridge
    .command('release')
    .description('release an already requested withdrawal on L1 (e.g. after an interrupted withdraw); anyone may')
    .requiredOption('--index <n>', 'withdrawal index')
    .option('--vault <address>', 'Vault (default: from the sidechain)')
    .option('--checkpoints <address>', 'Checkpoints (default: from the sidechain)')
    .option('--timeout <s>', 'give up waiting for a checkpoint after this many seconds', '900')
    .option('--quiet', 'no progress on stderr', false);
  example(devKeyOpt(common(releaseCmd, { l1Rpc: true, key: 'L1 account paying gas' })), 'pocchain bridge release --index 3 --key-file me.key');
  releaseCmd.action(
    run(async (o) => {
      const key = signingKey(o);
      const index = parseInteger(o.index, '--index', { min: 0n, max: 2n ** 64n });
      const timeoutMs = parseCount(o.timeout, '--timeout', 1, 86_400) * 1000;
      const sc = await openProvider(rpcUrl(o));
      const { l1, vault, checkpoints } = await l1For(o, sc);
      const logs = await sc.getLogs({ address: '0x0000000000000000000000000000000000001002', fromBlock: 0, toBlock: 'latest', topics: [null, '0x' + index.toString(16).padStart(64, '0')] });
      const r = await releaseWithdrawal({ l1Signer: new Wallet(key, l1), sidechain: sc, l1, vault, checkpoints, index, minHeight: logs[0]?.blockNumber ?? 0, timeoutMs, progress: progress(o) });
      l1.destroy();
      sc.destroy();
      return { index: String(index), ...r };
    }),
  );

  const statusCmd = bridge.command('status').description('both sides of the bridge: locked on L1, native supply from deposits, pending withdrawals, checkpoints; checks the invariant');
  example(common(statusCmd, { l1Rpc: true }), 'pocchain bridge status --json');
  statusCmd.action(
    run(
      async (o) => {
        const sc = await openProvider(rpcUrl(o));
        const l1 = await openProvider(l1RpcUrl(o));
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

  const relayerCmd = program
    .command('relayer')
    .description('relay signed checkpoints from sidechain nodes to L1 Checkpoints (idempotent; several may run); --rpc may list several nodes, comma-separated (signatures are merged)')
    .option('--checkpoints <address>', 'Checkpoints (default: from the sidechain)')
    .option('--poll-ms <ms>', 'poll interval', '1000')
    .option('--once', 'one attempt, then exit (with --json: the outcome as one JSON object)', false);
  example(devKeyOpt(common(relayerCmd, { l1Rpc: true, key: 'L1 account paying gas', log: true })), 'pocchain relayer --rpc http://127.0.0.1:8545,http://127.0.0.1:8546 --l1-rpc http://127.0.0.1:8645 --key-file relayer.key');
  relayerCmd.action(async (o: Opts) => {
    try {
      const logger = createLogger({ level: o.logLevel });
      const sources = rpcUrl(o).split(',').map((s) => s.trim()).filter(Boolean);
      const key = signingKey(o);
      const pollMs = parseCount(o.pollMs, '--poll-ms', 10, 3_600_000);
      const sc = await openProvider(sources[0]!);
      const info = await bridgeInfo(sc);
      const chainId = BigInt(await sc.send('eth_chainId', []));
      sc.destroy();
      const l1 = await openProvider(l1RpcUrl(o));
      const checkpoints = o.checkpoints ? parseAddress(o.checkpoints, '--checkpoints') : info.checkpoints;
      const relayer = new Relayer({
        sources,
        l1,
        signer: new Wallet(key, l1),
        checkpoints,
        sidechainChainId: chainId,
        logger,
        // TEST ONLY: stop right after sending, so a test can kill the relayer mid-submit
        ...(process.env.POCCHAIN_TEST_RELAYER_HANG_AFTER_SEND ? { afterSend: async (tx: string, height: number) => (process.stderr.write(`TEST: sent ${tx} for ${height}, hanging\n`), new Promise<void>(() => {})) } : {}),
      });
      if (o.once) {
        const outcome = await relayer.runOnce();
        l1.destroy();
        process.stdout.write((o.json ? JSON.stringify({ outcome }, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)) : stringify(outcome)) + '\n', () => process.exit(0));
        return;
      }
      const ac = new AbortController();
      process.on('SIGINT', () => ac.abort());
      process.on('SIGTERM', () => ac.abort());
      logger.info({ sources, checkpoints }, 'relayer started');
      await relayer.run(pollMs, ac.signal, (out) => {
        if (out.kind === 'submitted') logger.info({ height: out.height, gasUsed: out.gasUsed.toString(), signers: out.signers }, 'checkpoint accepted on L1');
        if (out.kind === 'lost-race') logger.info({ height: out.height }, 'another relayer submitted first');
      });
      l1.destroy();
      process.exit(0);
    } catch (e) {
      fail(e, !!o.json);
    }
  });
}
