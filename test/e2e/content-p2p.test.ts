/**
 * Content everywhere (issue 14): three validator processes; a blob uploaded to node0 is served by
 * node1's and node2's `GET /content/<hash>` (fetched from peers over the p2p content protocol,
 * verified, kept). A lying peer (a real libp2p node in this process, connected to node2, answering
 * forged bytes for every hash) is not believed: node2 still serves the true blob, and a blob only
 * the liar claims stays a 404. Checked black-box: HTTP, JSON-RPC and the nodes' Prometheus counters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { keccak256 } from 'ethers';
import { P2PNode, protocolId } from '../../chain/p2p/index.ts';
import { CONTENT_PROTOCOL, decodeContentRequest, encodeContentResponse } from '../../consensus/content-p2p.ts';
import { TestNetwork } from '../helpers/network.ts';
import { metricSum as counter, rpc, waitFor } from '../helpers/proc.ts';

const CHAIN_ID = 31338;

async function get(url: string, hash: string): Promise<{ status: number; bytes: Uint8Array }> {
  const r = await fetch(`${url}/content/${hash}`);
  return { status: r.status, bytes: new Uint8Array(await r.arrayBuffer()) };
}

test('a blob uploaded to one node is served by the others; a peer answering wrong bytes is not believed', { timeout: 240_000 }, async () => {
  const net = await TestNetwork.create({ validators: 3, blockTimeMs: 300 });
  let liar: P2PNode | undefined;
  try {
    await net.startAll();
    await net.waitHeight(2); // three validators commit only when all three are connected
    const [n0, n1, n2] = net.nodes.map((n) => n.url) as [string, string, string];

    // uploaded to node0 only
    const blob = new Uint8Array(randomBytes(300_000));
    const hash = await rpc(n0, 'pocchain_putContent', ['0x' + Buffer.from(blob).toString('hex')]);
    assert.equal(hash, keccak256(blob));

    // node1 does not have it, asks its peers, verifies, keeps and serves it
    const first = await get(n1, hash);
    assert.equal(first.status, 200);
    assert.deepEqual(first.bytes, blob);
    assert.equal(await counter(n1, 'pocchain_content_fetches_total', { outcome: 'found' }), 1);
    assert.equal(await counter(n1, 'pocchain_content_peer_fetched_bytes_total'), blob.length);
    assert.ok((await counter(n0, 'pocchain_content_served_to_peers_total', { outcome: 'found' })) >= 1);
    // kept: the second read is local (no new fetch)
    assert.deepEqual((await get(n1, hash)).bytes, blob);
    assert.equal(await counter(n1, 'pocchain_content_fetches_total', { outcome: 'found' }), 1);
    assert.ok((await rpc(n1, 'pocchain_contentUsage')).blobs >= 1);

    // a malformed hash is refused before any work
    const requestsBefore = await counter(n1, 'pocchain_content_peer_requests_total');
    assert.equal((await get(n1, '0x1234')).status, 400);
    assert.equal(await counter(n1, 'pocchain_content_peer_requests_total'), requestsBefore);

    // a liar connected to node2 answers forged bytes for any hash
    const asked: string[] = [];
    liar = new P2PNode({ config: { chainId: CHAIN_ID, keyFile: join(net.dir, 'liar.key'), port: 0, bootstrap: [net.nodes[2]!.multiaddr] } });
    await liar.handle(protocolId(CHAIN_ID, CONTENT_PROTOCOL), async (req) => {
      asked.push(decodeContentRequest(req));
      return encodeContentResponse(new TextEncoder().encode('forged'));
    });
    await liar.start();
    await waitFor('liar connected to node2', async () => liar!.peers().includes(net.nodes[2]!.peerId), 30_000, 100);

    // another upload to node0: node2 serves the true bytes whatever the liar says
    const blob2 = new Uint8Array(randomBytes(1000));
    const hash2 = await rpc(n0, 'pocchain_putContent', ['0x' + Buffer.from(blob2).toString('hex')]);
    const r2 = await get(n2, hash2);
    assert.equal(r2.status, 200);
    assert.deepEqual(r2.bytes, blob2);

    // a blob nobody honest has: every peer is asked, the liar's bytes are refused, 404
    const mismatchesBefore = await counter(n2, 'pocchain_content_peer_requests_total', { outcome: 'mismatch' });
    const nowhere = keccak256(randomBytes(64));
    assert.equal((await get(n2, nowhere)).status, 404);
    assert.ok(asked.includes(nowhere), 'the liar was asked');
    assert.equal(await counter(n2, 'pocchain_content_peer_requests_total', { outcome: 'mismatch' }), mismatchesBefore + 1);
    assert.equal(await counter(n2, 'pocchain_content_fetches_total', { outcome: 'unavailable' }), 1);
    assert.equal(await counter(n2, 'pocchain_content_peer_fetched_bytes_total'), blob2.length, 'only verified bytes are counted as fetched');
  } finally {
    await liar?.stop();
    await net.stopAll();
  }
});
