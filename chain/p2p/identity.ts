import { readFile, writeFile, mkdir, stat, chmod } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import type { Logger } from '../../lib/log.ts';
import { p2pError } from './errors.ts';

/**
 * Load the node's libp2p identity (an Ed25519 key, libp2p protobuf encoding) from `path`, or
 * create it with mode 0600 when absent. The peer id is derived from it, so a node keeps its id
 * across restarts and its peers can keep it in their bootstrap lists.
 */
export async function loadOrCreateIdentity(path: string, logger?: Logger): Promise<PrivateKey> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (bytes !== undefined) {
    const st = await stat(path);
    if ((st.mode & 0o077) !== 0) {
      // tighten rather than refuse: the key stays usable, and it should not be readable by others
      logger?.warn({ path }, 'p2p key file was readable by others; setting mode 0600');
      await chmod(path, 0o600);
    }
    try {
      return privateKeyFromProtobuf(bytes);
    } catch (cause) {
      throw p2pError('P2P_BAD_KEY_FILE', `cannot decode p2p key file ${path}`, { cause, data: { path } });
    }
  }
  const key = await generateKeyPair('Ed25519');
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    // 'wx': never overwrite a key another process created meanwhile
    await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateIdentity(path, logger);
    throw e;
  }
  logger?.info({ path }, 'created p2p identity');
  return key;
}
