#!/usr/bin/env bash
# mkinitramfs.sh OUT KVER — build the weft kernel-lab initramfs (uncompressed
# newc cpio: unpacking it is faster under TCG than decompressing).
#
# Contents: busybox-static (every applet), bash as /bin/sh (busybox sh would run
# its own reduced `ip`/`modprobe` before $PATH), kmod, iproute2 (ip, bridge,
# tc, ss), ipvsadm, nft when installed, the host's node with its shared
# libraries, and the modules of kernel/net, crypto, lib, virtual NIC drivers,
# virtio and 9p, with depmod run so the kernel loads them on demand.
#
# Env: NODE (default: node on PATH; NODE=none leaves it out), EXTRA_BINS
# (more host programs, with their libraries), EXTRA_MODULES (module names).
set -euo pipefail
OUT=${1:?usage: mkinitramfs.sh OUT KVER}
KVER=${2:?usage: mkinitramfs.sh OUT KVER}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODDIR=${KLAB_MODDIR:-/lib/modules/$KVER}
[[ -d $MODDIR ]] || { echo "klab: no $MODDIR (run scripts/test-deps.sh)" >&2; exit 1; }
MODBASE=${MODDIR%/lib/modules/"$KVER"}
# An unpacked (not installed) kernel package has no modules.dep yet.
[[ -s $MODDIR/modules.dep ]] || depmod -b "${MODBASE:-/}" "$KVER"
for t in busybox bash kmod depmod modinfo cpio ip ipvsadm ldd; do
  command -v "$t" >/dev/null || { echo "klab: missing host program: $t" >&2; exit 1; }
done
NODE=${NODE:-$(command -v node || true)}

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/weft-klab-stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
cd "$STAGE"
mkdir -p bin sbin usr/bin usr/sbin usr/local/bin etc proc sys dev run tmp mnt root "lib/modules/$KVER"
mkdir -p var && ln -s ../run var/run

# busybox applets in /bin; real tools go to /sbin and /usr/*, earlier in PATH.
cp "$(command -v busybox)" bin/busybox
for a in $(./bin/busybox --list); do
  [[ $a == busybox || -e bin/$a ]] || ln -s busybox "bin/$a"
done

# add HOST_PATH [DEST]: copy a program and the shared libraries ldd names.
add() {
  local src dst=${2:-$1} lib
  src=$(readlink -f "$1")
  mkdir -p "$STAGE/$(dirname "$dst")"
  rm -f "$STAGE/$dst"
  cp "$src" "$STAGE/$dst"
  while read -r lib; do
    [[ -n $lib && ! -e $STAGE/$lib ]] || continue
    mkdir -p "$STAGE/$(dirname "$lib")"
    cp -L "$lib" "$STAGE/$lib"
  done < <(ldd "$src" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
}

add "$(command -v bash)" /bin/bash
ln -sf bash bin/sh
add "$(command -v kmod)" /sbin/kmod
for a in modprobe insmod rmmod lsmod modinfo depmod; do rm -f "bin/$a"; ln -sf kmod "sbin/$a"; done
rm -f bin/ip bin/tc
add "$(command -v ip)" /sbin/ip
for b in bridge tc ss; do command -v "$b" >/dev/null && add "$(command -v "$b")" "/sbin/$b"; done
add "$(command -v ipvsadm)" /sbin/ipvsadm
command -v nft >/dev/null && add "$(command -v nft)" /usr/sbin/nft
for b in ${EXTRA_BINS:-}; do
  p=$(command -v "$b") || { echo "klab: EXTRA_BINS: no $b on host" >&2; exit 1; }
  add "$p" "$p"
done
if [[ $NODE != none ]]; then
  [[ -n $NODE && -x $NODE ]] || { echo "klab: no node binary (set NODE=/path or NODE=none)" >&2; exit 1; }
  add "$NODE" /usr/bin/node
  ln -sf ../../bin/node usr/local/bin/node
fi
[[ -d /etc/iproute2 ]] && cp -r /etc/iproute2 etc/
[[ -d /usr/share/iproute2 ]] && mkdir -p usr/share && cp -r /usr/share/iproute2 usr/share/

printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > etc/group
printf '127.0.0.1 localhost klab\n::1 localhost\n' > etc/hosts
printf 'hosts: files dns\n' > etc/nsswitch.conf
: > etc/resolv.conf

# Modules: net, crypto, lib, virtio + 9p, virtual NICs; not wireless and the
# like (large and useless here). modules.dep lines carry full transitive deps.
{
  (cd "$MODDIR" && find kernel/net kernel/crypto kernel/arch/x86/crypto kernel/lib kernel/fs/9p kernel/fs/netfs \
      kernel/drivers/virtio kernel/drivers/char/hw_random -name '*.ko*' 2>/dev/null) |
    grep -Ev '^kernel/net/(wireless|mac80211|bluetooth|nfc|mac802154|ieee802154|rxrpc|ceph|sunrpc|rds|tipc|sctp|smc)/' || true
  for m in veth vxlan geneve macvlan macvtap ipvlan ipvtap dummy tun bonding vrf ifb nlmon wireguard \
           virtio_net net_failover failover ${EXTRA_MODULES:-}; do
    p=$(modinfo -b "${MODBASE:-/}" -k "$KVER" -n "$m" 2>/dev/null) && echo "${p#"$MODDIR"/}" || echo "klab: no module $m" >&2
  done
} | sort -u > "$STAGE/.want"
awk -F': *' 'NR == FNR {want[$1] = 1; next}
             ($1 in want) {print $1; n = split($2, d, " "); for (i = 1; i <= n; i++) print d[i]}' \
    "$STAGE/.want" "$MODDIR/modules.dep" | sort -u > "$STAGE/.all"
while read -r m; do
  mkdir -p "lib/modules/$KVER/$(dirname "$m")"
  cp "$MODDIR/$m" "lib/modules/$KVER/$m"
done < "$STAGE/.all"
for f in modules.builtin modules.builtin.modinfo modules.order; do
  [[ -f $MODDIR/$f ]] && cp "$MODDIR/$f" "lib/modules/$KVER/"
done
depmod -b "$STAGE" "$KVER"
NMOD=$(wc -l < "$STAGE/.all")
rm -f "$STAGE/.want" "$STAGE/.all"

cp "$HERE/init.sh" init
chmod 755 init

mkdir -p "$(dirname "$OUT")"
find . -print0 | cpio --null -o -H newc --quiet > "$OUT.tmp.$$"
mv "$OUT.tmp.$$" "$OUT"
echo "klab: built $OUT ($(du -h "$OUT" | cut -f1), kernel $KVER, $NMOD modules, node: ${NODE})" >&2
