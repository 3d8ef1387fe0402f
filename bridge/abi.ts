/** ABIs of the bridge contracts, from the compiled artifacts (for ethers Contract objects). */
import { Interface } from 'ethers';
import { loadArtifact } from '../contracts/artifacts.ts';

const cache = new Map<string, Interface>();

/** The ethers Interface of a compiled contract (Checkpoints, CheckpointsBls, Vault, Bridge, TestToken). */
export function abiOf(name: 'Checkpoints' | 'CheckpointsBls' | 'Vault' | 'Bridge' | 'TestToken'): Interface {
  let i = cache.get(name);
  if (!i) cache.set(name, (i = new Interface(loadArtifact(name).abi as any)));
  return i;
}
