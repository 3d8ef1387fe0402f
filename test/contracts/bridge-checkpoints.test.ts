/** Checkpoints on a real anvil: quorum, ordering, forgeries, replay across domains, set hand-over. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { concat, type Contract, type SigningKey } from 'ethers';
import {
  checkpointDigest,
  hasQuorum,
  packSignatures,
  selectQuorum,
  signValidatorSet,
  sortValidatorSet,
  validatorSetDigest,
  type CheckpointDomain,
  type ValidatorSet,
} from '../../bridge/checkpoint.ts';
import { addressOf, deployCheckpoints, expectRevert, sampleCheckpoint, signAll, startL1, validatorKeys, type L1 } from './bridge-fixture.ts';

let l1: L1;
before(async () => {
  l1 = await startL1();
});
after(async () => {
  await l1?.stop();
});

async function state(c: Contract) {
  return { latest: (await c.latestHeight()) as bigint, setId: (await c.validatorSetId()) as bigint, total: (await c.totalPower()) as bigint };
}

function tuple(cp: ReturnType<typeof sampleCheckpoint>) {
  return [cp.height, cp.blockHash, cp.stateRoot, cp.withdrawalsRoot];
}

describe('Checkpoints with 4 equal validators', () => {
  let keys: SigningKey[];
  let c: Contract;
  let domain: CheckpointDomain;
  let set: ValidatorSet;

  before(async () => {
    keys = validatorKeys(4);
    ({ checkpoints: c, domain, set } = await deployCheckpoints(l1, keys, [1n, 1n, 1n, 1n]));
  });

  test('the TS digest equals the contract digest', async () => {
    const cp = sampleCheckpoint(5n);
    assert.equal(await c.checkpointDigest(tuple(cp)), checkpointDigest(domain, cp));
    const next = sortValidatorSet(1n, validatorKeys(3, 'other').map((k) => ({ address: addressOf(k), power: 7n })));
    assert.equal(await c.validatorSetDigest(next.setId, next.validators, next.powers), validatorSetDigest(domain, next));
  });

  test('constructor set is readable', async () => {
    const [addrs, powers] = await c.validators();
    assert.deepEqual([...addrs], set.validators);
    assert.deepEqual([...powers], set.powers);
    assert.deepEqual(await state(c), { latest: 0n, setId: 0n, total: 4n });
  });

  test('2 of 4 is too little power; nothing is stored', async () => {
    const cp = sampleCheckpoint(10n);
    const packed = packSignatures(checkpointDigest(domain, cp), signAll(keys.slice(0, 2), domain, cp));
    const [signed, total] = await expectRevert(c, 'submitCheckpoint', [tuple(cp), packed], 'InsufficientPower');
    assert.deepEqual([signed, total], [2n, 4n]);
    assert.deepEqual(await state(c), { latest: 0n, setId: 0n, total: 4n });
    assert.equal((await c.checkpointAt(10n))[0], '0x' + '00'.repeat(32));
    assert.equal(await c.isCheckpoint(...tuple(cp)), false);
  });

  test('3 of 4 is accepted, stored and announced', async () => {
    const cp = sampleCheckpoint(10n);
    const { packed, signedPower } = selectQuorum(checkpointDigest(domain, cp), signAll(keys, domain, cp), set);
    assert.equal(packed.length, 2 + 3 * 130, 'selectQuorum picks the fewest signatures');
    assert.equal(signedPower, 3n);
    const rc = await (await c.submitCheckpoint(tuple(cp), packed)).wait();
    const ev = rc.logs.map((l: any) => c.interface.parseLog(l)).find((e: any) => e?.name === 'CheckpointAccepted');
    assert.equal(ev.args.height, 10n);
    assert.equal(ev.args.withdrawalsRoot, cp.withdrawalsRoot);
    assert.equal(ev.args.signedPower, 3n);
    assert.deepEqual([...(await c.checkpointAt(10n))], [cp.blockHash, cp.stateRoot, cp.withdrawalsRoot]);
    // isCheckpoint (what Vault and TaskResults read): true for exactly these roots at this height
    assert.equal(await c.isCheckpoint(...tuple(cp)), true);
    const other = sampleCheckpoint(11n);
    for (const x of [{ ...cp, blockHash: other.blockHash }, { ...cp, stateRoot: other.stateRoot }, { ...cp, withdrawalsRoot: other.withdrawalsRoot }, { ...cp, height: 11n }, { ...cp, height: 9n }]) {
      assert.equal(await c.isCheckpoint(...tuple(x)), false);
    }
    assert.equal(await c.latestHeight(), 10n);
  });

  test('old and equal heights are refused', async () => {
    for (const h of [10n, 9n]) {
      const cp = sampleCheckpoint(h);
      const packed = packSignatures(checkpointDigest(domain, cp), signAll(keys, domain, cp));
      const [height, latest] = await expectRevert(c, 'submitCheckpoint', [tuple(cp), packed], 'HeightNotIncreasing');
      assert.deepEqual([height, latest], [h, 10n]);
    }
    assert.equal((await c.checkpointAt(9n))[0], '0x' + '00'.repeat(32));
  });

  test('a repeated signature cannot count twice', async () => {
    const cp = sampleCheckpoint(11n);
    const sigs = signAll(keys.slice(0, 2), domain, cp);
    // bypass packSignatures, which refuses duplicates itself
    const packed = concat([sigs[0]!.signature, sigs[1]!.signature, sigs[1]!.signature]);
    const [pos, signer] = await expectRevert(c, 'submitCheckpoint', [tuple(cp), packed], 'SignersNotAscending');
    assert.equal(pos, 2n);
    assert.equal(signer, sigs[1]!.signer);
    assert.throws(() => packSignatures(checkpointDigest(domain, cp), [sigs[0]!, sigs[1]!, sigs[1]!]), { code: 'CHECKPOINT_DUPLICATE_SIGNER' });
    assert.equal(await c.latestHeight(), 10n);
  });

  test('signers out of order are refused', async () => {
    const cp = sampleCheckpoint(11n);
    const sigs = signAll(keys.slice(0, 3), domain, cp);
    const packed = concat([sigs[1]!.signature, sigs[0]!.signature, sigs[2]!.signature]);
    await expectRevert(c, 'submitCheckpoint', [tuple(cp), packed], 'SignersNotAscending');
  });

  test('a forged signature (non-validator key) is refused', async () => {
    const cp = sampleCheckpoint(11n);
    const outsider = validatorKeys(1, 'mallory');
    const sigs = [...signAll(keys.slice(0, 2), domain, cp), ...signAll(outsider, domain, cp)];
    const packed = packSignatures(checkpointDigest(domain, cp), sigs);
    const [, signer] = await expectRevert(c, 'submitCheckpoint', [tuple(cp), packed], 'NotAValidator');
    assert.equal(signer, addressOf(outsider[0]!));
    assert.equal(await c.latestHeight(), 10n);
  });

  test('a signature over other contents (tampered checkpoint) is refused', async () => {
    const signedCp = sampleCheckpoint(11n);
    const tampered = { ...signedCp, withdrawalsRoot: '0x' + 'ee'.repeat(32) };
    const packed = packSignatures(checkpointDigest(domain, signedCp), signAll(keys.slice(0, 3), domain, signedCp));
    await expectRevert(c, 'submitCheckpoint', [tuple(tampered), packed], 'NotAValidator');
  });

  test('malformed signatures are refused', async () => {
    const cp = sampleCheckpoint(11n);
    await expectRevert(c, 'submitCheckpoint', [tuple(cp), '0x'], 'BadSignaturesLength');
    await expectRevert(c, 'submitCheckpoint', [tuple(cp), '0x' + '11'.repeat(64)], 'BadSignaturesLength');
    const bad = '0x' + '11'.repeat(64) + '1d'; // v = 29
    await expectRevert(c, 'submitCheckpoint', [tuple(cp), bad], 'InvalidSignature');
  });

  test('a high-s (malleated) twin of a valid signature is refused', async () => {
    const cp = sampleCheckpoint(11n);
    const [sig] = signAll(keys.slice(0, 1), domain, cp);
    const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const r = sig!.signature.slice(2, 66);
    const s = BigInt('0x' + sig!.signature.slice(66, 130));
    const v = parseInt(sig!.signature.slice(130), 16);
    const twin = '0x' + r + (N - s).toString(16).padStart(64, '0') + (v === 27 ? '1c' : '1b');
    await expectRevert(c, 'submitCheckpoint', [tuple(cp), twin], 'InvalidSignature');
  });

  test('signatures for another deployment or sidechain do not replay here', async () => {
    const cp = sampleCheckpoint(11n);
    const otherDomains: CheckpointDomain[] = [
      { ...domain, sidechainChainId: domain.sidechainChainId + 1n },
      { ...domain, l1ChainId: 1n },
      { ...domain, checkpoints: '0x' + '12'.repeat(20) },
    ];
    for (const d of otherDomains) {
      const packed = packSignatures(checkpointDigest(d, cp), signAll(keys, d, cp));
      await expectRevert(c, 'submitCheckpoint', [tuple(cp), packed], 'NotAValidator');
    }
    assert.equal(await c.latestHeight(), 10n);
  });

  test('a validator-set change signed by the next set, not the current one, is refused', async () => {
    const newKeys = validatorKeys(4, 'epoch1');
    const next = sortValidatorSet(1n, newKeys.map((k) => ({ address: addressOf(k), power: 1n })));
    const digest = validatorSetDigest(domain, next);
    const packed = packSignatures(digest, newKeys.map((k) => signValidatorSet(k, domain, next)));
    await expectRevert(c, 'updateValidatorSet', [next.validators, next.powers, packed], 'NotAValidator');
    // 2 of the current 4 is not enough either
    const weak = packSignatures(digest, keys.slice(0, 2).map((k) => signValidatorSet(k, domain, next)));
    await expectRevert(c, 'updateValidatorSet', [next.validators, next.powers, weak], 'InsufficientPower');
    assert.deepEqual(await state(c), { latest: 10n, setId: 0n, total: 4n });
  });

  test('a change with a wrong set id (replay of an old hand-over) is refused', async () => {
    const next = sortValidatorSet(5n, validatorKeys(2, 'x').map((k) => ({ address: addressOf(k), power: 1n })));
    const packed = packSignatures(validatorSetDigest(domain, next), keys.map((k) => signValidatorSet(k, domain, next)));
    await expectRevert(c, 'updateValidatorSet', [next.validators, next.powers, packed], 'NotAValidator');
  });

  test('a malformed new set is refused even with a quorum', async () => {
    const ks = validatorKeys(2, 'bad');
    const a = [addressOf(ks[0]!), addressOf(ks[1]!)];
    const cases: [string[], bigint[], string][] = [
      [[], [], 'EmptyValidatorSet'],
      [[a[1]!, a[0]!], [1n, 1n], 'ValidatorsNotAscending'],
      [[a[0]!, a[0]!], [1n, 1n], 'ValidatorsNotAscending'],
      [a, [1n, 0n], 'ZeroPower'],
      [a, [1n], 'LengthMismatch'],
    ];
    for (const [validators, powers, err] of cases) {
      const next = { setId: 1n, validators, powers };
      const packed = packSignatures(validatorSetDigest(domain, next), keys.map((k) => signValidatorSet(k, domain, next)));
      await expectRevert(c, 'updateValidatorSet', [validators, powers, packed], err);
    }
    assert.equal(await c.validatorSetId(), 0n);
  });

  test('the current set hands over; then only the new set signs checkpoints', async () => {
    const newKeys = validatorKeys(3, 'epoch1');
    const next = sortValidatorSet(1n, newKeys.map((k, i) => ({ address: addressOf(k), power: BigInt(10 + i) })));
    const digest = validatorSetDigest(domain, next);
    const { packed } = selectQuorum(digest, keys.map((k) => signValidatorSet(k, domain, next)), set);
    await (await c.updateValidatorSet(next.validators, next.powers, packed)).wait();
    assert.deepEqual(await state(c), { latest: 10n, setId: 1n, total: 33n });
    const [addrs, powers] = await c.validators();
    assert.deepEqual([...addrs], next.validators);
    assert.deepEqual([...powers], next.powers);
    assert.equal(await c.powerOf(set.validators[0]), 0n);

    const cp = sampleCheckpoint(20n);
    const old = packSignatures(checkpointDigest(domain, cp), signAll(keys, domain, cp));
    await expectRevert(c, 'submitCheckpoint', [tuple(cp), old], 'NotAValidator');
    // the same hand-over cannot be replayed (set id moved on)
    await expectRevert(c, 'updateValidatorSet', [next.validators, next.powers, packed], 'NotAValidator');

    const fresh = selectQuorum(checkpointDigest(domain, cp), signAll(newKeys, domain, cp), next);
    await (await c.submitCheckpoint(tuple(cp), fresh.packed)).wait();
    assert.equal(await c.latestHeight(), 20n);
  });
});

describe('Checkpoints with unequal power', () => {
  test('power, not head count, decides', async () => {
    const keys = validatorKeys(4, 'weighted');
    // powers by sorted position: one validator holds 7 of 10
    const { checkpoints: c, domain, set } = await deployCheckpoints(l1, keys, [7n, 1n, 1n, 1n]);
    const big = keys[0]!;
    const small = keys.slice(1);
    assert.equal(await c.powerOf(addressOf(big)), 7n);

    const cp1 = sampleCheckpoint(1n);
    const three = packSignatures(checkpointDigest(domain, cp1), signAll(small, domain, cp1));
    const [signed] = await expectRevert(c, 'submitCheckpoint', [tuple(cp1), three], 'InsufficientPower');
    assert.equal(signed, 3n);

    // 7 of 10 is more than 2/3: the big validator alone is a quorum
    const alone = packSignatures(checkpointDigest(domain, cp1), signAll([big], domain, cp1));
    await (await c.submitCheckpoint(tuple(cp1), alone)).wait();
    assert.equal(await c.latestHeight(), 1n);
    assert.equal(selectQuorum(checkpointDigest(domain, cp1), signAll(keys, domain, cp1), set).signers.length, 1);
  });

  test('exactly 2/3 of the power is not enough', async () => {
    const keys = validatorKeys(3, 'third');
    const { checkpoints: c, domain, set } = await deployCheckpoints(l1, keys, [1n, 1n, 1n]);
    const cp = sampleCheckpoint(1n);
    const two = packSignatures(checkpointDigest(domain, cp), signAll(keys.slice(0, 2), domain, cp));
    const [signed, total] = await expectRevert(c, 'submitCheckpoint', [tuple(cp), two], 'InsufficientPower');
    assert.deepEqual([signed, total], [2n, 3n]);
    assert.throws(() => selectQuorum(checkpointDigest(domain, cp), signAll(keys.slice(0, 2), domain, cp), set), { code: 'CHECKPOINT_NO_QUORUM' });
  });
});

describe('Checkpoints agrees with the TS quorum rule', () => {
  test('random powers and random signer subsets: accepted exactly when hasQuorum says so', async () => {
    const keys = validatorKeys(7, 'prop');
    const seen = { accepted: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.bigInt({ min: 1n, max: 1000n }), { minLength: 7, maxLength: 7 }),
        fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
        async (powers, signs) => {
          fc.pre(signs.some((b) => b));
          const { checkpoints: c, domain, set } = await deployCheckpoints(l1, keys, powers);
          const signers = keys.filter((_, i) => signs[i]);
          const signed = signers.reduce((sum, k) => sum + set.powers[set.validators.indexOf(addressOf(k))]!, 0n);
          const total = powers.reduce((a, b) => a + b, 0n);
          const cp = sampleCheckpoint(1n);
          const packed = packSignatures(checkpointDigest(domain, cp), signAll(signers, domain, cp));
          if (hasQuorum(signed, total)) {
            await (await c.submitCheckpoint(tuple(cp), packed)).wait();
            assert.equal(await c.latestHeight(), 1n);
            seen.accepted++;
          } else {
            const [s, t] = await expectRevert(c, 'submitCheckpoint', [tuple(cp), packed], 'InsufficientPower');
            assert.deepEqual([s, t], [signed, total]);
            assert.equal(await c.latestHeight(), 0n);
            seen.refused++;
          }
        },
      ),
      { numRuns: 20, seed: 77 },
    );
    assert.ok(seen.accepted > 0 && seen.refused > 0, `both outcomes exercised: ${JSON.stringify(seen)}`);
  });
});
