/** P2PNode lifecycle in-process: lone publishing, port conflicts, AbortSignal shutdown, errors before start. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { P2PNode, chainTopics, protocolId } from '../../chain/p2p/index.ts';
import { isPocError } from '../../lib/errors.ts';

const dir = await mkdtemp(join(tmpdir(), 'p2p-life-'));
after(() => rm(dir, { recursive: true, force: true }));
const topics = chainTopics(9);

test('a lone node publishes without throwing and reaches no one', async () => {
  const n = new P2PNode({ config: { chainId: 9, keyFile: join(dir, 'lone.key'), port: 0 } });
  n.subscribe(topics.tx, () => 'accept');
  await n.start();
  try {
    assert.equal(await n.publish(topics.tx, Uint8Array.of(1)), 0);
    assert.equal(await n.publish(topics.consensus, Uint8Array.of(2)), 0, 'unsubscribed topic too');
    assert.equal(n.peerCount, 0);
    assert.match(n.multiaddrs()[0]!, new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${n.peerId}$`));
  } finally {
    await n.stop();
  }
});

test('a taken port fails start with P2P_LISTEN_FAILED', async () => {
  const a = new P2PNode({ config: { chainId: 9, keyFile: join(dir, 'a.key'), port: 0 } });
  await a.start();
  try {
    const port = Number(/tcp\/(\d+)/.exec(a.multiaddrs()[0]!)![1]);
    const b = new P2PNode({ config: { chainId: 9, keyFile: join(dir, 'b.key'), port } });
    await assert.rejects(b.start(), (e) => isPocError(e, 'P2P_LISTEN_FAILED'));
    await assert.rejects(b.publish(topics.tx, Uint8Array.of(1)), (e) => isPocError(e, 'P2P_STOPPED'));
  } finally {
    await a.stop();
  }
});

test('aborting the injected signal stops the node and disconnects its peers', async () => {
  const ac = new AbortController();
  const a = new P2PNode({ config: { chainId: 9, keyFile: join(dir, 'sa.key'), port: 0 }, signal: ac.signal });
  await a.start();
  const b = new P2PNode({ config: { chainId: 9, keyFile: join(dir, 'sb.key'), port: 0, bootstrap: a.multiaddrs(), redial: { initialMs: 50, maxMs: 200 } } });
  await a.handle(protocolId(9, 'ping'), () => Uint8Array.of(42));
  await b.start();
  try {
    const disconnected = new Promise<string>((res) => b.once('peer:disconnect', res));
    assert.deepEqual([...(await b.request(a.peerId, protocolId(9, "ping"), new Uint8Array(0)))], [42], "request works before the redial loop connected");
    ac.abort();
    assert.equal(await disconnected, a.peerId);
    assert.deepEqual(a.peers(), []);
    await assert.rejects(a.publish(topics.tx, Uint8Array.of(1)), (e) => isPocError(e, 'P2P_STOPPED'));
    // b keeps redialling a stopped peer without failing
    await assert.rejects(b.request(a.peerId, protocolId(9, 'ping'), new Uint8Array(0), { timeoutMs: 1000 }), (e) => isPocError(e) && ['P2P_DIAL_FAILED', 'P2P_TIMEOUT'].includes(e.code));
  } finally {
    await b.stop();
    await a.stop();
  }
});

test('using a node before start fails with P2P_NOT_STARTED; handlers may be registered early', async () => {
  const n = new P2PNode({ config: { chainId: 9, keyFile: join(dir, 'early.key'), port: 0 } });
  assert.throws(() => n.peerId, (e) => isPocError(e, 'P2P_NOT_STARTED'));
  await assert.rejects(n.publish(topics.tx, Uint8Array.of(1)), (e) => isPocError(e, 'P2P_NOT_STARTED'));
  await n.handle(protocolId(9, 'early'), () => Uint8Array.of(7));
  const unsub = n.subscribe(topics.tx, () => 'accept');
  await n.start();
  try {
    assert.ok(n.libp2p.getProtocols().includes(protocolId(9, 'early')));
    assert.ok(n.libp2p.services.pubsub.getTopics().includes(topics.tx));
    unsub();
    assert.ok(!n.libp2p.services.pubsub.getTopics().includes(topics.tx));
  } finally {
    await n.stop();
  }
});
