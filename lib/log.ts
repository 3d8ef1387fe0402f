import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured logger. Messages are constant strings; context goes in the object. Level from
 * POCCHAIN_LOG_LEVEL (default info). Logs go to stderr so that `--json` output on stdout stays clean.
 */
export function createLogger(opts: { name?: string; level?: string } = {}): Logger {
  const level = opts.level ?? process.env.POCCHAIN_LOG_LEVEL ?? 'info';
  return pino({ name: opts.name ?? 'pocchain', level, redact: ['key', 'privateKey', '*.privateKey', 'secret'] }, pino.destination(2));
}

/** A logger that drops everything: the default for library code and unit tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
