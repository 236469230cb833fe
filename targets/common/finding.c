/*
 * Findings, work budget and trace sink. Findings are what a fuzz campaign
 * saves (DESIGN.md "Findings"): the report line names kind and site; the
 * abort lets the engine and the sanitizer runtime print the stack, whose
 * top frames inside targets/ give the stack hash.
 */
#include "targets/common/hv_device.h"

#include <stdio.h>
#include <stdlib.h>

const char *hv_finding_kind_name(enum hv_finding_kind kind)
{
    switch (kind) {
    case HV_FINDING_ASSERT:
        return "assert";
    case HV_FINDING_REENTRANCY:
        return "reentrancy";
    case HV_FINDING_BUDGET:
        return "budget";
    }
    return "unknown";
}

void hv_finding(hv_machine *m, enum hv_finding_kind kind, const char *site,
                const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "==HVFUZZ== FINDING kind=%s site=%s: ",
            hv_finding_kind_name(kind), site);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    if (m->findings_fatal)
        abort();
    m->findings++;
    m->last_finding = kind;
}

bool hv_budget_charge(hv_dev *dev, uint32_t units, const char *site)
{
    hv_machine *m = dev->machine;

    if (units <= m->work_budget - m->work_used) {
        m->work_used += units;
        return true;
    }
    if (!m->budget_spent) {
        m->budget_spent = true;
        hv_finding(m, HV_FINDING_BUDGET, site,
                   "%s: per-input work budget of %u units exhausted",
                   dev->name, m->work_budget);
    }
    return false;
}

bool hv_tracing(const hv_machine *m)
{
    return m->trace_fn != NULL;
}

void hv_trace(hv_machine *m, const char *fmt, ...)
{
    char line[256];
    va_list ap;

    if (!m->trace_fn)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    m->trace_fn(m->trace_opaque, line);
}
