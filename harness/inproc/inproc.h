/*
 * In-process targets: every target is one small source defining
 * LLVMFuzzerTestOneInput over a shared host; the same object links with
 * libFuzzer, with the AFL++ persistent-mode main (afl_main.c) or with the
 * standalone replay main (replay_main.c).
 */
#ifndef HV_INPROC_H
#define HV_INPROC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "harness/host/hv_host.h"

/* The target's host, created on first use (exits with a clear message if
 * the target cannot be built). */
struct hv_host *hv_inproc_host(const char *target);

/* Run one input on `target` (what every LLVMFuzzerTestOneInput does). */
int hv_inproc_run(const char *target, const uint8_t *data, size_t size);

/* The target this binary was built for (the first hv_inproc_run call
 * names it; the replay main runs one empty input to learn it). */
const char *hv_inproc_target(void);

/* Set by the replay main before the first input: trace destination. */
void hv_inproc_set_trace(FILE *f);

/* Replay files and folders given on the command line (replay main, and the
 * AFL++ binary when given arguments). */
int hv_replay_main(int argc, char **argv);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer's structure-aware hooks over units (harness/inproc/mutator.h):
 * each target defines them with HV_DEFINE_UNIT_MUTATOR(its unit_len) when
 * built for libFuzzer. They mutate over units with HVFUZZ_MUTATOR=units in
 * the environment; otherwise (the default, until bench/bugbench shows the
 * unit mutator finds bugs sooner) they hand over to libFuzzer's own. */
#ifdef HV_ENGINE_LIBFUZZER
#include <stdlib.h>
#include <string.h>

#include "harness/inproc/mutator.h"
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max);
static inline int hv_unit_mutator_off(void)
{
    static int off = -1;

    if (off < 0) {
        const char *m = getenv("HVFUZZ_MUTATOR");
        off = !m || strcmp(m, "units");
    }
    return off;
}
#define HV_DEFINE_UNIT_MUTATOR(unit_len)                                       \
    size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,     \
                                   unsigned int seed);                         \
    size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max,     \
                                   unsigned int seed)                          \
    {                                                                          \
        if (hv_unit_mutator_off())                                             \
            return LLVMFuzzerMutate(data, size, max);                          \
        return hv_mutate_units(data, size, max, seed, unit_len,                \
                               LLVMFuzzerMutate);                              \
    }                                                                          \
    size_t LLVMFuzzerCustomCrossOver(const uint8_t *a, size_t asize,           \
                                     const uint8_t *b, size_t bsize,           \
                                     uint8_t *out, size_t max,                 \
                                     unsigned int seed);                       \
    size_t LLVMFuzzerCustomCrossOver(const uint8_t *a, size_t asize,           \
                                     const uint8_t *b, size_t bsize,           \
                                     uint8_t *out, size_t max,                 \
                                     unsigned int seed)                        \
    {                                                                          \
        return hv_crossover_units(a, asize, b, bsize, out, max, seed,          \
                                  hv_unit_mutator_off() ? NULL : unit_len);    \
    }
#else
#define HV_DEFINE_UNIT_MUTATOR(unit_len)
#endif

#endif
