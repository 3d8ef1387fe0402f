/**
 * bridge/task-proof.ts: the Hub storage layout it proves against is solc's (so a change to Hub.sol
 * that moves `tasks`, `status` or `result` fails here, and TaskResults.sol must follow), the slot
 * arithmetic, and which checkpoint a proof may use.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { AbiCoder, keccak256 } from 'ethers';
import solc from 'solc';
import { HUB_TASKS_SLOT, TASK_RESULT_WORD, TASK_STATUS_WORD, pickCheckpoint, statusOfWord, taskSlots } from '../../bridge/task-proof.ts';
import { isPocError } from '../../lib/errors.ts';

test('the constants are solc\'s storage layout of Hub.sol, and TaskResults.sol carries the same', () => {
  const src = readFileSync(new URL('../../contracts/sidechain/Hub.sol', import.meta.url), 'utf8');
  const input = { language: 'Solidity', sources: { 'Hub.sol': { content: src } }, settings: { outputSelection: { '*': { Hub: ['storageLayout'] } } } };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  const layout = out.contracts['Hub.sol'].Hub.storageLayout;
  const tasks = layout.storage.find((s: any) => s.label === 'tasks');
  assert.equal(BigInt(tasks.slot), HUB_TASKS_SLOT);
  const members = layout.types[layout.types[tasks.type].value].members;
  const status = members.find((m: any) => m.label === 'status');
  const result = members.find((m: any) => m.label === 'result');
  assert.deepEqual([BigInt(status.slot), status.offset, status.type], [TASK_STATUS_WORD, 0, 't_uint8']);
  assert.deepEqual([BigInt(result.slot), result.offset, result.type], [TASK_RESULT_WORD, 0, 't_bytes32']);
  const sol = readFileSync(new URL('../../contracts/l1/TaskResults.sol', import.meta.url), 'utf8');
  assert.match(sol, new RegExp(`TASKS_SLOT = ${HUB_TASKS_SLOT};`));
  assert.match(sol, new RegExp(`STATUS_WORD = ${TASK_STATUS_WORD};`));
  assert.match(sol, new RegExp(`RESULT_WORD = ${TASK_RESULT_WORD};`));
});

test('task slots: keccak256(taskId . 6) + word', () => {
  const base = BigInt(keccak256(AbiCoder.defaultAbiCoder().encode(['uint256', 'uint256'], [7n, 6n])));
  const s = taskSlots(7n);
  assert.equal(BigInt(s.status), base);
  assert.equal(BigInt(s.result), base + 5n);
  assert.equal(s.status.length, 66);
  assert.notEqual(taskSlots(8n).status, s.status);
  assert.equal(statusOfWord(0x1234_03n), 3);
});

test('which checkpoint a proof uses', () => {
  const table: [latest: number, finalizedAt: number, height: number | undefined, want: number | string][] = [
    [100, 90, undefined, 100], // newest on L1
    [100, 100, undefined, 100], // the block itself
    [100, 90, 95, 95], // an explicit one at or after finalization
    [80, 90, undefined, 'wait for a checkpoint at height 90'],
    [100, 90, 89, 'before block 90'],
  ];
  for (const [latest, fin, h, want] of table) {
    if (typeof want === 'number') assert.equal(pickCheckpoint(latest, fin, h), want);
    else assert.throws(() => pickCheckpoint(latest, fin, h), (e) => isPocError(e, 'PROVE_NOT_CHECKPOINTED') && e.message.includes(want));
  }
});
