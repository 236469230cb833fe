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
    struct hv_tool_args args;
    int st = hv_tool_parse("hvfuzz-asm", argc, argv, usage, &args);
    if (st >= 0)
        return st;
    const struct hv_layout *l = args.layout;
    const char *in = args.in, *out = args.out;
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
