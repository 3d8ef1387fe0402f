/**
 * The block transition is one fixed list of steps: the order in which the node's layers are wired
 * (plugins) never changes the order of execution or the state root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hexToBytes } from '@ethereumjs/util';
import { keccak256, toUtf8Bytes, Wallet } from 'ethers';
import type { SystemContext } from '../../chain/execute.ts';
import { Chain } from '../../chain/chain.ts';
import { buildGenesis } from '../../chain/devgenesis.ts';
import { BLOCK_STEPS, blockTransition, implementedSteps, type SystemOps, type SystemStep } from '../../consensus/transition.ts';
import { EMPTY_SYS, sysHash, type SysData } from '../../consensus/envelope.ts';
import { hubInGenesis, hubSteps } from '../../consensus/hub.ts';
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
