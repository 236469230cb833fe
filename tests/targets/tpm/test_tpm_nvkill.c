/*
 * NV data survives kill -9 of a process mid-write. A child process runs a
 * TPM over the NV state file (harness/backends/tpm_nvfile.c) and writes one
 * index in a tight loop, each NV_Write a new generation g (every 32-bit
 * word of the 1 KiB index is g mixed with its position), reporting through
 * a pipe each generation whose save returned. The parent SIGKILLs it after
 * a delay drawn from a seeded xorshift (a quarter of them within 1 ms, to
 * catch it loading and starting up as well), then checks the file:
 *   - it exists, has the blob's magic/version/length and a right SHA-256
 *     (checked here with OpenSSL, independently of the model),
 *   - a fresh TPM loads it (tpm_nv_status TPM_NV_OK),
 *   - the index holds one whole generation, which is the last reported
 *     one or the one after it (the save in flight) and never older than
 *     what the previous round left,
 *   - the other indices (fixed data, a counter) are intact.
 * The next child continues from what the file holds. KILLS rounds; how
 * many left a PATH.tmp behind (killed inside a save) is printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/backends/hv_tpm_nvfile.h"
#include "hv_test.h"
#include "tpm_nv_cmds.h"

#define KILLS 200
#define IDX_GEN 0x01500010u   /* the generation, 1024 bytes */
#define IDX_FIXED 0x01500011u /* 512 bytes, written once */
#define IDX_COUNT 0x01500012u /* counter, incremented 7 times at setup */
#define GEN_WORDS 256u

static char dir[256], path[320], tmp_path[330];

static void gen_pattern(uint8_t *buf, uint32_t g)
{
    for (uint32_t i = 0; i < GEN_WORDS; i++) {
        uint32_t w = g * 0x9E3779B1u ^ i * 0x85EBCA77u;

        buf[4 * i] = (uint8_t)(w >> 24);
        buf[4 * i + 1] = (uint8_t)(w >> 16);
        buf[4 * i + 2] = (uint8_t)(w >> 8);
        buf[4 * i + 3] = (uint8_t)w;
    }
}

/* The generation whose pattern buf holds, or -1 if it is none. */
static int64_t gen_of(const uint8_t *buf)
{
    uint32_t g = tc_be32(buf) * 0x0E8B2F51u; /* 0x9E3779B1^-1 mod 2^32 */
    uint8_t want[4 * GEN_WORDS];

    gen_pattern(want, g);
    return memcmp(want, buf, sizeof(want)) ? -1 : (int64_t)g;
}

static void fixed_pattern(uint8_t *buf)
{
    for (unsigned i = 0; i < 512; i++)
        buf[i] = (uint8_t)(i * 13 + 5);
}

static struct tpm *open_tpm(struct hv_tpm_nvfile **f)
{
    char err[256];

    *f = hv_tpm_nvfile_open(path, err, sizeof(err));
    if (!*f) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return tpm_create(&(struct tpm_params){.store = hv_tpm_nvfile_store(*f)});
}

/* The writer: runs until killed. Exit codes say what went wrong. */
static void child(int report)
{
    struct hv_tpm_nvfile *f;
    struct nvt n = {0};
    uint8_t buf[4 * GEN_WORDS];
    int64_t g;

    n.t = open_tpm(&f);
    if (!n.t || tpm_nv_status(n.t) != TPM_NV_OK || nvt_startup(&n))
        _exit(3);
    if (nvt_read(&n, NVT_OWNER, "", IDX_GEN, sizeof(buf), 0) ||
        (g = gen_of(n.rsp + 16)) < 0)
        _exit(4);
    for (;;) {
        uint32_t next = (uint32_t)g + 1;

        gen_pattern(buf, next);
        if (nvt_write(&n, NVT_OWNER, "", IDX_GEN, buf, sizeof(buf), 0))
            _exit(5);
        if (write(report, &next, sizeof(next)) != sizeof(next))
            _exit(6);
        g = next;
    }
}

static void setup(void)
{
    struct hv_tpm_nvfile *f;
    struct nvt n = {0};
    uint8_t buf[4 * GEN_WORDS];

    n.t = open_tpm(&f);
    CHECK_EQ(nvt_startup(&n), 0);
    CHECK_EQ(nvt_define(&n, "", IDX_GEN, NVT_ORDINARY_OWNER, sizeof(buf), NULL),
             0);
    gen_pattern(buf, 0);
    CHECK_EQ(nvt_write(&n, NVT_OWNER, "", IDX_GEN, buf, sizeof(buf), 0), 0);
    CHECK_EQ(nvt_define(&n, "", IDX_FIXED, NVT_ORDINARY_OWNER, 512, NULL), 0);
    fixed_pattern(buf);
    CHECK_EQ(nvt_write(&n, NVT_OWNER, "", IDX_FIXED, buf, 512, 0), 0);
    CHECK_EQ(nvt_define(&n, "", IDX_COUNT, NVT_COUNTER_OWNER, 8, NULL), 0);
    for (unsigned i = 0; i < 7; i++)
        CHECK_EQ(nvt_increment(&n, "", IDX_COUNT), 0);
    tpm_destroy(n.t);
    hv_tpm_nvfile_close(f);
}

/* Loads the file in a fresh TPM; returns the generation it holds or -1. */
static int64_t check_file(void)
{
    struct hv_tpm_nvfile *f;
    struct nvt n = {0};
    uint8_t fixed[512], *blob;
    size_t len;
    int64_t g = -1;

    blob = nvt_read_file(path, &len);
    CHECK(blob != NULL);
    CHECK(blob && nvt_blob_sound(blob, len));
    free(blob);
    n.t = open_tpm(&f);
    CHECK(n.t != NULL);
    CHECK_EQ(tpm_nv_status(n.t), TPM_NV_OK);
    if (tpm_nv_status(n.t) != TPM_NV_OK)
        fprintf(stderr, "%s\n", tpm_nv_error(n.t));
    CHECK_EQ(nvt_startup(&n), 0);
    CHECK_EQ(nvt_read(&n, NVT_OWNER, "", IDX_GEN, 4 * GEN_WORDS, 0), 0);
    if (n.rsp_len >= 16 + 4 * GEN_WORDS)
        g = gen_of(n.rsp + 16);
    CHECK(g >= 0); /* one generation's pattern, whole */
    fixed_pattern(fixed);
    CHECK_EQ(nvt_read(&n, NVT_OWNER, "", IDX_FIXED, 512, 0), 0);
    CHECK(!memcmp(n.rsp + 16, fixed, 512));
    CHECK_EQ(nvt_read(&n, NVT_OWNER, "", IDX_COUNT, 8, 0), 0);
    CHECK_EQ(tc_be32(n.rsp + 20), 7);
    tpm_destroy(n.t);
    hv_tpm_nvfile_close(f);
    return g;
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    uint64_t rng = 0x6E76B10Bu; /* fixed seed: delays replay */
    int64_t held = 0;
    unsigned mid_save = 0, advanced = 0, same = 0, in_flight = 0;
    unsigned long reported_total = 0;
    struct timespec t0, t1;

    snprintf(dir, sizeof(dir), "%s/hvfuzz-nvkill-XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/tpm-nv.state", dir);
    snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", path);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    setup();
    CHECK_EQ(check_file(), 0);

    for (unsigned k = 0; k < KILLS; k++) {
        uint64_t r = hv_test_xorshift(&rng);
        useconds_t delay = (r & 3) == 0 ? (useconds_t)(r >> 8) % 1000
                                        : (useconds_t)(r >> 8) % 15000;
        int fds[2], st;
        uint32_t got, last = 0;
        bool any = false;
        struct stat sb;
        int64_t g;
        pid_t pid;

        CHECK_EQ(pipe(fds), 0);
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid == 0) {
            close(fds[0]);
            child(fds[1]);
        }
        close(fds[1]);
        CHECK(pid > 0);
        if (pid <= 0)
            break;
        usleep(delay);
        kill(pid, SIGKILL);
        CHECK_EQ(waitpid(pid, &st, 0), pid);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        if (WIFEXITED(st))
            fprintf(stderr, "kill %u: the writer exited with %d\n", k,
                    WEXITSTATUS(st));
        while (read(fds[0], &got, sizeof(got)) == sizeof(got)) {
            CHECK_EQ(got, any ? last + 1 : (uint32_t)held + 1);
            last = got;
            any = true;
            reported_total++;
        }
        close(fds[0]);
        if (stat(tmp_path, &sb) == 0)
            mid_save++;
        g = check_file();
        /* the last reported generation, or the one being saved */
        if (any)
            CHECK(g == last || g == (int64_t)last + 1);
        else
            CHECK(g == held || g == held + 1);
        if (g >= 0 && g == (any ? (int64_t)last + 1 : held + 1))
            in_flight++;
        if (g > held)
            advanced++;
        else
            same++;
        if (hv_test_failures) {
            fprintf(stderr, "kill %u after %u us: file holds %lld, reported "
                    "%s%u, before %lld\n", k, (unsigned)delay, (long long)g,
                    any ? "" : "none/", last, (long long)held);
            break;
        }
        if (g >= 0)
            held = g;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("nvkill: %d kills, %lu saves reported, file at generation %lld; "
           "%u kills left %s.tmp (inside a save), %u found the unreported "
           "save in flight complete, %u found no new generation; %.1f s\n",
           KILLS, reported_total, (long long)held, mid_save, "PATH", in_flight,
           same, (double)(t1.tv_sec - t0.tv_sec) +
                     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    CHECK(advanced > KILLS / 4); /* the writers got somewhere */
    unlink(tmp_path);
    unlink(path);
    rmdir(dir);
    return hv_test_done("test_tpm_nvkill");
}
