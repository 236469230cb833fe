#!/bin/sh
# qemu_diff.sh: the NVMe model's completions against stock QEMU 7.2's for
# one assembled seed (developer tool; not run by ctest).
#
# usage: tests/targets/nvme/qemu_diff.sh [-b BUILD] [-t TARGET] [-1] [-k]
#                                         SEED.bin [N]
#   -b BUILD  build directory holding bin/fuzz-TARGET and agent/
#             hvfuzz-agent.elf (default: build/dev)
#   -t TARGET nvme (default) or nvme-init
#   -1        one namespace only, as qemu_crossmode.py's QEMU (default: a
#             second 1 MiB namespace of 4 KiB blocks, as the model has)
#   -k        keep the work directory (QEMU's full pci_nvme_* trace is in
#             qemu.trace there) and print its path
#   N         at most N lines of diff output (default 40)
#
# Prints `diff model qemu` of one line per completion, "cqQ cid=C dw0=D
# status=S": the model's from `fuzz-TARGET --trace` ("nvme cqe" lines), QEMU's
# from its pci_nvme_enqueue_req_completion trace events, after dropping as
# many as SeaBIOS causes on an empty program (counted by a first boot).
# QEMU's events are enqueue order: a completion QEMU parked on a full CQ is
# listed, one still in flight when the agent exits is not (timing).
# Exit status: 0 when identical, 1 when they differ, 2 on usage errors.
set -eu

build=build/dev
target=nvme
ns2=1
keep=0
while getopts b:t:1k opt; do
    case $opt in
    b) build=$OPTARG ;;
    t) target=$OPTARG ;;
    1) ns2=0 ;;
    k) keep=1 ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n '4,13p' "$0" >&2; exit 2; }
seed=$(realpath "$1")
lines=${2:-40}
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=$(cd "$root" && realpath "$build")
agent=$build/agent/hvfuzz-agent.elf
[ -f "$agent" ] && [ -x "$build/bin/fuzz-$target" ] || {
    echo "qemu_diff: no agent or fuzz-$target under $build" >&2
    exit 2
}
work=$(mktemp -d /tmp/nvme-qdiff.XXXXXX)
[ $keep = 1 ] || trap 'rm -rf "$work"' EXIT

# boot PROGRAM: QEMU's pci_nvme_* trace of the agent running PROGRAM
boot() {
    rm -f "$work/ns1.img" "$work/ns2.img"
    truncate -s 16M "$work/ns1.img"
    set -- "$1" -drive "file=$work/ns1.img,if=none,id=n0,format=raw" \
        -device nvme,id=nv0,drive=n0,serial=deadbeef,addr=01.0
    if [ $ns2 = 1 ]; then
        truncate -s 1M "$work/ns2.img"
        set -- "$@" -drive "file=$work/ns2.img,if=none,id=n1,format=raw" \
            -device nvme-ns,bus=nv0,drive=n1,nsid=2,logical_block_size=4096,physical_block_size=4096
    fi
    prog=$1
    shift
    timeout 60 qemu-system-x86_64 -M q35 -accel tcg -m 512 -display none \
        -no-reboot -nodefaults -serial "file:$work/serial.log" \
        -kernel "$agent" "$@" -device isa-debug-exit,iobase=0x501 \
        -fw_cfg "name=opt/hvfuzz/target,string=$target" \
        -fw_cfg "name=opt/hvfuzz/input,file=$prog" \
        -trace 'pci_nvme_*' 2>&1 | sed -E 's/^[0-9]+@[0-9.]+://' || true
}

completions() {
    awk '/pci_nvme_enqueue_req_completion/ {
        print "cq" $5 " cid=" $3 " dw0=" $7 " status=" $11 }'
}

: >"$work/empty.bin"
bios=$(boot "$work/empty.bin" | completions | wc -l)
boot "$seed" >"$work/qemu.trace"
completions <"$work/qemu.trace" | tail -n +$((bios + 1)) >"$work/qemu.txt"
"$build/bin/fuzz-$target" --trace "$seed" 2>&1 |
    awk '/nvme cqe/ { print $3 " " $4 " " $5 " " $6 }' >"$work/model.txt"
[ $keep = 0 ] || echo "qemu_diff: work directory $work" >&2
if diff "$work/model.txt" "$work/qemu.txt" >"$work/diff.txt"; then
    exit 0
fi
head -n "$lines" "$work/diff.txt"
exit 1
