/**
 * How a board that runs firmware as a process (the simulated board) and the firmware agree on the
 * few things outside the image: where the firmware confirms its boot, and how it asks for a reset.
 */

/** Environment variable: the serial endpoint (`socket://HOST:PORT`) of the bootloader the running firmware sends CONFIRM to (docs/flash-protocol.md §7). */
export const BOOT_CONTROL_ENV = 'POSTERN_BOOT_CONTROL';

/** Exit status with which firmware asks the board for a reset (a reboot from the admin API). */
export const EXIT_REBOOT = 75;
