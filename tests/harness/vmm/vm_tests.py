#!/usr/bin/env python3
"""VM-mode (hvfuzz-vmm) tests driven through the replay binaries.

  cross   every seed replayed in-process (fuzz-<t> --trace) and in the VM
          (vm-<t> --trace), in one process each (so restores are exercised),
          and the traces compared line for line
  random  N random inputs (deterministic PRNG) in the VM: the VMM survives;
          the first few hundred are also trace-compared with in-process
  errors  clear one-line errors: missing agent, malformed agent, an agent
          that faults before READY (unknown target in a hand-made mailbox)

Exit 77 (ctest SKIP) without /dev/kvm. Every child has a timeout.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

SKIP = 77


def need_kvm():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIP: /dev/kvm is not available (VM mode needs KVM)")
        sys.exit(SKIP)


def run(cmd, timeout, env=None):
    e = dict(os.environ)
    e.update(env or {})
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=e)
    except subprocess.TimeoutExpired:
        print(f"FAIL: timed out after {timeout} s: {' '.join(cmd)}")
        sys.exit(1)


def compare(inproc, vm, paths, timeout):
    """Replay `paths` in both hosts with --trace; 0 if identical."""
    a = run([inproc, "--trace"] + paths, timeout)
    b = run([vm, "--trace"] + paths, timeout, {"HVFUZZ_VM_STATS": "1"})
    if a.returncode != 0 or b.returncode != 0:
        print(f"FAIL: replay exit codes: in-process {a.returncode}, vm {b.returncode}")
        print(a.stderr[-2000:], b.stderr[-2000:])
        return 1
    # No line is filtered: every line (replay headers, per-op accesses,
    # mem_write/mem_fill, device DMA/IRQ events, "# input N") is the same in
    # both hosts.
    la, lb = a.stdout.splitlines(), b.stdout.splitlines()
    for i, (x, y) in enumerate(zip(la, lb)):
        if x != y:
            print(f"FAIL: traces differ at line {i + 1}:\n  in-process: {x}\n  vm:         {y}")
            return 1
    if len(la) != len(lb):
        print(f"FAIL: traces differ in length: in-process {len(la)}, vm {len(lb)} lines")
        return 1
    stats = [l for l in b.stderr.splitlines() if l.startswith("vm-stats:")]
    print(f"identical: {len(la)} trace lines, {len(paths)} path(s); "
          f"{stats[-1] if stats else ''}")
    return 0


def cmd_cross(o):
    need_kvm()
    seeds = sorted(os.path.join(o.seeds, f) for f in os.listdir(o.seeds))
    if not seeds:
        print(f"FAIL: no seeds in {o.seeds}")
        return 1
    # twice over: the second round starts each seed from a restored VM
    return compare(o.inproc, o.vm, seeds + seeds, o.timeout)


# Ops worth generating (opcode, operand bytes, has trailing data).
OPS = [(0x01, 6, 0), (0x02, 14, 0), (0x03, 4, 0), (0x04, 8, 0), (0x05, 3, 0),
       (0x06, 7, 0), (0x07, 6, 1), (0x08, 7, 0), (0x09, 4, 0), (0x0a, 2, 1),
       (0x10, 7, 0), (0x11, 4, 0)]


def random_input(rng):
    kind = rng.random()
    if kind < 0.3:  # raw bytes
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 200)))
    out = bytearray()
    if kind < 0.8:  # a set-up first: deeper programs
        out += bytes([0x10, 0x54, 0x6e, 0x00, 0x30, rng.randrange(4), 0, rng.choice([0, 1, 8])])
    for _ in range(rng.randrange(1, 12)):
        code, n, data = rng.choice(OPS)
        ops = bytearray(rng.getrandbits(8) for _ in range(n))
        if code == 0x11:  # virtq_submit: segment lengths and data
            nout, nin = rng.randrange(4), rng.randrange(4)
            ops = bytearray([rng.randrange(4), rng.randrange(8), nout, nin])
            for _ in range(nout + nin):
                ops += rng.randrange(0, 1024).to_bytes(2, "little")
            dlen = rng.randrange(0, 64)
            ops += dlen.to_bytes(2, "little") + bytes(rng.getrandbits(8) for _ in range(dlen))
        elif data:
            dlen = rng.randrange(0, 64)
            ops[-2:] = dlen.to_bytes(2, "little")
            ops += bytes(rng.getrandbits(8) for _ in range(dlen))
        out.append(code)
        out += ops
    if rng.random() < 0.1:  # truncated
        out = out[:rng.randrange(len(out) + 1)]
    return bytes(out)


def cmd_random(o):
    need_kvm()
    rng = random.Random(o.seed)
    with tempfile.TemporaryDirectory(prefix="hvfuzz-vm-random-") as d:
        paths = []
        for i in range(o.count):
            p = os.path.join(d, f"{i:05d}.bin")
            with open(p, "wb") as f:
                f.write(random_input(rng))
            paths.append(p)
        # The VMM survives all of them (one process, one VM, restores):
        # with the default budgets, then with budgets so tight that many
        # inputs end as guest hangs (exit budget; wall-clock timer signal).
        for label, env, need in (
                ("default budgets", {}, None),
                ("exit budget 60", {"HVFUZZ_VM_MAX_EXITS": "60"}, "hangs"),
                ("wall clock 1 ms", {"HVFUZZ_VM_TIMEOUT_MS": "1"}, "hangs")):
            # every restore is also checked page by page against the snapshot
            env = dict(env, HVFUZZ_VM_STATS="1", HVFUZZ_VM_CHECK_RESTORE="1")
            r = run([o.vm, "--quiet", d], o.timeout, env)
            stats = [l for l in r.stderr.splitlines() if l.startswith("vm-stats:")]
            if r.returncode != 0 or not stats:
                # A device finding would also reproduce in-process.
                a = run([o.inproc, "--quiet", d], o.timeout)
                print(f"FAIL: {label}: vm exit {r.returncode} (in-process: {a.returncode})")
                print(r.stderr[-3000:])
                return 1
            print(f"{label}: {o.count} random inputs ran: {stats[-1]}")
            if f"iterations={o.count} " not in stats[-1]:
                print("FAIL: not every input ran")
                return 1
            if need and f" {need}=0" in stats[-1]:
                print(f"FAIL: {label}: expected some {need}")
                return 1
        # ... and the VM still gives exactly the in-process traces.
        return compare(o.inproc, o.vm, paths[:o.compare], o.timeout)


def cmd_errors(o):
    need_kvm()
    failures = 0
    seed = os.path.join(o.seeds, sorted(os.listdir(o.seeds))[0])

    def expect(what, env, needle):
        nonlocal failures
        r = run([o.vm, seed], 60, env)
        lines = [l for l in r.stderr.splitlines() if l.startswith("hvfuzz: error:")]
        ok = r.returncode == 2 and len(lines) == 1 and needle in lines[0]
        print(f"{'ok' if ok else 'FAIL'}: {what}: exit {r.returncode}: "
              f"{lines[0] if lines else r.stderr.strip()[-300:]}")
        failures += 0 if ok else 1

    with tempfile.TemporaryDirectory(prefix="hvfuzz-vm-err-") as d:
        bad = os.path.join(d, "not-an-elf")
        with open(bad, "w") as f:
            f.write("hello\n")
        short = os.path.join(d, "short.elf")
        with open(short, "wb") as f:
            f.write(b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\x00\x3e\x00")
        expect("missing agent", {"HVFUZZ_AGENT": os.path.join(d, "nope.elf")},
               "No such file or directory")
        expect("malformed agent", {"HVFUZZ_AGENT": bad}, "not an ELF file")
        expect("truncated agent", {"HVFUZZ_AGENT": short}, "not an ELF file")
        expect("dynamic executable", {"HVFUZZ_AGENT": "/bin/true"},
               "not an executable (ET_EXEC) ELF")
        expect("agent fault before READY",
               {"HVFUZZ_VM_MAILBOX_TARGET": "no-such-target"},
               "agent fault: unknown target 'no-such-target'")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["cross", "random", "errors"])
    ap.add_argument("--inproc", required=True)
    ap.add_argument("--vm", required=True)
    ap.add_argument("--seeds", required=True)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--compare", type=int, default=300)
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--timeout", type=int, default=240)
    o = ap.parse_args()
    return {"cross": cmd_cross, "random": cmd_random, "errors": cmd_errors}[o.mode](o)


if __name__ == "__main__":
    sys.exit(main())
