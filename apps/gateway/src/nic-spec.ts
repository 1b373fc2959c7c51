/**
 * The `--nic SPEC` syntax (also the `nic` field of an interface in the config file): which driver
 * an interface runs on and where its device is.
 *
 * | SPEC | driver |
 * |---|---|
 * | `sim` | the device simulator (apps/device-simulator), in this process |
 * | `serial:PATH[?baud=N]` | the USB Ethernet device on a serial port (`/dev/ttyACM0`, a PTY) |
 * | `socket://HOST:PORT` | the same serial byte stream over TCP (a simulator in another process) |
 * | `tap:NAME` | a Linux TAP device (needs CAP_NET_ADMIN) |
 */

/** A parsed NIC spec. */
export type NicSpec =
  | { readonly kind: 'sim' }
  | { readonly kind: 'serial'; readonly path: string; readonly baudRate: number | undefined }
  | { readonly kind: 'socket'; readonly host: string; readonly port: number }
  | { readonly kind: 'tap'; readonly ifname: string };

/** Longest Linux interface name. */
const IFNAMSIZ_MINUS_NUL = 15;

/**
 * Parses a NIC spec. Returns the spec, or a string saying what is wrong with it (for the caller to
 * put after the field name). Never throws.
 */
export function parseNicSpec(text: string): NicSpec | string {
  if (text === 'sim') return { kind: 'sim' };
  if (text.startsWith('serial:')) {
    const rest = text.slice('serial:'.length);
    const q = rest.indexOf('?');
    const path = q < 0 ? rest : rest.slice(0, q);
    if (path === '') return 'serial: needs a device path, e.g. serial:/dev/ttyACM0';
    if (q < 0) return { kind: 'serial', path, baudRate: undefined };
    const query = rest.slice(q + 1);
    const m = /^baud=([1-9][0-9]{2,7})$/.exec(query);
    if (m === null) return `bad serial option ${JSON.stringify(query)} (the one option is baud=N)`;
    return { kind: 'serial', path, baudRate: Number(m[1]) };
  }
  if (text.startsWith('socket://')) {
    const m = /^socket:\/\/(\[[^\]]+\]|[^:/[\]]+):(\d{1,5})$/.exec(text);
    const port = m === null ? NaN : Number(m[2]);
    if (m === null || port < 1 || port > 65535) return 'is not socket://HOST:PORT with PORT in 1..65535';
    return { kind: 'socket', host: m[1]!.replace(/^\[|\]$/g, ''), port };
  }
  if (text.startsWith('tap:')) {
    const ifname = text.slice('tap:'.length);
    if (!/^[A-Za-z0-9_.%-]+$/.test(ifname) || ifname.length > IFNAMSIZ_MINUS_NUL) {
      return `tap: needs an interface name of 1..${IFNAMSIZ_MINUS_NUL} characters [A-Za-z0-9_.%-]`;
    }
    return { kind: 'tap', ifname };
  }
  return 'is not a NIC spec (sim, serial:PATH[?baud=N], socket://HOST:PORT or tap:NAME)';
}

/** Formats a spec back into its text form (the inverse of {@link parseNicSpec}). */
export function formatNicSpec(spec: NicSpec): string {
  switch (spec.kind) {
    case 'sim':
      return 'sim';
    case 'serial':
      return `serial:${spec.path}${spec.baudRate === undefined ? '' : `?baud=${spec.baudRate}`}`;
    case 'socket':
      return `socket://${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${spec.port}`;
    case 'tap':
      return `tap:${spec.ifname}`;
  }
}
