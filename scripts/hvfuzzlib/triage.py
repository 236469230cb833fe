"""Classify a replay report and compute its stack hash (pure functions).

The hash recipe (shared by every host, so a bug hashes alike in-process and in
the VM):
  * take the first stack of the report (the one printed with the error, not
    the "allocated by"/"freed by" stacks);
  * keep the frames whose source file lies under targets/<model>/ (device
    model code); only when the stack has none, those under targets/common/
    (DMA, bus, PCI plumbing shared by every model, which would otherwise
    give every overflow through DMA one hash), never
    targets/common/finding.c (the reporting helper);
  * the top three of those, innermost first; hash = first 16 hex digits of
    sha1 of the kind and their function names, joined by newlines (no line
    numbers, no addresses: stable across rebuilds and hosts; the kind keeps
    e.g. an assert and a division by zero in one function apart);
  * a budget finding ("hang") is hashed by the site it names instead
    ("budget:targets/<file>:<line>", the path cut to start at targets/);
  * with no device frame at all, the top three frames with a source file in
    the repository (harness code), else the top three named frames.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

FRAME_RE = re.compile(
    r"^\s*#(?P<num>\d+)\s+0x[0-9a-fA-F]+\s+"
    r"(?:in\s+(?P<func>.+?)\s+)?"
    r"(?P<loc>\(.*\)|[^\s()]+?(?::(?P<line>\d+)(?::\d+)?)?)"
    r"(?:\s+\(BuildId:.*\))?\s*$")
FINDING_RE = re.compile(
    r"==HVFUZZ== FINDING kind=(?P<kind>[\w-]+) site=(?P<site>\S+?):\s(?P<msg>.*)$")
FINDING_RE_NOMSG = re.compile(r"==HVFUZZ== FINDING kind=(?P<kind>[\w-]+) site=(?P<site>\S+)")
ASAN_SUMMARY_RE = re.compile(r"^SUMMARY: AddressSanitizer: (?P<type>[\w-]+)")
ASAN_ERROR_RE = re.compile(r"ERROR: AddressSanitizer: (?:attempting )?(?P<type>[\w-]+)")
LSAN_RE = re.compile(r"ERROR: LeakSanitizer: detected memory leaks")
UBSAN_SUMMARY_RE = re.compile(r"^SUMMARY: UndefinedBehaviorSanitizer: (?P<type>[\w-]+)")
UBSAN_ERROR_RE = re.compile(r":\d+(?::\d+)?: runtime error: ")
LIBFUZZER_RE = re.compile(r"ERROR: libFuzzer: (?P<type>[\w-]+)")

HVFUZZ_KINDS = {"assert": "assert", "reentrancy": "reentrancy", "budget": "hang"}
FINDING_HELPER = "targets/common/finding.c"


@dataclass
class Frame:
    func: str
    path: str  # normalized: from targets/ or harness/ on when inside the repo
    line: str

    def __str__(self) -> str:
        return f"{self.func} {self.path}{':' + self.line if self.line else ''}"


@dataclass
class Triage:
    kind: str                 # "" when the report shows no finding
    hash: str = ""
    frames: list[Frame] = field(default_factory=list)  # the hashed frames
    site: str = ""            # hvfuzz finding site, normalized
    summary: str = ""         # one line describing the finding

    @property
    def first_frame(self) -> str:
        if self.frames:
            return str(self.frames[0])
        return self.site


def normalize_path(path: str) -> str:
    """Cut a source path to start at targets/ or harness/ (the repo-relative part)."""
    m = re.search(r"(?:^|/)((?:targets|harness)/.*)$", path)
    return m.group(1) if m else path


def parse_frame(line: str) -> Frame | None:
    m = FRAME_RE.match(line)
    if not m:
        return None
    loc = m.group("loc")
    if loc.startswith("("):
        path, ln = "", ""  # module+offset only: no source file
    else:
        ln = m.group("line") or ""
        path = loc[: loc.index(":")] if ln else loc
    return Frame(func=m.group("func") or "", path=normalize_path(path), line=ln)


def first_stack(lines: list[str], start: int) -> list[Frame]:
    """The first run of stack frames at or after line `start`."""
    frames: list[Frame] = []
    for line in lines[start:]:
        frame = parse_frame(line)
        if frame:
            frames.append(frame)
        elif frames:
            break
    return frames


def is_device_frame(frame: Frame) -> bool:
    return frame.path.startswith("targets/") and frame.path != FINDING_HELPER


def is_repo_frame(frame: Frame) -> bool:
    return frame.path.startswith(("targets/", "harness/")) and frame.path != FINDING_HELPER


def is_model_frame(frame: Frame) -> bool:
    return is_device_frame(frame) and not frame.path.startswith("targets/common/")


def pick_frames(frames: list[Frame], count: int = 3) -> list[Frame]:
    for keep in (is_model_frame, is_device_frame, is_repo_frame, lambda f: bool(f.func)):
        chosen = [f for f in frames if keep(f)]
        if chosen:
            return chosen[:count]
    return []


def hash_names(parts: list[str]) -> str:
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]


def classify(lines: list[str]) -> tuple[str, int, str]:
    """(kind, index of the line that opens the report, summary) or ("", -1, "")."""
    for i, line in enumerate(lines):
        m = FINDING_RE.search(line) or FINDING_RE_NOMSG.search(line)
        if m:
            kind = HVFUZZ_KINDS.get(m.group("kind"), m.group("kind"))
            return kind, i, line.strip()
    for i, line in enumerate(lines):
        if LSAN_RE.search(line):
            return "leak", i, line.strip()
        m = ASAN_ERROR_RE.search(line)
        if m:
            return asan_kind(lines, m.group("type")), i, line.strip()
        if UBSAN_ERROR_RE.search(line):
            return ubsan_kind(lines), i, line.strip()
        m = LIBFUZZER_RE.search(line)
        if m:
            return libfuzzer_kind(m.group("type")), i, line.strip()
    return "", -1, ""


def asan_kind(lines: list[str], error_type: str) -> str:
    for line in lines:
        m = ASAN_SUMMARY_RE.match(line)
        if m:
            return m.group("type")
    return error_type


def ubsan_kind(lines: list[str]) -> str:
    for line in lines:
        m = UBSAN_SUMMARY_RE.match(line)
        if m and m.group("type") != "undefined-behavior":
            return f"ubsan:{m.group('type')}"
    return "ubsan:undefined-behavior"


def libfuzzer_kind(error_type: str) -> str:
    return {"deadly": "crash", "timeout": "timeout",
            "out-of-memory": "oom"}.get(error_type, error_type)


def finding_site(line: str) -> str:
    m = FINDING_RE.search(line) or FINDING_RE_NOMSG.search(line)
    return normalize_path(m.group("site")) if m else ""


def triage_report(text: str) -> Triage:
    """Kind and hash of a replay report; kind "" when it shows no finding."""
    lines = text.splitlines()
    kind, start, summary = classify(lines)
    if not kind:
        return Triage(kind="")
    frames = pick_frames(first_stack(lines, start + 1))
    site = finding_site(lines[start]) if "==HVFUZZ==" in lines[start] else ""
    if kind == "hang" and site:
        digest = hash_names([f"budget:{site}"])
    else:
        digest = hash_names([kind] + [f.func for f in frames])
    return Triage(kind=kind, hash=digest, frames=frames, site=site, summary=summary)


def common_prefix_frames(stacks: list[list[Frame]], count: int = 3) -> list[Frame]:
    """For a hang interrupted several times: the device frames all samples share,
    compared from the outermost one, and of those the innermost `count`
    (the looping function and its callers), innermost first."""
    device = [[f for f in reversed(s) if is_repo_frame(f)] for s in stacks if s]
    if not device:
        return []
    shared: list[Frame] = []
    for column in zip(*device):
        if any(f.func != column[0].func for f in column):
            break
        shared.append(column[0])
    inner_first = list(reversed(shared))
    dev_only = [f for f in inner_first if is_device_frame(f)]
    return (dev_only or inner_first)[:count]


def triage_timeout(reports: list[str]) -> Triage:
    stacks = []
    for text in reports:
        lines = text.splitlines()
        _, start, _ = classify(lines)
        stacks.append(first_stack(lines, max(start, 0)))
    frames = common_prefix_frames(stacks)
    digest = hash_names(["timeout"] + [f.func for f in frames])
    return Triage(kind="timeout", hash=digest, frames=frames,
                  summary="timeout: the input did not finish")
