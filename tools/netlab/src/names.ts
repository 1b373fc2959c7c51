/**
 * Names of the things the lab makes. Every name starts with {@link NETLAB_PREFIX} and carries the id
 * of the process that made it, so that a later run can tell a leftover of a crashed run (its process
 * is gone) from a live object of a test running beside it (its process still runs).
 *
 * Form: `pst-` + one kind letter + the pid in base 36 + `-` + a sequence number in base 36, at most
 * 15 characters (the kernel's interface-name limit, IFNAMSIZ - 1).
 */

/** The prefix every namespace and link the lab makes starts with. */
export const NETLAB_PREFIX = 'pst-';

/** The longest interface name Linux accepts (IFNAMSIZ - 1). */
export const MAX_INTERFACE_NAME_LENGTH = 15;

/** What a lab name stands for: `n` namespace, `t` TAP device, `v` veth end, `b` bridge. */
export type NetlabKind = 'n' | 't' | 'v' | 'b';

const SEQUENCE_SPACE = 36 ** 3;
const NAME_PATTERN = /^pst-([ntvb])([0-9a-z]{1,6})-([0-9a-z]{1,3})$/;

let sequence = 0;

/**
 * A fresh name for a lab object of `kind`, unique within this process (the sequence wraps after
 * 46,656 names) and, through the pid, across processes. Always at most 15 characters.
 */
export function uniqueName(kind: NetlabKind, pid: number = process.pid): string {
  const seq = sequence;
  sequence = (sequence + 1) % SEQUENCE_SPACE;
  const name = `${NETLAB_PREFIX}${kind}${pid.toString(36)}-${seq.toString(36)}`;
  if (name.length > MAX_INTERFACE_NAME_LENGTH) throw new RangeError(`netlab: name ${name} is too long (pid ${pid})`);
  return name;
}

/** What {@link parseLabName} reads out of a lab name. */
export interface LabName {
  kind: NetlabKind;
  /** The id of the process that made it. */
  pid: number;
}

/** Reads kind and owner pid out of a name made by {@link uniqueName}; undefined for any other name. */
export function parseLabName(name: string): LabName | undefined {
  const m = NAME_PATTERN.exec(name);
  if (!m) return undefined;
  return { kind: m[1] as NetlabKind, pid: parseInt(m[2]!, 36) };
}
