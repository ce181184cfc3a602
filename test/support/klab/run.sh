#!/usr/bin/env bash
# run.sh COMMAND... — run a bash command as root in a throw-away qemu VM that
# boots Debian's kernel (the weft kernel lab), then power off. The kernel
# comes from the cache scripts/test-deps.sh fills ($WEFT_KERNEL_CACHE, default
# /var/cache/weft/kernel/<version>/{boot,lib/modules}), else from /boot.
#
# * The command runs in $KLAB_WORKDIR (default $PWD), shared read-write over
#   virtio-9p and mounted at the same absolute path in the VM. WEFT_KLAB=1 is
#   set there. There is no network device: only the 9p shares and the console.
# * The console streams to stdout. The exit code is the command's; 124 = the
#   VM timed out, 125 = the VM stopped without reporting one.
# * qemu and the run's temp dir are removed on every exit path (normal end,
#   error, Ctrl-C, TERM, timeout); runs whose owner died are swept at start.
#
# Env (defaults): KLAB_WORKDIR ($PWD; "" = no share), KLAB_TIMEOUT (600 s),
# KLAB_MEM (1024 MiB), KLAB_SMP (2), KLAB_ACCEL (tcg; kvm:tcg where KVM works),
# KLAB_MODULES (comma list to modprobe first), KLAB_VERBOSE (1 = kernel log and
# boot markers), KLAB_DIR (/tmp/weft-klab: cache and runs), KVER (newest
# kernel with modules), NODE (node binary to put in the initramfs).
# Needs: qemu-system-x86 busybox-static ipvsadm cpio kmod iproute2 xz-utils
# (+ nftables for nft in the VM), and the kernel (scripts/test-deps.sh).
set -euo pipefail
[[ $# -ge 1 ]] || { sed -n '2,21p' "$0" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KLAB_DIR=${KLAB_DIR:-/tmp/weft-klab}
WORKDIR=${KLAB_WORKDIR-$PWD}
TIMEOUT=${KLAB_TIMEOUT:-600}
ACCEL=${KLAB_ACCEL:-tcg}
VERBOSE=${KLAB_VERBOSE:-0}
say() { echo "klab: $*" >&2; }

command -v qemu-system-x86_64 >/dev/null || { say "qemu-system-x86_64 not installed"; exit 125; }
# A root holding boot/vmlinuz-KVER and lib/modules/KVER: the cache first, then /.
KROOT=; FOUND=0
for root in $(ls -1d "${WEFT_KERNEL_CACHE:-/var/cache/weft/kernel}"/*/ 2>/dev/null | sort -rV) /; do
  root=${root%/}
  for k in $(ls -1 "$root"/boot/vmlinuz-* 2>/dev/null | sed 's|^.*/boot/vmlinuz-||' | sort -rV); do
    [[ -n ${KVER:-} && $k != "$KVER" ]] && continue
    [[ -d $root/lib/modules/$k ]] && { KVER=$k; KROOT=$root; FOUND=1; break 2; }
  done
done
[[ $FOUND == 1 ]] || { say "no kernel with modules in ${WEFT_KERNEL_CACHE:-/var/cache/weft/kernel} or /boot (run scripts/test-deps.sh)"; exit 125; }
BZIMAGE=$KROOT/boot/vmlinuz-$KVER
export KLAB_MODDIR=$KROOT/lib/modules/$KVER
mkdir -p "$KLAB_DIR"

# --- sweep runs whose owner is gone (their qemu, their temp dir)
for d in "$KLAB_DIR"/run-*; do
  [[ -d $d ]] || continue
  owner=${d##*/run-}; owner=${owner%%-*}
  kill -0 "$owner" 2>/dev/null && continue
  if [[ -s $d/qemu.pid ]]; then
    q=$(cat "$d/qemu.pid")
    grep -qF "$d" "/proc/$q/cmdline" 2>/dev/null && kill -9 "$q" 2>/dev/null || true
  fi
  rm -rf "$d"
done

# --- this run
RUN=$(mktemp -d "$KLAB_DIR/run-$$-XXXXXX")
cleanup() {
  local q
  if [[ -s $RUN/qemu.pid ]]; then
    q=$(cat "$RUN/qemu.pid")
    if grep -qF "$RUN" "/proc/$q/cmdline" 2>/dev/null; then
      kill "$q" 2>/dev/null || true
      for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$q" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$q" 2>/dev/null || true
    fi
  fi
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM HUP

# --- initramfs, cached per kernel + builder scripts + node binary
NODE=${NODE:-$(command -v node || echo none)}
node_id=none
[[ $NODE != none ]] && node_id="$(readlink -f "$NODE") $(stat -Lc '%s %Y' "$NODE")"
KEY=$(cat "$HERE/mkinitramfs.sh" "$HERE/init.sh" <(echo "$node_id ${EXTRA_BINS:-} ${EXTRA_MODULES:-} $(command -v nft || true)") |
      sha256sum | cut -c1-16)
INITRD=$KLAB_DIR/initramfs-$KVER-$KEY.cpio
VMLINUX=$KLAB_DIR/vmlinux-$KVER
(
  flock 9
  if [[ ! -s $INITRD ]]; then
    # Other checkouts may use other initramfs versions right now: only day-old ones go.
    find "$KLAB_DIR" -maxdepth 1 -name 'initramfs-*.cpio' -mmin +1440 -delete
    NODE=$NODE "$HERE/mkinitramfs.sh" "$INITRD" "$KVER"
  fi
  # This run's own link to it: a cache clean-up by another run cannot pull it away mid-boot.
  ln -f "$INITRD" "$RUN/initrd.cpio"
  # PVH boot of the uncompressed ELF skips the in-guest decompressor (≈3 s under TCG).
  if [[ ! -e $VMLINUX ]]; then
    off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$BZIMAGE" | head -1 | cut -d: -f1 || true)
    [[ -n $off ]] && { tail -c +$((off + 1)) "$BZIMAGE" | xz -dcq > "$VMLINUX.tmp" 2>/dev/null || true; }
    if [[ -s $VMLINUX.tmp && $(head -c4 "$VMLINUX.tmp" | od -An -c | tr -d ' ') == 177ELF ]]; then
      mv "$VMLINUX.tmp" "$VMLINUX"
    else
      rm -f "$VMLINUX.tmp"; : > "$VMLINUX"   # empty marker: use the bzImage
      say "could not extract an ELF vmlinux from $BZIMAGE; booting the bzImage (slower)"
    fi
  fi
) 9> "$KLAB_DIR/.lock"
KERNEL=$BZIMAGE
[[ -s $VMLINUX ]] && KERNEL=$VMLINUX
[[ -r $KERNEL ]] || { say "cannot read $KERNEL"; exit 125; }

mkdir "$RUN/ctl"
printf '%s\n' "$*" > "$RUN/ctl/cmd.sh"

# The PVH entry skips PIT calibration: give the kernel the TSC rate.
TSC_KHZ=$(awk -F: '/^cpu MHz/ {printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
APPEND="console=ttyS0 panic=-1 reboot=t tsc_early_khz=${TSC_KHZ:-2000000} i8042.noaux i8042.nokbd"
[[ $VERBOSE == 1 ]] || APPEND+=" quiet loglevel=1"
[[ -n ${KLAB_MODULES:-} ]] && APPEND+=" klab.modules=$KLAB_MODULES"
SHARES=(-fsdev "local,id=ctl,path=$RUN/ctl,security_model=none" -device virtio-9p-device,fsdev=ctl,mount_tag=klabctl)
if [[ -n $WORKDIR ]]; then
  WORKDIR=$(cd "$WORKDIR" && pwd -P)
  [[ $WORKDIR =~ ^[A-Za-z0-9_./+-]+$ ]] || { say "work dir path must not contain spaces or odd characters: $WORKDIR"; exit 2; }
  SHARES+=(-fsdev "local,id=work,path=$WORKDIR,security_model=none" -device virtio-9p-device,fsdev=work,mount_tag=klabwork)
  APPEND+=" klab.workdir=$WORKDIR"
fi
ACCELS=(); IFS=: read -ra parts <<< "$ACCEL"; for a in "${parts[@]}"; do ACCELS+=(-accel "$a"); done
CPU=max; [[ $ACCEL == kvm* ]] && CPU=host,-arch-capabilities
FILTER='^KLAB_(INIT|START|END|RC=)|\] reboot: Power down'
[[ $VERBOSE == 1 ]] && FILTER='^$^'

T0=$(date +%s.%N)
{
  set +e
  timeout -s TERM "$TIMEOUT" qemu-system-x86_64 "${ACCELS[@]}" -M microvm,rtc=on -cpu "$CPU" \
    -smp "${KLAB_SMP:-2}" -m "${KLAB_MEM:-1024}" \
    -nodefaults -no-user-config -display none -no-reboot -nic none \
    -chardev stdio,id=con,signal=off -serial chardev:con \
    -pidfile "$RUN/qemu.pid" -name weft-klab \
    -kernel "$KERNEL" -initrd "$RUN/initrd.cpio" -append "$APPEND" "${SHARES[@]}" < /dev/null 2>&1
  { echo $? > "$RUN/qemu.rc"; } 2>/dev/null   # the run dir may be gone if we were killed
} | tr -d '\r' | grep --line-buffered -avE "$FILTER" &
wait $! || true
[[ $VERBOSE == 1 ]] && say "VM wall time $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}') s"

if [[ -s $RUN/ctl/rc ]]; then exit "$(cat "$RUN/ctl/rc")"; fi
qrc=$(cat "$RUN/qemu.rc" 2>/dev/null || echo '?')
[[ $qrc == 124 ]] && { say "VM timed out after ${TIMEOUT}s"; exit 124; }
say "VM stopped (qemu exit $qrc) without reporting the command's exit code"
exit 125
