/** Re-exports for the model-vs-contract test, plus a PocError guard with a code. */
import { PocError } from '../../lib/errors.ts';
export * from '../../consensus/poc/index.ts';

/** True when e is a PocError (its code is a contract custom error name). */
export function isPocErrorCode(e: unknown): e is PocError {
  return e instanceof PocError;
}
