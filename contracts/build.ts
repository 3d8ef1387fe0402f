/**
 * Compiles every Solidity source under contracts/{sidechain,l1,test} with solc-js and writes one
 * artifact per contract to contracts/build/<Name>.json ({abi, bytecode, deployedBytecode}).
 * Skips work when no source changed since the last build (a hash of all sources is kept).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';

const root = dirname(fileURLToPath(import.meta.url));
const outDir = join(root, 'build');
const SOURCE_DIRS = ['sidechain', 'l1', 'test'];

function listSol(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listSol(join(dir, e.name)) : e.name.endsWith('.sol') ? [join(dir, e.name)] : [],
  );
}

/** Compile all sources; returns the number of contracts written (0 when up to date). */
export function build(opts: { force?: boolean; quiet?: boolean } = {}): number {
  const files = SOURCE_DIRS.flatMap((d) => listSol(join(root, d))).sort();
  const sources: Record<string, { content: string }> = {};
  const h = createHash('sha256').update(solc.version());
  for (const f of files) {
    const key = relative(root, f);
    const content = readFileSync(f, 'utf8');
    sources[key] = { content };
    h.update(key).update(content);
  }
  const digest = h.digest('hex');
  const stamp = join(outDir, '.sources.sha256');
  if (!opts.force && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return 0;

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
  mkdirSync(outDir, { recursive: true });
  let n = 0;
  for (const [file, contracts] of Object.entries<Record<string, any>>(out.contracts ?? {})) {
    for (const [name, c] of Object.entries<any>(contracts)) {
      const artifact = {
        contractName: name,
        sourceName: file,
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      };
      writeFileSync(join(outDir, `${name}.json`), JSON.stringify(artifact, null, 1));
      n++;
    }
  }
  writeFileSync(stamp, digest);
  if (!opts.quiet) process.stderr.write(`contracts: compiled ${n} contracts from ${files.length} files with solc ${solc.version()}\n`);
  return n;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  build({ force: process.argv.includes('--force') });
}
