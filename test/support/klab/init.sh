#!/bin/bash
# /init of the weft kernel lab (copied into the initramfs by mkinitramfs.sh).
# Mounts the basics, attaches the two 9p shares, runs /mnt/ctl/cmd.sh in the
# shared work dir, writes its exit code to /mnt/ctl/rc and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb WEFT_KLAB=1

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
# The kernel's on-demand module loading (ip_vs, 8021q, vxlan...) calls this.
echo /sbin/modprobe > /proc/sys/kernel/modprobe
hostname klab
ip link set lo up
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1

# klab.NAME=value from the kernel command line
param() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^klab\.$1=//p" | head -1; }

echo "KLAB_INIT $(cut -d' ' -f1 /proc/uptime)"
modprobe -q -a virtio_mmio virtio_pci 2>/dev/null
modprobe -q -a 9pnet_virtio 9p
CTL=/mnt/ctl
mkdir -p "$CTL"
opts=trans=virtio,version=9p2000.L,msize=262144,cache=none
mount -t 9p -o "$opts" klabctl "$CTL" || echo "klab: cannot mount the control share"
WORK=$(param workdir)
if [ -n "$WORK" ]; then
  # Same absolute path as on the host, so paths in the tests mean the same.
  mkdir -p "$WORK" && mount -t 9p -o "$opts" klabwork "$WORK" || echo "klab: cannot mount $WORK"
fi
for m in $(param modules | tr ',' ' '); do modprobe "$m" || echo "klab: modprobe $m failed"; done

rc=125
if [ -f "$CTL/cmd.sh" ]; then
  cd "${WORK:-/root}" || cd /root
  echo "KLAB_START $(cut -d' ' -f1 /proc/uptime)"
  bash "$CTL/cmd.sh"
  rc=$?
  echo "KLAB_END $(cut -d' ' -f1 /proc/uptime)"
  echo "$rc" > "$CTL/rc.tmp" && mv "$CTL/rc.tmp" "$CTL/rc"
fi
echo "KLAB_RC=$rc"
sync
[ -n "$WORK" ] && umount "$WORK" 2>/dev/null
umount "$CTL" 2>/dev/null
poweroff -f
