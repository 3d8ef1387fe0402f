/**
 * The quick start as a new user meets it: clone the repository's HEAD into a temporary directory,
 * `npm ci` there (no build step), `npx pocchain --help` with the machine's own npx, then
 * `npm start` in its own process group; wait for the RPC and a committed block, Ctrl-C, and find
 * every child process gone. The devnet gets free ports through `npm start -- --rpc-port …` so a
 * devnet already running on this machine (8545…) does not make the test fail; the quick start's
 * default ports are covered by the devnet's own busy-port check and tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, rpc, tempDir, waitFor } from '../helpers/proc.ts';
import { alive, ctrlC, devnetPortArgs, manifestPids, processesUnder, spawnGroup, userEnv } from '../helpers/devnet.ts';

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('fresh clone: npm ci, npx pocchain --help, npm start up with a committed block, Ctrl-C leaves no process', { timeout: 900_000 }, async () => {
  const tmp = tempDir('pocchain-clone-');
  const clone = join(tmp, 'pocchain');
  try {
    const head = execFileSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    execFileSync('git', ['clone', '--quiet', '--no-checkout', ROOT, clone]);
    execFileSync('git', ['-C', clone, 'checkout', '--quiet', '--detach', head]);
    assert.equal(existsSync(join(clone, 'node_modules')), false);

    const ci = await run('npm', ['ci'], clone);
    assert.equal(ci.code, 0, `npm ci:\n${ci.stderr.slice(-3000)}`);

    const help = await run('npx', ['pocchain', '--help'], clone);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Usage: pocchain/);
    for (const c of ['devnet', 'balance', 'withdraw', 'task', 'bridge']) assert.match(help.stdout, new RegExp(`\\n {2}${c}\\b`), `--help lists ${c}`);
    assert.doesNotMatch(help.stderr, /artifact|npm run build/);

    const ports = await devnetPortArgs();
    const dev = spawnGroup('npm', ['start', '--', ...ports.args, '--status-interval', '1'], { cwd: clone, env: userEnv() });
    let pids: number[] = [];
    try {
      const url = `http://127.0.0.1:${ports.rpcPort}`;
      await waitFor(
        'the RPC answers with a committed block',
        async () => {
          if (dev.child.exitCode !== null) throw new Error(`npm start exited ${dev.child.exitCode}:\n${dev.err()}`);
          return Number(await rpc(url, 'eth_blockNumber')) >= 1;
        },
        240_000,
        250,
      );
      const block = await rpc(url, 'eth_getBlockByNumber', ['0x1', false]);
      assert.match(block.hash, /^0x[0-9a-f]{64}$/);
      await waitFor('the manifest lists the running children', async () => existsSync(join(clone, '.pocchain/devnet/devnet.json')) && JSON.parse(readFileSync(join(clone, '.pocchain/devnet/devnet.json'), 'utf8')).running === true, 60_000, 250);
      pids = manifestPids(JSON.parse(readFileSync(join(clone, '.pocchain/devnet/devnet.json'), 'utf8')));
      assert.equal(pids.length, 9, 'anvil, 4 validators, 3 executors, relayer');
      for (const pid of pids) assert.ok(alive(pid), `child ${pid} runs`);
    } finally {
      await ctrlC(dev);
    }
    assert.match(dev.err(), /devnet stopped; data kept/);
    for (const pid of pids) assert.equal(alive(pid), false, `child ${pid} exited`);
    assert.deepEqual(processesUnder(clone), [], 'no process left running from the clone');
    // nothing a user ran wrote into tracked files (no build step rewrote contracts/build)
    assert.equal(execFileSync('git', ['-C', clone, 'status', '--porcelain'], { encoding: 'utf8' }), '');
  } finally {
    if (!process.env.POCCHAIN_KEEP_TEST_DIRS) rmSync(tmp, { recursive: true, force: true });
  }
});
