/**
 * One base error for the whole node. Every error carries a stable `code` a user or a caller can act
 * on, an optional structured payload, and the cause chain. Domains define their own code unions.
 */
export class PocError<C extends string = string> extends Error {
  readonly code: C;
  readonly data?: Record<string, unknown>;
  constructor(code: C, message: string, opts: { data?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'PocError';
    this.code = code;
    if (opts.data !== undefined) this.data = opts.data;
  }
}

/** True when `e` is a PocError, optionally with the given code. */
export function isPocError(e: unknown, code?: string): e is PocError {
  return e instanceof PocError && (code === undefined || e.code === code);
}
