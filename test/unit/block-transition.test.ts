/**
 * The block transition is one fixed list of steps: the order in which the node's layers are wired
 * (plugins) never changes the order of execution or the state root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, bytesToHex, equalsBytes, hexToBytes } from '@ethereumjs/util';
import { keccak256, toUtf8Bytes, Wallet } from 'ethers';
import { SYSTEM_CALL_REVERTED_TOPIC, systemReverts, type SystemContext } from '../../chain/execute.ts';
import { Chain } from '../../chain/chain.ts';
import { buildGenesis } from '../../chain/devgenesis.ts';
import { BLOCK_STEPS, blockTransition, implementedSteps, type SystemOps, type SystemStep } from '../../consensus/transition.ts';
import { EMPTY_SYS, sysHash, type SysData } from '../../consensus/envelope.ts';
import { describeSystemRevert, hubInGenesis, hubSteps } from '../../consensus/hub.ts';
import { Interface } from 'ethers';
import { loadArtifact } from '../../contracts/artifacts.ts';
import { depositSteps } from '../../bridge/deposits-hook.ts';
import { isPocError } from '../../lib/errors.ts';

function recorder(steps: SystemStep[], log: string[]): SystemOps {
  return Object.fromEntries(steps.map((s) => [s, async (ctx: SystemContext<SysData>) => void log.push(`${s}:${ctx.inputs === EMPTY_SYS ? 'empty' : 'sys'}`)]));
}

async function runBlock(parts: SystemOps[], inputs?: SysData): Promise<string[]> {
  const log: string[] = [];
  const hooks = blockTransition(parts.map((p) => Object.fromEntries(Object.entries(p).map(([k, op]) => [k, async (ctx: any) => (log.push(k), op!(ctx))]))));
  const ctx = { inputs } as unknown as SystemContext<SysData>;
  await hooks.beforeTxs!(ctx);
  log.push('transactions');
  await hooks.afterTxs!(ctx);
  return log;
}

test('steps run in the protocol order whatever the order of the parts', async () => {
  const noop = async () => {};
  const hub: SystemOps = { schedule: noop, finalize: noop };
  const bridge: SystemOps = { deposits: noop };
  const staking: SystemOps = { epoch: noop, slashing: noop };
  for (const parts of [
    [hub, bridge, staking],
    [bridge, hub, staking],
    [staking, hub, bridge],
    [hub, staking, bridge],
  ]) {
    assert.deepEqual(await runBlock(parts), [...BLOCK_STEPS]);
  }
  assert.deepEqual(await runBlock([hub]), ['schedule', 'transactions', 'finalize']);
  assert.deepEqual(implementedSteps([bridge, hub]), ['deposits', 'schedule', 'transactions', 'finalize']);
});

test('operations see the typed system inputs, the empty ones when a block carries none', async () => {
  const log: string[] = [];
  const hooks = blockTransition([recorder(['deposits', 'finalize'], log)]);
  const sys: SysData = { evidence: [], deposits: [] };
  await hooks.beforeTxs!({ inputs: undefined } as unknown as SystemContext<SysData>);
  await hooks.afterTxs!({ inputs: sys } as unknown as SystemContext<SysData>);
  assert.deepEqual(log, ['deposits:empty', 'finalize:sys']);
});

test('a step implemented twice, or a step that does not exist, is refused when the transition is made', () => {
  const noop = async () => {};
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      assert.ok(isPocError(e));
      return e.code;
    }
    return 'no error';
  };
  assert.equal(code(() => blockTransition([{ schedule: noop }, { schedule: noop }])), 'TRANSITION_STEP_TAKEN');
  assert.equal(code(() => blockTransition([{ transactions: noop } as unknown as SystemOps])), 'TRANSITION_UNKNOWN_STEP');
  assert.equal(code(() => blockTransition([{ mint: noop } as unknown as SystemOps])), 'TRANSITION_UNKNOWN_STEP');
  assert.equal(code(() => blockTransition([undefined, { finalize: noop }, { epoch: undefined }])), 'no error');
});

test('a block with a deposit and the Hub system calls has one state root whatever the plugin order', async () => {
  const genesis = buildGenesis({ chainId: 4243, validators: [{ pubKey: '0x' + '22'.repeat(32), address: Wallet.createRandom().address, power: 1 }] });
  assert.ok(hubInGenesis(genesis), 'the dev genesis has the Hub (compiled contracts are committed)');
  const sys: SysData = { evidence: [], deposits: [{ nonce: 0n, recipient: hexToBytes(Wallet.createRandom().address as `0x${string}`), amount: 5n * 10n ** 18n, l1TxHash: hexToBytes(keccak256(toUtf8Bytes('l1 tx')) as `0x${string}`) }] };
  const roots: string[] = [];
  for (const order of [
    [hubSteps(), depositSteps()],
    [depositSteps(), hubSteps()],
  ]) {
    const dir = mkdtempSync(join(tmpdir(), 'transition-'));
    const chain = await Chain.open({ datadir: dir, genesis, hooks: blockTransition(order) });
    try {
      for (let i = 0; i < 2; i++) {
        const s = i === 0 ? sys : EMPTY_SYS;
        const res = await chain.build(chain.nextHeader({ coinbase: new Uint8Array(20), extraData: sysHash(s) }), [], 100, s);
        await chain.commit(res);
      }
      roots.push(Buffer.from(chain.head.header.stateRoot).toString('hex'));
    } finally {
      await chain.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.equal(roots[0], roots[1]);
});

test('a system call allowed to revert leaves a SystemCallReverted log; one not allowed invalidates the block', async () => {
  const genesis = buildGenesis({ chainId: 4244, validators: [{ pubKey: '0x' + '22'.repeat(32), address: Wallet.createRandom().address, power: 1 }] });
  // runtime code: revert with the 4 bytes 0xdeadbeef as return data; and a contract that returns nothing
  const reverter = '0x00000000000000000000000000000000000c0de1';
  const quiet = '0x00000000000000000000000000000000000c0de2';
  genesis.alloc[reverter] = { balance: '0x0', code: '0x63deadbeef6000526004601cfd' };
  genesis.alloc[quiet] = { balance: '0x0', code: '0x00' };
  const call = (to: string, allowRevert: boolean) => async (ctx: SystemContext<SysData>) => void (await ctx.call(new Address(hexToBytes(to as `0x${string}`)), hexToBytes('0x12345678aabb'), { allowRevert }));
  const dir = mkdtempSync(join(tmpdir(), 'transition-'));
  const open = (ops: SystemOps) => Chain.open({ datadir: dir, genesis, hooks: blockTransition([ops]) });
  let chain = await open({ schedule: call(reverter, true), finalize: call(quiet, true) });
  try {
    const seen: unknown[] = [];
    chain.on('block', ({ systemLogs }) => seen.push(...systemReverts(systemLogs)));
    const res = await chain.build(chain.nextHeader({ coinbase: new Uint8Array(20), extraData: sysHash(EMPTY_SYS) }), [], 100, EMPTY_SYS);
    assert.deepEqual(systemReverts(res.systemLogs), [{ target: reverter, selector: '0x12345678', error: 'revert', returnData: '0xdeadbeef' }]);
    assert.equal(res.systemLogs.length, 1, 'the call that succeeded leaves no log');
    assert.deepEqual(res.systemLogs[0]!.topics[0], SYSTEM_CALL_REVERTED_TOPIC);
    assert.equal(bytesToHex(SYSTEM_CALL_REVERTED_TOPIC), keccak256(toUtf8Bytes('SystemCallReverted(address,bytes4,string,bytes)')));
    await chain.commit(res);
    assert.equal(seen.length, 1, 'the committed block carries it');
    // served with the block's other system logs (the system receipt): eth_getLogs finds it
    const receipts = await chain.getReceipts(res.block.hash());
    assert.ok(receipts?.some((r) => r.logs.some((l) => equalsBytes(l.topics[0]!, SYSTEM_CALL_REVERTED_TOPIC))));
    await chain.close();
    chain = await open({ schedule: call(reverter, false) });
    await assert.rejects(chain.build(chain.nextHeader({ coinbase: new Uint8Array(20), extraData: sysHash(EMPTY_SYS) }), [], 100, EMPTY_SYS), (e: unknown) => isPocError(e) && e.code === 'BLOCK_INVALID');
  } finally {
    await chain.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a system revert is described by the custom error of the Hub or Validators, else by its bytes', () => {
  const v = new Interface(loadArtifact('Validators').abi);
  const err = v.fragments.find((f) => f.type === 'error' && (f as any).inputs.length === 0) as any;
  assert.ok(err, 'Validators declares an error without arguments');
  assert.equal(describeSystemRevert(v.encodeErrorResult(err.name, [])), `${err.name}()`);
  assert.equal(describeSystemRevert('0x'), 'empty revert data (out of gas or invalid opcode)');
  assert.equal(describeSystemRevert('0xdeadbeef'), '0xdeadbeef');
});
