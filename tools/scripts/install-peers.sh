#!/usr/bin/env bash
# Installs the Debian packages that interop tests use as real peers. Idempotent; needs root.
set -euo pipefail
pkgs=(iproute2 iputils-ping curl netcat-openbsd nmap tcpdump tshark python3 socat gcc libc6-dev liblwip-dev wrk apache2-utils chromium dnsmasq-base isc-dhcp-client dnsutils)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "install-peers: not root, cannot install: ${missing[*]}"; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-peers: ${pkgs[*]} present"
