/*
 * hvfuzz-serve: serve a device model to a vhost-user front-end (QEMU), so
 * a real guest driver drives the same model code the fuzz targets run.
 */
#ifndef HV_SERVE_H
#define HV_SERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "targets/common/hv_backend.h"

/* "hvfuzz-serve: <message>" on stderr. */
void serve_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern bool serve_verbose;
/* "hvfuzz-serve: error: <message>" on stderr; returns -1. */
int serve_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* serve_sock.c: a listening unix socket at `path` (a stale socket file of
 * a server that is gone is replaced; a live one, a missing directory or a
 * non-socket file is an error, printed), or -1. */
int serve_listen(const char *path);
/* SIGINT and SIGTERM as a signalfd (blocked for the process), SIGPIPE
 * ignored; -1 on failure. */
int serve_signal_fd(void);

/* Disk image file (regular file, size a non-zero multiple of 512): reads
 * and writes with pread/pwrite, flush = fdatasync, discard = punch a hole
 * (or write zeroes). NULL with a message in err. */
struct hv_blk *serve_blk_file_open(const char *path, bool read_only,
                                   char *err, size_t errlen);
/* Fault injection for tests of the test: a backend whose reads return the
 * first byte of every 512-byte sector with its low bit flipped. Takes
 * `inner` over; NULL when out of memory (inner destroyed). */
struct hv_blk *serve_blk_flip_reads(struct hv_blk *inner);

#endif
