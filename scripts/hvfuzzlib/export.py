"""`hvfuzz export FILE --qtest`: a program as a QEMU qtest script.

The program is replayed once by the target's replay binary with --trace and
HVFUZZ_TRACE_DATA=1: the per-op trace then carries absolute addresses, the
bytes of every mem_write (hex) and, first, the boot's PCI config accesses
(BARs to the layout's addresses, command = I/O|memory|bus master: under
qtest no firmware assigns them). Each trace line becomes one qtest command:

  mmio_read/write GPA SIZE [VAL]   readb/w/l/q GPA  |  writeb/w/l/q GPA VAL
  pio_read/write PORT SIZE [VAL]   inb/w/l PORT     |  outb/w/l PORT VAL
  cfg_read/write BB.F OFF SIZE     outl 0xcf8 0x80000000|bdf<<8|(off&~3), then
                                   inb/w/l or outb/w/l 0xcfc+(off&3) [VAL]
  mem_write GPA LEN HEX            write GPA LEN 0xHEX
  mem_fill GPA LEN BYTE            write GPA LEN 0xBYTE...BYTE
  clock_advance NS                 clock_step NS
Device-internal events (DMA, IRQ, request lines) and rx_inject (no NIC) are
skipped. The script ends with `outb 0xcf9 0x6` (a reset request, which
-no-reboot turns into a clean exit: QEMU does not quit on qtest EOF).
QEMU answers each command with "OK" or "OK VALUE"; the header lines (QEMU's
command line, as comments) are answered "FAIL Unknown command '#'". Without
QEMU's qtest accelerator (Debian's 7.2 build) clock_step answers FAIL too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import build, findings, qemu, repro
from .common import UserError, bin_path, display_path, replay_preset, sanitizer_env, write_atomic

MMIO_SUFFIX = {1: "b", 2: "w", 4: "l", 8: "q"}
PIO_SUFFIX = {1: "b", 2: "w", 4: "l"}


def init_variant(target: str, tmp: Path) -> tuple[str, bytes]:
    """(base target, init program bytes). An initialized variant <base>-init
    replays from a snapshot taken after its init program, so its trace starts
    after it: export runs the base target on init + program instead (the
    same ops: the variant continues from the shadow the init left). The init
    program comes from the layout itself (hvfuzz-disasm -i)."""
    if not target.endswith("-init"):
        return target, b""
    for preset in (replay_preset(), "replay", "dev"):
        disasm = bin_path(preset, "hvfuzz-disasm")
        if disasm.is_file():
            text = tmp / "init.hvf"
            subprocess.run([str(disasm), "-t", target, "-i", "-o", str(text)], check=True)
            base = target[:-len("-init")]
            text.write_text(text.read_text().replace(f".target {target}", f".target {base}"))
            return base, repro.assemble(base, text, tmp).read_bytes()
    raise UserError(f"export of {target} needs hvfuzz-disasm (build the dev preset)")


@dataclass
class Script:
    target: str
    lines: list[str] = field(default_factory=list)   # qtest commands, no comments
    expect: dict[int, int] = field(default_factory=dict)  # line index -> value read in-process
    labels: dict[int, str] = field(default_factory=dict)  # line index -> trace line it came from
    header: list[str] = field(default_factory=list)
    finding: str = ""  # the replay did not run clean (the trace stops there)

    def text(self) -> str:
        return "".join(f"# {h}\n" if h else "#\n" for h in self.header) + \
            "".join(f"{l}\n" for l in self.lines)


def qemu_command(target: str, disk: Path | str) -> list[str]:
    """QEMU under qtest with the target's device at its layout address.
    -S: the vCPU never starts. Where QEMU lacks its qtest accelerator (Debian's
    7.2 ships no accel-qtest module) -qtest falls back to TCG and SeaBIOS would
    otherwise run concurrently with the script, reprogramming the BARs and
    driving the virtio-blk device itself."""
    return [qemu.QEMU, "-M", "q35", "-qtest", "stdio", "-qtest-log", "/dev/null", "-S",
            "-display", "none", "-nodefaults", "-no-reboot", "-m", "512",
            *qemu.device_args(target, Path(disk))]


def check_target(target: str) -> None:
    if target not in qemu.DEVICES:
        raise UserError(f"target '{target}' has no QEMU device (export --qtest: "
                        f"{', '.join(sorted(qemu.DEVICES))})")


def trace(target: str, binfile: Path, timeout: float = 60) -> tuple[list[str], str]:
    """The replay's per-op trace with data (HVFUZZ_TRACE_DATA=1); and a short
    note when the replay did not end cleanly (a finding: the trace stops there)."""
    with tempfile.TemporaryDirectory(prefix="hvfuzz-export-") as tmp:
        base, prefix = init_variant(target, Path(tmp))
        binary = build.require_binary(findings.replay_binary(base), replay_preset())
        prog = binfile
        if prefix:
            prog = Path(tmp) / "program.bin"
            prog.write_bytes(prefix + binfile.read_bytes())
        env = sanitizer_env()
        env["HVFUZZ_TRACE_DATA"] = "1"
        try:
            proc = subprocess.run([str(binary), "--trace", str(prog)], env=env,
                                  capture_output=True, text=True, errors="replace",
                                  timeout=timeout)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            return out.splitlines(), f"the replay timed out after {timeout:.0f} s"
    note = ""
    if proc.returncode != 0:
        summary = [l for l in proc.stderr.splitlines() if "SUMMARY" in l or "ERROR" in l]
        note = (summary[0].strip() if summary else f"replay exit status {proc.returncode}")
    return proc.stdout.splitlines(), note


HEX = r"(0x[0-9a-fA-F]+)"
RE_MMIO_R = re.compile(rf"^mmio_read {HEX} (\d+) -> {HEX}$")
RE_MMIO_W = re.compile(rf"^mmio_write {HEX} (\d+) {HEX}$")
RE_PIO_R = re.compile(rf"^pio_read {HEX} (\d+) -> {HEX}$")
RE_PIO_W = re.compile(rf"^pio_write {HEX} (\d+) {HEX}$")
RE_CFG_R = re.compile(rf"^cfg_read ([0-9a-f]{{2}})\.([0-7]) {HEX} (\d+) -> {HEX}$")
RE_CFG_W = re.compile(rf"^cfg_write ([0-9a-f]{{2}})\.([0-7]) {HEX} (\d+) {HEX}$")
RE_MEM_W = re.compile(rf"^mem_write {HEX} (\d+)(?: ([0-9a-f]*))?$")
RE_MEM_F = re.compile(rf"^mem_fill {HEX} (\d+) {HEX}$")
RE_CLOCK = re.compile(r"^clock_advance (\d+)$")


def to_qtest(target: str, lines: list[str]) -> Script:
    """Translate trace lines into qtest commands (see the module docstring)."""
    s = Script(target)

    boot = False  # the boot's reads show the programmed BARs: nothing to compare

    def emit(cmd: str, src: str, value: int | None = None) -> None:
        if value is not None and not boot:
            s.expect[len(s.lines)] = value
        s.labels[len(s.lines)] = src
        s.lines.append(cmd)

    for raw in lines:
        if not raw or raw[0].isspace() or raw.startswith("#"):
            if raw.startswith("#"):  # section markers: "# boot", "# input 1: ..."
                boot = raw.strip() == "# boot"
            continue  # and device-internal events
        line = raw.strip()
        if m := RE_MMIO_R.match(line):
            emit(f"read{MMIO_SUFFIX[int(m[2])]} {m[1]}", line, int(m[3], 16))
        elif m := RE_MMIO_W.match(line):
            emit(f"write{MMIO_SUFFIX[int(m[2])]} {m[1]} {m[3]}", line)
        elif m := RE_PIO_R.match(line):
            emit(f"in{PIO_SUFFIX[int(m[2])]} {m[1]}", line, int(m[3], 16))
        elif m := RE_PIO_W.match(line):
            emit(f"out{PIO_SUFFIX[int(m[2])]} {m[1]} {m[3]}", line)
        elif (m := RE_CFG_R.match(line)) or (m2 := RE_CFG_W.match(line)):
            m = m or m2
            bdf = int(m[1], 16) << 3 | int(m[2])
            off, size = int(m[3], 16), int(m[4])
            emit(f"outl 0xcf8 {0x80000000 | bdf << 8 | (off & 0xfc):#x}", line)
            port = 0xcfc + (off & 3)
            if line.startswith("cfg_read"):
                emit(f"in{PIO_SUFFIX[size]} {port:#x}", line, int(m[5], 16))
            else:
                emit(f"out{PIO_SUFFIX[size]} {port:#x} {m[5]}", line)
        elif m := RE_MEM_W.match(line):
            if m[3] is None:
                raise UserError("the replay binary does not print written bytes "
                                "(HVFUZZ_TRACE_DATA): rebuild the replay preset")
            if int(m[2]):
                emit(f"write {m[1]} {int(m[2])} 0x{m[3]}", line)
        elif m := RE_MEM_F.match(line):
            if int(m[2]):
                emit(f"write {m[1]} {int(m[2])} 0x" + f"{int(m[3], 16):02x}" * int(m[2]), line)
        elif m := RE_CLOCK.match(line):
            emit(f"clock_step {m[1]}", line)
    emit("outb 0xcf9 0x6", "end: reset request, QEMU exits (-no-reboot)")
    return s


def make_script(target: str, binfile: Path, disk: str, source: str) -> Script:
    lines, note = trace(target, binfile)
    s = to_qtest(target, lines)
    s.finding = note
    cmd = " ".join(qemu_command(target, disk))
    s.header = [f"hvfuzz export --qtest: {source} (target {target})",
                f"QEMU: {cmd} < THIS_FILE",
                "scratch disks: " + "; ".join(f"truncate -s {size >> 20}M {p}"
                                              for p, size in qemu.disk_sizes(target, Path(disk))),
                "QEMU answers each command with OK (reads: OK VALUE) and these",
                "comment lines with \"FAIL Unknown command '#'\" (harmless).",
                "The first commands program the BARs and the command register",
                "(the layout's boot); the last one makes QEMU exit."]
    if note:
        s.header.append(f"the in-process replay stopped on a finding: {note}")
    return s


def run_qemu(script: Script, disk: Path, timeout: float = 30) -> tuple[int, list[str], str]:
    """Feed the script to QEMU; (exit status or 124 on timeout, response lines, stderr)."""
    cmd = qemu_command(script.target, disk)
    try:
        proc = subprocess.run(cmd, input=script.text(), capture_output=True, text=True,
                              errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return 124, out.splitlines(), ""
    return proc.returncode, proc.stdout.splitlines(), proc.stderr


def compare(script: Script, responses: list[str]) -> tuple[list[str], list[str]]:
    """(errors, read mismatches): responses for the commands (header answers
    dropped), each command answered OK, reads compared with the in-process trace."""
    body = responses[len(script.header):]
    errors, diffs = [], []
    if len(body) != len(script.lines):
        errors.append(f"{len(script.lines)} commands but {len(body)} answers")
    for i, (cmd, ans) in enumerate(zip(script.lines, body)):
        if not ans.startswith("OK"):
            errors.append(f"line {i + 1 + len(script.header)}: {cmd}: {ans}")
        elif i in script.expect:
            parts = ans.split()
            got = int(parts[1], 16) if len(parts) > 1 else None
            if got != script.expect[i]:
                diffs.append(f"{cmd}: QEMU {got:#x} in-process {script.expect[i]:#x}"
                             f"  ({script.labels[i]})" if got is not None else f"{cmd}: {ans}")
    return errors, diffs


def run(file: str, target: str | None, out: Path | None, run_it: bool) -> int:
    path = Path(file)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    target = repro.target_for(path, target)
    check_target(target)
    build.bootstrap()
    build.ensure_built(replay_preset())
    with tempfile.TemporaryDirectory(prefix="hvfuzz-export-") as tmp:
        binfile = repro.assemble(target, path, Path(tmp)) if path.suffix == ".hvf" else path
        disk = (out.with_name(out.name + ".disk.img") if out
                else Path(tmp) / "disk.img" if run_it else Path("hvfuzz-disk.img"))
        script = make_script(target, binfile, str(disk), display_path(path))
        if out:
            write_atomic(out, script.text())
            qemu.make_disks(target, disk)
        elif not run_it:
            sys.stdout.write(script.text())
        cmd = " ".join(qemu_command(target, disk))
        where = display_path(out) if out else "SCRIPT"
        print(f"{'# ' if not out and not run_it else ''}QEMU: {cmd} < {where}",
              file=sys.stderr if not out and not run_it else sys.stdout)
        if script.finding:
            print(f"hvfuzz: note: the in-process replay stopped on a finding: {script.finding}",
                  file=sys.stderr)
        if not run_it:
            return 0
        if not out:
            qemu.make_disks(target, disk)
        if shutil.which(qemu.QEMU) is None:
            raise UserError(f"{qemu.QEMU} not found (scripts/bootstrap installs qemu-system-x86)")
        rc, responses, err = run_qemu(script, disk)
    errors, diffs = compare(script, responses)
    print(f"QEMU exit status {rc}; {len(script.lines)} commands, {len(errors)} not OK, "
          f"{len(script.expect) - len(diffs)}/{len(script.expect)} reads as in-process")
    for line in errors[:20] + diffs[:20]:
        print(f"  {line}")
    if err.strip() and rc != 0:
        print(err.rstrip("\n"))
    return 0 if rc == 0 and not errors else 1
