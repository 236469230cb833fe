"""Finding classification and the stack-hash recipe, on canned reports."""

import unittest

from helpers import ROOT  # noqa: F401  (puts scripts/ on sys.path)
from hvfuzzlib import triage

ASAN = """\
=================================================================
==4994==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000040 at pc 0x55a233081c45
WRITE of size 4 at 0x602000000040 thread T0
    #0 0x55a233081c44 in blk_inner {root}/targets/virtio/blk.c
    #1 0x55a233081c44 in blk_mid {root}/targets/virtio/blk.c:{line}:66
    #2 0x55a233081c44 in virtq_pop {root}/targets/virtio/virtq.c:27:58
    #3 0x55a233081c44 in bus_write {root}/targets/common/bus.c:99:1
    #4 0x55a233080ec8 in LLVMFuzzerTestOneInput {root}/harness/inproc/fuzz_virtio_blk.c:4:58
    #5 0x7fa405f65249 in __libc_start_call_main csu/../sysdeps/nptl/libc_start_call_main.h:58:16
    #6 0x55a232fc3320 in _start (/x/build/replay/bin/fuzz-virtio-blk+0x21320) (BuildId: d500521d)

0x602000000040 is located 0 bytes to the right of 16-byte region
allocated by thread T0 here:
    #0 0x55a23304616e in __interceptor_malloc (/x/bin/fuzz-virtio-blk+0xa416e) (BuildId: d5)
    #1 0x55a2330816d5 in other_fn {root}/targets/virtio/alloc.c:6:14

SUMMARY: AddressSanitizer: heap-buffer-overflow {root}/targets/virtio/blk.c in blk_inner
"""

FINDING = """\
==HVFUZZ== FINDING kind={kind} site={root}/targets/virtio/blk.c:{line}: loop ran away
    #0 0x561809680251 in __sanitizer_print_stack_trace (/x/bin/fuzz-virtio-blk+0xae251)
    #1 0x5618096b2154 in hv_finding {root}/targets/common/finding.c:10:5
    #2 0x5618096b2154 in hv_budget_charge {root}/targets/common/finding.c:40:5
    #3 0x56180969c9a0 in {func} {root}/targets/virtio/blk.c:{line}:61
    #4 0x56180969c9a0 in virtq_pop {root}/targets/virtio/virtq.c:27:58
    #5 0x56180969c9a0 in bus_write {root}/targets/common/bus.c:99:1
    #6 0x56180969bec8 in LLVMFuzzerTestOneInput {root}/harness/inproc/fuzz_virtio_blk.c:4:58
"""

UBSAN = """\
{root}/targets/virtio/blk.c:23:92: runtime error: division by zero
    #0 0x563a5559bdbd in blk_mid {root}/targets/virtio/blk.c:23:92
    #1 0x563a5559bdbd in virtq_pop {root}/targets/virtio/virtq.c:27:58
    #2 0x563a5559aec8 in LLVMFuzzerTestOneInput {root}/harness/inproc/fuzz_virtio_blk.c:4:58

SUMMARY: UndefinedBehaviorSanitizer: integer-divide-by-zero {root}/targets/virtio/blk.c:23:92 in
"""

LEAK = """\
==1==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 24 byte(s) in 1 object(s) allocated from:
    #0 0x4b1 in __interceptor_malloc (/x/bin/fuzz+0x4b1)
    #1 0x4c2 in nvme_alloc {root}/targets/nvme/nvme.c:12:3
    #2 0x4d3 in LLVMFuzzerTestOneInput {root}/harness/inproc/fuzz_nvme.c:4:58

SUMMARY: AddressSanitizer: 24 byte(s) leaked in 1 allocation(s).
"""


# An overflow inside the shared DMA plumbing, reached from a model.
ASAN_VIA_DMA = """\
==7==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x60b000000100 at pc 0x5
READ of size 64 at 0x60b000000100 thread T0
    #0 0x5 in __asan_memcpy (/x/bin/fuzz-virtio-blk+0xb74b6)
    #1 0x5 in dma_access {root}/targets/common/dma.c:86:9
    #2 0x5 in hv_dma_write {root}/targets/common/dma.c:105:12
    #3 0x5 in elem_copy {root}/targets/virtio/virtqueue.c:341:25
    #4 0x5 in virtq_elem_write {root}/targets/virtio/virtqueue.c:364:12
    #5 0x5 in {func} {root}/targets/virtio/virtio_blk.c:166:12
    #6 0x5 in LLVMFuzzerTestOneInput {root}/harness/inproc/fuzz_virtio_blk.c:4:58

SUMMARY: AddressSanitizer: heap-buffer-overflow {root}/targets/common/dma.c:86:9 in dma_access
"""


def report(template, root="/work/main", line=17, kind="assert", func="blk_mid"):
    return template.format(root=root, line=line, kind=kind, func=func)


class Classify(unittest.TestCase):
    def test_asan_kind_and_device_frames(self):
        t = triage.triage_report(report(ASAN))
        self.assertEqual(t.kind, "heap-buffer-overflow")
        self.assertEqual([f.func for f in t.frames], ["blk_inner", "blk_mid", "virtq_pop"])
        self.assertEqual(t.first_frame, "blk_inner targets/virtio/blk.c")
        self.assertRegex(t.hash, r"^[0-9a-f]{16}$")

    def test_hash_ignores_lines_and_checkout_path(self):
        a = triage.triage_report(report(ASAN, root="/work/main", line=17))
        b = triage.triage_report(report(ASAN, root="/home/ci/clone", line=250))
        self.assertEqual(a.hash, b.hash)

    def test_finding_helper_frames_are_skipped(self):
        t = triage.triage_report(report(FINDING, kind="assert"))
        self.assertEqual(t.kind, "assert")
        # finding.c frames skipped; bus_write (targets/common) too: model frames exist
        self.assertEqual([f.func for f in t.frames], ["blk_mid", "virtq_pop"])
        self.assertEqual(t.site, "targets/virtio/blk.c:17")

    def test_reentrancy(self):
        self.assertEqual(triage.triage_report(report(FINDING, kind="reentrancy")).kind,
                         "reentrancy")

    def test_budget_is_a_hang_hashed_by_site(self):
        a = triage.triage_report(report(FINDING, kind="budget", func="blk_mid"))
        b = triage.triage_report(report(FINDING, kind="budget", func="renamed_fn",
                                        root="/elsewhere"))
        c = triage.triage_report(report(FINDING, kind="budget", line=18))
        self.assertEqual(a.kind, "hang")
        self.assertEqual(a.hash, b.hash)      # same site, whatever the stack
        self.assertNotEqual(a.hash, c.hash)   # another loop site

    def test_kind_separates_bugs_in_one_function(self):
        assert_hash = triage.triage_report(report(FINDING, kind="assert")).hash
        reent_hash = triage.triage_report(report(FINDING, kind="reentrancy")).hash
        self.assertNotEqual(assert_hash, reent_hash)

    def test_ubsan_check_name(self):
        t = triage.triage_report(report(UBSAN))
        self.assertEqual(t.kind, "ubsan:integer-divide-by-zero")
        self.assertEqual([f.func for f in t.frames], ["blk_mid", "virtq_pop"])

    def test_leak(self):
        t = triage.triage_report(report(LEAK))
        self.assertEqual(t.kind, "leak")
        self.assertEqual(t.frames[0].func, "nvme_alloc")

    def test_clean_run(self):
        self.assertEqual(triage.triage_report("/x/in.bin: ok\n").kind, "")

    def test_harness_frames_when_no_device_frame(self):
        text = ("==1==ERROR: AddressSanitizer: SEGV on unknown address 0x0\n"
                "    #0 0x1 in prog_decode /w/harness/program/decode.c:5:1\n"
                "    #1 0x2 in LLVMFuzzerTestOneInput /w/harness/inproc/fuzz_x.c:4:1\n"
                "SUMMARY: AddressSanitizer: SEGV /w/harness/program/decode.c:5:1 in prog_decode\n")
        t = triage.triage_report(text)
        self.assertEqual(t.kind, "SEGV")
        self.assertEqual(t.frames[0].func, "prog_decode")


class Timeouts(unittest.TestCase):
    def sample(self, *funcs):
        lines = ["==1==ERROR: AddressSanitizer: ABRT on unknown address 0x1"]
        lines += [f"    #{i} 0x1 in {f} /w/targets/virtio/blk.c:{i}:1" for i, f in enumerate(funcs)]
        lines += ["    #9 0x1 in LLVMFuzzerTestOneInput /w/harness/inproc/fuzz.c:1:1"]
        return "\n".join(lines) + "\n"

    def test_hash_is_the_shared_loop(self):
        # interrupted in different callees of the looping function: same hash
        a = triage.triage_timeout([self.sample("memcpy_helper", "blk_loop", "virtq_pop", "bus"),
                                   self.sample("ring_read", "blk_loop", "virtq_pop", "bus")])
        b = triage.triage_timeout([self.sample("blk_loop", "virtq_pop", "bus"),
                                   self.sample("other_helper", "blk_loop", "virtq_pop", "bus")])
        self.assertEqual(a.kind, "timeout")
        self.assertEqual([f.func for f in a.frames], ["blk_loop", "virtq_pop", "bus"])
        self.assertEqual(a.hash, b.hash)


class ModelFramesFirst(unittest.TestCase):
    def test_dma_plumbing_frames_are_skipped(self):
        t = triage.triage_report(report(ASAN_VIA_DMA, func="blk_get_id"))
        self.assertEqual([f.func for f in t.frames],
                         ["elem_copy", "virtq_elem_write", "blk_get_id"])

    def test_two_models_overflowing_through_dma_hash_apart(self):
        a = triage.triage_report(report(ASAN_VIA_DMA, func="blk_get_id"))
        b = triage.triage_report(report(ASAN_VIA_DMA, func="blk_rw"))
        self.assertNotEqual(a.hash, b.hash)

    def test_common_frames_when_no_model_frame(self):
        only_common = ASAN_VIA_DMA.replace("targets/virtio/", "harness/inproc/")
        t = triage.triage_report(report(only_common))
        self.assertEqual([f.func for f in t.frames], ["dma_access", "hv_dma_write"])


if __name__ == "__main__":
    unittest.main()
