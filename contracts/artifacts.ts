/** Typed access to compiled contract artifacts written by contracts/build.ts (committed in contracts/build/). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Artifact {
  contractName: string;
  abi: any[];
  bytecode: `0x${string}`;
  deployedBytecode: `0x${string}`;
}

const buildDir = join(dirname(fileURLToPath(import.meta.url)), 'build');
const cache = new Map<string, Artifact>();

/** Load the artifact of contract `name`. */
export function loadArtifact(name: string): Artifact {
  const hit = cache.get(name);
  if (hit) return hit;
  const file = join(buildDir, `${name}.json`);
  if (!existsSync(file)) throw new Error(`contract artifact ${name} not found in ${buildDir}: run \`npm run build\``);
  const a = JSON.parse(readFileSync(file, 'utf8')) as Artifact;
  cache.set(name, a);
  return a;
}
