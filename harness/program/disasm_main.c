/* hvfuzz-disasm: print a binary program in its text form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/program/hv_text.h"
#include "harness/program/tool_common.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: hvfuzz-disasm [-t TARGET] [IN.bin|-] [-o OUT.hvf]\n"
            "Print an hvfuzz program (any byte string) in its text form; hvfuzz-asm\n"
            "turns that text back into exactly the same bytes.\n"
            "  -t TARGET   machine layout for region/device names (default virtio-blk;\n"
            "              targets: ");
    for (unsigned i = 0; hv_layouts[i]; i++)
        fprintf(f, "%s%s", i ? ", " : "", hv_layouts[i]->target);
    fprintf(f, ")\n"
               "  -o OUT      write the text to OUT (default stdout)\n"
               "  -l          list the targets\n"
               "  -h, --help  this help\n"
               "Exit status: 0 ok, 2 bad usage or I/O error.\n");
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
                fprintf(stderr, "hvfuzz-disasm: %s needs an argument\n", a);
                return 2;
            }
            if (a[1] == 't')
                target = argv[++i];
            else
                out = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "hvfuzz-disasm: unknown option %s (try --help)\n", a);
            return 2;
        } else if (have_in) {
            fprintf(stderr, "hvfuzz-disasm: more than one input file (try --help)\n");
            return 2;
        } else {
            in = a;
            have_in = true;
        }
    }
    const struct hv_layout *l = hv_layout_find(target);
    if (!l) {
        fprintf(stderr, "hvfuzz-disasm: unknown target '%s' (targets: ", target);
        for (unsigned i = 0; hv_layouts[i]; i++)
            fprintf(stderr, "%s%s", i ? ", " : "", hv_layouts[i]->target);
        fprintf(stderr, ")\n");
        return 2;
    }
    size_t len;
    char *bin = hv_tool_read("hvfuzz-disasm", in, &len);
    if (!bin)
        return 2;
    char *text = hv_disasm(l, (const uint8_t *)bin, len);
    free(bin);
    if (!text) {
        fprintf(stderr, "hvfuzz-disasm: out of memory\n");
        return 2;
    }
    int rc = hv_tool_write("hvfuzz-disasm", out, text, strlen(text)) ? 2 : 0;
    free(text);
    return rc;
}
