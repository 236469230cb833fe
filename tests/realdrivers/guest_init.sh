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

# ---- TPM (HVT_TEST=tpm): the built-in tpm_crb driver against the model
# served by `hvfuzz serve tpm --swtpm` behind QEMU's tpm-crb ----

hex_of() { od -An -tx1 -v "$1" | tr -d ' \n'; }

# A raw command through /dev/tpm0: write it in one write(), read the whole
# response (one read()) on the same open file; prints the response in hex.
tpm_raw() {
    printf "$1" > /tmp/tpmcmd.bin
    exec 3<>/dev/tpm0 || return 1
    dd if=/tmp/tpmcmd.bin bs=4096 count=1 >&3 2>/dev/null || { exec 3<&-; return 1; }
    dd bs=4096 count=1 of=/tmp/tpmrsp.bin <&3 2>/dev/null
    exec 3<&-
    hex_of /tmp/tpmrsp.bin
}

tpm_probe() {
    i=0
    while { [ ! -c /dev/tpm0 ] || [ ! -c /dev/tpmrm0 ]; } && [ $i -lt 100 ]; do
        # A failed probe says so, or (-ENODEV is not logged) the TPM error.
        dmesg | grep -q "tpm_crb: probe of .* failed" && break
        [ $i -ge 20 ] && dmesg | grep -q "tpm tpm0: A TPM error" && break
        sleep 0.1; i=$((i + 1))
    done
    if [ ! -c /dev/tpm0 ] || [ ! -c /dev/tpmrm0 ]; then
        dmesg | grep -i tpm | grep -v -e "command line" -e HVT_TEST | tail -4 > /tmp/err
        fail tpm_probe "no /dev/tpm0 and /dev/tpmrm0 (tpm_crb did not probe): $(oneline /tmp/err)"
        return 1
    fi
    drv=$(basename "$(readlink /sys/class/tpm/tpm0/device/driver)")
    major=$(cat /sys/class/tpm/tpm0/tpm_version_major 2>/dev/null)
    what="driver $drv, TPM $major, /dev/tpm0 and /dev/tpmrm0 present"
    if [ "$drv" = tpm_crb ] && [ "$major" = 2 ]; then
        pass tpm_probe "$what"
    else
        fail tpm_probe "$what; expected driver tpm_crb, TPM 2"
    fi
}

# /sys/class/tpm/tpm0/pcr-<bank>/<n>: the kernel reads each with PCR_Read.
tpm_pcrs() {
    bad=""
    for bank in sha1:40 sha256:64; do
        name=${bank%:*}; len=${bank#*:}
        for n in 0 1 2 3 4 5 6 7 8 9; do
            v=$(cat /sys/class/tpm/tpm0/pcr-$name/$n 2>/dev/null)
            [ ${#v} -eq $len ] || bad="$bad $name/$n='$v'"
        done
    done
    if [ -z "$bad" ]; then
        pass tpm_pcrs "pcr-sha1/0..9 and pcr-sha256/0..9 read ($(cat /sys/class/tpm/tpm0/pcr-sha256/0 | cut -c1-16)... for sha256/0)"
    else
        fail tpm_pcrs "unreadable or malformed PCRs in /sys/class/tpm/tpm0:$bad"
    fi
}

# SeaBIOS measured itself and the boot into PCR 0 (it extends both banks).
tpm_measured() {
    z64=0000000000000000000000000000000000000000000000000000000000000000
    p0=$(cat /sys/class/tpm/tpm0/pcr-sha256/0 2>/dev/null)
    p1=$(cat /sys/class/tpm/tpm0/pcr-sha1/0 2>/dev/null)
    if [ -n "$p0" ] && [ "$p0" != "$z64" ] && [ -n "$p1" ] &&
       [ "$p1" != "$(echo $z64 | cut -c1-40)" ]; then
        pass tpm_measured "PCR 0 holds SeaBIOS's measurements (sha256 ${p0%${p0#????????????????}}..., sha1 not zero either)"
    else
        fail tpm_measured "PCR 0 is all zeros or unreadable (sha256 '$p0', sha1 '$p1'): no firmware measurement reached the TPM"
    fi
}

# TPM2_GetRandom(16): 80 01 | size 12 | cc 0x17b | bytesRequested 16.
tpm_getrandom() {
    r=$(tpm_raw '\200\001\000\000\000\014\000\000\001\173\000\020')
    r2=$(tpm_raw '\200\001\000\000\000\014\000\000\001\173\000\020')
    hdr=$(echo "$r" | cut -c1-20); cnt=$(echo "$r" | cut -c21-24)
    bytes=$(echo "$r" | cut -c25-)
    if [ "$hdr" = 80010000001c00000000 ] && [ "$cnt" = 0010 ] && [ ${#bytes} -eq 32 ] &&
       [ "$r" != "$r2" ]; then
        pass tpm_getrandom "raw TPM2_GetRandom on /dev/tpm0: rc 0, 16 bytes ($bytes; a second call differs)"
    else
        fail tpm_getrandom "raw TPM2_GetRandom on /dev/tpm0: expected rc 0 and 16 random bytes, got response '$r' (then '$r2')"
    fi
}

# TPM2_PCR_Read(sha256: PCR 0): the digest must be what sysfs shows.
# Response: header (20 hex digits), pcrUpdateCounter (8), pcrSelectionOut
# (20: count 1, sha256, 3 bytes with bit 0), pcrValues (count 1, size 32,
# the digest).
tpm_pcrread() {
    r=$(tpm_raw '\200\001\000\000\000\024\000\000\001\176\000\000\000\001\000\013\003\001\000\000')
    hdr=$(echo "$r" | cut -c1-20)
    sel=$(echo "$r" | cut -c29-48)
    vals=$(echo "$r" | cut -c49- | tr a-f A-F)
    sys=$(cat /sys/class/tpm/tpm0/pcr-sha256/0 2>/dev/null | tr a-f A-F)
    if [ "$hdr" = 80010000003e00000000 ] && [ "$sel" = 00000001000b03010000 ] &&
       [ ${#sys} -eq 64 ] && [ "$vals" = "000000010020$sys" ]; then
        pass tpm_pcrread "raw TPM2_PCR_Read(sha256, PCR 0) on /dev/tpm0: rc 0, digest equals pcr-sha256/0"
    else
        fail tpm_pcrread "raw TPM2_PCR_Read(sha256, PCR 0) on /dev/tpm0: expected rc 0 and pcr-sha256/0 ($sys), got response '$r'"
    fi
}

run_tpm() {
    if tpm_probe; then
        tpm_pcrs
        tpm_measured
        tpm_getrandom
        tpm_pcrread
    fi
}

# ---- virtio-net (HVT_TEST=net): Debian's virtio_net driver against the
# model served by `hvfuzz serve virtio-net` behind QEMU's virtio-net-pci
# (-netdev vhost-user). The guest sends known frames; the host finds them
# byte for byte in the server's pcap. Nothing answers (the model receives
# nothing), so ARP gets no reply and ping uses a static neighbour. ----

NET_MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net"
NET_PEER_MAC=52:55:0a:00:02:02

net_probe() {
    for m in $NET_MODULES; do
        insmod /m/$m.ko 2>/tmp/err || note "insmod $m: $(oneline /tmp/err)"
    done
    i=0; ifc=""
    while [ -z "$ifc" ] && [ $i -lt 100 ]; do
        for d in /sys/class/net/*; do
            [ "$(cat $d/address 2>/dev/null)" = "$HVT_MAC" ] && ifc=${d##*/}
        done
        [ -z "$ifc" ] && sleep 0.1
        i=$((i + 1))
    done
    if [ -z "$ifc" ]; then
        dmesg | grep -i virtio | tail -5 > /tmp/err
        fail net_probe "no interface with MAC $HVT_MAC 10 s after loading virtio_net: $(oneline /tmp/err)"
        return 1
    fi
    drv=$(basename "$(readlink /sys/class/net/$ifc/device/driver)")
    if [ "$drv" = virtio_net ]; then
        pass net_probe "interface $ifc, MAC $HVT_MAC, driver $drv"
    else
        fail net_probe "interface $ifc has MAC $HVT_MAC but driver '$drv', expected virtio_net"
        return 1
    fi
}

net_stat() { cat /sys/class/net/$ifc/statistics/$1; }

# ARP requests (arping: 3 who-has 10.0.2.2), then 3 ICMP echo requests of
# HVT_PING_SIZE bytes filled with HVT_PING_PATTERN to a static neighbour;
# the kernel itself answers what the server delivers (HVT_RX_FRAMES of
# them). IPv6 is off so that nothing else is sent.
net_send() {
    echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null
    echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6 2>/dev/null
    # The address first: the server's --rx-pcap frames (an ARP request and
    # an ICMP echo request for 10.0.2.15) arrive as soon as the link is up
    # and the driver posts its receive buffers. The static neighbour right
    # after: no ARP probe for 10.0.2.2 follows the echo reply.
    ip addr add 10.0.2.15/24 dev "$ifc" 2>/tmp/err ||
        { fail net_tx "ip addr add: $(oneline /tmp/err)"; return; }
    ip link set "$ifc" up 2>/tmp/err || { fail net_tx "ip link set $ifc up: $(oneline /tmp/err)"; return; }
    arp -i "$ifc" -s 10.0.2.2 $NET_PEER_MAC 2>/tmp/err ||
        { fail net_tx "arp -s 10.0.2.2: $(oneline /tmp/err)"; return; }
    i=0
    while [ "$(cat /sys/class/net/$ifc/operstate)" != up ] && [ $i -lt 50 ]; do
        sleep 0.1; i=$((i + 1))
    done
    note "net: $ifc $(cat /sys/class/net/$ifc/operstate), carrier $(cat /sys/class/net/$ifc/carrier 2>/dev/null)"
    p0=$(net_stat tx_packets); b0=$(net_stat tx_bytes)
    arping -c 3 -I "$ifc" -s 10.0.2.15 10.0.2.2 > /tmp/out 2>&1
    note "arping: $(oneline /tmp/out)"
    ping -c 3 -s "$HVT_PING_SIZE" -p "$HVT_PING_PATTERN" -W 1 10.0.2.2 > /tmp/out 2>&1
    note "ping: $(oneline /tmp/out)"
    sleep 1
    p1=$(net_stat tx_packets); b1=$(net_stat tx_bytes)
    echo "HVT-SENT arp 3 who-has 10.0.2.2 tell 10.0.2.15 from $HVT_MAC"
    echo "HVT-SENT icmp 3 echo-request 10.0.2.15 > 10.0.2.2 via $NET_PEER_MAC size $HVT_PING_SIZE pattern $HVT_PING_PATTERN"
    echo "HVT-TX packets=$p1 bytes=$b1 before=$p0/$b0"
    if [ -n "$HVT_RX_FRAMES" ]; then
        rp=$(net_stat rx_packets); rb=$(net_stat rx_bytes)
        echo "HVT-RX packets=$rp bytes=$rb"
        if [ "$rp" = "$HVT_RX_FRAMES" ]; then
            pass net_rx "$rp frames, $rb bytes received (the server's --rx-pcap frames)"
        else
            fail net_rx "the driver counted $rp frames received ($rb bytes), expected $HVT_RX_FRAMES"
        fi
    fi
    if [ $((p1 - p0)) -ge 6 ]; then
        pass net_tx "$((p1 - p0)) frames, $((b1 - b0)) bytes sent while arping and ping ran (3 ARP requests, 3 ICMP echo requests, and the answers to what was received); $p1 frames, $b1 bytes since the link came up"
    else
        fail net_tx "the driver counted $((p1 - p0)) frames sent, expected at least 6 (3 ARP, 3 ICMP)"
    fi
}

if [ "$HVT_TEST" = tpm ]; then
    run_tpm
elif [ "$HVT_TEST" = net ]; then
    net_probe && net_send
else
    load_modules
    if check_probe; then
        check_dio
        check_discard
        fs_write && fs_read
        check_rebind
        note "fsck: busybox has no e2fsck; the host runs e2fsck -fn on the image"
    fi
fi
sync
echo "HVT-DONE"
poweroff -f
