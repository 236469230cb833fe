/* Replay inputs given on the command line (shared by the replay and AFL++
 * mains). */
#include "harness/inproc/inproc.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define HV_REPLAY_MAX_INPUT (1u << 20)

struct replay_opts {
    int quiet;
    unsigned count;
    unsigned long bench;          /* --bench N: time each input N times */
    double sum_reset, sum_decode, sum_total; /* microseconds per run, summed */
};

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [--trace] [--quiet] [--pcap FILE] FILE|DIR...\n"
            "Replays each input (folders: every file in them, sorted) from the\n"
            "device reset state. Exit 0 when all ran clean; a finding aborts\n"
            "with its report.\n"
            "  --trace    print every op and device event (DMA, IRQ) to stdout\n"
            "  --quiet    no per-input line\n"
            "  --pcap F   the frames a NIC sends go to the pcap file F (the\n"
            "             last input's: the file restarts at each input)\n"
            "  --bench N  run each input N times and print where the time per\n"
            "             input goes: reset, decode, device work (microseconds)\n",
            argv0);
}

static double now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void decode_only(const uint8_t *p, size_t n)
{
    struct hv_op op;

    for (size_t pos = 0; pos < n;) {
        size_t k = hv_op_decode(p + pos, n - pos, &op);
        if (k == 0)
            break;
        pos += k;
    }
}

/* Per input: reset alone, decoding alone, and the whole run (reset +
 * decode + device work), each averaged over o->bench runs. */
static int bench_input(const char *path, const uint8_t *buf, size_t n,
                       struct replay_opts *o)
{
    struct hv_host *h;
    double t0, reset, decode, total;
    unsigned long runs = o->bench;

    LLVMFuzzerTestOneInput(buf, 0); /* learns which target this binary is */
    if (!hv_inproc_target()) {
        fprintf(stderr, "hvfuzz: error: --bench needs a device target\n");
        return 2;
    }
    h = hv_inproc_host(hv_inproc_target());
    t0 = now_us();
    for (unsigned long i = 0; i < runs; i++)
        hv_host_prepare(h);
    reset = (now_us() - t0) / runs;
    t0 = now_us();
    for (unsigned long i = 0; i < runs; i++)
        decode_only(buf, n);
    decode = (now_us() - t0) / runs;
    t0 = now_us();
    for (unsigned long i = 0; i < runs; i++)
        hv_host_run(h, buf, n);
    total = (now_us() - t0) / runs;
    printf("bench: %s: %.2f us/input = reset %.2f + decode %.2f + device work %.2f\n",
           path, total, reset, decode, total - reset - decode);
    o->sum_reset += reset;
    o->sum_decode += decode;
    o->sum_total += total;
    return 0;
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
    if (o->bench) {
        int rc = bench_input(path, buf, n, o);
        free(buf);
        o->count++;
        return rc;
    }
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
        } else if (!strcmp(argv[i], "--pcap")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "hvfuzz: error: --pcap takes a file name\n");
                return 2;
            }
            hv_models_set_pcap(argv[i + 1]);
            argv[++i] = "-"; /* consumed: not a path */
        } else if (!strcmp(argv[i], "--bench")) {
            char *end = NULL;
            if (i + 1 < argc)
                o.bench = strtoul(argv[i + 1], &end, 10);
            if (!end || *end || o.bench == 0) {
                fprintf(stderr, "hvfuzz: error: --bench takes a positive count\n");
                return 2;
            }
            argv[++i] = "-"; /* consumed: not a path */
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "hvfuzz: error: unknown option %s\n", argv[i]);
            usage(stderr, argv[0]);
            return 2;
        }
    }
    for (int i = 1; i < argc && rc == 0; i++) {
        struct stat st;

        if (argv[i][0] == '-')
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
    if (rc == 0 && o.bench && o.count)
        printf("bench: mean of %u input(s): %.2f us/input = reset %.2f + "
               "decode %.2f + device work %.2f\n",
               o.count, o.sum_total / o.count, o.sum_reset / o.count,
               o.sum_decode / o.count,
               (o.sum_total - o.sum_reset - o.sum_decode) / o.count);
    else if (rc == 0 && !o.quiet)
        printf("replay: %u input(s) ran clean\n", o.count);
    return rc;
}
