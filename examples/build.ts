/**
 * Compile the example workloads (WebAssembly text) into examples/build/<name>.wasm.
 *
 * examples/*.wat are real workloads (documented in docs/workloads.md); examples/test/*.wat are
 * misbehaving modules used by the sandbox tests. Run: `npm run examples` (npm scripts run on the
 * pinned Node 24; the machine's own Node may be too old to strip types).
 */
import wabtInit from 'wabt';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** Directory the compiled modules are written to. */
export const BUILD_DIR = join(HERE, 'build');

/** Compile one WAT source text to a wasm binary. */
export async function compileWat(name: string, text: string): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const mod = wabt.parseWat(name, text, { bulk_memory: true, mutable_globals: true, sign_extension: true, exceptions: true });
  try {
    mod.resolveNames();
    mod.validate();
    return new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}

/** Compile every example; returns name → path of the .wasm file. */
export async function buildExamples(): Promise<Record<string, string>> {
  await mkdir(BUILD_DIR, { recursive: true });
  const out: Record<string, string> = {};
  for (const dir of [HERE, join(HERE, 'test')]) {
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.wat')).sort()) {
      const name = basename(file, '.wat');
      if (out[name]) throw new Error(`duplicate example name ${name}`);
      const wasm = await compileWat(file, await readFile(join(dir, file), 'utf8'));
      const path = join(BUILD_DIR, `${name}.wasm`);
      await writeFile(path, wasm);
      out[name] = path;
    }
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const built = await buildExamples();
  for (const [name, path] of Object.entries(built)) console.log(`${name}\t${path}`);
}
