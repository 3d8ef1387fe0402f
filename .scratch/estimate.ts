import { JsonRpcProvider, Wallet, Contract, parseEther } from 'ethers';
import { hubIface } from '../executor/hub-client.ts';
import { HUB_ADDRESS } from '../consensus/poc/index.ts';
import { devAccounts } from '../lib/keys.ts';
const p = new JsonRpcProvider('http://127.0.0.1:27777');
const dev = devAccounts(10);
const w = new Wallet(dev[1]!.privateKey, p);
const hub = new Contract(HUB_ADDRESS, hubIface, w);
const app = process.argv[2]!;
const spec = [app, '0x' + '00'.repeat(32), 5, 3, 3, parseEther('0.03'), '0x' + '00'.repeat(20), 0];
const bag = Array.from({ length: 8 }, (_, i) => new TextEncoder().encode('input ' + i));
try {
  const g = await hub.requestTasks.estimateGas(spec, bag, { value: parseEther('0.03') * 8n });
  console.log('estimate ok', g);
} catch (e: any) {
  console.log('failed', e.shortMessage, JSON.stringify(e.info?.error));
}
const raw = await p.send('eth_estimateGas', [{ from: w.address, to: HUB_ADDRESS, data: hub.interface.encodeFunctionData('requestTasks', [spec, bag]), value: '0x' + (parseEther('0.03') * 8n).toString(16) }]).catch((e) => e.error ?? e.message);
console.log('raw', raw);
const data = hub.interface.encodeFunctionData('requestTasks', [spec, bag]);
for (let b = 300; b <= 570; b++) {
  const r = await p.send('eth_estimateGas', [{ from: w.address, to: HUB_ADDRESS, data, value: '0x' + (parseEther('0.03') * 8n).toString(16) }, '0x' + b.toString(16)]).catch((e) => 'ERR ' + JSON.stringify(e.error ?? e.message));
  if (typeof r !== 'string' || r.startsWith('ERR')) console.log(b, r);
}
console.log('scan done');
