/**
 * The whole bridge on a real anvil: lock in the Vault, burn in the (sidechain) Bridge, a checkpoint
 * signed by 3 of 4 validators, release with a TS-built proof; then every refusal, each leaving
 * balances and state as they were.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { getBytes, keccak256, parseEther, toUtf8Bytes, type Contract, type JsonRpcSigner, type SigningKey } from 'ethers';
import { blsKeyFromSeed, blsSign } from '../../lib/bls.ts';
import { aggregateForSubmission, buildBlsSet } from '../../bridge/checkpoint-bls.ts';
import { checkpointDigest, packSignatures, selectQuorum, type Checkpoint, type CheckpointDomain, type ValidatorSet } from '../../bridge/checkpoint.ts';
import { decodeDepositLogs, orderDeposits } from '../../bridge/deposit.ts';
import { decodeWithdrawalLog, IncrementalMerkleTree, rootFromProof, withdrawalLeaf, WITHDRAWAL_REQUESTED_TOPIC, type WithdrawalEvent } from '../../bridge/merkle.ts';
import { deploy, deployCheckpoints, expectRevert, increaseTime, signAll, SIDECHAIN_CHAIN_ID, startL1, validatorKeys, type L1 } from './bridge-fixture.ts';

const HOUR = 3600;
const CAP = parseEther('100');

let l1: L1;
let keys: SigningKey[];
let token: Contract;
let checkpoints: Contract;
let vault: Contract;
let bridge: Contract;
let domain: CheckpointDomain;
let set: ValidatorSet;
let owner: JsonRpcSigner, alice: JsonRpcSigner, bob: JsonRpcSigner, carol: JsonRpcSigner, dave: JsonRpcSigner;
const withdrawals: WithdrawalEvent[] = [];

before(async () => {
  l1 = await startL1();
  [owner, alice, bob, carol, dave] = l1.signers as [JsonRpcSigner, JsonRpcSigner, JsonRpcSigner, JsonRpcSigner, JsonRpcSigner];
  keys = validatorKeys(4);
  token = await deploy('TestToken', owner, 'Pocket', 'POC', 0n);
  ({ checkpoints, domain, set } = await deployCheckpoints(l1, keys, [1n, 1n, 1n, 1n]));
  vault = await deploy('Vault', owner, await token.getAddress(), await checkpoints.getAddress(), HOUR, CAP);
  // The sidechain Bridge, simulated on the same anvil.
  bridge = await deploy('Bridge', owner);
  await (await token.mint(alice.address, parseEther('1000'))).wait();
});
after(async () => {
  await l1?.stop();
});

/** Token balance of a signer or contract. */
async function bal(who: JsonRpcSigner | Contract): Promise<bigint> {
  return (await token.balanceOf(await who.getAddress())) as bigint;
}

async function withdraw(from: JsonRpcSigner, to: string, amount: bigint): Promise<WithdrawalEvent> {
  const rc = await (await (bridge.connect(from) as Contract).getFunction('withdraw')(to, { value: amount })).wait();
  const ev = rc.logs.filter((l: any) => l.topics[0] === WITHDRAWAL_REQUESTED_TOPIC).map(decodeWithdrawalLog);
  assert.equal(ev.length, 1);
  withdrawals.push(ev[0]!);
  return ev[0]!;
}

/** Checkpoint the Bridge's current root at the current block, signed by 3 of the 4 validators. */
async function checkpointNow(): Promise<{ cp: Checkpoint; count: number }> {
  const block = (await l1.provider.getBlock('latest'))!;
  const cp: Checkpoint = { height: BigInt(block.number), blockHash: block.hash!, stateRoot: block.stateRoot!, withdrawalsRoot: await bridge.root() };
  const { packed, signers } = selectQuorum(checkpointDigest(domain, cp), signAll(keys, domain, cp), set);
  assert.equal(signers.length, 3);
  await (await checkpoints.submitCheckpoint(tuple(cp), packed)).wait();
  accepted.set(cp.height, cp);
  return { cp, count: Number(await bridge.count()) };
}

/** Checkpoints accepted on L1, by height: Vault.release takes the roots in calldata. */
const accepted = new Map<bigint, Checkpoint>();
const tuple = (cp: Checkpoint) => [cp.height, cp.blockHash, cp.stateRoot, cp.withdrawalsRoot];

/** Arguments of Vault.release for withdrawal `w`, proven over the first `count` withdrawals, at checkpoint `at` (a height L1 accepted, or roots). */
function releaseArgs(at: bigint | Checkpoint, w: WithdrawalEvent, count: number): unknown[] {
  const tree = IncrementalMerkleTree.fromLeaves(withdrawals.slice(0, count).map((x) => x.leaf));
  const cp = typeof at === 'bigint' ? (accepted.get(at) ?? { height: at, blockHash: keccak256(toUtf8Bytes(`b${at}`)), stateRoot: keccak256(toUtf8Bytes(`s${at}`)), withdrawalsRoot: tree.root() }) : at;
  return [tuple(cp), w.index, w.l1Recipient, w.amount, tree.proof(Number(w.index))];
}

describe('bridge flow', () => {
  let cp1: Checkpoint;
  let count1: number;

  test('deposits lock tokens and get increasing nonces', async () => {
    const vaultAddr = await vault.getAddress();
    await (await (token.connect(alice) as Contract).getFunction('approve')(vaultAddr, parseEther('500'))).wait();
    const recipient = '0x00000000000000000000000000000000000000aa';
    const r1 = await (await (vault.connect(alice) as Contract).getFunction('deposit')(recipient, parseEther('300'))).wait();
    const r2 = await (await (vault.connect(alice) as Contract).getFunction('deposit')(recipient, parseEther('200'))).wait();
    const deposits = orderDeposits(decodeDepositLogs([...r1.logs, ...r2.logs]), 0n);
    assert.deepEqual(
      deposits.map((d) => [d.nonce, d.from, d.recipient, d.amount]),
      [
        [0n, alice.address, '0x00000000000000000000000000000000000000AA', parseEther('300')],
        [1n, alice.address, '0x00000000000000000000000000000000000000AA', parseEther('200')],
      ],
    );
    assert.equal(deposits[0]!.l1Block, r1.blockNumber);
    assert.equal(await vault.nextDepositNonce(), 2n);
    assert.equal(await bal(vault), parseEther('500'));
    assert.equal(await bal(alice), parseEther('500'));
  });

  test('bad deposits are refused without effect', async () => {
    const va = vault.connect(alice) as Contract;
    await expectRevert(va, 'deposit', [alice.address, 0n], 'ZeroAmount');
    await expectRevert(va, 'deposit', ['0x' + '00'.repeat(20), 1n], 'ZeroAddress');
    // allowance is used up: the token refuses, the Vault says so
    await expectRevert(va, 'deposit', [alice.address, 1n], 'TokenTransferFailed');
    assert.equal(await vault.nextDepositNonce(), 2n);
    assert.equal(await bal(vault), parseEther('500'));
  });

  test('withdrawals on the sidechain burn coin into the tree the TS code rebuilds', async () => {
    const before = await l1.provider.getBalance(await bridge.getAddress());
    await withdraw(dave, bob.address, parseEther('40'));
    await withdraw(dave, carol.address, parseEther('70'));
    await withdraw(dave, bob.address, parseEther('10'));
    assert.deepEqual(withdrawals.map((w) => w.index), [0n, 1n, 2n]);
    assert.equal(withdrawals[1]!.from, dave.address);
    assert.equal(await l1.provider.getBalance(await bridge.getAddress()), before + parseEther('120'));
    const tree = IncrementalMerkleTree.fromLeaves(withdrawals.map((w) => w.leaf));
    assert.equal(await bridge.root(), tree.root());
    ({ cp: cp1, count: count1 } = await checkpointNow());
    assert.equal(count1, 3);
  });

  test('release with a TS proof pays the exact amount once', async () => {
    const w = withdrawals[0]!;
    const rc = await (await vault.getFunction('release')(...releaseArgs(cp1.height, w, count1))).wait();
    const ev = rc.logs.map((l: any) => vault.interface.parseLog(l)).find((e: any) => e?.name === 'Released');
    assert.deepEqual([ev.args.index, ev.args.l1Recipient, ev.args.amount, ev.args.height], [0n, bob.address, parseEther('40'), cp1.height]);
    assert.equal(await bal(bob), parseEther('40'));
    assert.equal(await bal(vault), parseEther('460'));
    assert.equal(await vault.isReleased(0n), true);
    assert.equal(await vault.isReleased(1n), false);
  });

  test('a reused proof is refused', async () => {
    const [index] = await expectRevert(vault, 'release', releaseArgs(cp1.height, withdrawals[0]!, count1), 'AlreadyReleased');
    assert.equal(index, 0n);
    assert.equal(await bal(bob), parseEther('40'));
    assert.equal(await bal(vault), parseEther('460'));
  });

  test('a proof against an unknown checkpoint is refused', async () => {
    const [height] = await expectRevert(vault, 'release', releaseArgs(cp1.height + 1000n, withdrawals[1]!, count1), 'UnknownCheckpoint');
    assert.equal(height, cp1.height + 1000n);
    assert.equal(await vault.isReleased(1n), false);
  });

  test('altered withdrawals do not prove', async () => {
    const w = withdrawals[1]!;
    const [h, i, r, a, proof] = releaseArgs(cp1.height, w, count1);
    // the roots are the caller's: a withdrawals root L1 never accepted, made up so that a withdrawal
    // of 80 proves under it, is refused, and so is any other root changed at that height
    const forgedRoot = rootFromProof(withdrawalLeaf({ index: w.index, l1Recipient: r as string, amount: parseEther('80') }), Number(w.index), proof as string[]);
    for (const forged of [{ ...cp1, withdrawalsRoot: forgedRoot }, { ...cp1, blockHash: keccak256(toUtf8Bytes('b')) }, { ...cp1, stateRoot: keccak256(toUtf8Bytes('s')) }]) {
      const [height] = await expectRevert(vault, 'release', [tuple(forged), i, r, parseEther('80'), proof], 'UnknownCheckpoint');
      assert.equal(height, cp1.height);
    }
    await expectRevert(vault, 'release', [h, i, r, parseEther('80'), proof], 'InvalidProof'); // more money
    await expectRevert(vault, 'release', [h, i, dave.address, a, proof], 'InvalidProof'); // other recipient
    await expectRevert(vault, 'release', [h, 2n, r, a, proof], 'InvalidProof'); // other index, same leaf data
    await expectRevert(vault, 'release', [h, 2n ** 32n + 1n, r, a, proof], 'IndexOutOfRange');
    assert.equal(await bal(carol), 0n);
    assert.equal(await bal(vault), parseEther('460'));
  });

  test('the period cap holds releases back until the next window', async () => {
    // Start at the beginning of a fresh window so the test cannot straddle a boundary.
    const now = (await l1.provider.getBlock('latest'))!.timestamp;
    await l1.provider.send('evm_setNextBlockTimestamp', [(Math.floor(now / HOUR) + 1) * HOUR]);
    await l1.provider.send('evm_mine', []);
    assert.equal(await vault.remainingInPeriod(), CAP);
    // bob's 10 then carol's 70 would fit in 100: a cap of 50 makes carol's exceed it.
    await (await vault.setRateLimit(HOUR, parseEther('50'))).wait();
    await (await vault.getFunction('release')(...releaseArgs(cp1.height, withdrawals[2]!, count1))).wait();
    assert.equal(await vault.remainingInPeriod(), parseEther('40'));
    const [amount, remaining] = await expectRevert(vault, 'release', releaseArgs(cp1.height, withdrawals[1]!, count1), 'PeriodCapExceeded');
    assert.deepEqual([amount, remaining], [parseEther('70'), parseEther('40')]);
    assert.equal(await bal(carol), 0n);
    assert.equal(await vault.isReleased(1n), false);

    await (await vault.setRateLimit(HOUR, CAP)).wait();
    await increaseTime(l1, HOUR);
    await (await vault.getFunction('release')(...releaseArgs(cp1.height, withdrawals[1]!, count1))).wait();
    assert.equal(await bal(carol), parseEther('70'));
    assert.equal(await bal(bob), parseEther('50'));
    assert.equal(await bal(vault), parseEther('380'));
  });

  test('only the owner sets the cap; a zero cap stops releases', async () => {
    const [caller] = await expectRevert(vault.connect(alice) as Contract, 'setRateLimit', [HOUR, 0n], 'NotOwner');
    assert.equal(caller, alice.address);
    await expectRevert(vault, 'setRateLimit', [0, CAP], 'ZeroPeriodLength');
    assert.equal(await vault.periodCap(), CAP);

    const w = await withdraw(dave, dave.address, parseEther('5'));
    const { cp: cp2, count: count2 } = await checkpointNow();
    await (await vault.setRateLimit(HOUR, 0n)).wait();
    await expectRevert(vault, 'release', releaseArgs(cp2.height, w, count2), 'PeriodCapExceeded');
    await (await vault.setRateLimit(HOUR, CAP)).wait();
    // a later checkpoint proves an index the earlier one did not contain
    await expectRevert(vault, 'release', releaseArgs(cp1.height, w, count2), 'InvalidProof');
    await (await vault.getFunction('release')(...releaseArgs(cp2.height, w, count2))).wait();
    assert.equal(await bal(dave), parseEther('5'));
    assert.equal(await bal(vault), parseEther('375'));
    // and earlier withdrawals stay released under the later checkpoint too: the guard is the index
    await expectRevert(vault, 'release', releaseArgs(cp2.height, withdrawals[0]!, count2), 'AlreadyReleased');
  });

  test('checkpoints signed by too few validators do not unlock anything', async () => {
    await withdraw(dave, alice.address, parseEther('1'));
    const block = (await l1.provider.getBlock('latest'))!;
    const cp: Checkpoint = { height: BigInt(block.number), blockHash: block.hash!, stateRoot: block.stateRoot!, withdrawalsRoot: await bridge.root() };
    const two = signAll(keys.slice(0, 2), domain, cp);
    assert.throws(() => selectQuorum(checkpointDigest(domain, cp), two, set), { code: 'CHECKPOINT_NO_QUORUM' });
    await expectRevert(checkpoints, 'submitCheckpoint', [[cp.height, cp.blockHash, cp.stateRoot, cp.withdrawalsRoot], packSignatures(checkpointDigest(domain, cp), two)], 'InsufficientPower');
    const w = withdrawals.at(-1)!;
    await expectRevert(vault, 'release', releaseArgs(cp.height, w, withdrawals.length), 'UnknownCheckpoint');
    assert.equal(await bal(alice), parseEther('500'));
  });
});

test('the same Vault code over CheckpointsBls: a release against an aggregate-signed checkpoint, forged roots refused', async () => {
  const blsKeys = Array.from({ length: 4 }, (_, i) => blsKeyFromSeed(getBytes(keccak256(toUtf8Bytes(`vault-bls-${i}`)))));
  const bset = buildBlsSet(blsKeys.map((k) => ({ publicKey: k.publicKey, pop: k.pop, power: 1n })));
  const bcps = await deploy('CheckpointsBls', owner, SIDECHAIN_CHAIN_ID, bset.publicKeys, bset.powers);
  const bvault = await deploy('Vault', owner, await token.getAddress(), await bcps.getAddress(), HOUR, CAP);
  await (await (token.connect(alice) as Contract).getFunction('transfer')(await bvault.getAddress(), parseEther('10'))).wait();
  const w = withdrawals.at(-1)!;
  const block = (await l1.provider.getBlock('latest'))!;
  const tree = IncrementalMerkleTree.fromLeaves(withdrawals.map((x) => x.leaf));
  const cp: Checkpoint = { height: BigInt(block.number), blockHash: block.hash!, stateRoot: block.stateRoot!, withdrawalsRoot: tree.root() };
  const bdomain: CheckpointDomain = { l1ChainId: BigInt(l1.anvil.chainId), checkpoints: await bcps.getAddress(), sidechainChainId: SIDECHAIN_CHAIN_ID };
  const d = checkpointDigest(bdomain, cp);
  const keyAt = bset.members.map((m) => blsKeys.find((k) => keccak256(k.publicKey) === keccak256(m.publicKey))!);
  const agg = aggregateForSubmission(bset, d, new Map([1, 2, 3].map((i) => [i, blsSign(keyAt[i]!.secretKey, getBytes(d))] as const)));
  await (await bcps.getFunction('submitCheckpoint')(tuple(cp), agg.signers, agg.signature)).wait();
  assert.equal(await bcps.getFunction('isCheckpoint')(...tuple(cp)), true);
  const args = [tuple(cp), w.index, w.l1Recipient, w.amount, tree.proof(Number(w.index))];
  await expectRevert(bvault, 'release', [tuple({ ...cp, stateRoot: keccak256(toUtf8Bytes('s')) }), ...args.slice(1)], 'UnknownCheckpoint');
  const before = await bal(alice);
  await (await bvault.getFunction('release')(...args)).wait();
  assert.equal(await bal(alice), before + w.amount, 'paid by the Vault over CheckpointsBls');
  assert.equal(await bal(bvault), parseEther('10') - w.amount);
  await expectRevert(bvault, 'release', args, 'AlreadyReleased');
});
