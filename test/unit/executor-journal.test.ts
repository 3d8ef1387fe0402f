import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keccak256 } from 'ethers';
import { TaskJournal, applyEntry, nextStep, newSalt } from '../../executor/journal.ts';
import { isPocError } from '../../lib/errors.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const enc = (s: string) => new TextEncoder().encode(s);
const tx = (n: number) => '0x' + n.toString(16).padStart(64, '0');

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pocchain-journal-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Start a child node process running `code` (ESM TS); resolves with the child and a line reader. */
async function startChild(dir: string, code: string): Promise<{ child: ChildProcess; lines: string[]; waitFor(pred: (lines: string[]) => boolean): Promise<void> }> {
  const file = join(dir, 'child.ts');
  await writeFile(file, code);
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  const waitFor = (pred: (l: string[]) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => (pred(lines) ? resolve() : waiters.push(check));
      child.once('exit', (c) => (pred(lines) ? resolve() : reject(new Error(`child exited (${c}) early: ${lines.join('|')}`))));
      check();
    });
  return { child, lines, waitFor };
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

test('a task walks assigned → ran → committed → revealed → done and survives reopen', async (t) => {
  const dir = await tempDir(t);
  const j = await TaskJournal.open(dir);
  const stdout = enc('42\n');
  const salt = newSalt();
  assert.equal(nextStep(j.get('t1')), 'run');
  await j.assigned('t1', { app: '0xabc' });
  assert.equal(nextStep(j.get('t1')), 'run');
  await j.ran('t1', { stdout, digest: keccak256(stdout), salt });
  assert.equal(nextStep(j.get('t1')), 'commit');
  await j.committed('t1', tx(1));
  assert.equal(nextStep(j.get('t1')), 'reveal');
  await j.revealed('t1', tx(2));
  assert.equal(nextStep(j.get('t1')), 'none');
  await j.assigned('t2');
  await j.abandoned('t2', 'deadline');
  await j.close();

  const k = await TaskJournal.open(dir);
  const r = k.get('t1')!;
  assert.equal(r.state, 'revealed');
  assert.deepEqual(r.meta, { app: '0xabc' });
  assert.equal(r.salt, salt);
  assert.equal(r.digest, keccak256(stdout));
  assert.equal(r.commitTx, tx(1));
  assert.equal(r.revealTx, tx(2));
  assert.deepEqual(await k.resultOf('t1'), stdout);
  assert.equal(k.get('t2')!.state, 'abandoned');
  assert.deepEqual(k.unfinished().map((x) => x.taskId), ['t1']);
  await k.done('t1');
  assert.deepEqual(k.unfinished(), []);
  await k.close();
  await assert.rejects(k.done('t1'), (e: unknown) => isPocError(e, 'JOURNAL_CLOSED'));
});

test('transitions are checked, repeats are idempotent and write nothing', async (t) => {
  const dir = await tempDir(t);
  const j = await TaskJournal.open(dir);
  const out = enc('x');
  await assert.rejects(j.committed('nope', tx(1)), (e: unknown) => isPocError(e, 'JOURNAL_TRANSITION'));
  await j.assigned('a', { n: 1 });
  await j.assigned('a', { n: 2 }); // seen again after a restart: keeps the first record
  assert.deepEqual(j.get('a')!.meta, { n: 1 });
  await assert.rejects(j.revealed('a', tx(1)), (e: unknown) => isPocError(e, 'JOURNAL_TRANSITION'));
  await assert.rejects(j.ran('a', { stdout: out, digest: keccak256(enc('y')), salt: newSalt() }), (e: unknown) => isPocError(e, 'JOURNAL_TRANSITION'));
  await j.ran('a', { stdout: out, digest: keccak256(out), salt: newSalt() });
  await j.committed('a', tx(5));
  await j.committed('a', tx(5));
  await assert.rejects(j.committed('a', tx(6)), (e: unknown) => isPocError(e, 'JOURNAL_TRANSITION'));
  const count = j.entryCount;
  await j.close();
  const lines = (await readFile(join(dir, 'journal.jsonl'), 'utf8')).trim().split('\n');
  assert.equal(lines.length, count);
  assert.equal(lines.length, 3);
  // the pure transition function agrees
  assert.throws(() => applyEntry(undefined, { t: 'done', task: 'z', at: 0 }), (e: unknown) => isPocError(e, 'JOURNAL_TRANSITION'));
});

test('a torn last line is ignored and cut off; a corrupt middle line is refused', async (t) => {
  const dir = await tempDir(t);
  const j = await TaskJournal.open(dir);
  await j.assigned('a');
  await j.assigned('b');
  await j.close();
  const path = join(dir, 'journal.jsonl');
  await appendFile(path, '{"t":"assigned","task":"c","at":1,"me'); // the write a crash interrupted
  const k = await TaskJournal.open(dir);
  assert.deepEqual(k.all().map((r) => r.taskId), ['a', 'b']);
  await k.assigned('d');
  await k.close();
  const m = await TaskJournal.open(dir);
  assert.deepEqual(m.all().map((r) => r.taskId), ['a', 'b', 'd']);
  await m.close();

  const text = await readFile(path, 'utf8');
  await writeFile(path, text.replace('"task":"b"', '"task":"b"garbage'));
  await assert.rejects(TaskJournal.open(dir), (e: unknown) => isPocError(e, 'JOURNAL_CORRUPT'));
});

test('results are stored by digest and verified on load', async (t) => {
  const dir = await tempDir(t);
  const j = await TaskJournal.open(dir);
  const bytes = enc('result bytes');
  const digest = await j.saveResult(bytes);
  assert.equal(digest, keccak256(bytes));
  assert.deepEqual(await j.loadResult(digest), bytes);
  assert.equal(await j.loadResult(keccak256(enc('other'))), undefined);
  assert.equal(await j.loadResult('not-a-digest'), undefined);
  await writeFile(join(dir, 'results', digest.slice(2)), 'tampered');
  assert.equal(await j.loadResult(digest), undefined);
  await j.assigned('t');
  await assert.rejects(j.resultOf('t'), (e: unknown) => isPocError(e, 'JOURNAL_RESULT_MISSING'));
  await j.close();
});

test('compact keeps the state and drops old finished tasks on request', async (t) => {
  const dir = await tempDir(t);
  const j = await TaskJournal.open(dir);
  const out = enc('r');
  for (const id of ['a', 'b', 'c']) {
    await j.assigned(id);
    await j.ran(id, { stdout: out, digest: keccak256(out), salt: newSalt() });
  }
  await j.abandoned('a', 'test');
  await j.committed('b', tx(1));
  await j.compact();
  assert.equal(j.entryCount, 3);
  await j.compact({ dropFinishedBefore: Date.now() + 1 });
  await j.revealed('b', tx(2));
  await j.close();
  const k = await TaskJournal.open(dir);
  assert.deepEqual(k.all().map((r) => [r.taskId, r.state]), [['b', 'revealed'], ['c', 'ran']]);
  assert.equal(k.get('b')!.commitTx, tx(1));
  await k.close();
});

test('SIGKILL during a stream of appends loses nothing that was acknowledged', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const jdir = join(dir, 'journal');
  const { child, lines, waitFor } = await startChild(dir, `
    import { TaskJournal, newSalt } from ${JSON.stringify(join(ROOT, 'executor/journal.ts'))};
    import { resultDigest as keccak256 } from ${JSON.stringify(join(ROOT, 'executor/sandbox.ts'))};
    const j = await TaskJournal.open(${JSON.stringify(jdir)});
    for (let i = 0; ; i++) {
      const id = 'task-' + i;
      const out = new TextEncoder().encode('result ' + i);
      await j.assigned(id, { i });
      await j.ran(id, { stdout: out, digest: keccak256(out), salt: newSalt() });
      await j.committed(id, '0x' + i.toString(16).padStart(64, '0'));
      process.stdout.write(i + '\\n'); // acknowledged: all three entries are fsynced
    }
  `);
  await waitFor((l) => l.length >= 30);
  await killed(child);
  const acked = lines.length;
  const j = await TaskJournal.open(jdir);
  for (let i = 0; i < acked; i++) {
    const r = j.get(`task-${i}`);
    assert.equal(r?.state, 'committed', `task-${i}`);
    assert.deepEqual(await j.resultOf(`task-${i}`), enc(`result ${i}`));
  }
  // the journal is usable after the crash
  await j.assigned('after-crash');
  await j.close();
  const k = await TaskJournal.open(jdir);
  assert.equal(k.get('after-crash')?.state, 'assigned');
  t.diagnostic(`${acked} tasks acknowledged before SIGKILL, ${k.all().length - 1} found`);
  await k.close();
});

test('an executor killed after running a task resumes at commit without running it again', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const jdir = join(dir, 'journal');
  const { buildExamples } = await import('../../examples/build.ts');
  const built = await buildExamples();
  const { child, waitFor } = await startChild(dir, `
    import { TaskJournal, newSalt, nextStep } from ${JSON.stringify(join(ROOT, 'executor/journal.ts'))};
    import { runWorkload } from ${JSON.stringify(join(ROOT, 'executor/sandbox.ts'))};
    import { readFileSync } from 'node:fs';
    const j = await TaskJournal.open(${JSON.stringify(jdir)});
    await j.assigned('T', { app: 'hashchain' });
    if (nextStep(j.get('T')) === 'run') {
      const wasm = readFileSync(${JSON.stringify(built.hashchain)});
      const r = await runWorkload({ wasm, input: new TextEncoder().encode('1000'), limits: { memoryPages: 16, timeoutMs: 10000, maxOutputBytes: 1000 } });
      await j.ran('T', { stdout: r.stdout, digest: r.digest, salt: newSalt() });
      console.log('ran ' + r.digest);
    }
    setInterval(() => {}, 1000); // "sending the commit transaction" when the kill comes
  `);
  await waitFor((l) => l.some((x) => x.startsWith('ran ')));
  await killed(child);

  const j = await TaskJournal.open(jdir);
  const r = j.get('T')!;
  assert.equal(nextStep(r), 'commit'); // not 'run': the work is not done again
  const bytes = await j.resultOf('T');
  assert.equal(keccak256(bytes), r.digest);
  assert.match(new TextDecoder().decode(bytes), /^[0-9a-f]{64}\n$/);
  assert.match(r.salt!, /^0x[0-9a-f]{64}$/);
  await j.committed('T', tx(7));
  assert.equal(nextStep(j.get('T')), 'reveal');
  await j.revealed('T', tx(8));
  await j.done('T');
  await j.close();
});
