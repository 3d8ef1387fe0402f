/**
 * A public node's RPC against abusive clients, on a dev node process: wide log ranges, many
 * filters from one client, many subscriptions on one websocket, a websocket that never reads, and
 * large uploads. Each gets a clear -32005 error (or a close with a reason) and other clients keep
 * being served.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { WebSocket } from 'ws';
import { rpc, rpcRaw, startDevNode, waitFor, type NodeProc } from '../helpers/proc.ts';

const HUB = '0x0000000000000000000000000000000000001001';
let node: NodeProc;

before(async () => {
  node = await startDevNode({ args: ['--content-quota', '300000', '--content-grace', '3600'] });
});
after(async () => {
  await node?.stop();
});

/** JSON-RPC over HTTP from a given local address (the whole of 127/8 is loopback on Linux): another client. */
function rpcFrom(localAddress: string, method: string, params: unknown[] = []): Promise<any> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params });
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: node.port, method: 'POST', path: '/', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let out = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (out += c));
      res.on('end', () => resolve(JSON.parse(out)));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line ? Number(line.split(' ').pop()) : 0;
}

function openWs(): Promise<WebSocket> {
  const ws = new WebSocket(node.wsUrl);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Send one request on a websocket and wait for its reply (by id). */
function wsCall(ws: WebSocket, id: number, method: string, params: unknown[] = []): Promise<any> {
  return new Promise((resolve) => {
    const onMsg = (d: Buffer) => {
      const m = JSON.parse(d.toString());
      if (m.id === id) {
        ws.off('message', onMsg);
        resolve(m);
      }
    };
    ws.on('message', onMsg);
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  });
}

test('log queries: a wide range is refused before any block is read, by eth_getLogs and eth_getFilterLogs', async () => {
  let r = await rpcRaw(node.url, 'eth_getLogs', [{ fromBlock: '0x0', toBlock: '0x30000' }]);
  assert.equal(r.error?.code, -32005);
  assert.match(r.error.message, /query exceeds max block range 10000 \(asked for 196609 blocks/);
  const id = await rpc(node.url, 'eth_newFilter', [{ fromBlock: '0x0', toBlock: '0x100000', address: HUB }]);
  r = await rpcRaw(node.url, 'eth_getFilterLogs', [id]);
  assert.equal(r.error?.code, -32005);
  assert.match(r.error.message, /max block range 10000/);
  // a narrow query with a topic nothing emitted answers (blocks skipped by their bloom)
  await waitFor('a few blocks', async () => Number(await rpc(node.url, 'eth_blockNumber')) >= 3);
  assert.deepEqual(await rpc(node.url, 'eth_getLogs', [{ fromBlock: '0x0', toBlock: 'latest', topics: ['0x' + 'ee'.repeat(32)] }]), []);
  // log filter changes are a cursor: polling twice never repeats or fails
  const changes = await rpc(node.url, 'eth_newFilter', [{ topics: ['0x' + 'ee'.repeat(32)] }]);
  assert.deepEqual(await rpc(node.url, 'eth_getFilterChanges', [changes]), []);
  assert.deepEqual(await rpc(node.url, 'eth_getFilterChanges', [changes]), []);
});

test('filters are counted per client: one client at its limit does not stop another', async () => {
  const mine: string[] = [];
  for (let i = 0; i < 100; i++) {
    const r = await rpcFrom('127.0.0.3', 'eth_newBlockFilter');
    assert.ok(r.result, JSON.stringify(r));
    mine.push(r.result);
  }
  const refused = await rpcFrom('127.0.0.3', 'eth_newFilter', [{}]);
  assert.equal(refused.error?.code, -32005);
  assert.match(refused.error.message, /too many filters: this client has 100 installed \(limit 100 per client\)/);
  const other = await rpcFrom('127.0.0.4', 'eth_newBlockFilter');
  assert.ok(other.result, 'another client installs its filter');
  assert.equal((await rpcFrom('127.0.0.3', 'eth_uninstallFilter', [mine[0]])).result, true);
  assert.ok((await rpcFrom('127.0.0.3', 'eth_newBlockFilter')).result, 'uninstalling frees a slot');
});

test('subscriptions are counted per websocket connection', async () => {
  const a = await openWs();
  const b = await openWs();
  try {
    for (let i = 0; i < 100; i++) assert.ok((await wsCall(a, i + 1, 'eth_subscribe', ['newHeads'])).result);
    const r = await wsCall(a, 1000, 'eth_subscribe', ['logs', {}]);
    assert.equal(r.error?.code, -32005);
    assert.match(r.error.message, /too many subscriptions on this connection: 100 \(limit 100\)/);
    assert.ok((await wsCall(b, 1, 'eth_subscribe', ['newHeads'])).result, 'another connection subscribes');
  } finally {
    a.close();
    b.close();
  }
});

test('a websocket reader that never reads is closed with a reason; its buffer stays bounded; others are served', async () => {
  const slow = await openWs();
  const closed = new Promise<{ code: number; reason: string }>((resolve) => slow.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await wsCall(slow, 1, 'eth_subscribe', ['newHeads']);
  // Stop reading: the kernel buffers fill, then the server's send buffer grows. (`_socket` is the
  // ws client's TCP socket; pausing it is how a slow reader looks from the server.)
  (slow as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
  const before = await metric('pocchain_rpc_ws_slow_closed_total');
  // each reply carries the Hub's code (~30 KB of hex); 100 per batch, 60 batches (~180 MB): far
  // more than the 4 MiB allowed plus what the loopback socket buffers hold
  const batch = JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ jsonrpc: '2.0', id: 10 + i, method: 'eth_getCode', params: [HUB, 'latest'] })));
  let sent = 0;
  await waitFor('the slow reader to be cut off', async () => {
    if ((await metric('pocchain_rpc_ws_slow_closed_total')) > before) return true;
    if (sent < 60) {
      for (let i = 0; i < 5; i++) slow.send(batch);
      sent += 5;
    }
    // another client is served all along
    assert.match(await rpc(node.url, 'eth_blockNumber'), /^0x[0-9a-f]+$/);
    return false;
  }, 120_000, 50);
  (slow as unknown as { _socket: { resume(): void } })._socket.resume();
  const c = await closed;
  assert.equal(c.code, 1008);
  assert.match(c.reason, /too slow: more than 4194304 bytes of unsent responses\/notifications/);
  assert.match(await rpc(node.url, 'eth_blockNumber'), /^0x[0-9a-f]+$/);
  // the node never took the replies into memory: in-flight work per connection is bounded too
  const rss = await metric('pocchain_process_process_resident_memory_bytes');
  console.log(`# node RSS after the slow reader: ${Math.round(rss / 2 ** 20)} MiB`);
  assert.ok(rss < 1024 * 2 ** 20, `node RSS ${Math.round(rss / 2 ** 20)} MiB`);
});

test('uploads: one too large is refused before it is stored; the total is bounded; others keep uploading nothing too big', async () => {
  let r = await rpcRaw(node.url, 'pocchain_putContent', ['0x' + 'ab'.repeat(2 * 1024 * 1024 + 1)]);
  assert.equal(r.error?.code, -32005);
  assert.match(r.error.message, /content too large: 2097153 bytes, limit 2097152 per upload/);
  const blob = (fill: number) => '0x' + fill.toString(16).padStart(2, '0').repeat(100_000);
  for (let i = 1; i <= 3; i++) assert.match((await rpcRaw(node.url, 'pocchain_putContent', [blob(i)])).result, /^0x[0-9a-f]{64}$/);
  r = await rpcRaw(node.url, 'pocchain_putContent', [blob(4)]);
  assert.equal(r.error?.code, -32005);
  assert.match(r.error.message, /content store full: 300000 of 300000 bytes used, 100000 more do not fit/);
  const usage = await rpc(node.url, 'pocchain_contentUsage');
  assert.deepEqual(usage, { used: 300000, quota: 300000, blobs: 3, pinned: 0 });
  // the same bytes again are not stored twice (and not refused)
  assert.match((await rpcRaw(node.url, 'pocchain_putContent', [blob(1)])).result, /^0x[0-9a-f]{64}$/);
  assert.match(await rpc(node.url, 'eth_blockNumber'), /^0x[0-9a-f]+$/);
});
