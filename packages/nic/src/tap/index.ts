export {
  TapNicDriver,
  DEFAULT_TAP_MAC,
  type TapIoMode,
  type TapNicDriverOptions,
  type TapRingStats,
} from './tap-driver.js';
export {
  openTapFd,
  TAP_ATTACH_SCRIPT,
  TUN_CLONE_DEVICE,
  MAX_IFNAME_LENGTH,
  type OpenTapOptions,
  type TapFd,
} from './attach.js';
export { eventLoopPortAvailable } from './event-loop-port.js';
