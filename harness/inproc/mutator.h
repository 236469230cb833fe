/*
 * Structure-aware mutation: an input is a sequence of units (the ops of a
 * program, DESIGN.md "The input format"; the commands of a TPM command
 * stream). Besides byte-level mutation inside one unit, units are deleted,
 * duplicated, swapped and moved whole, and spliced between inputs at unit
 * boundaries, so a mutation rarely turns a well-formed op into the
 * operands of its neighbour. Engine-independent: libFuzzer's
 * LLVMFuzzerCustomMutator / CustomCrossOver and AFL++'s custom mutator
 * library call it.
 */
#ifndef HV_MUTATOR_H
#define HV_MUTATOR_H

#include <stddef.h>
#include <stdint.h>

/* Length of the unit at p (n > 0 bytes left): 1..n. */
typedef size_t (*hv_unit_len_fn)(const uint8_t *p, size_t n);

/* Byte-level mutation of buf[0..size) in place, at most max bytes; returns
 * the new size (libFuzzer's LLVMFuzzerMutate, or a fallback). */
typedef size_t (*hv_byte_mutate_fn)(uint8_t *buf, size_t size, size_t max);

/* Units of a program (harness/program: hv_op_decode). */
size_t hv_program_unit_len(const uint8_t *p, size_t n);

/* Mutate data[0..size) in place (capacity max); returns the new size. */
size_t hv_mutate_units(uint8_t *data, size_t size, size_t max, unsigned seed,
                       hv_unit_len_fn unit_len, hv_byte_mutate_fn bytes);

/* A prefix of units of a, then a suffix of units of b, into out (capacity
 * max); returns its size. unit_len NULL: cut at any byte. */
size_t hv_crossover_units(const uint8_t *a, size_t asize, const uint8_t *b,
                          size_t bsize, uint8_t *out, size_t max, unsigned seed,
                          hv_unit_len_fn unit_len);

/* Simple byte mutations for engines that bring none (AFL++'s library
 * interface gives us only the buffer): flip, set, insert, erase. */
size_t hv_mutate_bytes_fallback(uint8_t *buf, size_t size, size_t max,
                                unsigned seed);
#endif
