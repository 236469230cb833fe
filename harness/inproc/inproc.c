/* Shared state of an in-process target binary: one host per process. */
#include "harness/inproc/inproc.h"

#include <stdlib.h>
#include <string.h>

static struct hv_host *the_host;
static const char *the_target;
static FILE *trace_to;

const char *hv_inproc_target(void)
{
    return the_target;
}

void hv_inproc_set_trace(FILE *f)
{
    trace_to = f;
    if (the_host)
        hv_host_set_trace(the_host, f);
}

struct hv_host *hv_inproc_host(const char *target)
{
    const char *err = NULL;

    if (the_host)
        return the_host;
    the_target = target;
    the_host = hv_host_create(target, &err);
    if (!the_host) {
        fprintf(stderr, "hvfuzz: error: cannot build target '%s': %s\n",
                target, err ? err : "unknown error");
        exit(2);
    }
    if (trace_to)
        hv_host_set_trace(the_host, trace_to);
    return the_host;
}

int hv_inproc_run(const char *target, const uint8_t *data, size_t size)
{
    hv_host_run(hv_inproc_host(target), data, size);
    return 0;
}
