/** Stopping child processes the same way everywhere. */
import type { ChildProcess } from 'node:child_process';

/** Send `signal`, SIGKILL after `graceMs`; resolves with the exit code (null when killed by a signal). */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
    setTimeout(() => child.kill('SIGKILL'), graceMs).unref();
  });
}
