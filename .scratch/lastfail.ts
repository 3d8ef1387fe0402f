import { JsonRpcProvider } from 'ethers';
const p = new JsonRpcProvider(process.argv[2]);
const tx0 = process.argv[3];
const r0 = await p.getTransactionReceipt(tx0);
const from = r0!.from;
const head = await p.getBlockNumber();
console.log('head', head, 'job105 block', r0!.blockNumber, 'from', from);
for (let b = r0!.blockNumber; b <= Math.min(head, r0!.blockNumber + 200); b++) {
  const blk = await p.getBlock(b, true);
  for (const t of blk!.prefetchedTransactions) {
    if (t.from.toLowerCase() !== from.toLowerCase()) continue;
    const rc = await p.getTransactionReceipt(t.hash);
    console.log(b, t.hash, t.data.slice(0, 10), 'gasLimit', t.gasLimit, 'used', rc!.gasUsed, 'status', rc!.status);
  }
}
