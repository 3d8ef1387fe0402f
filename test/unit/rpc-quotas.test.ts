/**
 * Pure log-bloom rules (table), and the per-client / per-connection quotas of filters and
 * subscriptions over a real chain in a temp LevelDB.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { Bloom } from '@ethereumjs/vm';
import { hexToBytes } from '@ethereumjs/util';
import { Chain } from '../../chain/chain.ts';
import { TxPool } from '../../chain/txpool.ts';
import { buildGenesis } from '../../chain/devgenesis.ts';
import { Filters } from '../../chain/rpc/filters.ts';
import { LogReader, bloomMayMatch, bloomQuery, type LogFilter } from '../../chain/rpc/logs.ts';
import { RPC, RpcError, type RpcConnection } from '../../chain/rpc/server.ts';
import { tempDir } from '../helpers/proc.ts';

const b = (h: string) => hexToBytes(h as `0x${string}`);
const ADDR_A = b('0x' + 'aa'.repeat(20));
const ADDR_B = b('0x' + 'bb'.repeat(20));
const T1 = b('0x' + '01'.repeat(32));
const T2 = b('0x' + '02'.repeat(32));
const T3 = b('0x' + '03'.repeat(32));

test('bloom: a block is skipped only when some condition has no possible hit', () => {
  const bloom = new Bloom();
  bloom.add(ADDR_A);
  bloom.add(T1);
  bloom.add(T2);
  const f = (addresses: Uint8Array[], topics: (Uint8Array[] | null)[]): LogFilter => ({ addresses, topics });
  const cases: [string, LogFilter, boolean][] = [
    ['no conditions', f([], []), true],
    ['address present', f([ADDR_A], []), true],
    ['address absent', f([ADDR_B], []), false],
    ['one of two addresses present', f([ADDR_B, ADDR_A], []), true],
    ['address and topic present', f([ADDR_A], [[T1]]), true],
    ['address present, topic absent', f([ADDR_A], [[T3]]), false],
    ['wildcard then a present topic', f([], [null, [T2]]), true],
    ['alternatives, one present', f([], [[T3, T2]]), true],
    ['every position needs a hit', f([], [[T1], [T3]]), false],
    ['empty alternatives = any', f([ADDR_A], [[]]), true],
  ];
  for (const [name, filter, want] of cases) assert.equal(bloomMayMatch(bloom.bitvector, bloomQuery(filter)), want, name);
  assert.equal(bloomMayMatch(new Uint8Array(256), bloomQuery(f([], []))), true, 'no condition matches even an empty bloom');
});

const v = Wallet.createRandom();
const genesis = buildGenesis({ chainId: 779, validators: [{ pubKey: '0x' + '11'.repeat(32), address: v.address, power: 1 }], funded: [v.address] });

test('filters are counted per client and in total; subscriptions per connection; errors name the limit', async () => {
  const chain = await Chain.open({ datadir: tempDir(), genesis });
  const pool = new TxPool(chain);
  const filters = new Filters(chain, pool, new LogReader(chain), { perClient: 3, total: 5, subsPerConnection: 2 });
  try {
    const m = filters.methods();
    const http = (client: string): RpcConnection => ({ id: Math.floor(Math.random() * 1e9), client });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await m.eth_newBlockFilter!([], http('10.0.0.1')));
    await assert.rejects(async () => m.eth_newFilter!([{}], http('10.0.0.1')), (e: RpcError) => e.code === RPC.LIMIT && /this client has 3 installed \(limit 3 per client\)/.test(e.message));
    // another client is not affected by the first one's quota
    ids.push(await m.eth_newPendingTransactionFilter!([], http('10.0.0.2')));
    ids.push(await m.eth_newFilter!([{}], http('10.0.0.2')));
    await assert.rejects(async () => m.eth_newBlockFilter!([], http('10.0.0.3')), (e: RpcError) => e.code === RPC.LIMIT && /limit 5/.test(e.message));
    assert.equal(await m.eth_uninstallFilter!([ids[0]], http('x')), true);
    assert.ok(await m.eth_newBlockFilter!([], http('10.0.0.1')), 'uninstalling frees the slot');

    const closers: (() => void)[] = [];
    const ws = (id: number): RpcConnection => ({ id, client: '10.0.0.9', notify: () => {}, onClose: (fn) => closers.push(fn) });
    const c1 = ws(1);
    const s1 = await m.eth_subscribe!(['newHeads'], c1);
    await m.eth_subscribe!(['logs', {}], c1);
    await assert.rejects(async () => m.eth_subscribe!(['newPendingTransactions'], c1), (e: RpcError) => e.code === RPC.LIMIT && /limit 2/.test(e.message));
    assert.ok(await m.eth_subscribe!(['newHeads'], ws(2)), 'another connection has its own quota');
    assert.equal(await m.eth_unsubscribe!([s1], ws(2)), false, 'a connection cannot cancel another one\'s subscription');
    assert.equal(await m.eth_unsubscribe!([s1], c1), true);
    assert.ok(await m.eth_subscribe!(['newHeads'], c1), 'unsubscribing frees the slot');
    for (let i = 0; i < 50; i++) {
      const s = await m.eth_subscribe!(['newHeads'], ws(3));
      await m.eth_unsubscribe!([s], ws(3));
    }
    assert.equal(closers.length, 3, 'one close hook per connection, however often it subscribes');
    closers.forEach((f) => f());
    assert.equal(filters.stats().subscriptions, 0, 'closing a connection drops its subscriptions');
  } finally {
    filters.stop();
    await chain.close();
  }
});
