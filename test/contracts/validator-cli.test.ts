/**
 * `pocchain validator …` as a user runs it (separate processes, --json), against a real anvil that
 * holds the Validators contract at its genesis address (anvil_setCode + initialize from the
 * impersonated SYSTEM_ADDRESS, as the node does at genesis). Each step is checked in the contract
 * state, and each refusal comes back in the kit's one error shape with the contract's error name.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Interface, formatEther } from 'ethers';
import { startAnvil, type AnvilHandle } from '../../lib/anvil.ts';
import { loadArtifact } from '../../contracts/artifacts.ts';
import { devAccounts, initKeys, publicIdentity } from '../../lib/keys.ts';
import { SYSTEM_ADDRESS, VALIDATORS_ADDRESS, type ValidatorParams } from '../../consensus/validator-params.ts';
import { CLI, NODE, rpc, tempDir } from '../helpers/proc.ts';

const ETH = 10n ** 18n;
const V = new Interface(loadArtifact('Validators').abi);
const P: ValidatorParams = { epochLength: 5n, maxValidators: 4, minStake: 2n * ETH, unbondingBlocks: 3n, slashBps: 1000, jailBlocks: 2n, downtimeBps: 5000 };
const [genesisOwner, owner, stranger] = devAccounts(3);

let anvil: AnvilHandle;
let datadir: string;
let node: ReturnType<typeof publicIdentity>;
let genesisKey: string;

async function send(from: string, data: string): Promise<void> {
  const hash = await rpc(anvil.url, 'eth_sendTransaction', [{ from, to: VALIDATORS_ADDRESS, data, gas: '0x1c9c380' }]);
  for (;;) {
    const r = await rpc(anvil.url, 'eth_getTransactionReceipt', [hash]);
    if (r) return assert.equal(Number(r.status), 1);
    await new Promise((res) => setTimeout(res, 5));
  }
}
const system = (fn: string, args: unknown[] = []) => send(SYSTEM_ADDRESS, V.encodeFunctionData(fn, args));
async function view(fn: string, args: unknown[] = []) {
  return V.decodeFunctionResult(fn, await rpc(anvil.url, 'eth_call', [{ to: VALIDATORS_ADDRESS, data: V.encodeFunctionData(fn, args) }, 'latest']));
}

/** Run the CLI with --json against anvil; returns exit code and the one JSON object on stdout. */
function cli(args: string[], key?: string): Promise<{ code: number; out: any; err: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, POCCHAIN_RPC: anvil.url, POCCHAIN_DEVNET_DIR: datadir };
    delete env.POCCHAIN_KEY;
    if (key) env.POCCHAIN_KEY = key;
    const c = spawn(NODE, [CLI, 'validator', ...args, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('close', (code) => {
      try {
        const lines = out.trim().split('\n');
        assert.equal(lines.length, 1, `exactly one JSON line on stdout, got: ${out}`);
        resolve({ code: code ?? -1, out: JSON.parse(lines[0]!), err });
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** A refusal: exit 1, the kit's error shape, the contract's error name in the message. */
async function refusedWith(args: string[], key: string | undefined, code: string, text?: string): Promise<void> {
  const r = await cli(args, key);
  assert.equal(r.code, 1, JSON.stringify(r.out));
  assert.equal(r.out.error?.code, code, JSON.stringify(r.out));
  if (text) assert.match(r.out.error.message, new RegExp(text), r.out.error.message);
}

before(async () => {
  anvil = await startAnvil({ args: ['--gas-limit', '100000000'] });
  await rpc(anvil.url, 'anvil_setCode', [VALIDATORS_ADDRESS, loadArtifact('Validators').deployedBytecode]);
  await rpc(anvil.url, 'anvil_impersonateAccount', [SYSTEM_ADDRESS]);
  await rpc(anvil.url, 'anvil_setBalance', [SYSTEM_ADDRESS, '0x' + (10n ** 24n).toString(16)]);
  await rpc(anvil.url, 'anvil_setBalance', [VALIDATORS_ADDRESS, '0x' + (10n * ETH).toString(16)]);
  genesisKey = '0x' + '11'.repeat(32);
  await system('initialize', [P, [{ key: genesisKey, owner: genesisOwner!.address, operator: genesisOwner!.address, blsPubKey: '0x' + '22'.repeat(48), blsPop: '0x' + '33'.repeat(96), stake: 10n * ETH }]]);
  datadir = tempDir('pocchain-validator-cli-');
  node = publicIdentity(initKeys(datadir));
});
after(() => anvil?.stop());

test('validator keys: the node identity from --dir or --node-key, never a secret', async () => {
  const a = await cli(['keys', '--dir', datadir]);
  const b = await cli(['keys', '--node-key', `${datadir}/keys/node-keys.json`]);
  assert.equal(a.code, 0);
  assert.deepEqual({ ...a.out, file: undefined }, { ...b.out, file: undefined });
  assert.deepEqual([a.out.consensusKey, a.out.blsPubKey, a.out.blsPop, a.out.operator], [node.pubKey, node.blsPubKey, node.blsPop, node.address]);
  assert.equal(Object.keys(a.out).sort().join(','), 'blsPop,blsPubKey,consensusKey,file,operator');
  await refusedWith(['keys'], undefined, 'USAGE', '--node-key');
  await refusedWith(['keys', '--dir', datadir, '--node-key', 'x'], undefined, 'USAGE', 'not both');
  await refusedWith(['keys', '--dir', `${datadir}/nowhere`], undefined, 'KEYS_INVALID', 'ENOENT');
});

test('validator stake / unstake / withdraw / unjail / status: the contract follows, refusals are decoded', async () => {
  const key = node.pubKey;
  // bond: the node's keys, the node's address as operator, the signing account as owner
  const s1 = await cli(['stake', '--dir', datadir, '--amount', '5'], owner!.privateKey);
  assert.equal(s1.code, 0, JSON.stringify(s1.out));
  assert.deepEqual([s1.out.action, s1.out.validator, s1.out.owner, s1.out.operator, s1.out.amount, s1.out.stake], ['bond', key, owner!.address, node.address, String(5n * ETH), String(5n * ETH)]);
  let r = await view('validator', [key]);
  assert.deepEqual([r.owner, r.operator, r.blsPubKey, r.stake, Number(r.keyStatus)], [owner!.address, node.address, node.blsPubKey, 5n * ETH, 0]);
  // again: adds stake
  const s2 = await cli(['stake', '--dir', datadir, '--amount', '2.5'], owner!.privateKey);
  assert.deepEqual([s2.code, s2.out.action, s2.out.stake], [0, 'addStake', String(75n * ETH / 10n)]);
  assert.equal((await view('validator', [key])).stake, 75n * ETH / 10n);
  // refusals: another owner, a changed operator, bad amounts and keys, too much to unbond, nothing due
  await refusedWith(['stake', '--dir', datadir, '--amount', '1'], stranger!.privateKey, 'TX_REFUSED', `NotOwner\\(${key}, ${stranger!.address}\\)`);
  await refusedWith(['stake', '--dir', datadir, '--amount', '1', '--operator', stranger!.address], owner!.privateKey, 'USAGE', 'only applies to the first bond');
  await refusedWith(['stake', '--dir', datadir, '--amount', '-1'], owner!.privateKey, 'BAD_AMOUNT');
  await refusedWith(['stake', '--dir', datadir, '--amount', '1'], undefined, 'KEY_MISSING');
  await refusedWith(['unstake', '--validator', '0x1234', '--amount', '1'], owner!.privateKey, 'BAD_HASH');
  await refusedWith(['unstake', '--validator', key, '--amount', '100'], owner!.privateKey, 'TX_REFUSED', `InsufficientStake\\(${75n * ETH / 10n}, ${100n * ETH}\\)`);
  await refusedWith(['withdraw', '--validator', key], owner!.privateKey, 'TX_REFUSED', 'NothingToWithdraw');
  await refusedWith(['unjail', '--validator', key], owner!.privateKey, 'TX_REFUSED', 'NotJailed');
  assert.equal((await view('validator', [key])).stake, 75n * ETH / 10n, 'refusals change nothing');

  // unstake, not due yet, then due
  const u = await cli(['unstake', '--validator', key, '--amount', '1.5'], owner!.privateKey);
  assert.equal(u.code, 0, JSON.stringify(u.out));
  const release = BigInt(u.out.block) + P.unbondingBlocks;
  assert.deepEqual(u.out.events.map((e: any) => [e.name, e.amount, e.releaseBlock]), [['UnbondRequested', String(3n * ETH / 2n), String(release)]]);
  assert.deepEqual([u.out.after.stake, u.out.after.unbonding, u.out.after.unbondAt], [String(6n * ETH), String(3n * ETH / 2n), Number(release)]);
  await refusedWith(['withdraw', '--validator', key], owner!.privateKey, 'TX_REFUSED', `UnbondingNotDue\\(${release}\\)`);
  await rpc(anvil.url, 'anvil_mine', ['0x3']);
  const before = BigInt(await rpc(anvil.url, 'eth_getBalance', [owner!.address, 'latest']));
  const w = await cli(['withdraw', '--validator', key], owner!.privateKey);
  assert.equal(w.code, 0, JSON.stringify(w.out));
  assert.deepEqual(w.out.events.map((e: any) => [e.name, e.amount]), [['Withdrawn', String(3n * ETH / 2n)]]);
  const afterBal = BigInt(await rpc(anvil.url, 'eth_getBalance', [owner!.address, 'latest']));
  assert.ok(afterBal > before + 3n * ETH / 2n - ETH / 100n && afterBal < before + 3n * ETH / 2n, `paid 1.5 less the fee: ${formatEther(afterBal - before)}`);

  // status before and after the node's key check and an epoch change
  let st = await cli(['status', '--validator', key]);
  assert.equal(st.code, 0, JSON.stringify(st.out));
  assert.deepEqual(st.out.validators.map((v: any) => [v.key, v.keyStatus, v.stake, v.active, v.jailed]), [[key, 'pending', String(6n * ETH), false, false]]);
  assert.deepEqual(st.out.activeSet.map((m: any) => [m.key, m.power]), [[genesisKey, '10']]);
  assert.deepEqual([st.out.epoch, st.out.params.maxValidators, st.out.params.minStake, st.out.params.slashBps], ['0', 4, String(2n * ETH), 1000]);
  await system('confirmKeys', [[key], []]);
  await system('closeEpoch');
  st = await cli(['status']);
  assert.equal(st.out.epoch, '1');
  assert.deepEqual(st.out.activeSet.map((m: any) => [m.key, m.power, m.operator]), [[genesisKey, '10', genesisOwner!.address], [key, '6', node.address]]);
  assert.deepEqual(st.out.validators.map((v: any) => [v.key, v.active, v.keyStatus]), [[genesisKey, true, 'confirmed'], [key, true, 'confirmed']]);
  // the keys of an account
  const mine = await cli(['status', '--address', owner!.address]);
  assert.deepEqual(mine.out.validators.map((v: any) => v.key), [key]);
  await refusedWith(['status', '--validator', '0x' + '44'.repeat(32)], undefined, 'UNKNOWN_VALIDATOR');

  // jailed by the chain (double sign), unjail only after the delay
  await system('slash', [key, '0x' + '55'.repeat(32)]);
  st = await cli(['status', '--validator', key]);
  const v = st.out.validators[0];
  assert.deepEqual([v.jailed, v.stake, v.slashed], [true, String((6n * ETH * 9n) / 10n), String((6n * ETH) / 10n)]);
  await refusedWith(['unjail', '--validator', key], owner!.privateKey, 'TX_REFUSED', `JailNotOver\\(${v.jailedUntil}\\)`);
  await rpc(anvil.url, 'anvil_mine', ['0x2']);
  const uj = await cli(['unjail', '--validator', key], owner!.privateKey);
  assert.equal(uj.code, 0, JSON.stringify(uj.out));
  assert.deepEqual([uj.out.events[0].name, uj.out.after.jailed], ['Unjailed', false]);
});
