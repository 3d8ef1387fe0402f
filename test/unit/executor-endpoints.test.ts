/** Executor failover: the --rpc list, the switch rule, the provider moving to the next node, the subscription following it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { Endpoints, FailoverProvider, parseRpcList } from '../../executor/endpoints.ts';
import { subscribeLogs } from '../../executor/subscription.ts';
import { isPocError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';

test('parseRpcList: comma lists and repeats, trimmed, trailing slashes dropped, duplicates once, none refused', () => {
  assert.deepEqual(parseRpcList('http://a:1, http://b:2/,http://a:1'), ['http://a:1', 'http://b:2']);
  assert.deepEqual(parseRpcList(['http://a:1', 'http://c:3,http://b:2']), ['http://a:1', 'http://c:3', 'http://b:2']);
  assert.throws(() => parseRpcList(' , '), (e) => isPocError(e, 'ENDPOINTS_EMPTY'));
});

test('Endpoints: only a failure of the current node moves on (round robin); a single node stays', () => {
  const e = new Endpoints(['a', 'b', 'c']);
  const seen: string[] = [];
  e.onSwitch = (from, to) => void seen.push(`${from}>${to}`);
  assert.equal(e.failed('a'), 'b');
  assert.equal(e.failed('a'), 'b', 'a stale failure of a node no longer in use changes nothing');
  e.failed('b');
  e.failed('c');
  assert.equal(e.current(), 'a');
  assert.deepEqual(seen, ['a>b', 'b>c', 'c>a']);
  assert.equal(e.switches, 3);
  const one = new Endpoints(['x']);
  assert.equal(one.failed('x'), 'x');
  assert.equal(one.switches, 0);
});

/** A JSON-RPC server answering eth_blockNumber with `head`; `fail_me` answers a JSON-RPC error. */
async function rpcServer(head: number): Promise<{ url: string; server: Server; calls: () => number }> {
  let calls = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      calls++;
      const p = JSON.parse(body);
      const one = (m: any) => (m.method === 'fail_me' ? { jsonrpc: '2.0', id: m.id, error: { code: -32000, message: 'refused' } } : { jsonrpc: '2.0', id: m.id, result: m.method === 'eth_blockNumber' ? '0x' + head.toString(16) : '0x1' });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(Array.isArray(p) ? p.map(one) : one(p)));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, calls: () => calls };
}

test('FailoverProvider: a dead node sends the same call to the next one; JSON-RPC errors are answers and never switch', async () => {
  const a = await rpcServer(5);
  const b = await rpcServer(9);
  const ep = new Endpoints([a.url, b.url]);
  const p = new FailoverProvider(ep, 100, 2000);
  try {
    assert.equal(await p.getBlockNumber(), 5);
    await assert.rejects(p.send('fail_me', []));
    assert.equal(ep.current(), a.url, 'an error answer keeps the node');
    a.server.closeAllConnections();
    await new Promise<void>((r) => a.server.close(() => r()));
    assert.equal(await p.getBlockNumber(), 9, 'the call that met the dead node is answered by the next');
    assert.equal(ep.current(), b.url);
    assert.equal(ep.switches, 1);
    assert.equal(await p.getBlockNumber(), 9);
    assert.equal(ep.switches, 1);
  } finally {
    p.destroy();
    b.server.closeAllConnections();
    b.server.close();
  }
});

test('FailoverProvider: at most 4 EVM calls in flight; a call the node is too busy to queue (-32005) is sent again, other errors are answers', async () => {
  let inFlight = 0;
  let peak = 0;
  let busyLeft = 6; // the first six eth_calls find the node's queue full
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const m = JSON.parse(body);
      const one = Array.isArray(m) ? m[0] : m;
      const answer = (x: object) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(Array.isArray(m) ? [x] : x));
      if (one.method === 'eth_estimateGas') return answer({ jsonrpc: '2.0', id: one.id, error: { code: -32000, message: 'execution reverted' } });
      if (one.method !== 'eth_call') return answer({ jsonrpc: '2.0', id: one.id, result: '0x1' });
      inFlight++;
      peak = Math.max(peak, inFlight);
      setTimeout(() => {
        inFlight--;
        if (busyLeft > 0) return busyLeft--, answer({ jsonrpc: '2.0', id: one.id, error: { code: -32005, message: 'too many concurrent calls; try again later' } });
        answer({ jsonrpc: '2.0', id: one.id, result: '0x' + '00'.repeat(31) + '2a' });
      }, 10);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const p = new FailoverProvider(new Endpoints([`http://127.0.0.1:${(server.address() as AddressInfo).port}`]), 100, 2000);
  try {
    const out = await Promise.all(Array.from({ length: 20 }, () => p.call({ to: '0x' + '11'.repeat(20), data: '0x' })));
    assert.ok(out.every((x) => BigInt(x) === 42n), 'every call answered, none failed for a busy node');
    assert.equal(p.busyRetries, 6);
    assert.ok(peak >= 2 && peak <= 4, `calls in flight at once: ${peak}`);
    await assert.rejects(p.estimateGas({ to: '0x' + '11'.repeat(20), data: '0x' }), 'a revert is an answer, not retried');
  } finally {
    p.destroy();
    server.closeAllConnections();
    server.close();
  }
});

test('the log subscription reconnects to the current node after its node closes', async () => {
  const wss = [new WebSocketServer({ port: 0, host: '127.0.0.1' }), new WebSocketServer({ port: 0, host: '127.0.0.1' })];
  await Promise.all(wss.map((w) => new Promise<void>((r) => (w.address() ? r() : w.once('listening', () => r())))));
  const urls = wss.map((w) => `http://127.0.0.1:${(w.address() as AddressInfo).port}`);
  const ep = new Endpoints(urls);
  const subscribed: number[] = [];
  wss.forEach((w, i) => w.on('connection', (s) => s.on('message', () => {
    subscribed.push(i);
    // the second node sends a log at once
    if (i === 1) s.send(JSON.stringify({ jsonrpc: '2.0', method: 'eth_subscription', params: { subscription: '0x1', result: { address: '0x', topics: [], data: '0x', blockNumber: '0x7', transactionHash: '0x', logIndex: '0x0' } } }));
  })));
  let connects = 0;
  const logs: string[] = [];
  let got!: () => void;
  const gotLog = new Promise<void>((r) => (got = r));
  const close = subscribeLogs({
    url: () => ep.currentWs(),
    onClose: (u) => void ep.failed(u.replace(/^ws/, 'http')),
    filters: [{ address: '0x' }],
    onConnect: () => void connects++,
    onLog: (l) => {
      logs.push(l.blockNumber);
      got();
    },
    logger: silentLogger,
    reconnectMs: 10,
  });
  try {
    while (subscribed.length === 0) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(subscribed, [0]);
    for (const c of wss[0]!.clients) c.terminate(); // node0 dies
    wss[0]!.close();
    await gotLog;
    assert.deepEqual(subscribed, [0, 1]);
    assert.deepEqual(logs, ['0x7']);
    assert.equal(connects, 2, 'each connection runs the catch-up scan');
    assert.equal(ep.current(), urls[1]);
  } finally {
    close();
    wss[1]!.close();
  }
});
