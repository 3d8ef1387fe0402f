#!/usr/bin/env node
// Launcher for the `pocchain` command: the CLI is TypeScript run by Node 24's type stripping.
// When started by an older Node (e.g. a machine's Node 20 through `npx` or a global link), re-run
// it with the Node 24 that the `node@24` devDependency installs next to the package.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, 'pocchain.ts');
const major = Number(process.versions.node.split('.')[0]);
if (major >= 24) {
  await import(cli);
} else {
  const node24 = join(here, '..', 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(node24)) {
    process.stderr.write(`pocchain needs Node.js 24 (this is ${process.version}); run \`npm install\` in ${join(here, '..')} first\n`);
    process.exit(1);
  }
  const child = spawn(node24, [cli, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => (signal ? process.kill(process.pid, signal) : process.exit(code ?? 1)));
}
