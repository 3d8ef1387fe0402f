/**
 * Node keys on disk: an ed25519 consensus key (tweetnacl) and a secp256k1 validator key (L1
 * checkpoints, coinbase). Files are written 0600 and their contents are never logged or printed;
 * only public keys and addresses leave this module.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import nacl from 'tweetnacl';
import { Wallet, HDNodeWallet } from 'ethers';
import { createHash } from 'node:crypto';
import { PocError } from './errors.ts';
import { blsKeyFromSeed, type BlsKey } from './bls.ts';

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

/** Path of a data dir's node key file. */
export const nodeKeysFile = (dir: string): string => join(dir, 'keys', 'node-keys.json');

/** Load keys from `dir/keys/node-keys.json`. */
export function loadKeys(dir: string): NodeKeys {
  const file = nodeKeysFile(dir);
  if (!existsSync(file)) throw new PocError('KEYS_MISSING', `no keys in ${file}: run \`pocchain init --datadir ${dir}\``);
  return loadKeysFile(file);
}

/** Load a node key file (`<datadir>/keys/node-keys.json`, written by initKeys). */
export function loadKeysFile(file: string): NodeKeys {
  let j: any;
  try {
    j = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new PocError('KEYS_INVALID', `${file}: not a node key file (${(e as NodeJS.ErrnoException).code ?? 'not JSON'}); it is <datadir>/keys/node-keys.json of \`pocchain init\``);
  }
  const secretKey = Uint8Array.from(Buffer.from(String(j.consensusSecretKey).slice(2), 'hex'));
  if (secretKey.length !== 64) throw new PocError('KEYS_INVALID', `consensus key in ${file} is malformed`);
  const consensus = nacl.sign.keyPair.fromSecretKey(secretKey);
  return { consensus: { publicKey: consensus.publicKey, secretKey: consensus.secretKey }, validator: new Wallet(j.validatorPrivateKey) };
}

/**
 * The validator's BLS key for block randomness (RANDAO reveals), derived from its consensus key:
 * no second secret to keep, back up or lose, and a node's randomness key is fixed by the key the
 * genesis (or, later, its stake) names. Domain-separated, so it is no other use's key.
 */
export function randaoKey(consensusSecretKey: Uint8Array): BlsKey {
  return blsKeyFromSeed(createHash('sha256').update('pocchain/randao-key/1').update(consensusSecretKey.subarray(0, 32)).digest());
}

/** Public identity of a node's keys (safe to print): consensus key, address, BLS randomness key and its proof of possession. */
export function publicIdentity(k: NodeKeys): { pubKey: string; address: string; blsPubKey: string; blsPop: string } {
  const bls = randaoKey(k.consensus.secretKey);
  return { pubKey: hex(k.consensus.publicKey), address: k.validator.address, blsPubKey: hex(bls.publicKey), blsPop: hex(bls.pop) };
}

export const TEST_MNEMONIC = 'test test test test test test test test test test test junk';

/** The well-known development accounts (as anvil and hardhat): m/44'/60'/0'/0/i. */
export function devAccounts(n = 10, mnemonic = TEST_MNEMONIC): HDNodeWallet[] {
  return Array.from({ length: n }, (_, i) => HDNodeWallet.fromPhrase(mnemonic, undefined, `m/44'/60'/0'/0/${i}`));
}

/** Bytes of a key file read before giving up (a key is 66 characters; JSON adds a little). */
const MAX_KEY_FILE = 4096;
/** secp256k1 group order: a private key must be in [1, n). */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export type KeyErrorCode = 'KEY_MISSING' | 'KEY_INVALID' | 'KEY_FILE';

/**
 * The one loader of account keys for every command: `key` (a flag), else `keyFile` (hex, or JSON
 * `{privateKey}`), else `env` (POCCHAIN_KEY). Returns 0x-prefixed lowercase hex of a valid
 * secp256k1 key. Errors never contain the key or the file's contents.
 */
export function loadPrivateKey(src: { key?: string | undefined; keyFile?: string | undefined; env?: string | undefined; what?: string }): string {
  const what = src.what ?? 'the key';
  let raw: string | undefined;
  let from: string;
  if (src.key !== undefined && src.key !== '') (raw = String(src.key)), (from = '--key');
  else if (src.keyFile !== undefined && src.keyFile !== '') {
    from = `--key-file ${src.keyFile}`;
    let text: string;
    try {
      const buf = readFileSync(src.keyFile);
      if (buf.length > MAX_KEY_FILE) throw new PocError<KeyErrorCode>('KEY_FILE', `${from}: larger than ${MAX_KEY_FILE} bytes, not a key file`);
      text = buf.toString('utf8').trim();
    } catch (e) {
      if (e instanceof PocError) throw e;
      throw new PocError<KeyErrorCode>('KEY_FILE', `${from}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (text.startsWith('{')) {
      try {
        raw = String(JSON.parse(text).privateKey ?? '');
      } catch {
        throw new PocError<KeyErrorCode>('KEY_FILE', `${from}: not JSON with a privateKey field, nor hex`);
      }
    } else raw = text;
  } else if (src.env !== undefined && src.env !== '') (raw = src.env), (from = 'POCCHAIN_KEY');
  else throw new PocError<KeyErrorCode>('KEY_MISSING', `${what} is needed: pass --key <hex>, --key-file <file> or set POCCHAIN_KEY`);
  const k = raw.trim().toLowerCase().replace(/^0x/, '');
  if (!/^[0-9a-f]{64}$/.test(k)) throw new PocError<KeyErrorCode>('KEY_INVALID', `${from}: a private key is 32 bytes of hex (64 hex digits, optional 0x); the value is not shown`);
  const n = BigInt('0x' + k);
  if (n === 0n || n >= SECP256K1_N) throw new PocError<KeyErrorCode>('KEY_INVALID', `${from}: not a valid secp256k1 private key (zero or not below the curve order)`);
  return '0x' + k;
}
