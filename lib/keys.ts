/**
 * Node keys on disk: an ed25519 consensus key (tweetnacl) and a secp256k1 validator key (L1
 * checkpoints, coinbase). Files are written 0600 and their contents are never logged or printed;
 * only public keys and addresses leave this module.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import nacl from 'tweetnacl';
import { Wallet, HDNodeWallet } from 'ethers';
import { PocError } from './errors.ts';

export interface ConsensusKey {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export interface NodeKeys {
  consensus: ConsensusKey;
  validator: Wallet;
}

const hex = (b: Uint8Array) => '0x' + Buffer.from(b).toString('hex');

/** Write a file atomically (tmp + fsync + rename) with 0600 permissions. */
export function writeSecretFile(path: string, contents: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, contents, { mode: 0o600 });
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
  chmodSync(path, 0o600);
}

/** Create keys under `dir/keys` unless present; returns them. */
export function initKeys(dir: string): NodeKeys {
  const file = join(dir, 'keys', 'node-keys.json');
  if (existsSync(file)) return loadKeys(dir);
  const kp = nacl.sign.keyPair();
  const w = Wallet.createRandom();
  writeSecretFile(file, JSON.stringify({ consensusSecretKey: hex(kp.secretKey), validatorPrivateKey: w.privateKey }, null, 1));
  return loadKeys(dir);
}

/** Load keys from `dir/keys/node-keys.json`. */
export function loadKeys(dir: string): NodeKeys {
  const file = join(dir, 'keys', 'node-keys.json');
  if (!existsSync(file)) throw new PocError('KEYS_MISSING', `no keys in ${file}: run \`pocchain init --datadir ${dir}\``);
  const j = JSON.parse(readFileSync(file, 'utf8'));
  const secretKey = Uint8Array.from(Buffer.from(String(j.consensusSecretKey).slice(2), 'hex'));
  if (secretKey.length !== 64) throw new PocError('KEYS_INVALID', `consensus key in ${file} is malformed`);
  const consensus = nacl.sign.keyPair.fromSecretKey(secretKey);
  return { consensus: { publicKey: consensus.publicKey, secretKey: consensus.secretKey }, validator: new Wallet(j.validatorPrivateKey) };
}

/** Public identity of a node's keys (safe to print). */
export function publicIdentity(k: NodeKeys): { pubKey: string; address: string } {
  return { pubKey: hex(k.consensus.publicKey), address: k.validator.address };
}

export const TEST_MNEMONIC = 'test test test test test test test test test test test junk';

/** The well-known development accounts (as anvil and hardhat): m/44'/60'/0'/0/i. */
export function devAccounts(n = 10, mnemonic = TEST_MNEMONIC): HDNodeWallet[] {
  return Array.from({ length: n }, (_, i) => HDNodeWallet.fromPhrase(mnemonic, undefined, `m/44'/60'/0'/0/${i}`));
}
