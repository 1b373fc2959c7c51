/** Typed errors of the simulator: callers (and the CLI) branch on {@link SimulatorError.code}. */

/**
 * Stable codes of a {@link SimulatorError}:
 * - `BAD_ARGUMENT`: a missing or malformed option or flag;
 * - `ADDRESS_IN_USE`: a TCP port (serial socket, hostfwd) is taken;
 * - `PERMISSION_DENIED`: a TAP device (or a privileged port) without the privileges;
 * - `DEVICE_NOT_FOUND`: a device or helper program is missing;
 * - `PTY_FAILED`: the pseudo-terminal helper failed to start.
 */
export type SimulatorErrorCode =
  'BAD_ARGUMENT' | 'ADDRESS_IN_USE' | 'PERMISSION_DENIED' | 'DEVICE_NOT_FOUND' | 'PTY_FAILED';

/** The one error class the simulator rejects or throws with. Its message is one line, fit for a terminal. */
export class SimulatorError extends Error {
  /** The stable code to branch on. */
  readonly code: SimulatorErrorCode;
  constructor(code: SimulatorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SimulatorError';
    this.code = code;
  }
}

/** Maps a listen error (errno code) to a {@link SimulatorError} about `what`. */
export function listenError(err: unknown, what: string): SimulatorError {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  const text = err instanceof Error ? err.message : String(err);
  if (code === 'EADDRINUSE')
    return new SimulatorError('ADDRESS_IN_USE', `${what}: address already in use`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM')
    return new SimulatorError('PERMISSION_DENIED', `${what}: permission denied`, { cause: err });
  return new SimulatorError('BAD_ARGUMENT', `${what}: ${text}`, { cause: err });
}
