/*
 * How a native TPM fuzz input (tpm-cmd, tpm-diff) splits into commands: a
 * stream of TPM 2.0 command buffers, each as long as its header's
 * commandSize (TPM 2.0 Part 1, 18.2: tag:u16 commandSize:u32 commandCode:
 * u32, big-endian). A size below the header or beyond the bytes left makes
 * the rest of the input one command, sent as it is (the parser's business),
 * so one raw buffer, as libtpms's own fuzzer takes it, is a valid input.
 */
#ifndef HV_TPM_STREAM_H
#define HV_TPM_STREAM_H
#include <stddef.h>
#include <stdint.h>

#define TPM_STREAM_HEADER 10u

/* Length of the command at p (n > 0 bytes left): 1..n. */
static inline size_t tpm_stream_next(const uint8_t *p, size_t n)
{
    uint32_t size;

    if (n < TPM_STREAM_HEADER)
        return n;
    size = (uint32_t)p[2] << 24 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 8 | p[5];
    return size < TPM_STREAM_HEADER || size > n ? n : size;
}
#endif
