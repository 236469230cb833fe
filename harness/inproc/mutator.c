/* Structure-aware mutation over units: see mutator.h. */
#include "harness/inproc/mutator.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "harness/program/hv_program.h"

#define MAX_UNITS 512u /* units looked at; the rest of an input stays as is */

struct span {
    size_t off, len;
};

/* xorshift32: a private generator per call, seeded by the engine. */
static uint32_t next_rand(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9e3779b9u;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static size_t below(uint32_t *s, size_t n)
{
    return n ? next_rand(s) % n : 0;
}

size_t hv_program_unit_len(const uint8_t *p, size_t n)
{
    struct hv_op op;
    size_t len = hv_op_decode(p, n, &op);

    return len ? len : n; /* a cut-off op: the rest is one unit */
}

static size_t split(const uint8_t *data, size_t size, hv_unit_len_fn unit_len,
                    struct span *units)
{
    size_t n = 0, pos = 0;

    while (pos < size && n < MAX_UNITS) {
        size_t len = unit_len(data + pos, size - pos);

        if (len == 0 || len > size - pos)
            len = size - pos;
        units[n++] = (struct span){pos, len};
        pos += len;
    }
    if (pos < size && n) /* the tail beyond MAX_UNITS joins the last unit */
        units[n - 1].len = size - units[n - 1].off;
    return n;
}

/* Replace data[off..off+old) by repl[0..len) (repl may alias data only if
 * it lies outside that range); false if it would not fit. */
static bool splice(uint8_t *data, size_t *size, size_t max, size_t off,
                   size_t old, const uint8_t *repl, size_t len)
{
    if (*size - old + len > max)
        return false;
    memmove(data + off + len, data + off + old, *size - off - old);
    memcpy(data + off, repl, len);
    *size = *size - old + len;
    return true;
}

static size_t mutate_inside(uint8_t *data, size_t size, size_t max,
                            const struct span *u, hv_byte_mutate_fn bytes)
{
    uint8_t unit[4096];
    size_t room = max - size + u->len, cap, len;

    /* keep the opcode / header: mutate the operands of this unit */
    if (u->len < 2 || u->len > sizeof(unit))
        return bytes(data, size, max);
    cap = room < sizeof(unit) ? room : sizeof(unit);
    memcpy(unit, data + u->off, u->len);
    len = 1 + bytes(unit + 1, u->len - 1, cap - 1);
    return splice(data, &size, max, u->off, u->len, unit, len) ? size
                                                             : bytes(data, size, max);
}

static size_t duplicate(uint8_t *data, size_t size, size_t max,
                        const struct span *units, size_t n, uint32_t *rng)
{
    const struct span *u = &units[below(rng, n)];
    size_t at = below(rng, n + 1);
    size_t off = at < n ? units[at].off : size;
    uint8_t copy[4096];

    if (u->len > sizeof(copy) || size + u->len > max)
        return size;
    memcpy(copy, data + u->off, u->len);
    splice(data, &size, max, off, 0, copy, u->len);
    return size;
}

static size_t erase(uint8_t *data, size_t size, const struct span *u)
{
    memmove(data + u->off, data + u->off + u->len, size - u->off - u->len);
    return size - u->len;
}

/* Swap units i < j by rebuilding the range they span. */
static size_t swap(uint8_t *data, size_t size, const struct span *units,
                   size_t i, size_t j)
{
    const struct span *a = &units[i], *b = &units[j];
    size_t mid = b->off - (a->off + a->len), total = b->off + b->len - a->off;
    uint8_t *tmp = malloc(total);

    if (!tmp)
        return size;
    memcpy(tmp, data + b->off, b->len);
    memcpy(tmp + b->len, data + a->off + a->len, mid);
    memcpy(tmp + b->len + mid, data + a->off, a->len);
    memcpy(data + a->off, tmp, total);
    free(tmp);
    return size;
}

size_t hv_mutate_units(uint8_t *data, size_t size, size_t max, unsigned seed,
                       hv_unit_len_fn unit_len, hv_byte_mutate_fn bytes)
{
    struct span units[MAX_UNITS];
    uint32_t rng = seed;
    size_t n = split(data, size, unit_len, units), i, j;

    if (n < 2)
        return bytes(data, size, max);
    switch (below(&rng, 8)) {
    case 0:
    case 1:
    case 2: /* the engine's own byte-level mutations, anywhere */
        return bytes(data, size, max);
    case 3:
    case 4:
        return mutate_inside(data, size, max, &units[below(&rng, n)], bytes);
    case 5:
        return duplicate(data, size, max, units, n, &rng);
    case 6:
        return erase(data, size, &units[below(&rng, n)]);
    default:
        i = below(&rng, n);
        j = below(&rng, n);
        if (i == j)
            return duplicate(data, size, max, units, n, &rng);
        return swap(data, size, units, i < j ? i : j, i < j ? j : i);
    }
}

size_t hv_crossover_units(const uint8_t *a, size_t asize, const uint8_t *b,
                          size_t bsize, uint8_t *out, size_t max, unsigned seed,
                          hv_unit_len_fn unit_len)
{
    struct span ua[MAX_UNITS], ub[MAX_UNITS];
    uint32_t rng = seed;
    size_t cut_a, cut_b, len_a, len_b;

    if (unit_len) {
        size_t na = split(a, asize, unit_len, ua), nb = split(b, bsize, unit_len, ub);

        cut_a = na ? ua[below(&rng, na)].off : 0;
        cut_b = nb ? ub[below(&rng, nb)].off : 0;
    } else { /* any byte boundary */
        cut_a = below(&rng, asize + 1);
        cut_b = below(&rng, bsize + 1);
    }
    len_a = cut_a < max ? cut_a : max;
    len_b = bsize - cut_b < max - len_a ? bsize - cut_b : max - len_a;

    memcpy(out, a, len_a);
    memcpy(out + len_a, b + cut_b, len_b);
    return len_a + len_b;
}

size_t hv_mutate_bytes_fallback(uint8_t *buf, size_t size, size_t max,
                                unsigned seed)
{
    uint32_t rng = seed;
    size_t at = below(&rng, size ? size : 1);

    switch (below(&rng, 4)) {
    case 0:
        if (size)
            buf[at] ^= (uint8_t)(1u << below(&rng, 8));
        return size;
    case 1:
        if (size)
            buf[at] = (uint8_t)next_rand(&rng);
        return size;
    case 2:
        if (size >= max)
            return size;
        memmove(buf + at + 1, buf + at, size - at);
        buf[at] = (uint8_t)next_rand(&rng);
        return size + 1;
    default:
        if (size <= 1)
            return size;
        memmove(buf + at, buf + at + 1, size - at - 1);
        return size - 1;
    }
}
