#!/bin/sh
# Builds the lwIP reference server and its PBUF_POOL -> PBUF_RAM preload shim into OUT_DIR
# (default: ./build) from Debian's liblwip-dev headers and library. Needs gcc and liblwip-dev.
#   tools/bench/lwip/build.sh [OUT_DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/build"}
inc=/usr/include/lwip
if [ ! -f "$inc/netif/tapif.h" ] || [ ! -e /usr/lib/x86_64-linux-gnu/liblwip.so ] && ! ls /usr/lib/*/liblwip.so >/dev/null 2>&1; then
  echo "build.sh: liblwip-dev is not installed (apt-get install liblwip-dev)" >&2
  exit 3
fi
command -v gcc >/dev/null 2>&1 || { echo "build.sh: gcc is missing" >&2; exit 3; }
mkdir -p "$out"
flags="-O2 -g -Wall -Wextra -Wno-unused-parameter -I$inc"
gcc $flags -o "$out/httpd-tap" "$here/httpd-tap.c" -llwip -lpthread
gcc $flags -shared -fPIC -o "$out/pbuf-ram-shim.so" "$here/pbuf-ram-shim.c" -ldl
echo "$out/httpd-tap"
