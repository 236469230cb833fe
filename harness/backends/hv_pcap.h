/*
 * pcap packet sink (host only): an hv_net backend that appends every frame
 * to a classic libpcap file (LINKTYPE_ETHERNET), flushing after each frame
 * so a crash loses nothing already sent. Timestamps are the frame's index
 * (deterministic: no wall clock).
 */
#ifndef HV_PCAP_H
#define HV_PCAP_H

#include <stddef.h>

#include "targets/common/hv_net.h"

#define HV_PCAP_SNAPLEN 65535u
#define HV_PCAP_LINKTYPE_ETHERNET 1u

/* Creates (truncates) `path` and writes the file header. NULL on failure,
 * with a one-line reason in err (if non-NULL). */
struct hv_net *hv_pcap_create(const char *path, char *err, size_t errlen);
/* Frames written so far, and whether a write has failed (the first error
 * is kept in the message returned by hv_pcap_error, else NULL). */
unsigned long hv_pcap_frames(const struct hv_net *n);
const char *hv_pcap_error(const struct hv_net *n);

#endif
