/**
 * One devnet (anvil L1, 4 validators, 3 executors, relayer) for the explorer and the dApp example:
 * a transfer, a bridge deposit, and the dApp example (examples/dapp/run.ts: deploy a contract that
 * requests a computation from the Hub with a callback, wait, print the result). Then real headless
 * Chromium opens each explorer page on node0's RPC port: no console errors, the right data after
 * the transfer, the task and the deposit; the search box finds a block, a tx, an address and a
 * task; the live head moves over the websocket. Screenshots go to test-artifacts/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { JsonRpcProvider, Wallet, keccak256, parseEther, toUtf8Bytes } from 'ethers';
import { CLI, NODE, ROOT, rpc, tempDir, waitFor } from '../helpers/proc.ts';
import { launchBrowser, screenshot, watchedPage, type WatchedPage } from '../helpers/browser.ts';
import { isPortFree } from '../../devnet/ports.ts';
import { parseStatusLine } from '../../devnet/status.ts';
import { devAccounts } from '../../lib/keys.ts';
import { ensureExamples } from '../fixtures/poc-net.ts';

async function freeRange(n: number, avoid: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000); // below the ephemeral range
    const ports = Array.from({ length: n }, (_, i) => base + i);
    if (ports.some((p) => avoid.has(p))) continue;
    if ((await Promise.all(ports.map((p) => isPortFree(p)))).every(Boolean)) {
      ports.forEach((p) => avoid.add(p));
      return base;
    }
  }
  throw new Error('no free port range');
}

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const text = (w: WatchedPage, sel: string) => w.page.$eval(sel, (e) => e.textContent ?? '');

/** Open a page and wait until `sel` holds text matching `re` (pages load over RPC). */
async function openAndWait(w: WatchedPage, url: string, sel: string, re: RegExp): Promise<string> {
  await w.page.goto(url, { waitUntil: 'domcontentloaded' });
  return waitFor(`${sel} ~ ${re} at ${url}`, async () => {
    const t = await text(w, sel).catch(() => '');
    return re.test(t) ? t : undefined;
  }, 30_000, 200);
}

test('explorer pages in Chromium against a devnet, after a transfer, a deposit and the dApp example', { timeout: 420_000 }, async () => {
  await ensureExamples();
  const dir = join(tempDir('pocchain-explorer-'), 'devnet');
  const used = new Set<number>();
  const args = ['--dir', dir, '--rpc-port', String(await freeRange(4, used)), '--p2p-port', String(await freeRange(4, used)), '--l1-port', String(await freeRange(1, used)), '--status-interval', '1'];
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const devnet: ChildProcess = spawn(NODE, [CLI, 'devnet', ...args], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  devnet.stdout!.on('data', (d) => (out += d));
  devnet.stderr!.on('data', (d) => (err += d));
  const browser = await launchBrowser();
  try {
    await waitFor('devnet with 3 executors', async () => {
      if (devnet.exitCode !== null) throw new Error(`devnet exited: ${err}`);
      return out.split('\n').map(parseStatusLine).find((s) => s && Number(s.height) >= 3 && s.executors === '3');
    }, 180_000, 250);
    const m = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8'));
    const url = m.nodes[0].rpc as string;
    const keys = devAccounts(6);
    const provider = new JsonRpcProvider(url, undefined, { cacheTimeout: -1, pollingInterval: 200 });

    // a transfer
    const alice = new Wallet(keys[1]!.privateKey, provider);
    const bob = Wallet.createRandom().address;
    const transfer = (await (await alice.sendTransaction({ to: bob, value: parseEther('1.5') })).wait())!;

    // a bridge deposit to a fresh address, minted after L1 finality
    const carol = Wallet.createRandom().address;
    const dep = await run([CLI, 'bridge', 'deposit', '--l1-rpc', m.l1.rpc, '--amount', '100', '--to', carol, '--rpc', url, '--quiet'], { POCCHAIN_KEY: keys[2]!.privateKey });
    assert.equal(dep.code, 0, dep.stderr);
    await waitFor('deposit minted', async () => (await provider.getBalance(carol)) === parseEther('100'), 120_000, 250);

    // the dApp example, end to end: deploy, request through the contract, callback, result
    const dapp = await run(['examples/dapp/run.ts', '--rpc', url, '--input', 'hello explorer', '--json', '--timeout', '150'], { POCCHAIN_KEY: keys[3]!.privateKey });
    assert.equal(dapp.code, 0, dapp.stderr);
    const d = JSON.parse(dapp.stdout);
    assert.equal(d.result, 'hello explorer');
    assert.equal(d.verified, true);
    assert.equal(d.digest, keccak256(toUtf8Bytes('hello explorer')));
    const consumer = new (await import('ethers')).Contract(d.contract, ['function results(uint256) view returns (bytes32)', 'function completed() view returns (uint256)'], provider);
    assert.equal(await consumer.getFunction('results')(BigInt(d.taskId)), d.digest, 'the Hub called back and the contract stored the result');
    assert.equal(await consumer.getFunction('completed')(), 1n);

    // the explorer, in Chromium
    const w = await watchedPage(browser.browser);
    const pages: string[] = [];
    const shot = async (name: string) => {
      pages.push(name);
      await screenshot(w.page, `explorer-${name}`);
    };

    // home: GET / redirects; latest blocks and txs; the live head moves over the websocket
    await openAndWait(w, `${url}/`, '[data-testid=latest-blocks]', /\d/);
    assert.match(w.page.url(), /\/explorer\/$/);
    const head0 = Number(await waitFor('live head', async () => {
      const t = await text(w, '[data-testid=live-head]');
      return /^\d+$/.test(t) ? t : undefined;
    }, 30_000, 200));
    await waitFor('a later head pushed to the page', async () => Number(await text(w, '[data-testid=live-head]')) > head0, 30_000, 200);
    assert.ok(await w.page.$('[data-testid=chart] canvas'), 'uPlot chart drawn');
    await shot('home');

    // the transfer: tx page, address page (balance, indexed tx), block page
    const txText = await openAndWait(w, `${url}/explorer/#/tx/${transfer.hash}`, 'main', /success/);
    assert.match(txText, new RegExp(transfer.hash));
    assert.equal(await text(w, '[data-testid=tx-value]'), '1.5');
    await shot('tx');
    await openAndWait(w, `${url}/explorer/#/address/${bob}`, '[data-testid=addr-balance]', /^1\.5$/);
    assert.match(await text(w, '[data-testid=addr-txs]'), new RegExp(transfer.hash.slice(0, 10)));
    await shot('address');
    await openAndWait(w, `${url}/explorer/#/block/${transfer.blockNumber}`, '[data-testid=block-txs]', new RegExp(transfer.hash.slice(0, 10)));
    await shot('block');

    // validators: the 4 of the devnet, each having signed recent blocks
    const vals = await openAndWait(w, `${url}/explorer/#/validators`, '[data-testid=validators]', /power/);
    assert.equal((await w.page.$$('[data-testid=validators] tr')).length, 5);
    assert.ok(vals.length > 0);
    await shot('validators');

    // compute market: the dApp's task completed; executors and the app listed; the task page
    await openAndWait(w, `${url}/explorer/#/compute`, '[data-testid=tasks]', new RegExp(`#${d.taskId}\\s*completed`));
    assert.equal((await w.page.$$('[data-testid=executors] tr')).length, 4, '3 executors');
    assert.match(await text(w, '[data-testid=apps]'), new RegExp(d.app.slice(2, 8)));
    await shot('compute');
    await openAndWait(w, `${url}/explorer/#/task/${d.taskId}`, '[data-testid=task-detail-status]', /completed/);
    const events = await text(w, '[data-testid=task-events]');
    for (const e of ['TaskAssigned', 'Contributed', 'Revealed', 'TaskFinalized', 'Paid', 'CallbackResult']) assert.match(events, new RegExp(e));
    assert.match(await text(w, '[data-testid=task-votes]'), /3$/m, 'three agreeing contributors');
    await shot('task');

    // bridge: the deposit, the minted total, a checkpoint on L1
    await openAndWait(w, `${url}/explorer/#/bridge`, '[data-testid=deposits]', new RegExp(carol.slice(2, 8), 'i'));
    assert.match(await text(w, '[data-testid=bridge-invariant]'), /minted − burned/);
    await shot('bridge');

    // decoded input of a system-contract call: the app's registration in the Hub
    const regTx = (await rpc(url, 'pocchain_explorerAddressTxs', [keys[3]!.address, 50])).map((t: any) => t.hash);
    let decodedSeen = false;
    for (const h of regTx) {
      const t = await rpc(url, 'eth_getTransactionByHash', [h]);
      if (t.to?.toLowerCase() !== '0x0000000000000000000000000000000000001001') continue;
      await openAndWait(w, `${url}/explorer/#/tx/${h}`, '[data-testid=tx-decoded]', /Hub\.registerApp/);
      decodedSeen = true;
      break;
    }
    assert.ok(decodedSeen, 'the registerApp tx is decoded');

    // search: block number, tx hash, address, task id
    for (const [q, re] of [[String(transfer.blockNumber), new RegExp(`#/block/${transfer.blockNumber}$`)], [transfer.hash, new RegExp(`#/tx/${transfer.hash}$`)], [bob, new RegExp(`#/address/${bob}$`, 'i')], [`task ${d.taskId}`, new RegExp(`#/task/${d.taskId}$`)]] as const) {
      await w.page.goto(`${url}/explorer/#/`, { waitUntil: 'domcontentloaded' });
      await w.page.waitForSelector('[data-testid=search]');
      await w.page.click('[data-testid=search]', { count: 3 }); // select what is there: typing replaces it
      await w.page.type('[data-testid=search]', q);
      await w.page.keyboard.press('Enter');
      await waitFor(`search ${q}`, async () => re.test(w.page.url()), 15_000, 100);
    }
    await w.page.goto(`${url}/explorer/#/`, { waitUntil: 'domcontentloaded' });
    await w.page.waitForSelector('[data-testid=search]');
    await w.page.type('[data-testid=search]', '0x' + 'ab'.repeat(32));
    await w.page.keyboard.press('Enter');
    await waitFor('nothing found', async () => (await text(w, '[data-testid=search-msg]')) === 'nothing found', 15_000, 100);

    assert.deepEqual(w.problems, [], 'no console errors or failed requests on any page');
    assert.equal(pages.length, 8, 'home, tx, address, block, validators, compute, task, bridge');
    provider.destroy();
  } finally {
    await browser.close();
    process.kill(-devnet.pid!, 'SIGINT');
    await waitFor('devnet exit', async () => devnet.exitCode !== null || devnet.signalCode !== null, 90_000, 200).catch(() => process.kill(-devnet.pid!, 'SIGKILL'));
  }
  if (!process.env.POCCHAIN_KEEP_TEST_DIRS) rmSync(dirname(dir), { recursive: true, force: true });
});
