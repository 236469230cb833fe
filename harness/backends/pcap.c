/*
 * Classic pcap writer (https://wiki.wireshark.org/Development/LibpcapFileFormat):
 * 24-byte global header, then a 16-byte record header per frame. The
 * `reset` op truncates the file back to its header, like the in-memory
 * sink forgetting its frames.
 */
#include "harness/backends/hv_pcap.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCAP_MAGIC 0xa1b2c3d4u
#define PCAP_VERSION_MAJOR 2u
#define PCAP_VERSION_MINOR 4u
#define PCAP_HDR_LEN 24u
#define PCAP_REC_LEN 16u

struct hv_pcap {
    struct hv_net net;
    FILE *f;
    unsigned long frames;
    char error[160];
};

static struct hv_pcap *to_pcap(struct hv_net *n)
{
    return (struct hv_pcap *)n;
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4); /* pcap files are in the writer's byte order */
}

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

static void set_error(struct hv_pcap *p, const char *what)
{
    if (!p->error[0])
        snprintf(p->error, sizeof(p->error), "pcap: %s: %s", what,
                 strerror(errno));
}

static int write_all(struct hv_pcap *p, const void *buf, size_t len)
{
    if (fwrite(buf, 1, len, p->f) != len || fflush(p->f) != 0) {
        set_error(p, "write failed");
        return -1;
    }
    return 0;
}

static int write_file_header(struct hv_pcap *p)
{
    uint8_t h[PCAP_HDR_LEN] = {0};

    put32(h, PCAP_MAGIC);
    put16(h + 4, PCAP_VERSION_MAJOR);
    put16(h + 6, PCAP_VERSION_MINOR);
    put32(h + 16, HV_PCAP_SNAPLEN);
    put32(h + 20, HV_PCAP_LINKTYPE_ETHERNET);
    return write_all(p, h, sizeof(h));
}

static int pcap_tx(struct hv_net *n, const uint8_t *frame, size_t len)
{
    struct hv_pcap *p = to_pcap(n);
    uint8_t r[PCAP_REC_LEN];
    uint32_t incl = len > HV_PCAP_SNAPLEN ? HV_PCAP_SNAPLEN : (uint32_t)len;

    if (p->error[0])
        return -1;
    put32(r, (uint32_t)p->frames); /* seconds: the frame number */
    put32(r + 4, 0);
    put32(r + 8, incl);
    put32(r + 12, (uint32_t)len);
    if (fwrite(r, 1, sizeof(r), p->f) != sizeof(r) ||
        write_all(p, frame, incl) < 0) {
        set_error(p, "write failed");
        return -1;
    }
    p->frames++;
    return 0;
}

static void pcap_reset(struct hv_net *n)
{
    struct hv_pcap *p = to_pcap(n);

    if (p->frames == 0 || p->error[0])
        return;
    if (fflush(p->f) != 0 || ftruncate(fileno(p->f), PCAP_HDR_LEN) != 0 ||
        fseek(p->f, PCAP_HDR_LEN, SEEK_SET) != 0)
        set_error(p, "truncate failed");
    p->frames = 0;
}

static void pcap_destroy(struct hv_net *n)
{
    struct hv_pcap *p = to_pcap(n);

    fclose(p->f);
    free(p);
}

static const struct hv_net_ops pcap_ops = {
    .tx = pcap_tx,
    .reset = pcap_reset,
    .destroy = pcap_destroy,
};

struct hv_net *hv_pcap_create(const char *path, char *err, size_t errlen)
{
    struct hv_pcap *p = calloc(1, sizeof(*p));

    if (!p) {
        if (err)
            snprintf(err, errlen, "pcap: out of memory");
        return NULL;
    }
    p->net.ops = &pcap_ops;
    p->f = fopen(path, "wb");
    if (!p->f || write_file_header(p) < 0) {
        if (err)
            snprintf(err, errlen, "pcap: cannot write %s: %s", path,
                     strerror(errno));
        if (p->f)
            fclose(p->f);
        free(p);
        return NULL;
    }
    return &p->net;
}

unsigned long hv_pcap_frames(const struct hv_net *n)
{
    return ((const struct hv_pcap *)n)->frames;
}

const char *hv_pcap_error(const struct hv_net *n)
{
    const struct hv_pcap *p = (const struct hv_pcap *)n;

    return p->error[0] ? p->error : NULL;
}
