"""Command line of hvfuzz: parse, dispatch, and turn user errors into one line."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from . import build
from .common import (DEFAULT_TARGET, ENGINES, MODES, UserError, check_mode, check_target,
                     read_targets, repo_root)

TEST_PRESETS = ("dev", "libfuzzer", "afl")


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
    return p


def add_test(sub) -> None:
    t = sub.add_parser("test", help="build presets dev, libfuzzer, afl and run ctest",
                       description="Bootstrap the toolchain, configure and build what is stale "
                       f"in presets {', '.join(TEST_PRESETS)}, then run 'ctest --preset dev'.")
    t.add_argument("-R", "--tests-regex", metavar="REGEX", help="only tests matching REGEX")
    t.add_argument("-v", "--verbose", action="store_true", help="show build output")


def add_fuzz(sub) -> None:
    f = sub.add_parser("fuzz", help="run a fuzzing campaign",
                       description="Fuzz a target in-process. Seeds: build/<preset>/seeds/<target>/ "
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
    r.add_argument("--mode", choices=MODES + ("qemu",),
                   help="inproc (fuzz-<target>), vm (vm-<target>, in a KVM VM) or qemu (the "
                   "guest agent under stock qemu-system-x86_64 against QEMU's own device, "
                   "printing the per-op trace); default: from meta.json beside the file, "
                   "else inproc")
    r.add_argument("--accel", choices=("tcg", "kvm"), default="tcg",
                   help="QEMU accelerator for --mode qemu (default tcg; kvm on hosts with "
                   "hardware virtualization)")


def add_list(sub) -> None:
    sub.add_parser("list", help="list the fuzz targets",
                   description="List the in-process targets (harness/inproc/targets.list).")


def cmd_list(args) -> int:
    for name, desc in read_targets():
        print(f"{name}\t{desc}")
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
        timeout=args.timeout, verbose=args.verbose, extra_seeds=args.seeds, mode=args.mode)
    return campaign.run(opts)


def cmd_repro(args) -> int:
    from . import repro
    return repro.run(args.files, args.target, args.timeout, args.trace, args.mode, args.accel)


COMMANDS = {"list": cmd_list, "test": cmd_test, "fuzz": cmd_fuzz, "repro": cmd_repro}


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
