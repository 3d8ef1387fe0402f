/**
 * Compiles every Solidity source under contracts/{sidechain,l1,test} with solc-js and writes one
 * artifact per contract to contracts/build/<Name>.json ({abi, bytecode, deployedBytecode}).
 * Skips work when no source changed since the last build (a hash of all sources is kept).
 *
 * The artifacts are committed: the Hub, Staking and Bridge bytecode is in genesis (consensus-
 * critical), and a fresh clone must run without a build step. After editing a .sol file run
 * `npm run build` and commit contracts/build/ with it; test/unit/contracts-artifacts.test.ts
 * (and `node contracts/build.ts --check`) fail when the committed files differ from a compile.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';

const root = dirname(fileURLToPath(import.meta.url));
const outDir = join(root, 'build');
const SOURCE_DIRS = ['sidechain', 'l1', 'test'];
/** Third-party libraries copied verbatim (l1/vendor/*): compiled and stamped with the rest, but
 *  only used as internal library code, so they get no artifact of their own. */
const isVendored = (file: string): boolean => file.split('/').includes('vendor');

function listSol(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listSol(join(dir, e.name)) : e.name.endsWith('.sol') ? [join(dir, e.name)] : [],
  );
}

/** Directory the artifacts are written to (committed). */
export const BUILD_DIR = outDir;
/** Name of the stamp file (hash of compiler version + sources) inside BUILD_DIR. */
export const STAMP_FILE = '.sources.sha256';

/** Sources to compile (keyed by path relative to contracts/) and the hash that stamps a build. */
function readSources(): { sources: Record<string, { content: string }>; digest: string; files: string[] } {
  const files = SOURCE_DIRS.flatMap((d) => listSol(join(root, d))).sort();
  const sources: Record<string, { content: string }> = {};
  const h = createHash('sha256').update(solc.version());
  for (const f of files) {
    const key = relative(root, f);
    const content = readFileSync(f, 'utf8');
    sources[key] = { content };
    h.update(key).update(content);
  }
  return { sources, digest: h.digest('hex'), files };
}

/** Compile every source in memory: file name in BUILD_DIR → exact file contents (stamp included). Pure apart from reading the sources. */
export function compileAll(): Map<string, string> {
  const { sources, digest } = readSources();
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      evmVersion: 'cancun',
      optimizer: { enabled: true, runs: 200 },
      viaIR: true,
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (out.errors ?? []).filter((e: { severity: string }) => e.severity === 'error');
  if (errors.length > 0) {
    for (const e of errors) process.stderr.write(`${e.formattedMessage}\n`);
    throw new Error(`solc: ${errors.length} error(s)`);
  }
  const files = new Map<string, string>();
  for (const [file, contracts] of Object.entries<Record<string, any>>(out.contracts ?? {})) {
    if (isVendored(file)) continue;
    for (const [name, c] of Object.entries<any>(contracts)) {
      const artifact = {
        contractName: name,
        sourceName: file,
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      };
      if (files.has(`${name}.json`)) throw new Error(`two contracts named ${name}: artifacts are keyed by contract name`);
      files.set(`${name}.json`, JSON.stringify(artifact, null, 1));
    }
  }
  files.set(STAMP_FILE, digest);
  return files;
}

/** Differences between a fresh compile and the files in BUILD_DIR (empty: byte for byte equal). */
export function checkBuild(expected: Map<string, string> = compileAll()): string[] {
  const diffs: string[] = [];
  const present = existsSync(outDir) ? readdirSync(outDir) : [];
  for (const [name, content] of expected) {
    const file = join(outDir, name);
    if (!existsSync(file)) diffs.push(`${name}: missing`);
    else if (readFileSync(file, 'utf8') !== content) diffs.push(`${name}: differs from a fresh compile`);
  }
  for (const name of present) if (!expected.has(name)) diffs.push(`${name}: no source compiles to it`);
  return diffs;
}

/** Compile all sources and write them; returns the number of contracts written (0 when up to date). */
export function build(opts: { force?: boolean; quiet?: boolean } = {}): number {
  const { digest, files } = readSources();
  const stamp = join(outDir, STAMP_FILE);
  if (!opts.force && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return 0;
  const out = compileAll();
  mkdirSync(outDir, { recursive: true });
  for (const name of readdirSync(outDir)) if (!out.has(name)) rmSync(join(outDir, name));
  for (const [name, content] of out) writeFileSync(join(outDir, name), content);
  const n = out.size - 1;
  if (!opts.quiet) process.stderr.write(`contracts: compiled ${n} contracts from ${files.length} files with solc ${solc.version()}\n`);
  return n;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--check')) {
    const diffs = checkBuild();
    if (diffs.length > 0) {
      process.stderr.write(`contracts/build is stale (run \`npm run build\` and commit contracts/build):\n  ${diffs.join('\n  ')}\n`);
      process.exit(1);
    }
    process.stderr.write('contracts/build matches a fresh compile\n');
  } else build({ force: process.argv.includes('--force') });
}
