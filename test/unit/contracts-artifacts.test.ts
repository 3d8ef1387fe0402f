/**
 * The compiled contracts are committed (contracts/build/): the Hub, Staking and Bridge runtime
 * code is in genesis, so it is consensus-critical, and a fresh clone must run without a build step.
 * This test compiles every source with solc-js in memory and requires the committed files to be
 * byte for byte what `npm run build` would write — no stale, missing or orphan artifact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_DIR, STAMP_FILE, checkBuild, compileAll } from '../../contracts/build.ts';
import { loadArtifact } from '../../contracts/artifacts.ts';

test('committed contracts/build equals a fresh compile byte for byte', () => {
  const fresh = compileAll();
  for (const name of ['Hub.json', 'Staking.json', 'Bridge.json', 'Vault.json', 'Checkpoints.json', 'TestToken.json', STAMP_FILE]) assert.ok(fresh.has(name), `${name} is compiled`);
  assert.deepEqual(checkBuild(fresh), [], 'run `npm run build` and commit contracts/build');
  assert.deepEqual(readdirSync(BUILD_DIR).sort(), [...fresh.keys()].sort());
  for (const [name, content] of fresh) assert.equal(readFileSync(join(BUILD_DIR, name), 'utf8'), content, name);
});

test('artifacts load with runtime code (the genesis contracts are not empty)', () => {
  for (const name of ['Hub', 'Staking', 'Bridge']) {
    const a = loadArtifact(name);
    assert.match(a.deployedBytecode, /^0x[0-9a-f]{200,}$/, name);
    assert.ok(a.abi.length > 0, name);
  }
});
