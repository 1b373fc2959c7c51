#!/bin/sh
# Builds the Mongoose reference server (httpd-tap.c beside this script) into OUT_DIR against the
# Mongoose source tree SRC_DIR (a directory holding mongoose.c and mongoose.h; see source.sh), with
# Mongoose's built-in TCP/IP stack and no sockets. Needs gcc.
#   tools/bench/mongoose/build.sh SRC_DIR OUT_DIR
# Writes OUT_DIR/mongoose-httpd-tap and prints its path.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { echo "usage: build.sh SRC_DIR OUT_DIR" >&2; exit 2; }
src=$1
out=$2
for f in mongoose.c mongoose.h; do
  [ -f "$src/$f" ] || { echo "build.sh: $src has no $f (POSTERN_MONGOOSE_SRC must name a directory holding mongoose.c and mongoose.h)" >&2; exit 3; }
done
command -v gcc >/dev/null 2>&1 || { echo "build.sh: gcc is missing" >&2; exit 3; }
mkdir -p "$out"
# MG_ENABLE_TCPIP_DRIVER_INIT=0: mg_mgr_init starts no built-in hardware driver (ours is set by hand).
# MG_DATA_SIZE=256: a listener keeps its SYN backlog in its connection's `data` (MG_DATA_SIZE / 6
# entries: 5 with the default 32), and wrk opens its 32 connections at once; with 5 entries the other
# SYNs are dropped until the client retries them a second later (about 50 SYN retransmissions per
# 3-second wrk sample, measured). 256 bytes hold 42 entries, as lwIP's listener has a backlog of 255.
defs="-DMG_ENABLE_TCPIP=1 -DMG_ENABLE_SOCKET=0 -DMG_ENABLE_TCPIP_DRIVER_INIT=0 -DMG_DATA_SIZE=256"
# Mongoose's own warnings are not ours to fix (-w); our program builds with -Wall -Wextra.
gcc -O2 -g -w $defs -I"$src" -c -o "$out/mongoose.o" "$src/mongoose.c"
gcc -O2 -g -Wall -Wextra $defs -I"$src" -o "$out/mongoose-httpd-tap" "$here/httpd-tap.c" "$out/mongoose.o"
echo "$out/mongoose-httpd-tap"
