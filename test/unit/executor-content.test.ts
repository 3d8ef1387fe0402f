import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ContentCache, contentHandler, contentHash, fetchContent, normalizeHash } from '../../executor/content.ts';
import { isPocError } from '../../lib/errors.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const store = new Map<string, Uint8Array>();
const wasmLike = new Uint8Array(5000).map((_, i) => (i * 13) & 0xff);
const dataset = enc('a dataset\n');
let server: Server;
let base: string;
let hits = 0;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pocchain-content-test-'));
  for (const b of [wasmLike, dataset]) store.set(contentHash(b), b);
  const serve = contentHandler(async (h) => store.get(h));
  server = createServer(async (req, res) => {
    hits++;
    if (await serve(req, res)) return;
    if (req.url === '/lie') return void res.end('not what you asked for');
    if (req.url === '/stream-big') {
      // chunked, no content-length: the limit must hold while streaming
      res.writeHead(200);
      for (let i = 0; i < 100; i++) res.write(new Uint8Array(1024));
      return void res.end();
    }
    if (req.url === '/declared-big') {
      res.writeHead(200, { 'content-length': 1 << 30 });
      return void res.end();
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isPocError(e), String(e));
    assert.equal(e.code, code, e.message);
    return true;
  });
}

test('fetches by hash from a node content endpoint and verifies it', async () => {
  const got = await fetchContent({ hash: contentHash(wasmLike), baseUrl: base + '/', maxBytes: 10_000 });
  assert.deepEqual(got, wasmLike);
  const upper = '0x' + contentHash(dataset).slice(2).toUpperCase();
  assert.deepEqual(await fetchContent({ hash: upper, baseUrl: base, maxBytes: 100 }), dataset);
});

test('bytes that do not hash to the requested hash are refused (CONTENT_HASH_MISMATCH)', async () => {
  await rejectsWith(fetchContent({ hash: contentHash(dataset), url: `${base}/lie`, maxBytes: 1000 }), 'CONTENT_HASH_MISMATCH');
  // a node that serves other bytes under a hash
  const h = contentHash(enc('the real thing'));
  store.set(h, enc('a forgery'));
  try {
    await rejectsWith(fetchContent({ hash: h, baseUrl: base, maxBytes: 1000 }), 'CONTENT_HASH_MISMATCH');
  } finally {
    store.delete(h);
  }
});

test('size limit holds for declared and streamed bodies', async () => {
  const h = contentHash(enc('x'));
  await rejectsWith(fetchContent({ hash: contentHash(wasmLike), baseUrl: base, maxBytes: 4999 }), 'CONTENT_TOO_LARGE');
  await rejectsWith(fetchContent({ hash: h, url: `${base}/stream-big`, maxBytes: 50_000 }), 'CONTENT_TOO_LARGE');
  await rejectsWith(fetchContent({ hash: h, url: `${base}/declared-big`, maxBytes: 50_000 }), 'CONTENT_TOO_LARGE');
});

test('unknown content, bad hashes and dead servers are reported', async () => {
  await rejectsWith(fetchContent({ hash: contentHash(enc('absent')), baseUrl: base, maxBytes: 100 }), 'CONTENT_UNAVAILABLE');
  await rejectsWith(fetchContent({ hash: '0x1234', baseUrl: base, maxBytes: 100 }), 'CONTENT_BAD_HASH');
  await rejectsWith(fetchContent({ hash: contentHash(dataset), baseUrl: 'http://127.0.0.1:1', maxBytes: 100 }), 'CONTENT_UNAVAILABLE');
  const res = await fetch(`${base}/content/0xzz`);
  assert.equal(res.status, 400);
  assert.throws(() => normalizeHash('0x' + 'g'.repeat(64)), (e: unknown) => isPocError(e, 'CONTENT_BAD_HASH'));
});

test('the cache serves verified bytes without the network and drops damaged files', async () => {
  const cache = new ContentCache(join(dir, 'cache'));
  const h = contentHash(wasmLike);
  const before = hits;
  await fetchContent({ hash: h, baseUrl: base, maxBytes: 10_000, cache });
  assert.equal(hits, before + 1);
  assert.deepEqual(await fetchContent({ hash: h, baseUrl: base, maxBytes: 10_000, cache }), wasmLike);
  assert.equal(hits, before + 1, 'second fetch came from the cache');
  // a damaged cache file is not trusted: refetched and repaired
  await writeFile(join(dir, 'cache', h.slice(2)), 'rot');
  assert.deepEqual(await fetchContent({ hash: h, baseUrl: base, maxBytes: 10_000, cache }), wasmLike);
  assert.equal(hits, before + 2);
  assert.deepEqual(await cache.get(h), wasmLike);
  // a mismatching download is not cached
  await rejectsWith(fetchContent({ hash: contentHash(dataset), url: `${base}/lie`, maxBytes: 1000, cache }), 'CONTENT_HASH_MISMATCH');
  assert.deepEqual((await readdir(join(dir, 'cache'))).sort(), [h.slice(2)]);
});
