/**
 * Inside the sandbox: a worker thread that runs WASI preview-1 commands, one job at a time.
 *
 * node:wasi (uvwasi) alone is not a security boundary, so every import the guest gets passes
 * through a policy layer here:
 * - fd 1 / fd 2 writes never reach the OS: they are copied into memory, stdout up to the output
 *   limit (one byte more and the run is aborted), stderr truncated at STDERR_MAX;
 * - the filesystem is read-only: path_open without create/truncate flags and with write rights
 *   stripped; every call that mutates a path or a file is refused with EROFS;
 * - results must not depend on the host: clocks read 0, random_get is a fixed stream, file stat
 *   results have inode/device/timestamps zeroed, directory listing is refused (its order is the
 *   filesystem's), sockets and signals are refused.
 * The parent thread (sandbox.ts) owns the timeout: it terminates this worker, which V8 can do even
 * in the middle of a tight wasm loop.
 */
import { parentPort } from 'node:worker_threads';
import { WASI } from 'node:wasi';
import { closeSync, openSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';

export interface SandboxWorkerInput {
  wasm: Uint8Array;
  stdinPath: string;
  rootDir: string;
  maxOutputBytes: number;
  memoryPages: number;
}

export type SandboxWorkerMessage =
  | { kind: 'ready' }
  | { kind: 'exit'; exitCode: number; stdout: Uint8Array; stderr: Uint8Array; memoryPages: number; durationMs: number }
  | { kind: 'fail'; code: 'WASM_INVALID' | 'WASM_TRAP' | 'WASM_MEMORY' | 'WASM_OUTPUT_LIMIT' | 'SANDBOX_ERROR'; message: string; stderr: Uint8Array; memoryPages: number };

/**
 * The slice of the WebAssembly JS API used here. The project's tsconfig has no DOM lib (where
 * TypeScript declares `WebAssembly`), and a lib reference here would leak into every file.
 */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
type WasmModule = object;
interface WasmApi {
  Module: {
    new (bytes: Uint8Array): WasmModule;
    exports(m: WasmModule): { name: string; kind: string }[];
    imports(m: WasmModule): { module: string; name: string; kind: string }[];
  };
  Instance: new (m: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  LinkError: new () => Error;
  RuntimeError: new () => Error;
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const STDERR_MAX = 64 * 1024;

// WASI preview-1 errno values.
const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;
const ERRNO_FAULT = 21;
const ERRNO_NOSYS = 52;
const ERRNO_NOTSUP = 58;
const ERRNO_ROFS = 69;
const ERRNO_SPIPE = 70;

// path_open oflags that would create or change a file.
const OFLAGS_CREAT = 1;
const OFLAGS_EXCL = 4;
const OFLAGS_TRUNC = 8;

// Rights a read-only descriptor may hold (bit numbers from the WASI preview-1 witx).
const READ_ONLY_RIGHTS = [1, 2, 5, 7, 13, 14, 15, 18, 21, 27].reduce((acc, bit) => acc | (1n << BigInt(bit)), 0n);

const FILETYPE_DIRECTORY = 3;

/** Thrown from fd_write to unwind the guest when stdout would pass the limit. */
class OutputLimitReached extends Error {}

type WasiFn = (...args: any[]) => number;

/** Deterministic byte stream for random_get: SHA-256 in counter mode over a fixed label. */
function makeRandomStream(): (n: number) => Uint8Array {
  let counter = 0;
  let pool = new Uint8Array(0);
  return (n) => {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (pool.length === 0) pool = new Uint8Array(createHash('sha256').update(`pocchain-wasi-random:${counter++}`).digest());
      const take = Math.min(pool.length, n - filled);
      out.set(pool.subarray(0, take), filled);
      pool = pool.subarray(take);
      filled += take;
    }
    return out;
  };
}

/** The policy layer: returns the import object the guest is linked against. */
function buildImports(wasi: WASI, getMemory: () => WasmMemory, cfg: { maxOutputBytes: number }) {
  const base = wasi.wasiImport as Record<string, WasiFn>;
  const stdout: Uint8Array[] = [];
  let stdoutBytes = 0;
  let outputLimitHit = false; // sticky: a guest using wasm exception handling could catch the throw
  const stderr: Uint8Array[] = [];
  let stderrBytes = 0;
  const random = makeRandomStream();

  const view = () => new DataView(getMemory().buffer);
  const bytes = () => new Uint8Array(getMemory().buffer);

  /** Gather an iovec array into one buffer, or undefined if it points outside memory. */
  function gather(iovs: number, iovsLen: number): Uint8Array | undefined {
    const dv = view();
    const mem = bytes();
    if (iovs < 0 || iovs + iovsLen * 8 > mem.length) return undefined;
    let total = 0;
    for (let i = 0; i < iovsLen; i++) {
      const ptr = dv.getUint32(iovs + i * 8, true);
      const len = dv.getUint32(iovs + i * 8 + 4, true);
      if (ptr + len > mem.length) return undefined;
      total += len;
    }
    const out = new Uint8Array(total);
    let off = 0;
    for (let i = 0; i < iovsLen; i++) {
      const ptr = dv.getUint32(iovs + i * 8, true);
      const len = dv.getUint32(iovs + i * 8 + 4, true);
      out.set(mem.subarray(ptr, ptr + len), off);
      off += len;
    }
    return out;
  }

  /** Zero the host-dependent fields of a WASI filestat (64 bytes at ptr). */
  function sanitizeFilestat(ptr: number): void {
    const dv = view();
    if (ptr < 0 || ptr + 64 > dv.byteLength) return;
    dv.setBigUint64(ptr + 0, 0n, true); // dev
    dv.setBigUint64(ptr + 8, 0n, true); // ino
    dv.setBigUint64(ptr + 24, 1n, true); // nlink (filesystem dependent for directories)
    if (dv.getUint8(ptr + 16) === FILETYPE_DIRECTORY) dv.setBigUint64(ptr + 32, 0n, true); // size of a directory
    dv.setBigUint64(ptr + 40, 0n, true); // atim
    dv.setBigUint64(ptr + 48, 0n, true); // mtim
    dv.setBigUint64(ptr + 56, 0n, true); // ctim
  }

  const refuse = (errno: number): WasiFn => () => errno;

  const policy: Record<string, WasiFn> = {
    fd_write(fd: number, iovs: number, iovsLen: number, nwritten: number): number {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      const data = gather(iovs, iovsLen);
      if (!data) return ERRNO_FAULT;
      if (fd === 1) {
        if (outputLimitHit || stdoutBytes + data.length > cfg.maxOutputBytes) {
          outputLimitHit = true;
          throw new OutputLimitReached();
        }
        stdout.push(data);
        stdoutBytes += data.length;
      } else if (stderrBytes < STDERR_MAX) {
        const keep = data.subarray(0, STDERR_MAX - stderrBytes);
        stderr.push(keep);
        stderrBytes += keep.length;
      }
      const dv = view();
      if (nwritten < 0 || nwritten + 4 > dv.byteLength) return ERRNO_FAULT;
      dv.setUint32(nwritten, data.length, true);
      return ERRNO_SUCCESS;
    },
    fd_pwrite: (fd: number) => (fd === 1 || fd === 2 ? ERRNO_SPIPE : ERRNO_BADF),
    path_open(dirfd: number, dirflags: number, path: number, pathLen: number, oflags: number, rightsBase: bigint, rightsInheriting: bigint, fdflags: number, openedFd: number): number {
      if (oflags & (OFLAGS_CREAT | OFLAGS_EXCL | OFLAGS_TRUNC)) return ERRNO_ROFS;
      return base.path_open!(dirfd, dirflags, path, pathLen, oflags, BigInt.asUintN(64, rightsBase) & READ_ONLY_RIGHTS, BigInt.asUintN(64, rightsInheriting) & READ_ONLY_RIGHTS, fdflags, openedFd);
    },
    path_create_directory: refuse(ERRNO_ROFS),
    path_link: refuse(ERRNO_ROFS),
    path_remove_directory: refuse(ERRNO_ROFS),
    path_rename: refuse(ERRNO_ROFS),
    path_symlink: refuse(ERRNO_ROFS),
    path_unlink_file: refuse(ERRNO_ROFS),
    path_filestat_set_times: refuse(ERRNO_ROFS),
    fd_filestat_set_size: refuse(ERRNO_ROFS),
    fd_filestat_set_times: refuse(ERRNO_ROFS),
    fd_allocate: refuse(ERRNO_ROFS),
    fd_readdir: refuse(ERRNO_NOTSUP),
    fd_filestat_get(fd: number, ptr: number): number {
      const r = base.fd_filestat_get!(fd, ptr);
      if (r === ERRNO_SUCCESS) sanitizeFilestat(ptr);
      return r;
    },
    path_filestat_get(fd: number, flags: number, path: number, pathLen: number, ptr: number): number {
      const r = base.path_filestat_get!(fd, flags, path, pathLen, ptr);
      if (r === ERRNO_SUCCESS) sanitizeFilestat(ptr);
      return r;
    },
    clock_time_get(_id: number, _precision: bigint, ptr: number): number {
      const dv = view();
      if (ptr < 0 || ptr + 8 > dv.byteLength) return ERRNO_FAULT;
      dv.setBigUint64(ptr, 0n, true);
      return ERRNO_SUCCESS;
    },
    clock_res_get(_id: number, ptr: number): number {
      const dv = view();
      if (ptr < 0 || ptr + 8 > dv.byteLength) return ERRNO_FAULT;
      dv.setBigUint64(ptr, 1n, true);
      return ERRNO_SUCCESS;
    },
    random_get(buf: number, len: number): number {
      const mem = bytes();
      if (buf < 0 || buf + len > mem.length) return ERRNO_FAULT;
      mem.set(random(len), buf);
      return ERRNO_SUCCESS;
    },
    proc_raise: refuse(ERRNO_NOSYS),
    sock_accept: refuse(ERRNO_NOTSUP),
    sock_recv: refuse(ERRNO_NOTSUP),
    sock_send: refuse(ERRNO_NOTSUP),
    sock_shutdown: refuse(ERRNO_NOTSUP),
  };

  const imports: Record<string, WasiFn> = {};
  for (const [name, fn] of Object.entries(base)) imports[name] = policy[name] ?? fn;
  return {
    imports,
    stdout: () => concat(stdout, stdoutBytes),
    outputLimitHit: () => outputLimitHit,
    stderr: () => concat(stderr, stderrBytes),
  };
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

function run(input: SandboxWorkerInput): SandboxWorkerMessage {
  const t0 = performance.now();
  let module: WasmModule;
  try {
    module = new WebAssembly.Module(input.wasm);
  } catch (e) {
    return { kind: 'fail', code: 'WASM_INVALID', message: `compile: ${(e as Error).message}`, stderr: new Uint8Array(0), memoryPages: 0 };
  }
  const exports = WebAssembly.Module.exports(module);
  const hasStart = exports.some((e) => e.name === '_start' && e.kind === 'function');
  const hasMemory = exports.some((e) => e.name === 'memory' && e.kind === 'memory');
  if (!hasStart || !hasMemory) {
    return { kind: 'fail', code: 'WASM_INVALID', message: 'not a WASI command: it must export `_start` and `memory`', stderr: new Uint8Array(0), memoryPages: 0 };
  }
  const badImport = WebAssembly.Module.imports(module).find((i) => i.module !== 'wasi_snapshot_preview1');
  if (badImport) {
    return { kind: 'fail', code: 'WASM_INVALID', message: `import from unknown module ${badImport.module}.${badImport.name}`, stderr: new Uint8Array(0), memoryPages: 0 };
  }

  const fds: number[] = [];
  try {
    const stdinFd = openSync(input.stdinPath, 'r');
    fds.push(stdinFd);
    const nullFd = openSync('/dev/null', 'w');
    fds.push(nullFd);
    const wasi = new WASI({
      version: 'preview1',
      args: ['workload'],
      env: {},
      preopens: { '/': input.rootDir },
      stdin: stdinFd,
      stdout: nullFd, // never written: fd_write on 1/2 is served in memory by the policy layer
      stderr: nullFd,
      returnOnExit: true,
    });
    let memory: WasmMemory | undefined;
    const io = buildImports(wasi, () => memory!, { maxOutputBytes: input.maxOutputBytes });
    const pages = () => (memory ? memory.buffer.byteLength / 65536 : 0);
    const fail = (code: Extract<SandboxWorkerMessage, { kind: 'fail' }>['code'], message: string): SandboxWorkerMessage => ({
      kind: 'fail',
      code,
      message,
      stderr: io.stderr(),
      memoryPages: pages(),
    });

    let instance: WasmInstance;
    try {
      instance = new WebAssembly.Instance(module, { wasi_snapshot_preview1: io.imports });
    } catch (e) {
      if (e instanceof WebAssembly.LinkError) return fail('WASM_INVALID', `link: ${e.message}`);
      if (e instanceof RangeError) return fail('WASM_MEMORY', `instantiate: ${e.message}`);
      return fail('WASM_TRAP', `instantiate: ${(e as Error).message}`);
    }
    memory = instance.exports.memory as WasmMemory;

    let exitCode: number;
    try {
      exitCode = wasi.start(instance);
    } catch (e) {
      if (e instanceof OutputLimitReached || io.outputLimitHit()) return fail('WASM_OUTPUT_LIMIT', `stdout exceeded ${input.maxOutputBytes} bytes`);
      // A guest that dies while its memory is at the cap most likely failed a memory.grow.
      if (pages() >= input.memoryPages) return fail('WASM_MEMORY', `trap with memory at the limit (${input.memoryPages} pages): ${(e as Error).message}`);
      if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) return fail('WASM_TRAP', (e as Error).message);
      return fail('WASM_TRAP', `host error: ${(e as Error).message}`);
    }
    if (io.outputLimitHit()) return fail('WASM_OUTPUT_LIMIT', `stdout exceeded ${input.maxOutputBytes} bytes`);
    return { kind: 'exit', exitCode, stdout: io.stdout(), stderr: io.stderr(), memoryPages: pages(), durationMs: performance.now() - t0 };
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

if (parentPort) {
  // A worker serves one job at a time, synchronously; the parent reuses it only after a job that
  // ended normally (a timed-out worker is terminated), so runs never overlap inside one worker.
  const port = parentPort;
  port.on('message', (job: SandboxWorkerInput) => {
    let msg: SandboxWorkerMessage;
    try {
      msg = run(job);
    } catch (e) {
      msg = { kind: 'fail', code: 'SANDBOX_ERROR', message: (e as Error).message, stderr: new Uint8Array(0), memoryPages: 0 };
    }
    const transfer = msg.kind === 'exit' ? [msg.stdout.buffer as ArrayBuffer, msg.stderr.buffer as ArrayBuffer] : [];
    port.postMessage(msg, transfer);
  });
  port.postMessage({ kind: 'ready' } satisfies SandboxWorkerMessage);
}
