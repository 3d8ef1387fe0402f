/**
 * debug_trace* against a dev node, with anvil (foundry's geth-compatible tracers) as the reference:
 * the same fresh deployer deploys the same contracts on both (same nonces → same addresses, same
 * hardfork → same gas), sends the same transactions, and the traces must be equal.
 * - callTracer: a nested CALL + a STATICCALL that reverts with a reason, caught; and an outer
 *   revert; the expected tree is also written out by hand.
 * - struct logger: a plain transfer (no opcodes) and the nested call, opcode by opcode, with stack
 *   and storage; disableStack / enableMemory / limit; debug_traceCall; debug_traceBlockByNumber.
 * - ethers' provider.send and foundry's `cast run` against the node.
 * - bad input: unknown tracer, unknown tx, bad timeout → typed errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ContractFactory, Interface, JsonRpcProvider, Wallet, parseEther, type TransactionReceipt } from 'ethers';
import { rpc, rpcRaw, startDevNode, ROOT } from '../helpers/proc.ts';
import { startAnvil } from '../../lib/anvil.ts';
import { loadArtifact } from '../../contracts/artifacts.ts';
import { devAccounts } from '../../lib/keys.ts';

const inner = loadArtifact('TraceInner');
const outer = loadArtifact('TraceOuter');
const iOuter = new Interface(outer.abi);
const iInner = new Interface(inner.abi);

interface Side {
  url: string;
  provider: JsonRpcProvider;
  deployer: Wallet;
}

async function deployAll(s: Side) {
  const i = await (await new ContractFactory(inner.abi, inner.bytecode, s.deployer).deploy()).waitForDeployment();
  const o = await (await new ContractFactory(outer.abi, outer.bytecode, s.deployer).deploy(await i.getAddress())).waitForDeployment();
  return { inner: await i.getAddress(), outer: await o.getAddress() };
}

async function send(s: Side, tx: { to: string; data?: string; value?: bigint; gasLimit: bigint }): Promise<TransactionReceipt> {
  const r = await (await s.deployer.sendTransaction(tx)).wait(1, 60_000).catch((e) => e.receipt as TransactionReceipt);
  return r!;
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout!.on('data', (d) => (out += d));
    c.stderr!.on('data', (d) => (out += d));
    c.once('exit', (code) => resolve({ code, out }));
  });
}

test('traces: callTracer and struct logs equal anvil\'s; traceCall, traceBlock, ethers, cast run, bad input', { timeout: 300_000 }, async () => {
  const node = await startDevNode({ blockTimeMs: 200 });
  const anvil = await startAnvil({ args: ['--hardfork', 'cancun', '--steps-tracing'] });
  const key = Wallet.createRandom().privateKey;
  const ours: Side = { url: node.url, provider: new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1, pollingInterval: 100 }), deployer: undefined as any };
  const ref: Side = { url: anvil.url, provider: new JsonRpcProvider(anvil.url, undefined, { cacheTimeout: -1, pollingInterval: 100 }), deployer: undefined as any };
  try {
    ours.deployer = new Wallet(key, ours.provider);
    ref.deployer = new Wallet(key, ref.provider);
    const funder = new Wallet(devAccounts(1)[0]!.privateKey, ours.provider);
    await (await funder.sendTransaction({ to: ours.deployer.address, value: parseEther('100') })).wait();
    await rpc(anvil.url, 'anvil_setBalance', [ref.deployer.address, '0x' + parseEther('100').toString(16)]);

    const a = await deployAll(ours);
    const b = await deployAll(ref);
    assert.deepEqual(a, b, 'same deployer and nonces: same addresses on both chains');

    // the same transactions on both chains (explicit gas so neither side estimates)
    const plainTo = Wallet.createRandom().address;
    const txs = {
      plain: { to: plainTo, value: 12345n, gasLimit: 21_000n },
      nested: { to: a.outer, data: iOuter.encodeFunctionData('run', [7]), gasLimit: 200_000n },
      fail: { to: a.outer, data: iOuter.encodeFunctionData('fail', [3]), gasLimit: 200_000n },
    };
    const rc: Record<string, { ours: TransactionReceipt; ref: TransactionReceipt }> = {};
    for (const [k, tx] of Object.entries(txs)) rc[k] = { ours: await send(ours, tx), ref: await send(ref, tx) };
    assert.equal(rc.nested!.ours.status, 1);
    assert.equal(rc.fail!.ours.status, 0);
    assert.equal(rc.nested!.ours.gasUsed, rc.nested!.ref.gasUsed, 'same gas on both chains');

    const trace = (s: Side, k: string, cfg: unknown) => rpc(s.url, 'debug_traceTransaction', [rc[k]![s === ours ? 'ours' : 'ref'].hash, cfg]);

    // callTracer: the expected tree, by hand
    const from = ours.deployer.address.toLowerCase();
    const nested = await trace(ours, 'nested', { tracer: 'callTracer' });
    const reason = iInner.encodeErrorResult('Error', ['inner says no']);
    assert.equal(nested.type, 'CALL');
    assert.equal(nested.from, from);
    assert.equal(nested.to, a.outer.toLowerCase());
    assert.equal(nested.gas, '0x30d40');
    assert.equal(BigInt(nested.gasUsed), rc.nested!.ours.gasUsed);
    assert.equal(nested.output, '0x' + (14n).toString(16).padStart(64, '0'));
    assert.equal(nested.error, undefined);
    assert.deepEqual(nested.calls.map((c: any) => [c.type, c.to, c.input.slice(0, 10), c.error ?? null, c.revertReason ?? null, c.output]), [
      ['CALL', a.inner.toLowerCase(), iInner.getFunction('set')!.selector, null, null, '0x' + (14n).toString(16).padStart(64, '0')],
      ['STATICCALL', a.inner.toLowerCase(), iInner.getFunction('check')!.selector, 'execution reverted', 'inner says no', reason],
    ]);
    assert.equal(nested.calls[0].value, '0x0');
    assert.equal(nested.calls[1].value, undefined, 'no value in a STATICCALL frame');
    const fail = await trace(ours, 'fail', { tracer: 'callTracer' });
    assert.equal(fail.error, 'execution reverted');
    assert.equal(fail.revertReason, 'outer fails');
    assert.equal(fail.calls.length, 1);
    assert.equal(fail.calls[0].error, undefined, 'the inner call itself succeeded');

    // ...and equal to anvil's, frame by frame
    // (anvil reports the top frame's gas after intrinsic gas; geth, and we, the tx's gas limit)
    for (const k of ['plain', 'nested', 'fail']) {
      const [x, y] = [await trace(ours, k, { tracer: 'callTracer' }), await trace(ref, k, { tracer: 'callTracer' })];
      assert.equal(x.gas, '0x' + txs[k as keyof typeof txs].gasLimit.toString(16));
      assert.deepEqual({ ...x, gas: y.gas }, y, `callTracer ${k}`);
    }
    const top = await trace(ours, 'nested', { tracer: 'callTracer', tracerConfig: { onlyTopCall: true } });
    assert.equal(top.calls, undefined);

    // struct logger: a plain transfer runs no opcodes
    const plain = await trace(ours, 'plain', {});
    assert.deepEqual(plain, { gas: 21000, failed: false, returnValue: '0x', structLogs: [] });
    // the nested call, opcode by opcode, equal to anvil's (pc, op, gas, cost, depth, stack, storage)
    // (storage keys and values: geth prints them as bare hex, anvil with 0x)
    const bare = (m?: Record<string, string>) => (m ? Object.fromEntries(Object.entries(m).map(([k, v]) => [k.replace(/^0x/, ''), v.replace(/^0x/, '')])) : undefined);
    const pick = (l: any) => ({ pc: l.pc, op: l.op, gas: l.gas, gasCost: l.gasCost, depth: l.depth, stack: l.stack, storage: bare(l.storage) });
    const mine = await trace(ours, 'nested', {});
    const theirs = await trace(ref, 'nested', {});
    assert.equal(mine.gas, theirs.gas);
    assert.equal(mine.failed, false);
    assert.equal(mine.returnValue.replace(/^0x/, ''), theirs.returnValue.replace(/^0x/, ''));
    assert.ok(mine.structLogs.length > 100, `${mine.structLogs.length} steps`);
    assert.equal(mine.structLogs.length, theirs.structLogs.length, 'same number of steps');
    for (let i = 0; i < mine.structLogs.length; i++) assert.deepEqual(pick(mine.structLogs[i]), pick(theirs.structLogs[i]), `step ${i}`);
    assert.deepEqual(new Set(mine.structLogs.map((l: any) => l.depth)), new Set([1, 2]));
    const sstore = mine.structLogs.find((l: any) => l.op === 'SSTORE');
    assert.deepEqual(sstore.storage, { ['0'.repeat(64)]: (7).toString(16).padStart(64, '0') }, 'TraceInner.x = 7');
    // options: no stack; memory as 32-byte words; limit
    const lean = await trace(ours, 'nested', { disableStack: true, enableMemory: true, limit: 50 });
    assert.equal(lean.structLogs.length, 50);
    assert.equal(lean.structLogs[0].stack, undefined);
    assert.ok(lean.structLogs.some((l: any) => l.memory?.length >= 3 && l.memory.every((w: string) => /^[0-9a-f]{64}$/.test(w))));

    // debug_traceCall on the latest state
    const call = await rpc(node.url, 'debug_traceCall', [{ from, to: a.outer, data: iOuter.encodeFunctionData('fail', [1]) }, 'latest', { tracer: 'callTracer' }]);
    assert.equal(call.revertReason, 'outer fails');
    assert.equal(call.calls[0].type, 'CALL');

    // debug_traceBlockByNumber: every tx of the block, with its hash
    const blk = await rpc(node.url, 'debug_traceBlockByNumber', ['0x' + rc.nested!.ours.blockNumber.toString(16), { tracer: 'callTracer' }]);
    assert.ok(blk.some((t: any) => t.txHash === rc.nested!.ours.hash && t.result.calls.length === 2));

    // ethers: a trace request through the provider
    const viaEthers = await ours.provider.send('debug_traceTransaction', [rc.fail!.ours.hash, { tracer: 'callTracer' }]);
    assert.equal(viaEthers.revertReason, 'outer fails');

    // foundry's cast run replays the tx from the node's state and prints its call trace
    const cast = await run(join(ROOT, 'node_modules', '.bin', 'cast'), ['run', rc.nested!.ours.hash, '--rpc-url', node.url, '--evm-version', 'cancun']);
    assert.equal(cast.code, 0, cast.out);
    assert.match(cast.out, /Traces:/);
    assert.match(cast.out, new RegExp(a.inner.slice(2, 10), 'i'));
    assert.match(cast.out, /inner says no/);

    // bad input: typed errors, nothing traced
    const bad = await rpcRaw(node.url, 'debug_traceTransaction', [rc.nested!.ours.hash, { tracer: 'prestateTracer' }]);
    assert.equal(bad.error.code, -32000);
    assert.match(bad.error.message, /not supported/);
    const missing = await rpcRaw(node.url, 'debug_traceTransaction', ['0x' + '11'.repeat(32), {}]);
    assert.match(missing.error.message, /transaction not found/);
    const badTimeout = await rpcRaw(node.url, 'debug_traceTransaction', [rc.nested!.ours.hash, { timeout: 'soon' }]);
    assert.equal(badTimeout.error.code, -32602);
    const badHash = await rpcRaw(node.url, 'debug_traceTransaction', ['0x12', {}]);
    assert.equal(badHash.error.code, -32602);
  } finally {
    ours.provider.destroy();
    ref.provider.destroy();
    await anvil.stop();
    await node.stop();
  }
});
