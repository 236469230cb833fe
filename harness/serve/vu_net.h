/*
 * `hvfuzz-serve virtio-net`: hvfuzz's virtio-net model (targets/virtio,
 * the code the fuzz targets run) behind the same vhost-user machinery as
 * virtio-blk (vu_session.c, vproxy.c). What the guest transmits goes to a
 * pcap file (harness/backends' writer) through a server-side tap that keeps
 * the file for the server's lifetime and can corrupt frames for tests of
 * the tests. RX: the frames of --rx-pcap FILE (if any) are delivered to
 * the guest in order, each as soon as its RX ring has a buffer; otherwise
 * nothing is received and the guest's receive buffers stay posted.
 */
#ifndef HV_VU_NET_H
#define HV_VU_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "targets/common/hv_device.h"

struct serve_net_opts {
    const char *pcap;  /* NULL: frames are counted and dropped */
    bool corrupt_tx;   /* --inject-fault corrupt-tx */
    const char *rx_pcap; /* frames to deliver to the guest, or NULL */
    unsigned rx_delay_ms; /* --rx-delay: from the first RX buffer on */
};

/* The virtio-net model, its transmitted frames going to o->pcap. Not yet
 * added to the machine. NULL with a message in err. */
hv_dev *serve_net_create(hv_machine *m, const struct serve_net_opts *o,
                         char *err, size_t errlen);
/* Deliver pending --rx-pcap frames while the RX ring has buffers (the
 * server calls it after every event: a kick, a front-end message). */
void serve_net_rx_pump(hv_dev *dev);
/* poll() timeout for the next --rx-delay deadline: -1 when none. */
int serve_net_rx_timeout(void);
/* "virtio-net: ..." line at start (queues, features, where frames go). */
void serve_net_describe(hv_dev *dev, const struct serve_net_opts *o);
/* Totals at exit: frames transmitted, dropped, written to the pcap;
 * frames delivered from --rx-pcap. */
void serve_net_summary(hv_dev *dev);

#endif
