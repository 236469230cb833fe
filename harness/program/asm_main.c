/* hvfuzz-asm: assemble the text form of a program into its binary form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/program/hv_text.h"
#include "harness/program/tool_common.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: hvfuzz-asm [-t TARGET] [IN.hvf|-] [-o OUT.bin]\n"
            "Assemble an hvfuzz program from its text form (default: stdin to stdout).\n"
            "  -t TARGET   machine layout whose region/device names the text uses\n"
            "              (default virtio-blk; targets: ");
    for (unsigned i = 0; hv_layouts[i]; i++)
        fprintf(f, "%s%s", i ? ", " : "", hv_layouts[i]->target);
    fprintf(f, ")\n"
               "  -o OUT      write the binary program to OUT (default stdout)\n"
               "  -l          list the targets\n"
               "  -h, --help  this help\n"
               "Syntax: one op per line, '#' comments; see harness/program/text.c.\n"
               "Exit status: 0 ok, 2 bad usage, bad text or I/O error.\n");
}

int main(int argc, char **argv)
{
    const char *target = "virtio-blk", *in = "-", *out = NULL;
    bool have_in = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-l")) {
            hv_tool_list_targets(stdout);
            return 0;
        } else if (!strcmp(a, "-t") || !strcmp(a, "-o")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "hvfuzz-asm: %s needs an argument\n", a);
                return 2;
            }
            if (a[1] == 't')
                target = argv[++i];
            else
                out = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "hvfuzz-asm: unknown option %s (try --help)\n", a);
            return 2;
        } else if (have_in) {
            fprintf(stderr, "hvfuzz-asm: more than one input file (try --help)\n");
            return 2;
        } else {
            in = a;
            have_in = true;
        }
    }
    const struct hv_layout *l = hv_layout_find(target);
    if (!l) {
        fprintf(stderr, "hvfuzz-asm: unknown target '%s' (targets: ", target);
        for (unsigned i = 0; hv_layouts[i]; i++)
            fprintf(stderr, "%s%s", i ? ", " : "", hv_layouts[i]->target);
        fprintf(stderr, ")\n");
        return 2;
    }
    size_t len;
    char *text = hv_tool_read("hvfuzz-asm", in, &len);
    if (!text)
        return 2;
    char err[1024];
    size_t n;
    uint8_t *bin = hv_asm(l, strcmp(in, "-") ? in : "<stdin>", text, len, &n,
                          err, sizeof err);
    free(text);
    if (!bin) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    int rc = hv_tool_write("hvfuzz-asm", out, bin, n) ? 2 : 0;
    free(bin);
    return rc;
}
