/** The node's content store: per-upload and total bounds, GC of unregistered uploads, pins across a restart. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { keccak256 } from 'ethers';
import { ContentStore, gcPlan, type BlobEntry } from '../../consensus/content-store.ts';
import { isPocError } from '../../lib/errors.ts';
import { tempDir } from '../helpers/proc.ts';

test('gcPlan: only unpinned uploads past the grace period, oldest first, as many as needed', () => {
  const e = (bytes: number, storedAt: number, pinned = false): BlobEntry => ({ bytes, storedAt, pinned });
  const idx = new Map<string, BlobEntry>([
    ['0xa', e(10, 100)],
    ['0xb', e(20, 50)],
    ['0xc', e(30, 10, true)],
    ['0xd', e(40, 950)],
  ]);
  const cases: [string, number, number | undefined, string[]][] = [
    ['nothing expired yet', 140, undefined, []],
    ['grace is inclusive', 150, undefined, ['0xb']],
    ['all expired, oldest first, pinned never', 1000, undefined, ['0xb', '0xa']],
    ['only what is needed', 1000, 15, ['0xb']],
    ['needed more than expired', 1000, 500, ['0xb', '0xa']],
    ['young blobs stay even when needed', 1000, 0, []],
  ];
  for (const [name, now, need, want] of cases) assert.deepEqual(gcPlan(idx, now, 100, need), want, name);
});

test('uploads are bounded per upload and in total; unregistered ones make room after the grace period; pins survive a restart', async () => {
  const dir = join(tempDir(), 'content');
  let now = Date.now(); // upload times come back from file mtimes after a restart: the clock starts at real time
  const open = async () => {
    const s = new ContentStore({ dir, maxBytes: 100, quotaBytes: 250, graceMs: 60_000, now: () => now });
    await s.load();
    return s;
  };
  const blob = (n: number, fill: number) => new Uint8Array(n).fill(fill);
  let s = await open();
  await assert.rejects(s.put(blob(101, 1)), (e) => isPocError(e, 'CONTENT_TOO_LARGE') && /101 bytes, limit 100/.test(e.message));
  await assert.rejects(s.put(new Uint8Array()), (e) => isPocError(e, 'CONTENT_EMPTY'));
  const registered = await s.put(blob(100, 2));
  const a = await s.put(blob(100, 3));
  assert.equal(await s.put(blob(100, 3)), a, 'the same bytes twice are stored once');
  assert.deepEqual(s.usage(), { used: 200, quota: 250, blobs: 2, pinned: 0 });
  await s.onRegistered(registered);
  await assert.rejects(s.put(blob(100, 4)), (e) => isPocError(e, 'CONTENT_STORE_FULL') && /200 of 250 bytes used/.test(e.message), 'full, and nothing is old enough to remove');
  // a result whose digest was revealed before its upload is pinned at upload
  const early = keccak256(blob(40, 9));
  await s.onRegistered(early);
  assert.equal(await s.put(blob(40, 9)), early);
  assert.equal(s.usage().pinned, 2);

  now += 61_000;
  s = await open(); // restart: the index, pins and upload times come back from the directory
  assert.deepEqual(s.usage(), { used: 240, quota: 250, blobs: 3, pinned: 2 });
  const b = await s.put(blob(100, 4)); // needs room: the unregistered upload is gone, the pinned ones stay
  assert.equal(await s.get(a), undefined);
  assert.ok(!existsSync(join(dir, a.slice(2))));
  assert.ok(await s.get(registered));
  assert.ok(await s.get(early));
  assert.ok(await s.get(b));
  assert.deepEqual(s.usage(), { used: 240, quota: 250, blobs: 3, pinned: 2 });
  now += 60_000;
  assert.equal(await s.gc(), 100, 'the timer GC removes the expired upload');
  assert.deepEqual(s.usage(), { used: 140, quota: 250, blobs: 2, pinned: 2 });
});
