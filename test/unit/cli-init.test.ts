/**
 * `pocchain init` prints each validator's genesis entry (public keys and BLS proof of possession,
 * never a secret); entries from separate data dirs assemble into a valid shared genesis with
 * RANDAO keys, which each validator then takes with `init --genesis`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, NODE, tempDir } from '../helpers/proc.ts';
import { loadGenesis } from '../../chain/genesis.ts';
import { loadKeys } from '../../lib/keys.ts';

const init = (args: string[]) => JSON.parse(execFileSync(NODE, [CLI, 'init', ...args], { encoding: 'utf8' }));

test('init prints a genesis validator entry; entries assemble into a shared genesis each node accepts', () => {
  const dirs = [tempDir('pocchain-init-'), tempDir('pocchain-init-')];
  const outs = dirs.map((d) => init(['--datadir', d]));
  const entries = outs.map((o) => o.genesisValidator);
  for (const [i, e] of entries.entries()) {
    assert.deepEqual(Object.keys(e).sort(), ['address', 'blsPop', 'blsPubKey', 'power', 'pubKey']);
    assert.match(e.blsPubKey, /^0x[0-9a-f]{96}$/);
    assert.match(e.blsPop, /^0x[0-9a-f]{192}$/);
    // no secret in what is printed
    const k = loadKeys(dirs[i]!);
    const printed = JSON.stringify(outs[i]).toLowerCase();
    assert.ok(!printed.includes(Buffer.from(k.consensus.secretKey.subarray(0, 32)).toString('hex')));
    assert.ok(!printed.includes(k.validator.privateKey.slice(2).toLowerCase()));
  }
  // the coordinator assembles the shared genesis from the entries
  const g = JSON.parse(readFileSync(outs[0].genesis, 'utf8'));
  g.validators = entries;
  const shared = join(dirs[0]!, 'shared-genesis.json');
  writeFileSync(shared, JSON.stringify(g));
  assert.equal(loadGenesis(shared).validators.length, 2);
  // each validator takes it; its keys are kept
  const again = init(['--datadir', dirs[1]!, '--genesis', shared]);
  assert.deepEqual(again.genesisValidator, entries[1]);
  assert.deepEqual(JSON.parse(readFileSync(again.genesis, 'utf8')).validators, entries);
  // a tampered proof of possession is refused when the genesis is loaded
  g.validators = [entries[0], { ...entries[1], blsPop: entries[0].blsPop }];
  writeFileSync(shared, JSON.stringify(g));
  assert.throws(() => loadGenesis(shared), (e: any) => e.code === 'GENESIS_INVALID');
});
