/**
 * The sidechain Bridge contract on anvil, placed as genesis places it (runtime code at 0x…1002, no
 * constructor): its root equals the TS tree's for random withdrawal counts, it refuses bad input,
 * and the coin stays locked in it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { Contract, getAddress, toBeHex, zeroPadValue, type JsonRpcSigner } from 'ethers';
import { loadArtifact } from '../../contracts/artifacts.ts';
import { BRIDGE_STORAGE, decodeWithdrawalLog, IncrementalMerkleTree, rootFromBranch, verifyProof, withdrawalLeaf, WITHDRAWAL_REQUESTED_TOPIC, ZERO_HASHES } from '../../bridge/merkle.ts';
import { expectRevert, startL1, type L1 } from './bridge-fixture.ts';

const BRIDGE_ADDRESS = '0x0000000000000000000000000000000000001002';

let l1: L1;
let user: JsonRpcSigner;

before(async () => {
  l1 = await startL1();
  user = l1.signers[1]!;
});
after(async () => {
  await l1?.stop();
});

/** Put fresh Bridge runtime code at `address` (empty storage), as genesis does. */
async function placeBridge(address: string): Promise<Contract> {
  const a = loadArtifact('Bridge');
  await l1.provider.send('anvil_setCode', [address, a.deployedBytecode]);
  for (let slot = 0; slot <= 32; slot++) {
    await l1.provider.send('anvil_setStorageAt', [address, toBeHex(slot, 32), zeroPadValue('0x', 32)]);
  }
  return new Contract(address, a.abi, user);
}

describe('Bridge (sidechain withdrawals)', () => {
  test('genesis-placed code works without a constructor; empty root is the zero tree', async () => {
    const bridge = await placeBridge(BRIDGE_ADDRESS);
    assert.equal(await bridge.count(), 0n);
    assert.equal(await bridge.root(), ZERO_HASHES[32]);
    assert.equal(new IncrementalMerkleTree().root(), ZERO_HASHES[32]);
  });

  test('the TS root equals the contract root for random withdrawal counts', async () => {
    const recipients = [1, 2, 3].map((i) => getAddress('0x' + String(i).repeat(40)));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ to: fc.constantFrom(...recipients), amount: fc.bigInt({ min: 1n, max: 10n ** 20n }) }), { minLength: 1, maxLength: 40 }),
        async (ws) => {
          const bridge = await placeBridge(BRIDGE_ADDRESS);
          const tree = new IncrementalMerkleTree();
          const fromBlock = (await l1.provider.getBlockNumber()) + 1;
          let sent: any;
          for (const w of ws) sent = await bridge.getFunction('withdraw')(w.to, { value: w.amount });
          await sent.wait();
          const logs = await l1.provider.getLogs({ address: BRIDGE_ADDRESS, topics: [WITHDRAWAL_REQUESTED_TOPIC], fromBlock });
          const events = logs.map(decodeWithdrawalLog);
          assert.equal(events.length, ws.length);
          events.forEach((e, i) => {
            assert.equal(e.index, BigInt(i));
            assert.equal(e.amount, ws[i]!.amount);
            assert.equal(e.l1Recipient, ws[i]!.to);
            assert.equal(e.leaf, withdrawalLeaf({ index: BigInt(i), l1Recipient: ws[i]!.to, amount: ws[i]!.amount }));
            tree.push(e.leaf);
          });
          assert.equal(await bridge.count(), BigInt(ws.length));
          const root = await bridge.root();
          assert.equal(root, tree.root());
          const i = ws.length - 1;
          assert.ok(verifyProof(tree.leaf(i), i, tree.proof(i), root));
        },
      ),
      { numRuns: 6, seed: 4242 },
    );
  });

  test('the root after each of 70 withdrawals matches', async () => {
    const bridge = await placeBridge(BRIDGE_ADDRESS);
    const before = await l1.provider.getBalance(BRIDGE_ADDRESS);
    const tree = new IncrementalMerkleTree();
    for (let i = 0; i < 70; i++) {
      const rc = await (await bridge.getFunction('withdraw')(user.address, { value: BigInt(i + 1) })).wait();
      tree.push(decodeWithdrawalLog(rc.logs[0]).leaf);
      assert.equal(await bridge.root(), tree.root(), `root after ${i + 1} withdrawals`);
    }
    // the documented storage layout gives the same root without calling the contract
    const word = (slot: number) => l1.provider.getStorage(BRIDGE_ADDRESS, slot);
    const branch = await Promise.all(Array.from({ length: 32 }, (_, h) => word(BRIDGE_STORAGE.branchSlot(h))));
    const count = Number(BigInt(await word(BRIDGE_STORAGE.countSlot)));
    assert.equal(count, 70);
    assert.equal(rootFromBranch(branch, count), tree.root());
    assert.equal(await l1.provider.getBalance(BRIDGE_ADDRESS), before + BigInt((70 * 71) / 2), 'the burned coin stays locked in the Bridge');
  });

  test('zero amount, zero recipient and plain transfers are refused', async () => {
    const bridge = await placeBridge(BRIDGE_ADDRESS);
    await expectRevert(bridge, 'withdraw', [user.address], 'ZeroAmount', { value: 0n });
    await expectRevert(bridge, 'withdraw', ['0x' + '00'.repeat(20)], 'ZeroRecipient', { value: 1n });
    await assert.rejects(user.sendTransaction({ to: BRIDGE_ADDRESS, value: 1n }));
    assert.equal(await bridge.count(), 0n);
  });

  test('a full tree refuses further withdrawals', async () => {
    const bridge = await placeBridge(BRIDGE_ADDRESS);
    // slot 32 holds the count (documented layout)
    await l1.provider.send('anvil_setStorageAt', [BRIDGE_ADDRESS, toBeHex(32, 32), toBeHex(2n ** 32n - 1n, 32)]);
    assert.equal(await bridge.count(), 2n ** 32n - 1n);
    await expectRevert(bridge, 'withdraw', [user.address], 'TreeFull', { value: 1n });
  });
});
