#!/bin/sh
# The guest agent under stock QEMU: PVH boot from -kernel, target and input
# through -fw_cfg files, the per-op trace on COM1, exit through
# isa-debug-exit (status (0 << 1) | 1 = 1 on success).
#
# usage: test_agent_qemu.sh seeds AGENT.elf SEEDS_DIR WORK_DIR
#   virtio-blk seeds 02 and 03: the device comes up and read requests
#   complete. (Every seed of every target against QEMU: qemu_crossmode.py.)
# Exit 77 (skip) when qemu-system-x86_64 is not installed.
set -u
mode=$1 agent=$2 seeds=$3 work=$4
QEMU=${HVFUZZ_QEMU:-qemu-system-x86_64}
fail() { echo "test_agent_qemu: FAIL: $*" >&2; exit 1; }

if ! command -v "$QEMU" >/dev/null 2>&1; then
    echo "SKIP: $QEMU not installed (scripts/bootstrap installs qemu-system-x86)"
    exit 77
fi
[ -f "$agent" ] || fail "no agent at $agent"
rm -rf "$work" && mkdir -p "$work" || fail "cannot create $work"

# run_agent TARGET SEED.bin OUT: boots the agent once; OUT gets the serial
# log, OUT.err QEMU's stderr.
run_agent() {
    rm -f "$work/disk.img"
    truncate -s 16M "$work/disk.img" || fail "cannot create the disk image"
    timeout 60 "$QEMU" -M q35 -accel tcg -m 512 -display none -no-reboot \
        -nodefaults -serial stdio -kernel "$agent" \
        -device virtio-blk-pci,drive=d0,addr=01.0 \
        -drive "file=$work/disk.img,if=none,id=d0,format=raw" \
        -device isa-debug-exit,iobase=0x501 \
        -fw_cfg "name=opt/hvfuzz/target,string=$1" \
        -fw_cfg "name=opt/hvfuzz/input,file=$2" \
        </dev/null >"$3" 2>"$3.err"
    rc=$?
    [ $rc -eq 1 ] || fail "QEMU exited $rc (1 = agent done, 0 = triple fault," \
        "3 = agent fault, 124 = timeout) for $2: $(cat "$3" "$3.err")"
    grep -q '^hvfuzz-agent: done$' "$3" || fail "no 'done' line for $2"
}

# ops SERIAL_OR_TRACE: the op lines without read results
ops() {
    grep -aE '^(mmio|pio|cfg|mem|clock|rx)_' "$1" | sed 's/ -> .*//'
}

expect() { # FILE LINE
    grep -qxF "$2" "$1" || fail "expected line '$2' in $1: $(cat "$1")"
}

case "$mode" in
seeds)
    s="$seeds/virtio-blk/02-virtq-setup.bin"
    [ -f "$s" ] || fail "no seed $s (build the hvfuzz_seeds target)"
    run_agent virtio-blk "$s" "$work/02.log"
    expect "$work/02.log" "hvfuzz-agent: target virtio-blk, host qemu"
    # virtq_setup ends with DRIVER_OK; the seed reads device_status back
    expect "$work/02.log" "mmio_write 0xfebf8014 1 0xf"
    expect "$work/02.log" "mmio_read 0xfebf8014 1 -> 0xf"
    # capacity of the 16 MiB disk in 512-byte sectors
    expect "$work/02.log" "mmio_read 0xfebfa000 8 -> 0x8000"

    s="$seeds/virtio-blk/03-read-sector.bin"
    run_agent virtio-blk "$s" "$work/03.log"
    # three read requests kicked, three used by QEMU's virtio-blk
    [ "$(grep -c '^mmio_write 0xfebfb000 2 0x0$' "$work/03.log")" -eq 3 ] ||
        fail "expected 3 notifies in $work/03.log"
    expect "$work/03.log" "hvfuzz-agent: vq0 avail 3 used 3"
    # every trace line has the in-process host's format
    bad=$(sed -n '/^# input 1: [0-9]* bytes$/,/^hvfuzz-agent: /p' "$work/03.log" |
        grep -vE '^(# input 1: [0-9]+ bytes|hvfuzz-agent: .*|mmio_read 0x[0-9a-f]+ [1248] -> 0x[0-9a-f]+|mmio_write 0x[0-9a-f]+ [1248] 0x[0-9a-f]+|cfg_read [0-9a-f]{2}\.[0-7] 0x[0-9a-f]{2} [124] -> 0x[0-9a-f]+|cfg_write [0-9a-f]{2}\.[0-7] 0x[0-9a-f]{2} [124] 0x[0-9a-f]+|mem_write 0x[0-9a-f]+ [0-9]+|mem_fill 0x[0-9a-f]+ [0-9]+ 0x[0-9a-f]{2})$')
    [ -z "$bad" ] || fail "unexpected trace lines: $bad"
    echo "test_agent_qemu: ok"
    ;;
*)
    fail "unknown mode $mode"
    ;;
esac
