/**
 * Bad input on a running chain: workloads executors must refuse (wasm whose bytes do not match the
 * registered hash, an endless loop, a memory hog) and calls the Hub must refuse, seen through the
 * node's RPC with the client's decoded error. Each refusal leaves everything else unchanged; tasks
 * nobody could run are refunded at their final deadline (category 0: 10T = 50 blocks).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { keccak256, parseEther, toUtf8Bytes, ZeroHash, ZeroAddress, type Contract } from 'ethers';
import { PocNet, WASM } from '../fixtures/poc-net.ts';
import { decodeRevert } from '../../executor/hub-client.ts';
import { waitFor } from '../helpers/proc.ts';
import { freePort } from '../../lib/anvil.ts';

let net: PocNet;
let server: Server;
const E = [1, 2, 3];
const OUTSIDER = 9;

before(async () => {
  // 500 ms blocks, the devnet's: category 0 gives a workload 2 s and an executor 2T = 10 blocks
  // from assignment to decline, so a runaway loop is declined in time only when 10 blocks are
  // well over 2 s (at 200 ms they are exactly 2 s since a height starts one block time after the last)
  net = await PocNet.start(500);
  await Promise.all(E.map((i) => net.startExecutor(i, { args: ['--withdraw-every', '0'] })));
});

after(async () => {
  server?.close();
  await net?.stop();
});

test('bad workloads: executors refuse to commit, the chain refunds at the final deadline; Hub refusals change nothing', { timeout: 120_000 }, async () => {
  // an app whose registered hash does not match what its uri serves
  const port = await freePort();
  server = createServer((_req, res) => res.end(readFileSync(WASM('echo'))));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const forged = keccak256(toUtf8Bytes('the bytes the owner claims'));
  const hubAs = (i: number) => net.hub.connect(net.wallet(i)) as Contract;
  await (await hubAs(0).registerApp(forged, 0, 0, `http://127.0.0.1:${port}/app.wasm`)).wait();
  const loopApp = await net.publishApp(0, WASM('loop'));
  const hogApp = await net.publishApp(0, WASM('memhog'));

  const escrow = parseEther('0.2');
  const tasks = new Map<string, bigint>();
  for (const [name, app] of [['forged', forged], ['loop', loopApp], ['memhog', hogApp]] as const) {
    tasks.set(name, (await net.request(0, { app, trust: 3, replicas: [3, 3], escrow, maxPrice: 0n })).taskId);
  }
  const expected: Record<string, RegExp> = { forged: /^CONTENT_HASH_MISMATCH/, loop: /^WASM_TIMEOUT/, memhog: /^WASM_MEMORY/ };
  for (const [name, id] of tasks) {
    for (const i of E) {
      const entry = await waitFor(`executor ${i} gives up ${name}`, async () => net.journal(i).find((e) => e.task === String(id) && e.t === 'abandoned'), 30_000);
      assert.match(entry.reason, expected[name]!, `executor ${i} on ${name}`);
      assert.ok(!net.journal(i).some((e) => e.task === String(id) && e.t === 'ran'), 'nothing journaled as a result');
    }
  }

  // Hub refusals through the RPC, with the decoded error, while the tasks are still open
  const open = tasks.get('loop')!;
  const before = await net.hub.getTask(open);
  assert.equal(Number(before.status), 1);
  const refused = async (p: Promise<unknown>, name: string) => assert.rejects(p, (e) => decodeRevert(e)?.name === name, name);
  await refused(hubAs(OUTSIDER).contribute(open, forged, forged), 'NotAssigned');
  await refused(hubAs(OUTSIDER).contribute(999n, forged, forged), 'UnknownTask');
  await refused(hubAs(OUTSIDER).reveal(open, forged), 'TaskNotRevealing');
  await refused(hubAs(OUTSIDER).requestTask(loopApp, ZeroHash, '0x', 0, 1, 1, 0, ZeroAddress, { value: escrow }), 'InvalidTrust');
  await refused(hubAs(OUTSIDER).requestTask(loopApp, ZeroHash, new Uint8Array(4097), 1, 1, 1, 0, ZeroAddress, { value: escrow }), 'InputTooLarge');
  await refused(hubAs(OUTSIDER).registerApp(loopApp, 0, 0, ''), 'AlreadyRegistered');
  await refused(hubAs(OUTSIDER).claim(open), 'ClaimTooEarly');
  const after = await net.hub.getTask(open);
  assert.deepEqual(after.toArray(), before.toArray(), 'refusals changed nothing');
  assert.equal(await net.hub.taskCount(), 3n);

  // the CLI says what went wrong, in one line, and exits 1
  const cli = await net.cli(['task', 'submit', '--app', loopApp, '--trust', '0', '--rpc', net.node.url, '--key-file', net.keyFile(OUTSIDER)]);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /InvalidTrust\(0\)/);
  const unknown = await net.cli(['task', 'submit', '--app', forged.replace(/.$/, '0'), '--rpc', net.node.url, '--key-file', net.keyFile(OUTSIDER)]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /CLI_UNKNOWN_APP/);

  // nobody committed: each executor declined (lock back at once, nothing lost, where letting the
  // assignment expire would cost EXPIRY_PENALTY); each task fails at its final deadline, escrow back
  for (const [name, id] of tasks) {
    await net.waitStatus(id, 4, 60_000);
    const logs = await net.taskLogs(id);
    assert.equal(logs.filter((l) => l.name === 'Contributed').length, 0, `${name}: no contribution`);
    assert.equal(logs.filter((l) => l.name === 'Declined').length, 3, `${name}: all three declined`);
    assert.equal(logs.filter((l) => l.name === 'Slashed').length, 0, `${name}: refusing to commit is not punished`);
    assert.deepEqual(logs.filter((l) => l.name === 'Refunded').map((l) => l.args.amount), [escrow], `${name}: escrow refunded`);
  }
  assert.equal(await net.hub.withdrawable(net.wallet(0).address), 3n * escrow);
  for (const i of E) assert.equal((await net.staking.executorInfo(net.executors.get(i)!.address)).locked, 0n);
});
