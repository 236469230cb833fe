/*
 * hvfuzz program text form: assembler and disassembler (host side, libc).
 *
 * One op per line; '#' starts a comment (outside quotes); blank lines are
 * ignored. Numbers are decimal or 0x-hex. Raw operand values are shown, so
 * text -> binary -> text is exact; reduction happens at execution.
 *
 *   line      := [op] ['#' comment]
 *   op        := mnemonic arg*
 *   REGION    := layout region name (bar4) | number   (mmio / pio tables)
 *   DEV       := layout device name (vblk) | number
 *   DATA      := item ('+' item)*
 *   item      := hex:HEXDIGITS | "string" (C escapes \\ \" \n \r \t \0 \xNN)
 *              | BYTE*COUNT | le16:N | le32:N | le64:N
 *
 *   mmio_read     REGION OFF SIZE            mmio_read bar4 0x14 1
 *   mmio_write    REGION OFF SIZE VAL        mmio_write bar4 0x14 1 0x3
 *   pio_read      REGION OFF SIZE            pio_read bar0 0x12 1
 *   pio_write     REGION OFF SIZE VAL        pio_write bar0 0x12 1 0x0
 *   pci_cfg_read  DEV OFF SIZE               pci_cfg_read vblk 0x4 2
 *   pci_cfg_write DEV OFF SIZE VAL           pci_cfg_write vblk 0x4 2 0x107
 *   dma_write     OFF DATA                   dma_write 0x10000 hex:0011aa
 *   dma_fill      OFF LEN BYTE               dma_fill 0x10000 512 0xaa
 *   clock_advance NS                         clock_advance 1000000
 *   rx_inject     DATA                       rx_inject hex:ffffffffffff
 *   virtq_setup   [features=U32] [queues=1..256] [size=U16|max]
 *                 virtq_setup features=0x30006e54 queues=1 size=256
 *                 (queues=N encodes raw N-1: 1 + raw % 4 queues are set up)
 *   virtq_submit  [vq=N] [out=L,L..] [in=L,..] [data=DATA]
 *                 [indirect] [nokick] [noint] | [flags=U8]
 *                 virtq_submit vq=0 out=16 in=512,1 data=hex:00000000...
 *   nvme_setup    [ioqs=1..256] [qsize=U16|max] [identify] [numq] [dbbuf]
 *                 [css_nvm] | [flags=U8]
 *                 nvme_setup ioqs=2 qsize=max identify numq dbbuf
 *                 (ioqs=N encodes raw N-1: 1 + raw % 4 queue pairs)
 *   nvme_submit   [q=N] [opc=U8] [nsid=U32] [cdw10..cdw15=U32] [xfer=U32]
 *                 [data=DATA] [dptr=prp|prp1|list|chain|sgl|sgl_seg|sgl_bb|
 *                 none] [offset] [odd] [nokick] [noreap] | [flags=U8]
 *                 nvme_submit q=1 opc=0x02 nsid=0x1 cdw10=0x800 cdw12=0x7 xfer=4096
 *   e1000_setup   [tx=1..256] [rx=1..256] [eeprom] [phy] [promisc] [lpe]
 *                 [loopback] [vlan] [rxcsum] [secrc] | [flags=U8]
 *                 e1000_setup tx=256 rx=256 eeprom phy rxcsum
 *                 (256 encodes raw 0; other values raw, reduced at run time)
 *   e1000_tx      [mode=legacy|ctx|tso|data] [auto] [ixsm] [txsm] [vle]
 *                 [nokick] [reap] [segs=1..256] [mss=U16] [hdrlen=U8]
 *                 [special=U16] [vlan=U16 (special + vle)] [ipcss= ipcso=
 *                 tucss= tucso=U8] [data=DATA] | [flags=U8]
 *                 e1000_tx mode=tso auto ixsm txsm mss=536 data=...
 *                 (segs=N encodes raw N-1: 1 + raw % 8 data descriptors)
 *   e1000_rx_post n=U8                       e1000_rx_post n=0
 *   tpm_cmd       [noloc] [noready] [nopoll] [rawsize] [keep] [wide]
 *                 [cancel] | [flags=U8] [DATA]
 *                 tpm_cmd hex:80010000000c0000017b0010
 *   .bytes HEX    raw bytes, emitted verbatim   .bytes ff
 *   .target NAME  asserts the target the text is written for
 *
 * hvfuzz-disasm prints ops in this form (blk_* as virtq_submit), with
 * "  # ..." comments naming registers (common.device_status, msix[1].ctrl,
 * command, ...), the reduced access when reduction changes it
 * ("# -> bar4+0x14/1"), and virtio-blk request headers ("# blk read
 * sector=0"). Bytes the text cannot reproduce from an op's form (unassigned
 * opcodes, virtq_submit raw counts above 7, a truncated last op) print as
 * ".bytes HEX  # what they decode to".
 *
 * Convenience directives (asm only; they assemble to virtq_submit, with the
 * 16-byte virtio-blk header le32 type, le32 reserved, le64 sector in the
 * first out segment, and a 1-byte status as the last in segment), all with
 * optional vq= / indirect / nokick / noint / flags=:
 *   blk_read  sector=S [len=512]           blk_write sector=S data=D [len=L]
 *   blk_flush                              blk_get_id [len=20]
 *   blk_discard sector=S num=N [dflags=F]  blk_write_zeroes sector=S num=N [unmap]
 *   blk_req type=T [sector=S] [out=L,..] [in=L,..] [data=D]   (in= default 1)
 * blk_read/blk_get_id: in = len,1; blk_write: out = 16,L; blk_flush may take
 * sector=; blk_discard/blk_write_zeroes: header sector 0, a second 16-byte
 * out segment le64 sector, le32 num, le32 dflags (unmap = bit 0); blk_req
 * puts its out= lengths after the header segment and data after the header.
 *
 * NVMe directives (asm only; they assemble to nvme_submit, all with the
 * nvme_submit options q= dptr= offset odd nokick noreap flags= xfer= and
 * cdw10..cdw15= (set after the directive's own fields, so they override):
 *   nvme_identify cns=N [ns=0] [cntid=0] [csi=0]    q=0, opc 0x06, xfer 4096
 *   nvme_read  ns=1 lba=L [blocks=1] [bs=512] [len=BYTES]         opc 0x02
 *   nvme_write ns=1 lba=L data=D [blocks=ceil(len(D)/bs)] [bs=512] [len=]
 *   nvme_write_zeroes [ns=1] lba=L [blocks=1] [deac]               opc 0x08
 *   nvme_flush [ns=1]                                              opc 0x00
 * read/write/write_zeroes: q=1, cdw10/11 = lba, cdw12 = blocks - 1 (| DEAC
 * bit 25); xfer = len or blocks * bs. hvfuzz-disasm prints them as
 * nvme_submit with "# read slba=.. nlb=.." style comments, and names NVMe
 * registers and doorbells ("# cc", "# sq1_doorbell") on an "nvme" BAR 0.
 *
 * e1000 directives (asm only): a built Ethernet II / IPv4 / UDP or TCP
 * frame (IP header checksum computed; TCP checksum computed, UDP 0) as
 *   e1000_udp | e1000_tcp | e1000_tcp_tso  -> e1000_tx data=frame
 *   e1000_rx_udp | e1000_rx_tcp            -> rx_inject frame
 * options: payload=DATA dst=MAC src=MAC sip=IP dip=IP sport= dport= tag=VID
 * (802.1Q header in the frame); tcp: seq= ack= tcpflags= (0x18); tx: csum
 * (mode ctx auto txsm, L4 checksum = pseudo-header sum as Linux leaves it),
 * tso [mss=] (e1000_tcp_tso: mode tso auto ixsm txsm, IP total length and
 * checksum 0, pseudo-header sum without length), and every e1000_tx option
 * but data= (mode=, segs=, vlan=, nokick, reap, flags=, ...). Defaults: TX
 * 52:54:00:12:34:56 10.0.2.15 -> 52:55:0a:00:02:02 10.0.2.2 (QEMU's slirp),
 * RX the other way round, ports 1234 -> 5678.
 *   e1000_udp payload="hello" csum       e1000_tcp_tso mss=536 payload=0x41*3000
 * hvfuzz-disasm prints them as e1000_tx / rx_inject with "# 60 bytes, ipv4/udp"
 * comments, and names e1000 registers ("# rdt", "# mta[3]", "# stats+0x74")
 * on an "e1000" BAR 0 and ioaddr/iodata on its BAR 1.
 *
 * virtio-net directives (asm only; they assemble to virtq_submit on the
 * virtio-net queues: 0 RX, 1 TX, 2 control; all take vq= indirect nokick
 * noint flags=):
 *   net_tx data=FRAME    out = 12-byte virtio_net_hdr, then FRAME over
 *                        split=1..6 segments (vq 1)
 *   net_udp | net_tcp    the same with a built frame (e1000_udp's frame
 *                        options and defaults; csum: NEEDS_CSUM, csum_start
 *                        = L2 + 20, csum_offset 6 / 16, checksum field =
 *                        pseudo-header sum)
 *     header options: hflags= gso= hdr_len= gso_size= csum_start=
 *     csum_offset= num_buffers= hdr=12|10 (10: legacy header)
 *   net_rx_post [len=2048] [split=1..6]   in = len over split segments (vq 0)
 *   net_ctrl class=rx|mac|vlan|announce|mq|offloads|N cmd=N [data=D] [ack=1]
 *                        out = class, cmd [, data]; in = ack bytes (vq 2)
 *   net_udp payload="hi" csum      net_ctrl class=rx cmd=0 data=0x00*1
 * hvfuzz-disasm prints them as virtq_submit with "# net tx 60 bytes",
 * "# net rx buffer" and "# net ctrl rx cmd=0" comments.
 *
 * TPM directives (asm only; they assemble to tpm_cmd with a well-formed
 * command, header size included, and take every tpm_cmd flag keyword):
 *   tpm_startup clear|state          tpm_shutdown clear|state
 *   tpm_selftest [full]              tpm_getrandom N
 *   tpm_getcap CAP PROPERTY COUNT    tpm_pcr_read sha1|sha256 PCR,PCR,..
 *   tpm_pcr_extend PCR sha1:HEX|sha256:HEX ..  (password session, empty auth)
 * hvfuzz-disasm prints them as tpm_cmd with "# GetRandom (0x17b) size=12"
 * style comments, and names CRB registers ("# ctrl_start", "# data+0x4")
 * on a "tpm-crb" region.
 */
#include "harness/program/hv_text.h"

#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "targets/virtio/virtio_regs.h"

/* ---- growable buffers -------------------------------------------------- */

struct bbuf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
};

static void bb_put(struct bbuf *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < n + 1)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void bb_byte(struct bbuf *b, uint8_t v) { bb_put(b, &v, 1); }

static void bb_le(struct bbuf *b, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        bb_byte(b, (uint8_t)(v >> (8 * i)));
}

static void bb_printf(struct bbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bb_printf(struct bbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        bb_put(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    bb_put(b, big, (size_t)n);
    free(big);
}

static void bb_hex(struct bbuf *b, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char c[2] = {hx[p[i] >> 4], hx[p[i] & 15]};
        bb_put(b, c, 2);
    }
}

/* ======================================================================= */
/*                               disassembler                              */
/* ======================================================================= */

static void fmt_region(struct bbuf *b, const struct hv_layout_region *t,
                       uint8_t n, uint8_t raw)
{
    if (raw < n && t[raw].name)
        bb_printf(b, "%s", t[raw].name);
    else
        bb_printf(b, "%u", raw);
}

static void fmt_dev(struct bbuf *b, const struct hv_layout *l, uint8_t raw)
{
    if (raw < l->ndevs && l->devs[raw].name)
        bb_printf(b, "%s", l->devs[raw].name);
    else
        bb_printf(b, "%u", raw);
}

/* Data as hex chunks and BYTE*COUNT runs (runs of 16 or more). */
static void fmt_data(struct bbuf *b, const uint8_t *p, size_t n)
{
    if (n == 0) {
        bb_printf(b, "hex:");
        return;
    }
    size_t i = 0, chunk = 0;
    bool first = true;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && p[j] == p[i])
            j++;
        if (j - i >= 16) {
            if (i > chunk) {
                bb_printf(b, "%shex:", first ? "" : "+");
                bb_hex(b, p + chunk, i - chunk);
                first = false;
            }
            bb_printf(b, "%s0x%02x*%zu", first ? "" : "+", p[i], j - i);
            first = false;
            chunk = j;
        }
        i = j;
    }
    if (n > chunk) {
        bb_printf(b, "%shex:", first ? "" : "+");
        bb_hex(b, p + chunk, n - chunk);
    }
}

static void fmt_list(struct bbuf *b, const char *key, const uint16_t *v,
                     unsigned n)
{
    if (!n)
        return;
    bb_printf(b, " %s=", key);
    for (unsigned i = 0; i < n; i++)
        bb_printf(b, "%s%u", i ? "," : "", v[i]);
}

static const char *common_field(unsigned off)
{
    switch (off) {
    case VIRTIO_PCI_COMMON_DFSELECT: return "device_feature_select";
    case VIRTIO_PCI_COMMON_DF: return "device_feature";
    case VIRTIO_PCI_COMMON_GFSELECT: return "driver_feature_select";
    case VIRTIO_PCI_COMMON_GF: return "driver_feature";
    case VIRTIO_PCI_COMMON_MSIX: return "config_msix_vector";
    case VIRTIO_PCI_COMMON_NUMQ: return "num_queues";
    case VIRTIO_PCI_COMMON_STATUS: return "device_status";
    case VIRTIO_PCI_COMMON_CFGGENERATION: return "config_generation";
    case VIRTIO_PCI_COMMON_Q_SELECT: return "queue_select";
    case VIRTIO_PCI_COMMON_Q_SIZE: return "queue_size";
    case VIRTIO_PCI_COMMON_Q_MSIX: return "queue_msix_vector";
    case VIRTIO_PCI_COMMON_Q_ENABLE: return "queue_enable";
    case VIRTIO_PCI_COMMON_Q_NOFF: return "queue_notify_off";
    case VIRTIO_PCI_COMMON_Q_DESCLO: return "queue_desc_lo";
    case VIRTIO_PCI_COMMON_Q_DESCHI: return "queue_desc_hi";
    case VIRTIO_PCI_COMMON_Q_AVAILLO: return "queue_driver_lo";
    case VIRTIO_PCI_COMMON_Q_AVAILHI: return "queue_driver_hi";
    case VIRTIO_PCI_COMMON_Q_USEDLO: return "queue_device_lo";
    case VIRTIO_PCI_COMMON_Q_USEDHI: return "queue_device_hi";
    default: return NULL;
    }
}

static const char *cfg_field(unsigned off)
{
    switch (off) {
    case 0x00: return "vendor_id";
    case 0x02: return "device_id";
    case 0x04: return "command";
    case 0x06: return "status";
    case 0x08: return "revision/class";
    case 0x0c: return "cache_line_size";
    case 0x0d: return "latency_timer";
    case 0x0e: return "header_type";
    case 0x10: return "bar0";
    case 0x14: return "bar1";
    case 0x18: return "bar2";
    case 0x1c: return "bar3";
    case 0x20: return "bar4";
    case 0x24: return "bar5";
    case 0x2c: return "subsystem_vendor_id";
    case 0x2e: return "subsystem_id";
    case 0x30: return "rom_address";
    case 0x34: return "capabilities_ptr";
    case 0x3c: return "interrupt_line";
    case 0x3d: return "interrupt_pin";
    default: return NULL;
    }
}

/* NVMe BAR 0 (QEMU's layout): registers, doorbells (named for DSTRD 0),
 * MSI-X table at 0x2000 and PBA at 0x3000. */
static void nvme_reg_name(char *what, size_t n, uint64_t off)
{
    static const struct {
        unsigned off;
        const char *name;
    } regs[] = {
        {0x00, "cap"},   {0x04, "cap_hi"}, {0x08, "vs"},     {0x0c, "intms"},
        {0x10, "intmc"}, {0x14, "cc"},     {0x1c, "csts"},   {0x20, "nssr"},
        {0x24, "aqa"},   {0x28, "asq"},    {0x2c, "asq_hi"}, {0x30, "acq"},
        {0x34, "acq_hi"}, {0x38, "cmbloc"}, {0x3c, "cmbsz"},
    };
    static const char *const field[4] = {"addr_lo", "addr_hi", "data", "ctrl"};
    if (off < 0x1000) {
        for (unsigned i = 0; i < sizeof regs / sizeof regs[0]; i++)
            if (regs[i].off == off)
                snprintf(what, n, "%s", regs[i].name);
    } else if (off < 0x2000 && off % 4 == 0) {
        unsigned idx = (unsigned)((off - 0x1000) / 4);
        snprintf(what, n, "%s%u_doorbell", idx % 2 ? "cq" : "sq", idx / 2);
    } else if (off >= 0x2000 && off < 0x3000) {
        snprintf(what, n, "msix[%u].%s", (unsigned)((off - 0x2000) / 16),
                 field[(off % 16) / 4]);
    } else if (off >= 0x3000) {
        snprintf(what, n, "msix_pba+0x%x", (unsigned)(off - 0x3000));
    }
}

/* e1000 BAR 0 (8254x SDM 13.4): registers, the statistics block, tables */
static void tpm_crb_reg_name(char *what, size_t n, uint64_t off)
{
    static const struct {
        unsigned off;
        const char *name;
    } regs[] = {
        {0x00, "loc_state"},     {0x08, "loc_ctrl"},      {0x0c, "loc_sts"},
        {0x30, "intf_id"},       {0x34, "intf_id+4"},     {0x38, "ctrl_ext"},
        {0x40, "ctrl_req"},      {0x44, "ctrl_sts"},      {0x48, "ctrl_cancel"},
        {0x4c, "ctrl_start"},    {0x50, "int_enable"},    {0x54, "int_sts"},
        {0x58, "ctrl_cmd_size"}, {0x5c, "ctrl_cmd_laddr"}, {0x60, "ctrl_cmd_haddr"},
        {0x64, "ctrl_rsp_size"}, {0x68, "ctrl_rsp_addr"}, {0x6c, "ctrl_rsp_addr+4"},
    };
    if (off >= 0x80) {
        snprintf(what, n, "data+0x%x", (unsigned)(off - 0x80));
        return;
    }
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++)
        if (regs[i].off == off)
            snprintf(what, n, "%s", regs[i].name);
}

static void e1000_reg_name(char *what, size_t n, uint64_t off)
{
    static const struct {
        unsigned off;
        const char *name;
    } regs[] = {
        {0x0000, "ctrl"},   {0x0008, "status"}, {0x0010, "eecd"},
        {0x0014, "eerd"},   {0x0018, "ctrl_ext"}, {0x001c, "fla"},
        {0x0020, "mdic"},   {0x0028, "fcal"},   {0x002c, "fcah"},
        {0x0030, "fct"},    {0x0038, "vet"},    {0x00c0, "icr"},
        {0x00c4, "itr"},    {0x00c8, "ics"},    {0x00d0, "ims"},
        {0x00d8, "imc"},    {0x0100, "rctl"},   {0x0170, "fcttv"},
        {0x0178, "txcw"},   {0x0180, "rxcw"},   {0x0400, "tctl"},
        {0x0410, "tipg"},   {0x0458, "aifs"},   {0x0e00, "ledctl"},
        {0x1000, "pba"},    {0x2160, "fcrtl"},  {0x2168, "fcrth"},
        {0x2800, "rdbal"},  {0x2804, "rdbah"},  {0x2808, "rdlen"},
        {0x2810, "rdh"},    {0x2818, "rdt"},    {0x2820, "rdtr"},
        {0x282c, "radv"},   {0x2c00, "rsrpd"},  {0x3800, "tdbal"},
        {0x3804, "tdbah"},  {0x3808, "tdlen"},  {0x3810, "tdh"},
        {0x3818, "tdt"},    {0x3820, "tidv"},   {0x3828, "txdctl"},
        {0x382c, "tadv"},   {0x3830, "tspmt"},  {0x5000, "rxcsum"},
        {0x5800, "wuc"},    {0x5808, "wufc"},   {0x5810, "wus"},
        {0x5820, "manc"},   {0x5838, "ipav"},   {0x8000, "pbm"},
    };
    for (unsigned i = 0; i < sizeof regs / sizeof regs[0]; i++)
        if (regs[i].off == off) {
            snprintf(what, n, "%s", regs[i].name);
            return;
        }
    if (off >= 0x4000 && off < 0x4100)
        snprintf(what, n, "stats+0x%x", (unsigned)(off - 0x4000));
    else if (off >= 0x5200 && off < 0x5400)
        snprintf(what, n, "mta[%u]", (unsigned)((off - 0x5200) / 4));
    else if (off >= 0x5400 && off < 0x5480)
        snprintf(what, n, "%s[%u]", off % 8 < 4 ? "ral" : "rah",
                 (unsigned)((off - 0x5400) / 8));
    else if (off >= 0x5600 && off < 0x5800)
        snprintf(what, n, "vfta[%u]", (unsigned)((off - 0x5600) / 4));
}

/* "  # ..." after a raw region access: the register, and the reduced
 * address when reduction changed the raw operands. */
static void annotate(struct bbuf *b, const struct hv_layout *l,
                     const struct hv_op *op)
{
    uint64_t addr;
    unsigned size;
    uint8_t bdf;
    if (!hv_op_resolve(l, op, &addr, &size, &bdf)) {
        bb_printf(b, "  # skipped");
        return;
    }
    char what[96] = "";
    bool reduced = false;
    const struct hv_layout_region *r = NULL;
    switch (op->code) {
    case HV_OP_MMIO_READ:
    case HV_OP_MMIO_WRITE: {
        unsigned ri = op->region % l->nmmio;
        r = &l->mmio[ri];
        uint64_t off = addr - r->base;
        reduced = op->region != ri || off != op->off || size != op->size;
        if ((int)ri == l->virtio_region) {
            if (off < VIRTIO_PCI_ISR_OFF) {
                const char *f = common_field((unsigned)off);
                if (f)
                    snprintf(what, sizeof what, "common.%s", f);
                else
                    snprintf(what, sizeof what, "common+0x%x", (unsigned)off);
            } else if (off < VIRTIO_PCI_DEVICE_OFF) {
                if (off == VIRTIO_PCI_ISR_OFF)
                    snprintf(what, sizeof what, "isr");
                else
                    snprintf(what, sizeof what, "isr+0x%x",
                             (unsigned)(off - VIRTIO_PCI_ISR_OFF));
            } else if (off < VIRTIO_PCI_NOTIFY_OFF) {
                snprintf(what, sizeof what, "device_cfg+0x%x",
                         (unsigned)(off - VIRTIO_PCI_DEVICE_OFF));
            } else if (off < VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_REGION_SIZE &&
                       (off - VIRTIO_PCI_NOTIFY_OFF) %
                               VIRTIO_PCI_NOTIFY_MULTIPLIER == 0) {
                snprintf(what, sizeof what, "notify q%u",
                         (unsigned)((off - VIRTIO_PCI_NOTIFY_OFF) /
                                    VIRTIO_PCI_NOTIFY_MULTIPLIER));
            }
        }
        const char *model = r->dev < l->ndevs ? l->devs[r->dev].model : NULL;
        if (!what[0] && model && !strncmp(model, "virtio", 6) &&
            r->bar == VIRTIO_PCI_MSIX_BAR) {
            static const char *const field[4] = {"addr_lo", "addr_hi", "data",
                                                 "ctrl"};
            if (off < VIRTIO_PCI_MSIX_PBA_OFF)
                snprintf(what, sizeof what, "msix[%u].%s", (unsigned)(off / 16),
                         field[(off % 16) / 4]);
            else
                snprintf(what, sizeof what, "msix_pba+0x%x",
                         (unsigned)(off - VIRTIO_PCI_MSIX_PBA_OFF));
        }
        if (!what[0] && model && !strcmp(model, "nvme") && r->bar == 0)
            nvme_reg_name(what, sizeof what, off);
        if (!what[0] && model && !strcmp(model, "e1000") && r->bar == 0)
            e1000_reg_name(what, sizeof what, off);
        if (!what[0] && model && !strcmp(model, "tpm-crb") && r->bar == 0)
            tpm_crb_reg_name(what, sizeof what, off);
        if (reduced)
            bb_printf(b, "  # -> %s+0x%llx/%u%s%s", r->name ? r->name : "?",
                      (unsigned long long)off, size, what[0] ? " " : "", what);
        else if (what[0])
            bb_printf(b, "  # %s", what);
        return;
    }
    case HV_OP_PIO_READ:
    case HV_OP_PIO_WRITE: {
        unsigned ri = op->region % l->npio;
        r = &l->pio[ri];
        uint64_t off = addr - r->base;
        const char *model = r->dev < l->ndevs ? l->devs[r->dev].model : NULL;
        if (model && !strcmp(model, "e1000") && r->bar == 1 && off < 8)
            snprintf(what, sizeof what, "%s", off < 4 ? "ioaddr" : "iodata");
        if (op->region != ri || off != op->off || size != op->size)
            bb_printf(b, "  # -> %s+0x%llx/%u%s%s", r->name ? r->name : "?",
                      (unsigned long long)off, size, what[0] ? " " : "", what);
        else if (what[0])
            bb_printf(b, "  # %s", what);
        return;
    }
    default: {
        unsigned di = op->region % l->ndevs;
        const char *f = cfg_field((unsigned)addr);
        reduced = op->region != di || addr != op->off || size != op->size;
        if (reduced)
            bb_printf(b, "  # -> %s 0x%x/%u%s%s",
                      l->devs[di].name ? l->devs[di].name : "?",
                      (unsigned)addr, size, f ? " " : "", f ? f : "");
        else if (f)
            bb_printf(b, "  # %s", f);
        return;
    }
    }
}

static bool has_model(const struct hv_layout *l, const char *model)
{
    for (unsigned i = 0; i < l->ndevs; i++)
        if (l->devs[i].model && !strcmp(l->devs[i].model, model))
            return true;
    return false;
}

static uint64_t ld_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* "  # blk read sector=N" for a submit that carries a virtio-blk header */
static void annotate_blk(struct bbuf *b, const struct hv_layout *l,
                         const struct hv_op *op)
{
    if (!has_model(l, "virtio-blk") || (op->nout & 7) == 0 ||
        op->seg[0] != VIRTIO_BLK_REQ_HDR_SIZE || op->len < VIRTIO_BLK_REQ_HDR_SIZE)
        return;
    uint32_t type = (uint32_t)ld_le(op->data, 4);
    uint64_t sector = ld_le(op->data + 8, 8);
    const char *name = type == VIRTIO_BLK_T_IN ? "read"
                       : type == VIRTIO_BLK_T_OUT ? "write"
                       : type == VIRTIO_BLK_T_FLUSH ? "flush"
                       : type == VIRTIO_BLK_T_GET_ID ? "get_id"
                       : type == VIRTIO_BLK_T_DISCARD ? "discard"
                       : type == VIRTIO_BLK_T_WRITE_ZEROES ? "write_zeroes"
                                                           : NULL;
    if (name)
        bb_printf(b, "  # blk %s", name);
    else
        bb_printf(b, "  # blk type=0x%x", type);
    if (type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_OUT)
        bb_printf(b, " sector=%llu", (unsigned long long)sector);
    else if ((type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) &&
             (op->nout & 7) >= 2 && op->seg[1] >= 16 && op->len >= 32)
        bb_printf(b, " sector=%llu num=%u flags=0x%x",
                  (unsigned long long)ld_le(op->data + 16, 8),
                  (unsigned)ld_le(op->data + 24, 4),
                  (unsigned)ld_le(op->data + 28, 4));
}

/* "  # net ctrl rx cmd=0" / "  # net tx 60 bytes" / "  # net rx buffer"
 * for a submit on a virtio-net queue (0 RX, 1 TX, 2 control, as set up
 * by virtq_setup on the default device). */
static void annotate_net(struct bbuf *b, const struct hv_layout *l,
                         const struct hv_op *op)
{
    static const char *const cls[] = {"rx", "mac", "vlan", "announce", "mq",
                                      "offloads"};
    unsigned nout = op->nout & 7, nin = op->nin & 7;
    if (!has_model(l, "virtio-net"))
        return;
    if (op->region == 2 && nout && op->len >= 2) {
        if (op->data[0] < 6)
            bb_printf(b, "  # net ctrl %s cmd=%u", cls[op->data[0]], op->data[1]);
        else
            bb_printf(b, "  # net ctrl class=%u cmd=%u", op->data[0], op->data[1]);
    } else if (op->region == 1 && nout && op->seg[0] == 12 && op->len >= 12) {
        bb_printf(b, "  # net tx %u bytes", (unsigned)(op->len - 12));
        if (op->data[0] || op->data[1])
            bb_printf(b, " hflags=0x%x gso=0x%x", op->data[0], op->data[1]);
    } else if (op->region == 0 && !nout && nin) {
        bb_printf(b, "  # net rx buffer");
    }
}

/* " REGION|DEV OFF SIZE [VAL]" of a raw register or config access. */
static void fmt_access(struct bbuf *b, const struct hv_layout *l,
                       const struct hv_op *op)
{
    bb_printf(b, " ");
    if (op->code == HV_OP_MMIO_READ || op->code == HV_OP_MMIO_WRITE)
        fmt_region(b, l->mmio, l->nmmio, op->region);
    else if (op->code == HV_OP_PIO_READ || op->code == HV_OP_PIO_WRITE)
        fmt_region(b, l->pio, l->npio, op->region);
    else
        fmt_dev(b, l, op->region);
    bb_printf(b, " 0x%x %u", op->off, op->size);
    if (op->code == HV_OP_MMIO_WRITE || op->code == HV_OP_PIO_WRITE ||
        op->code == HV_OP_CFG_WRITE)
        bb_printf(b, " 0x%llx", (unsigned long long)op->val);
}

static void fmt_nvme_setup(struct bbuf *b, const struct hv_op *op);
static void fmt_nvme_submit(struct bbuf *b, const struct hv_op *op,
                            bool comments);
static void fmt_e1000_setup(struct bbuf *b, const struct hv_op *op,
                            bool comments);
static void fmt_e1000_tx(struct bbuf *b, const struct hv_op *op, bool comments);
static void describe_frame(struct bbuf *b, const uint8_t *p, size_t n);
static void fmt_tpm_cmd(struct bbuf *b, const struct hv_op *op, bool comments);

/* The text of a known op, with annotation comments if `comments`. */
static void fmt_op(struct bbuf *b, const struct hv_layout *l,
                   const struct hv_op *op, bool comments)
{
    const char *name = hv_op_name(op->code);
    bb_printf(b, "%s", name);
    switch (op->code) {
    case HV_OP_MMIO_READ:
    case HV_OP_MMIO_WRITE:
    case HV_OP_PIO_READ:
    case HV_OP_PIO_WRITE:
    case HV_OP_CFG_READ:
    case HV_OP_CFG_WRITE:
        fmt_access(b, l, op);
        if (comments)
            annotate(b, l, op);
        break;
    case HV_OP_DMA_WRITE:
        bb_printf(b, " 0x%x ", op->off);
        fmt_data(b, op->data, op->len);
        break;
    case HV_OP_DMA_FILL:
        bb_printf(b, " 0x%x %u 0x%02x", op->off, op->len, (unsigned)op->val);
        break;
    case HV_OP_CLOCK_ADVANCE:
        bb_printf(b, " %llu", (unsigned long long)op->val);
        break;
    case HV_OP_RX_INJECT:
        bb_printf(b, " ");
        fmt_data(b, op->data, op->len);
        if (comments && op->len && has_model(l, "e1000")) {
            bb_printf(b, "  # %u bytes,", op->len);
            describe_frame(b, op->data, op->len);
        }
        break;
    case HV_OP_VIRTQ_SETUP:
        bb_printf(b, " features=0x%llx queues=%u size=", (unsigned long long)op->val,
                  op->region + 1u);
        if (op->len)
            bb_printf(b, "%u", op->len);
        else
            bb_printf(b, "max");
        break;
    case HV_OP_VIRTQ_SUBMIT: {
        unsigned nout = op->nout & 7u, nin = op->nin & 7u;
        bb_printf(b, " vq=%u", op->region);
        fmt_list(b, "out", op->seg, nout);
        fmt_list(b, "in", op->seg + nout, nin);
        if (op->len) {
            bb_printf(b, " data=");
            fmt_data(b, op->data, op->len);
        }
        if (op->flags & ~7u) {
            bb_printf(b, " flags=0x%02x", op->flags);
        } else {
            if (op->flags & HV_SUBMIT_F_INDIRECT)
                bb_printf(b, " indirect");
            if (op->flags & HV_SUBMIT_F_NOKICK)
                bb_printf(b, " nokick");
            if (op->flags & HV_SUBMIT_F_NO_INTERRUPT)
                bb_printf(b, " noint");
        }
        if (comments) {
            annotate_blk(b, l, op);
            annotate_net(b, l, op);
        }
        break;
    }
    case HV_OP_NVME_SETUP:
        fmt_nvme_setup(b, op);
        break;
    case HV_OP_NVME_SUBMIT:
        fmt_nvme_submit(b, op, comments);
        break;
    case HV_OP_E1000_SETUP:
        fmt_e1000_setup(b, op, comments);
        break;
    case HV_OP_E1000_TX:
        fmt_e1000_tx(b, op, comments);
        break;
    case HV_OP_E1000_RX_POST:
        bb_printf(b, " n=%u", op->region);
        break;
    case HV_OP_TPM_CMD:
        fmt_tpm_cmd(b, op, comments);
        break;
    }
}

static const char *const nvme_dptr_names[8] = {
    "prp", "prp1", "list", "chain", "sgl", "sgl_seg", "sgl_bb", "none",
};

static const char *nvme_admin_name(unsigned opc)
{
    switch (opc) {
    case 0x00: return "delete_sq";
    case 0x01: return "create_sq";
    case 0x02: return "get_log_page";
    case 0x04: return "delete_cq";
    case 0x05: return "create_cq";
    case 0x06: return "identify";
    case 0x08: return "abort";
    case 0x09: return "set_features";
    case 0x0a: return "get_features";
    case 0x0c: return "async_event_request";
    case 0x0d: return "ns_management";
    case 0x10: return "fw_commit";
    case 0x11: return "fw_download";
    case 0x15: return "ns_attachment";
    case 0x18: return "keep_alive";
    case 0x7c: return "doorbell_buffer_config";
    case 0x80: return "format_nvm";
    default: return NULL;
    }
}

static const char *nvme_io_name(unsigned opc)
{
    switch (opc) {
    case 0x00: return "flush";
    case 0x01: return "write";
    case 0x02: return "read";
    case 0x04: return "write_uncorrectable";
    case 0x05: return "compare";
    case 0x08: return "write_zeroes";
    case 0x09: return "dataset_management";
    case 0x0c: return "verify";
    case 0x19: return "copy";
    default: return NULL;
    }
}

static void fmt_nvme_setup(struct bbuf *b, const struct hv_op *op)
{
    bb_printf(b, " ioqs=%u qsize=", op->region + 1u);
    if (op->len)
        bb_printf(b, "%u", op->len);
    else
        bb_printf(b, "max");
    if (op->flags & ~0x0fu) {
        bb_printf(b, " flags=0x%02x", op->flags);
        return;
    }
    if (op->flags & HV_NVME_SETUP_F_IDENTIFY)
        bb_printf(b, " identify");
    if (op->flags & HV_NVME_SETUP_F_NUM_QUEUES)
        bb_printf(b, " numq");
    if (op->flags & HV_NVME_SETUP_F_DBBUF)
        bb_printf(b, " dbbuf");
    if (op->flags & HV_NVME_SETUP_F_CSS_NVM)
        bb_printf(b, " css_nvm");
}

static void fmt_nvme_submit(struct bbuf *b, const struct hv_op *op,
                            bool comments)
{
    bb_printf(b, " q=%u opc=0x%02x", op->region, (unsigned)op->val);
    if (op->dw[0])
        bb_printf(b, " nsid=0x%x", op->dw[0]);
    for (unsigned i = 1; i < 7; i++)
        if (op->dw[i])
            bb_printf(b, " cdw%u=0x%x", 9 + i, op->dw[i]);
    if (op->off)
        bb_printf(b, " xfer=%u", op->off);
    if (op->flags & 0x80u) {
        bb_printf(b, " flags=0x%02x", op->flags);
    } else {
        unsigned mode = op->flags & HV_NVME_F_DPTR_MASK;
        if (mode)
            bb_printf(b, " dptr=%s", nvme_dptr_names[mode]);
        if (op->flags & HV_NVME_F_OFFSET)
            bb_printf(b, " offset");
        if (op->flags & HV_NVME_F_ODD)
            bb_printf(b, " odd");
        if (op->flags & HV_NVME_F_NOKICK)
            bb_printf(b, " nokick");
        if (op->flags & HV_NVME_F_NOREAP)
            bb_printf(b, " noreap");
    }
    if (op->len) {
        bb_printf(b, " data=");
        fmt_data(b, op->data, op->len);
    }
    if (!comments)
        return;
    unsigned opc = (unsigned)op->val;
    const char *name = op->region == 0 ? nvme_admin_name(opc) : nvme_io_name(opc);
    if (name)
        bb_printf(b, "  # %s%s", op->region == 0 ? "admin " : "", name);
    if (name && op->region != 0 && (opc == 0x01 || opc == 0x02 || opc == 0x08))
        bb_printf(b, " slba=0x%llx nlb=%u",
                  (unsigned long long)op->dw[2] << 32 | op->dw[1],
                  (op->dw[3] & 0xffffu) + 1);
}

/* ---- e1000 ---------------------------------------------------------------- */

static const char *const e1000_setup_flag_names[8] = {
    "eeprom", "phy", "promisc", "lpe", "loopback", "vlan", "rxcsum", "secrc",
};
static const char *const e1000_tx_mode_names[4] = {"legacy", "ctx", "tso",
                                                   "data"};
static const char *const e1000_tx_flag_names[6] = {
    "auto", "ixsm", "txsm", "vle", "nokick", "reap",
};

static unsigned e1000_ring(uint8_t raw)
{
    return raw == 0 ? 256u : raw < 8 ? 8u : raw & ~7u;
}

static void fmt_e1000_setup(struct bbuf *b, const struct hv_op *op,
                            bool comments)
{
    bb_printf(b, " tx=%u rx=%u", op->region ? op->region : 256u,
              op->size ? op->size : 256u);
    for (unsigned i = 0; i < 8; i++)
        if (op->flags & (1u << i))
            bb_printf(b, " %s", e1000_setup_flag_names[i]);
    if (comments && (e1000_ring(op->region) != (op->region ? op->region : 256u) ||
                     e1000_ring(op->size) != (op->size ? op->size : 256u)))
        bb_printf(b, "  # rings tx=%u rx=%u", e1000_ring(op->region),
                  e1000_ring(op->size));
}

/* "ipv4/udp" style summary of a frame */
static void describe_frame(struct bbuf *b, const uint8_t *p, size_t n)
{
    size_t l2 = 14;
    unsigned type = n >= 14 ? (unsigned)(p[12] << 8 | p[13]) : 0;
    if (type == 0x8100 && n >= 18) {
        bb_printf(b, " vlan %u", (unsigned)((p[14] << 8 | p[15]) & 0xfff));
        l2 = 18;
        type = (unsigned)(p[16] << 8 | p[17]);
    }
    unsigned proto = 0x100;
    if (type == 0x0800 && n > l2 + 9) {
        bb_printf(b, " ipv4");
        proto = p[l2 + 9];
    } else if (type == 0x86dd && n > l2 + 6) {
        bb_printf(b, " ipv6");
        proto = p[l2 + 6];
    } else if (type == 0x0806) {
        bb_printf(b, " arp");
    } else if (n >= 14) {
        bb_printf(b, " type=0x%04x", type);
    } else {
        bb_printf(b, " runt");
    }
    if (proto == 6)
        bb_printf(b, "/tcp");
    else if (proto == 17)
        bb_printf(b, "/udp");
    else if (proto == 1)
        bb_printf(b, "/icmp");
    else if (proto < 0x100)
        bb_printf(b, "/proto=%u", proto);
}

static void fmt_e1000_tx(struct bbuf *b, const struct hv_op *op, bool comments)
{
    unsigned mode = op->flags & HV_E1000_TX_F_MODE_MASK;
    if (mode)
        bb_printf(b, " mode=%s", e1000_tx_mode_names[mode]);
    for (unsigned i = 0; i < 6; i++)
        if (op->flags & (4u << i))
            bb_printf(b, " %s", e1000_tx_flag_names[i]);
    if (op->nout)
        bb_printf(b, " segs=%u", op->nout + 1u);
    if (op->off)
        bb_printf(b, " mss=%u", op->off);
    if (op->size)
        bb_printf(b, " hdrlen=%u", op->size);
    if (op->val)
        bb_printf(b, " special=0x%llx", (unsigned long long)op->val);
    static const char *const offs[4] = {"ipcss", "ipcso", "tucss", "tucso"};
    for (unsigned i = 0; i < 4; i++)
        if (op->dw[i])
            bb_printf(b, " %s=%u", offs[i], op->dw[i]);
    if (op->len) {
        bb_printf(b, " data=");
        fmt_data(b, op->data, op->len);
    }
    if (comments && op->len) {
        bb_printf(b, "  # %u bytes,", op->len);
        describe_frame(b, op->data, op->len);
    }
}

static const char *const tpm_flag_names[7] = {
    "noloc", "noready", "nopoll", "rawsize", "keep", "wide", "cancel",
};

static const char *tpm_cc_name(uint32_t cc)
{
    static const struct {
        uint32_t cc;
        const char *name;
    } names[] = {
        {0x11f, "NV_UndefineSpaceSpecial"}, {0x122, "NV_UndefineSpace"},
        {0x129, "HierarchyChangeAuth"},     {0x12a, "NV_DefineSpace"},
        {0x12b, "PCR_Allocate"},            {0x134, "NV_Increment"},
        {0x137, "NV_Write"},                {0x13c, "PCR_Event"},
        {0x13d, "PCR_Reset"},               {0x142, "IncrementalSelfTest"},
        {0x143, "SelfTest"},                {0x144, "Startup"},
        {0x145, "Shutdown"},                {0x146, "StirRandom"},
        {0x14e, "NV_Read"},                 {0x165, "FlushContext"},
        {0x169, "NV_ReadPublic"},           {0x176, "StartAuthSession"},
        {0x17a, "GetCapability"},           {0x17b, "GetRandom"},
        {0x17c, "GetTestResult"},           {0x17d, "Hash"},
        {0x17e, "PCR_Read"},                {0x181, "ReadClock"},
        {0x182, "PCR_Extend"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].cc == cc)
            return names[i].name;
    return NULL;
}

static void fmt_tpm_cmd(struct bbuf *b, const struct hv_op *op, bool comments)
{
    if (op->flags & 0x80u) {
        bb_printf(b, " flags=0x%02x", op->flags);
    } else {
        for (unsigned i = 0; i < 7; i++)
            if (op->flags & (1u << i))
                bb_printf(b, " %s", tpm_flag_names[i]);
    }
    if (op->len) {
        bb_printf(b, " ");
        fmt_data(b, op->data, op->len);
    }
    if (!comments || op->len < 10)
        return;
    uint32_t cc = (uint32_t)op->data[6] << 24 | (uint32_t)op->data[7] << 16 |
                  (uint32_t)op->data[8] << 8 | op->data[9];
    uint32_t size = (uint32_t)op->data[2] << 24 | (uint32_t)op->data[3] << 16 |
                    (uint32_t)op->data[4] << 8 | op->data[5];
    const char *name = tpm_cc_name(cc);
    bb_printf(b, "  # %s (0x%x) size=%u", name ? name : "CC", cc, size);
    if (size != op->len)
        bb_printf(b, " (%s %u)", op->flags & HV_TPM_F_RAWSIZE ? "sent as is, len" : "patched to", op->len);
}

/* Can the op's bytes be reproduced from its text form? */
static bool canonical(const struct hv_op *op)
{
    if (op->code == HV_OP_VIRTQ_SUBMIT)
        return op->nout <= 7 && op->nin <= 7;
    return true;
}

char *hv_disasm_op(const struct hv_layout *l, const struct hv_op *op)
{
    struct bbuf b = {0};
    if (!op->known) {
        bb_printf(&b, ".bytes %02x  # unassigned opcode, skipped", op->code);
    } else {
        fmt_op(&b, l, op, true);
        if (!canonical(op))
            bb_printf(&b, "  # raw nout=0x%02x nin=0x%02x", op->nout, op->nin);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (!b.p)
        return calloc(1, 1);
    return (char *)b.p;
}

char *hv_disasm(const struct hv_layout *l, const uint8_t *prog, size_t len)
{
    struct bbuf b = {0};
    struct hv_op op;
    size_t pos = 0;

    bb_printf(&b, ".target %s\n", l->target);
    while (pos < len && !b.oom) {
        size_t n = hv_op_decode(prog + pos, len - pos, &op);
        if (n == 0) {
            const char *name = hv_op_name(prog[pos]);
            bb_printf(&b, ".bytes ");
            bb_hex(&b, prog + pos, len - pos);
            bb_printf(&b, "  # truncated %s: the program ends here\n", name);
            break;
        }
        if (!op.known) {
            size_t run = 1;
            while (pos + run < len && !hv_op_name(prog[pos + run]))
                run++;
            bb_printf(&b, ".bytes ");
            bb_hex(&b, prog + pos, run);
            bb_printf(&b, "  # unassigned opcode%s, skipped\n",
                      run > 1 ? "s" : "");
            pos += run;
            continue;
        }
        if (canonical(&op)) {
            fmt_op(&b, l, &op, true);
        } else {
            bb_printf(&b, ".bytes ");
            bb_hex(&b, prog + pos, n);
            bb_printf(&b, "  # raw nout=0x%02x nin=0x%02x: ", op.nout, op.nin);
            fmt_op(&b, l, &op, false);
        }
        bb_printf(&b, "\n");
        pos += n;
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return (char *)b.p;
}

/* ======================================================================= */
/*                                assembler                                */
/* ======================================================================= */

#define MAX_TOKS 64

struct tok {
    const char *s;
    size_t n;
    unsigned col; /* 1-based */
};

struct asm_ctx {
    const struct hv_layout *l;
    const char *fname;
    unsigned line;
    struct bbuf out;
    struct bbuf tmp; /* data of the current op */
    struct bbuf pay; /* blk_* payload */
    char *err;
    size_t errsz;
    jmp_buf fail;
};

static void asm_error(struct asm_ctx *a, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
static void asm_error(struct asm_ctx *a, unsigned col, const char *fmt, ...)
{
    if (a->errsz) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(a->err, a->errsz, "%s:%u:%u: error: %s", a->fname, a->line,
                 col, msg);
    }
    longjmp(a->fail, 1);
}

static bool tok_is(const struct tok *t, const char *s)
{
    return strlen(s) == t->n && memcmp(t->s, s, t->n) == 0;
}

/* Split a line into tokens at whitespace outside double quotes; stop at
 * '#' outside quotes. */
static unsigned tokenize(struct asm_ctx *a, const char *line, size_t n,
                         struct tok *toks)
{
    unsigned nt = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' ||
                         line[i] == '\f' || line[i] == '\v'))
            i++;
        if (i >= n || line[i] == '#')
            break;
        size_t start = i;
        bool inq = false;
        while (i < n) {
            char c = line[i];
            if (inq) {
                if (c == '\\' && i + 1 < n)
                    i++;
                else if (c == '"')
                    inq = false;
            } else if (c == '"') {
                inq = true;
            } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' ||
                       c == '\v' || c == '#') {
                break;
            }
            i++;
        }
        if (inq)
            asm_error(a, (unsigned)start + 1, "unterminated string");
        if (nt == MAX_TOKS)
            asm_error(a, (unsigned)start + 1, "too many operands");
        toks[nt].s = line + start;
        toks[nt].n = i - start;
        toks[nt].col = (unsigned)start + 1;
        nt++;
    }
    return nt;
}

static uint64_t parse_num(struct asm_ctx *a, const char *s, size_t n,
                          unsigned col, uint64_t max, const char *what)
{
    uint64_t v = 0;
    size_t i = 0;
    unsigned base = 10;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    if (i >= n)
        asm_error(a, col, "expected a number for %s, got '%.*s'", what, (int)n, s);
    for (; i < n; i++) {
        int d;
        char c = s[i];
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            asm_error(a, col, "expected a number for %s, got '%.*s'", what,
                      (int)n, s);
        if (v > (UINT64_MAX - (uint64_t)d) / base)
            asm_error(a, col, "%s '%.*s' is too large", what, (int)n, s);
        v = v * base + (uint64_t)d;
    }
    if (v > max)
        asm_error(a, col, "%s %.*s out of range (max 0x%llx)", what, (int)n, s,
                  (unsigned long long)max);
    return v;
}

static uint64_t tok_num(struct asm_ctx *a, const struct tok *t, uint64_t max,
                        const char *what)
{
    return parse_num(a, t->s, t->n, t->col, max, what);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void parse_hex(struct asm_ctx *a, const char *s, size_t n, unsigned col,
                      struct bbuf *dst)
{
    if (n % 2)
        asm_error(a, col, "odd number of hex digits");
    for (size_t i = 0; i < n; i += 2) {
        int h = hexval(s[i]), lo = hexval(s[i + 1]);
        if (h < 0 || lo < 0)
            asm_error(a, col + (unsigned)i, "bad hex digit");
        bb_byte(dst, (uint8_t)(h << 4 | lo));
    }
}

/* DATA := item ('+' item)* into dst */
static void parse_data(struct asm_ctx *a, const char *s, size_t n, unsigned col,
                       struct bbuf *dst)
{
    size_t i = 0;
    if (n == 0)
        asm_error(a, col, "expected data (hex:.., \"..\", BYTE*COUNT, le32:N)");
    for (;;) {
        unsigned icol = col + (unsigned)i;
        if (i < n && s[i] == '"') {
            i++;
            while (i < n && s[i] != '"') {
                char c = s[i++];
                if (c != '\\') {
                    bb_byte(dst, (uint8_t)c);
                    continue;
                }
                if (i >= n)
                    break;
                char e = s[i++];
                switch (e) {
                case 'n': bb_byte(dst, '\n'); break;
                case 'r': bb_byte(dst, '\r'); break;
                case 't': bb_byte(dst, '\t'); break;
                case '0': bb_byte(dst, 0); break;
                case '\\': bb_byte(dst, '\\'); break;
                case '"': bb_byte(dst, '"'); break;
                case 'x': {
                    int h = i < n ? hexval(s[i]) : -1;
                    int lo = i + 1 < n ? hexval(s[i + 1]) : -1;
                    if (h < 0 || lo < 0)
                        asm_error(a, col + (unsigned)i, "\\x needs two hex digits");
                    bb_byte(dst, (uint8_t)(h << 4 | lo));
                    i += 2;
                    break;
                }
                default:
                    asm_error(a, col + (unsigned)i - 2, "unknown escape \\%c", e);
                }
            }
            if (i >= n)
                asm_error(a, icol, "unterminated string");
            i++; /* closing quote */
        } else {
            size_t end = i;
            while (end < n && s[end] != '+')
                end++;
            const char *it = s + i;
            size_t in = end - i;
            const char *star = memchr(it, '*', in);
            if (in >= 4 && memcmp(it, "hex:", 4) == 0) {
                parse_hex(a, it + 4, in - 4, icol + 4, dst);
            } else if (in >= 5 && (memcmp(it, "le16:", 5) == 0 ||
                                   memcmp(it, "le32:", 5) == 0 ||
                                   memcmp(it, "le64:", 5) == 0)) {
                unsigned w = it[2] == '1' ? 2 : it[2] == '3' ? 4 : 8;
                uint64_t max = w == 8 ? UINT64_MAX : (1ull << (8 * w)) - 1;
                uint64_t v = parse_num(a, it + 5, in - 5, icol + 5, max, "value");
                bb_le(dst, v, w);
            } else if (star) {
                size_t bl = (size_t)(star - it);
                uint64_t byte = parse_num(a, it, bl, icol, 0xff, "byte");
                uint64_t cnt = parse_num(a, star + 1, in - bl - 1,
                                         icol + (unsigned)bl + 1, 0xffff, "count");
                for (uint64_t k = 0; k < cnt; k++)
                    bb_byte(dst, (uint8_t)byte);
            } else {
                asm_error(a, icol,
                          "bad data item '%.*s' (want hex:.., \"..\", "
                          "BYTE*COUNT, le16:/le32:/le64:N)", (int)in, it);
            }
            i = end;
        }
        if (dst->n > 0xffff)
            asm_error(a, col, "data longer than 65535 bytes");
        if (i >= n)
            break;
        if (s[i] != '+')
            asm_error(a, col + (unsigned)i, "expected '+' between data items");
        i++;
        if (i >= n)
            asm_error(a, col + (unsigned)i, "expected a data item after '+'");
    }
}

static uint8_t parse_region(struct asm_ctx *a, const struct tok *t,
                            const struct hv_layout_region *tab, uint8_t n,
                            const char *what)
{
    for (unsigned i = 0; i < n; i++)
        if (tab[i].name && tok_is(t, tab[i].name))
            return (uint8_t)i;
    if (t->n && isdigit((unsigned char)t->s[0]))
        return (uint8_t)tok_num(a, t, 0xff, what);
    char names[256] = "";
    for (unsigned i = 0; i < n; i++)
        if (tab[i].name) {
            size_t k = strlen(names);
            snprintf(names + k, sizeof names - k, "%s%s", k ? ", " : "",
                     tab[i].name);
        }
    asm_error(a, t->col, "unknown %s '%.*s' (target %s has: %s; or a number)",
              what, (int)t->n, t->s, a->l->target, names[0] ? names : "none");
}

static uint8_t parse_dev(struct asm_ctx *a, const struct tok *t)
{
    const struct hv_layout *l = a->l;
    for (unsigned i = 0; i < l->ndevs; i++)
        if (l->devs[i].name && tok_is(t, l->devs[i].name))
            return (uint8_t)i;
    if (t->n && isdigit((unsigned char)t->s[0]))
        return (uint8_t)tok_num(a, t, 0xff, "device");
    char names[256] = "";
    for (unsigned i = 0; i < l->ndevs; i++)
        if (l->devs[i].name) {
            size_t k = strlen(names);
            snprintf(names + k, sizeof names - k, "%s%s", k ? ", " : "",
                     l->devs[i].name);
        }
    asm_error(a, t->col, "unknown device '%.*s' (target %s has: %s; or a number)",
              (int)t->n, t->s, l->target, names[0] ? names : "none");
}

static void want_args(struct asm_ctx *a, const struct tok *toks, unsigned nt,
                      unsigned want, const char *usage)
{
    if (nt - 1 < want)
        asm_error(a, toks[nt - 1].col + (unsigned)toks[nt - 1].n,
                  "missing operand: usage: %s", usage);
    if (nt - 1 > want)
        asm_error(a, toks[want + 1].col, "too many operands: usage: %s", usage);
}

static void emit(struct asm_ctx *a, const struct hv_op *op, unsigned col)
{
    uint8_t *buf = malloc(HV_OP_MAX_BYTES);
    if (!buf)
        asm_error(a, col, "out of memory");
    size_t n = hv_op_encode(op, buf, HV_OP_MAX_BYTES);
    if (n == 0) {
        free(buf);
        asm_error(a, col, "cannot encode op");
    }
    bb_put(&a->out, buf, n);
    free(buf);
}

/* key=value parsing for the keyword ops */
struct kv {
    const struct tok *t;
    const char *v; /* value (after '=') or NULL for a bare keyword */
    size_t vn;
    unsigned vcol;
};

static void split_kv(const struct tok *t, struct kv *kv)
{
    const char *eq = memchr(t->s, '=', t->n);
    kv->t = t;
    if (eq) {
        kv->v = eq + 1;
        kv->vn = t->n - (size_t)(eq + 1 - t->s);
        kv->vcol = t->col + (unsigned)(eq + 1 - t->s);
    } else {
        kv->v = NULL;
        kv->vn = 0;
        kv->vcol = t->col;
    }
}

static bool key_is(const struct kv *kv, const char *k)
{
    size_t kn = kv->v ? (size_t)(kv->v - 1 - kv->t->s) : kv->t->n;
    return strlen(k) == kn && memcmp(kv->t->s, k, kn) == 0;
}

static void need_value(struct asm_ctx *a, const struct kv *kv, bool want)
{
    if (want && !kv->v)
        asm_error(a, kv->t->col, "'%.*s' needs a value (%.*s=...)",
                  (int)kv->t->n, kv->t->s, (int)kv->t->n, kv->t->s);
    if (!want && kv->v)
        asm_error(a, kv->t->col, "'%.*s' takes no value",
                  (int)(kv->v - 1 - kv->t->s), kv->t->s);
}

/* data=ITEMS: parsed into `out`, at most once per op. */
static void take_data(struct asm_ctx *a, const struct kv *kv, unsigned col,
                      bool *have_data, struct bbuf *out)
{
    need_value(a, kv, true);
    if (*have_data)
        asm_error(a, col, "data given twice");
    *have_data = true;
    parse_data(a, kv->v, kv->vn, kv->vcol, out);
}

static uint64_t kv_num(struct asm_ctx *a, const struct kv *kv, uint64_t max,
                       const char *what)
{
    need_value(a, kv, true);
    return parse_num(a, kv->v, kv->vn, kv->vcol, max, what);
}

/* L,L,... (at most 7 u16 lengths) */
static unsigned kv_list(struct asm_ctx *a, const struct kv *kv, uint16_t *out,
                        unsigned room)
{
    need_value(a, kv, true);
    unsigned cnt = 0;
    size_t i = 0;
    if (kv->vn == 0)
        return 0;
    for (;;) {
        size_t end = i;
        while (end < kv->vn && kv->v[end] != ',')
            end++;
        if (cnt == room)
            asm_error(a, kv->vcol + (unsigned)i,
                      "too many segments (at most 7 out and 7 in)");
        out[cnt++] = (uint16_t)parse_num(a, kv->v + i, end - i,
                                         kv->vcol + (unsigned)i, 0xffff,
                                         "segment length");
        if (end >= kv->vn)
            break;
        i = end + 1;
    }
    return cnt;
}

/* Options shared by virtq_submit and the blk_* directives. */
static bool submit_flag(struct asm_ctx *a, const struct kv *kv, uint8_t *flags)
{
    if (key_is(kv, "indirect") || key_is(kv, "nokick") || key_is(kv, "noint")) {
        need_value(a, kv, false);
        *flags |= key_is(kv, "indirect") ? HV_SUBMIT_F_INDIRECT
                  : key_is(kv, "nokick") ? HV_SUBMIT_F_NOKICK
                                         : HV_SUBMIT_F_NO_INTERRUPT;
        return true;
    }
    if (key_is(kv, "flags")) {
        *flags |= (uint8_t)kv_num(a, kv, 0xff, "flags");
        return true;
    }
    return false;
}

static void asm_virtq_setup(struct asm_ctx *a, const struct tok *toks,
                            unsigned nt, struct hv_op *op)
{
    op->val = 0;
    op->region = 0;
    op->len = 0;
    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        if (key_is(&kv, "features")) {
            op->val = kv_num(a, &kv, 0xffffffffu, "features");
        } else if (key_is(&kv, "queues")) {
            uint64_t q = kv_num(a, &kv, 256, "queues");
            if (q == 0)
                asm_error(a, kv.vcol, "queues must be 1..256");
            op->region = (uint8_t)(q - 1);
        } else if (key_is(&kv, "size")) {
            need_value(a, &kv, true);
            if (kv.vn == 3 && memcmp(kv.v, "max", 3) == 0)
                op->len = 0;
            else
                op->len = (uint32_t)kv_num(a, &kv, 0xffff, "size");
        } else {
            asm_error(a, toks[i].col,
                      "unknown virtq_setup option '%.*s' (features=, queues=, size=)",
                      (int)toks[i].n, toks[i].s);
        }
    }
}

static void asm_virtq_submit(struct asm_ctx *a, const struct tok *toks,
                             unsigned nt, struct hv_op *op)
{
    uint16_t outl[7], inl[7];
    unsigned nout = 0, nin = 0;
    bool have_data = false;
    a->tmp.n = 0;
    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        if (key_is(&kv, "vq"))
            op->region = (uint8_t)kv_num(a, &kv, 0xff, "vq");
        else if (submit_flag(a, &kv, &op->flags))
            ;
        else if (key_is(&kv, "out"))
            nout = kv_list(a, &kv, outl, 7);
        else if (key_is(&kv, "in"))
            nin = kv_list(a, &kv, inl, 7);
        else if (key_is(&kv, "data")) {
            take_data(a, &kv, toks[i].col, &have_data, &a->tmp);
        } else
            asm_error(a, toks[i].col,
                      "unknown virtq_submit option '%.*s' (vq=, out=, in=, data=, "
                      "indirect, nokick, noint, flags=)",
                      (int)toks[i].n, toks[i].s);
    }
    op->nout = (uint8_t)nout;
    op->nin = (uint8_t)nin;
    for (unsigned i = 0; i < nout; i++)
        op->seg[i] = outl[i];
    for (unsigned i = 0; i < nin; i++)
        op->seg[nout + i] = inl[i];
    op->len = (uint32_t)a->tmp.n;
    op->data = a->tmp.p;
}

/* blk_* convenience directives -> virtq_submit */
static void asm_blk(struct asm_ctx *a, const struct tok *toks, unsigned nt,
                    struct hv_op *op)
{
    const struct tok *m = &toks[0];
    enum { READ, WRITE, FLUSH, GET_ID, DISCARD, WZEROES, REQ } kind;
    if (tok_is(m, "blk_read")) kind = READ;
    else if (tok_is(m, "blk_write")) kind = WRITE;
    else if (tok_is(m, "blk_flush")) kind = FLUSH;
    else if (tok_is(m, "blk_get_id")) kind = GET_ID;
    else if (tok_is(m, "blk_discard")) kind = DISCARD;
    else if (tok_is(m, "blk_write_zeroes")) kind = WZEROES;
    else if (tok_is(m, "blk_req")) kind = REQ;
    else
        asm_error(a, m->col, "unknown directive '%.*s'", (int)m->n, m->s);

    uint64_t sector = 0, num = 0, dflags = 0, type = 0;
    uint64_t len = kind == GET_ID ? VIRTIO_BLK_ID_BYTES : VIRTIO_BLK_SECTOR_SIZE;
    bool have_len = false, have_data = false, have_type = false, have_in = false;
    bool have_sector = false, have_num = false;
    uint16_t outl[7], inl[7];
    unsigned nout = 0, nin = 0;
    struct bbuf *payload = &a->pay;
    payload->n = 0;

    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        bool ok = true;
        if (key_is(&kv, "vq"))
            op->region = (uint8_t)kv_num(a, &kv, 0xff, "vq");
        else if (submit_flag(a, &kv, &op->flags))
            ;
        else if (key_is(&kv, "sector") && kind != GET_ID) {
            sector = kv_num(a, &kv, UINT64_MAX, "sector");
            have_sector = true;
        } else if (key_is(&kv, "len") &&
                   (kind == READ || kind == WRITE || kind == GET_ID)) {
            len = kv_num(a, &kv, 0xffff, "len");
            have_len = true;
        } else if (key_is(&kv, "num") && (kind == DISCARD || kind == WZEROES)) {
            num = kv_num(a, &kv, 0xffffffffu, "num");
            have_num = true;
        } else if (key_is(&kv, "dflags") && (kind == DISCARD || kind == WZEROES))
            dflags = kv_num(a, &kv, 0xffffffffu, "dflags");
        else if (key_is(&kv, "unmap") && kind == WZEROES) {
            need_value(a, &kv, false);
            dflags |= 1;
        } else if (key_is(&kv, "type") && kind == REQ) {
            type = kv_num(a, &kv, 0xffffffffu, "type");
            have_type = true;
        } else if (key_is(&kv, "out") && kind == REQ)
            nout = kv_list(a, &kv, outl + 1, 6);
        else if (key_is(&kv, "in") && kind == REQ) {
            nin = kv_list(a, &kv, inl, 7);
            have_in = true;
        } else if (key_is(&kv, "data") && (kind == WRITE || kind == REQ)) {
            take_data(a, &kv, toks[i].col, &have_data, payload);
        } else
            ok = false;
        if (!ok) {
            asm_error(a, toks[i].col, "unknown %.*s option '%.*s'", (int)m->n,
                      m->s, (int)toks[i].n, toks[i].s);
        }
    }
    const char *missing = NULL;
    if ((kind == READ || kind == WRITE || kind == DISCARD || kind == WZEROES) &&
        !have_sector)
        missing = "sector=";
    else if (kind == WRITE && !have_data)
        missing = "data=";
    else if ((kind == DISCARD || kind == WZEROES) && !have_num)
        missing = "num=";
    else if (kind == REQ && !have_type)
        missing = "type=";
    if (missing)
        asm_error(a, m->col, "%.*s needs %s", (int)m->n, m->s, missing);

    /* the request: header, then per kind */
    struct bbuf *d = &a->tmp;
    d->n = 0;
    uint32_t t = kind == READ ? VIRTIO_BLK_T_IN
                 : kind == WRITE ? VIRTIO_BLK_T_OUT
                 : kind == FLUSH ? VIRTIO_BLK_T_FLUSH
                 : kind == GET_ID ? VIRTIO_BLK_T_GET_ID
                 : kind == DISCARD ? VIRTIO_BLK_T_DISCARD
                 : kind == WZEROES ? VIRTIO_BLK_T_WRITE_ZEROES
                                   : (uint32_t)type;
    bb_le(d, t, 4);
    bb_le(d, 0, 4);
    bb_le(d, (kind == DISCARD || kind == WZEROES) ? 0 : sector, 8);
    outl[0] = VIRTIO_BLK_REQ_HDR_SIZE;
    switch (kind) {
    case READ:
    case GET_ID:
        nout = 1;
        inl[0] = (uint16_t)len;
        inl[1] = 1;
        nin = 2;
        break;
    case WRITE:
        if (!have_len)
            len = payload->n;
        if (len > 0xffff)
            asm_error(a, m->col, "data longer than 65535 bytes");
        bb_put(d, payload->p, payload->n);
        outl[1] = (uint16_t)len;
        nout = 2;
        inl[0] = 1;
        nin = 1;
        break;
    case FLUSH:
        nout = 1;
        inl[0] = 1;
        nin = 1;
        break;
    case DISCARD:
    case WZEROES:
        bb_le(d, sector, 8);
        bb_le(d, num, 4);
        bb_le(d, dflags, 4);
        outl[1] = 16;
        nout = 2;
        inl[0] = 1;
        nin = 1;
        break;
    case REQ:
        bb_put(d, payload->p, payload->n);
        nout += 1;
        if (!have_in) {
            inl[0] = 1;
            nin = 1;
        }
        break;
    }
    if (d->n > 0xffff)
        asm_error(a, m->col, "request longer than 65535 bytes");
    op->nout = (uint8_t)nout;
    op->nin = (uint8_t)nin;
    for (unsigned i = 0; i < nout; i++)
        op->seg[i] = outl[i];
    for (unsigned i = 0; i < nin; i++)
        op->seg[nout + i] = inl[i];
    op->len = (uint32_t)d->n;
    op->data = d->p;
}

/* ---- NVMe ---------------------------------------------------------------- */

static void asm_nvme_setup(struct asm_ctx *a, const struct tok *toks,
                           unsigned nt, struct hv_op *op)
{
    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        if (key_is(&kv, "ioqs")) {
            uint64_t q = kv_num(a, &kv, 256, "ioqs");
            if (q == 0)
                asm_error(a, kv.vcol, "ioqs must be 1..256");
            op->region = (uint8_t)(q - 1);
        } else if (key_is(&kv, "qsize")) {
            need_value(a, &kv, true);
            if (kv.vn == 3 && memcmp(kv.v, "max", 3) == 0)
                op->len = 0;
            else
                op->len = (uint32_t)kv_num(a, &kv, 0xffff, "qsize");
        } else if (key_is(&kv, "flags")) {
            op->flags |= (uint8_t)kv_num(a, &kv, 0xff, "flags");
        } else if (key_is(&kv, "identify") || key_is(&kv, "numq") ||
                   key_is(&kv, "dbbuf") || key_is(&kv, "css_nvm")) {
            need_value(a, &kv, false);
            op->flags |= key_is(&kv, "identify")  ? HV_NVME_SETUP_F_IDENTIFY
                         : key_is(&kv, "numq")    ? HV_NVME_SETUP_F_NUM_QUEUES
                         : key_is(&kv, "dbbuf")   ? HV_NVME_SETUP_F_DBBUF
                                                  : HV_NVME_SETUP_F_CSS_NVM;
        } else {
            asm_error(a, toks[i].col,
                      "unknown nvme_setup option '%.*s' (ioqs=, qsize=, identify, "
                      "numq, dbbuf, css_nvm, flags=)",
                      (int)toks[i].n, toks[i].s);
        }
    }
}

/* Options of nvme_submit shared with the nvme_* directives: q=, dptr=,
 * offset, odd, nokick, noreap, flags=, xfer=, cdw10..cdw15= (bit i of
 * *cdw_given set for cdw(10+i)). */
static bool nvme_common(struct asm_ctx *a, const struct kv *kv, struct hv_op *op,
                        unsigned *cdw_given)
{
    static const char *const cdw[6] = {"cdw10", "cdw11", "cdw12",
                                       "cdw13", "cdw14", "cdw15"};
    if (key_is(kv, "q")) {
        op->region = (uint8_t)kv_num(a, kv, 0xff, "q");
    } else if (key_is(kv, "dptr")) {
        need_value(a, kv, true);
        unsigned m = 0;
        while (m < 8 && !(strlen(nvme_dptr_names[m]) == kv->vn &&
                          !memcmp(kv->v, nvme_dptr_names[m], kv->vn)))
            m++;
        if (m == 8)
            asm_error(a, kv->vcol,
                      "unknown dptr '%.*s' (prp, prp1, list, chain, sgl, "
                      "sgl_seg, sgl_bb, none)", (int)kv->vn, kv->v);
        op->flags = (uint8_t)((op->flags & ~HV_NVME_F_DPTR_MASK) | m);
    } else if (key_is(kv, "offset") || key_is(kv, "odd") ||
               key_is(kv, "nokick") || key_is(kv, "noreap")) {
        need_value(a, kv, false);
        op->flags |= key_is(kv, "offset")   ? HV_NVME_F_OFFSET
                     : key_is(kv, "odd")    ? HV_NVME_F_ODD
                     : key_is(kv, "nokick") ? HV_NVME_F_NOKICK
                                            : HV_NVME_F_NOREAP;
    } else if (key_is(kv, "flags")) {
        op->flags |= (uint8_t)kv_num(a, kv, 0xff, "flags");
    } else if (key_is(kv, "xfer")) {
        op->off = (uint32_t)kv_num(a, kv, 0xffffffffu, "xfer");
    } else {
        for (unsigned i = 0; i < 6; i++)
            if (key_is(kv, cdw[i])) {
                op->dw[1 + i] = (uint32_t)kv_num(a, kv, 0xffffffffu, cdw[i]);
                *cdw_given |= 1u << i;
                return true;
            }
        return false;
    }
    return true;
}

static void asm_nvme_submit(struct asm_ctx *a, const struct tok *toks,
                            unsigned nt, struct hv_op *op)
{
    bool have_data = false;
    unsigned cdw_given = 0;
    a->tmp.n = 0;
    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        if (nvme_common(a, &kv, op, &cdw_given))
            ;
        else if (key_is(&kv, "opc"))
            op->val = kv_num(a, &kv, 0xff, "opc");
        else if (key_is(&kv, "nsid"))
            op->dw[0] = (uint32_t)kv_num(a, &kv, 0xffffffffu, "nsid");
        else if (key_is(&kv, "data")) {
            take_data(a, &kv, toks[i].col, &have_data, &a->tmp);
        } else
            asm_error(a, toks[i].col,
                      "unknown nvme_submit option '%.*s' (q=, opc=, nsid=, "
                      "cdw10..cdw15=, xfer=, data=, dptr=, offset, odd, nokick, "
                      "noreap, flags=)",
                      (int)toks[i].n, toks[i].s);
    }
    op->len = (uint32_t)a->tmp.n;
    op->data = a->tmp.p;
}

/* nvme_identify / nvme_read / nvme_write / nvme_write_zeroes / nvme_flush
 * -> nvme_submit */
static void asm_nvme_sugar(struct asm_ctx *a, const struct tok *toks,
                           unsigned nt, struct hv_op *op)
{
    const struct tok *m = &toks[0];
    enum { IDENTIFY, READ, WRITE, WZEROES, FLUSH } kind;
    if (tok_is(m, "nvme_identify")) kind = IDENTIFY;
    else if (tok_is(m, "nvme_read")) kind = READ;
    else if (tok_is(m, "nvme_write")) kind = WRITE;
    else if (tok_is(m, "nvme_write_zeroes")) kind = WZEROES;
    else if (tok_is(m, "nvme_flush")) kind = FLUSH;
    else
        asm_error(a, m->col, "unknown directive '%.*s'", (int)m->n, m->s);

    bool io = kind != IDENTIFY, rw = kind == READ || kind == WRITE;
    uint64_t ns = io ? 1 : 0, lba = 0, blocks = 0, bs = 512, len = 0, cns = 0;
    uint64_t cntid = 0, csi = 0;
    bool have_lba = false, have_len = false, have_data = false, deac = false;
    bool have_cns = false;
    unsigned cdw_given = 0;
    op->region = io ? 1 : 0;
    a->tmp.n = 0;
    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        if (nvme_common(a, &kv, op, &cdw_given))
            ;
        else if ((key_is(&kv, "ns") || key_is(&kv, "nsid")))
            ns = kv_num(a, &kv, 0xffffffffu, "ns");
        else if (key_is(&kv, "lba") && (rw || kind == WZEROES)) {
            lba = kv_num(a, &kv, UINT64_MAX, "lba");
            have_lba = true;
        } else if (key_is(&kv, "blocks") && (rw || kind == WZEROES))
            blocks = kv_num(a, &kv, 0x10000, "blocks");
        else if (key_is(&kv, "bs") && rw)
            bs = kv_num(a, &kv, 0x10000, "bs");
        else if (key_is(&kv, "len") && rw) {
            len = kv_num(a, &kv, 0xffffffffu, "len");
            have_len = true;
        } else if (key_is(&kv, "data") && kind == WRITE) {
            take_data(a, &kv, toks[i].col, &have_data, &a->tmp);
        } else if (key_is(&kv, "deac") && kind == WZEROES) {
            need_value(a, &kv, false);
            deac = true;
        } else if (key_is(&kv, "cns") && kind == IDENTIFY) {
            cns = kv_num(a, &kv, 0xff, "cns");
            have_cns = true;
        } else if (key_is(&kv, "cntid") && kind == IDENTIFY)
            cntid = kv_num(a, &kv, 0xffff, "cntid");
        else if (key_is(&kv, "csi") && kind == IDENTIFY)
            csi = kv_num(a, &kv, 0xff, "csi");
        else
            asm_error(a, toks[i].col, "unknown %.*s option '%.*s'", (int)m->n,
                      m->s, (int)toks[i].n, toks[i].s);
    }
    const char *missing = NULL;
    if ((rw || kind == WZEROES) && !have_lba)
        missing = "lba=";
    else if (kind == WRITE && !have_data)
        missing = "data=";
    else if (kind == IDENTIFY && !have_cns)
        missing = "cns=";
    if (missing)
        asm_error(a, m->col, "%.*s needs %s", (int)m->n, m->s, missing);
    if (bs == 0)
        asm_error(a, m->col, "bs must not be 0");
    if (blocks == 0)
        blocks = kind == WRITE && a->tmp.n ? (a->tmp.n + bs - 1) / bs : 1;
    if (blocks > 0x10000)
        asm_error(a, m->col, "more than 65536 blocks");

    uint32_t given[6];
    for (unsigned i = 0; i < 6; i++)
        given[i] = op->dw[1 + i];
    static const uint8_t opc[] = {0x06, 0x02, 0x01, 0x08, 0x00};
    op->val = opc[kind];
    op->dw[0] = (uint32_t)ns;
    if (kind == IDENTIFY) {
        op->dw[1] = (uint32_t)(cns | cntid << 16);
        op->dw[2] = (uint32_t)(csi << 24);
        if (!op->off)
            op->off = HV_NVME_PAGE;
    } else if (kind != FLUSH) {
        op->dw[1] = (uint32_t)lba;
        op->dw[2] = (uint32_t)(lba >> 32);
        op->dw[3] = (uint32_t)(blocks - 1) | (deac ? 1u << 25 : 0);
        if (rw && !op->off)
            op->off = (uint32_t)(have_len ? len : blocks * bs);
    }
    for (unsigned i = 0; i < 6; i++)
        if (cdw_given & (1u << i))
            op->dw[1 + i] = given[i];
    op->len = (uint32_t)a->tmp.n;
    op->data = a->tmp.p;
}

/* ---- e1000 ---------------------------------------------------------------- */

static void asm_e1000_setup(struct asm_ctx *a, const struct tok *toks,
                            unsigned nt, struct hv_op *op)
{
    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        if (key_is(&kv, "tx") || key_is(&kv, "rx")) {
            uint64_t v = kv_num(a, &kv, 256, key_is(&kv, "tx") ? "tx" : "rx");
            if (v == 0)
                asm_error(a, kv.vcol, "ring size must be 1..256 (256 encodes 0)");
            *(key_is(&kv, "tx") ? &op->region : &op->size) = (uint8_t)v;
            continue;
        }
        if (key_is(&kv, "flags")) {
            op->flags |= (uint8_t)kv_num(a, &kv, 0xff, "flags");
            continue;
        }
        unsigned f = 0;
        while (f < 8 && !key_is(&kv, e1000_setup_flag_names[f]))
            f++;
        if (f == 8)
            asm_error(a, toks[i].col,
                      "unknown e1000_setup option '%.*s' (tx=, rx=, eeprom, phy, "
                      "promisc, lpe, loopback, vlan, rxcsum, secrc, flags=)",
                      (int)toks[i].n, toks[i].s);
        need_value(a, &kv, false);
        op->flags |= (uint8_t)(1u << f);
    }
}

/* Options of e1000_tx shared with the e1000_udp/tcp directives. */
static bool e1000_tx_common(struct asm_ctx *a, const struct kv *kv,
                            struct hv_op *op)
{
    if (key_is(kv, "mode")) {
        need_value(a, kv, true);
        unsigned m = 0;
        while (m < 4 && !(strlen(e1000_tx_mode_names[m]) == kv->vn &&
                          !memcmp(kv->v, e1000_tx_mode_names[m], kv->vn)))
            m++;
        if (m == 4)
            asm_error(a, kv->vcol, "unknown mode '%.*s' (legacy, ctx, tso, data)",
                      (int)kv->vn, kv->v);
        op->flags = (uint8_t)((op->flags & ~HV_E1000_TX_F_MODE_MASK) | m);
    } else if (key_is(kv, "segs")) {
        uint64_t v = kv_num(a, kv, 256, "segs");
        if (v == 0)
            asm_error(a, kv->vcol, "segs must be 1..256");
        op->nout = (uint8_t)(v - 1);
    } else if (key_is(kv, "vlan")) {
        op->val = kv_num(a, kv, 0xffff, "vlan");
        op->flags |= HV_E1000_TX_F_VLE;
    } else if (key_is(kv, "flags")) {
        op->flags |= (uint8_t)kv_num(a, kv, 0xff, "flags");
    } else if (key_is(kv, "mss")) {
        op->off = (uint32_t)kv_num(a, kv, 0xffff, "mss");
    } else if (key_is(kv, "hdrlen")) {
        op->size = (uint8_t)kv_num(a, kv, 0xff, "hdrlen");
    } else if (key_is(kv, "special")) {
        op->val = kv_num(a, kv, 0xffff, "special");
    } else {
        static const char *const offs[4] = {"ipcss", "ipcso", "tucss", "tucso"};
        for (unsigned k = 0; k < 4; k++)
            if (key_is(kv, offs[k])) {
                op->dw[k] = (uint32_t)kv_num(a, kv, 0xff, offs[k]);
                return true;
            }
        for (unsigned f = 0; f < 6; f++)
            if (key_is(kv, e1000_tx_flag_names[f])) {
                need_value(a, kv, false);
                op->flags |= (uint8_t)(4u << f);
                return true;
            }
        return false;
    }
    return true;
}

static void asm_e1000_tx(struct asm_ctx *a, const struct tok *toks, unsigned nt,
                         struct hv_op *op)
{
    bool have_data = false;
    a->tmp.n = 0;
    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        if (e1000_tx_common(a, &kv, op))
            ;
        else if (key_is(&kv, "data")) {
            take_data(a, &kv, toks[i].col, &have_data, &a->tmp);
        } else
            asm_error(a, toks[i].col,
                      "unknown e1000_tx option '%.*s' (mode=, segs=, mss=, "
                      "hdrlen=, special=, vlan=, ipcss=, ipcso=, tucss=, tucso=, "
                      "data=, auto, ixsm, txsm, vle, nokick, reap, flags=)",
                      (int)toks[i].n, toks[i].s);
    }
    op->len = (uint32_t)a->tmp.n;
    op->data = a->tmp.p;
}

/* ---- frame builder of the e1000_udp / e1000_tcp / e1000_rx_* directives -- */

struct frame {
    uint8_t dst[6], src[6];
    uint32_t sip, dip;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t tcpflags;
    int tag;      /* 802.1Q VID in the frame, or -1 */
    bool tcp;
    bool partial; /* L4 checksum field = pseudo-header sum (offload) */
    bool tso;     /* IP total length and checksum 0, pseudo sum without length */
};

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        acc += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        acc += (uint32_t)p[n - 1] << 8;
    return acc;
}

static uint16_t fold(uint32_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

static void put_be(uint8_t *p, unsigned n, uint32_t v)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void parse_mac(struct asm_ctx *a, const struct kv *kv, uint8_t *mac)
{
    need_value(a, kv, true);
    unsigned v[6];
    char tail;
    char buf[32];
    if (kv->vn >= sizeof buf)
        asm_error(a, kv->vcol, "bad MAC address");
    memcpy(buf, kv->v, kv->vn);
    buf[kv->vn] = 0;
    if (sscanf(buf, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &tail) != 6)
        asm_error(a, kv->vcol, "bad MAC address '%s' (want aa:bb:cc:dd:ee:ff)",
                  buf);
    for (unsigned i = 0; i < 6; i++)
        mac[i] = (uint8_t)v[i];
}

static uint32_t parse_ip(struct asm_ctx *a, const struct kv *kv)
{
    need_value(a, kv, true);
    unsigned v[4];
    char tail;
    char buf[32];
    if (kv->vn >= sizeof buf)
        asm_error(a, kv->vcol, "bad IPv4 address");
    memcpy(buf, kv->v, kv->vn);
    buf[kv->vn] = 0;
    if (sscanf(buf, "%u.%u.%u.%u%c", &v[0], &v[1], &v[2], &v[3], &tail) != 4 ||
        v[0] > 255 || v[1] > 255 || v[2] > 255 || v[3] > 255)
        asm_error(a, kv->vcol, "bad IPv4 address '%s'", buf);
    return v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3];
}

/* Ethernet [802.1Q] IPv4 UDP/TCP + payload into dst. */
static void build_frame(struct asm_ctx *a, unsigned col, const struct frame *f,
                        const uint8_t *pay, size_t plen, struct bbuf *dst)
{
    size_t l4 = f->tcp ? 20 : 8;
    if (20 + l4 + plen > 0xffff)
        asm_error(a, col, "payload too long for one IPv4 packet");
    uint8_t h[18 + 20 + 20];
    size_t l2 = 14;
    memcpy(h, f->dst, 6);
    memcpy(h + 6, f->src, 6);
    if (f->tag >= 0) {
        put_be(h + 12, 2, 0x8100);
        put_be(h + 14, 2, (uint32_t)f->tag);
        l2 = 18;
    }
    put_be(h + l2 - 2, 2, 0x0800);
    uint8_t *ip = h + l2, *th = ip + 20;
    uint8_t proto = f->tcp ? 6 : 17;
    memset(ip, 0, 20 + l4);
    ip[0] = 0x45;
    put_be(ip + 2, 2, f->tso ? 0 : (uint32_t)(20 + l4 + plen));
    put_be(ip + 6, 2, 0x4000); /* DF */
    ip[8] = 64;
    ip[9] = proto;
    put_be(ip + 12, 4, f->sip);
    put_be(ip + 16, 4, f->dip);
    if (!f->tso)
        put_be(ip + 10, 2, (uint16_t)~fold(sum16(ip, 20, 0)));
    put_be(th, 2, f->sport);
    put_be(th + 2, 2, f->dport);
    if (f->tcp) {
        put_be(th + 4, 4, f->seq);
        put_be(th + 8, 4, f->ack);
        th[12] = 5 << 4;
        th[13] = f->tcpflags;
        put_be(th + 14, 2, 0xffff); /* window */
    } else {
        put_be(th + 4, 2, (uint32_t)(l4 + plen));
    }
    uint32_t pseudo = (f->sip >> 16) + (f->sip & 0xffff) + (f->dip >> 16) +
                      (f->dip & 0xffff) + proto +
                      (f->tso ? 0 : (uint32_t)(l4 + plen));
    size_t csum = f->tcp ? 16 : 6;
    if (f->partial || f->tso)
        put_be(th + csum, 2, fold(pseudo));
    else if (f->tcp)
        put_be(th + csum, 2,
               (uint16_t)~fold(sum16(pay, plen, sum16(th, l4, pseudo))));
    bb_put(dst, h, l2 + 20 + l4);
    bb_put(dst, pay, plen);
}

/* e1000_udp / e1000_tcp / e1000_tcp_tso -> e1000_tx,
 * e1000_rx_udp / e1000_rx_tcp -> rx_inject */
static void asm_e1000_sugar(struct asm_ctx *a, const struct tok *toks,
                            unsigned nt, struct hv_op *op)
{
    const struct tok *m = &toks[0];
    bool rx = tok_is(m, "e1000_rx_udp") || tok_is(m, "e1000_rx_tcp");
    bool tcp = tok_is(m, "e1000_tcp") || tok_is(m, "e1000_tcp_tso") ||
               tok_is(m, "e1000_rx_tcp");
    if (!rx && !tcp && !tok_is(m, "e1000_udp"))
        asm_error(a, m->col, "unknown directive '%.*s'", (int)m->n, m->s);
    static const uint8_t guest[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    static const uint8_t gateway[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
    struct frame f = {.sip = rx ? 0x0a000202u : 0x0a00020fu,
                      .dip = rx ? 0x0a00020fu : 0x0a000202u,
                      .sport = 1234, .dport = 5678, .tcpflags = 0x18,
                      .tag = -1, .tcp = tcp};
    memcpy(f.dst, rx ? guest : gateway, 6);
    memcpy(f.src, rx ? gateway : guest, 6);
    bool csum = false, have_pay = false;
    f.tso = tok_is(m, "e1000_tcp_tso");
    struct bbuf *pay = &a->pay;
    pay->n = 0;
    op->code = rx ? HV_OP_RX_INJECT : HV_OP_E1000_TX;
    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        if (key_is(&kv, "dst"))
            parse_mac(a, &kv, f.dst);
        else if (key_is(&kv, "src"))
            parse_mac(a, &kv, f.src);
        else if (key_is(&kv, "sip"))
            f.sip = parse_ip(a, &kv);
        else if (key_is(&kv, "dip"))
            f.dip = parse_ip(a, &kv);
        else if (key_is(&kv, "sport"))
            f.sport = (uint16_t)kv_num(a, &kv, 0xffff, "sport");
        else if (key_is(&kv, "dport"))
            f.dport = (uint16_t)kv_num(a, &kv, 0xffff, "dport");
        else if (key_is(&kv, "tag"))
            f.tag = (int)kv_num(a, &kv, 0xffff, "tag");
        else if (key_is(&kv, "seq") && tcp)
            f.seq = (uint32_t)kv_num(a, &kv, 0xffffffffu, "seq");
        else if (key_is(&kv, "ack") && tcp)
            f.ack = (uint32_t)kv_num(a, &kv, 0xffffffffu, "ack");
        else if (key_is(&kv, "tcpflags") && tcp)
            f.tcpflags = (uint8_t)kv_num(a, &kv, 0xff, "tcpflags");
        else if (key_is(&kv, "payload")) {
            need_value(a, &kv, true);
            if (have_pay)
                asm_error(a, toks[i].col, "payload given twice");
            have_pay = true;
            parse_data(a, kv.v, kv.vn, kv.vcol, pay);
        } else if (key_is(&kv, "csum") && !rx) {
            need_value(a, &kv, false);
            csum = true;
        } else if (key_is(&kv, "tso") && tcp && !rx) {
            need_value(a, &kv, false);
            f.tso = true;
        } else if (rx || !e1000_tx_common(a, &kv, op))
            asm_error(a, toks[i].col, "unknown %.*s option '%.*s'", (int)m->n,
                      m->s, (int)toks[i].n, toks[i].s);
    }
    f.partial = csum && !f.tso;
    a->tmp.n = 0;
    build_frame(a, m->col, &f, pay->p, pay->n, &a->tmp);
    if (a->tmp.n > 0xffff)
        asm_error(a, m->col, "frame longer than 65535 bytes");
    op->len = (uint32_t)a->tmp.n;
    op->data = a->tmp.p;
    if (rx)
        return;
    unsigned mode = f.tso ? HV_E1000_TX_TSO
                    : csum ? HV_E1000_TX_CTX
                           : (op->flags & HV_E1000_TX_F_MODE_MASK);
    op->flags = (uint8_t)((op->flags & ~HV_E1000_TX_F_MODE_MASK) | mode);
    if (f.tso)
        op->flags |= HV_E1000_TX_F_AUTO | HV_E1000_TX_F_IXSM | HV_E1000_TX_F_TXSM;
    else if (csum)
        op->flags |= HV_E1000_TX_F_AUTO | HV_E1000_TX_F_TXSM;
}

/* ---- virtio-net directives -> virtq_submit -------------------------------- */

/* Split `len` bytes into `parts` segment lengths (the last takes the rest). */
static unsigned net_split(struct asm_ctx *a, unsigned col, size_t len,
                          unsigned parts, uint16_t *out)
{
    if (parts == 0 || parts > 6)
        asm_error(a, col, "split must be 1..6");
    for (unsigned i = 0; i < parts; i++) {
        size_t n = i + 1 < parts ? len / parts : len - (len / parts) * (parts - 1);
        if (n > 0xffff)
            asm_error(a, col, "segment longer than 65535 bytes (use split=)");
        out[i] = (uint16_t)n;
    }
    return parts;
}

/* A frame option of net_udp / net_tcp (as e1000_udp takes them). */
static bool net_frame_opt(struct asm_ctx *a, const struct kv *kv, unsigned col,
                          struct frame *f, bool *have_pay)
{
    if (key_is(kv, "dst"))
        parse_mac(a, kv, f->dst);
    else if (key_is(kv, "src"))
        parse_mac(a, kv, f->src);
    else if (key_is(kv, "sip"))
        f->sip = parse_ip(a, kv);
    else if (key_is(kv, "dip"))
        f->dip = parse_ip(a, kv);
    else if (key_is(kv, "sport"))
        f->sport = (uint16_t)kv_num(a, kv, 0xffff, "sport");
    else if (key_is(kv, "dport"))
        f->dport = (uint16_t)kv_num(a, kv, 0xffff, "dport");
    else if (key_is(kv, "tag"))
        f->tag = (int)kv_num(a, kv, 0xffff, "tag");
    else if (key_is(kv, "seq") && f->tcp)
        f->seq = (uint32_t)kv_num(a, kv, 0xffffffffu, "seq");
    else if (key_is(kv, "ack") && f->tcp)
        f->ack = (uint32_t)kv_num(a, kv, 0xffffffffu, "ack");
    else if (key_is(kv, "tcpflags") && f->tcp)
        f->tcpflags = (uint8_t)kv_num(a, kv, 0xff, "tcpflags");
    else if (key_is(kv, "payload")) {
        need_value(a, kv, true);
        if (*have_pay)
            asm_error(a, col, "payload given twice");
        *have_pay = true;
        parse_data(a, kv->v, kv->vn, kv->vcol, &a->pay);
    } else
        return false;
    return true;
}

/* Fields of the virtio_net_hdr a net_tx-style directive sets. */
struct net_hdr_opts {
    uint64_t flags, gso, hdr_len, gso_size, csum_start, csum_offset, nbufs;
    unsigned hlen; /* bytes of header put in the chain: 12 or 10 */
    bool csum_set;
};

static bool net_hdr_opt(struct asm_ctx *a, const struct kv *kv,
                        struct net_hdr_opts *h)
{
    if (key_is(kv, "hflags"))
        h->flags = kv_num(a, kv, 0xff, "hflags");
    else if (key_is(kv, "gso"))
        h->gso = kv_num(a, kv, 0xff, "gso");
    else if (key_is(kv, "hdr_len"))
        h->hdr_len = kv_num(a, kv, 0xffff, "hdr_len");
    else if (key_is(kv, "gso_size"))
        h->gso_size = kv_num(a, kv, 0xffff, "gso_size");
    else if (key_is(kv, "csum_start")) {
        h->csum_start = kv_num(a, kv, 0xffff, "csum_start");
        h->csum_set = true;
    } else if (key_is(kv, "csum_offset")) {
        h->csum_offset = kv_num(a, kv, 0xffff, "csum_offset");
        h->csum_set = true;
    } else if (key_is(kv, "num_buffers"))
        h->nbufs = kv_num(a, kv, 0xffff, "num_buffers");
    else if (key_is(kv, "hdr")) {
        h->hlen = (unsigned)kv_num(a, kv, 12, "hdr");
        if (h->hlen != 10 && h->hlen != 12)
            asm_error(a, kv->vcol, "hdr must be 12 or 10 (legacy)");
    } else
        return false;
    return true;
}

static void net_put_hdr(struct bbuf *d, const struct net_hdr_opts *h)
{
    bb_le(d, h->flags, 1);
    bb_le(d, h->gso, 1);
    bb_le(d, h->hdr_len, 2);
    bb_le(d, h->gso_size, 2);
    bb_le(d, h->csum_start, 2);
    bb_le(d, h->csum_offset, 2);
    if (h->hlen == 12)
        bb_le(d, h->nbufs, 2);
}

/* net_tx data=FRAME | net_udp | net_tcp (a built frame): header segment,
 * then the frame over split= readable segments, on vq 1 by default. */
static void asm_net_tx(struct asm_ctx *a, const struct tok *toks, unsigned nt,
                       struct hv_op *op)
{
    const struct tok *m = &toks[0];
    bool raw = tok_is(m, "net_tx"), tcp = tok_is(m, "net_tcp");
    static const uint8_t guest[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    static const uint8_t gateway[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
    struct frame f = {.sip = 0x0a00020fu, .dip = 0x0a000202u, .sport = 1234,
                      .dport = 5678, .tcpflags = 0x18, .tag = -1, .tcp = tcp};
    struct net_hdr_opts h = {.hlen = 12};
    bool have_data = false, have_pay = false, csum = false;
    unsigned split = 1, split_col = m->col;
    memcpy(f.dst, gateway, 6);
    memcpy(f.src, guest, 6);
    op->region = 1;
    a->pay.n = 0;
    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        if (key_is(&kv, "vq"))
            op->region = (uint8_t)kv_num(a, &kv, 0xff, "vq");
        else if (submit_flag(a, &kv, &op->flags) || net_hdr_opt(a, &kv, &h))
            ;
        else if (key_is(&kv, "split")) {
            split = (unsigned)kv_num(a, &kv, 6, "split");
            split_col = kv.vcol;
        } else if (raw && key_is(&kv, "data"))
            take_data(a, &kv, toks[i].col, &have_data, &a->pay);
        else if (!raw && key_is(&kv, "csum")) {
            need_value(a, &kv, false);
            csum = true;
        } else if (raw || !net_frame_opt(a, &kv, toks[i].col, &f, &have_pay))
            asm_error(a, toks[i].col, "unknown %.*s option '%.*s'", (int)m->n,
                      m->s, (int)toks[i].n, toks[i].s);
    }
    if (raw && !have_data)
        asm_error(a, m->col, "net_tx needs data=");
    size_t l2 = f.tag >= 0 ? 18 : 14;
    if (csum) {
        h.flags |= 1; /* VIRTIO_NET_HDR_F_NEEDS_CSUM */
        if (!h.csum_set) {
            h.csum_start = l2 + 20;
            h.csum_offset = tcp ? 16 : 6;
        }
    }
    f.partial = csum;
    a->tmp.n = 0;
    net_put_hdr(&a->tmp, &h);
    if (raw)
        bb_put(&a->tmp, a->pay.p, a->pay.n);
    else
        build_frame(a, m->col, &f, a->pay.p, a->pay.n, &a->tmp);
    if (a->tmp.n > 0xffff)
        asm_error(a, m->col, "header and frame longer than 65535 bytes");
    op->seg[0] = (uint16_t)h.hlen;
    op->nout = (uint8_t)(1 + net_split(a, split_col, a->tmp.n - h.hlen, split,
                                        op->seg + 1));
    op->nin = 0;
    op->len = (uint32_t)a->tmp.n;
    op->data = a->tmp.p;
}

/* net_rx_post [len=2048] [split=1]: writable buffers for RX, on vq 0. */
static void asm_net_rx_post(struct asm_ctx *a, const struct tok *toks,
                            unsigned nt, struct hv_op *op)
{
    uint64_t len = 2048;
    unsigned split = 1, split_col = toks[0].col;
    op->region = 0;
    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        if (key_is(&kv, "vq"))
            op->region = (uint8_t)kv_num(a, &kv, 0xff, "vq");
        else if (submit_flag(a, &kv, &op->flags))
            ;
        else if (key_is(&kv, "len"))
            len = kv_num(a, &kv, 6 * 0xffffull, "len");
        else if (key_is(&kv, "split")) {
            split = (unsigned)kv_num(a, &kv, 6, "split");
            split_col = kv.vcol;
        } else
            asm_error(a, toks[i].col,
                      "unknown net_rx_post option '%.*s' (vq=, len=, split=, "
                      "indirect, nokick, noint, flags=)",
                      (int)toks[i].n, toks[i].s);
    }
    op->nout = 0;
    op->nin = (uint8_t)net_split(a, split_col, (size_t)len, split, op->seg);
    op->len = 0;
    op->data = NULL;
}

static const char *const net_ctrl_classes[] = {"rx", "mac", "vlan",
                                               "announce", "mq", "offloads"};

/* net_ctrl class=C cmd=N [data=D] [ack=1]: a control command on vq 2. */
static void asm_net_ctrl(struct asm_ctx *a, const struct tok *toks,
                         unsigned nt, struct hv_op *op)
{
    uint64_t cls = 0, cmd = 0, ack = 1;
    bool have_cls = false, have_data = false;
    op->region = 2;
    a->pay.n = 0;
    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        if (key_is(&kv, "vq"))
            op->region = (uint8_t)kv_num(a, &kv, 0xff, "vq");
        else if (submit_flag(a, &kv, &op->flags))
            ;
        else if (key_is(&kv, "class")) {
            need_value(a, &kv, true);
            have_cls = true;
            cls = 256;
            for (unsigned c = 0; c < 6; c++)
                if (strlen(net_ctrl_classes[c]) == kv.vn &&
                    memcmp(kv.v, net_ctrl_classes[c], kv.vn) == 0)
                    cls = c;
            if (cls == 256)
                cls = kv_num(a, &kv, 0xff, "class");
        } else if (key_is(&kv, "cmd"))
            cmd = kv_num(a, &kv, 0xff, "cmd");
        else if (key_is(&kv, "ack"))
            ack = kv_num(a, &kv, 0xffff, "ack");
        else if (key_is(&kv, "data"))
            take_data(a, &kv, toks[i].col, &have_data, &a->pay);
        else
            asm_error(a, toks[i].col,
                      "unknown net_ctrl option '%.*s' (class=, cmd=, data=, ack=, "
                      "vq=, indirect, nokick, noint, flags=)",
                      (int)toks[i].n, toks[i].s);
    }
    if (!have_cls)
        asm_error(a, toks[0].col, "net_ctrl needs class=");
    if (a->pay.n > 0xffff - 2)
        asm_error(a, toks[0].col, "command data longer than 65533 bytes");
    a->tmp.n = 0;
    bb_le(&a->tmp, cls, 1);
    bb_le(&a->tmp, cmd, 1);
    bb_put(&a->tmp, a->pay.p, a->pay.n);
    op->seg[0] = 2;
    op->nout = 1;
    if (a->pay.n)
        op->seg[op->nout++] = (uint16_t)a->pay.n;
    op->seg[op->nout] = (uint16_t)ack;
    op->nin = 1;
    op->len = (uint32_t)a->tmp.n;
    op->data = a->tmp.p;
}

static void asm_net_sugar(struct asm_ctx *a, const struct tok *toks,
                          unsigned nt, struct hv_op *op)
{
    const struct tok *m = &toks[0];
    op->code = HV_OP_VIRTQ_SUBMIT;
    if (tok_is(m, "net_tx") || tok_is(m, "net_udp") || tok_is(m, "net_tcp"))
        asm_net_tx(a, toks, nt, op);
    else if (tok_is(m, "net_rx_post"))
        asm_net_rx_post(a, toks, nt, op);
    else if (tok_is(m, "net_ctrl"))
        asm_net_ctrl(a, toks, nt, op);
    else
        asm_error(a, m->col, "unknown directive '%.*s'", (int)m->n, m->s);
}

/* A tpm_cmd flag keyword (or flags=U8): true if `kv` was one. */
static bool tpm_flag(struct asm_ctx *a, const struct kv *kv, uint8_t *flags)
{
    if (key_is(kv, "flags")) {
        *flags |= (uint8_t)kv_num(a, kv, 0xff, "flags");
        return true;
    }
    for (unsigned f = 0; f < 7; f++)
        if (key_is(kv, tpm_flag_names[f])) {
            need_value(a, kv, false);
            *flags |= (uint8_t)(1u << f);
            return true;
        }
    return false;
}

static void asm_tpm_cmd(struct asm_ctx *a, const struct tok *toks, unsigned nt,
                        struct hv_op *op)
{
    bool have_data = false;

    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        if (tpm_flag(a, &kv, &op->flags))
            continue;
        if (have_data)
            asm_error(a, toks[i].col, "tpm_cmd takes one DATA operand "
                      "(join items with '+')");
        parse_data(a, toks[i].s, toks[i].n, toks[i].col, &a->tmp);
        have_data = true;
    }
    op->len = (uint32_t)a->tmp.n;
    op->data = a->tmp.p;
}

/* ---- TPM directives: well-formed commands (TPM 2.0 Part 3) ------------ */

static void tpm_hdr(struct bbuf *c, uint16_t tag, uint32_t cc)
{
    uint8_t h[10] = {(uint8_t)(tag >> 8), (uint8_t)tag, 0, 0, 0, 0,
                     (uint8_t)(cc >> 24), (uint8_t)(cc >> 16), (uint8_t)(cc >> 8),
                     (uint8_t)cc};
    bb_put(c, h, sizeof h);
}

static void tpm_be(struct bbuf *c, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        bb_byte(c, (uint8_t)(v >> (8 * (n - 1 - i))));
}

static void tpm_fix_size(struct bbuf *c)
{
    for (unsigned i = 0; i < 4 && c->n >= 6; i++)
        c->p[2 + i] = (uint8_t)(c->n >> (8 * (3 - i)));
}

/* The directive's positional operands (after flag keywords are taken). */
struct tpm_args {
    const struct tok *t[16];
    unsigned n;
};

static uint16_t tpm_alg(struct asm_ctx *a, const char *s, size_t n, unsigned col)
{
    if (n == 4 && !memcmp(s, "sha1", 4))
        return 0x0004;
    if (n == 6 && !memcmp(s, "sha256", 6))
        return 0x000b;
    if (n == 6 && !memcmp(s, "sha384", 6))
        return 0x000c;
    if (n == 6 && !memcmp(s, "sha512", 6))
        return 0x000d;
    return (uint16_t)parse_num(a, s, n, col, 0xffff, "hash algorithm (sha1, sha256, sha384, sha512 or a number)");
}

static void tpm_pcr_select(struct asm_ctx *a, const struct tok *t, struct bbuf *c)
{
    uint8_t map[3] = {0, 0, 0};
    size_t i = 0;
    while (i < t->n) {
        size_t end = i;
        while (end < t->n && t->s[end] != ',')
            end++;
        uint64_t pcr = parse_num(a, t->s + i, end - i, t->col + (unsigned)i, 23, "PCR index");
        map[pcr / 8] |= (uint8_t)(1u << (pcr % 8));
        i = end + 1;
    }
    tpm_be(c, 3, 1);
    bb_put(c, map, 3);
}

static void tpm_need(struct asm_ctx *a, const struct tpm_args *p,
                     const struct tok *m, unsigned n, const char *usage)
{
    if (p->n != n)
        asm_error(a, p->n > n ? p->t[n]->col : m->col,
                  "%s operands: usage: %s", p->n > n ? "too many" : "missing", usage);
}

static void tpm_clear_state(struct asm_ctx *a, const struct tok *t, struct bbuf *c)
{
    if (!tok_is(t, "clear") && !tok_is(t, "state"))
        asm_error(a, t->col, "want clear or state");
    tpm_be(c, tok_is(t, "state") ? 1 : 0, 2);
}

static void tpm_build(struct asm_ctx *a, const struct tok *m,
                      const struct tpm_args *p, struct bbuf *c)
{
    if (tok_is(m, "tpm_startup") || tok_is(m, "tpm_shutdown")) {
        tpm_need(a, p, m, 1, "tpm_startup|tpm_shutdown clear|state");
        tpm_hdr(c, 0x8001, tok_is(m, "tpm_startup") ? 0x144 : 0x145);
        tpm_clear_state(a, p->t[0], c);
    } else if (tok_is(m, "tpm_selftest")) {
        if (p->n > 1 || (p->n == 1 && !tok_is(p->t[0], "full")))
            asm_error(a, m->col, "usage: tpm_selftest [full]");
        tpm_hdr(c, 0x8001, 0x143);
        tpm_be(c, p->n, 1);
    } else if (tok_is(m, "tpm_getrandom")) {
        tpm_need(a, p, m, 1, "tpm_getrandom N");
        tpm_hdr(c, 0x8001, 0x17b);
        tpm_be(c, tok_num(a, p->t[0], 0xffff, "byte count"), 2);
    } else if (tok_is(m, "tpm_getcap")) {
        tpm_need(a, p, m, 3, "tpm_getcap CAP PROPERTY COUNT");
        tpm_hdr(c, 0x8001, 0x17a);
        for (unsigned i = 0; i < 3; i++)
            tpm_be(c, tok_num(a, p->t[i], 0xffffffffu, "value"), 4);
    } else if (tok_is(m, "tpm_pcr_read")) {
        tpm_need(a, p, m, 2, "tpm_pcr_read sha1|sha256 PCR,PCR,..");
        tpm_hdr(c, 0x8001, 0x17e);
        tpm_be(c, 1, 4);
        tpm_be(c, tpm_alg(a, p->t[0]->s, p->t[0]->n, p->t[0]->col), 2);
        tpm_pcr_select(a, p->t[1], c);
    } else if (tok_is(m, "tpm_pcr_extend")) {
        if (p->n < 2)
            asm_error(a, m->col, "usage: tpm_pcr_extend PCR ALG:HEX [ALG:HEX..]");
        tpm_hdr(c, 0x8002, 0x182);
        tpm_be(c, tok_num(a, p->t[0], 0xffffffffu, "PCR handle"), 4);
        /* password session: TPM_RS_PW, empty nonce, continueSession, empty auth */
        static const uint8_t pw[13] = {0, 0, 0, 9, 0x40, 0, 0, 9, 0, 0, 1, 0, 0};
        bb_put(c, pw, sizeof pw);
        tpm_be(c, p->n - 1, 4);
        for (unsigned i = 1; i < p->n; i++) {
            const struct tok *t = p->t[i];
            const char *colon = memchr(t->s, ':', t->n);
            if (!colon)
                asm_error(a, t->col, "want ALG:HEX (sha256:00112233..)");
            size_t an = (size_t)(colon - t->s);
            tpm_be(c, tpm_alg(a, t->s, an, t->col), 2);
            parse_hex(a, colon + 1, t->n - an - 1, t->col + (unsigned)an + 1, c);
        }
    } else {
        asm_error(a, m->col, "unknown TPM directive '%.*s' (tpm_cmd, tpm_startup, "
                  "tpm_shutdown, tpm_selftest, tpm_getrandom, tpm_getcap, "
                  "tpm_pcr_read, tpm_pcr_extend)", (int)m->n, m->s);
    }
    tpm_fix_size(c);
}

static void asm_tpm_sugar(struct asm_ctx *a, const struct tok *toks,
                          unsigned nt, struct hv_op *op)
{
    struct tpm_args p = {.n = 0};

    for (unsigned i = 1; i < nt; i++) {
        struct kv kv;
        split_kv(&toks[i], &kv);
        if (tpm_flag(a, &kv, &op->flags))
            continue;
        if (p.n == 16)
            asm_error(a, toks[i].col, "too many operands");
        p.t[p.n++] = &toks[i];
    }
    a->tmp.n = 0;
    tpm_build(a, &toks[0], &p, &a->tmp);
    op->code = HV_OP_TPM_CMD;
    op->len = (uint32_t)a->tmp.n;
    op->data = a->tmp.p;
}

static void asm_line(struct asm_ctx *a, const char *line, size_t n)
{
    struct tok toks[MAX_TOKS];
    unsigned nt = tokenize(a, line, n, toks);
    if (nt == 0)
        return;
    const struct tok *m = &toks[0];
    const struct hv_layout *l = a->l;
    struct hv_op op;
    memset(&op, 0, sizeof op);
    op.known = true;

    if (tok_is(m, ".bytes")) {
        a->tmp.n = 0;
        for (unsigned i = 1; i < nt; i++)
            parse_hex(a, toks[i].s, toks[i].n, toks[i].col, &a->tmp);
        bb_put(&a->out, a->tmp.p, a->tmp.n);
        return;
    }
    if (tok_is(m, ".target")) {
        want_args(a, toks, nt, 1, ".target NAME");
        if (!tok_is(&toks[1], l->target))
            asm_error(a, toks[1].col,
                      "program is for target '%.*s', assembling for '%s' (use -t)",
                      (int)toks[1].n, toks[1].s, l->target);
        return;
    }
    if (m->n > 4 && memcmp(m->s, "blk_", 4) == 0) {
        op.code = HV_OP_VIRTQ_SUBMIT;
        a->tmp.n = 0;
        asm_blk(a, toks, nt, &op);
        emit(a, &op, m->col);
        return;
    }

    if (m->n > 5 && memcmp(m->s, "nvme_", 5) == 0 &&
        !tok_is(m, "nvme_setup") && !tok_is(m, "nvme_submit")) {
        op.code = HV_OP_NVME_SUBMIT;
        asm_nvme_sugar(a, toks, nt, &op);
        emit(a, &op, m->col);
        return;
    }

    if (m->n > 4 && memcmp(m->s, "net_", 4) == 0) {
        asm_net_sugar(a, toks, nt, &op);
        emit(a, &op, m->col);
        return;
    }

    if (m->n > 6 && memcmp(m->s, "e1000_", 6) == 0 &&
        !tok_is(m, "e1000_setup") && !tok_is(m, "e1000_tx") &&
        !tok_is(m, "e1000_rx_post")) {
        asm_e1000_sugar(a, toks, nt, &op);
        emit(a, &op, m->col);
        return;
    }

    if (m->n > 4 && memcmp(m->s, "tpm_", 4) == 0 && !tok_is(m, "tpm_cmd")) {
        asm_tpm_sugar(a, toks, nt, &op);
        emit(a, &op, m->col);
        return;
    }

    static const uint8_t codes[] = {
        HV_OP_TPM_CMD,
        HV_OP_MMIO_READ,  HV_OP_MMIO_WRITE,    HV_OP_PIO_READ,
        HV_OP_PIO_WRITE,  HV_OP_CFG_READ,      HV_OP_CFG_WRITE,
        HV_OP_DMA_WRITE,  HV_OP_DMA_FILL,      HV_OP_CLOCK_ADVANCE,
        HV_OP_RX_INJECT,  HV_OP_VIRTQ_SETUP,   HV_OP_VIRTQ_SUBMIT,
        HV_OP_NVME_SETUP, HV_OP_NVME_SUBMIT,   HV_OP_E1000_SETUP,
        HV_OP_E1000_TX,   HV_OP_E1000_RX_POST,
    };
    bool found = false;
    for (unsigned i = 0; i < sizeof codes; i++)
        if (tok_is(m, hv_op_name(codes[i]))) {
            op.code = codes[i];
            found = true;
        }
    if (!found)
        asm_error(a, m->col, "unknown op '%.*s'", (int)m->n, m->s);

    a->tmp.n = 0;
    switch (op.code) {
    case HV_OP_MMIO_READ:
    case HV_OP_MMIO_WRITE: {
        bool w = op.code == HV_OP_MMIO_WRITE;
        want_args(a, toks, nt, w ? 4 : 3,
                  w ? "mmio_write REGION OFF SIZE VAL" : "mmio_read REGION OFF SIZE");
        op.region = parse_region(a, &toks[1], l->mmio, l->nmmio, "mmio region");
        op.off = (uint32_t)tok_num(a, &toks[2], 0xffffffffu, "offset");
        op.size = (uint8_t)tok_num(a, &toks[3], 0xff, "size");
        if (w)
            op.val = tok_num(a, &toks[4], UINT64_MAX, "value");
        break;
    }
    case HV_OP_PIO_READ:
    case HV_OP_PIO_WRITE: {
        bool w = op.code == HV_OP_PIO_WRITE;
        want_args(a, toks, nt, w ? 4 : 3,
                  w ? "pio_write REGION OFF SIZE VAL" : "pio_read REGION OFF SIZE");
        op.region = parse_region(a, &toks[1], l->pio, l->npio, "pio region");
        op.off = (uint32_t)tok_num(a, &toks[2], 0xffff, "offset");
        op.size = (uint8_t)tok_num(a, &toks[3], 0xff, "size");
        if (w)
            op.val = tok_num(a, &toks[4], 0xffffffffu, "value");
        break;
    }
    case HV_OP_CFG_READ:
    case HV_OP_CFG_WRITE: {
        bool w = op.code == HV_OP_CFG_WRITE;
        want_args(a, toks, nt, w ? 4 : 3,
                  w ? "pci_cfg_write DEV OFF SIZE VAL" : "pci_cfg_read DEV OFF SIZE");
        op.region = parse_dev(a, &toks[1]);
        op.off = (uint32_t)tok_num(a, &toks[2], 0xff, "offset");
        op.size = (uint8_t)tok_num(a, &toks[3], 0xff, "size");
        if (w)
            op.val = tok_num(a, &toks[4], 0xffffffffu, "value");
        break;
    }
    case HV_OP_DMA_WRITE:
        want_args(a, toks, nt, 2, "dma_write OFF DATA");
        op.off = (uint32_t)tok_num(a, &toks[1], 0xffffffffu, "offset");
        parse_data(a, toks[2].s, toks[2].n, toks[2].col, &a->tmp);
        op.len = (uint32_t)a->tmp.n;
        op.data = a->tmp.p;
        break;
    case HV_OP_DMA_FILL:
        want_args(a, toks, nt, 3, "dma_fill OFF LEN BYTE");
        op.off = (uint32_t)tok_num(a, &toks[1], 0xffffffffu, "offset");
        op.len = (uint32_t)tok_num(a, &toks[2], 0xffff, "length");
        op.val = tok_num(a, &toks[3], 0xff, "byte");
        break;
    case HV_OP_CLOCK_ADVANCE:
        want_args(a, toks, nt, 1, "clock_advance NS");
        op.val = tok_num(a, &toks[1], 0xffffffffu, "nanoseconds");
        break;
    case HV_OP_RX_INJECT:
        want_args(a, toks, nt, 1, "rx_inject DATA");
        parse_data(a, toks[1].s, toks[1].n, toks[1].col, &a->tmp);
        op.len = (uint32_t)a->tmp.n;
        op.data = a->tmp.p;
        break;
    case HV_OP_VIRTQ_SETUP:
        asm_virtq_setup(a, toks, nt, &op);
        break;
    case HV_OP_VIRTQ_SUBMIT:
        asm_virtq_submit(a, toks, nt, &op);
        break;
    case HV_OP_NVME_SETUP:
        asm_nvme_setup(a, toks, nt, &op);
        break;
    case HV_OP_NVME_SUBMIT:
        asm_nvme_submit(a, toks, nt, &op);
        break;
    case HV_OP_E1000_SETUP:
        asm_e1000_setup(a, toks, nt, &op);
        break;
    case HV_OP_E1000_TX:
        asm_e1000_tx(a, toks, nt, &op);
        break;
    case HV_OP_E1000_RX_POST:
        want_args(a, toks, nt, 1, "e1000_rx_post n=N");
        {
            struct kv kv;
            split_kv(&toks[1], &kv);
            if (!key_is(&kv, "n"))
                asm_error(a, toks[1].col, "usage: e1000_rx_post n=N");
            op.region = (uint8_t)kv_num(a, &kv, 0xff, "n");
        }
        break;
    case HV_OP_TPM_CMD:
        asm_tpm_cmd(a, toks, nt, &op);
        break;
    }
    emit(a, &op, m->col);
}

uint8_t *hv_asm(const struct hv_layout *l, const char *fname, const char *text,
                size_t len, size_t *out_len, char *err, size_t errsz)
{
    struct asm_ctx *a = calloc(1, sizeof *a);
    if (!a) {
        if (errsz)
            snprintf(err, errsz, "%s: error: out of memory", fname);
        return NULL;
    }
    a->l = l;
    a->fname = fname ? fname : "<input>";
    a->err = err;
    a->errsz = errsz;
    if (errsz)
        err[0] = 0;

    if (setjmp(a->fail)) {
        free(a->out.p);
        free(a->tmp.p);
        free(a->pay.p);
        free(a);
        return NULL;
    }
    size_t pos = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        a->line++;
        for (size_t i = pos; i < end; i++)
            if (text[i] == 0)
                asm_error(a, (unsigned)(i - pos) + 1, "NUL byte in text");
        asm_line(a, text + pos, end - pos);
        if (a->out.oom || a->tmp.oom)
            asm_error(a, 1, "out of memory");
        pos = end + 1;
    }
    uint8_t *p = a->out.p ? a->out.p : malloc(1);
    *out_len = a->out.n;
    free(a->tmp.p);
    free(a->pay.p);
    free(a);
    return p;
}
