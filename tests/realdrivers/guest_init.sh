#!/bin/busybox sh
# /init of the real-driver test's initramfs: Debian's own kernel modules and
# busybox drive the served virtio-blk model through the virtio_blk driver.
# Every check prints one line "HVT-RESULT PASS|FAIL <name>: <what>" on the
# serial console; the host test parses them. Parameters come from the kernel
# command line (unknown NAME=VALUE words become init's environment).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

pass() { echo "HVT-RESULT PASS $1: $2"; }
fail() { echo "HVT-RESULT FAIL $1: $2"; }
note() { echo "HVT-NOTE $*"; }
oneline() { tr '\n' ' ' < "$1" | cut -c1-300; }

# Offsets in 4 KiB blocks: the file system takes the first 32 MiB, the
# direct-I/O pattern goes to 40 MiB (the host reads it there afterwards),
# the discard test uses 48 MiB.
DIO_BLK=10240
DISCARD_BLK=12288
PAT_BLKS=$((HVT_PATTERN_BYTES / 4096))

load_modules() {
    for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev \
             virtio_pci virtio_blk crc32c_generic crc16 mbcache jbd2 ext4; do
        insmod /m/$m.ko 2>/tmp/err || note "insmod $m: $(oneline /tmp/err)"
    done
}

check_probe() {
    i=0
    while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    if [ ! -b /dev/vda ]; then
        dmesg | grep -i virtio | tail -5 > /tmp/err
        fail probe "no /dev/vda 10 s after loading virtio_blk: $(oneline /tmp/err)"
        return 1
    fi
    drv=$(basename "$(readlink /sys/block/vda/device/driver)")
    size=$(cat /sys/block/vda/size)
    serial=$(cat /sys/block/vda/serial 2>/dev/null)
    cache=$(cat /sys/block/vda/cache_type 2>/dev/null)
    what="driver $drv, $size sectors, serial '$serial', cache '$cache'"
    if [ "$drv" = virtio_blk ] && [ "$size" = "$HVT_SECTORS" ] &&
       [ "$serial" = "$HVT_SERIAL" ]; then
        pass probe "$what"
    else
        fail probe "$what; expected virtio_blk, $HVT_SECTORS sectors, serial '$HVT_SERIAL'"
    fi
}

check_dio() {
    if ! dd if=/pattern.bin of=/dev/vda bs=4096 seek=$DIO_BLK oflag=direct 2>/tmp/err; then
        fail dio "O_DIRECT write failed: $(oneline /tmp/err)"; return
    fi
    if ! dd if=/dev/vda of=/tmp/back.bin bs=4096 skip=$DIO_BLK count=$PAT_BLKS \
            iflag=direct 2>/tmp/err; then
        fail dio "O_DIRECT read failed: $(oneline /tmp/err)"; return
    fi
    if cmp /pattern.bin /tmp/back.bin > /tmp/err 2>&1; then
        pass dio "$HVT_PATTERN_BYTES bytes written and read back with O_DIRECT at block $DIO_BLK"
    else
        fail dio "the data read back with O_DIRECT differs from what was written ($(oneline /tmp/err))"
    fi
}

check_discard() {
    dd if=/pattern.bin of=/dev/vda bs=4096 seek=$DISCARD_BLK oflag=direct 2>/dev/null
    if ! blkdiscard -o $((DISCARD_BLK * 4096)) -l $HVT_PATTERN_BYTES /dev/vda 2>/tmp/err; then
        fail discard "blkdiscard failed: $(oneline /tmp/err)"; return
    fi
    dd if=/dev/vda of=/tmp/d.bin bs=4096 skip=$DISCARD_BLK count=$PAT_BLKS iflag=direct 2>/dev/null
    head -c $HVT_PATTERN_BYTES /dev/zero > /tmp/z.bin
    if cmp /tmp/z.bin /tmp/d.bin > /tmp/err 2>&1; then
        pass discard "a written range reads back as zeroes after blkdiscard"
    else
        fail discard "a discarded range does not read back as zeroes ($(oneline /tmp/err))"
    fi
}

fs_write() {
    mke2fs -L hvfuzz /dev/vda 32768 > /tmp/err 2>&1 ||
        { fail fs "mke2fs failed: $(oneline /tmp/err)"; return 1; }
    mount -t ext2 /dev/vda /mnt 2>/tmp/err ||
        { fail fs "mount after mke2fs failed: $(oneline /tmp/err)"; return 1; }
    cp /pattern.bin /mnt/pattern.bin
    echo "$HVT_TEXT" > /mnt/hello.txt
    mkdir /mnt/dir
    for i in $(seq 1 50); do echo "file $i" > /mnt/dir/f$i; done
    sync
    umount /mnt || { fail fs "umount failed"; return 1; }
}

fs_read() {
    echo 3 > /proc/sys/vm/drop_caches
    mount -t ext2 -o ro /dev/vda /mnt 2>/tmp/err ||
        { fail fs "remount failed: $(oneline /tmp/err)"; return 1; }
    if ! cmp /pattern.bin /mnt/pattern.bin > /tmp/err 2>&1; then
        fail fs "pattern.bin differs after umount and remount ($(oneline /tmp/err))"
    elif [ "$(cat /mnt/hello.txt)" != "$HVT_TEXT" ] ||
         [ "$(cat /mnt/dir/f50)" != "file 50" ]; then
        fail fs "hello.txt or dir/f50 differs after umount and remount"
    else
        pass fs "mke2fs, mount, 52 files written, umount, remount: contents equal"
    fi
    umount /mnt
}

# Driver unbind and rebind: the device is reset, QEMU stops the rings
# (GET_VRING_BASE) and starts them again on the next probe.
check_rebind() {
    rmmod virtio_blk 2>/tmp/err || { fail rebind "rmmod virtio_blk: $(oneline /tmp/err)"; return; }
    [ -b /dev/vda ] && { fail rebind "/dev/vda still there after rmmod"; return; }
    insmod /m/virtio_blk.ko 2>/tmp/err || { fail rebind "insmod: $(oneline /tmp/err)"; return; }
    i=0
    while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    dd if=/dev/vda of=/tmp/back2.bin bs=4096 skip=$DIO_BLK count=$PAT_BLKS iflag=direct 2>/tmp/err ||
        { fail rebind "O_DIRECT read after the rebind failed: $(oneline /tmp/err)"; return; }
    if cmp /pattern.bin /tmp/back2.bin > /tmp/err 2>&1; then
        pass rebind "virtio_blk removed and probed again (device reset, rings restarted): the pattern reads back"
    else
        fail rebind "the pattern differs after the rebind ($(oneline /tmp/err))"
    fi
}

load_modules
if check_probe; then
    check_dio
    check_discard
    fs_write && fs_read
    check_rebind
    note "fsck: busybox has no e2fsck; the host runs e2fsck -fn on the image"
fi
sync
echo "HVT-DONE"
poweroff -f
