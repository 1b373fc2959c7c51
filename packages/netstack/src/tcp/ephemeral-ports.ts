/**
 * {@link EphemeralPorts}: the local port an active open takes when the application names none.
 * Ports are handed out in turn from a random starting point inside the range, skipping ports a
 * listener holds, 4-tuples already in use and ports the IP port reserves (a NAT mapping's).
 */
import type { Ipv4Address } from '@postern/wire';
import type { ConnectionTable, ListenerTable, Bound } from './demux.js';
import type { TcpIpPort } from './ip-port.js';
import { TcpError } from './errors.js';

/** The ephemeral port range and where the next search starts. */
export class EphemeralPorts {
  private readonly lo: number;
  private readonly hi: number;
  private next: number;

  /** `random` is a draw in [0, 1) that picks the first port tried. */
  constructor(range: readonly [number, number], random: number) {
    [this.lo, this.hi] = range;
    this.next = this.lo + Math.floor(random * (this.hi - this.lo + 1));
  }

  /**
   * A free port for a connection from `local` to `remote:remotePort`, skipping those
   * `port.portReserved` names.
   * @throws {@link TcpError} `EADDRNOTAVAIL` when every port of the range is taken.
   */
  pick(
    table: ConnectionTable,
    listeners: ListenerTable<Bound>,
    local: Ipv4Address,
    remote: Ipv4Address,
    remotePort: number,
    port?: Pick<TcpIpPort, 'portReserved'>,
  ): number {
    const { lo, hi } = this;
    const span = hi - lo + 1;
    for (let i = 0; i < span; i++) {
      const p = lo + ((this.next - lo + i) % span);
      if (listeners.usesPort(p)) continue;
      if (table.inUse(local, p, remote, remotePort)) continue;
      if (port?.portReserved?.(local, p) === true) continue;
      this.next = p + 1 > hi ? lo : p + 1;
      return p;
    }
    throw new TcpError('EADDRNOTAVAIL', 'no free ephemeral port');
  }
}
