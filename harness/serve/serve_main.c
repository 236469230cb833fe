/*
 * hvfuzz-serve: serve hvfuzz's virtio-blk model (targets/virtio, the code
 * the fuzz targets run) to a vhost-user front-end such as QEMU's
 * vhost-user-blk-pci, so that a real guest driver drives it.
 *
 * One process, one thread: poll() on the listening or connected socket,
 * the live rings' kick descriptors and a signalfd for SIGINT/SIGTERM. One
 * front-end at a time; when it leaves, the device is reset and the next
 * one may connect.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness/serve/serve.h"
#include "harness/serve/swtpm.h"
#include "harness/serve/vu_net.h"
#include "harness/serve/vu_session.h"
#include "targets/virtio/virtio_blk.h"

bool serve_verbose;

struct options {
    const char *device;
    const char *socket;
    const char *disk;
    uint64_t size;
    bool read_only;
    unsigned queues;
    unsigned queue_size;
    const char *serial;
    bool trace;
    bool flip_reads;
    const char *record;      /* --record FILE */
    uint32_t record_max;     /* --record-data BYTES */
    struct serve_net_opts net; /* virtio-net: --pcap, --rx-pcap, ... */
    bool blk_option;         /* an option only virtio-blk has was given */
};

void serve_log(const char *fmt, ...)
{
    va_list ap;

    fputs("hvfuzz-serve: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

/* "hvfuzz-serve: error: <message>"; returns -1. */
int serve_error(const char *fmt, ...)
{
    va_list ap;

    fputs("hvfuzz-serve: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

static void usage(FILE *f)
{
    fputs("usage: hvfuzz-serve virtio-blk --vhost-user SOCKET [--disk FILE | "
          "--size BYTES]\n"
          "                    [--read-only] [--queues N] [--queue-size N] "
          "[--serial S] [--trace] [--verbose]\n"
          "\n"
          "Serve hvfuzz's virtio-blk model (the fuzz targets' code) as a "
          "vhost-user back-end:\n"
          "listen on SOCKET for QEMU (-chardev socket,id=c,path=SOCKET "
          "-device vhost-user-blk-pci,chardev=c;\n"
          "guest RAM must be shared: -object "
          "memory-backend-memfd,id=mem,size=...,share=on -numa node,memdev=mem).\n"
          "\n"
          "  --vhost-user SOCKET  unix socket to create and listen on\n"
          "  --disk FILE          disk image (raw, size a multiple of 512); "
          "default: a RAM disk\n"
          "  --size BYTES         RAM disk size (default 16 MiB; suffix K, M, G)\n"
          "  --read-only          offer VIRTIO_BLK_F_RO, refuse writes\n"
          "  --queues N           request queues (1..64, default 1; QEMU's "
          "num-queues must not exceed it)\n"
          "  --queue-size N       largest ring (power of two, default 256; "
          "QEMU's queue-size must not exceed it)\n"
          "  --serial S           serial number (GET_ID), default "
          "hvfuzz-virtio-blk\n"
          "  --trace              print the model's device trace (DMA, "
          "interrupts, requests)\n"
          "  --verbose            log every vhost-user message\n"
          "  --record FILE        write what the driver submits (chains, "
          "readable bytes, features,\n"
          "                       rings) to FILE; hvfuzz record turns it into "
          "programs\n"
          "  --record-data BYTES  readable bytes kept per request (default "
          "4096)\n"
          "  --inject-fault flip-read\n"
          "                       testing the tests: reads return the first "
          "byte of every sector\n"
          "                       with its low bit flipped\n"
          "\n"
          "SIGINT/SIGTERM: stop, flush the disk, remove SOCKET, exit 0.\n"
          "\n"
          "hvfuzz-serve virtio-net --vhost-user SOCKET [--pcap FILE] "
          "[--rx-pcap FILE [--rx-delay MS]]\n"
          "                    [--trace] [--verbose] [--inject-fault "
          "corrupt-tx]\n"
          "  the virtio-net model the same way (QEMU: -chardev "
          "socket,id=c,path=SOCKET\n"
          "  -netdev vhost-user,id=n0,chardev=c -device "
          "virtio-net-pci,netdev=n0): every frame\n"
          "  the guest transmits is appended to FILE (pcap, Ethernet); nothing "
          "is received,\n"
          "  unless --rx-pcap FILE: its frames are delivered to the guest, in "
          "order, as RX buffers come\n"
          "  (--rx-delay MS: from MS milliseconds after the first one).\n"
          "  --inject-fault corrupt-tx: the last byte of every frame is "
          "corrupted before it is written.\n"
          "\n"
          "hvfuzz-serve tpm --swtpm SOCKET ...: the TPM 2.0 model behind swtpm's "
          "protocol\n"
          "(QEMU -tpmdev emulator); see hvfuzz-serve tpm --help.\n",
          f);
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
    va_list ap;

    fputs("hvfuzz-serve: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see hvfuzz-serve --help)\n", stderr);
    return 2;
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || end == s || v == 0)
        return -1;
    switch (*end) {
    case 'K': case 'k': v <<= 10; end++; break;
    case 'M': case 'm': v <<= 20; end++; break;
    case 'G': case 'g': v <<= 30; end++; break;
    default: break;
    }
    if (*end || v % 512 || v > (1ull << 40))
        return -1;
    *out = v;
    return 0;
}

enum { OPT_FAULT = 256, OPT_RECORD, OPT_RECORD_DATA, OPT_PCAP, OPT_RX_PCAP,
       OPT_RX_DELAY };

static int parse_opt(struct options *o, int c, const char *arg)
{
    char *end;

    if ((c > 0 && c < 128 && strchr("dsrqQS", c)) || c == OPT_RECORD ||
        c == OPT_RECORD_DATA)
        o->blk_option = true;
    switch (c) {
    case 'u': o->socket = arg; return 0;
    case OPT_PCAP: o->net.pcap = arg; return 0;
    case OPT_RX_PCAP: o->net.rx_pcap = arg; return 0;
    case OPT_RX_DELAY:
        o->net.rx_delay_ms = (unsigned)strtoul(arg, &end, 10);
        return (*end || !*arg || o->net.rx_delay_ms > 600000)
                   ? bad_usage("--rx-delay: '%s' is not a number of "
                               "milliseconds in 0..600000", arg)
                   : 0;
    case 'd': o->disk = arg; return 0;
    case 's':
        return parse_size(arg, &o->size)
                   ? bad_usage("--size: '%s' is not a multiple of 512 bytes "
                               "up to 1T", arg)
                   : 0;
    case 'r': o->read_only = true; return 0;
    case 'q':
        o->queues = (unsigned)strtoul(arg, &end, 10);
        return (*end || o->queues < 1 || o->queues > VIRTIO_PCI_MAX_QUEUES)
                   ? bad_usage("--queues: '%s' is not a number in 1..64", arg)
                   : 0;
    case 'Q':
        o->queue_size = (unsigned)strtoul(arg, &end, 10);
        return (*end || o->queue_size < 2 || o->queue_size > 32768 ||
                (o->queue_size & (o->queue_size - 1)))
                   ? bad_usage("--queue-size: '%s' is not a power of two in "
                               "2..32768", arg)
                   : 0;
    case 'S': o->serial = arg; return 0;
    case 't': o->trace = true; return 0;
    case 'v': serve_verbose = true; return 0;
    case OPT_RECORD: o->record = arg; return 0;
    case OPT_RECORD_DATA:
        o->record_max = (uint32_t)strtoul(arg, &end, 0);
        return (*end || o->record_max > (1u << 20))
                   ? bad_usage("--record-data: '%s' is not a number in "
                               "0..1048576", arg)
                   : 0;
    case OPT_FAULT:
        if (!strcmp(arg, "corrupt-tx")) {
            o->net.corrupt_tx = true;
            return 0;
        }
        if (strcmp(arg, "flip-read"))
            return bad_usage("--inject-fault: unknown fault '%s' (known: "
                             "flip-read, corrupt-tx)", arg);
        o->flip_reads = true;
        return 0;
    default:
        return bad_usage("unknown option");
    }
}

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"vhost-user", required_argument, NULL, 'u'},
        {"disk", required_argument, NULL, 'd'},
        {"size", required_argument, NULL, 's'},
        {"read-only", no_argument, NULL, 'r'},
        {"queues", required_argument, NULL, 'q'},
        {"queue-size", required_argument, NULL, 'Q'},
        {"serial", required_argument, NULL, 'S'},
        {"trace", no_argument, NULL, 't'},
        {"verbose", no_argument, NULL, 'v'},
        {"inject-fault", required_argument, NULL, OPT_FAULT},
        {"record", required_argument, NULL, OPT_RECORD},
        {"record-data", required_argument, NULL, OPT_RECORD_DATA},
        {"pcap", required_argument, NULL, OPT_PCAP},
        {"rx-pcap", required_argument, NULL, OPT_RX_PCAP},
        {"rx-delay", required_argument, NULL, OPT_RX_DELAY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            exit(0);
        }
        if (c == '?' || c == ':')
            return bad_usage("%s option '%s'", c == '?' ? "unknown" : "missing value for",
                             argv[optind - 1]);
        if ((rc = parse_opt(o, c, optarg)))
            return rc;
    }
    if (optind + 1 != argc)
        return bad_usage("give exactly one device (served devices: virtio-blk, "
                         "virtio-net, tpm)");
    o->device = argv[optind];
    if (strcmp(o->device, "virtio-blk") && strcmp(o->device, "virtio-net"))
        return bad_usage("unknown device '%s' (served devices: virtio-blk, "
                         "virtio-net, tpm)", o->device);
    if (!o->socket)
        return bad_usage("--vhost-user SOCKET is required");
    if (!strcmp(o->device, "virtio-net")) {
        if (o->blk_option || o->flip_reads)
            return bad_usage("--disk, --size, --read-only, --queues, "
                             "--queue-size, --serial, --record and flip-read "
                             "are virtio-blk options");
        return 0;
    }
    if (o->net.pcap || o->net.rx_pcap || o->net.rx_delay_ms ||
        o->net.corrupt_tx)
        return bad_usage("--pcap, --rx-pcap, --rx-delay and corrupt-tx are "
                         "virtio-net options");
    if (o->disk && o->size)
        return bad_usage("--size is for the RAM disk; a --disk has its file's size");
    return 0;
}

/* ---- the device ------------------------------------------------------------- */

static void trace_line(void *opaque, const char *line)
{
    (void)opaque;
    fprintf(stderr, "trace: %s\n", line);
}

static struct hv_blk *make_backend(const struct options *o)
{
    char err[512] = "";
    struct hv_blk *b = o->disk
        ? serve_blk_file_open(o->disk, o->read_only, err, sizeof(err))
        : hv_ramdisk_create(o->size ? o->size : VIRTIO_BLK_DEFAULT_DISK_SIZE);

    if (!b) {
        serve_error("%s", err[0] ? err : "out of memory");
        return NULL;
    }
    b->read_only = o->read_only;
    return o->flip_reads ? serve_blk_flip_reads(b) : b;
}

/* virtio-net (vu_net.c): the same machine, the NIC model instead. */
static hv_machine *make_net_machine(const struct options *o)
{
    char err[512] = "";
    hv_machine *m = hv_machine_create(NULL);
    hv_dev *dev = m ? serve_net_create(m, &o->net, err, sizeof(err)) : NULL;

    if (!dev || hv_machine_add(m, dev, VPROXY_BDF) < 0) {
        serve_error("%s", err[0] ? err : "cannot create the virtio-net model");
        if (dev)
            dev->ops->destroy(dev);
        hv_machine_destroy(m);
        return NULL;
    }
    if (o->trace)
        hv_machine_set_trace(m, trace_line, NULL);
    return m;
}

static hv_machine *make_machine(const struct options *o)
{
    struct hv_blk *b;

    if (!strcmp(o->device, "virtio-net"))
        return make_net_machine(o);
    b = make_backend(o);
    struct virtio_blk_params p = {.backend = b,
                                  .num_queues = (uint16_t)o->queues,
                                  .queue_size = (uint16_t)o->queue_size,
                                  .serial = o->serial};
    hv_machine *m;
    hv_dev *dev;

    if (!b)
        return NULL;
    m = hv_machine_create(NULL);
    dev = m ? virtio_blk_create_ex(m, &p) : NULL; /* destroys b on failure */
    if (!dev || hv_machine_add(m, dev, VPROXY_BDF) < 0) {
        serve_error("cannot create the virtio-blk model");
        if (dev)
            dev->ops->destroy(dev);
        else if (!m)
            b->ops->destroy(b);
        hv_machine_destroy(m);
        return NULL;
    }
    if (o->trace)
        hv_machine_set_trace(m, trace_line, NULL);
    return m;
}

/* ---- the loop ------------------------------------------------------------------ */

struct server {
    hv_dev *net;        /* virtio-net: the --rx-pcap pump (vu_net.c) */
    int lfd, sfd;
    struct vu_session s;
    struct vu_msg msg;
    bool stop;
};

/* fds: [0] signals, [1] listening or connected socket, then live kicks. */
static nfds_t build_poll(struct server *sv, struct pollfd *pfd, uint16_t *ring)
{
    nfds_t n = 2;

    pfd[0] = (struct pollfd){sv->sfd, POLLIN, 0};
    pfd[1] = (struct pollfd){sv->s.sock >= 0 ? sv->s.sock : sv->lfd, POLLIN, 0};
    for (uint16_t i = 0; sv->s.sock >= 0 && i < sv->s.nrings; i++) {
        if (sv->s.ring[i].live && sv->s.ring[i].kick_fd >= 0) {
            ring[n] = i;
            pfd[n++] = (struct pollfd){sv->s.ring[i].kick_fd, POLLIN, 0};
        }
    }
    return n;
}

/* A front-end that stops in the middle of a message (or does not read its
 * replies) is dropped after a while instead of blocking the server. */
static void set_timeouts(int fd)
{
    struct timeval tv = {.tv_sec = 10};

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void on_socket(struct server *sv)
{
    const char *err = NULL;
    int rc;

    if (sv->s.sock < 0) {
        int fd = accept4(sv->lfd, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0) {
            serve_log("accept: %s", strerror(errno));
            return;
        }
        set_timeouts(fd);
        vu_session_begin(&sv->s, fd);
        serve_log("front-end connected");
        return;
    }
    rc = vu_recv(sv->s.sock, &sv->msg, &err);
    if (rc == 1)
        rc = vu_session_handle(&sv->s, &sv->msg) == 0 ? 1 : -1;
    if (rc == 1)
        return;
    if (rc < 0 && err)
        serve_log("dropping the front-end: %s", err);
    vu_session_end(&sv->s);
    serve_log("front-end disconnected; waiting for the next one");
}

static void run(struct server *sv)
{
    struct pollfd pfd[2 + VIRTIO_PCI_MAX_QUEUES];
    uint16_t ring[2 + VIRTIO_PCI_MAX_QUEUES];

    while (!sv->stop) {
        nfds_t n = build_poll(sv, pfd, ring);

        /* virtio-net: wake up for the --rx-delay deadline */
        int timeout = sv->net && sv->s.sock >= 0 ? serve_net_rx_timeout() : -1;

        if (poll(pfd, n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            serve_error("poll: %s", strerror(errno));
            return;
        }
        if (pfd[0].revents) {
            struct signalfd_siginfo si;

            if (read(sv->sfd, &si, sizeof(si)) == sizeof(si))
                serve_log("%s: stopping", strsignal((int)si.ssi_signo));
            sv->stop = true;
            return;
        }
        for (nfds_t i = 2; i < n; i++)
            if (pfd[i].revents)
                vu_session_kick(&sv->s, ring[i]);
        if (pfd[1].revents)
            on_socket(sv);
        if (sv->net && sv->s.sock >= 0)
            serve_net_rx_pump(sv->net);
    }
}

static void describe(const struct options *o, struct vproxy *px)
{
    uint8_t cap[8];

    if (!strcmp(o->device, "virtio-net")) {
        serve_log("virtio-net: %u queues (RX, TX, control) of up to %u; "
                  "features 0x%llx", px->num_queues, px->queue_max,
                  (unsigned long long)px->offered);
        serve_net_describe(px->m->devs[0], &o->net);
        serve_log("waiting for a vhost-user front-end on %s", o->socket);
        return;
    }
    vproxy_config_read(px, 0, cap, sizeof(cap)); /* capacity, in sectors */
    serve_log("virtio-blk: %s (%llu sectors%s), %u queue%s of up to %u; "
              "features 0x%llx%s",
              o->disk ? o->disk : "RAM disk",
              (unsigned long long)(hv_ld_le(cap, 4) |
                                   (uint64_t)hv_ld_le(cap + 4, 4) << 32),
              o->read_only ? ", read-only" : "",
              px->num_queues, px->num_queues == 1 ? "" : "s", px->queue_max,
              (unsigned long long)px->offered,
              o->flip_reads ? "; FAULT INJECTED: reads are corrupted" : "");
    serve_log("waiting for a vhost-user front-end on %s", o->socket);
}

int main(int argc, char **argv)
{
    struct options o = {.queues = 1, .record_max = 4096};
    static struct server sv;
    struct vproxy px;
    hv_machine *m;
    int rc;

    if (argc > 1 && !strcmp(argv[1], "tpm"))
        return swtpm_main(argc, argv); /* harness/serve/swtpm.c */
    rc = parse_args(argc, argv, &o);

    if (rc)
        return rc;
    m = make_machine(&o);
    if (!m)
        return 1;
    vproxy_init(&px, m, m->devs[0]);
    vu_session_init(&sv.s, &px);
    if (!strcmp(o.device, "virtio-net")) { /* QEMU's net has no config ops */
        sv.s.protocol_hidden = 1ull << VU_PROTOCOL_F_CONFIG;
        sv.net = m->devs[0];
    }
    if (o.record &&
        vu_session_record(&sv.s, o.record, o.device, o.record_max)) {
        hv_machine_destroy(m);
        return 1;
    }
    sv.sfd = serve_signal_fd();
    sv.lfd = serve_listen(o.socket);
    if (sv.lfd < 0 || sv.sfd < 0) {
        hv_machine_destroy(m);
        return 1;
    }
    describe(&o, &px);
    run(&sv);
    if (sv.s.sock >= 0)
        vu_session_end(&sv.s);
    close(sv.lfd);
    unlink(o.socket);
    vu_session_record_close(&sv.s);
    if (!strcmp(o.device, "virtio-net"))
        serve_net_summary(m->devs[0]);
    hv_machine_destroy(m); /* flushes and closes the disk */
    serve_log("stopped");
    return sv.stop ? 0 : 1;
}
