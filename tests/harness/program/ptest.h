/* Shared by the program tests: the text round trip and the checked-in
 * seeds (HV_SEEDS_DIR/<target>/NAME.hvf), assembled. */
#ifndef HV_PTEST_H
#define HV_PTEST_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/program/hv_text.h"
#include "hv_test.h"

/* binary -> text -> the same binary -> the same text */
static inline bool ptest_roundtrip(const struct hv_layout *l, const uint8_t *b,
                                   size_t n)
{
    char err[512] = "";
    char *t = hv_disasm(l, b, n);
    size_t m = 0;
    uint8_t *b2 = t ? hv_asm(l, "disasm", t, strlen(t), &m, err, sizeof err) : NULL;
    bool ok = b2 && m == n && !memcmp(b, b2, n);
    char *t2 = ok ? hv_disasm(l, b2, m) : NULL;
    ok = ok && t2 && !strcmp(t, t2);
    if (!ok)
        fprintf(stderr, "round trip failed: %s\n%s\n", b2 ? "bytes differ" : err,
                t ? t : "(null)");
    free(t2);
    free(b2);
    free(t);
    return ok;
}

static inline char *ptest_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    *len = b ? fread(b, 1, (size_t)sz, f) : 0;
    if (b)
        b[*len] = 0;
    fclose(f);
    return b;
}

typedef void (*ptest_seed_fn)(const char *path, const char *text,
                              const uint8_t *bin, size_t n, void *arg);

/* fn for every seed of l's target that assembles (one that does not is a
 * failed check); returns how many there were. */
static inline unsigned ptest_each_seed(const struct hv_layout *l, ptest_seed_fn fn,
                                       void *arg)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", HV_SEEDS_DIR, l->target);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    unsigned count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t nl = strlen(e->d_name), len, n;
        if (nl < 5 || strcmp(e->d_name + nl - 4, ".hvf"))
            continue;
        char path[2048], err[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *text = ptest_slurp(path, &len);
        uint8_t *b = text ? hv_asm(l, path, text, len, &n, err, sizeof err) : NULL;
        if (!b) {
            fprintf(stderr, "%s\n", text ? err : path);
            CHECK(!"seed assembles");
        } else {
            fn(path, text, b, n, arg);
            count++;
        }
        free(b);
        free(text);
    }
    closedir(d);
    return count;
}

#endif
