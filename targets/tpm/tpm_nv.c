/*
 * NV indices: TPM 2.0 Library spec Part 3 section 31 (NV_DefineSpace
 * 31.3, NV_UndefineSpace 31.4, NV_ReadPublic 31.6, NV_Write 31.7,
 * NV_Increment 31.8, NV_Read 31.13) with the access checks of Part 4
 * NvWriteAccessChecks/NvReadAccessChecks. Data lives in one pool of
 * TPM_MAX_NV_TOTAL_BYTES, indices packed in definition order. With an NV
 * store (tpm_params.store) the NV state is persisted through it as a
 * versioned, SHA-256-checked blob: see "persistence" at the end.
 */
#include "targets/tpm/tpm_int.h"

#include <stdarg.h>
#include <stdio.h>
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

/* ---- persistence through the NV store ------------------------------------------
 *
 * Blob (all integers big-endian):
 *   0   4  magic "HVNV"
 *   4   2  format version (1)
 *   6   2  reserved, 0
 *   8   4  body length N
 *   12  N  body
 *   12+N 32 SHA-256 of bytes [0, 12+N)
 * Body, version 1:
 *   u64 nv_max_counter (the largest value of an undefined counter)
 *   TPM2B ownerAuth, endorsementAuth, lockoutAuth, platformAuth
 *   u16 count of NV indices, then per index: u32 handle, u16 nameAlg,
 *   u32 attributes (TPMA_NV_WRITTEN, WRITELOCKED... included), TPM2B
 *   authPolicy, TPM2B authValue, u16 dataSize, dataSize bytes of data.
 * A blob is checked whole (size, magic, version, length, digest) and then
 * every field as NV_DefineSpace would (index handle, hash, reserved bits,
 * type/size, digest sizes, no duplicate handle, total size) before any of
 * it is used: a blob with a valid digest but impossible contents is
 * refused too. Sessions, PCRs, clock and DA state are not in it.
 */

#define NV_BLOB_MAGIC 0x48564E56u /* "HVNV" */
#define NV_BLOB_VERSION 1u
#define NV_BLOB_HEADER 12u
#define NV_BLOB_DIGEST 32u
#define NV_BLOB_INDEX_FIXED (4u + 2 + 4 + 2 + 2 + 2)
#define NV_BLOB_BOUND                                                         \
    (NV_BLOB_HEADER + 8 + 4 * (2 + TPM_MAX_DIGEST_SIZE) + 2 +                 \
     TPM_MAX_NV_INDICES * (NV_BLOB_INDEX_FIXED + 2 * TPM_MAX_DIGEST_SIZE) +   \
     TPM_MAX_NV_TOTAL_BYTES + NV_BLOB_DIGEST)
_Static_assert(NV_BLOB_BOUND <= TPM_NV_BLOB_MAX, "NV blob bound");

static void out_u64_be(struct tpm_out *o, uint64_t v)
{
    out_u32(o, (uint32_t)(v >> 32));
    out_u32(o, (uint32_t)v);
}

/* Header and body into buf (digest not yet): returns the length so far. */
static size_t nv_serialize(const struct tpm *t, uint8_t *buf)
{
    struct tpm_out o = {.p = buf, .cap = TPM_NV_BLOB_MAX};
    const struct tpm2b_digest *auths[] = {
        &t->s.owner_auth, &t->s.endorsement_auth, &t->s.lockout_auth,
        &t->s.platform_auth};

    out_u32(&o, NV_BLOB_MAGIC);
    out_u16(&o, NV_BLOB_VERSION);
    out_u16(&o, 0);
    out_u32(&o, 0); /* body length, patched below */
    out_u64_be(&o, t->s.nv_max_counter);
    for (unsigned i = 0; i < 4; i++)
        out_tpm2b(&o, auths[i]->b, auths[i]->size);
    out_u16(&o, (uint16_t)tpm_nv_count(t));
    for (unsigned i = 0; i < TPM_MAX_NV_INDICES; i++) {
        const struct tpm_nv_index *nv = &t->s.nv[i];

        if (!nv->used)
            continue;
        out_u32(&o, nv->handle);
        out_u16(&o, nv->name_alg);
        out_u32(&o, nv->attrs);
        out_tpm2b(&o, nv->auth_policy.b, nv->auth_policy.size);
        out_tpm2b(&o, nv->auth.b, nv->auth.size);
        out_tpm2b(&o, t->nv_data + nv->data_offset, nv->data_size);
    }
    out_patch_u32(&o, 8, (uint32_t)(o.len - NV_BLOB_HEADER));
    return o.overflow ? 0 : o.len; /* cannot overflow: NV_BLOB_BOUND */
}

static void nv_digest(const uint8_t *buf, size_t len, uint8_t *out)
{
    const void *parts[] = {buf};
    size_t lens[] = {len};

    tpm_hash(TPM_ALG_SHA256, parts, lens, 1, out);
}

/* A checked blob, not yet applied: data points into the blob. */
struct nv_parsed {
    uint64_t max_counter;
    struct tpm2b_digest auth[4];
    unsigned count;
    struct tpm_nv_index nv[TPM_MAX_NV_INDICES];
    const uint8_t *data[TPM_MAX_NV_INDICES];
};

__attribute__((format(printf, 3, 4))) static bool
nv_refuse(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return false;
}

static bool nv_parse_index(struct tpm_in *in, struct nv_parsed *p, unsigned i,
                           uint32_t *total, char *err, size_t errlen)
{
    struct tpm_nv_index *nv = &p->nv[i];
    struct nv_public_in pub;
    uint16_t alg_size;

    if (in_u32(in, &nv->handle) || in_u16(in, &nv->name_alg) ||
        in_u32(in, &nv->attrs) || in_digest(in, &nv->auth_policy) ||
        in_digest(in, &nv->auth) || in_u16(in, &nv->data_size))
        return nv_refuse(err, errlen, "index %u: truncated or oversized field",
                         i);
    if (TPM_HANDLE_TYPE(nv->handle) != TPM_HT_NV_INDEX)
        return nv_refuse(err, errlen, "index %u: handle 0x%08x is no NV index",
                         i, nv->handle);
    for (unsigned j = 0; j < i; j++)
        if (p->nv[j].handle == nv->handle)
            return nv_refuse(err, errlen, "index %u: handle 0x%08x twice", i,
                             nv->handle);
    alg_size = (uint16_t)tpm_hash_size(nv->name_alg);
    if (!alg_size)
        return nv_refuse(err, errlen, "index %u: nameAlg 0x%04x unsupported",
                         i, nv->name_alg);
    pub = (struct nv_public_in){.handle = nv->handle, .name_alg = nv->name_alg,
                                .attrs = nv->attrs, .data_size = nv->data_size};
    if (nv->data_size > TPM_MAX_NV_INDEX_SIZE)
        return nv_refuse(err, errlen, "index %u: %u data bytes, above %u", i,
                         nv->data_size, TPM_MAX_NV_INDEX_SIZE);
    if ((nv->attrs & TPMA_NV_RESERVED) || check_type_size(&pub))
        return nv_refuse(err, errlen, "index %u: attributes 0x%08x do not fit "
                         "its size %u", i, nv->attrs, nv->data_size);
    if ((nv->auth_policy.size && nv->auth_policy.size != alg_size) ||
        nv->auth.size > alg_size)
        return nv_refuse(err, errlen, "index %u: digest size wrong for nameAlg"
                         " 0x%04x", i, nv->name_alg);
    if (nv->data_size > TPM_MAX_NV_TOTAL_BYTES - *total)
        return nv_refuse(err, errlen, "index %u: data beyond the NV space of "
                         "%u bytes", i, TPM_MAX_NV_TOTAL_BYTES);
    if (in->left < nv->data_size)
        return nv_refuse(err, errlen, "index %u: %u data bytes missing", i,
                         (unsigned)(nv->data_size - in->left));
    p->data[i] = in->p;
    in->p += nv->data_size;
    in->left -= nv->data_size;
    nv->used = true;
    nv->data_offset = (uint16_t)*total;
    *total += nv->data_size;
    return true;
}

/* Checks a whole blob; fills p. On refusal, err says why (one line). */
static bool nv_parse(const uint8_t *b, size_t len, struct nv_parsed *p,
                     char *err, size_t errlen)
{
    uint8_t digest[NV_BLOB_DIGEST];
    struct tpm_in in;
    uint32_t body, total = 0;
    uint16_t count;

    memset(p, 0, sizeof(*p));
    if (len < NV_BLOB_HEADER + NV_BLOB_DIGEST)
        return nv_refuse(err, errlen, "%u bytes, shorter than any NV state "
                         "(%u)", (unsigned)len, NV_BLOB_HEADER + NV_BLOB_DIGEST);
    if (ld_be32(b) != NV_BLOB_MAGIC)
        return nv_refuse(err, errlen, "bad magic 0x%08x (want 0x%08x \"HVNV\")",
                         ld_be32(b), NV_BLOB_MAGIC);
    if (ld_be16(b + 4) != NV_BLOB_VERSION || ld_be16(b + 6))
        return nv_refuse(err, errlen, "format version %u.%u, this build reads "
                         "%u.0", ld_be16(b + 4), ld_be16(b + 6), NV_BLOB_VERSION);
    body = ld_be32(b + 8);
    if (body != len - NV_BLOB_HEADER - NV_BLOB_DIGEST)
        return nv_refuse(err, errlen, "length field says %u body bytes, the "
                         "blob holds %u (truncated or extended)", body,
                         (unsigned)(len - NV_BLOB_HEADER - NV_BLOB_DIGEST));
    nv_digest(b, len - NV_BLOB_DIGEST, digest);
    if (memcmp(digest, b + len - NV_BLOB_DIGEST, NV_BLOB_DIGEST))
        return nv_refuse(err, errlen, "SHA-256 mismatch over %u bytes "
                         "(corrupted)", (unsigned)(len - NV_BLOB_DIGEST));
    in = (struct tpm_in){.p = b + NV_BLOB_HEADER, .left = body};
    {
        uint32_t hi, lo;

        if (in_u32(&in, &hi) || in_u32(&in, &lo))
            return nv_refuse(err, errlen, "body of %u bytes truncated",
                             body);
        p->max_counter = (uint64_t)hi << 32 | lo;
    }
    for (unsigned i = 0; i < 4; i++)
        if (in_digest(&in, &p->auth[i]))
            return nv_refuse(err, errlen, "hierarchy auth %u: truncated or "
                             "oversized", i);
    if (in_u16(&in, &count) || count > TPM_MAX_NV_INDICES)
        return nv_refuse(err, errlen, "index count missing or above %u",
                         TPM_MAX_NV_INDICES);
    for (unsigned i = 0; i < count; i++)
        if (!nv_parse_index(&in, p, i, &total, err, errlen))
            return false;
    if (in.left)
        return nv_refuse(err, errlen, "%u bytes after the last index",
                         (unsigned)in.left);
    p->count = count;
    return true;
}

/* Replaces NV (indices, data, counters, hierarchy auth) with a parsed blob. */
static void nv_apply(struct tpm *t, const struct nv_parsed *p)
{
    struct tpm2b_digest *auths[] = {
        &t->s.owner_auth, &t->s.endorsement_auth, &t->s.lockout_auth,
        &t->s.platform_auth};

    memset(t->s.nv, 0, sizeof(t->s.nv));
    memset(t->nv_data, 0, TPM_MAX_NV_TOTAL_BYTES);
    t->s.nv_bytes_used = 0;
    for (unsigned i = 0; i < p->count; i++) {
        t->s.nv[i] = p->nv[i];
        memcpy(t->nv_data + p->nv[i].data_offset, p->data[i], p->nv[i].data_size);
        t->s.nv_bytes_used += p->nv[i].data_size;
    }
    t->s.nv_max_counter = p->max_counter;
    for (unsigned i = 0; i < 4; i++)
        *auths[i] = p->auth[i];
}

/* Sets nv_saved to the (digested) blob of the current NV state. */
static void nv_remember_current(struct tpm *t)
{
    size_t n = nv_serialize(t, t->nv_saved);

    nv_digest(t->nv_saved, n, t->nv_saved + n);
    t->nv_saved_len = n + NV_BLOB_DIGEST;
}

static const char *store_reason(const struct tpm *t, int ret, char *buf,
                                size_t len)
{
    const char *e = t->store->error ? t->store->error(t->store->ctx) : NULL;

    if (e && *e)
        return e;
    snprintf(buf, len, "store error %d", ret);
    return buf;
}

static void nv_set_error(struct tpm *t, enum tpm_nv_status st, const char *what,
                         const char *why)
{
    const char *name = t->store->name;

    t->nv_status = st;
    snprintf(t->nv_error, sizeof(t->nv_error), "%s%s%s: %s", name ? name : "",
             name ? ": " : "", what, why);
}

static void nv_clear_error(struct tpm *t)
{
    t->nv_status = TPM_NV_OK;
    t->nv_error[0] = 0;
}

/* Empty NV: no index, no counter history, empty hierarchy auth. */
static void nv_make_empty(struct tpm *t)
{
    static const struct nv_parsed empty; /* read-only */

    nv_apply(t, &empty);
}

void tpm_nv_store_load(struct tpm *t)
{
    struct nv_parsed p;
    char why[160], rbuf[32];
    size_t len = 0;
    int ret = t->store->load(t->store->ctx, t->nv_blob, TPM_NV_BLOB_MAX, &len);

    t->nv_suspended = false;
    nv_clear_error(t);
    if (ret == TPM_NV_STORE_EMPTY) {
        nv_make_empty(t);
    } else if (ret != 0) {
        nv_make_empty(t);
        t->nv_suspended = true;
        nv_set_error(t, TPM_NV_LOAD_FAILED, "NV state not loaded (NV empty, "
                     "changes refused)",
                     store_reason(t, ret, rbuf, sizeof(rbuf)));
    } else if (len > TPM_NV_BLOB_MAX ||
               !nv_parse(t->nv_blob, len, &p, why, sizeof(why))) {
        if (len > TPM_NV_BLOB_MAX)
            snprintf(why, sizeof(why), "load() claims %zu bytes", len);
        nv_make_empty(t);
        t->nv_suspended = true;
        nv_set_error(t, TPM_NV_CORRUPT, "NV state refused (NV empty, changes "
                     "refused)", why);
    } else {
        nv_apply(t, &p);
    }
    nv_remember_current(t);
}

/* Back to the last state loaded or saved (always a well-formed blob). */
static void nv_roll_back(struct tpm *t)
{
    struct nv_parsed p;
    char why[160];

    if (nv_parse(t->nv_saved, t->nv_saved_len, &p, why, sizeof(why)))
        nv_apply(t, &p);
    else
        nv_make_empty(t); /* unreachable: nv_saved is one of ours */
}

TPM_RC tpm_nv_store_commit(struct tpm *t, uint32_t cc, TPM_RC rc)
{
    size_t n;
    int ret;
    char rbuf[32];

    if (rc != TPM_RC_SUCCESS ||
        (cc != TPM_CC_NV_DefineSpace && cc != TPM_CC_NV_UndefineSpace &&
         cc != TPM_CC_NV_Write && cc != TPM_CC_NV_Increment &&
         cc != TPM_CC_HierarchyChangeAuth && cc != TPM_CC_Startup))
        return rc;
    n = nv_serialize(t, t->nv_blob);
    if (n + NV_BLOB_DIGEST == t->nv_saved_len && !memcmp(t->nv_blob, t->nv_saved, n))
        return rc; /* NV unchanged */
    if (t->nv_suspended) {
        /* Startup(CLEAR) may only clear written flags of indices that a
         * suspended TPM cannot have: keep it; refuse everything else. */
        if (cc == TPM_CC_Startup)
            return rc;
        nv_roll_back(t);
        return TPM_RC_NV_UNAVAILABLE;
    }
    nv_digest(t->nv_blob, n, t->nv_blob + n);
    ret = t->store->save(t->store->ctx, t->nv_blob, n + NV_BLOB_DIGEST);
    if (ret != 0) {
        nv_set_error(t, TPM_NV_SAVE_FAILED, "NV state not saved",
                     store_reason(t, ret, rbuf, sizeof(rbuf)));
        /* Startup stays done (its NV change is written flags of
         * TPMA_NV_CLEAR_STCLEAR indices, saved with the next change). */
        if (cc == TPM_CC_Startup)
            return rc;
        nv_roll_back(t);
        return TPM_RC_NV_UNAVAILABLE;
    }
    memcpy(t->nv_saved, t->nv_blob, n + NV_BLOB_DIGEST);
    t->nv_saved_len = n + NV_BLOB_DIGEST;
    nv_clear_error(t);
    return rc;
}
