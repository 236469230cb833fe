/*
 * AFL++ custom mutator library (AFL_CUSTOM_MUTATOR_LIBRARY, AFL++ 4.x
 * afl_custom_* API) with the unit-aware mutations of mutator.c; AFL++ keeps
 * its own mutations too. Units: a TPM command stream for the native TPM
 * targets (HVFUZZ_UNITS=tpm, set by hvfuzz fuzz), program ops otherwise.
 */
#include <stdlib.h>
#include <string.h>

#include "harness/inproc/mutator.h"
#include "targets/tpm/tpm_stream.h"

struct afl_mutator {
    hv_unit_len_fn unit_len;
    unsigned seed;
    uint8_t *out;
    size_t cap;
};

void *afl_custom_init(void *afl, unsigned int seed);
size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size,
                       uint8_t **out_buf, uint8_t *add_buf, size_t add_buf_size,
                       size_t max_size);
void afl_custom_deinit(void *data);

static size_t tpm_unit_len(const uint8_t *p, size_t n)
{
    return tpm_stream_next(p, n);
}

static struct afl_mutator *the_mutator; /* for the byte-level callback */

static size_t bytes(uint8_t *buf, size_t size, size_t max)
{
    return hv_mutate_bytes_fallback(buf, size, max, the_mutator->seed++);
}

void *afl_custom_init(void *afl, unsigned int seed)
{
    struct afl_mutator *m = calloc(1, sizeof(*m));
    const char *units = getenv("HVFUZZ_UNITS");

    (void)afl;
    if (!m)
        return NULL;
    m->unit_len = units && !strcmp(units, "tpm") ? tpm_unit_len
                                                  : hv_program_unit_len;
    m->seed = seed;
    return m;
}

size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size,
                       uint8_t **out_buf, uint8_t *add_buf, size_t add_buf_size,
                       size_t max_size)
{
    struct afl_mutator *m = data;
    size_t n;

    if (m->cap < max_size) {
        uint8_t *p = realloc(m->out, max_size);

        if (!p) {
            *out_buf = buf;
            return buf_size;
        }
        m->out = p;
        m->cap = max_size;
    }
    the_mutator = m;
    if (add_buf && add_buf_size && (m->seed & 7) == 0) {
        n = hv_crossover_units(buf, buf_size, add_buf, add_buf_size, m->out,
                               max_size, m->seed++, m->unit_len);
    } else {
        n = buf_size < max_size ? buf_size : max_size;
        memcpy(m->out, buf, n);
        n = hv_mutate_units(m->out, n, max_size, m->seed++, m->unit_len, bytes);
    }
    *out_buf = m->out;
    return n;
}

void afl_custom_deinit(void *data)
{
    struct afl_mutator *m = data;

    if (m)
        free(m->out);
    free(m);
}
