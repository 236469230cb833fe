"""Command line of hvfuzz: parse, dispatch, and turn user errors into one line."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from . import build, import_trace, record
from .common import (DEFAULT_TARGET, ENGINES, MODES, UserError, check_mode, check_target,
                     read_native_targets, read_targets, repo_root)

TEST_PRESETS = ("dev", "libfuzzer", "afl", "coverage")  # coverage: test_coverage.py


class Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line: `hvfuzz: error: ...`, exit 2."""

    def error(self, message: str):
        raise UserError(f"{message} (see '{self.prog} --help')")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: '{text}'")
    return value


def make_parser() -> Parser:
    p = Parser(prog="hvfuzz", description="hvfuzz: fuzz hypervisor device models.",
               epilog="Run 'hvfuzz COMMAND --help' for a command's options.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    add_test(sub)
    add_fuzz(sub)
    add_repro(sub)
    add_list(sub)
    add_coverage(sub)
    add_export(sub)
    add_triage(sub)
    add_minimize(sub)
    add_ci(sub)
    add_serve(sub)
    import_trace.add_parser(sub)
    record.add_parser(sub)
    return p


def add_test(sub) -> None:
    t = sub.add_parser("test", help="build presets dev, libfuzzer, afl, coverage and run ctest",
                       description="Bootstrap the toolchain, configure and build what is stale "
                       f"in presets {', '.join(TEST_PRESETS)}, then run 'ctest --preset dev'.")
    t.add_argument("-R", "--tests-regex", metavar="REGEX", help="only tests matching REGEX")
    t.add_argument("-v", "--verbose", action="store_true", help="show build output")


def add_fuzz(sub) -> None:
    f = sub.add_parser("fuzz", help="run a fuzzing campaign",
                       description="Fuzz a target (in-process, or full-system with --mode vm). Seeds: "
                       "build/<preset>/seeds/<target>/ "
                       "and corpora/<target>/; the campaign corpus lives in "
                       "<workdir>/<target>/<engine>/ and a stopped campaign resumes from it. "
                       "Findings are replayed, deduplicated by stack hash and stored in "
                       "<crashes-dir>/<target>/<hash>/. Ctrl-C stops cleanly with a summary.")
    f.add_argument("target", nargs="?", default=DEFAULT_TARGET,
                   help=f"target from 'hvfuzz list' (default {DEFAULT_TARGET})")
    f.add_argument("--engine", default="libfuzzer", choices=ENGINES, help="default libfuzzer")
    f.add_argument("--mode", default="inproc", choices=MODES,
                   help="inproc (default): the device driven directly; vm: full-system, the "
                   "guest agent in a KVM VM drives it (vm-<target>; workdir "
                   "<workdir>/<target>/<engine>-vm/)")
    f.add_argument("--time", type=positive_int, default=60, metavar="SECONDS",
                   help="campaign length (default 60)")
    f.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                   help="parallel fuzzing processes (default 1)")
    f.add_argument("--workdir", type=Path, metavar="DIR", help="campaign directory (default out/)")
    f.add_argument("--json", type=Path, metavar="FILE", help="write the summary as JSON to FILE")
    f.add_argument("--crashes-dir", type=Path, metavar="DIR",
                   help="where findings are stored (default crashes/)")
    f.add_argument("--timeout", type=positive_int, default=5, metavar="SECONDS",
                   help="per-input timeout (default 5)")
    f.add_argument("--seeds", type=Path, action="append", default=[], metavar="DIR",
                   help="more seed inputs (binary, or .hvf text assembled first); repeatable")
    f.add_argument("--no-dict", action="store_true",
                   help="fuzz without the target's dictionary (seeds/<target>.dict)")
    f.add_argument("-v", "--verbose", action="store_true", help="show build output")


def add_repro(sub) -> None:
    r = sub.add_parser("repro", help="reproduce findings",
                       description="Replay inputs with the standalone replay binary (preset "
                       "replay): print each program's text form, the report, and "
                       "'kind=... hash=...'. Exit 0 when all ran clean, 1 when a finding "
                       "reproduced, 2 on a usage error. A .hvf file is assembled first.")
    r.add_argument("files", nargs="+", metavar="FILE", help="input files (.bin or .hvf)")
    r.add_argument("--target", help="target (default: from meta.json beside the file, "
                   f"else from a crashes/<target>/ path, else {DEFAULT_TARGET})")
    r.add_argument("--timeout", type=positive_int, default=25, metavar="SECONDS",
                   help="report a hang after this long (default 25)")
    r.add_argument("--trace", action="store_true", help="pass --trace to the replay binary")
    r.add_argument("--pcap", type=Path, metavar="FILE",
                   help="write the frames a NIC target sends to this pcap file (the last "
                   "input's; open it with wireshark/tshark)")
    r.add_argument("--mode", choices=MODES + ("qemu",),
                   help="inproc (fuzz-<target>), vm (vm-<target>, in a KVM VM) or qemu (the "
                   "guest agent under stock qemu-system-x86_64 against QEMU's own device, "
                   "printing the per-op trace); default: from meta.json beside the file, "
                   "else inproc")
    r.add_argument("--accel", choices=("tcg", "kvm"), default="tcg",
                   help="QEMU accelerator for --mode qemu (default tcg; kvm on hosts with "
                   "hardware virtualization)")
    r.add_argument("--gdb", action="store_true",
                   help="run the replay binary under gdb, stopped at the finding (sanitizers "
                   "abort; breaks on __sanitizer::Die, hv_finding, abort) and print the "
                   "backtrace; interactive on a terminal, else batch mode")


def add_list(sub) -> None:
    sub.add_parser("list", help="list the fuzz targets",
                   description="List the targets: those of harness/inproc/targets.list (programs; in-process and VM mode), then those of harness/inproc/native.list (a device's native input; in-process only).")


def cmd_list(args) -> int:
    for name, desc in read_targets():
        print(f"{name}\t{desc}")
    for name, desc in read_native_targets():
        print(f"{name}\t{desc} [native input, in-process only]")
    return 0


def cmd_test(args) -> int:
    build.bootstrap()
    for preset in TEST_PRESETS:
        build.ensure_built(preset, args.verbose)
    cmd = ["ctest", "--preset", "dev"]
    if args.tests_regex:
        cmd += ["-R", args.tests_regex]
    return subprocess.run(cmd, cwd=repo_root()).returncode


def cmd_fuzz(args) -> int:
    from . import campaign
    check_target(args.target)
    check_mode(args.target, args.mode)
    for d in args.seeds:
        if not d.is_dir():
            raise UserError(f"no such seed directory: {d}")
    root = repo_root()
    opts = campaign.Options(
        target=args.target, engine=args.engine, time=args.time, jobs=args.jobs,
        workdir=(args.workdir or root / "out").absolute(), json=args.json,
        crashes_dir=(args.crashes_dir or root / "crashes").absolute(),
        timeout=args.timeout, verbose=args.verbose, extra_seeds=args.seeds, mode=args.mode,
        use_dict=not args.no_dict)
    return campaign.run(opts)


def cmd_repro(args) -> int:
    from . import repro
    return repro.run(args.files, args.target, args.timeout, args.trace, args.mode, args.accel,
                     getattr(args, "gdb", False), args.pcap)


# ---- coverage, export (hvfuzzlib/coverage.py, hvfuzzlib/export.py) ----

def add_coverage(sub) -> None:
    c = sub.add_parser("coverage", help="coverage report of a corpus (llvm-cov)",
                       description="Build the coverage preset if stale, replay the corpus "
                       "(default: corpora/<target>/ and the assembled seeds "
                       "build/coverage/seeds/<target>/), merge the profiles, write an HTML "
                       "report of targets/ (default coverage/<target>/) and print line and "
                       "branch coverage per file of targets/ with a total row.")
    c.add_argument("targets", nargs="*", metavar="TARGET", help="target(s) from 'hvfuzz list'")
    c.add_argument("--corpus", type=Path, action="append", default=[], metavar="DIR",
                   help="replay DIR (files, or inputs inside it) instead of the defaults; "
                   "repeatable")
    c.add_argument("--all", action="store_true", help="every target of 'hvfuzz list'")
    c.add_argument("--html", type=Path, metavar="DIR",
                   help="HTML report folder (default coverage/<target>/; with several "
                   "targets DIR/<target>/)")
    c.add_argument("-v", "--verbose", action="store_true", help="show build output")


def cmd_coverage(args) -> int:
    from . import coverage
    return coverage.run(args.targets, args.corpus, args.all, args.html, args.verbose)


def add_export(sub) -> None:
    e = sub.add_parser("export", help="turn a program into a QEMU qtest script",
                       description="Replay a program in-process with its per-op trace and "
                       "write it as a QEMU qtest script (one command per line: BAR setup, "
                       "MMIO/PIO/config accesses, guest-memory writes, clock steps), with "
                       "the QEMU command line in its header (also printed).")
    e.add_argument("file", metavar="FILE", help="program (.bin, or .hvf text)")
    e.add_argument("--qtest", action="store_true", help="qtest script (the only format)")
    e.add_argument("--target", help="target (default: as for 'hvfuzz repro')")
    e.add_argument("-o", "--output", type=Path, metavar="OUT",
                   help="write the script to OUT (and a 16 MiB scratch disk OUT.disk.img); "
                   "default stdout")
    e.add_argument("--run", action="store_true",
                   help="also run the script under QEMU: every command must answer OK; "
                   "reads are compared with the in-process trace")


def cmd_export(args) -> int:
    from . import export
    if not args.qtest:
        raise UserError("choose an output format: --qtest")
    return export.run(args.file, args.target, args.output, args.run)


# ---- triage, minimize (hvfuzzlib/triage_cmd.py, hvfuzzlib/minimize.py) ----

def add_triage(sub) -> None:
    t = sub.add_parser("triage", help="bucket a folder of crash inputs by stack hash",
                       description="Replay every input of DIR (an engine's artifacts dir, an "
                       "AFL++ crashes dir, a crashes/<target> folder of <hash>/input.bin, or any "
                       "files; .hvf text is assembled) with the replay binary and print one "
                       "line per stack hash: kind, hash, first device frame, count and the "
                       "smallest input. Inputs that run clean are listed as unreproducible. "
                       "Nothing is stored.")
    t.add_argument("dir", type=Path, metavar="DIR", help="folder of crash inputs")
    t.add_argument("--target", help="target (default: from meta.json or the path, "
                   f"e.g. crashes/<target>/, else {DEFAULT_TARGET})")
    t.add_argument("--json", type=Path, metavar="FILE", help="write the buckets as JSON to FILE")
    t.add_argument("--timeout", type=positive_int, default=10, metavar="SECONDS",
                   help="report a hang after this long per input (default 10)")


def add_minimize(sub) -> None:
    m = sub.add_parser("minimize", help="minimize a corpus or a crashing input",
                       description="'minimize corpus TARGET': libFuzzer -merge=1 or afl-cmin. "
                       "'minimize crash FILE': libFuzzer -minimize_crash=1 or afl-tmin, keeping "
                       "only inputs that replay with the original stack hash.")
    msub = m.add_subparsers(dest="what", metavar="corpus|crash", parser_class=Parser)
    c = msub.add_parser("corpus", help="minimize a corpus (same coverage, fewer files)",
                        description="Minimize a corpus into a new folder, then (without --out) "
                        "swap it in place of the old one atomically (a kill leaves one or the "
                        "other). Prints file counts, sizes and libFuzzer's cov: before/after.")
    c.add_argument("target", metavar="TARGET", help="target from 'hvfuzz list'")
    c.add_argument("--engine", default="libfuzzer", choices=ENGINES,
                   help="libfuzzer (-merge=1, default) or afl (afl-cmin)")
    c.add_argument("--corpus", type=Path, metavar="DIR",
                   help="corpus to minimize (default corpora/<target>/)")
    c.add_argument("--out", type=Path, metavar="DIR",
                   help="write the minimized corpus to DIR (new or empty) and keep the corpus")
    c.add_argument("--timeout", type=positive_int, default=5, metavar="SECONDS",
                   help="per-input timeout (default 5)")
    k = msub.add_parser("crash", help="shrink a crashing input, same stack hash",
                        description="Shrink a crashing input (prefix trimming, then libFuzzer "
                        "-minimize_crash=1 or afl-tmin rounds); every candidate is replayed and "
                        "kept only with the original's stack hash. Writes FILE's stem + "
                        ".min.bin (or --out) and prints its text form; in a "
                        "crashes/<target>/<hash>/ folder input.bin and input.hvf are updated "
                        "(the original kept as input.orig.bin).")
    k.add_argument("file", type=Path, metavar="FILE", help="crashing input (.bin or .hvf)")
    k.add_argument("--target", help="target (default: as for 'hvfuzz repro')")
    k.add_argument("--engine", default="libfuzzer", choices=ENGINES,
                   help="libfuzzer (-minimize_crash=1, default) or afl (afl-tmin)")
    k.add_argument("--time", type=positive_int, default=60, metavar="SECONDS",
                   help="time budget (default 60)")
    k.add_argument("--out", type=Path, metavar="FILE", help="where to write the minimized input")
    k.add_argument("--timeout", type=positive_int, default=10, metavar="SECONDS",
                   help="per-replay timeout (default 10)")


def cmd_triage(args) -> int:
    from . import triage_cmd
    return triage_cmd.run(args.dir, args.target, args.json, args.timeout)


def cmd_minimize(args) -> int:
    from . import minimize
    if args.what == "corpus":
        return minimize.minimize_corpus(args.target, args.engine, args.corpus, args.out,
                                        args.timeout)
    if args.what == "crash":
        return minimize.minimize_crash(args.file, args.target, args.engine, args.time,
                                       args.out, args.timeout)
    raise UserError("choose what to minimize: 'hvfuzz minimize corpus TARGET' or "
                    "'hvfuzz minimize crash FILE'")


# ---- ci (hvfuzzlib/ci.py) ----

def add_ci(sub) -> None:
    c = sub.add_parser("ci", help="CI mode: regression gate, time-boxed fuzzing, corpus merge, "
                       "report",
                       description="For each target: replay <corpora-dir>/<target>/ and the "
                       "stored findings (a crash of a corpus input, or of a finding marked "
                       "fixed, is a regression); fuzz for its share of --time in "
                       "<workdir>/ci/<target>/; merge the campaign corpus into "
                       "<corpora-dir>/<target>/ (libFuzzer -merge=1, swapped in atomically); "
                       "store findings by stack hash; measure coverage before/after; write "
                       "report.json, report.md, report.sarif and a plot per target. Exit 1 on "
                       "a new finding or a regression, else 0.")
    c.add_argument("--time", type=positive_int, default=600, metavar="SECONDS",
                   help="fuzzing time, split across the targets (default 600)")
    c.add_argument("--targets", metavar="T,...",
                   help="comma-separated targets (default: every target of 'hvfuzz list')")
    c.add_argument("--report", type=Path, metavar="DIR",
                   help="report directory (default <workdir>/ci/report)")
    c.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                   help="parallel fuzzing processes per target (default 1)")
    c.add_argument("--engine", default="libfuzzer", choices=ENGINES, help="default libfuzzer")
    c.add_argument("--mode", default="inproc", choices=MODES, help="inproc (default) or vm")
    c.add_argument("--workdir", type=Path, metavar="DIR",
                   help="campaign directory (default out/; ci uses <workdir>/ci/)")
    c.add_argument("--crashes-dir", type=Path, metavar="DIR",
                   help="where findings are stored (default crashes/)")
    c.add_argument("--corpora-dir", type=Path, metavar="DIR",
                   help="checked-in corpora to replay and update (default corpora/)")
    c.add_argument("--timeout", type=positive_int, default=5, metavar="SECONDS",
                   help="per-input timeout (default 5)")
    c.add_argument("--no-line-coverage", action="store_true",
                   help="skip the line coverage of targets/ (coverage.line_summary)")
    c.add_argument("-v", "--verbose", action="store_true", help="show build output")


def cmd_ci(args) -> int:
    from . import ci
    if args.targets is None:
        targets = [t for t, _ in read_targets()]
    else:
        targets = [t.strip() for t in args.targets.split(",") if t.strip()]
        if not targets:
            raise UserError("--targets: no target given")
    for t in targets:
        check_target(t)
        check_mode(t, args.mode)
    root = repo_root()
    workdir = (args.workdir or root / "out").absolute()
    opts = ci.Options(
        targets=list(dict.fromkeys(targets)), time=args.time, jobs=args.jobs,
        engine=args.engine, mode=args.mode, workdir=workdir,
        crashes_dir=(args.crashes_dir or root / "crashes").absolute(),
        corpora_dir=(args.corpora_dir or root / "corpora").absolute(),
        report=(args.report or workdir / "ci" / "report").absolute(),
        timeout=args.timeout, line_coverage=not args.no_line_coverage, verbose=args.verbose)
    return ci.run(opts)


# ---- serve (hvfuzzlib/serve.py) ----

def add_serve(sub) -> None:
    s = sub.add_parser("serve", help="serve a device model to QEMU (vhost-user back-end, or "
                       "the TPM behind swtpm's protocol)",
                       description="Serve hvfuzz's own device model (the code the fuzz targets "
                       "run) to QEMU, so a real guest driver drives it: one front-end at a time, "
                       "log on stderr. virtio-blk is a vhost-user back-end on --vhost-user SOCKET "
                       "(QEMU side: -object memory-backend-memfd,id=mem,size=512M,share=on -numa "
                       "node,memdev=mem -chardev socket,id=c,path=SOCKET -device "
                       "vhost-user-blk-pci,chardev=c); virtio-net likewise, every frame the guest "
                       "transmits appended to --pcap FILE (QEMU side: the same shared memory, "
                       "-chardev socket,id=c,path=SOCKET -netdev vhost-user,id=n0,chardev=c "
                       "-device virtio-net-pci,netdev=n0). tpm is the TPM 2.0 model behind swtpm's "
                       "control/data-channel protocol on --swtpm SOCKET (QEMU side: -chardev "
                       "socket,id=chrtpm,path=SOCKET -tpmdev emulator,id=tpm0,chardev=chrtpm "
                       "-device tpm-crb,tpmdev=tpm0). Ctrl-C or SIGTERM stops it cleanly (disk "
                       "flushed or NV state closed, SOCKET removed, exit 0). Builds preset dev if "
                       "stale ($HVFUZZ_SERVE_BIN: use that binary).")
    s.add_argument("device", metavar="DEVICE",
                   help="the model to serve: virtio-blk, virtio-net or tpm")
    blk = s.add_argument_group("virtio-blk (vhost-user)")
    blk.add_argument("--vhost-user", type=Path, metavar="SOCKET",
                     help="unix socket to create and listen on (its directory must exist); "
                     "required for virtio-blk")
    blk.add_argument("--disk", type=Path, metavar="FILE",
                     help="raw disk image, size a non-zero multiple of 512 (default: a RAM "
                     "disk of --size bytes)")
    blk.add_argument("--size", metavar="BYTES", help="RAM disk size (default 16M; suffix K, M, G)")
    blk.add_argument("--read-only", action="store_true",
                     help="offer VIRTIO_BLK_F_RO, refuse writes")
    blk.add_argument("--queues", type=positive_int, default=1, metavar="N",
                     help="request queues (default 1; QEMU's num-queues must not exceed it)")
    blk.add_argument("--queue-size", type=positive_int, metavar="N",
                     help="largest ring, a power of two (default 256; QEMU's queue-size must "
                     "not exceed it)")
    blk.add_argument("--serial", metavar="S", help="serial number (GET_ID)")
    blk.add_argument("--trace", action="store_true",
                     help="print the model's device trace (DMA, interrupts, requests)")
    net = s.add_argument_group("virtio-net (vhost-user; --vhost-user and --trace as above)")
    net.add_argument("--pcap", type=Path, metavar="FILE",
                     help="append every frame the guest transmits to FILE (classic pcap, "
                     "Ethernet; created or truncated at start; default: frames are counted "
                     "and dropped)")
    net.add_argument("--rx-pcap", type=Path, metavar="FILE",
                     help="deliver the frames of FILE (classic pcap, Ethernet) to the guest, "
                     "in order, each as soon as its RX ring has a buffer (default: nothing "
                     "is received)")
    net.add_argument("--rx-delay", type=int, metavar="MS",
                     help="with --rx-pcap: deliver nothing until the RX ring has had a "
                     "buffer for MS milliseconds (default 0; a guest that just brought its "
                     "link up may not route yet)")
    tpm = s.add_argument_group("tpm (swtpm protocol, QEMU -tpmdev emulator)")
    tpm.add_argument("--swtpm", type=Path, metavar="SOCKET",
                     help="unix socket (swtpm's control channel) to create and listen on; "
                     "required for tpm")
    tpm.add_argument("--state", type=Path, metavar="FILE",
                     help="keep the TPM's NV state in FILE, replaced atomically on every "
                     "change (default: in memory only)")
    tpm.add_argument("--log-commands", type=Path, metavar="FILE",
                     help="write every command the model executes to FILE (raw command "
                     "buffers, as hvfuzz-tpm-diff reads them; later power cycles: FILE.2, ...)")
    tpm.add_argument("--seed", type=int, metavar="N", help="seed of the model's DRBG (default 0)")
    s.add_argument("-v", "--verbose", action="store_true",
                   help="log every vhost-user message / every TPM command")
    s.add_argument("--inject-fault", choices=("flip-read", "corrupt-tx", "rc-failure"),
                   metavar="FAULT",
                   help="testing the tests: flip-read (virtio-blk) corrupts every sector read; "
                   "corrupt-tx (virtio-net) flips a bit of every frame's last byte before the "
                   "pcap; rc-failure (tpm) answers every command TPM_RC_FAILURE")


def cmd_serve(args) -> int:
    from . import serve
    return serve.run(args)


COMMANDS = {"list": cmd_list, "test": cmd_test, "fuzz": cmd_fuzz, "repro": cmd_repro,
            "coverage": cmd_coverage, "export": cmd_export, "triage": cmd_triage,
            "minimize": cmd_minimize, "ci": cmd_ci, "serve": cmd_serve,
            "import-trace": import_trace.run, "record": record.run}


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return 2
        return COMMANDS[args.command](args)
    except UserError as e:
        sys.stdout.flush()
        print(f"hvfuzz: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a path the user gave cannot be read or written
        sys.stdout.flush()
        print(f"hvfuzz: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hvfuzz: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
