/* Shared bits of hvfuzz-asm and hvfuzz-disasm (host side). */
#ifndef HV_TOOL_COMMON_H
#define HV_TOOL_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/program/hv_program.h"

/* Read a whole file ("-" = stdin). Returns malloc'd bytes (NUL-terminated,
 * not counted in *len) or NULL with a message on stderr. */
static inline char *hv_tool_read(const char *prog, const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (cap - n < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    int err = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!buf || err) {
        fprintf(stderr, "%s: %s: %s\n", prog, path,
                buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static inline int hv_tool_write(const char *prog, const char *path,
                                const void *p, size_t n)
{
    FILE *f = (path && strcmp(path, "-")) ? fopen(path, "wb") : stdout;
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    size_t w = fwrite(p, 1, n, f);
    int bad = w != n || fflush(f) != 0;
    if (f != stdout)
        bad |= fclose(f) != 0;
    if (bad) {
        fprintf(stderr, "%s: %s: write error\n", prog, path ? path : "<stdout>");
        return -1;
    }
    return 0;
}

static inline void hv_tool_list_targets(FILE *f)
{
    for (unsigned i = 0; hv_layouts[i]; i++)
        fprintf(f, "%s%s", i ? " " : "", hv_layouts[i]->target);
    fprintf(f, "\n");
}

#endif
