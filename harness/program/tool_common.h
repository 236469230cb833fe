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

struct hv_tool_args {
    const char *in;  /* "-" = stdin */
    const char *out; /* NULL = stdout */
    const struct hv_layout *layout;
    bool init;       /* -i: the layout's init program instead of IN */
};

/* The command line both tools share: [-t TARGET] [-o OUT] [-l] [-h] [IN].
 * Returns -1 when the tool should go on, else its exit status. */
static inline int hv_tool_parse(const char *prog, int argc, char **argv,
                                void (*usage)(FILE *), struct hv_tool_args *a)
{
    const char *target = "virtio-blk";
    bool have_in = false;

    a->in = "-";
    a->out = NULL;
    a->init = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(arg, "-l")) {
            hv_tool_list_targets(stdout);
            return 0;
        } else if (!strcmp(arg, "-i") && !strcmp(prog, "hvfuzz-disasm")) {
            a->init = true;
        } else if (!strcmp(arg, "-t") || !strcmp(arg, "-o")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: %s needs an argument\n", prog, arg);
                return 2;
            }
            if (arg[1] == 't')
                target = argv[++i];
            else
                a->out = argv[++i];
        } else if (arg[0] == '-' && arg[1]) {
            fprintf(stderr, "%s: unknown option %s (try --help)\n", prog, arg);
            return 2;
        } else if (have_in) {
            fprintf(stderr, "%s: more than one input file (try --help)\n", prog);
            return 2;
        } else {
            a->in = arg;
            have_in = true;
        }
    }
    a->layout = hv_layout_find(target);
    if (!a->layout) {
        fprintf(stderr, "%s: unknown target '%s' (targets: ", prog, target);
        for (unsigned i = 0; hv_layouts[i]; i++)
            fprintf(stderr, "%s%s", i ? ", " : "", hv_layouts[i]->target);
        fprintf(stderr, ")\n");
        return 2;
    }
    return -1;
}

#endif
