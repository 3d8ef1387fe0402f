/** Checkpoint digests, signing and packing, without a chain. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getAddress, keccak256, SigningKey, toUtf8Bytes, Wallet } from 'ethers';
import {
  CHECKPOINT_TYPES,
  checkpointDigest,
  compareAddresses,
  hasQuorum,
  packSignatures,
  recoverSigner,
  selectQuorum,
  signCheckpoint,
  signDigest,
  sortValidatorSet,
  typedDataDomain,
  validatorSetDigest,
  type Checkpoint,
  type CheckpointDomain,
} from '../../bridge/checkpoint.ts';

const domain: CheckpointDomain = { l1ChainId: 1n, checkpoints: '0x' + '42'.repeat(20), sidechainChainId: 7777n };
const cp: Checkpoint = { height: 100n, blockHash: keccak256('0x01'), stateRoot: keccak256('0x02'), withdrawalsRoot: keccak256('0x03') };
const keys = Array.from({ length: 5 }, (_, i) => new SigningKey(keccak256(toUtf8Bytes(`unit-${i}`))));

test('the digest is standard EIP-712: a stock typed-data signer produces the same signature', async () => {
  const wallet = new Wallet(keys[0]!);
  const viaEthers = await wallet.signTypedData(typedDataDomain(domain), CHECKPOINT_TYPES, cp);
  const ours = signCheckpoint(keys[0]!, domain, cp);
  assert.equal(ours.signature, viaEthers);
  assert.equal(ours.signer, wallet.address);
  assert.equal(recoverSigner(checkpointDigest(domain, cp), ours.signature), wallet.address);
});

test('every domain field and every checkpoint field changes the digest', () => {
  const base = checkpointDigest(domain, cp);
  const variants = [
    checkpointDigest({ ...domain, l1ChainId: 2n }, cp),
    checkpointDigest({ ...domain, checkpoints: '0x' + '43'.repeat(20) }, cp),
    checkpointDigest({ ...domain, sidechainChainId: 7778n }, cp),
    checkpointDigest(domain, { ...cp, height: 101n }),
    checkpointDigest(domain, { ...cp, blockHash: keccak256('0x09') }),
    checkpointDigest(domain, { ...cp, stateRoot: keccak256('0x09') }),
    checkpointDigest(domain, { ...cp, withdrawalsRoot: keccak256('0x09') }),
    validatorSetDigest(domain, { setId: 100n, validators: [], powers: [] }),
  ];
  assert.equal(new Set([base, ...variants]).size, variants.length + 1);
});

test('packSignatures sorts by signer and checks each signature', () => {
  const digest = checkpointDigest(domain, cp);
  const sigs = keys.slice(0, 4).map((k) => signDigest(k, digest));
  const packed = packSignatures(digest, [...sigs].reverse());
  assert.equal(packed.length, 2 + 4 * 130);
  const signers = Array.from({ length: 4 }, (_, i) => recoverSigner(digest, '0x' + packed.slice(2 + i * 130, 2 + (i + 1) * 130)));
  assert.deepEqual(signers, [...sigs.map((s) => s.signer)].sort(compareAddresses));
  for (let i = 1; i < signers.length; i++) assert.ok(BigInt(signers[i]!) > BigInt(signers[i - 1]!));

  assert.throws(() => packSignatures(digest, [sigs[0]!, sigs[0]!]), { code: 'CHECKPOINT_DUPLICATE_SIGNER' });
  assert.throws(() => packSignatures(digest, [{ signer: sigs[1]!.signer, signature: sigs[0]!.signature }]), { code: 'CHECKPOINT_BAD_SIGNATURE' });
  assert.throws(() => packSignatures(digest, [{ signer: sigs[1]!.signer, signature: '0x1234' }]), { code: 'CHECKPOINT_BAD_SIGNATURE' });
});

test('quorum is strictly more than two thirds', () => {
  assert.equal(hasQuorum(2n, 3n), false);
  assert.equal(hasQuorum(3n, 4n), true);
  assert.equal(hasQuorum(66n, 100n), false);
  assert.equal(hasQuorum(67n, 100n), true);
  assert.equal(hasQuorum(0n, 0n), false);
});

test('selectQuorum takes the fewest, heaviest valid signatures and skips junk', () => {
  const set = sortValidatorSet(0n, keys.slice(0, 4).map((k, i) => ({ address: new Wallet(k).address, power: [50n, 30n, 15n, 5n][i]! })));
  const digest = checkpointDigest(domain, cp);
  const outsider = signDigest(keys[4]!, digest);
  const sigs = keys.slice(0, 4).map((k) => signDigest(k, digest));
  const garbage = { signer: sigs[0]!.signer, signature: '0x' + '00'.repeat(65) };
  const r = selectQuorum(digest, [outsider, garbage, ...sigs, sigs[0]!], set);
  assert.equal(r.signedPower, 80n);
  assert.deepEqual(r.signers, [sigs[0]!.signer, sigs[1]!.signer].sort(compareAddresses));
  assert.throws(() => selectQuorum(digest, [sigs[0]!, sigs[2]!, outsider], set), { code: 'CHECKPOINT_NO_QUORUM' });
});

test('sortValidatorSet orders by address and refuses duplicates and zero power', () => {
  const addrs = keys.map((k) => new Wallet(k).address);
  const s = sortValidatorSet(3n, addrs.map((a, i) => ({ address: a.toLowerCase(), power: BigInt(i + 1) })));
  assert.deepEqual(s.validators, [...addrs].sort(compareAddresses).map((a) => getAddress(a)));
  assert.equal(s.powers[s.validators.indexOf(addrs[2]!)], 3n);
  assert.throws(() => sortValidatorSet(0n, [{ address: addrs[0]!, power: 1n }, { address: addrs[0]!, power: 2n }]), { code: 'CHECKPOINT_BAD_VALIDATOR_SET' });
  assert.throws(() => sortValidatorSet(0n, [{ address: addrs[0]!, power: 0n }]), { code: 'CHECKPOINT_BAD_VALIDATOR_SET' });
});
