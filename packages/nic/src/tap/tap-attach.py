"""Attach an inherited /dev/net/tun descriptor to a Linux TAP device (the TAP driver's helper).

Node cannot issue ioctl(2), so the TAP driver (attach.ts) opens /dev/net/tun itself and runs this
script with that descriptor as fd 3. The attachment made by TUNSETIFF belongs to the open file
description, so the parent's descriptor is attached once this script has exited.

Usage: python3 -I -S tap-attach.py NAME CREATE [VNET]
  NAME    the device name (a %d pattern works when creating)
  CREATE  '1' to create the device when none of that name exists, '0' to require an existing one
  VNET    '1' to attach with IFF_VNET_HDR: every frame read or written then starts with a 10-byte
          little-endian struct virtio_net_hdr (TUNSETVNETHDRSZ 10, TUNSETVNETLE 1), and the kernel's
          own offloads are turned off (TUNSETOFFLOAD 0), so that what it sends us is ordinary, fully
          checksummed, unsegmented frames; '0' (the default) for plain frames

Prints exactly one JSON object on stdout and exits 0:
  {"ok": true, "name": ..., "mtu": ..., "ifindex": ..., "vnetHdr": 0|10}   attached
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
IFF_VNET_HDR = 0x4000
# _IOW('T', 208, unsigned int): the argument is the offload bits themselves.
TUNSETOFFLOAD = 0x400454D0
# _IOW('T', 216, int) and _IOW('T', 220, int): the argument points to an int.
TUNSETVNETHDRSZ = 0x400454D8
TUNSETVNETLE = 0x400454DC
VNET_HDR_SIZE = 10
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
    if len(argv) not in (3, 4) or argv[2] not in ("0", "1") or (len(argv) == 4 and argv[3] not in ("0", "1")):
        sys.stderr.write("usage: tap-attach.py NAME 0|1 [0|1]\n")
        sys.exit(2)
    name, create = argv[1], argv[2] == "1"
    vnet = len(argv) == 4 and argv[3] == "1"
    if not create:
        try:
            socket.if_nametoindex(name)
        except OSError:
            refuse(errno.ENODEV, "no such device")
    try:
        flags = IFF_TAP | IFF_NO_PI | (IFF_VNET_HDR if vnet else 0)
        answer = fcntl.ioctl(TUN_FD, TUNSETIFF, struct.pack(IFREQ_FLAGS, name.encode(), flags))
    except OSError as e:
        refuse(e.errno, e.strerror or str(e))
    if vnet:
        try:
            # A persistent device keeps these from its last user: set every one of them.
            fcntl.ioctl(TUN_FD, TUNSETVNETHDRSZ, struct.pack("i", VNET_HDR_SIZE))
            fcntl.ioctl(TUN_FD, TUNSETOFFLOAD, 0)
        except OSError as e:
            refuse(e.errno, "cannot set up the virtio-net header: " + (e.strerror or str(e)))
        try:
            fcntl.ioctl(TUN_FD, TUNSETVNETLE, struct.pack("i", 1))
        except OSError as e:
            # Without TUNSETVNETLE the header is in the host's order: little-endian hosts need nothing more.
            if sys.byteorder != "little":
                refuse(e.errno, "cannot make the virtio-net header little-endian: " + (e.strerror or str(e)))
    name = answer[:16].split(b"\0", 1)[0].decode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        mtu = struct.unpack(IFREQ_MTU, fcntl.ioctl(s.fileno(), SIOCGIFMTU, struct.pack(IFREQ_MTU, name.encode(), 0)))[1]
    reply({"ok": True, "name": name, "mtu": mtu, "ifindex": socket.if_nametoindex(name), "vnetHdr": VNET_HDR_SIZE if vnet else 0})


if __name__ == "__main__":
    main(sys.argv)
