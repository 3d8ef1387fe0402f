/**
 * eth_call jobs on the worker pool, over a real chain in a temp LevelDB: the worker reads committed
 * state from the shared database, the gas cap and the wall-time limit stop endless loops, a full
 * queue refuses at once, and the main thread keeps running while a call loops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { hexToBytes } from '@ethereumjs/util';
import { Chain } from '../../chain/chain.ts';
import { buildGenesis } from '../../chain/devgenesis.ts';
import { WorkerCallRunner } from '../../chain/rpc/call-pool.ts';
import { parseCall, runJob, type CallEnv, type CallJob } from '../../chain/rpc/call.ts';
import { RPC, RpcError } from '../../chain/rpc/server.ts';
import { tempDir } from '../helpers/proc.ts';

const LOOP = '0x' + '11'.repeat(20); // JUMPDEST PUSH1 0 JUMP: loops until out of gas
const ANSWER = '0x' + '22'.repeat(20); // returns storage slot 0
const REVERTS = '0x' + '33'.repeat(20); // REVERT(0, 0)
const a = Wallet.createRandom();
const genesis = buildGenesis({ chainId: 778, validators: [{ pubKey: '0x' + '11'.repeat(32), address: a.address, power: 1 }], funded: [a.address] });
genesis.alloc[LOOP] = { balance: '0x0', code: '0x5b600056' };
genesis.alloc[ANSWER] = { balance: '0x0', code: '0x60005460005260206000f3', storage: { '0x00': '0x2a' } };
genesis.alloc[REVERTS] = { balance: '0x0', code: '0x60006000fd' };

function job(chain: Chain, to: string, kind: CallJob['kind'] = 'call', gasCap = 50_000_000n): CallJob {
  const b = chain.head;
  return { kind, block: { stateRoot: b.header.stateRoot, header: b.header.toJSON() }, call: parseCall({ to }), gasCap };
}

async function withPool(opts: { workers?: number; queue?: number; timeoutMs?: number }, fn: (chain: Chain, pool: WorkerCallRunner, outcomes: string[]) => Promise<void>) {
  const chain = await Chain.open({ datadir: tempDir(), genesis });
  const outcomes: string[] = [];
  const pool = new WorkerCallRunner({ location: chain.store.level.location, chainId: chain.chainId, workers: opts.workers ?? 1, queue: opts.queue ?? 4, timeoutMs: opts.timeoutMs ?? 60_000, onJob: (o) => outcomes.push(o) });
  try {
    await pool.start();
    await fn(chain, pool, outcomes);
  } finally {
    await pool.stop();
    await chain.close();
  }
}

test('a worker reads committed state from the shared database; reverts and estimates come back as geth gives them', async () => {
  await withPool({}, async (chain, pool) => {
    assert.equal(await pool.run(job(chain, ANSWER)), '0x' + '00'.repeat(31) + '2a');
    await assert.rejects(pool.run(job(chain, REVERTS)), (e: RpcError) => e.code === RPC.REVERTED && e.message === 'execution reverted');
    const gas = BigInt((await pool.run(job(chain, ANSWER, 'estimateGas'))) as string);
    assert.ok(gas > 21_000n && gas < 30_000n, `estimate ${gas}`);
    // a state root that is not in the database is an error, not a hang
    const bad = job(chain, ANSWER);
    bad.block.stateRoot = hexToBytes(('0x' + 'ab'.repeat(32)) as `0x${string}`);
    await assert.rejects(pool.run(bad));
    assert.equal(await pool.run(job(chain, ANSWER)), '0x' + '00'.repeat(31) + '2a', 'the worker still serves');
  });
});

test('the gas cap ends an endless loop with out of gas', async () => {
  await withPool({}, async (chain, pool) => {
    await assert.rejects(pool.run(job(chain, LOOP, 'call', 200_000n)), (e: RpcError) => e.code === RPC.SERVER && /out of gas/.test(e.message));
    await assert.rejects(pool.run(job(chain, LOOP, 'estimateGas', 200_000n)), (e: RpcError) => e.code === RPC.SERVER && e.message === 'gas required exceeds allowance (200000)');
  });
});

test('the wall-time limit aborts a long call, the worker is replaced, and the main thread ran meanwhile', async () => {
  await withPool({ timeoutMs: 400 }, async (chain, pool, outcomes) => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    try {
      // 50M gas of loop takes seconds in the EVM: far beyond 400 ms
      await assert.rejects(pool.run(job(chain, LOOP)), (e: RpcError) => e.code === RPC.SERVER && e.message === 'execution aborted (timeout = 0.4s)');
    } finally {
      clearInterval(timer);
    }
    assert.ok(ticks >= 5, `the main thread's timers fired ${ticks} times while the call looped`);
    assert.equal(await pool.run(job(chain, ANSWER)), '0x' + '00'.repeat(31) + '2a', 'a fresh worker serves the next call');
    assert.deepEqual(outcomes, ['timeout', 'ok']);
  });
});

test('a full queue refuses at once with -32005; queued calls still run', async () => {
  await withPool({ workers: 1, queue: 1, timeoutMs: 300 }, async (chain, pool, outcomes) => {
    const first = pool.run(job(chain, LOOP));
    const second = pool.run(job(chain, ANSWER));
    await assert.rejects(pool.run(job(chain, ANSWER)), (e: RpcError) => e.code === RPC.LIMIT && /too many concurrent calls: 1 running and 1 queued \(limit 1\)/.test(e.message));
    await assert.rejects(first, /execution aborted/);
    assert.equal(await second, '0x' + '00'.repeat(31) + '2a');
    assert.deepEqual(outcomes, ['rejected', 'timeout', 'ok']);
  });
});

test('calls and state VMs leave nothing subscribed to the shared Common (a call worker ran out of memory that way)', async () => {
  const chain = await Chain.open({ datadir: tempDir(), genesis });
  try {
    const env: CallEnv = { common: chain.common, stateAt: (root) => chain.stateAt(root), blockHash: (n) => chain.store.loadHashByNumber(n) };
    const listeners = () => chain.common.events.listenerCount('hardforkChanged');
    const before = listeners();
    for (let i = 0; i < 20; i++) {
      assert.equal(await runJob(env, job(chain, ANSWER)), '0x' + '00'.repeat(31) + '2a');
      await chain.vmAt(chain.head.header.stateRoot);
    }
    assert.equal(listeners(), before, 'each job VM and vmAt VM subscribed to the Common it was given, and stayed reachable');
  } finally {
    await chain.close();
  }
});
