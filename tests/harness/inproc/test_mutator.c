/* The unit-aware mutator keeps units whole: every mutation of a program made
 * of known ops (with the byte-level step a no-op) yields a sequence of the
 * original ops; crossover joins a prefix of one program's ops to a suffix of
 * the other's; nothing exceeds the capacity. */
#include <string.h>

#include "harness/inproc/mutator.h"
#include "harness/program/hv_program.h"
#include "tests/hv_test.h"

static size_t no_bytes(uint8_t *buf, size_t size, size_t max)
{
    (void)buf;
    (void)max;
    return size;
}

/* Three distinct ops: a config read, an MMIO write, a DMA fill. */
static const uint8_t ops[3][16] = {
    {0x05, 0x08, 0x00, 0x04},
    {0x02, 0x00, 0x10, 0x00, 0x00, 0x00, 0x04, 1, 0, 0, 0, 0, 0, 0, 0},
    {0x08, 0x00, 0x20, 0x00, 0x00, 0x10, 0x00, 0xaa},
};

static size_t op_len(unsigned k)
{
    return hv_program_unit_len(ops[k], sizeof(ops[k]));
}

/* Is p[0..n) a sequence of whole ops of the table? */
static bool whole_ops(const uint8_t *p, size_t n, unsigned *count)
{
    *count = 0;
    while (n) {
        unsigned k = 0;

        while (k < 3 && !(op_len(k) <= n && !memcmp(p, ops[k], op_len(k))))
            k++;
        if (k == 3)
            return false;
        p += op_len(k);
        n -= op_len(k);
        ++*count;
    }
    return true;
}

int main(void)
{
    uint8_t prog[256], buf[512], out[512];
    size_t len = 0;
    unsigned changed = 0, count;

    for (unsigned i = 0; i < 6; i++) {
        memcpy(prog + len, ops[i % 3], op_len(i % 3));
        len += op_len(i % 3);
    }
    CHECK(whole_ops(prog, len, &count) && count == 6);
    for (unsigned seed = 1; seed < 2000; seed++) {
        size_t n;

        memcpy(buf, prog, len);
        n = hv_mutate_units(buf, len, sizeof(buf), seed, hv_program_unit_len,
                            no_bytes);
        CHECK(n <= sizeof(buf));
        CHECK(whole_ops(buf, n, &count));
        changed += n != len || memcmp(buf, prog, len);
        n = hv_crossover_units(prog, len, buf, n, out, sizeof(out), seed,
                               hv_program_unit_len);
        CHECK(whole_ops(out, n, &count));
    }
    CHECK(changed > 500); /* unit steps (3 in 8) change something */
    {   /* capacity respected even when duplicating into a full buffer */
        size_t n;

        memcpy(buf, prog, len);
        for (unsigned seed = 1; seed < 500; seed++) {
            n = hv_mutate_units(buf, len, len, seed, hv_program_unit_len, no_bytes);
            CHECK(n <= len);
        }
    }
    return hv_test_done("test_mutator");
}
