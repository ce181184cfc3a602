#!/usr/bin/env bash
# scripts/test-deps.sh — makes sure the peers, oracles and kernel-lab tools
# the tests use are installed (Debian/Ubuntu, root or sudo). Quick when
# everything is there; otherwise apt-get installs what is missing without
# starting any system service (the tests start their own, isolated ones).
# `npm test` runs it first; .ci/run too.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
  # netlink and network namespaces
  iproute2 kmod procps util-linux
  # Docker engine for the plugin tests (test/support/docker.ts, isolated)
  docker.io containerd runc
  # etcd for the control-plane store tests (test/support/etcd.ts)
  etcd-server etcd-client
  # kernel lab: Debian kernel in qemu (test/support/klab/)
  qemu-system-x86 linux-image-amd64 busybox-static cpio xz-utils
  # data-plane peers and oracles
  ipvsadm nftables tshark tcpdump iperf3 python3-pyroute2 jq strace
  # certificates for the etcd TLS tests (test/integration/etcd-tls.test.ts)
  openssl
  # DNS peers and load generators
  dnsperf dnsmasq unbound bind9-dnsutils knot-dnsutils python3-dnspython
  # native addon build (node-gyp)
  python3 make g++
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "test-deps: missing ${missing[*]} and no apt-get: tests that need them will skip with a reason" >&2
  exit 0
fi
SUDO=()
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { echo "test-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo -E)
fi

echo "test-deps: installing ${missing[*]}"
POLICY=/usr/sbin/policy-rc.d
POLICY_OWNED=0
if [[ ! -e $POLICY ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 755 "$POLICY"
  POLICY_OWNED=1
fi
remove_policy() { [[ $POLICY_OWNED == 1 ]] && "${SUDO[@]}" rm -f "$POLICY" || true; }
trap remove_policy EXIT
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
