/*
 * Unit tests of the TPM 2.0 model (targets/tpm): every implemented command
 * answered well-formed, and each kind of malformation with its exact
 * response code (values cross-checked against libtpms by test_tpm_diff).
 * Plus reset/snapshot/determinism properties of the model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv_test.h"
#include "targets/tpm/tpm.h"
#include "tpm_client.h"

static struct tpm *tpm;
static uint8_t rsp[4096];
static size_t rsp_len;

static int hex_value(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Runs a command given in hex (spaces allowed); the size field is patched
 * unless the string starts with '!'. Returns the response code. */
static uint32_t run(const char *hex)
{
    uint8_t cmd[4096];
    size_t n = 0;
    bool raw = hex[0] == '!';

    for (const char *p = hex + raw; *p; p++) {
        if (*p == ' ')
            continue;
        cmd[n++] = (uint8_t)(hex_value(p[0]) << 4 | hex_value(p[1]));
        p++;
    }
    if (!raw && n >= 6) {
        cmd[2] = (uint8_t)(n >> 24);
        cmd[3] = (uint8_t)(n >> 16);
        cmd[4] = (uint8_t)(n >> 8);
        cmd[5] = (uint8_t)n;
    }
    rsp_len = tpm_execute(tpm, cmd, n, rsp, sizeof(rsp));
    return rsp_len >= 10 ? tc_be32(rsp + 6) : 0xFFFFFFFFu;
}

static bool rsp_is(const char *hex)
{
    uint8_t want[4096];
    size_t n = 0;

    for (const char *p = hex; *p; p++) {
        if (*p == ' ')
            continue;
        want[n++] = (uint8_t)(hex_value(p[0]) << 4 | hex_value(p[1]));
        p++;
    }
    if (n == rsp_len && !memcmp(want, rsp, n))
        return true;
    fprintf(stderr, "response: ");
    for (size_t i = 0; i < rsp_len; i++)
        fprintf(stderr, "%02x", rsp[i]);
    fprintf(stderr, "\n");
    return false;
}

#define PW_SESSION "40000009 0000 01 0000"
#define PW "00000009 " PW_SESSION
#define STARTUP "8001 00000000 00000144 0000"
#define SHA1_DIGEST "0004 1111111111111111111111111111111111111111"

static void fresh(void)
{
    tpm_reset(tpm);
    CHECK_EQ(run(STARTUP), 0);
}

static void test_header(void)
{
    tpm_reset(tpm);
    CHECK_EQ(run("!"), 0x09A);                    /* empty: INSUFFICIENT */
    CHECK_EQ(run("!8001 0000"), 0x09A);           /* short size */
    CHECK_EQ(run("!8001 0000000a 0000"), 0x142);  /* size != length */
    CHECK_EQ(run("!8001 00000008 0000"), 0x09A);  /* short command code */
    CHECK_EQ(run("!8001 00000100 00000144 0000"), 0x142);
    CHECK_EQ(run("8003 00000000 0000017c"), 0x084); /* not a TPM_ST */
    CHECK_EQ(run("8000 00000000 0000017c"), 0x01E); /* TPM_ST, not a tag */
    CHECK_EQ(run("00c4 00000000 0000017c"), 0x01E);
    CHECK_EQ(run("8001 00000000 0000019f"), 0x143); /* unknown command */
    CHECK_EQ(run("8001 00000000 20000001"), 0x143); /* vendor command */
    CHECK(rsp_is("8001 0000000a 00000143"));
    CHECK_EQ(run("8001 00000000 0000017c"), 0x100); /* before Startup */
    CHECK_EQ(run("8001 00000000 00000144 0001"), 0x1C4); /* no state saved */
    CHECK_EQ(run("8001 00000000 00000144 0002"), 0x1C4);
    CHECK_EQ(run(STARTUP), 0);
    CHECK(rsp_is("8001 0000000a 00000000"));
    CHECK_EQ(run(STARTUP), 0x100);                  /* started already */
    CHECK_EQ(run("8001 00000000 0000017c 00"), 0x095); /* left-over byte */
    CHECK_EQ(tpm_execute(tpm, (const uint8_t *)"", 0, rsp, 9), 0);
}

static void test_startup_shutdown_selftest(void)
{
    fresh();
    CHECK_EQ(run("8001 00000000 00000145 0002"), 0x1C4);
    CHECK_EQ(run("8001 00000000 00000145"), 0x1DA);
    CHECK_EQ(run("8001 00000000 00000145 0001"), 0);
    tpm_init(tpm);
    CHECK_EQ(run("8001 00000000 00000144 0001"), 0); /* resume */
    CHECK_EQ(run("8001 00000000 00000143 01"), 0);
    CHECK_EQ(run("8001 00000000 00000143 02"), 0x1C4);
    CHECK_EQ(run("8001 00000000 00000142 00000001 0004"), 0);
    CHECK(rsp_is("8001 0000000e 00000000 00000000"));
    CHECK_EQ(run("8001 00000000 00000142 00000001 0099"), 0x1C4);
    CHECK_EQ(run("8001 00000000 00000142 00000041"), 0x1D5);
    CHECK_EQ(run("8001 00000000 00000142 00000002 0004"), 0x1DA);
    CHECK_EQ(run("8001 00000000 0000017c"), 0);
    CHECK(rsp_is("8001 00000010 00000000 0000 00000000"));
}

static void test_random_and_clock(void)
{
    uint8_t first[32];

    fresh();
    CHECK_EQ(run("8001 00000000 0000017b 0010"), 0);
    CHECK_EQ(rsp_len, 10 + 2 + 16);
    memcpy(first, rsp + 12, 16);
    CHECK_EQ(run("8001 00000000 0000017b 0100"), 0);
    CHECK_EQ(rsp_len, 10 + 2 + 64); /* clamped to the largest digest */
    CHECK_EQ(run("8001 00000000 0000017b"), 0x1DA);
    fresh();
    CHECK_EQ(run("8001 00000000 0000017b 0010"), 0);
    CHECK(!memcmp(first, rsp + 12, 16)); /* deterministic after reset */
    CHECK_EQ(run("8001 00000000 00000146 0004 01020304"), 0);
    CHECK_EQ(run("8001 00000000 00000146 0081"), 0x1D5); /* > 128 bytes */
    CHECK_EQ(run("8001 00000000 00000146 0002 01"), 0x1DA);
    tpm_advance_clock(tpm, 0x66);
    CHECK_EQ(run("8001 00000000 00000181"), 0);
    CHECK(rsp_is("8001 00000023 00000000 0000000000000066 0000000000000066 "
                 "00000001 00000000 01"));
}

static void test_pcr(void)
{
    fresh();
    /* sha256 PCR 7: zeros; update counter 20 after Startup(CLEAR) */
    CHECK_EQ(run("8001 00000000 0000017e 00000001 000b 03 800000"), 0);
    CHECK(rsp_is("8001 0000003e 00000000 00000014 00000001 000b 03 800000 "
                 "00000001 0020 "
                 "0000000000000000000000000000000000000000000000000000000000000000"));
    /* the tpm2-tools extend of PCR 7, then the value libtpms reported */
    CHECK_EQ(run("8002 00000000 00000182 00000007 " PW " 00000001 000b "
                 "b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c"),
             0);
    CHECK(rsp_is("8002 00000013 00000000 00000000 0000 01 0000"));
    CHECK_EQ(run("8001 00000000 0000017e 00000001 000b 03 800000"), 0);
    CHECK(rsp_is("8001 0000003e 00000000 00000015 00000001 000b 03 800000 "
                 "00000001 0020 "
                 "44f12027ab81dfb6e096018f5a9f19645f988d45529cded3427159dc0032d921"));
    /* PCR 17 reads as all ones, extending it is not allowed at locality 0 */
    CHECK_EQ(run("8001 00000000 0000017e 00000001 0004 03 000002"), 0);
    CHECK_EQ(rsp[rsp_len - 1], 0xFF);
    CHECK_EQ(run("8002 00000000 00000182 00000011 " PW " 00000001 " SHA1_DIGEST),
             0x907);
    CHECK_EQ(run("8002 00000000 00000182 00000018 " PW " 00000000"), 0x184);
    CHECK_EQ(run("8002 00000000 00000182 40000007 " PW " 00000000"), 0);
    CHECK_EQ(run("8001 00000000 00000182 00000000 00000000"), 0x125);
    CHECK_EQ(run("8002 00000000 00000182 00000000 " PW " 00000005"), 0x1D5);
    CHECK_EQ(run("8002 00000000 00000182 00000000 " PW " 00000001 0010"), 0x1C3);
    CHECK_EQ(run("8002 00000000 00000182 00000000 " PW " 00000001 000b 11"),
             0x1DA);
    /* unallocated bank (SHA-384): selection cleared, digest ignored */
    CHECK_EQ(run("8001 00000000 0000017e 00000001 000c 03 010000"), 0);
    CHECK(rsp_is("8001 0000001c 00000000 00000015 00000001 000c 03 000000 "
                 "00000000"));
    CHECK_EQ(run("8001 00000000 0000017e 00000001 0004 02 0100"), 0x1C4);
    CHECK_EQ(run("8001 00000000 0000017e 00000001 0004 04 01000000"), 0x1C4);
    CHECK_EQ(run("8001 00000000 0000017e 00000005"), 0x1D5);
    CHECK_EQ(run("8001 00000000 0000017e 00000001 0010 03 010000"), 0x1C3);
    /* at most 8 digests: the other bits are cleared */
    CHECK_EQ(run("8001 00000000 0000017e 00000001 0004 03 ffff00"), 0);
    CHECK(!memcmp(rsp + 14, "\x00\x00\x00\x01\x00\x04\x03\xff\x00\x00", 10));
    CHECK_EQ(tc_be32(rsp + 24), 8);
    /* PCR_Reset: 16 and 23 only */
    CHECK_EQ(run("8002 00000000 0000013d 00000010 " PW), 0);
    CHECK_EQ(run("8002 00000000 0000013d 00000000 " PW), 0x907);
    CHECK_EQ(run("8002 00000000 0000013d 40000007 " PW), 0x184);
    /* PCR_Event returns the four implemented digests */
    CHECK_EQ(run("8002 00000000 0000013c 00000000 " PW " 0003 616263"), 0);
    CHECK_EQ(tc_be32(rsp + 14), 4);
    CHECK_EQ(run("8002 00000000 0000013c 00000011 " PW " 0003 616263"), 0x907);
}

static void test_hash(void)
{
    fresh();
    CHECK_EQ(run("8001 00000000 0000017d 0003 616263 000b 40000007"), 0);
    CHECK(rsp_is("8001 00000034 00000000 0020 "
                 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad "
                 "8024 40000007 0000"));
    CHECK_EQ(run("8001 00000000 0000017d 0003 616263 000b 40000001"), 0);
    CHECK_EQ(rsp_len, 10 + 34 + 2 + 4 + 2 + 64); /* SHA-512 ticket */
    CHECK_EQ(run("8001 00000000 0000017d 0003 616263 0010 40000007"), 0x2C3);
    CHECK_EQ(run("8001 00000000 0000017d 0003 616263 000b 40000009"), 0x3C4);
    CHECK_EQ(run("8001 00000000 0000017d 0401"), 0x1D5);
}

static void test_capability(void)
{
    fresh();
    CHECK_EQ(run("8001 00000000 0000017a 00000005 00000000 00000001"), 0);
    CHECK(rsp_is("8001 0000002b 00000000 00 00000005 00000004 "
                 "0004 03 ffffff 000b 03 ffffff 000c 03 000000 000d 03 000000"));
    CHECK_EQ(run("8001 00000000 0000017a 00000005 00000001 00000001"), 0x2C4);
    CHECK_EQ(run("8001 00000000 0000017a 0000000b 00000000 00000001"), 0x1C4);
    CHECK_EQ(run("8001 00000000 0000017a 00000001 05000000 00000001"), 0x2CB);
    CHECK_EQ(run("8001 00000000 0000017a 00000001 00000016 000000ff"), 0);
    CHECK(rsp_is("8001 0000001b 00000000 00 00000001 00000002 00000016 00000017"));
    CHECK_EQ(run("8001 00000000 0000017a 00000006 0000012e 00000002"), 0);
    CHECK(rsp_is("8001 0000001b 00000000 00 00000006 00000001 0000012e 00000400"));
    CHECK_EQ(run("8001 00000000 0000017a 00000006 00000100 00000001"), 0);
    CHECK(rsp_is("8001 0000001b 00000000 01 00000006 00000001 00000100 322e3000"));
    CHECK_EQ(run("8001 00000000 0000017a 00000006 000001ff 00000005"), 0);
    CHECK(rsp_is("8001 00000013 00000000 00 00000006 00000000"));
    CHECK_EQ(run("8001 00000000 0000017a 00000002 00000144 00000002"), 0);
    CHECK(rsp_is("8001 0000001b 00000000 01 00000002 00000002 00400144 00400145"));
    CHECK_EQ(run("8001 00000000 0000017a 00000006 00000100"), 0x3DA);
}

static void test_sessions(void)
{
    fresh();
    /* authorization area malformations on PCR_Extend of PCR 0 */
    CHECK_EQ(run("8002 00000000 00000182 00000000 00000008 4000000900000100"),
             0x095);
    CHECK_EQ(run("8002 00000000 00000182 00000000 000000ff 40000009 0000 01 0000"),
             0x095);
    CHECK_EQ(run("8002 00000000 00000182 00000000 00000009 40000008 0000 01 0000"
                 " 00000000"),
             0x984); /* not a session handle */
    CHECK_EQ(run("8002 00000000 00000182 00000000 00000009 02000000 0000 01 0000"
                 " 00000000"),
             0x918); /* session not loaded */
    CHECK_EQ(run("8002 00000000 00000182 00000000 0000000a 40000009 0001 aa 01 0000"
                 " 00000000"),
             0x98F); /* password session with a nonce */
    CHECK_EQ(run("8002 00000000 00000182 00000000 00000009 40000009 0000 09 0000"
                 " 00000000"),
             0x9A1); /* reserved attribute bit */
    CHECK_EQ(run("8002 00000000 00000182 00000000 00000009 40000009 0000 80 0000"
                 " 00000000"),
             0x982); /* password session cannot audit */
    CHECK_EQ(run("8002 00000000 00000182 00000000 0000000a 40000009 0000 01 0001 41"
                 " 00000000"),
             0x9A2); /* wrong password */
    CHECK_EQ(run("8002 00000000 00000182 00000000 00000009 40000009 0000 01 0041"
                 " 00000000"),
             0x995); /* TPM2B_AUTH larger than a digest */
    CHECK_EQ(run("8002 00000000 00000182 00000000 00000012 " PW_SESSION
                 " 40000009 0000 01 0000 00000000"),
             0xA8B); /* a password session that authorizes nothing */
    CHECK_EQ(run("8002 00000000 0000017e 00000009 " PW_SESSION
                 " 00000001 000b 03 010000"),
             0x98B);
    /* StartAuthSession */
    CHECK_EQ(run("8001 00000000 00000176 40000007 40000007 0008 aaaaaaaaaaaaaaaa"
                 " 0000 00 0010 000b"),
             0x1D5); /* nonceCaller < 16 bytes */
    CHECK_EQ(run("8001 00000000 00000176 40000007 40000007 0010 "
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 0000 02 0010 000b"),
             0x3C4); /* session type */
    CHECK_EQ(run("8001 00000000 00000176 40000007 40000007 0010 "
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 0000 00 0010 0010"),
             0x5C3); /* authHash */
    CHECK_EQ(run("8001 00000000 00000176 80000000 40000007 0010 "
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 0000 00 0010 000b"),
             0x910); /* tpmKey: no object loaded */
    CHECK_EQ(run("8001 00000000 00000176 40000007 40000007 0010 "
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 0002 0102 00 0010 000b"),
             0x2C4); /* a salt without tpmKey */
    CHECK_EQ(run("8001 00000000 00000176 40000007 40000007 0020 "
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                 " 0000 00 0010 0004"),
             0x1D5); /* nonceCaller larger than a SHA-1 digest */
    CHECK_EQ(run("8002 00000000 00000165 " PW " 02000000"), 0x145);
    for (unsigned i = 0; i < 3; i++) {
        CHECK_EQ(run("8001 00000000 00000176 40000007 40000007 0010 "
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 0000 00 0010 000b"),
                 0);
        CHECK_EQ(tc_be32(rsp + 10), 0x02000000u + i);
        CHECK_EQ(rsp_len, 10 + 4 + 2 + 16); /* nonceTPM sized as nonceCaller */
    }
    CHECK_EQ(run("8001 00000000 00000176 40000007 40000007 0010 "
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 0000 00 0010 000b"),
             0x903); /* three sessions loaded at most */
    CHECK_EQ(run("8001 00000000 0000017a 00000001 02000000 0000000a"), 0);
    CHECK(rsp_is("8001 0000001f 00000000 00 00000001 00000003 "
                 "02000000 02000001 02000002"));
    CHECK_EQ(run("8001 00000000 00000165 02000001"), 0);
    CHECK_EQ(run("8001 00000000 00000165 02000001"), 0x1CB);
    CHECK_EQ(run("8001 00000000 00000165 40000001"), 0x1C4);
    CHECK_EQ(run("8001 00000000 00000165 02000040"), 0x1C4);
    /* an unbound session with an empty key: an empty HMAC is accepted and
     * answered with an empty HMAC; continueSession clear ends it */
    CHECK_EQ(run("8002 00000000 00000182 00000000 00000009 02000000 0000 00 0000"
                 " 00000000"),
             0);
    CHECK_EQ(rsp_len, 10 + 4 + 2 + 16 + 1 + 2);
    CHECK_EQ(run("8001 00000000 00000165 02000000"), 0x1CB);
}

static void test_hierarchy_auth(void)
{
    fresh();
    CHECK_EQ(run("8002 00000000 00000129 40000001 " PW " 0003 616263"), 0);
    CHECK_EQ(run("8002 00000000 00000129 40000001 " PW " 0000"), 0x9A2);
    CHECK_EQ(run("8002 00000000 00000129 40000001 0000000b 40000009 0000 01 0002"
                 " 6162 0000"),
             0x9A2);
    CHECK_EQ(run("8002 00000000 00000129 40000001 0000000d 40000009 0000 01 0004"
                 " 61626300 0000"),
             0); /* "abc\0" == "abc" */
    CHECK_EQ(run("8002 00000000 00000129 40000007 " PW " 0000"), 0x184);
    CHECK_EQ(run("8002 00000000 00000129 40000001 " PW " 0041"), 0x1D5);
    /* lockout: a failure locks lockoutAuth out */
    CHECK_EQ(run("8002 00000000 00000129 4000000a 0000000a 40000009 0000 01 0001"
                 " 99 0000"),
             0x98E);
    CHECK_EQ(run("8002 00000000 00000129 4000000a " PW " 0000"), 0x921);
}

#define NV_PUBLIC(index, attrs, size) "000e " index " 000b " attrs " 0000 " size
#define NV_DEFINE(index, attrs, size)                                          \
    "8002 00000000 0000012a 40000001 " PW " 0000 " NV_PUBLIC(index, attrs, size)

static void test_nv(void)
{
    fresh();
    CHECK_EQ(run("8001 00000000 00000169 01500016"), 0x18B);
    CHECK_EQ(run("8001 00000000 00000169 40000001"), 0x184);
    CHECK_EQ(run(NV_DEFINE("01500016", "00020002", "0020")), 0);
    CHECK(rsp_is("8002 00000013 00000000 00000000 0000 01 0000"));
    CHECK_EQ(run(NV_DEFINE("01500016", "00020002", "0020")), 0x14C);
    CHECK_EQ(run("8001 00000000 00000169 01500016"), 0);
    CHECK(rsp_is("8001 0000003e 00000000 000e 01500016 000b 00020002 0000 0020 "
                 "0022 000b "
                 "2a87953c4eb3c448ae9f6667d00d24db408bbe6a0639160d14f1ed6bc4714aaa"));
    /* define malformations */
    CHECK_EQ(run(NV_DEFINE("01500019", "40020002", "0020")), 0x182);
    CHECK_EQ(run(NV_DEFINE("01500019", "00000002", "0020")), 0x2C2);
    CHECK_EQ(run(NV_DEFINE("01500019", "00020000", "0020")), 0x2C2);
    CHECK_EQ(run(NV_DEFINE("01500019", "00020302", "0020")), 0x2E1);
    CHECK_EQ(run(NV_DEFINE("01500019", "20020002", "0020")), 0x2C2);
    CHECK_EQ(run(NV_DEFINE("01500019", "00020012", "0004")), 0x2D5);
    CHECK_EQ(run(NV_DEFINE("01500019", "00020002", "1000")), 0x2D5);
    CHECK_EQ(run(NV_DEFINE("02000000", "00020002", "0020")), 0x2C4);
    CHECK_EQ(run("8002 00000000 0000012a 40000001 " PW " 0000 0000"), 0x2D5);
    CHECK_EQ(run("8002 00000000 0000012a 40000001 " PW " 0000 000f 01500019 000b"
                 " 00020002 0000 0020"),
             0x2D5); /* size is not the body's (libtpms reads the body first) */
    CHECK_EQ(run("8001 00000000 0000012a 40000001 0000 " NV_PUBLIC("01500019",
                 "00020002", "0020")),
             0x125);
    CHECK_EQ(run("8002 00000000 0000012a 40000007 " PW " 0000 " NV_PUBLIC(
                 "01500019", "00020002", "0020")),
             0x184);
    /* read/write */
    CHECK_EQ(run("8002 00000000 0000014e 40000001 01500016 " PW " 0008 0000"),
             0x14A);
    CHECK_EQ(run("8002 00000000 00000137 40000001 01500016 " PW
                 " 0004 61626364 0002"),
             0);
    CHECK_EQ(run("8002 00000000 0000014e 40000001 01500016 " PW " 0006 0000"), 0);
    CHECK(rsp_is("8002 0000001b 00000000 00000008 0006 ffff61626364 0000 01 0000"));
    CHECK_EQ(run("8002 00000000 0000014e 40000001 01500016 " PW " 0021 0000"),
             0x146);
    CHECK_EQ(run("8002 00000000 0000014e 40000001 01500016 " PW " 0001 0021"),
             0x2C4);
    CHECK_EQ(run("8002 00000000 0000014e 40000001 01500016 " PW " 0401 0000"),
             0x1C4);
    CHECK_EQ(run("8002 00000000 00000137 40000001 01500016 " PW " 0002 6162 001f"),
             0x146);
    CHECK_EQ(run("8002 00000000 00000137 40000001 01500016 " PW " 0401"), 0x1D5);
    CHECK_EQ(run("8002 00000000 0000014e 4000000c 01500016 " PW " 0001 0000"),
             0x149); /* no PPREAD */
    /* authorization by the index itself: the first DA-protected
     * authorization answers TPM_RC_RETRY (libtpms daUsed), and an index
     * without AUTHREAD has no usable authValue */
    CHECK_EQ(run("8002 00000000 0000014e 01500016 01500016 " PW " 0001 0000"),
             0x922);
    CHECK_EQ(run("8002 00000000 0000014e 01500016 01500016 " PW " 0001 0000"),
             0x12F);
    /* counters */
    CHECK_EQ(run(NV_DEFINE("01500018", "00060016", "0008")), 0);
    CHECK_EQ(run("8002 00000000 00000134 40000001 01500018 " PW), 0);
    CHECK_EQ(run("8002 00000000 00000134 40000001 01500018 " PW), 0);
    CHECK_EQ(run("8002 00000000 0000014e 40000001 01500018 " PW " 0008 0000"), 0);
    CHECK(!memcmp(rsp + 16, "\0\0\0\0\0\0\0\x02", 8));
    CHECK_EQ(run("8002 00000000 00000134 40000001 01500016 " PW), 0x282);
    CHECK_EQ(run("8002 00000000 00000137 40000001 01500018 " PW " 0001 00 0000"),
             0x082);
    /* handles, undefine */
    CHECK_EQ(run("8001 00000000 0000017a 00000001 01000000 0000000a"), 0);
    CHECK(rsp_is("8001 0000001b 00000000 00 00000001 00000002 01500016 01500018"));
    CHECK_EQ(run("8002 00000000 00000122 40000001 01500016 " PW), 0);
    CHECK_EQ(run("8002 00000000 00000122 40000001 01500016 " PW), 0x28B);
    CHECK_EQ(run("8002 00000000 0000014e 40000001 01500018 " PW " 0008 0000"), 0);
    CHECK(!memcmp(rsp + 16, "\0\0\0\0\0\0\0\x02", 8)); /* data moved intact */
}

/* Save in one state, diverge, load: the responses repeat. */
static void test_snapshot_and_reset(void)
{
    size_t need = tpm_save(tpm, NULL, 0);
    uint8_t *blob = malloc(need), first[64];
    struct tpm *other = tpm_create(&(struct tpm_params){.seed = 1});

    fresh();
    CHECK_EQ(run(NV_DEFINE("01500016", "00020002", "0020")), 0);
    CHECK_EQ(tpm_save(tpm, blob, need), need);
    CHECK_EQ(run("8001 00000000 0000017b 0020"), 0);
    memcpy(first, rsp, rsp_len);
    CHECK_EQ(run("8002 00000000 00000122 40000001 01500016 " PW), 0);
    CHECK(tpm_load(tpm, blob, need));
    CHECK_EQ(run("8001 00000000 0000017b 0020"), 0);
    CHECK(!memcmp(first, rsp, rsp_len));
    CHECK_EQ(run("8001 00000000 00000169 01500016"), 0);
    CHECK(!tpm_load(tpm, blob, need - 1));
    blob[0] ^= 0xFF; /* version */
    CHECK(!tpm_load(tpm, blob, need));
    /* another seed, another random stream */
    CHECK_EQ(tpm_execute(other, (const uint8_t *)"\x80\x01\0\0\0\x0c\0\0\x01\x44\0\0",
                         12, rsp, sizeof(rsp)),
             10);
    CHECK_EQ(tpm_execute(other, (const uint8_t *)"\x80\x01\0\0\0\x0c\0\0\x01\x7b\0\x20",
                         12, rsp, sizeof(rsp)),
             44);
    CHECK(memcmp(first + 12, rsp + 12, 32));
    /* reset: back to the manufactured state */
    tpm_reset(tpm);
    CHECK_EQ(run("8001 00000000 00000169 01500016"), 0x100);
    CHECK_EQ(run(STARTUP), 0);
    CHECK_EQ(run("8001 00000000 00000169 01500016"), 0x18B);
    tpm_destroy(other);
    free(blob);
}

int main(void)
{
    tpm = tpm_create(NULL);
    test_header();
    test_startup_shutdown_selftest();
    test_random_and_clock();
    test_pcr();
    test_hash();
    test_capability();
    test_sessions();
    test_hierarchy_auth();
    test_nv();
    test_snapshot_and_reset();
    tpm_destroy(tpm);
    return hv_test_done("test_tpm");
}
