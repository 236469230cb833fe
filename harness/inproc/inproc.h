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

#endif
