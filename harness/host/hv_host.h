/*
 * The host side of a program run, shared by the in-process targets and
 * (later) hvfuzz-vmm: build the target's machine from its layout table,
 * "boot" it as the guest agent does (program BARs to the layout's
 * addresses, enable decoding and bus mastering), and execute programs
 * against it through hv_exec_ops.
 */
#ifndef HV_HOST_H
#define HV_HOST_H

#include <stdio.h>

#include "harness/program/hv_program.h"
#include "targets/common/hv_device.h"

/* Device model factory: one line per model in harness/host/models.c.
 * NICs also give create_nic, which takes the packet backend. */
struct hv_net;
struct hv_model {
    const char *name;
    hv_dev *(*create)(hv_machine *m);
    hv_dev *(*create_nic)(hv_machine *m, struct hv_net *backend);
};
const struct hv_model *hv_model_find(const char *name);
/* Create a model's device; NICs send to a pcap file when one was set with
 * hv_models_set_pcap (else to an in-memory sink). NULL with *err set. */
hv_dev *hv_model_create(const struct hv_model *model, hv_machine *m,
                        const char **err);
/* Every NIC created from now on writes the frames it sends to `path`
 * (truncated at each input's reset: it holds the last input's frames).
 * NULL: back to the in-memory sink. */
void hv_models_set_pcap(const char *path);

struct hv_host {
    hv_machine *m;
    const struct hv_layout *layout;
    struct hv_shadow shadow;
    FILE *trace;          /* per-op + device trace, or NULL */
    /* HVFUZZ_TRACE_DATA=1 in the environment (hvfuzz export): mem_write
     * lines also carry the bytes written, in hex, and turning the trace on
     * prints the boot's config accesses first (see hv_host_set_trace). The
     * default trace format does not change. */
    int trace_data;
    int self_booted; /* this host ran the boot (not HV_HOST_GUEST_BOOT) */
    unsigned long inputs; /* programs run so far */
    /* HVFUZZ_ABLATE=raw-ops (bench/bugbench): inputs run with their
     * structure-aware ops skipped (the init program still has them). */
    int raw_ops_only;
    /* initialized variant (layout->init): the state inputs start from */
    struct hv_snapshot *snap;
    struct hv_shadow init_shadow;
};

/* NULL on an unknown target/model or out of memory; *err says which. */
struct hv_host *hv_host_create(const char *target, const char **err);
/* The same with the DMA window backed by `ram` (layout->dma_size bytes,
 * e.g. a VM's guest memory); NULL ram: allocated. */
struct hv_host *hv_host_create_with_ram(const char *target, uint8_t *ram,
                                        const char **err);
/* The same with flags: HV_HOST_GUEST_BOOT leaves the BARs unprogrammed and
 * the layout's init program unrun (in hvfuzz-vmm the guest agent does
 * both; the VMM then takes the reset point / snapshot itself). */
#define HV_HOST_GUEST_BOOT 0x1u
struct hv_host *hv_host_create_ex(const char *target, uint8_t *ram,
                                  unsigned flags, const char **err);
void hv_host_destroy(struct hv_host *h);
/* Reset to the booted state (or the init snapshot), then run one program.
 * Returns ops executed. The two halves are also callable on their own
 * (benchmarks time them apart): */
unsigned hv_host_run(struct hv_host *h, const uint8_t *prog, size_t len);
void hv_host_prepare(struct hv_host *h);
unsigned hv_host_exec(struct hv_host *h, const uint8_t *prog, size_t len);
/* Trace every op and device event to `f` (NULL: off). With
 * HVFUZZ_TRACE_DATA=1 set and a host that booted itself, first prints
 * "# boot" and the boot's config accesses (the reads are real, the writes
 * only printed: the machine is not touched). */
void hv_host_set_trace(struct hv_host *h, FILE *f);

extern const struct hv_exec_ops hv_host_exec_ops;

#endif
