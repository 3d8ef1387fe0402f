/**
 * Deployment of the bridge's L1 side: the token (a TestToken unless one is given), the checkpoints
 * contract with the sidechain's genesis validator set, and the Vault.
 *
 * The scheme follows from the genesis: validators with BLS keys (each with its proof of
 * possession, checked here again) get CheckpointsBls (one aggregate signature per checkpoint, the
 * keys in the contract's order); a genesis without BLS keys keeps the ECDSA Checkpoints
 * (secp256k1 operator addresses). The genesis `bridge` section records it (`checkpointScheme`),
 * so every node signs for the contract that was deployed.
 * Used by tests, the devnet and `pocchain bridge deploy-l1`. Returns the genesis `bridge` section.
 */
import { ContractFactory, getAddress, getBytes, parseUnits, type Signer } from 'ethers';
import { loadArtifact } from '../contracts/artifacts.ts';
import type { GenesisValidator } from '../chain/genesis.ts';
import { sortValidatorSet } from './checkpoint.ts';
import { buildBlsSet } from './checkpoint-bls.ts';
import type { GenesisBridge } from './config.ts';
import type { CheckpointScheme } from './l1-checkpoints.ts';

export interface DeployL1Options {
  /** L1 account paying for the deployment; becomes the Vault owner */
  signer: Signer;
  sidechainChainId: number;
  validators: Pick<GenesisValidator, 'address' | 'power' | 'blsPubKey' | 'blsPop'>[];
  /** an existing ERC20 to bridge; when absent a TestToken is deployed */
  token?: string;
  /** TestToken supply minted to the deployer (default 1,000,000 tokens) */
  tokenSupply?: bigint;
  /** Vault release window in seconds (default 1 day) and cap per window (default 1,000,000 tokens) */
  periodLength?: number;
  periodCap?: bigint;
  epochLength?: number;
  confirmations?: number;
  /** force a scheme (default: `schemeOf(validators)`); 'ecdsa' on a genesis with BLS keys keeps the ECDSA contract */
  scheme?: CheckpointScheme;
}

export interface L1Deployment extends GenesisBridge {
  token: string;
  startBlock: number;
}

/** The scheme a genesis set gets: BLS when every validator has a BLS key, else ECDSA. */
export function schemeOf(validators: readonly Pick<GenesisValidator, 'blsPubKey'>[]): CheckpointScheme {
  return validators.length > 0 && validators.every((v) => v.blsPubKey) ? 'bls' : 'ecdsa';
}

async function deploy(name: string, signer: Signer, args: unknown[]): Promise<{ address: string; block: number }> {
  const a = loadArtifact(name);
  const c = await new ContractFactory(a.abi, a.bytecode, signer).deploy(...args);
  const receipt = await c.deploymentTransaction()!.wait();
  return { address: getAddress(await c.getAddress()), block: receipt!.blockNumber };
}

/** Deploy token (optional), Checkpoints and Vault; returns what goes into genesis.bridge. */
export async function deployL1(o: DeployL1Options): Promise<L1Deployment> {
  const net = await o.signer.provider!.getNetwork();
  const scheme = o.scheme ?? schemeOf(o.validators);
  const args =
    scheme === 'bls'
      ? (() => {
          const set = buildBlsSet(o.validators.map((v) => ({ publicKey: getBytes(v.blsPubKey!), pop: getBytes(v.blsPop ?? '0x'), power: BigInt(v.power) })));
          return [o.sidechainChainId, set.publicKeys, set.powers];
        })()
      : (() => {
          const set = sortValidatorSet(0n, o.validators.map((v) => ({ address: v.address, power: BigInt(v.power) })));
          return [o.sidechainChainId, set.validators, set.powers];
        })();
  const token = o.token ? { address: getAddress(o.token), block: Number.MAX_SAFE_INTEGER } : await deploy('TestToken', o.signer, ['Pocchain Test Token', 'PCT', o.tokenSupply ?? parseUnits('1000000', 18)]);
  const checkpoints = await deploy(scheme === 'bls' ? 'CheckpointsBls' : 'Checkpoints', o.signer, args);
  const vault = await deploy('Vault', o.signer, [token.address, checkpoints.address, o.periodLength ?? 86_400, o.periodCap ?? parseUnits('1000000', 18)]);
  return {
    l1ChainId: Number(net.chainId),
    token: token.address,
    checkpoints: checkpoints.address,
    checkpointScheme: scheme,
    vault: vault.address,
    startBlock: Math.min(token.block, checkpoints.block, vault.block),
    ...(o.epochLength !== undefined ? { epochLength: o.epochLength } : {}),
    ...(o.confirmations !== undefined ? { confirmations: o.confirmations } : {}),
  };
}
