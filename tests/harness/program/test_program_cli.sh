#!/bin/sh
# hvfuzz-asm / hvfuzz-disasm command lines: help, exit codes, one-line
# file:line:column errors, stdin/stdout, -o, -t.
# usage: test_program_cli.sh ASM DISASM WORKDIR
ASM=$1 DISASM=$2 W=$3
fail=0
ck() { # ck DESCRIPTION CONDITION...
    d=$1; shift
    if "$@"; then :; else echo "FAIL: $d"; fail=1; fi
}
rm -rf "$W" && mkdir -p "$W" || exit 1

"$ASM" --help >"$W/h1" 2>&1; ck "asm --help exits 0" test $? -eq 0
ck "asm --help shows usage" grep -q "usage: hvfuzz-asm" "$W/h1"
"$DISASM" --help >"$W/h2" 2>&1; ck "disasm --help exits 0" test $? -eq 0
ck "disasm --help shows usage" grep -q "usage: hvfuzz-disasm" "$W/h2"

printf 'mmio_write bar4 0x14 1 0x3\nmmio_read bar4 0x14 1\n' >"$W/ok.hvf"
"$ASM" "$W/ok.hvf" -o "$W/ok.bin"; ck "asm file -o exits 0" test $? -eq 0
ck "asm output size" test "$(wc -c <"$W/ok.bin")" -eq 22
"$ASM" <"$W/ok.hvf" >"$W/ok2.bin"; ck "asm stdin->stdout" cmp -s "$W/ok.bin" "$W/ok2.bin"
"$ASM" -t virtio-blk - -o "$W/ok3.bin" <"$W/ok.hvf"; ck "asm - -o" cmp -s "$W/ok.bin" "$W/ok3.bin"
"$DISASM" "$W/ok.bin" >"$W/ok.txt"; ck "disasm exits 0" test $? -eq 0
ck "disasm text" grep -q "^mmio_write bar4 0x14 1 0x3" "$W/ok.txt"
"$DISASM" <"$W/ok.bin" | "$ASM" | cmp -s - "$W/ok.bin"; ck "pipe round trip" test $? -eq 0

printf 'mmio_read bar4 0 1\n  bogus_op 1\n' >"$W/bad.hvf"
"$ASM" "$W/bad.hvf" -o "$W/bad.bin" 2>"$W/err"; rc=$?
ck "bad text exits 2" test $rc -eq 2
ck "bad text: file:line:col" grep -q "^$W/bad.hvf:2:3: error: unknown op 'bogus_op'$" "$W/err"
ck "bad text: one line" test "$(wc -l <"$W/err")" -eq 1
printf 'mmio_read bar4 0 1\n' | "$ASM" -o /dev/null; ck "stdin ok" test $? -eq 0
printf 'x\n' | "$ASM" -o /dev/null 2>"$W/err2"; ck "stdin error exits 2" test $? -eq 2
ck "stdin error names <stdin>" grep -q "^<stdin>:1:1: error:" "$W/err2"
"$ASM" -t nosuch "$W/ok.hvf" 2>/dev/null; ck "unknown target exits 2" test $? -eq 2
"$DISASM" -t nosuch "$W/ok.bin" 2>/dev/null; ck "disasm unknown target exits 2" test $? -eq 2
"$ASM" "$W/missing.hvf" 2>/dev/null; ck "missing file exits 2" test $? -eq 2
"$DISASM" "$W/missing.bin" 2>/dev/null; ck "disasm missing file exits 2" test $? -eq 2
"$ASM" --bogus 2>/dev/null; ck "unknown option exits 2" test $? -eq 2
"$ASM" -l | grep -q virtio-blk; ck "-l lists targets" test $? -eq 0

# every byte string disassembles and reassembles exactly
head -c 4096 /dev/urandom >"$W/rand.bin" 2>/dev/null || dd if=/dev/urandom of="$W/rand.bin" bs=4096 count=1 2>/dev/null
"$DISASM" "$W/rand.bin" -o "$W/rand.hvf" && "$ASM" "$W/rand.hvf" -o "$W/rand2.bin"
ck "random bytes round trip" cmp -s "$W/rand.bin" "$W/rand2.bin"

exit $fail
