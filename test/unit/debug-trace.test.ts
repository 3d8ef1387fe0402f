/** Pure parts of debug_trace*: trace options, geth's CALL cost, struct log caps and shapes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAddressFromString } from '@ethereumjs/util';
import { parseDuration, parseTraceConfig } from '../../chain/rpc/debug.ts';
import { opCost, StructLogger, TraceLimitError, revertReason, gethError } from '../../chain/rpc/tracers.ts';
import { RpcError } from '../../chain/rpc/server.ts';
import { AbiCoder } from 'ethers';

test('parseDuration: geth duration strings, anything else refused', () => {
  for (const [s, ms] of [['300ms', 300], ['5s', 5000], ['1.5s', 1500], ['2m', 120_000]] as const) assert.equal(parseDuration(s), ms);
  for (const bad of ['5', 's', '-1s', '5h', 5, null]) assert.throws(() => parseDuration(bad), (e: unknown) => e instanceof RpcError && e.code === -32602);
});

test('parseTraceConfig: defaults, callTracer options, caps, refusals', () => {
  const d = parseTraceConfig(undefined, 10_000);
  assert.equal(d.tracer, undefined);
  assert.equal(d.timeoutMs, 10_000);
  assert.deepEqual(d.log, { disableStack: false, disableStorage: false, enableMemory: false, enableReturnData: false, limit: 0 });
  const c = parseTraceConfig({ tracer: 'callTracer', tracerConfig: { onlyTopCall: true }, timeout: '1m' }, 10_000);
  assert.equal(c.tracer, 'callTracer');
  assert.equal(c.onlyTopCall, true);
  assert.equal(c.timeoutMs, 10_000, 'a client may shorten the deadline, never lengthen it');
  assert.equal(parseTraceConfig({ timeout: '50ms' }, 10_000).timeoutMs, 50);
  const cases: [unknown, number][] = [
    [{ tracer: 'prestateTracer' }, -32000],
    [{ tracer: 'function() {}' }, -32000],
    [{ stateOverrides: {} }, -32602],
    [{ limit: -1 }, -32602],
    [{ limit: 1.5 }, -32602],
    [{ disableStack: 'yes' }, -32602],
    [[], -32602],
  ];
  for (const [cfg, code] of cases) assert.throws(() => parseTraceConfig(cfg, 10_000), (e: unknown) => e instanceof RpcError && e.code === code, JSON.stringify(cfg));
});

const op = (name: string, fee: number, dynamicFee?: bigint) => ({ name, fee, dynamicFee: dynamicFee ?? BigInt(fee), isAsync: false, code: 0 });

test('opCost: the CALL family includes the gas handed to the callee (all but 1/64, at most asked)', () => {
  // numbers from a real trace (anvil agrees): 178522 left, 2600 cold access, all gas asked
  assert.equal(opCost({ gasLeft: 178522n, stack: [0n, 0n, 0n, 0n, 0n, 0n, 0x2b95an * 100n], opcode: op('CALL', 0, 2600n) }), 175774n);
  assert.equal(opCost({ gasLeft: 178522n, stack: [1000n], opcode: op('STATICCALL', 0, 100n) }), 1100n, 'asked less than the cap');
  assert.equal(opCost({ gasLeft: 100n, stack: [1000n], opcode: op('CALL', 0, 2600n) }), 2600n, 'out of gas: the plain cost');
  assert.equal(opCost({ gasLeft: 1000n, stack: [1n], opcode: op('ADD', 3) }), 3n);
  assert.equal(opCost({ gasLeft: 50000n, stack: [1n, 2n, 3n], opcode: op('CREATE', 32000, 32000n) }), 32000n, 'CREATE: geth does not add the forwarded gas');
});

function step(i: number, extra: Partial<Record<string, unknown>> = {}): any {
  return { pc: i, opcode: op('PUSH1', 3), gasLeft: 1000n - BigInt(i) * 3n, gasRefund: 0n, depth: 0, stack: [BigInt(i), 255n], memory: new Uint8Array(64).fill(1), address: createAddressFromString('0x' + '11'.repeat(20)), stateManager: {}, ...extra };
}

test('StructLogger: geth shape, options, entry and byte caps', async () => {
  const sl = new StructLogger({ enableMemory: true }, { maxEntries: 10, maxBytes: 1e6 });
  sl.step(step(0));
  await sl.step(step(1, { opcode: op('SSTORE', 0, 22100n), stack: [7n, 0n] }));
  assert.deepEqual(sl.logs[0], { pc: 0, op: 'PUSH1', gas: 1000, gasCost: 3, depth: 1, stack: ['0x0', '0xff'], memory: ['01'.repeat(32), '01'.repeat(32)] });
  assert.deepEqual(sl.logs[1]!.storage, { ['0'.repeat(64)]: '7'.padStart(64, '0') });
  assert.deepEqual(sl.result(21000n, false, new Uint8Array()), { gas: 21000, failed: false, returnValue: '0x', structLogs: sl.logs });

  const capped = new StructLogger({}, { maxEntries: 2, maxBytes: 1e6 });
  capped.step(step(0));
  capped.step(step(1));
  assert.throws(() => capped.step(step(2)), (e: unknown) => e instanceof TraceLimitError && e.code === 'TRACE_LIMIT');
  const limited = new StructLogger({ limit: 2 }, { maxEntries: 100, maxBytes: 1e6 });
  for (let i = 0; i < 5; i++) limited.step(step(i));
  assert.equal(limited.logs.length, 2, "geth's limit truncates without an error");
  const small = new StructLogger({ enableMemory: true }, { maxEntries: 100, maxBytes: 500 });
  assert.throws(() => {
    for (let i = 0; i < 10; i++) small.step(step(i));
  }, (e: unknown) => e instanceof TraceLimitError && /bytes/.test((e as Error).message));
  const timed = new StructLogger({}, { maxEntries: 100, maxBytes: 1e6 }, () => {
    throw new TraceLimitError('TRACE_TIMEOUT', 'late');
  });
  assert.throws(() => timed.step(step(0)), (e: unknown) => e instanceof TraceLimitError && e.code === 'TRACE_TIMEOUT');
});

test('revertReason and gethError', () => {
  const data = '0x08c379a0' + AbiCoder.defaultAbiCoder().encode(['string'], ['nope']).slice(2);
  assert.equal(revertReason(Buffer.from(data.slice(2), 'hex')), 'nope');
  assert.equal(revertReason(new Uint8Array([1, 2, 3, 4])), undefined);
  assert.equal(gethError('revert'), 'execution reverted');
  assert.equal(gethError('invalid JUMP'), 'invalid jump destination');
  assert.equal(gethError('something new'), 'something new');
});
