/**
 * `pocchain balance` and `pocchain withdraw`: what an account holds and the Hub credit it can take
 * out. Rewards, app/dataset fees and refunds of failed tasks are credited in the Hub
 * (`withdrawable`, pull payments) — this is how a requester or an owner gets them back.
 */
import type { Command } from 'commander';
import { formatEther, Wallet } from 'ethers';
import { PocError } from '../../lib/errors.ts';
import { hubContract, hubIface, stakingContract, TxSender } from '../../executor/hub-client.ts';
import { readBalance, type Balance } from '../hub-reads.ts';
import { accountAddress, accountOptions, action, common, example, openProvider, rpcUrl, signingKey, type Opts, type Outcome } from '../kit.ts';

function balanceText(b: Balance): string {
  const s = b.staking;
  const L = [`account ${b.address} at block ${b.block}`, `  native coin   ${formatEther(b.native)}`, `  hub credit    ${formatEther(b.hubCredit)}${b.hubCredit > 0n ? '   (take it with `pocchain withdraw`)' : ''}`];
  if (s.stake > 0n || s.unbonding > 0n) {
    L.push(`  stake         ${formatEther(s.stake)} (${formatEther(s.locked)} locked by open tasks)${s.active ? ', active executor' : ''}`);
    if (s.unbonding > 0n) L.push(`  unbonding     ${formatEther(s.unbonding)}, ${s.unbondingDue ? 'due now (`pocchain withdraw --unbonded`)' : `due at block ${s.unbondAt}`}`);
  }
  return L.join('\n');
}

/** Register `balance` and `withdraw`. */
export function registerAccountCommands(program: Command): void {
  const balance = program.command('balance').description('native coin, Hub credit (rewards, fees, refunds), executor stake and unbonding of an account');
  example(accountOptions(common(balance, { key: 'account' })), 'pocchain balance --address 0x70997970C51812dc3A010C7d01b50e0d17dc79C8');
  balance.action(
    action(async (o: Opts): Promise<Outcome> => {
      const address = accountAddress(o);
      const provider = await openProvider(rpcUrl(o));
      try {
        const b = await readBalance(provider, address);
        return { json: b, text: balanceText(b) };
      } finally {
        provider.destroy();
      }
    }),
  );

  const withdraw = program
    .command('withdraw')
    .description('move your Hub credit (rewards, app/dataset fees, refunds of failed tasks) to your account; --unbonded also takes unbonded executor stake that is due')
    .option('--unbonded', 'also withdraw unbonded stake whose delay has passed', false);
  example(common(withdraw, { key: 'account' }), 'pocchain withdraw --key-file me.key');
  withdraw.action(
    action(async (o: Opts): Promise<Outcome> => {
      const key = signingKey(o);
      const provider = await openProvider(rpcUrl(o));
      try {
        const wallet = new Wallet(key, provider);
        const tx = new TxSender(wallet);
        const before = await readBalance(provider, wallet.address);
        const takeStake = !!o.unbonded && before.staking.unbondingDue;
        if (before.hubCredit === 0n && !takeStake) {
          const why = o.unbonded && before.staking.unbonding > 0n ? `; unbonding ${formatEther(before.staking.unbonding)} is due at block ${before.staking.unbondAt}` : '';
          throw new PocError('NOTHING_TO_WITHDRAW', `${wallet.address} has no Hub credit${why}`);
        }
        const txs: { what: string; tx: string; amount: bigint; fee: bigint }[] = [];
        if (before.hubCredit > 0n) {
          const rc = await tx.send('withdraw', () => hubContract(wallet).getFunction('withdraw')());
          const ev = rc.logs.map((l) => hubIface.parseLog(l)).find((p) => p?.name === 'Withdrawal');
          txs.push({ what: 'hub-credit', tx: rc.hash, amount: (ev?.args.amount as bigint) ?? 0n, fee: rc.gasUsed * rc.gasPrice });
        }
        if (takeStake) {
          const rc = await tx.send('withdrawUnbonded', () => stakingContract(wallet).getFunction('withdrawUnbonded')());
          txs.push({ what: 'unbonded-stake', tx: rc.hash, amount: before.staking.unbonding, fee: rc.gasUsed * rc.gasPrice });
        }
        const after = await readBalance(provider, wallet.address);
        const withdrawn = txs.reduce((a, t) => a + t.amount, 0n);
        const fees = txs.reduce((a, t) => a + t.fee, 0n);
        return {
          json: { address: wallet.address, withdrawn, fees, transactions: txs, native: after.native, hubCredit: after.hubCredit },
          text: [...txs.map((t) => `withdrew ${formatEther(t.amount)} (${t.what}) in tx ${t.tx}, fee ${formatEther(t.fee)}`), `native balance now ${formatEther(after.native)}`].join('\n'),
        };
      } finally {
        provider.destroy();
      }
    }),
  );
}
