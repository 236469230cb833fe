/*
 * hvfuzz-tpm-diff: runs a TPM command stream (a tpm-cmd / tpm-diff input)
 * through hvfuzz's model and libtpms, as the tpm-diff target does, and
 * prints one line per command: index, command code, both response codes
 * and the verdict. With -v, both responses in hex too. Exit status 1 when a
 * command diverges, so it doubles as a check.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "targets/tpm/diff/tpm_diff.h"
#include "targets/tpm/tpm_stream.h"

#define MAX_INPUT (1u << 20)
#define MAX_CMDS 4096u

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hvfuzz-tpm-diff [-v] FILE...\n"
            "Runs each FILE (TPM 2.0 command buffers back to back, as the\n"
            "tpm-cmd and tpm-diff targets take them) through hvfuzz's TPM model\n"
            "and libtpms, each from a fresh state with Startup(CLEAR) first unless\n"
            "the stream sends its own, and prints per command: index, command code,\n"
            "hvfuzz's and libtpms's response codes, verdict (bytes-match, rc-match,\n"
            "gap = not implemented by hvfuzz, RC-DIFFER, BYTES-DIFFER).\n"
            "  -v    also print both responses in hex\n"
            "Exit status: 0 no divergence, 1 a divergence, 2 usage or I/O error.\n");
}

static void print_hex(const char *who, const uint8_t *p, size_t n)
{
    printf("      %-7s", who);
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

struct show_ctx {
    bool verbose;
    const struct tpm_diff_cmd *cmds;
};

static void show(void *opaque, const struct tpm_diff_result *r)
{
    const struct show_ctx *ctx = opaque;

    printf("  %3zu  cc 0x%03x  hvfuzz 0x%03x  libtpms 0x%03x  %s\n", r->index,
           r->cc, r->rc_model, r->rc_ref, tpm_diff_verdict_name(r->verdict));
    if (ctx->verbose) {
        print_hex("command", ctx->cmds[r->index].buf, ctx->cmds[r->index].len);
        print_hex("hvfuzz", r->rsp_model, r->len_model);
        print_hex("libtpms", r->rsp_ref, r->len_ref);
    }
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = malloc(MAX_INPUT + 1);

    if (!f || !buf) {
        fprintf(stderr, "hvfuzz-tpm-diff: error: %s: %s\n", path,
                f ? "out of memory" : strerror(errno));
        if (f)
            fclose(f);
        free(buf);
        return NULL;
    }
    *len = fread(buf, 1, MAX_INPUT + 1, f);
    fclose(f);
    if (*len > MAX_INPUT) {
        fprintf(stderr, "hvfuzz-tpm-diff: error: %s: larger than %u bytes\n",
                path, MAX_INPUT);
        free(buf);
        return NULL;
    }
    return buf;
}

/* Returns the number of divergences, or -1 on an error. */
static long run_file(const char *path, bool verbose)
{
    static struct tpm_diff_cmd cmds[MAX_CMDS];
    struct show_ctx ctx = {.verbose = verbose, .cmds = cmds};
    size_t len, n = 0, differences;
    uint8_t *data = read_file(path, &len);

    if (!data)
        return -1;
    for (size_t pos = 0; pos < len && n < MAX_CMDS;) {
        size_t cmd_len = tpm_stream_next(data + pos, len - pos);

        cmds[n++] = (struct tpm_diff_cmd){.buf = data + pos, .len = cmd_len};
        pos += cmd_len;
    }
    printf("%s: %zu commands\n", path, n);
    differences = tpm_diff_run(cmds, n, show, &ctx);
    free(data);
    if (differences == (size_t)-1) {
        fprintf(stderr, "hvfuzz-tpm-diff: error: libtpms could not start\n");
        return -1;
    }
    return (long)differences;
}

int main(int argc, char **argv)
{
    bool verbose = false;
    int opt, status = 0;
    static const struct option longopts[] = {{"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};

    while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        if (opt == 'v') {
            verbose = true;
        } else {
            usage(opt == 'h' ? stdout : stderr);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (optind == argc) {
        usage(stderr);
        return 2;
    }
    for (int i = optind; i < argc; i++) {
        long d = run_file(argv[i], verbose);

        if (d < 0)
            return 2;
        if (d > 0)
            status = 1;
    }
    return status;
}
