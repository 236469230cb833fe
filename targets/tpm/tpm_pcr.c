/*
 * PCRs: TPM 2.0 Library spec Part 3 section 22 (PCR_Extend 22.2, PCR_Event
 * 22.3, PCR_Read 22.4, PCR_Reset 22.8) and Hash (15.4), with the PC Client
 * Platform TPM Profile's PCR attributes at locality 0 (PCRs 0-16 and 23
 * extendable, 16 and 23 resettable, 17-22 start at all ones). Banks SHA-1
 * and SHA-256 are allocated; a digest for another implemented hash is
 * accepted and ignored, as libtpms does for unallocated banks.
 */
#include "targets/tpm/tpm_int.h"

#include <string.h>

#define TPM_MAX_PCR_DIGESTS 8u /* TPML_DIGEST in PCR_Read */
#define TPM_MAX_EVENT_SIZE 1024u
#define TPM_MAX_HASH_BUFFER 1024u
#define TPM_ST_HASHCHECK 0x8024u
#define TPM_GENERATED_VALUE 0xFF544347u
#define TPM_ALG_CONTEXT_HASH TPM_ALG_SHA512

static const uint16_t bank_alg[TPM_PCR_BANKS] = {TPM_ALG_SHA1, TPM_ALG_SHA256};
static const uint16_t hash_algs[TPM_HASH_COUNT] = {
    TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384, TPM_ALG_SHA512};

static int bank_of(uint16_t alg)
{
    for (int i = 0; i < TPM_PCR_BANKS; i++)
        if (bank_alg[i] == alg)
            return i;
    return -1;
}

static bool extend_allowed(uint32_t pcr)
{
    return pcr <= 16 || pcr == 23;
}

static bool reset_allowed(uint32_t pcr)
{
    return pcr == 16 || pcr == 23;
}

/* libtpms: PCRs 16 and 20-23 do not move pcrUpdateCounter. */
static bool counts_updates(uint32_t pcr)
{
    return pcr < 16 || (pcr > 16 && pcr < 20);
}

static uint8_t reset_value(uint32_t pcr)
{
    return pcr >= 17 && pcr <= 22 ? 0xFF : 0x00;
}

void tpm_pcr_startup_clear(struct tpm *t)
{
    for (int b = 0; b < TPM_PCR_BANKS; b++)
        for (uint32_t p = 0; p < TPM_PCR_COUNT; p++)
            memset(t->s.pcr[b][p], reset_value(p), TPM_MAX_DIGEST_SIZE);
    t->s.pcr_update_counter = TPM_PCR_COUNTER_AT_STARTUP;
}

/* TPM_CAP_PCRS: the allocation, every PCR selected in each bank. */
void tpm_pcr_write_allocation(struct tpm_out *o)
{
    out_u32(o, TPM_HASH_COUNT);
    for (unsigned i = 0; i < TPM_HASH_COUNT; i++) {
        uint8_t on = bank_of(hash_algs[i]) >= 0 ? 0xFF : 0x00;

        out_u16(o, hash_algs[i]);
        out_u8(o, TPM_PCR_SELECT_MAX);
        for (unsigned j = 0; j < TPM_PCR_SELECT_MAX; j++)
            out_u8(o, on);
    }
}

static void extend(struct tpm *t, int bank, uint32_t pcr, const uint8_t *d)
{
    uint16_t alg = bank_alg[bank];
    unsigned size = tpm_hash_size(alg);
    const void *parts[] = {t->s.pcr[bank][pcr], d};
    size_t lens[] = {size, size};

    tpm_hash(alg, parts, lens, 2, t->s.pcr[bank][pcr]);
    if (counts_updates(pcr))
        t->s.pcr_update_counter++;
}

/* ---- TPML_PCR_SELECTION / TPML_DIGEST_VALUES ------------------------------ */

struct pcr_selection {
    uint16_t alg;
    uint8_t size;
    uint8_t select[TPM_PCR_SELECT_MAX];
};

struct pcr_selection_list {
    uint32_t count;
    struct pcr_selection sel[TPM_HASH_COUNT];
};

static TPM_RC in_pcr_selection(struct tpm_in *in, struct pcr_selection *s)
{
    TPM_RC rc = in_hash_alg(in, false, &s->alg);

    if (!rc)
        rc = in_u8(in, &s->size);
    if (!rc && (s->size < TPM_PCR_SELECT_MIN || s->size > TPM_PCR_SELECT_MAX))
        rc = TPM_RC_VALUE;
    if (!rc)
        rc = in_bytes(in, s->select, s->size);
    return rc;
}

static TPM_RC in_pcr_selection_list(struct tpm_in *in,
                                    struct pcr_selection_list *l)
{
    TPM_RC rc = in_u32(in, &l->count);

    if (rc)
        return rc;
    if (l->count > TPM_HASH_COUNT)
        return TPM_RC_SIZE;
    for (uint32_t i = 0; i < l->count; i++) {
        rc = in_pcr_selection(in, &l->sel[i]);
        if (rc)
            return rc;
    }
    return TPM_RC_SUCCESS;
}

struct digest_values {
    uint32_t count;
    uint16_t alg[TPM_HASH_COUNT];
    uint8_t digest[TPM_HASH_COUNT][TPM_MAX_DIGEST_SIZE];
};

static TPM_RC in_digest_values(struct tpm_in *in, struct digest_values *v)
{
    TPM_RC rc = in_u32(in, &v->count);

    if (rc)
        return rc;
    if (v->count > TPM_HASH_COUNT)
        return TPM_RC_SIZE;
    for (uint32_t i = 0; i < v->count; i++) {
        rc = in_hash_alg(in, false, &v->alg[i]);
        if (!rc)
            rc = in_bytes(in, v->digest[i], tpm_hash_size(v->alg[i]));
        if (rc)
            return rc;
    }
    return TPM_RC_SUCCESS;
}

/* ---- PCR_Read ------------------------------------------------------------- */

static bool bit_set(const struct pcr_selection *s, uint32_t pcr)
{
    return pcr / 8 < s->size && (s->select[pcr / 8] >> (pcr % 8)) & 1;
}

static void clear_bit(struct pcr_selection *s, uint32_t pcr)
{
    s->select[pcr / 8] &= (uint8_t)~(1u << (pcr % 8));
}

/* Unallocated banks read as empty selections; after 8 digests the remaining
 * bits are cleared (Part 3 22.4.1). */
static void read_selected(struct tpm *t, struct pcr_selection_list *l,
                          struct tpm_out *values)
{
    uint32_t n = 0;
    size_t count_at = out_reserve(values, 4);

    for (uint32_t i = 0; i < l->count; i++) {
        struct pcr_selection *s = &l->sel[i];
        int bank = bank_of(s->alg);

        for (uint32_t p = 0; p < TPM_PCR_COUNT; p++) {
            if (!bit_set(s, p))
                continue;
            if (bank < 0 || n == TPM_MAX_PCR_DIGESTS) {
                clear_bit(s, p);
                continue;
            }
            out_tpm2b(values, t->s.pcr[bank][p],
                      (uint16_t)tpm_hash_size(s->alg));
            n++;
        }
    }
    out_patch_u32(values, count_at, n);
}

TPM_RC tpm_cmd_pcr_read(struct tpm *t, struct tpm_cmd *c)
{
    struct pcr_selection_list l;
    uint8_t buf[TPM_MAX_PCR_DIGESTS * (2 + TPM_MAX_DIGEST_SIZE) + 4];
    struct tpm_out values = {.p = buf, .cap = sizeof(buf)};
    TPM_RC rc = in_pcr_selection_list(&c->params, &l);

    if (rc)
        return rc_param(rc, 1);
    if ((rc = tpm_params_end(c)))
        return rc;
    read_selected(t, &l, &values);
    out_u32(&c->rp, t->s.pcr_update_counter);
    out_u32(&c->rp, l.count);
    for (uint32_t i = 0; i < l.count; i++) {
        out_u16(&c->rp, l.sel[i].alg);
        out_u8(&c->rp, l.sel[i].size);
        out_bytes(&c->rp, l.sel[i].select, l.sel[i].size);
    }
    out_bytes(&c->rp, values.p, values.len);
    return TPM_RC_SUCCESS;
}

/* ---- PCR_Extend, PCR_Event, PCR_Reset ------------------------------------- */

TPM_RC tpm_cmd_pcr_extend(struct tpm *t, struct tpm_cmd *c)
{
    struct digest_values v;
    uint32_t pcr = c->handles[0];
    TPM_RC rc = in_digest_values(&c->params, &v);

    if (rc)
        return rc_param(rc, 1);
    if ((rc = tpm_params_end(c)))
        return rc;
    if (pcr == TPM_RH_NULL)
        return TPM_RC_SUCCESS;
    if (!extend_allowed(pcr))
        return TPM_RC_LOCALITY;
    for (uint32_t i = 0; i < v.count; i++) {
        int bank = bank_of(v.alg[i]);

        if (bank >= 0)
            extend(t, bank, pcr, v.digest[i]);
    }
    return TPM_RC_SUCCESS;
}

TPM_RC tpm_cmd_pcr_event(struct tpm *t, struct tpm_cmd *c)
{
    uint8_t data[TPM_MAX_EVENT_SIZE], digest[TPM_MAX_DIGEST_SIZE];
    uint16_t size;
    uint32_t pcr = c->handles[0];
    TPM_RC rc = in_tpm2b(&c->params, sizeof(data), &size, data);

    if (rc)
        return rc_param(rc, 1);
    if ((rc = tpm_params_end(c)))
        return rc;
    if (pcr != TPM_RH_NULL && !extend_allowed(pcr))
        return TPM_RC_LOCALITY;
    out_u32(&c->rp, TPM_HASH_COUNT);
    for (unsigned i = 0; i < TPM_HASH_COUNT; i++) {
        const void *parts[] = {data};
        size_t lens[] = {size};
        int bank = bank_of(hash_algs[i]);

        tpm_hash(hash_algs[i], parts, lens, 1, digest);
        out_u16(&c->rp, hash_algs[i]);
        out_bytes(&c->rp, digest, tpm_hash_size(hash_algs[i]));
        if (pcr != TPM_RH_NULL && bank >= 0)
            extend(t, bank, pcr, digest);
    }
    return TPM_RC_SUCCESS;
}

TPM_RC tpm_cmd_pcr_reset(struct tpm *t, struct tpm_cmd *c)
{
    uint32_t pcr = c->handles[0];
    TPM_RC rc;

    if ((rc = tpm_params_end(c)))
        return rc;
    if (!reset_allowed(pcr))
        return TPM_RC_LOCALITY;
    for (int b = 0; b < TPM_PCR_BANKS; b++)
        memset(t->s.pcr[b][pcr], 0, TPM_MAX_DIGEST_SIZE);
    if (counts_updates(pcr))
        t->s.pcr_update_counter++;
    return TPM_RC_SUCCESS;
}

/* ---- Hash (Part 3 15.4) ---------------------------------------------------- */

static bool in_hierarchy_or_null(uint32_t h)
{
    return h == TPM_RH_OWNER || h == TPM_RH_ENDORSEMENT ||
           h == TPM_RH_PLATFORM || h == TPM_RH_NULL;
}

/* TPMT_TK_HASHCHECK: HMAC(proof, TPM_ST_HASHCHECK || digest) with the
 * context hash; a NULL ticket for TPM_RH_NULL or data that starts with
 * TPM_GENERATED_VALUE. The proof is this model's own (not libtpms's). */
static void write_hash_ticket(struct tpm *t, struct tpm_out *o, uint32_t h,
                              const uint8_t *data, uint16_t size,
                              const uint8_t *digest, unsigned digest_size)
{
    uint8_t tag[2], proof[TPM_MAX_DIGEST_SIZE], mac[TPM_MAX_DIGEST_SIZE];
    const void *parts[] = {tag, digest};
    size_t lens[] = {2, digest_size};
    uint8_t hb[4];
    const void *pparts[] = {t->s.drbg_key, hb};
    size_t plens[] = {sizeof(t->s.drbg_key), 4};

    out_u16(o, TPM_ST_HASHCHECK);
    if (h == TPM_RH_NULL || (size >= 4 && ld_be32(data) == TPM_GENERATED_VALUE)) {
        out_u32(o, TPM_RH_NULL);
        out_u16(o, 0);
        return;
    }
    st_be32(hb, h);
    tpm_hash(TPM_ALG_CONTEXT_HASH, pparts, plens, 2, proof);
    st_be16(tag, TPM_ST_HASHCHECK);
    tpm_hmac(TPM_ALG_CONTEXT_HASH, proof, tpm_hash_size(TPM_ALG_CONTEXT_HASH),
             parts, lens, 2, mac);
    out_u32(o, h);
    out_tpm2b(o, mac, (uint16_t)tpm_hash_size(TPM_ALG_CONTEXT_HASH));
}

TPM_RC tpm_cmd_hash(struct tpm *t, struct tpm_cmd *c)
{
    uint8_t data[TPM_MAX_HASH_BUFFER], digest[TPM_MAX_DIGEST_SIZE];
    uint16_t size, alg;
    uint32_t h;
    TPM_RC rc = in_tpm2b(&c->params, sizeof(data), &size, data);

    if (rc)
        return rc_param(rc, 1);
    rc = in_hash_alg(&c->params, false, &alg);
    if (rc)
        return rc_param(rc, 2);
    rc = in_u32(&c->params, &h);
    if (!rc && !in_hierarchy_or_null(h))
        rc = TPM_RC_VALUE;
    if (rc)
        return rc_param(rc, 3);
    if ((rc = tpm_params_end(c)))
        return rc;
    {
        const void *parts[] = {data};
        size_t lens[] = {size};

        tpm_hash(alg, parts, lens, 1, digest);
    }
    out_tpm2b(&c->rp, digest, (uint16_t)tpm_hash_size(alg));
    write_hash_ticket(t, &c->rp, h, data, size, digest, tpm_hash_size(alg));
    return TPM_RC_SUCCESS;
}
