/**
 * ed25519 for consensus. Keys are plain bytes (tweetnacl layout: seed ‖ public key); signing and
 * verification run in node:crypto (OpenSSL), many times faster than tweetnacl for the same
 * standard, deterministic ed25519 — signatures are byte-identical, which a unit test checks
 * against tweetnacl (`signReference`). KeyObjects are cached per key.
 */
import { createPrivateKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import { ed25519KeyObject } from '../validators.ts';

export interface Ed25519KeyPair {
  /** 32 bytes. */
  publicKey: Uint8Array;
  /** 64 bytes (seed ‖ public key), tweetnacl layout. */
  secretKey: Uint8Array;
}

/** Key pair from a 32-byte seed (deterministic) or random when no seed is given. */
export function generateKeyPair(seed?: Uint8Array): Ed25519KeyPair {
  const kp = seed ? nacl.sign.keyPair.fromSeed(seed) : nacl.sign.keyPair();
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const privCache = new Map<string, KeyObject>();

function privateKeyFor(secretKey: Uint8Array): KeyObject {
  const k = Buffer.from(secretKey.subarray(0, 32)).toString('hex');
  let ko = privCache.get(k);
  if (!ko) {
    ko = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, secretKey.subarray(0, 32)]), format: 'der', type: 'pkcs8' });
    if (privCache.size >= 64) privCache.clear();
    privCache.set(k, ko);
  }
  return ko;
}

/** Detached ed25519 signature (64 bytes), by node:crypto. */
export function sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  if (secretKey.length !== 64) throw new TypeError('ed25519 secret key must be 64 bytes (seed ‖ public key)');
  return new Uint8Array(nodeSign(null, message, privateKeyFor(secretKey)));
}

/** The reference implementation (tweetnacl): tests check `sign` against it. */
export function signReference(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return nacl.sign.detached(message, secretKey);
}

const keyCache = new Map<string, KeyObject>();
const KEY_CACHE_MAX = 4096;

function keyFor(pubKey: Uint8Array): KeyObject {
  const k = Buffer.from(pubKey).toString('hex');
  let ko = keyCache.get(k);
  if (!ko) {
    ko = ed25519KeyObject(pubKey);
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    keyCache.set(k, ko);
  }
  return ko;
}

/** Verify with a node:crypto key; false (never a throw) on malformed keys or signatures. */
export function verifyWithKey(message: Uint8Array, signature: Uint8Array, key: KeyObject): boolean {
  if (signature.length !== 64) return false;
  try {
    return nodeVerify(null, message, key, signature);
  } catch {
    return false;
  }
}

/** Verify a detached ed25519 signature against a raw 32-byte public key. */
export function verify(message: Uint8Array, signature: Uint8Array, pubKey: Uint8Array): boolean {
  if (pubKey.length !== 32) return false;
  let key: KeyObject;
  try {
    key = keyFor(pubKey);
  } catch {
    return false;
  }
  return verifyWithKey(message, signature, key);
}
