#!/usr/bin/env bash
# scripts/test-deps.sh — makes sure the peers, oracles and kernel-lab tools the
# tests use are installed (Debian/Ubuntu, root or sudo). `npm test` and
# .ci/run run it first. Quick when everything is there. It is safe on a
# machine someone uses:
#   * it prints what it will install before installing it;
#   * it never removes or replaces a package (apt-get --no-remove; an
#     installed Docker engine, docker-ce or any dockerd, is used as it is:
#     docker.io is only installed where no dockerd exists);
#   * it never installs a boot kernel: the kernel lab's Debian kernel is
#     downloaded with `apt-get download` and unpacked into a cache
#     ($WEFT_KERNEL_CACHE, default /var/cache/weft/kernel);
#   * no service it installs starts now (policy-rc.d) or at boot (its units
#     are disabled right after the install); the tests start their own.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KCACHE=${WEFT_KERNEL_CACHE:-/var/cache/weft/kernel}

PACKAGES=(
  # netlink and network namespaces
  iproute2 kmod procps util-linux
  # etcd for the control-plane store tests (test/support/etcd.ts)
  etcd-server etcd-client
  # kernel lab: qemu boots Debian's kernel from $KCACHE (test/support/klab/)
  qemu-system-x86 busybox-static cpio xz-utils
  # data-plane peers and oracles
  ipvsadm nftables tshark tcpdump iperf3 python3-pyroute2 jq strace
  # certificates for the etcd TLS tests (test/integration/etcd-tls.test.ts)
  openssl
  # DNS peers and load generators
  dnsperf dnsmasq unbound bind9-dnsutils knot-dnsutils python3-dnspython
  # promtool checks the /metrics text; systemd-analyze verifies packaging/
  prometheus systemd
)
# Docker engine for the plugin tests (test/support/docker.ts, isolated): any installed engine will do.
if command -v dockerd >/dev/null || dpkg-query -W -f='${Status}' docker-ce 2>/dev/null | grep -q "install ok installed"; then
  echo "test-deps: using the installed Docker engine ($(command -v dockerd || echo docker-ce))"
else
  PACKAGES+=(docker.io containerd runc)
fi

SUDO=()
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { echo "test-deps: need root or sudo" >&2; exit 1; }
  SUDO=(sudo -E)
fi

bash "$HERE/build-deps.sh"

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

kernel_cached() { compgen -G "$KCACHE/*/boot/vmlinuz-*" >/dev/null; }

if [[ ${#missing[@]} -eq 0 ]] && kernel_cached; then exit 0; fi
if ! command -v apt-get >/dev/null; then
  echo "test-deps: missing ${missing[*]:-the kernel-lab kernel} and no apt-get: tests that need them will skip with a reason" >&2
  exit 0
fi
"${SUDO[@]}" apt-get update -q

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "test-deps: will install: ${missing[*]}"
  POLICY=/usr/sbin/policy-rc.d
  POLICY_OWNED=0
  if [[ ! -e $POLICY ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 755 "$POLICY"
    POLICY_OWNED=1
  fi
  remove_policy() { [[ $POLICY_OWNED == 1 ]] && "${SUDO[@]}" rm -f "$POLICY" || true; }
  trap remove_policy EXIT
  before=$(dpkg-query -W -f='${Package}\n' | sort)
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends --no-remove "${missing[@]}"
  # Every unit of every package this run added (dependencies too) stays off at boot.
  added=$(comm -13 <(echo "$before") <(dpkg-query -W -f='${Package}\n' | sort))
  for p in $added; do
    for u in $(dpkg-query -L "$p" 2>/dev/null | grep -E '^/(usr/)?lib/systemd/system/[^/]+\.(service|socket|timer)$' | xargs -rn1 basename); do
      if [[ -n $(find /etc/systemd/system -name "$u" -type l 2>/dev/null) ]]; then
        echo "test-deps: disabling $u at boot (installed by $p)"
        "${SUDO[@]}" deb-systemd-helper disable "$u" >/dev/null 2>&1 || "${SUDO[@]}" systemctl disable "$u" >/dev/null 2>&1 || true
      fi
    done
  done
fi

if ! kernel_cached; then
  # Debian's kernel meta-package for this architecture names the current kernel package:
  # its name is read here and the package downloaded below, never installed.
  meta="linux-image-$(dpkg --print-architecture)"
  kpkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  if [[ -z $kpkg ]]; then
    echo "test-deps: cannot find Debian's kernel package: kernel-lab tests will skip" >&2
    exit 0
  fi
  echo "test-deps: downloading $kpkg into $KCACHE for the kernel lab (not installed as a boot kernel)"
  tmp=$(mktemp -d); chmod 755 "$tmp"; chown _apt "$tmp" 2>/dev/null || true
  (cd "$tmp" && "${SUDO[@]}" apt-get download -q "$kpkg")
  kver=${kpkg#linux-image-}
  "${SUDO[@]}" mkdir -p "$KCACHE/$kver.tmp"
  "${SUDO[@]}" dpkg-deb -x "$tmp"/"$kpkg"_*.deb "$KCACHE/$kver.tmp"
  # The package's postinst would run depmod; the lab loads modules on demand, so run it here.
  "${SUDO[@]}" depmod -b "$KCACHE/$kver.tmp" "$kver"
  "${SUDO[@]}" rm -rf "$KCACHE/$kver" "$tmp"
  "${SUDO[@]}" mv "$KCACHE/$kver.tmp" "$KCACHE/$kver"
fi
