/*
 * The pcap sink behind the e1000: writes the frames the device transmits —
 * a plain UDP frame (checksums computed here), TCP and UDP frames with
 * checksum offload, and the segments of a TSO send — to the file named by
 * argv[1], checks the file's structure, and checks the open/write error
 * paths. check_pcap.sh then has tshark validate every checksum.
 */
#include <stdio.h>
#include <sys/stat.h>

#include "etest.h"
#include "harness/backends/hv_pcap.h"

#define HDR 54u
#define MSS 536u
#define TSO_PAY 2000u

static uint32_t dcmd(void)
{
    return E1000_TXD_CMD_DEXT | E1000_TXD_DTYP_D;
}

static uint32_t popts(void)
{
    return (E1000_TXD_POPTS_IXSM | E1000_TXD_POPTS_TXSM) << 8;
}

static void send_plain_udp(struct et *t)
{
    uint8_t f[200];
    size_t len = et_build(f, 17, 100, 0);
    uint8_t *ip = f + ET_ETH_HLEN;
    uint32_t l4len = (uint32_t)(len - ET_ETH_HLEN - ET_IP_HLEN);

    et_set_be16(ip + 10, (uint16_t)~et_fold(et_sum(ip, ET_IP_HLEN, 0)));
    et_set_be16(ip + ET_IP_HLEN + 6,
                (uint16_t)~et_fold(et_sum(ip + ET_IP_HLEN, l4len,
                                          et_pseudo(ip, l4len))));
    et_txd(t, et_txbuf(t, f, (uint32_t)len), (uint32_t)len | E1000_TXD_CMD_EOP, 0);
}

static void send_offloaded(struct et *t, uint8_t proto)
{
    uint8_t f[400];
    size_t len = et_build(f, proto, 250, ET_TCP_ACK | ET_TCP_PSH);
    uint8_t *ip = f + ET_ETH_HLEN;
    uint8_t tucso = (uint8_t)(ET_ETH_HLEN + ET_IP_HLEN + (proto == 6 ? 16 : 6));

    et_set_be16(f + tucso,
                et_fold(et_pseudo(ip, (uint32_t)(len - ET_ETH_HLEN - ET_IP_HLEN))));
    et_txctx(t, ET_ETH_HLEN, ET_ETH_HLEN + 10, ET_ETH_HLEN + ET_IP_HLEN - 1,
             ET_ETH_HLEN + ET_IP_HLEN, tucso, 0,
             proto == 6 ? E1000_TXD_CMD_TCP | E1000_TXD_CMD_IP : E1000_TXD_CMD_IP,
             0, 0);
    et_txd(t, et_txbuf(t, f, (uint32_t)len),
           (uint32_t)len | dcmd() | E1000_TXD_CMD_EOP, popts());
}

static void send_tso(struct et *t)
{
    static uint8_t f[HDR + TSO_PAY];
    uint8_t *ip = f + ET_ETH_HLEN;

    et_build(f, 6, TSO_PAY, ET_TCP_ACK | ET_TCP_PSH);
    et_set_be16(ip + 2, 0);
    et_set_be16(ip + ET_IP_HLEN + 16, et_fold(et_pseudo(ip, 0)));
    et_txctx(t, ET_ETH_HLEN, ET_ETH_HLEN + 10, ET_ETH_HLEN + ET_IP_HLEN - 1,
             ET_ETH_HLEN + ET_IP_HLEN, ET_ETH_HLEN + ET_IP_HLEN + 16, 0,
             TSO_PAY | E1000_TXD_CMD_TSE | E1000_TXD_CMD_TCP | E1000_TXD_CMD_IP,
             HDR, MSS);
    et_txd(t, et_txbuf(t, f, sizeof(f)),
           (uint32_t)sizeof(f) | dcmd() | E1000_TXD_CMD_TSE | E1000_TXD_CMD_EOP,
           popts());
}

static void test_errors(void)
{
    char err[200] = "";

    CHECK(hv_pcap_create("/nonexistent-dir/x.pcap", err, sizeof(err)) == NULL);
    CHECK(strstr(err, "/nonexistent-dir/x.pcap") != NULL);
#ifdef __linux__
    struct hv_net *n = hv_pcap_create("/dev/full", err, sizeof(err));
    CHECK(n == NULL); /* the header write already fails */
    if (n)
        n->ops->destroy(n);
#endif
}

int main(int argc, char **argv)
{
    unsigned tso_segs = (TSO_PAY + MSS - 1) / MSS, frames = 3 + tso_segs;
    char err[200];
    struct e1000_params p = {0};
    struct et t;
    struct stat st;
    FILE *f;
    uint8_t hdr[24];

    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.pcap\n", argv[0]);
        return 2;
    }
    p.backend = hv_pcap_create(argv[1], err, sizeof(err));
    if (!p.backend) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    et_init(&t, &p);
    et_tx_setup(&t);
    send_plain_udp(&t);
    send_offloaded(&t, 6);
    send_offloaded(&t, 17);
    send_tso(&t);
    et_tx_kick(&t);
    CHECK_EQ(hv_pcap_frames(e1000_backend(t.d)), frames);
    CHECK(hv_pcap_error(e1000_backend(t.d)) == NULL);
    /* flushed per frame: the file is complete before the sink is closed */
    f = fopen(argv[1], "rb");
    CHECK(f && fread(hdr, 1, sizeof(hdr), f) == sizeof(hdr));
    if (f)
        fclose(f);
    CHECK_EQ(hv_ld_le(hdr, 4), 0xa1b2c3d4);
    CHECK_EQ(hv_ld_le(hdr + 20, 4), 1); /* LINKTYPE_ETHERNET */
    CHECK(stat(argv[1], &st) == 0);
    CHECK_EQ(st.st_size, 24 + 16 * frames + (14 + 20 + 8 + 100) +
                             2 * (14 + 20 + 250) + 20 + 8 /* TCP, UDP headers */ +
                             tso_segs * HDR + TSO_PAY);
    et_fini(&t);
    test_errors();
    return hv_test_done("test_e1000_pcap");
}
