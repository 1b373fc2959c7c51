"""Attach an inherited /dev/net/tun descriptor to a Linux TAP device (the TAP driver's helper).

Node cannot issue ioctl(2), so the TAP driver (attach.ts) opens /dev/net/tun itself and runs this
script with that descriptor as fd 3. The attachment made by TUNSETIFF belongs to the open file
description, so the parent's descriptor is attached once this script has exited.

Usage: python3 -I -S tap-attach.py NAME CREATE
  NAME    the device name (a %d pattern works when creating)
  CREATE  '1' to create the device when none of that name exists, '0' to require an existing one

Prints exactly one JSON object on stdout and exits 0:
  {"ok": true, "name": ..., "mtu": ..., "ifindex": ...}        attached
  {"ok": false, "errno": "ENODEV", "message": ...}              refused (errno as its symbolic name)
Anything else (a traceback, exit status other than 0) is a failure of the helper itself.
"""
import errno
import fcntl
import json
import socket
import struct
import sys

TUN_FD = 3
# _IOW('T', 202, int)
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
SIOCGIFMTU = 0x8921
# struct ifreq is 40 bytes: a 16-byte name, then a union (here: short flags, or int mtu).
IFREQ_FLAGS = "16sH22x"
IFREQ_MTU = "16si20x"


def reply(obj):
    sys.stdout.write(json.dumps(obj))
    sys.stdout.flush()
    sys.exit(0)


def refuse(err, message):
    reply({"ok": False, "errno": errno.errorcode.get(err, str(err)), "message": message})


def main(argv):
    if len(argv) != 3 or argv[2] not in ("0", "1"):
        sys.stderr.write("usage: tap-attach.py NAME 0|1\n")
        sys.exit(2)
    name, create = argv[1], argv[2] == "1"
    if not create:
        try:
            socket.if_nametoindex(name)
        except OSError:
            refuse(errno.ENODEV, "no such device")
    try:
        answer = fcntl.ioctl(TUN_FD, TUNSETIFF, struct.pack(IFREQ_FLAGS, name.encode(), IFF_TAP | IFF_NO_PI))
    except OSError as e:
        refuse(e.errno, e.strerror or str(e))
    name = answer[:16].split(b"\0", 1)[0].decode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        mtu = struct.unpack(IFREQ_MTU, fcntl.ioctl(s.fileno(), SIOCGIFMTU, struct.pack(IFREQ_MTU, name.encode(), 0)))[1]
    reply({"ok": True, "name": name, "mtu": mtu, "ifindex": socket.if_nametoindex(name)})


if __name__ == "__main__":
    main(sys.argv)
