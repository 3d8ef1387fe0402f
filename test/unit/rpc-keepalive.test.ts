/**
 * The JSON-RPC server keeps idle keep-alive connections open long enough for common clients
 * (Node's default 5 s made a request sent after a pause meet the server's FIN: "other side
 * closed"). A real RpcServer on 127.0.0.1 and a real keep-alive http.Agent with one socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { RpcServer, HTTP_KEEP_ALIVE_TIMEOUT_MS, HTTP_HEADERS_TIMEOUT_MS } from '../../chain/rpc/server.ts';
import { freePort } from '../../lib/anvil.ts';

function post(agent: Agent, port: number, method: string, params: unknown[] = []): Promise<{ body: any; reused: boolean; local: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ body: JSON.parse(text), reused: req.reusedSocket, local: req.socket!.localPort! }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }));
  });
}

test('keep-alive: idle timeout ≥ 65 s and headers timeout above it', () => {
  assert.ok(HTTP_KEEP_ALIVE_TIMEOUT_MS >= 65_000);
  assert.ok(HTTP_HEADERS_TIMEOUT_MS > HTTP_KEEP_ALIVE_TIMEOUT_MS);
});

test('keep-alive: send, sleep 7 s on the same agent, send again: both succeed on one socket', async () => {
  let calls = 0;
  let slowDone = false;
  const server = new RpcServer({
    port: await freePort(),
    methods: {
      eth_chainId: () => (calls++, '0x7a69'),
      // a request in flight longer than the idle timeout Node used to apply
      test_slow: async () => (await sleep(6_000), (slowDone = true), 'done'),
    },
  });
  await server.start();
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let sockets = 0;
  const origCreate = agent.createConnection.bind(agent);
  agent.createConnection = ((...a: any[]) => (sockets++, (origCreate as any)(...a))) as any;
  try {
    const first = await post(agent, server.port, 'eth_chainId');
    assert.equal(first.body.result, '0x7a69');
    assert.equal(first.reused, false);
    await sleep(7_000); // longer than Node's default keepAliveTimeout (5 s)
    const second = await post(agent, server.port, 'eth_chainId');
    assert.equal(second.body.result, '0x7a69', 'the request after the pause is answered');
    assert.equal(second.reused, true, 'on the same kept-alive socket');
    assert.equal(second.local, first.local);
    const slow = await post(agent, server.port, 'test_slow');
    assert.equal(slow.body.result, 'done', 'a long request in flight is not cut');
    assert.equal(slowDone, true);
    assert.equal(sockets, 1, 'one TCP connection for all three requests');
    assert.equal(calls, 2);
  } finally {
    agent.destroy();
    await server.stop();
  }
});
