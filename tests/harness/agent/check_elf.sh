#!/bin/sh
# Build checks of the guest agent ELF: ELF64 x86-64 executable loaded at
# HV_GPA_AGENT, e_entry = the 64-bit `_start` (hvfuzz-vmm enters there), a
# PT_NOTE holding the PVH note (name "Xen", type 18 =
# XEN_ELFNOTE_PHYS32_ENTRY) whose value is `pvh_start32`, and no undefined
# symbols.
# usage: check_elf.sh AGENT.elf READELF NM
set -u
elf=$1 readelf=$2 nm=$3
fail() { echo "check_elf: FAIL: $*" >&2; exit 1; }

[ -f "$elf" ] || fail "$elf does not exist"
hdr=$("$readelf" -h "$elf") || fail "readelf -h failed"
echo "$hdr" | grep -Eq 'Class:[[:space:]]+ELF64' || fail "not ELF64"
echo "$hdr" | grep -Eq 'Machine:[[:space:]]+Advanced Micro Devices X86-64' ||
    fail "not x86-64"
echo "$hdr" | grep -Eq 'Type:[[:space:]]+EXEC' || fail "not an executable"

addr() { "$nm" "$elf" | awk -v s="$1" '$3 == s { print $1 }'; }
hex() { printf '%d' "0x$1"; }
start=$(addr _start)
pvh=$(addr pvh_start32)
[ -n "$start" ] || fail "no _start symbol"
[ -n "$pvh" ] || fail "no pvh_start32 symbol"
entry=$(echo "$hdr" | awk '/Entry point address:/ { print $4 }')
[ "$(hex "${entry#0x}")" = "$(hex "$start")" ] ||
    fail "e_entry $entry is not _start 0x$start"

phdrs=$("$readelf" -lW "$elf")
echo "$phdrs" | grep -Eq '^[[:space:]]*LOAD[[:space:]]+0x[0-9a-f]+[[:space:]]+0x0*100000[[:space:]]' ||
    fail "first PT_LOAD is not at 0x100000 (HV_GPA_AGENT)"
echo "$phdrs" | grep -Eq '^[[:space:]]*NOTE[[:space:]]' || fail "no PT_NOTE segment"

notes=$("$readelf" -nW "$elf")
echo "$notes" | grep -Eq '^[[:space:]]*Xen[[:space:]]+0x0*8[[:space:]].*(0x0*12|PHYS32)' ||
    fail "no Xen PHYS32_ENTRY note: $notes"
# description data: 8 little-endian bytes = pvh_start32
desc=$(echo "$notes" | awk '/description data:/ { for (i = NF; i >= 3; i--) printf "%s", $i; exit }')
[ -n "$desc" ] || fail "cannot read the note's description data"
[ "$(hex "$desc")" = "$(hex "$pvh")" ] ||
    fail "PVH note points at 0x$desc, not pvh_start32 0x$pvh"

undef=$("$nm" -u "$elf")
[ -z "$undef" ] || fail "undefined symbols: $undef"
echo "check_elf: ok (entry $entry, PVH entry 0x$pvh)"
