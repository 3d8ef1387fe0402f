/**
 * Preloaded (`node --import`) into every Node child of the devnet. Node has no PR_SET_PDEATHSIG,
 * so the child polls its parent pid: once the devnet process is gone (even SIGKILLed), the child
 * is re-parented and stops itself with SIGTERM — its normal clean shutdown — and, if that hangs,
 * with SIGKILL 30 s later. The expected parent comes from POCCHAIN_DEVNET_PID.
 */
import { isMainThread } from 'node:worker_threads';

const expected = Number(process.env.POCCHAIN_DEVNET_PID);
if (isMainThread && Number.isInteger(expected) && expected > 0) {
  const timer = setInterval(() => {
    if (process.ppid === expected) return;
    clearInterval(timer);
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), 30_000).unref();
    process.kill(process.pid, 'SIGTERM');
  }, 1000);
  timer.unref();
  // the parent may already be gone by the time this module runs
  if (process.ppid !== expected) process.kill(process.pid, 'SIGTERM');
}
