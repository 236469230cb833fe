/*
 * NV indices: TPM 2.0 Library spec Part 3 section 31 (NV_DefineSpace
 * 31.3, NV_UndefineSpace 31.4, NV_ReadPublic 31.6, NV_Write 31.7,
 * NV_Increment 31.8, NV_Read 31.13) with the access checks of Part 4
 * NvWriteAccessChecks/NvReadAccessChecks. Data lives in one pool of
 * TPM_MAX_NV_TOTAL_BYTES, indices packed in definition order. Not yet
 * persisted (state-file backend: next increment).
 */
#include "targets/tpm/tpm_int.h"

#include <string.h>

#define NV_MAX_COUNTER 8u

struct tpm_nv_index *tpm_nv_find(struct tpm *t, uint32_t h)
{
    if (TPM_HANDLE_TYPE(h) != TPM_HT_NV_INDEX)
        return NULL;
    for (unsigned i = 0; i < TPM_MAX_NV_INDICES; i++)
        if (t->s.nv[i].used && t->s.nv[i].handle == h)
            return &t->s.nv[i];
    return NULL;
}

unsigned tpm_nv_count(const struct tpm *t)
{
    unsigned n = 0;

    for (unsigned i = 0; i < TPM_MAX_NV_INDICES; i++)
        n += t->s.nv[i].used;
    return n;
}

/* Smallest defined index handle >= from (0 if none): TPM_CAP_HANDLES. */
uint32_t tpm_nv_next_handle(const struct tpm *t, uint32_t from)
{
    uint32_t best = 0;

    for (unsigned i = 0; i < TPM_MAX_NV_INDICES; i++) {
        const struct tpm_nv_index *nv = &t->s.nv[i];

        if (nv->used && nv->handle >= from && (!best || nv->handle < best))
            best = nv->handle;
    }
    return best;
}

static unsigned nv_type(uint32_t attrs)
{
    return (attrs & TPMA_NV_TYPE_MASK) >> TPMA_NV_TYPE_SHIFT;
}

static void write_nv_public(struct tpm_out *o, const struct tpm_nv_index *nv)
{
    out_u32(o, nv->handle);
    out_u16(o, nv->name_alg);
    out_u32(o, nv->attrs);
    out_tpm2b(o, nv->auth_policy.b, nv->auth_policy.size);
    out_u16(o, nv->data_size);
}

static size_t nv_name(const struct tpm_nv_index *nv, uint8_t *out)
{
    uint8_t buf[64 + TPM_MAX_DIGEST_SIZE];
    struct tpm_out o = {.p = buf, .cap = sizeof(buf)};
    const void *parts[] = {buf};
    size_t lens[1];

    write_nv_public(&o, nv);
    lens[0] = o.len;
    st_be16(out, nv->name_alg);
    tpm_hash(nv->name_alg, parts, lens, 1, out + 2);
    return 2 + tpm_hash_size(nv->name_alg);
}

size_t tpm_entity_name(struct tpm *t, uint32_t h, uint8_t *out)
{
    const struct tpm_nv_index *nv = tpm_nv_find(t, h);

    if (nv)
        return nv_name(nv, out);
    st_be32(out, h);
    return 4;
}

void tpm_nv_startup(struct tpm *t, bool clear)
{
    for (unsigned i = 0; i < TPM_MAX_NV_INDICES && clear; i++)
        if (t->s.nv[i].used && (t->s.nv[i].attrs & TPMA_NV_CLEAR_STCLEAR))
            t->s.nv[i].attrs &= ~TPMA_NV_WRITTEN;
}

/* ---- NV_DefineSpace ------------------------------------------------------- */

struct nv_public_in {
    uint32_t handle;
    uint16_t name_alg;
    uint32_t attrs;
    struct tpm2b_digest auth_policy;
    uint16_t data_size;
};

static TPM_RC in_nv_public_body(struct tpm_in *in, struct nv_public_in *p)
{
    TPM_RC rc = in_u32(in, &p->handle);

    if (!rc && TPM_HANDLE_TYPE(p->handle) != TPM_HT_NV_INDEX)
        rc = TPM_RC_VALUE;
    if (!rc)
        rc = in_hash_alg(in, false, &p->name_alg);
    if (!rc)
        rc = in_u32(in, &p->attrs);
    if (!rc && (p->attrs & TPMA_NV_RESERVED))
        rc = TPM_RC_RESERVED_BITS;
    if (!rc)
        rc = in_digest(in, &p->auth_policy);
    if (!rc)
        rc = in_u16(in, &p->data_size);
    if (!rc && p->data_size > TPM_MAX_NV_INDEX_SIZE)
        rc = TPM_RC_SIZE;
    return rc;
}

/* TPM2B_NV_PUBLIC: a zero size is TPM_RC_SIZE; the body is read from the
 * rest of the command, then its length must equal the size (TPM_RC_SIZE),
 * as libtpms does. */
static TPM_RC in_nv_public(struct tpm_in *in, struct nv_public_in *p)
{
    uint16_t size;
    size_t before;
    TPM_RC rc = in_u16(in, &size);

    if (rc)
        return rc;
    if (size == 0)
        return TPM_RC_SIZE;
    before = in->left;
    rc = in_nv_public_body(in, p);
    if (!rc && before - in->left != size)
        rc = TPM_RC_SIZE;
    return rc;
}

static TPM_RC check_type_size(const struct nv_public_in *p)
{
    switch (nv_type(p->attrs)) {
    case TPM_NT_ORDINARY:
        return TPM_RC_SUCCESS;
    case TPM_NT_EXTEND:
        return p->data_size == tpm_hash_size(p->name_alg) ? TPM_RC_SUCCESS
                                                          : TPM_RC_SIZE;
    case TPM_NT_COUNTER:
    case TPM_NT_BITS:
    case TPM_NT_PIN_FAIL:
    case TPM_NT_PIN_PASS:
        return p->data_size == NV_MAX_COUNTER ? TPM_RC_SUCCESS : TPM_RC_SIZE;
    default:
        return TPM_RC_ATTRIBUTES;
    }
}

static bool bad_type_attributes(uint32_t a)
{
    switch (nv_type(a)) {
    case TPM_NT_COUNTER:
        return a & TPMA_NV_CLEAR_STCLEAR;
    case TPM_NT_PIN_FAIL:
        if (!(a & TPMA_NV_NO_DA))
            return true;
        /* fall through */
    case TPM_NT_PIN_PASS:
        return a & (TPMA_NV_AUTHWRITE | TPMA_NV_GLOBALLOCK |
                    TPMA_NV_WRITEDEFINE);
    default:
        return false;
    }
}

/* The publicInfo checks of Part 3 31.3.2, in libtpms's order. */
static TPM_RC check_nv_public(const struct nv_public_in *p, uint32_t owner)
{
    uint32_t a = p->attrs;
    TPM_RC rc = check_type_size(p);

    if (rc)
        return rc_param(rc, 2);
    if (bad_type_attributes(a) ||
        (a & (TPMA_NV_WRITTEN | TPMA_NV_WRITELOCKED | TPMA_NV_READLOCKED)) ||
        !(a & (TPMA_NV_OWNERREAD | TPMA_NV_PPREAD | TPMA_NV_AUTHREAD |
               TPMA_NV_POLICYREAD)) ||
        !(a & (TPMA_NV_OWNERWRITE | TPMA_NV_PPWRITE | TPMA_NV_AUTHWRITE |
               TPMA_NV_POLICYWRITE)) ||
        ((a & TPMA_NV_CLEAR_STCLEAR) && (a & TPMA_NV_WRITEDEFINE)))
        return rc_param(TPM_RC_ATTRIBUTES, 2);
    if (!!(a & TPMA_NV_PLATFORMCREATE) != (owner == TPM_RH_PLATFORM))
        return rc_handle(TPM_RC_ATTRIBUTES, 1);
    if ((a & TPMA_NV_POLICY_DELETE) && owner != TPM_RH_PLATFORM)
        return rc_param(TPM_RC_ATTRIBUTES, 2);
    if ((a & TPMA_NV_WRITEALL) && p->data_size > TPM_MAX_NV_BUFFER_SIZE)
        return rc_param(TPM_RC_SIZE, 2);
    return TPM_RC_SUCCESS;
}

static struct tpm_nv_index *free_nv_slot(struct tpm *t, uint16_t size)
{
    if (size > TPM_MAX_NV_TOTAL_BYTES - t->s.nv_bytes_used)
        return NULL;
    for (unsigned i = 0; i < TPM_MAX_NV_INDICES; i++)
        if (!t->s.nv[i].used)
            return &t->s.nv[i];
    return NULL;
}

static void trim_zeros(struct tpm2b_digest *d)
{
    while (d->size && d->b[d->size - 1] == 0)
        d->size--;
}

TPM_RC tpm_cmd_nv_define_space(struct tpm *t, struct tpm_cmd *c)
{
    struct tpm2b_digest auth;
    struct nv_public_in p;
    struct tpm_nv_index *nv;
    TPM_RC rc = in_digest(&c->params, &auth);

    if (rc)
        return rc_param(rc, 1);
    rc = in_nv_public(&c->params, &p);
    if (rc)
        return rc_param(rc, 2);
    if ((rc = tpm_params_end(c)))
        return rc;
    if (p.auth_policy.size && p.auth_policy.size != tpm_hash_size(p.name_alg))
        return rc_param(TPM_RC_SIZE, 2);
    trim_zeros(&auth);
    if (auth.size > tpm_hash_size(p.name_alg))
        return rc_param(TPM_RC_SIZE, 1);
    rc = check_nv_public(&p, c->handles[0]);
    if (rc)
        return rc;
    if (tpm_nv_find(t, p.handle))
        return TPM_RC_NV_DEFINED;
    nv = free_nv_slot(t, p.data_size);
    if (!nv)
        return TPM_RC_NV_SPACE;
    *nv = (struct tpm_nv_index){
        .used = true, .handle = p.handle, .name_alg = p.name_alg,
        .attrs = p.attrs, .auth_policy = p.auth_policy, .auth = auth,
        .data_size = p.data_size, .data_offset = (uint16_t)t->s.nv_bytes_used};
    memset(t->nv_data + nv->data_offset, 0xFF, nv->data_size);
    t->s.nv_bytes_used += p.data_size;
    return TPM_RC_SUCCESS;
}

/* ---- NV_UndefineSpace ------------------------------------------------------ */

static uint64_t counter_value(const struct tpm *t, const struct tpm_nv_index *nv)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < NV_MAX_COUNTER; i++)
        v = v << 8 | t->nv_data[nv->data_offset + i];
    return v;
}

/* Removes the index and closes the gap in the data pool. */
static void nv_delete(struct tpm *t, struct tpm_nv_index *nv)
{
    uint32_t off = nv->data_offset, size = nv->data_size;

    if (nv_type(nv->attrs) == TPM_NT_COUNTER && (nv->attrs & TPMA_NV_WRITTEN) &&
        counter_value(t, nv) > t->s.nv_max_counter)
        t->s.nv_max_counter = counter_value(t, nv);
    memmove(t->nv_data + off, t->nv_data + off + size,
            t->s.nv_bytes_used - off - size);
    t->s.nv_bytes_used -= size;
    memset(t->nv_data + t->s.nv_bytes_used, 0, size);
    memset(nv, 0, sizeof(*nv));
    for (unsigned i = 0; i < TPM_MAX_NV_INDICES; i++)
        if (t->s.nv[i].used && t->s.nv[i].data_offset > off)
            t->s.nv[i].data_offset = (uint16_t)(t->s.nv[i].data_offset - size);
}

TPM_RC tpm_cmd_nv_undefine_space(struct tpm *t, struct tpm_cmd *c)
{
    struct tpm_nv_index *nv = tpm_nv_find(t, c->handles[1]);
    TPM_RC rc;

    if ((rc = tpm_params_end(c)))
        return rc;
    if (nv->attrs & TPMA_NV_POLICY_DELETE)
        return rc_handle(TPM_RC_ATTRIBUTES, 2);
    if (c->handles[0] == TPM_RH_OWNER && (nv->attrs & TPMA_NV_PLATFORMCREATE))
        return TPM_RC_NV_AUTHORIZATION;
    nv_delete(t, nv);
    return TPM_RC_SUCCESS;
}

/* ---- access checks ----------------------------------------------------------- */

static bool index_auth_allowed(const struct tpm_cmd *c, uint32_t auth_bit,
                               uint32_t policy_bit, uint32_t attrs)
{
    bool policy = TPM_HANDLE_TYPE(c->auth[0].handle) == TPM_HT_POLICY_SESSION;

    return attrs & (policy ? policy_bit : auth_bit);
}

static TPM_RC write_access(const struct tpm_cmd *c, const struct tpm_nv_index *nv)
{
    uint32_t auth = c->handles[0], a = nv->attrs;

    if (a & TPMA_NV_WRITELOCKED)
        return TPM_RC_NV_LOCKED;
    if (auth == TPM_RH_OWNER)
        return a & TPMA_NV_OWNERWRITE ? TPM_RC_SUCCESS : TPM_RC_NV_AUTHORIZATION;
    if (auth == TPM_RH_PLATFORM)
        return a & TPMA_NV_PPWRITE ? TPM_RC_SUCCESS : TPM_RC_NV_AUTHORIZATION;
    if (auth == nv->handle &&
        index_auth_allowed(c, TPMA_NV_AUTHWRITE, TPMA_NV_POLICYWRITE, a))
        return TPM_RC_SUCCESS;
    return TPM_RC_NV_AUTHORIZATION;
}

static TPM_RC read_access(const struct tpm_cmd *c, const struct tpm_nv_index *nv)
{
    uint32_t auth = c->handles[0], a = nv->attrs;
    bool ok;

    if (a & TPMA_NV_READLOCKED)
        return TPM_RC_NV_LOCKED;
    if (auth == TPM_RH_OWNER)
        ok = a & TPMA_NV_OWNERREAD;
    else if (auth == TPM_RH_PLATFORM)
        ok = a & TPMA_NV_PPREAD;
    else
        ok = auth == nv->handle &&
             index_auth_allowed(c, TPMA_NV_AUTHREAD, TPMA_NV_POLICYREAD, a);
    if (!ok)
        return TPM_RC_NV_AUTHORIZATION;
    return a & TPMA_NV_WRITTEN ? TPM_RC_SUCCESS : TPM_RC_NV_UNINITIALIZED;
}

/* ---- NV_Write, NV_Read, NV_Increment, NV_ReadPublic -------------------------- */

TPM_RC tpm_cmd_nv_write(struct tpm *t, struct tpm_cmd *c)
{
    struct tpm_nv_index *nv = tpm_nv_find(t, c->handles[1]);
    struct tpm2b data;
    uint16_t offset;
    TPM_RC rc = in_tpm2b(&c->params, TPM_MAX_NV_BUFFER_SIZE, &data.size, data.b);

    if (rc)
        return rc_param(rc, 1);
    rc = in_u16(&c->params, &offset);
    if (rc)
        return rc_param(rc, 2);
    if ((rc = tpm_params_end(c)))
        return rc;
    rc = write_access(c, nv);
    if (rc)
        return rc;
    if (nv_type(nv->attrs) != TPM_NT_ORDINARY &&
        nv_type(nv->attrs) != TPM_NT_PIN_FAIL &&
        nv_type(nv->attrs) != TPM_NT_PIN_PASS)
        return TPM_RC_ATTRIBUTES;
    if (offset > nv->data_size)
        return rc_param(TPM_RC_VALUE, 2);
    if (data.size > nv->data_size - offset ||
        ((nv->attrs & TPMA_NV_WRITEALL) && data.size < nv->data_size))
        return TPM_RC_NV_RANGE;
    memcpy(t->nv_data + nv->data_offset + offset, data.b, data.size);
    nv->attrs |= TPMA_NV_WRITTEN;
    return TPM_RC_SUCCESS;
}

TPM_RC tpm_cmd_nv_read(struct tpm *t, struct tpm_cmd *c)
{
    struct tpm_nv_index *nv = tpm_nv_find(t, c->handles[1]);
    uint16_t size, offset;
    TPM_RC rc = in_u16(&c->params, &size);

    if (rc)
        return rc_param(rc, 1);
    rc = in_u16(&c->params, &offset);
    if (rc)
        return rc_param(rc, 2);
    if ((rc = tpm_params_end(c)))
        return rc;
    rc = read_access(c, nv);
    if (rc)
        return rc;
    if (size > TPM_MAX_NV_BUFFER_SIZE)
        return rc_param(TPM_RC_VALUE, 1);
    if (offset > nv->data_size)
        return rc_param(TPM_RC_VALUE, 2);
    if (size > nv->data_size - offset)
        return TPM_RC_NV_RANGE;
    out_tpm2b(&c->rp, t->nv_data + nv->data_offset + offset, size);
    return TPM_RC_SUCCESS;
}

TPM_RC tpm_cmd_nv_increment(struct tpm *t, struct tpm_cmd *c)
{
    struct tpm_nv_index *nv = tpm_nv_find(t, c->handles[1]);
    uint64_t v;
    TPM_RC rc = tpm_params_end(c);

    if (rc || (rc = write_access(c, nv)))
        return rc;
    if (nv_type(nv->attrs) != TPM_NT_COUNTER)
        return rc_handle(TPM_RC_ATTRIBUTES, 2);
    v = nv->attrs & TPMA_NV_WRITTEN ? counter_value(t, nv)
                                    : t->s.nv_max_counter;
    v++;
    for (unsigned i = 0; i < NV_MAX_COUNTER; i++)
        t->nv_data[nv->data_offset + i] = (uint8_t)(v >> (56 - 8 * i));
    nv->attrs |= TPMA_NV_WRITTEN;
    return TPM_RC_SUCCESS;
}

TPM_RC tpm_cmd_nv_read_public(struct tpm *t, struct tpm_cmd *c)
{
    const struct tpm_nv_index *nv = tpm_nv_find(t, c->handles[0]);
    uint8_t name[2 + TPM_MAX_DIGEST_SIZE];
    size_t size_at, name_len;
    TPM_RC rc;

    if ((rc = tpm_params_end(c)))
        return rc;
    size_at = out_reserve(&c->rp, 2);
    write_nv_public(&c->rp, nv);
    out_patch_u16(&c->rp, size_at, (uint16_t)(c->rp.len - size_at - 2));
    name_len = nv_name(nv, name);
    out_tpm2b(&c->rp, name, (uint16_t)name_len);
    return TPM_RC_SUCCESS;
}
