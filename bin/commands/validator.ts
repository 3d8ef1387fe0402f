/**
 * `pocchain validator keys | stake | unstake | withdraw | unjail | status`: joining and leaving the
 * validator set through the Validators system contract (docs/validators.md). A validator is named
 * by its node's ed25519 consensus key (`0x` + 32 bytes); the account that bonds it (--key /
 * --key-file / POCCHAIN_KEY) owns the stake. Node secrets are read only to derive public keys and
 * the BLS proof of possession; nothing secret is printed.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { formatEther, getAddress, getBytes, Wallet, ZeroAddress, type Contract, type JsonRpcProvider, type TransactionReceipt } from 'ethers';
import { PocError } from '../../lib/errors.ts';
import { loadKeysFile, nodeKeysFile, publicIdentity } from '../../lib/keys.ts';
import { TxSender, validatorsContract, validatorsIface } from '../../executor/hub-client.ts';
import { KeyStatus, POWER_UNIT, signBondDigest, VALIDATORS_ADDRESS, type ValidatorParams } from '../../consensus/validator-params.ts';
import { accountAddress, accountOptions, action, common, example, openProvider, parseAddress, parseAmount, parseHash, rpcUrl, signingKey, type Opts, type Outcome } from '../kit.ts';

export type ValidatorCliErrorCode = 'USAGE' | 'NOT_INITIALIZED' | 'UNKNOWN_VALIDATOR';

/** What a node's keys say publicly about it as a validator. */
export interface ValidatorIdentity {
  /** ed25519 consensus public key: the validator's key in the contract */
  consensusKey: string;
  blsPubKey: string;
  blsPop: string;
  /** the node's secp256k1 address: L1 checkpoint signer and coinbase (the default operator) */
  operator: string;
  /** the file the keys came from */
  file: string;
}

/** The node key file named by --node-key FILE or --dir DATADIR (exactly one). */
export function nodeKeySource(o: Opts): string {
  if (o.nodeKey && o.dir) throw new PocError<ValidatorCliErrorCode>('USAGE', 'give either --node-key <file> or --dir <datadir>, not both');
  if (o.nodeKey) return resolve(String(o.nodeKey));
  if (o.dir) return nodeKeysFile(resolve(String(o.dir)));
  throw new PocError<ValidatorCliErrorCode>('USAGE', "the node's keys are needed: --node-key <datadir>/keys/node-keys.json or --dir <datadir> (made by `pocchain init`)");
}

/** Public identity of the node whose key file is `file`. */
export function nodeIdentity(file: string): ValidatorIdentity {
  const id = publicIdentity(loadKeysFile(file));
  return { consensusKey: id.pubKey.toLowerCase(), blsPubKey: id.blsPubKey, blsPop: id.blsPop, operator: id.address, file };
}

const keyStatusName = (s: number): string => (s === KeyStatus.Pending ? 'pending' : s === KeyStatus.Confirmed ? 'confirmed' : s === KeyStatus.Rejected ? 'rejected' : `unknown(${s})`);

/** One validator's record as `status` shows it. */
export interface ValidatorRecord {
  key: string;
  owner: string;
  operator: string;
  stake: bigint;
  /** power the stake would give (stake / POWER_UNIT) */
  stakePower: bigint;
  unbonding: bigint;
  unbondAt: number;
  unbondingDue: boolean;
  jailed: boolean;
  jailedUntil: number;
  keyStatus: string;
  /** blocks missed in the current epoch */
  missed: bigint;
  active: boolean;
  slashed: bigint;
}

async function readRecord(c: Contract, key: string, block: number): Promise<ValidatorRecord | null> {
  const at = { blockTag: block };
  const [r, slashed] = await Promise.all([c.getFunction('validator')(key, at), c.getFunction('slashedOf')(key, at)]);
  if (r.owner === ZeroAddress) return null;
  const unbondAt = Number(r.unbondAt);
  return {
    key,
    owner: r.owner,
    operator: r.operator,
    stake: r.stake,
    stakePower: r.stake / POWER_UNIT,
    unbonding: r.unbonding,
    unbondAt,
    unbondingDue: r.unbonding > 0n && block + 1 >= unbondAt,
    jailed: r.jailed,
    jailedUntil: Number(r.jailedUntil),
    keyStatus: keyStatusName(Number(r.keyStatus)),
    missed: r.missed,
    active: r.active,
    slashed,
  };
}

function recordText(v: ValidatorRecord, block: number): string {
  const L = [`validator ${v.key}${v.active ? '  (in the active set)' : ''}`, `  owner ${v.owner}, operator ${v.operator}, BLS key ${v.keyStatus}`, `  stake      ${formatEther(v.stake)} (power ${v.stakePower})`];
  if (v.unbonding > 0n) L.push(`  unbonding  ${formatEther(v.unbonding)}, ${v.unbondingDue ? 'due now (`pocchain validator withdraw`)' : `due at block ${v.unbondAt}`}`);
  if (v.jailed) L.push(`  jailed     ${block + 1 >= v.jailedUntil ? 'jail over: `pocchain validator unjail`' : `until block ${v.jailedUntil}`}`);
  if (v.slashed > 0n) L.push(`  slashed    ${formatEther(v.slashed)} in total`);
  L.push(`  missed     ${v.missed} block(s) this epoch`);
  return L.join('\n');
}

async function connect(o: Opts): Promise<{ provider: JsonRpcProvider; wallet: Wallet; contract: Contract; tx: TxSender }> {
  const key = signingKey(o); // a bad key fails before any network
  const provider = await openProvider(rpcUrl(o));
  const wallet = new Wallet(key, provider);
  return { provider, wallet, contract: validatorsContract(wallet), tx: new TxSender(wallet) };
}

/** The contract's events in a receipt, by name. */
function eventsOf(rc: TransactionReceipt): { name: string; args: any }[] {
  return rc.logs.flatMap((l) => {
    if (l.address.toLowerCase() !== VALIDATORS_ADDRESS) return [];
    const p = validatorsIface.parseLog(l);
    return p ? [{ name: p.name, args: p.args }] : [];
  });
}

/** Run one owner transaction on a validator key and report its events and the record after. */
async function ownerTx(o: Opts, fn: 'unbond' | 'withdraw' | 'unjail', args: (key: string) => unknown[], describe: (key: string, rc: TransactionReceipt, ev: { name: string; args: any }[]) => string): Promise<Outcome> {
  const key = parseHash(o.validator, '--validator');
  const { provider, contract, tx } = await connect(o);
  try {
    const rc = await tx.send(`${fn} ${key}`, (ov) => contract.getFunction(fn)(...args(key), ov));
    const ev = eventsOf(rc);
    const after = await readRecord(contract, key, rc.blockNumber);
    return { json: { validator: key, tx: rc.hash, block: rc.blockNumber, events: ev.map((e) => ({ name: e.name, ...e.args.toObject() })), after }, text: describe(key, rc, ev) };
  } finally {
    provider.destroy();
  }
}

function nodeOptions(c: Command): Command {
  return c.option('--node-key <file>', "the node's key file (<datadir>/keys/node-keys.json, made by `pocchain init`)").option('--dir <datadir>', 'the node data dir instead of --node-key');
}

/** Register `pocchain validator …`. */
export function registerValidatorCommands(program: Command): void {
  const v = program.command('validator').description('the validator set: bond stake for a node, unbond, withdraw, unjail, status (docs/validators.md)');

  // ------------------------------------------------------------------ keys
  const keys = nodeOptions(v.command('keys').description("a node's public validator identity: consensus key, BLS public key and proof of possession, operator address (never a secret)"));
  example(common(keys, { rpc: false }), 'pocchain validator keys --dir ./v0');
  keys.action(
    action(async (o: Opts): Promise<Outcome> => {
      const id = nodeIdentity(nodeKeySource(o));
      return { json: id, text: [`consensus key  ${id.consensusKey}`, `BLS public key ${id.blsPubKey}`, `BLS proof      ${id.blsPop}`, `operator       ${id.operator}`].join('\n') };
    }),
  );

  // ------------------------------------------------------------------ stake
  const stake = nodeOptions(v.command('stake').description("bond native coin for a node (first time: registers its consensus key, BLS key and operator; later: adds stake). The signing account owns the stake"))
    .requiredOption('--amount <coins>', 'coins to bond (e.g. 10 or 2.5)')
    .option('--operator <address>', "operator address: L1 checkpoint signer and coinbase (default: the node's own address; only used when bonding)");
  example(common(stake, { key: 'owner account' }), 'pocchain validator stake --dir ./v3 --amount 10 --key-file owner.key');
  stake.action(
    action(async (o: Opts): Promise<Outcome> => {
      const id = nodeIdentity(nodeKeySource(o));
      const amount = parseAmount(o.amount, '--amount');
      const operator = o.operator ? parseAddress(o.operator, '--operator') : getAddress(id.operator);
      const { provider, wallet, contract, tx } = await connect(o);
      try {
        const existing = await readRecord(contract, id.consensusKey, await provider.getBlockNumber());
        if (existing && o.operator && getAddress(existing.operator) !== operator) throw new PocError<ValidatorCliErrorCode>('USAGE', `${id.consensusKey} is bonded with operator ${existing.operator}; --operator only applies to the first bond`);
        const fn = existing ? 'addStake' : 'bond';
        const rc = existing
          ? await tx.send(`addStake ${id.consensusKey}`, (ov) => contract.getFunction('addStake')(id.consensusKey, { ...ov, value: amount }))
          : await tx.send(`bond ${id.consensusKey}`, async (ov) => {
              // the consensus key signs the bond (the chain refuses a key its bonder does not hold)
              const digest: string = await contract.getFunction('bondDigest')(id.consensusKey, wallet.address, operator, id.blsPubKey);
              const keySig = signBondDigest(loadKeysFile(id.file).consensus.secretKey, getBytes(digest));
              return contract.getFunction('bond')(id.consensusKey, id.blsPubKey, id.blsPop, operator, keySig, { ...ov, value: amount });
            });
        const after = (await readRecord(contract, id.consensusKey, rc.blockNumber))!;
        const note = fn === 'bond' ? 'its BLS key is checked by the chain, then it can enter the set at the next epoch' : after.active ? 'the new power applies from the next epoch' : 'eligible at the next epoch if its key is confirmed, it is not jailed and it has the minimum stake';
        return {
          json: { action: fn, validator: id.consensusKey, owner: wallet.address, operator: after.operator, amount, stake: after.stake, tx: rc.hash, block: rc.blockNumber },
          text: `${fn === 'bond' ? 'bonded' : 'added'} ${formatEther(amount)} for validator ${id.consensusKey} in tx ${rc.hash}: stake now ${formatEther(after.stake)} (${note})`,
        };
      } finally {
        provider.destroy();
      }
    }),
  );

  // ------------------------------------------------------------------ unstake / withdraw / unjail
  const unstake = v.command('unstake').description('start unbonding stake (withdrawable after the unbonding delay; slashable until then)').requiredOption('--validator <key>', 'the consensus key (0x…32 bytes)').requiredOption('--amount <coins>', 'coins to unbond');
  example(common(unstake, { key: 'owner account' }), 'pocchain validator unstake --validator 0x3b6a…e1 --amount 5 --key-file owner.key');
  unstake.action(
    action(async (o: Opts): Promise<Outcome> => {
      const amount = parseAmount(o.amount, '--amount');
      return ownerTx(o, 'unbond', (k) => [k, amount], (k, rc, ev) => {
        const release = ev.find((e) => e.name === 'UnbondRequested')?.args.releaseBlock;
        return `unbonding ${formatEther(amount)} of validator ${k} in tx ${rc.hash}; withdraw it from block ${release} (\`pocchain validator withdraw\`)`;
      });
    }),
  );

  const withdraw = v.command('withdraw').description('take out unbonded stake whose delay has passed (paid to the owner)').requiredOption('--validator <key>', 'the consensus key (0x…32 bytes)');
  example(common(withdraw, { key: 'owner account' }), 'pocchain validator withdraw --validator 0x3b6a…e1 --key-file owner.key');
  withdraw.action(
    action(async (o: Opts): Promise<Outcome> =>
      ownerTx(o, 'withdraw', (k) => [k], (k, rc, ev) => {
        const amount = ev.find((e) => e.name === 'Withdrawn')?.args.amount ?? 0n;
        const removed = ev.some((e) => e.name === 'Removed');
        return `withdrew ${formatEther(amount)} of validator ${k} in tx ${rc.hash}${removed ? ' (nothing left at stake: the key is released)' : ''}`;
      }),
    ),
  );

  const unjail = v.command('unjail').description('leave jail once its delay is over (eligible again from the next epoch)').requiredOption('--validator <key>', 'the consensus key (0x…32 bytes)');
  example(common(unjail, { key: 'owner account' }), 'pocchain validator unjail --validator 0x3b6a…e1 --key-file owner.key');
  unjail.action(action(async (o: Opts): Promise<Outcome> => ownerTx(o, 'unjail', (k) => [k], (k, rc) => `validator ${k} unjailed in tx ${rc.hash}; it can be selected at the next epoch`)));

  // ------------------------------------------------------------------ status
  const status = v
    .command('status')
    .description('epoch, parameters and active set; per validator: stake, unbonding, jail, missed blocks, membership (--validator, else the keys of --address / the key\'s account if given, else the set\'s members)')
    .option('--validator <key>', 'one validator (consensus key)');
  example(accountOptions(common(status, { key: 'account whose validators to show' })), 'pocchain validator status --validator 0x3b6a…e1 --json');
  status.action(
    action(async (o: Opts): Promise<Outcome> => {
      const one = o.validator ? parseHash(o.validator, '--validator') : undefined;
      const owner = !one && (o.address || o.key || o.keyFile || process.env.POCCHAIN_KEY) ? accountAddress(o) : undefined;
      const provider = await openProvider(rpcUrl(o));
      try {
        const c = validatorsContract(provider);
        const block = await provider.getBlockNumber();
        const at = { blockTag: block };
        if (!(await c.getFunction('initialized')(at))) throw new PocError<ValidatorCliErrorCode>('NOT_INITIALIZED', `the Validators contract at ${VALIDATORS_ADDRESS} is not initialized on this chain: its genesis has a fixed validator set`);
        const [epoch, p, set] = await Promise.all([c.getFunction('epoch')(at), c.getFunction('params')(at), c.getFunction('activeSet')(at)]);
        const params: ValidatorParams = { epochLength: p.epochLength, maxValidators: Number(p.maxValidators), minStake: p.minStake, unbondingBlocks: p.unbondingBlocks, slashBps: Number(p.slashBps), jailBlocks: p.jailBlocks, downtimeBps: Number(p.downtimeBps) };
        // positional: a Result's .keys is Array.prototype.keys
        const [setKeys, setPowers, setOperators] = [set[0] as string[], set[1] as bigint[], set[2] as string[]];
        const members = setKeys.map((k, i) => ({ key: k, power: setPowers[i]!, operator: setOperators[i]! }));
        const wanted = one ? [one] : owner ? [...(await c.getFunction('ownerKeys')(owner, at))] : members.map((m) => m.key);
        const records = (await Promise.all(wanted.map((k) => readRecord(c, k, block)))).filter((r): r is ValidatorRecord => r !== null);
        if (one && records.length === 0) throw new PocError<ValidatorCliErrorCode>('UNKNOWN_VALIDATOR', `no validator with key ${one} (never bonded, or withdrawn and released)`);
        const nextEpochAt = (epoch + 1n) * params.epochLength;
        const totalPower = members.reduce((a, m) => a + m.power, 0n);
        const text = [
          `epoch ${epoch} at block ${block} (next epoch at block ${nextEpochAt}); ${members.length} validator(s), total power ${totalPower}`,
          `params: epoch ${params.epochLength} blocks, max ${params.maxValidators} validators, min stake ${formatEther(params.minStake)}, unbonding ${params.unbondingBlocks} blocks, slash ${params.slashBps / 100}%, jail ${params.jailBlocks} blocks, downtime over ${params.downtimeBps / 100}% of an epoch`,
          'active set:',
          ...members.map((m) => `  ${m.key}  power ${m.power}  operator ${m.operator}`),
          ...(records.length ? ['', records.map((r) => recordText(r, block)).join('\n\n')] : owner ? ['', `no validators owned by ${owner}`] : []),
        ].join('\n');
        return { json: { block, epoch, nextEpochAt, params, activeSet: members, totalPower, validators: records }, text };
      } finally {
        provider.destroy();
      }
    }),
  );
}
