/** Typed errors of the dev board: callers (and the CLI) branch on {@link BoardError.code}. */

/**
 * Stable codes of a {@link BoardError}:
 * - `BAD_ARGUMENT`: a missing or malformed option or flag (the CLI exits 2);
 * - `ADDRESS_IN_USE`: a TCP port is taken;
 * - `PERMISSION_DENIED`: network setup or a TAP device without root (CAP_NET_ADMIN);
 * - `DEVICE_NOT_FOUND`: the serial port, the Ethernet interface or a helper program is missing;
 * - `SETUP_FAILED`: a network setup command failed.
 */
export type BoardErrorCode =
  'BAD_ARGUMENT' | 'ADDRESS_IN_USE' | 'PERMISSION_DENIED' | 'DEVICE_NOT_FOUND' | 'SETUP_FAILED';

/** The one error class the board rejects or throws with. Its message is one line, fit for a terminal. */
export class BoardError extends Error {
  /** The stable code to branch on. */
  readonly code: BoardErrorCode;
  constructor(code: BoardErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BoardError';
    this.code = code;
  }
}

/** Maps a listen error (errno code) to a {@link BoardError} about `what`. */
export function listenError(err: unknown, what: string): BoardError {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  const text = err instanceof Error ? err.message : String(err);
  if (code === 'EADDRINUSE') return new BoardError('ADDRESS_IN_USE', `${what}: address already in use`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM')
    return new BoardError('PERMISSION_DENIED', `${what}: permission denied`, { cause: err });
  return new BoardError('BAD_ARGUMENT', `${what}: ${text}`, { cause: err });
}
