/*
 * The text form: binary -> text -> binary is exact for random byte strings;
 * text -> binary -> text is a fixpoint on every seed; the syntax of each op;
 * error messages carry file:line:column.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/program/hv_text.h"
#include "hv_test.h"
#include "ptest.h"

#ifndef HV_SEEDS_DIR
#error "HV_SEEDS_DIR must be defined"
#endif

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    return hv_test_xorshift(&rng_state);
}
static unsigned rndn(unsigned n) { return (unsigned)(rnd() % n); }

static const struct hv_layout *L;

/* asm text, expecting success */
static uint8_t *as(const char *text, size_t *n)
{
    char err[512];
    uint8_t *b = hv_asm(L, "t.hvf", text, strlen(text), n, err, sizeof err);
    if (!b)
        fprintf(stderr, "unexpected asm error: %s\n  in: %s\n", err, text);
    return b;
}

/* asm `text` and compare with the expected bytes */
static void check_bytes(const char *text, const uint8_t *want, size_t wn)
{
    size_t n = 0;
    uint8_t *b = as(text, &n);
    CHECK(b != NULL);
    if (!b)
        return;
    CHECK_EQ(n, wn);
    if (n == wn && wn && memcmp(b, want, n)) {
        CHECK(!"bytes differ");
        fprintf(stderr, "  for: %s\n", text);
    }
    free(b);
}

/* asm `text`, expecting this error message */
static void check_error(const char *text, const char *want)
{
    char err[512];
    size_t n;
    uint8_t *b = hv_asm(L, "t.hvf", text, strlen(text), &n, err, sizeof err);
    CHECK(b == NULL);
    free(b);
    if (strncmp(err, want, strlen(want))) {
        CHECK(!"error message");
        fprintf(stderr, "  want: %s\n  got:  %s\n", want, err);
    }
}

/* bin -> text -> bin must be exact; returns the text (caller frees) */
static char *roundtrip(const uint8_t *b, size_t n, bool *ok)
{
    char *t = hv_disasm(L, b, n);
    *ok = false;
    if (!t)
        return NULL;
    char err[512];
    size_t m;
    uint8_t *b2 = hv_asm(L, "disasm", t, strlen(t), &m, err, sizeof err);
    if (!b2) {
        fprintf(stderr, "disasm output does not assemble: %s\n%s\n", err, t);
        return t;
    }
    *ok = m == n && memcmp(b, b2, n) == 0;
    if (!*ok)
        fprintf(stderr, "round trip differs (%zu vs %zu bytes):\n%s\n", n, m, t);
    free(b2);
    return t;
}

static void test_syntax(void)
{
    /* one example per op, as documented in text.c */
    check_bytes("mmio_read bar4 0x14 1", (const uint8_t[]){1, 0, 0x14, 0, 0, 0, 1}, 7);
    check_bytes("mmio_write bar4 0x14 1 0x3",
                (const uint8_t[]){2, 0, 0x14, 0, 0, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0}, 15);
    check_bytes("mmio_write bar1 0xc 4 0xffffffffffffffff",
                (const uint8_t[]){2, 1, 0xc, 0, 0, 0, 4, 255, 255, 255, 255, 255, 255, 255, 255}, 15);
    check_bytes("pio_read bar0 0x12 1", (const uint8_t[]){3, 0, 0x12, 0, 1}, 5);
    check_bytes("pio_write 7 0x12 2 0xbeef", (const uint8_t[]){4, 7, 0x12, 0, 2, 0xef, 0xbe, 0, 0}, 9);
    check_bytes("pci_cfg_read vblk 0x4 2", (const uint8_t[]){5, 0, 4, 2}, 4);
    check_bytes("pci_cfg_write vblk 0x04 2 0x107", (const uint8_t[]){6, 0, 4, 2, 7, 1, 0, 0}, 8);
    check_bytes("dma_write 0x10000 hex:0011aa",
                (const uint8_t[]){7, 0, 0, 1, 0, 3, 0, 0, 0x11, 0xaa}, 10);
    check_bytes("dma_write 0 \"a b\\n\\x01\"+0x07*3+le16:0x1234+le32:1+le64:2",
                (const uint8_t[]){7, 0, 0, 0, 0, 22, 0, 'a', ' ', 'b', '\n', 1, 7, 7, 7,
                                  0x34, 0x12, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0}, 29);
    check_bytes("dma_fill 0x10000 512 0xaa", (const uint8_t[]){8, 0, 0, 1, 0, 0, 2, 0xaa}, 8);
    check_bytes("clock_advance 1000000", (const uint8_t[]){9, 0x40, 0x42, 0x0f, 0}, 5);
    check_bytes("rx_inject hex:ffff", (const uint8_t[]){0x0a, 2, 0, 0xff, 0xff}, 5);
    check_bytes("virtq_setup features=0x30006e54 queues=1 size=256",
                (const uint8_t[]){0x10, 0x54, 0x6e, 0, 0x30, 0, 0, 1}, 8);
    check_bytes("virtq_setup", (const uint8_t[]){0x10, 0, 0, 0, 0, 0, 0, 0}, 8);
    check_bytes("virtq_setup queues=256 size=max", (const uint8_t[]){0x10, 0, 0, 0, 0, 255, 0, 0}, 8);
    check_bytes("virtq_submit vq=1 out=16,512 in=1 data=hex:aabb indirect nokick",
                (const uint8_t[]){0x11, 1, 3, 2, 1, 16, 0, 0, 2, 1, 0, 2, 0, 0xaa, 0xbb}, 15);
    check_bytes("virtq_submit flags=0xf8 noint", (const uint8_t[]){0x11, 0, 0xfc, 0, 0, 0, 0}, 7);
    check_bytes("virtq_submit in=0,2,3",
                (const uint8_t[]){0x11, 0, 0, 0, 3, 0, 0, 2, 0, 3, 0, 0, 0}, 13);
    check_bytes(".bytes ff 0201  # raw", (const uint8_t[]){0xff, 2, 1}, 3);
    check_bytes(".target virtio-blk\n\n  # only comments\n", NULL, 0);
    check_bytes("mmio_read bar4 0x14 1 # c\nmmio_read 1 0 8\r\n",
                (const uint8_t[]){1, 0, 0x14, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 8}, 14);

    /* convenience directives */
    check_bytes("blk_read sector=2048",
                (const uint8_t[]){0x11, 0, 0, 1, 2, 16, 0, 0, 2, 1, 0, 16, 0,
                                  0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0}, 29);
    check_bytes("blk_write sector=1 data=hex:aabbcc vq=2 nokick",
                (const uint8_t[]){0x11, 2, 2, 2, 1, 16, 0, 3, 0, 1, 0, 19, 0,
                                  1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                                  0xaa, 0xbb, 0xcc}, 32);
    check_bytes("blk_flush",
                (const uint8_t[]){0x11, 0, 0, 1, 1, 16, 0, 1, 0, 16, 0,
                                  4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 27);
    check_bytes("blk_get_id",
                (const uint8_t[]){0x11, 0, 0, 1, 2, 16, 0, 20, 0, 1, 0, 16, 0,
                                  8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 29);
    check_bytes("blk_discard sector=16 num=8",
                (const uint8_t[]){0x11, 0, 0, 2, 1, 16, 0, 16, 0, 1, 0, 32, 0,
                                  11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                  16, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0}, 45);
    check_bytes("blk_write_zeroes sector=16 num=8 unmap",
                (const uint8_t[]){0x11, 0, 0, 2, 1, 16, 0, 16, 0, 1, 0, 32, 0,
                                  13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                  16, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0}, 45);
    check_bytes("blk_req type=0x99 sector=3 out=2 in=4 data=hex:ee",
                (const uint8_t[]){0x11, 0, 0, 2, 1, 16, 0, 2, 0, 4, 0, 17, 0,
                                  0x99, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0,
                                  0xee}, 30);
}

static void test_errors(void)
{
    check_error("bogus 1 2", "t.hvf:1:1: error: unknown op 'bogus'");
    check_error("\n  mmio_read bar9 0 1", "t.hvf:2:13: error: unknown mmio region 'bar9'");
    check_error("mmio_read bar4 0x1g 1", "t.hvf:1:16: error: expected a number");
    check_error("mmio_read bar4 0 1 2", "t.hvf:1:20: error: too many operands");
    check_error("mmio_read bar4 0", "t.hvf:1:17: error: missing operand");
    check_error("pio_read bar0 0x10000 1", "t.hvf:1:15: error: offset 0x10000 out of range");
    check_error("pci_cfg_read vblk 0x100 1", "t.hvf:1:19: error: offset 0x100 out of range");
    check_error("pci_cfg_read nodev 0 1", "t.hvf:1:14: error: unknown device 'nodev'");
    check_error("dma_write 0 hex:123", "t.hvf:1:17: error: odd number of hex digits");
    check_error("dma_write 0 hex:zz", "t.hvf:1:17: error: bad hex digit");
    check_error("dma_write 0 \"abc", "t.hvf:1:13: error: unterminated string");
    check_error("dma_write 0 0xaa*65536", "t.hvf:1:18: error: count 65536 out of range");
    check_error("dma_write 0 0xff*40000+0xff*40000", "t.hvf:1:13: error: data longer than 65535");
    check_error("dma_write 0 foo", "t.hvf:1:13: error: bad data item 'foo'");
    check_error("dma_write 0 hex:00+", "t.hvf:1:20: error: expected a data item");
    check_error("virtq_setup queues=0", "t.hvf:1:20: error: queues must be 1..256");
    check_error("virtq_setup bogus=1", "t.hvf:1:13: error: unknown virtq_setup option");
    check_error("virtq_submit out=1,2,3,4,5,6,7,8", "t.hvf:1:32: error: too many segments");
    check_error("virtq_submit out", "t.hvf:1:14: error: 'out' needs a value");
    check_error("virtq_submit indirect=1", "t.hvf:1:14: error: 'indirect' takes no value");
    check_error("virtq_submit vq=256", "t.hvf:1:17: error: vq 256 out of range");
    check_error("blk_read", "t.hvf:1:1: error: blk_read needs sector=");
    check_error("blk_write sector=0", "t.hvf:1:1: error: blk_write needs data=");
    check_error("blk_read sector=0 num=3", "t.hvf:1:19: error: unknown blk_read option 'num=3'");
    check_error("blk_bogus", "t.hvf:1:1: error: unknown directive 'blk_bogus'");
    check_error(".target nvme", "t.hvf:1:9: error: program is for target 'nvme'");
    check_error("mmio_write bar4 0 1 0x10000000000000000", "t.hvf:1:21: error: value '0x10000000000000000' is too large");
    char nul[] = "mmio_read bar4 0 1\0";
    char err[256];
    size_t n;
    CHECK(hv_asm(L, "z", nul, sizeof nul - 1, &n, err, sizeof err) == NULL);
    CHECK(!strncmp(err, "z:1:19: error: NUL byte", 23));
    /* errsz 0 is allowed */
    CHECK(hv_asm(L, "z", "bogus", 5, &n, NULL, 0) == NULL);
}

static void test_disasm_forms(void)
{
    /* names for raw index < count, numbers otherwise; annotations */
    const uint8_t p1[] = {1, 0, 0x14, 0, 0, 0, 1, 1, 2, 0x14, 0, 0, 0, 1,
                          5, 0, 4, 2, 5, 3, 0x35, 5};
    char *t = hv_disasm(L, p1, sizeof p1);
    CHECK(t && strstr(t, ".target virtio-blk\n"));
    CHECK(t && strstr(t, "mmio_read bar4 0x14 1  # common.device_status\n"));
    CHECK(t && strstr(t, "mmio_read 2 0x14 1  # -> bar4+0x14/1 common.device_status\n"));
    CHECK(t && strstr(t, "pci_cfg_read vblk 0x4 2  # command\n"));
    CHECK(t && strstr(t, "pci_cfg_read 3 0x35 5  # -> vblk 0x34/4 capabilities_ptr\n"));
    free(t);
    /* raw counts above 7: .bytes with a comment; unassigned runs merged;
     * a truncated tail */
    const uint8_t p2[] = {0x11, 0, 0, 0x09, 0x08, 16, 0, 0, 0, 0xee, 0xfe, 0x00, 0x02, 1};
    bool ok;
    t = roundtrip(p2, sizeof p2, &ok);
    CHECK(ok);
    CHECK(t && strstr(t, ".bytes 110000090810000000  # raw nout=0x09 nin=0x08: virtq_submit vq=0 out=16\n"));
    CHECK(t && strstr(t, ".bytes eefe00  # unassigned opcodes, skipped\n"));
    CHECK(t && strstr(t, ".bytes 0201  # truncated mmio_write: the program ends here\n"));
    free(t);
    /* data runs of 16+ bytes are compressed */
    uint8_t p3[7 + 40];
    memcpy(p3, (const uint8_t[]){7, 0, 0, 0, 0, 40, 0}, 7);
    memset(p3 + 7, 0, 40);
    p3[7] = 1;
    p3[46] = 2;
    t = roundtrip(p3, sizeof p3, &ok);
    CHECK(ok);
    CHECK(t && strstr(t, "dma_write 0x0 hex:01+0x00*38+hex:02\n"));
    free(t);
    /* blk directives disassemble to the generic form (with a blk comment) */
    size_t n;
    uint8_t *b = as("blk_read sector=2048 len=4096", &n);
    t = b ? hv_disasm(L, b, n) : NULL;
    CHECK(t && strstr(t, "virtq_submit vq=0 out=16 in=4096,1 data=hex:00000000000000000008000000000000"));
    free(t);
    free(b);
    /* hv_disasm_op */
    struct hv_op op;
    CHECK_EQ(hv_op_decode(p2, sizeof p2, &op), 9);
    t = hv_disasm_op(L, &op);
    CHECK(t && !strcmp(t, "virtq_submit vq=0 out=16  # raw nout=0x09 nin=0x08"));
    free(t);
    CHECK_EQ(hv_op_decode(p2 + 10, 1, &op), 1);
    t = hv_disasm_op(L, &op);
    CHECK(t && !strcmp(t, ".bytes fe  # unassigned opcode, skipped"));
    free(t);
}

/* Random programs: op-shaped or plain random bytes. */
static size_t gen(uint8_t *b, size_t cap)
{
    static const uint8_t codes[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0x10, 0x11,
                                    0x20, 0x21};
    size_t n = 0;
    if (rndn(3) == 0) {
        size_t len = rndn(128);
        for (; n < len && n < cap; n++)
            b[n] = (uint8_t)rnd();
        return n;
    }
    unsigned nops = rndn(16);
    for (unsigned k = 0; k < nops && n + 64 <= cap; k++) {
        uint8_t c = rndn(8) ? codes[rndn(sizeof codes)] : (uint8_t)rnd();
        b[n++] = c;
        unsigned extra = 14;
        for (unsigned i = 0; i < extra; i++)
            b[n + i] = (uint8_t)rnd();
        if (c == 7 || c == 10) { /* small data length */
            unsigned at = c == 7 ? 4 : 0;
            b[n + at] = (uint8_t)rndn(rndn(4) ? 8 : 64);
            b[n + at + 1] = 0;
            if (rndn(3) == 0) /* runs */
                for (unsigned i = 0; i < 14 - at - 2; i++)
                    b[n + at + 2 + i] = 0;
        }
        if (c == 0x11) {
            b[n + 2] = (uint8_t)(rndn(6) ? rndn(3) : rnd());
            b[n + 3] = (uint8_t)(rndn(6) ? rndn(3) : rnd());
            unsigned nseg = (b[n + 2] & 7u) + (b[n + 3] & 7u);
            for (unsigned i = 0; i <= nseg && 4 + 2 * i + 1 < 40; i++) {
                b[n + 4 + 2 * i] = (uint8_t)rnd();
                b[n + 5 + 2 * i] = rndn(4) ? 0 : (uint8_t)rnd();
            }
            /* dlen */
            size_t dl = n + 4 + 2 * nseg;
            b[dl] = (uint8_t)rndn(6);
            b[dl + 1] = 0;
            extra = (unsigned)(dl + 2 - n) + b[dl];
            for (size_t i = dl + 2; i < n + extra; i++)
                b[i] = (uint8_t)rnd();
        }
        n += rndn(extra + 1);
    }
    return n;
}

static void test_random_roundtrip(void)
{
    uint8_t buf[4096];
    unsigned bad = 0;
    for (unsigned it = 0; it < 40000; it++) {
        size_t n = gen(buf, sizeof buf);
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, buf, n);
        bool ok;
        char *t = roundtrip(p, n, &ok);
        if (!ok && bad++ < 3)
            CHECK(ok);
        /* text -> bin -> text is a fixpoint too */
        if (ok && t) {
            size_t m;
            char err[256];
            uint8_t *b2 = hv_asm(L, "t", t, strlen(t), &m, err, sizeof err);
            char *t2 = b2 ? hv_disasm(L, b2, m) : NULL;
            if (!t2 || strcmp(t, t2))
                bad++;
            free(t2);
            free(b2);
        }
        free(t);
        free(p);
    }
    CHECK_EQ(bad, 0);
}

/* Every seed assembles; disasm of it reassembles to the same bytes; and
 * disasm is a fixpoint from there; made of canonical ops only (no .bytes
 * needed), with a header comment. */
static void check_seed(const char *path, const char *text, const uint8_t *bin,
                       size_t n, void *arg)
{
    const struct hv_layout *l = arg;
    CHECK(n > 0);
    CHECK(ptest_roundtrip(l, bin, n));
    char *t = hv_disasm(l, bin, n);
    CHECK(t && !strstr(t, ".bytes"));
    free(t);
    if (!strstr(text, "# ")) {
        fprintf(stderr, "%s: no header comment\n", path);
        CHECK(!"seed has a header comment");
    }
}

static void test_seeds(void)
{
    unsigned total = 0, virtio = 0;
    for (unsigned ti = 0; hv_layouts[ti]; ti++) {
        const struct hv_layout *l = hv_layouts[ti];
        unsigned n = ptest_each_seed(l, check_seed, (void *)l);
        total += n;
        virtio += l == L ? n : 0;
    }
    printf("seeds: %u, %u for virtio-blk\n", total, virtio);
    CHECK(virtio >= 10);
}
int main(void)
{
    L = hv_layout_find("virtio-blk");
    CHECK(L != NULL);
    if (!L)
        return hv_test_done("test_program_text");
    test_syntax();
    test_errors();
    test_disasm_forms();
    test_random_roundtrip();
    test_seeds();
    return hv_test_done("test_program_text");
}
