/**
 * {@link serveUsbEthernet}: the USB Ethernet device function of a board, one session per host byte
 * stream: `@postern/nic`'s {@link SerialBoard} (docs/device-protocol.md: HELLO, MAC, link events,
 * the receive filter, credits, counters) whose wire frames go to `toWire`. Shared by `postern-board`
 * (the wire is the board's Ethernet, {@link EthernetWire}) and `postern-sim` (the wire is the
 * simulated segment), so both boards speak the protocol through the same code.
 */
import type { Duplex } from 'node:stream';
import type { SchedulerApi } from '@postern/irq';
import { SerialBoard } from '@postern/nic';
import type { MacAddress } from '@postern/wire';

/** Options of {@link serveUsbEthernet}. */
export interface UsbEthernetOptions {
  /** The scheduler the session's timers (pacing) run on. */
  scheduler: SchedulerApi;
  /** The device's station MAC (what the host's GET_MAC returns). */
  mac: MacAddress;
  /** Puts a frame from the host (Ethernet frame with FCS) on the wire. The callee owns the frame. */
  toWire: (frame: Uint8Array) => void;
  /** The credit window in frames. Default 32. */
  window?: number;
  /** Pace the serial line to this many bytes per second. Default unpaced. */
  lineRateBytesPerSecond?: number;
  /** The wire's carrier at the start. Default true. */
  carrier?: boolean;
  /** Announce the (re)start to a host holding a session (device protocol §13). Default false. */
  announce?: boolean;
}

/** A started session: its board, and how to stop it (the stream is left open). */
export interface UsbEthernetSession {
  readonly board: SerialBoard;
  stop(): void;
}

/** Starts the device function on one host byte stream. */
export function serveUsbEthernet(stream: Duplex, options: UsbEthernetOptions): UsbEthernetSession {
  const board = new SerialBoard({
    stream,
    scheduler: options.scheduler,
    mac: options.mac,
    toWire: options.toWire,
    window: options.window,
    lineRateBytesPerSecond: options.lineRateBytesPerSecond,
    carrier: options.carrier,
    announce: options.announce,
  });
  board.start();
  return { board, stop: () => board.stop() };
}
