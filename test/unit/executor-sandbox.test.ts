import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { keccak256 } from 'ethers';
import { buildExamples } from '../../examples/build.ts';
import { configureSandbox, runWorkload, sandboxLoad, type WorkloadLimits } from '../../executor/sandbox.ts';
import { capMemory, readMemories } from '../../executor/wasm-limits.ts';
import { isPocError } from '../../lib/errors.ts';

const LIMITS: WorkloadLimits = { memoryPages: 256, timeoutMs: 20_000, maxOutputBytes: 1 << 20 };
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const wasm: Record<string, Uint8Array> = {};

before(async () => {
  const built = await buildExamples();
  for (const [name, path] of Object.entries(built)) wasm[name] = new Uint8Array(await readFile(path));
});

function run(name: string, input: string | Uint8Array, opts: { dataset?: Uint8Array; limits?: Partial<WorkloadLimits> } = {}) {
  return runWorkload({
    wasm: wasm[name]!,
    input: typeof input === 'string' ? enc(input) : input,
    ...(opts.dataset ? { dataset: opts.dataset } : {}),
    limits: { ...LIMITS, ...opts.limits },
  });
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<Error & { data?: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    assert.ok(isPocError(e), `expected a PocError, got ${e}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected rejection with ${code}`);
}

async function sandboxTempDirs(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((f) => f.startsWith('pocchain-wasm-'));
}

test('echo returns its input byte for byte, including binary and multi-chunk input', async () => {
  const small = await run('echo', 'hello\n');
  assert.equal(dec(small.stdout), 'hello\n');
  assert.equal(small.exitCode, 0);
  assert.equal(small.digest, keccak256(small.stdout));
  const big = new Uint8Array(200_000).map((_, i) => (i * 7919) & 0xff);
  const r = await run('echo', big);
  assert.deepEqual(r.stdout, big);
  const empty = await run('echo', new Uint8Array(0));
  assert.equal(empty.stdout.length, 0);
  assert.equal(empty.digest, keccak256(new Uint8Array(0)));
});

test('hashchain matches sha256 iterated in node:crypto', async () => {
  for (const n of [0, 1, 2, 1000, 54321]) {
    let h = Buffer.alloc(32);
    for (let i = 0; i < n; i++) h = createHash('sha256').update(h).digest();
    const r = await run('hashchain', ` ${n}\n`);
    assert.equal(dec(r.stdout), h.toString('hex') + '\n', `N=${n}`);
  }
  await rejectsWith(run('hashchain', 'no number'), 'WASM_EXIT_NONZERO');
});

test('primes matches a reference sieve', async () => {
  const ref = (n: number) => {
    const c = new Uint8Array(n + 1);
    let count = 0;
    let last = 0;
    for (let i = 2; i <= n; i++) {
      if (c[i]) continue;
      count++;
      last = i;
      for (let j = i * i; j <= n; j += i) c[j] = 1;
    }
    return `${count} ${last}\n`;
  };
  for (const n of [0, 1, 2, 3, 4, 10, 97, 100, 65536, 1_000_003]) {
    assert.equal(dec((await run('primes', String(n))).stdout), ref(n), `N=${n}`);
  }
});

test('wordcount reads /dataset and counts like wc, plus matches of the stdin word', async () => {
  const words = ['the', 'cat', 'sat', 'on', 'mat', 'theme', 'a'];
  let text = '';
  for (let i = 0; i < 20_000; i++) text += words[(i * 31 + (i >> 3)) % words.length] + (i % 13 === 0 ? '\n' : i % 5 === 0 ? '\t ' : ' ');
  const data = enc(text);
  const tokens = text.split(/[ \t\n\v\f\r]+/).filter(Boolean);
  const lines = text.split('\n').length - 1;
  const r = await run('wordcount', '  the\n', { dataset: data });
  assert.equal(dec(r.stdout), `${lines} ${tokens.length} ${data.length} ${tokens.filter((w) => w === 'the').length}\n`);
  const noQuery = await run('wordcount', '', { dataset: data });
  assert.equal(dec(noQuery.stdout), `${lines} ${tokens.length} ${data.length} 0\n`);
  const e = await rejectsWith(run('wordcount', 'the'), 'WASM_EXIT_NONZERO'); // no dataset
  assert.equal(e.data?.exitCode, 2);
});

test('same wasm + input + dataset gives byte-identical stdout, even for host-observing code', async () => {
  const data = enc('some dataset\n');
  const a = await run('observe', 'x', { dataset: data });
  await new Promise((r) => setTimeout(r, 20)); // new temp files: other inode numbers and times
  const b = await run('observe', 'x', { dataset: data });
  assert.deepEqual(a.stdout, b.stdout);
  assert.equal(a.digest, b.digest);
  const lines = dec(a.stdout).trim().split('\n');
  assert.equal(lines.length, 6);
  assert.equal(lines[0], '0'.repeat(16)); // realtime clock
  assert.equal(lines[1], '0'.repeat(16)); // monotonic clock
  const [h1, h2] = await Promise.all([run('hashchain', '5000'), run('hashchain', '5000')]);
  assert.equal(h1.digest, h2.digest);
});

test('an infinite loop is stopped with WASM_TIMEOUT', { timeout: 60_000 }, async (t) => {
  const t0 = performance.now();
  await rejectsWith(run('loop', '', { limits: { timeoutMs: 300 } }), 'WASM_TIMEOUT');
  t.diagnostic(`stopped after ${(performance.now() - t0).toFixed(0)} ms (limit 300 ms)`);
  // the sandbox is still usable afterwards
  assert.equal(dec((await run('echo', 'after')).stdout), 'after');
});

test('memory: refused when declared over the limit, stopped when grown past it', async () => {
  await rejectsWith(run('bigmem', ''), 'WASM_MEMORY');
  await rejectsWith(run('bigmax', ''), 'WASM_MEMORY');
  const hog = await rejectsWith(run('memhog', '', { limits: { memoryPages: 64 } }), 'WASM_MEMORY');
  assert.equal(hog.data?.memoryPages, 64);
  // a real workload that needs more than the limit: the sieve for N = 10M needs ~153 pages
  await rejectsWith(run('primes', '10000000', { limits: { memoryPages: 100 } }), 'WASM_MEMORY');
  assert.equal(dec((await run('primes', '10000000', { limits: { memoryPages: 200 } })).stdout), '664579 9999991\n');
});

test('output: exactly the limit passes, one byte more or a flood is WASM_OUTPUT_LIMIT', async () => {
  const limit = 10_000;
  const ok = await run('echo', new Uint8Array(limit).fill(65), { limits: { maxOutputBytes: limit } });
  assert.equal(ok.stdout.length, limit);
  await rejectsWith(run('echo', new Uint8Array(limit + 1).fill(65), { limits: { maxOutputBytes: limit } }), 'WASM_OUTPUT_LIMIT');
  await rejectsWith(run('flood', '', { limits: { maxOutputBytes: 1 << 20 } }), 'WASM_OUTPUT_LIMIT');
  // a guest that catches the abort with wasm exception handling and exits 0 is still over the limit
  await rejectsWith(run('catchflood', '', { limits: { maxOutputBytes: limit } }), 'WASM_OUTPUT_LIMIT');
});

test('invalid modules are WASM_INVALID', async () => {
  const bad: Record<string, Uint8Array> = {
    empty: new Uint8Array(0),
    text: enc('(module)'),
    random: new Uint8Array(64).map((_, i) => (i * 131 + 7) & 0xff),
    truncated: wasm.echo!.subarray(0, wasm.echo!.length - 5),
    corruptBody: (() => {
      const b = new Uint8Array(wasm.echo!);
      b[b.length - 3] = 0xff;
      return b;
    })(),
  };
  for (const [name, bytes] of Object.entries(bad)) {
    await rejectsWith(runWorkload({ wasm: bytes, input: new Uint8Array(0), limits: LIMITS }), 'WASM_INVALID').catch((e) => {
      throw new Error(`${name}: ${e.message}`);
    });
  }
  await rejectsWith(run('nostart', ''), 'WASM_INVALID');
  await rejectsWith(run('badimport', ''), 'WASM_INVALID');
});

test('non-zero exit is WASM_EXIT_NONZERO with the code; a trap is WASM_TRAP', async () => {
  const e = await rejectsWith(run('exit3', ''), 'WASM_EXIT_NONZERO');
  assert.equal(e.data?.exitCode, 3);
  await rejectsWith(run('trap', ''), 'WASM_TRAP');
});

test('the sandbox cannot reach files outside /dataset, nor write anything', async () => {
  const r = await run('escape', '', { dataset: enc('dataset-bytes-0123456789') });
  const out = dec(r.stdout);
  assert.ok(!out.includes('root:'), 'host /etc/passwd leaked');
  const results = new Map(out.split('\n').filter((l) => /^\w+ \d+$/.test(l)).map((l) => l.split(' ') as [string, string]));
  assert.equal(results.get('read'), '0', 'reading /dataset must work');
  assert.ok(out.includes('read dataset-bytes-01'), out);
  const mustFail = ['open_dotdot_etc_passwd', 'open_abs_etc_passwd', 'open_deep_dotdot', 'open_create', 'open_trunc_dataset',
    'write_dataset', 'unlink_dataset', 'symlink_etc', 'mkdir', 'open_via_fd4', 'open_stdin_file'];
  for (const name of mustFail) {
    assert.ok(results.has(name), `${name} not reported:\n${out}`);
    assert.notEqual(results.get(name), '0', `${name} succeeded:\n${out}`);
  }
  // ".." from the root resolves to the root itself, as in POSIX; it must not see the host's parent
  // directory, which holds the stdin file (open_stdin_file above).
});

test('temp files are removed after success and after failure', async () => {
  const before = await sandboxTempDirs();
  await run('wordcount', 'a', { dataset: enc('a b c') });
  await rejectsWith(run('loop', '', { limits: { timeoutMs: 200 } }), 'WASM_TIMEOUT');
  await rejectsWith(run('trap', ''), 'WASM_TRAP');
  assert.deepEqual(await sandboxTempDirs(), before);
});

test('parallel runs stay separate', async () => {
  const inputs = ['one', 'two', 'three', 'four', 'five', 'six'];
  const rs = await Promise.all(inputs.map((s) => run('echo', s)));
  assert.deepEqual(rs.map((r) => dec(r.stdout)), inputs);
});

test('limits are validated', async () => {
  await rejectsWith(run('echo', '', { limits: { memoryPages: 0 } }), 'SANDBOX_ERROR');
  await rejectsWith(run('echo', '', { limits: { memoryPages: 70_000 } }), 'SANDBOX_ERROR');
  await rejectsWith(run('echo', '', { limits: { timeoutMs: -1 } }), 'SANDBOX_ERROR');
});

test('capMemory gives a maximum to an unbounded memory and leaves a bounded one alone', () => {
  const unbounded = wasm.memhog!;
  assert.equal(readMemories(unbounded)[0]!.maxPages, undefined);
  const capped = capMemory(unbounded, 77);
  assert.equal(readMemories(capped)[0]!.maxPages, 77n);
  assert.equal(readMemories(capped)[0]!.minPages, 1n);
  assert.ok((globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly.validate(capped));
  const bounded = capMemory(capped, 100);
  assert.equal(bounded, capped);
  assert.throws(() => capMemory(capped, 50), (e: unknown) => isPocError(e, 'WASM_MEMORY'));
});

test('a pooled worker is clean after failed runs', async () => {
  configureSandbox({ idleWorkers: 1 });
  try {
    for (const [name, code] of [['flood', 'WASM_OUTPUT_LIMIT'], ['trap', 'WASM_TRAP'], ['memhog', 'WASM_MEMORY'], ['exit3', 'WASM_EXIT_NONZERO']] as const) {
      await rejectsWith(run(name, '', { limits: { memoryPages: 32 } }), code);
      assert.equal(dec((await run('echo', name)).stdout), name);
    }
    const a = await run('observe', '', { dataset: enc('d') });
    const b = await run('observe', '', { dataset: enc('d') });
    assert.deepEqual(a.stdout, b.stdout); // the random stream restarts with each run
  } finally {
    configureSandbox({ idleWorkers: 2 });
  }
});

test('at most maxWorkers runs at once (an executor\'s capacity); the others wait their turn and all complete', async () => {
  configureSandbox({ idleWorkers: 3, maxWorkers: 3 });
  try {
    const inputs = Array.from({ length: 10 }, (_, i) => `job ${i}`);
    const runs = inputs.map((x) => run('echo', x));
    // the first three took the slots at once, the other seven queue (runWorkload takes its slot before any await)
    assert.deepEqual([sandboxLoad().running, sandboxLoad().queued], [3, 7]);
    const out = await Promise.all(runs);
    assert.deepEqual(out.map((r) => dec(r.stdout)), inputs);
    assert.deepEqual(sandboxLoad(), { running: 0, queued: 0, peak: 3, maxWorkers: 3 });
    // a failing run frees its slot too
    configureSandbox({ idleWorkers: 1, maxWorkers: 1 });
    const failing = rejectsWith(run('trap', ''), 'WASM_TRAP');
    const after = run('echo', 'after');
    assert.equal(sandboxLoad().queued, 1);
    await failing;
    assert.equal(dec((await after).stdout), 'after');
    assert.equal(sandboxLoad().peak, 1);
    assert.throws(() => configureSandbox({ idleWorkers: 1, maxWorkers: 0 }), RangeError);
  } finally {
    configureSandbox({ idleWorkers: 2, maxWorkers: 64 });
  }
});

test('throughput of the trivial echo workload (diagnostic, not asserted)', async (t) => {
  const measure = async (n: number) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) assert.equal(dec((await run('echo', 'x')).stdout), 'x');
    return n / ((performance.now() - t0) / 1000);
  };
  const pooled = await measure(200);
  configureSandbox({ idleWorkers: 0 });
  const fresh = await measure(20);
  configureSandbox({ idleWorkers: 2 });
  t.diagnostic(`echo: ${pooled.toFixed(0)} runs/s with pooled workers, ${fresh.toFixed(1)} runs/s with a new worker per run (boot included)`);
});
