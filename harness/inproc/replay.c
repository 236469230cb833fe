/* Replay inputs given on the command line (shared by the replay and AFL++
 * mains). */
#include "harness/inproc/inproc.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HV_REPLAY_MAX_INPUT (1u << 20)

struct replay_opts {
    int quiet;
    unsigned count;
};

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [--trace] [--quiet] FILE|DIR...\n"
            "Replays each input (folders: every file in them, sorted) from the\n"
            "device reset state. Exit 0 when all ran clean; a finding aborts\n"
            "with its report.\n"
            "  --trace  print every op and device event (DMA, IRQ) to stdout\n"
            "  --quiet  no per-input line\n",
            argv0);
}

static int replay_file(const char *path, struct replay_opts *o)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    if (!f) {
        fprintf(stderr, "hvfuzz: error: %s: %s\n", path, strerror(errno));
        return 2;
    }
    buf = malloc(HV_REPLAY_MAX_INPUT);
    if (!buf) {
        fclose(f);
        fprintf(stderr, "hvfuzz: error: out of memory\n");
        return 2;
    }
    n = fread(buf, 1, HV_REPLAY_MAX_INPUT, f);
    fclose(f);
    if (!o->quiet)
        printf("replay: %s (%zu bytes)\n", path, n);
    fflush(stdout);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    o->count++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *path, struct replay_opts *o)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (!d) {
        fprintf(stderr, "hvfuzz: error: %s: %s\n", path, strerror(errno));
        return 2;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, cap * sizeof(*names));
            if (!nn)
                break;
            names = nn;
        }
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        if (!names[n])
            break;
        snprintf(names[n++], len, "%s/%s", path, e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        struct stat st;

        if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            rc = replay_file(names[i], o);
        free(names[i]);
    }
    free(names);
    return rc;
}

int hv_replay_main(int argc, char **argv)
{
    struct replay_opts o = {0};
    int rc = 0, npaths = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout, argv[0]);
            return 0;
        } else if (!strcmp(argv[i], "--trace")) {
            hv_inproc_set_trace(stdout);
        } else if (!strcmp(argv[i], "--quiet")) {
            o.quiet = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "hvfuzz: error: unknown option %s\n", argv[i]);
            usage(stderr, argv[0]);
            return 2;
        }
    }
    for (int i = 1; i < argc && rc == 0; i++) {
        struct stat st;

        if (argv[i][0] == '-' && argv[i][1])
            continue;
        npaths++;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "hvfuzz: error: %s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        rc = S_ISDIR(st.st_mode) ? replay_dir(argv[i], &o) : replay_file(argv[i], &o);
    }
    if (npaths == 0) {
        usage(stderr, argv[0]);
        return 2;
    }
    if (rc == 0 && !o.quiet)
        printf("replay: %u input(s) ran clean\n", o.count);
    return rc;
}
