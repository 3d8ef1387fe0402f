/**
 * The CLI kit (bin/kit.ts): one way to parse integers, amounts, addresses, hashes and keys; one
 * precedence for endpoints (flag > env > running devnet manifest > default); one error shape; an
 * example line in every command's --help.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_L1_RPC, DEFAULT_RPC, devnetDefaults, l1RpcUrl, parseAddress, parseAmount, parseCount, parseHash, parseInteger, rpcUrl, signingKey, toCliError } from '../../bin/kit.ts';
import { createProgram } from '../../bin/program.ts';
import { loadPrivateKey } from '../../lib/keys.ts';
import { PocError } from '../../lib/errors.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeProvider, TxSender } from '../../executor/hub-client.ts';
import { READ_RETRY, retryTransient } from '../../bin/commands/jobs.ts';

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as PocError).code;
  }
  return 'ok';
};

test('parseAmount: coins with up to 18 decimals, or base units with wei', () => {
  const table: [string, { wei?: boolean; allowZero?: boolean }, bigint | string][] = [
    ['1', {}, 10n ** 18n],
    ['0.5', {}, 5n * 10n ** 17n],
    ['.25', {}, 25n * 10n ** 16n],
    ['0.000000000000000001', {}, 1n],
    ['0.0000000000000000001', {}, 'BAD_AMOUNT'],
    ['0', {}, 'BAD_AMOUNT'],
    ['0', { allowZero: true }, 0n],
    ['-1', {}, 'BAD_AMOUNT'],
    ['1e18', {}, 'BAD_AMOUNT'],
    ['abc', {}, 'BAD_AMOUNT'],
    ['', {}, 'BAD_AMOUNT'],
    ['1'.repeat(101), {}, 'BAD_AMOUNT'],
    ['1500', { wei: true }, 1500n],
    ['1.5', { wei: true }, 'BAD_AMOUNT'],
  ];
  for (const [input, opts, want] of table) {
    if (typeof want === 'bigint') assert.equal(parseAmount(input, '--amount', opts), want, input);
    else assert.equal(code(() => parseAmount(input, '--amount', opts)), want, input);
  }
});

test('parseInteger / parseCount: whole numbers within bounds', () => {
  assert.equal(parseInteger('42', 'n'), 42n);
  assert.equal(parseInteger('-3', 'n'), -3n);
  assert.equal(parseCount('7', 'n', 0, 10), 7);
  for (const bad of ['4.2', '0x10', '1e3', ' ', 'ten']) assert.equal(code(() => parseInteger(bad, 'n')), 'BAD_INTEGER', bad);
  assert.equal(code(() => parseCount('11', 'n', 0, 10)), 'BAD_INTEGER');
  assert.equal(code(() => parseCount('-1', 'n', 0, 10)), 'BAD_INTEGER');
});

test('parseAddress and parseHash', () => {
  const a = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';
  assert.equal(parseAddress(a, 'a'), '0x70997970C51812dc3A010C7d01b50e0d17dc79C8');
  assert.equal(code(() => parseAddress('0x70997970C51812dc3A010C7d01b50e0d17dc79c8', 'a')), 'BAD_ADDRESS', 'wrong checksum');
  assert.equal(code(() => parseAddress('0x1234', 'a')), 'BAD_ADDRESS');
  assert.equal(parseHash('AB'.repeat(32), 'h'), '0x' + 'ab'.repeat(32));
  assert.equal(code(() => parseHash('0x12', 'h')), 'BAD_HASH');
});

test('loadPrivateKey: flag > file > env; hex and JSON files; never echoes the key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pocchain-kit-'));
  const k1 = '0x' + '11'.repeat(32);
  const k2 = '0x' + '22'.repeat(32);
  const k3 = '0x' + '33'.repeat(32);
  writeFileSync(join(dir, 'hex.key'), k2.slice(2).toUpperCase() + '\n');
  writeFileSync(join(dir, 'json.key'), JSON.stringify({ privateKey: k3 }));
  writeFileSync(join(dir, 'big.key'), 'x'.repeat(5000));
  writeFileSync(join(dir, 'bad.json'), '{ nope');
  assert.equal(loadPrivateKey({ key: k1, keyFile: join(dir, 'hex.key'), env: k3 }), k1);
  assert.equal(loadPrivateKey({ keyFile: join(dir, 'hex.key'), env: k3 }), k2);
  assert.equal(loadPrivateKey({ keyFile: join(dir, 'json.key') }), k3);
  assert.equal(loadPrivateKey({ env: k1.slice(2) }), k1);
  const table: [Parameters<typeof loadPrivateKey>[0], string][] = [
    [{}, 'KEY_MISSING'],
    [{ key: '0x1234' }, 'KEY_INVALID'],
    [{ key: '0x' + 'zz'.repeat(32) }, 'KEY_INVALID'],
    [{ key: '0x' + '00'.repeat(32) }, 'KEY_INVALID'],
    [{ key: '0x' + 'ff'.repeat(32) }, 'KEY_INVALID'],
    [{ keyFile: join(dir, 'missing.key') }, 'KEY_FILE'],
    [{ keyFile: join(dir, 'big.key') }, 'KEY_FILE'],
    [{ keyFile: join(dir, 'bad.json') }, 'KEY_FILE'],
  ];
  for (const [src, want] of table) assert.equal(code(() => loadPrivateKey(src)), want, JSON.stringify(src));
  const secret = 'ab'.repeat(31) + 'zz';
  try {
    loadPrivateKey({ key: secret });
    assert.fail('accepted');
  } catch (e) {
    assert.ok(!(e as Error).message.includes(secret.slice(0, 20)), 'the key is not in the message');
  }
  assert.equal(signingKey({ devKey: true }, {}), '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80');
  assert.equal(signingKey({ devKey: true }, { POCCHAIN_KEY: k1 }), k1, 'an explicit key wins over --dev-key');
});

test('endpoints: flag > environment > running devnet manifest > default', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pocchain-kit-'));
  const empty = mkdtempSync(join(tmpdir(), 'pocchain-kit-none-'));
  const write = (running: boolean) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'devnet.json'), JSON.stringify({ running, nodes: [{ rpc: 'http://127.0.0.1:9545' }], l1: { rpc: 'http://127.0.0.1:9645' } }));
  };
  const none = { POCCHAIN_DEVNET_DIR: empty };
  assert.equal(rpcUrl({}, none), DEFAULT_RPC);
  assert.equal(l1RpcUrl({}, none), DEFAULT_L1_RPC);
  write(true);
  const m = { POCCHAIN_DEVNET_DIR: dir };
  assert.equal(devnetDefaults(m)?.rpc, 'http://127.0.0.1:9545');
  assert.equal(rpcUrl({}, m), 'http://127.0.0.1:9545');
  assert.equal(l1RpcUrl({}, m), 'http://127.0.0.1:9645');
  const env = { ...m, POCCHAIN_RPC: 'http://10.0.0.1:8545', POCCHAIN_L1_RPC: 'http://10.0.0.1:8645' };
  assert.equal(rpcUrl({}, env), 'http://10.0.0.1:8545');
  assert.equal(l1RpcUrl({}, env), 'http://10.0.0.1:8645');
  assert.equal(rpcUrl({ rpc: 'http://flag:1' }, env), 'http://flag:1');
  assert.equal(l1RpcUrl({ l1Rpc: 'http://flag:2' }, env), 'http://flag:2');
  write(false);
  assert.equal(rpcUrl({}, m), DEFAULT_RPC, 'a stopped devnet is not a default');
  writeFileSync(join(dir, 'devnet.json'), '{"running": tr');
  assert.equal(rpcUrl({}, m), DEFAULT_RPC, 'a half-written manifest is ignored');
});

test('toCliError: one shape for typed errors, unreachable endpoints, reverts', () => {
  assert.deepEqual(toCliError(new PocError('KEY_INVALID', 'bad')), { code: 'KEY_INVALID', message: 'bad' });
  const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4999'), { code: 'ECONNREFUSED' }) });
  assert.equal(toCliError(refused).code, 'RPC_UNREACHABLE');
  const revert = Object.assign(new Error('execution reverted'), { code: 'CALL_EXCEPTION', shortMessage: 'execution reverted', data: null });
  assert.equal(toCliError(revert).code, 'TX_REVERTED');
  assert.equal(toCliError(new Error('boom')).code, 'ERROR');
});

test('a call the node failed to run is RPC_ERROR (retried), not a revert; a revert stays TX_REVERTED', async () => {
  // a JSON-RPC endpoint answering eth_call as a node does: a revert (code 3, with or without
  // data), an internal error (-32603) and a full call pool (-32005)
  const answers: Record<string, object> = {
    revert: { code: 3, message: 'execution reverted', data: '0x' },
    internal: { code: -32603, message: 'internal error: State trie does not contain state root' },
    busy: { code: -32005, message: 'too many concurrent calls: 2 running and 64 queued (limit 64); try again later' },
  };
  let next = 'revert';
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const { id, method } = JSON.parse(body);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(method === 'eth_chainId' ? { jsonrpc: '2.0', id, result: '0x1' } : { jsonrpc: '2.0', id, error: answers[next] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const provider = makeProvider(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const fail = async (kind: string) => {
    next = kind;
    try {
      await provider.call({ to: '0x' + '11'.repeat(20), data: '0x12345678' });
    } catch (e) {
      return e;
    }
    throw new Error('the call did not fail');
  };
  try {
    assert.equal(toCliError(await fail('revert')).code, 'TX_REVERTED');
    const internal = toCliError(await fail('internal'));
    assert.equal(internal.code, 'RPC_ERROR');
    assert.match(internal.message, /State trie does not contain state root \(JSON-RPC -32603\)/);
    assert.equal(TxSender.refusal('contribute', await fail('internal')).code, 'RPC_ERROR', 'the executor retries its step instead of abandoning the task');
    assert.equal(TxSender.refusal('contribute', await fail('revert')).code, 'TX_REFUSED');
    assert.equal(TxSender.refusal('requestTasks', await fail('internal'), 'submit').code, 'TX_REFUSED', 'a submission the node failed on may have been taken: not retried blindly');
    assert.equal(toCliError(await fail('busy')).code, 'RPC_ERROR');

    // a bag's reads ride out such failures, and stop at once on a real refusal
    const lines: string[] = [];
    let calls = 0;
    const read = () => (++calls < 3 ? fail('busy').then((e) => Promise.reject(e)) : Promise.resolve('read'));
    assert.equal(await retryTransient('reading job 1', read, READ_RETRY, (l) => lines.push(l)), 'read');
    assert.equal(calls, 3);
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^reading job 1 failed \[RPC_ERROR\]: .*too many concurrent calls.*; retrying$/);
    let reverted = 0;
    await assert.rejects(retryTransient('reading job 1', () => (reverted++, fail('revert').then((e) => Promise.reject(e))), READ_RETRY, () => {}));
    assert.equal(reverted, 1, 'a revert is not retried');
    let busy = 0;
    await assert.rejects(retryTransient('reading job 1', () => (busy++, fail('busy').then((e) => Promise.reject(e))), READ_RETRY, () => {}, 0));
    assert.equal(busy, 1, 'past its budget the failure is the answer');
  } finally {
    provider.destroy();
    server.close();
  }
});

test('every command has --help with an example line and takes --json where it prints a result', () => {
  const all: Command[] = [];
  const walk = (c: Command) => {
    for (const s of c.commands) {
      all.push(s);
      walk(s);
    }
  };
  const program = createProgram();
  walk(program);
  const leaves = all.filter((c) => c.commands.length === 0);
  assert.ok(leaves.length >= 15, `found ${leaves.length} commands`);
  for (const c of leaves) {
    let help = '';
    c.configureOutput({ writeOut: (s) => (help += s), writeErr: (s) => (help += s) });
    c.outputHelp();
    const name = `${c.parent?.name() === 'pocchain' ? '' : c.parent?.name() + ' '}${c.name()}`;
    assert.match(help, /\nExamples?:\n {2}\$ (pocchain|npm) /, `${name}: example in --help`);
    const longRunning = ['node', 'devnet', 'executor', 'relayer', 'version', 'init', 'testnet'].includes(c.name());
    if (!longRunning) assert.ok(c.options.some((o) => o.long === '--json'), `${name}: --json`);
  }
});

test('a node that times out a gas estimate is reported as a timeout, not as a contract refusal', async () => {
  const { createServer } = await import('node:http');
  const { JsonRpcProvider, Wallet, Contract } = await import('ethers');
  const { TxSender } = await import('../../executor/hub-client.ts');
  // a node answering every call as pocchain's call pool does when its EVM timeout fires (geth's wording)
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const calls = [JSON.parse(body)].flat();
      const answer = (c: any) => (c.method === 'eth_chainId' ? { jsonrpc: '2.0', id: c.id, result: '0x7a69' } : { jsonrpc: '2.0', id: c.id, error: { code: -32000, message: 'execution aborted (timeout = 5s)' } });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(Array.isArray(JSON.parse(body)) ? calls.map(answer) : answer(calls[0])));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const provider = new JsonRpcProvider(`http://127.0.0.1:${port}`, 31337, { staticNetwork: true });
  try {
    const err = await provider.estimateGas({ to: '0x' + '11'.repeat(20), data: '0x' }).then(() => null, (e) => e);
    assert.ok(err, 'the estimate failed');
    assert.equal(err.code, 'CALL_EXCEPTION', 'ethers calls it a revert without data');
    assert.deepEqual(toCliError(err), { code: 'RPC_TIMEOUT', message: 'the node gave up executing it (execution aborted (timeout = 5s)): the chain is busy or the call too large; retry, or make it smaller' });
    const wallet = new Wallet('0x' + '22'.repeat(32), provider);
    const c = new Contract('0x' + '11'.repeat(20), ['function f()'], wallet);
    const sent = await new TxSender(wallet).send('f', () => c.f!()).then(() => null, (e) => e);
    assert.equal(sent?.code, 'TX_ESTIMATE_TIMEOUT', String(sent?.message));
  } finally {
    provider.destroy();
    server.close();
  }
});

test('errorChain: one walk finds revert data, node timeouts and socket codes at any depth, cycles included', async () => {
  const { Interface } = await import('ethers');
  const { decodeRevert, errorChain, nodeTimeout } = await import('../../executor/hub-client.ts');
  const data = new Interface(['error AlreadyRegistered(bytes32 hash)']).encodeErrorResult('AlreadyRegistered', ['0x' + '11'.repeat(32)]);
  // ethers nests the node's JSON-RPC error under info.error; a cycle must not loop
  const inner: any = { code: 3, message: 'execution reverted', data };
  const e: any = { shortMessage: 'missing revert data', info: { error: inner } };
  inner.cause = e;
  assert.equal(errorChain(e).length, 3);
  assert.equal(decodeRevert(e)?.text, `AlreadyRegistered(${'0x' + '11'.repeat(32)})`);
  assert.equal(nodeTimeout(e), undefined);
  const slow = { payload: { error: { message: 'execution aborted (timeout = 5s)' } } };
  assert.equal(nodeTimeout(slow), 'execution aborted (timeout = 5s)');
  assert.equal(decodeRevert(slow), undefined);
  // bounded: a chain deeper than 20 links is cut, not walked to the end
  let deep: any = { message: 'execution aborted (timeout = 5s)' };
  for (let i = 0; i < 30; i++) deep = { cause: deep };
  assert.equal(errorChain(deep).length, 20);
  assert.equal(nodeTimeout(deep), undefined);
  assert.equal(toCliError({ cause: { error: { code: 'ECONNREFUSED' } } }).code, 'RPC_UNREACHABLE');
});
