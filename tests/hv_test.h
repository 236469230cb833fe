/* Minimal unit-test helpers: CHECK counts failures, hv_test_done() prints
 * the summary and returns the exit code. No framework dependency. */
#ifndef HV_TEST_H
#define HV_TEST_H
#include <stdint.h>
#include <stdio.h>

static int hv_test_failures, hv_test_checks;

#define CHECK(cond)                                                            \
    do {                                                                       \
        hv_test_checks++;                                                      \
        if (!(cond)) {                                                         \
            hv_test_failures++;                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
        }                                                                      \
    } while (0)

#define CHECK_EQ(a, b)                                                         \
    do {                                                                       \
        unsigned long long va_ = (unsigned long long)(a),                      \
                           vb_ = (unsigned long long)(b);                      \
        hv_test_checks++;                                                      \
        if (va_ != vb_) {                                                      \
            hv_test_failures++;                                                \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (0x%llx != 0x%llx)\n", \
                    __FILE__, __LINE__, #a, #b, va_, vb_);                     \
        }                                                                      \
    } while (0)

/* Deterministic xorshift64 for randomized tests (fixed seeds: a failure
 * replays). */
static inline uint64_t hv_test_xorshift(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static inline int hv_test_done(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, hv_test_checks, hv_test_failures);
    return hv_test_failures ? 1 : 0;
}
#endif
