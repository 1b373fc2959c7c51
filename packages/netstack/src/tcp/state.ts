/**
 * The TCP connection states of RFC 9293 §3.3.2, as stable strings (they show up in stats, logs and
 * the socket layer's `state`).
 */

/** A connection state (RFC 9293 §3.3.2). `LISTEN` belongs to listeners only. */
export type TcpState =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN-SENT'
  | 'SYN-RECEIVED'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT';

/** True in the states where both sequence spaces are synchronized (everything after the handshake but CLOSED). */
export function isSynchronized(state: TcpState): boolean {
  return state !== 'CLOSED' && state !== 'LISTEN' && state !== 'SYN-SENT' && state !== 'SYN-RECEIVED';
}

/** True in the states where the peer may still send data (our receive side is open). */
export function canReceiveData(state: TcpState): boolean {
  return state === 'ESTABLISHED' || state === 'FIN-WAIT-1' || state === 'FIN-WAIT-2';
}

/** True in the states where we may still send new data (our FIN was not queued). */
export function canSendData(state: TcpState): boolean {
  return state === 'ESTABLISHED' || state === 'CLOSE-WAIT' || state === 'SYN-RECEIVED' || state === 'SYN-SENT';
}
