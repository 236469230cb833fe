/* hvfuzz-disasm: print a binary program in its text form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/program/hv_text.h"
#include "harness/program/tool_common.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: hvfuzz-disasm [-t TARGET] [IN.bin|-|-i] [-o OUT.hvf]\n"
            "Print an hvfuzz program (any byte string) in its text form; hvfuzz-asm\n"
            "turns that text back into exactly the same bytes.\n"
            "  -i          print TARGET's init program instead (what its initialized\n"
            "              variant runs before every input; empty if it has none)\n"
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
    struct hv_tool_args args;
    int st = hv_tool_parse("hvfuzz-disasm", argc, argv, usage, &args);
    if (st >= 0)
        return st;
    const struct hv_layout *l = args.layout;
    const char *in = args.in, *out = args.out;
    size_t len = 0;
    char *bin = NULL;
    if (!args.init) {
        bin = hv_tool_read("hvfuzz-disasm", in, &len);
        if (!bin)
            return 2;
    }
    char *text = args.init ? hv_disasm(l, l->init, l->init_len)
                           : hv_disasm(l, (const uint8_t *)bin, len);
    free(bin);
    if (!text) {
        fprintf(stderr, "hvfuzz-disasm: out of memory\n");
        return 2;
    }
    int rc = hv_tool_write("hvfuzz-disasm", out, text, strlen(text)) ? 2 : 0;
    free(text);
    return rc;
}
