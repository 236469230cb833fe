/* Mapping of the front-end's memory table; see vu_mem.h. */
#include "harness/serve/vu_mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void unmap_all(struct vu_mem_region *reg, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (reg[i].map)
            munmap(reg[i].map, reg[i].map_len);
}

void vu_mem_clear(struct vu_mem *mem)
{
    unmap_all(mem->reg, mem->n);
    mem->n = 0;
}

static bool wraps(uint64_t base, uint64_t size)
{
    return base + size - 1 < base;
}

static int check_range(const struct vu_region *r, char *err, size_t errlen)
{
    if (r->size == 0 || wraps(r->gpa, r->size) || wraps(r->uva, r->size) ||
        wraps(r->mmap_offset, r->size)) {
        snprintf(err, errlen, "region gpa 0x%llx size 0x%llx is empty or wraps",
                 (unsigned long long)r->gpa, (unsigned long long)r->size);
        return -1;
    }
    return 0;
}

static int check_file(const struct vu_region *r, int fd, char *err,
                      size_t errlen)
{
    struct stat st;

    if (fstat(fd, &st) || r->mmap_offset + r->size > (uint64_t)st.st_size) {
        snprintf(err, errlen,
                 "region gpa 0x%llx: offset 0x%llx + size 0x%llx is beyond "
                 "its file (%lld bytes)",
                 (unsigned long long)r->gpa, (unsigned long long)r->mmap_offset,
                 (unsigned long long)r->size, (long long)st.st_size);
        return -1;
    }
    return 0;
}

static int map_region(struct vu_mem_region *mr, int fd, char *err,
                      size_t errlen)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t start = mr->r.mmap_offset & ~(page - 1);
    uint64_t lead = mr->r.mmap_offset - start;
    void *p;

    if (check_file(&mr->r, fd, err, errlen))
        return -1;
    p = mmap(NULL, mr->r.size + lead, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
             (off_t)start);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "mmap of region gpa 0x%llx (0x%llx bytes): %s",
                 (unsigned long long)mr->r.gpa,
                 (unsigned long long)mr->r.size, strerror(errno));
        return -1;
    }
    mr->map = p;
    mr->map_len = mr->r.size + lead;
    mr->host = (uint8_t *)p + lead;
    return 0;
}

static int check_overlap(const struct vu_mem_region *reg, unsigned n,
                         char *err, size_t errlen)
{
    for (unsigned i = 0; i < n; i++) {
        for (unsigned j = i + 1; j < n; j++) {
            const struct vu_region *a = &reg[i].r, *b = &reg[j].r;

            if (a->gpa <= b->gpa + b->size - 1 && b->gpa <= a->gpa + a->size - 1) {
                snprintf(err, errlen, "regions %u and %u overlap in guest memory",
                         i, j);
                return -1;
            }
        }
    }
    return 0;
}

static int parse_table(struct vu_msg *m, struct vu_mem_region *reg,
                       unsigned *n, char *err, size_t errlen)
{
    uint32_t count;

    if (m->size < VU_MEM_HDR_SIZE) {
        snprintf(err, errlen, "payload of %u bytes, no region count", m->size);
        return -1;
    }
    memcpy(&count, m->payload, 4);
    if (count < 1 || count > VU_MAX_REGIONS ||
        m->size != VU_MEM_HDR_SIZE + count * VU_REGION_SIZE) {
        snprintf(err, errlen,
                 "%u regions in a payload of %u bytes (1..8 regions of 32 "
                 "bytes after an 8-byte header)", count, m->size);
        return -1;
    }
    if (m->nfds != count) {
        snprintf(err, errlen, "%u regions but %u file descriptors", count,
                 m->nfds);
        return -1;
    }
    for (unsigned i = 0; i < count; i++) {
        memcpy(&reg[i].r, m->payload + VU_MEM_HDR_SIZE + i * VU_REGION_SIZE,
               VU_REGION_SIZE);
        if (check_range(&reg[i].r, err, errlen))
            return -1;
    }
    *n = count;
    return 0;
}

int vu_mem_set(struct vu_mem *mem, struct vu_msg *m, char *err, size_t errlen)
{
    struct vu_mem_region reg[VU_MAX_REGIONS];
    unsigned n = 0, mapped = 0;
    int rc = -1;

    memset(reg, 0, sizeof(reg));
    if (parse_table(m, reg, &n, err, errlen) ||
        check_overlap(reg, n, err, errlen))
        return -1;
    for (; mapped < n; mapped++) {
        int fd = vu_take_fd(m, mapped);
        int bad = map_region(&reg[mapped], fd, err, errlen);

        close(fd);
        if (bad)
            break;
    }
    if (mapped == n) {
        vu_mem_clear(mem);
        memcpy(mem->reg, reg, sizeof(reg));
        mem->n = n;
        rc = 0;
    } else {
        unmap_all(reg, mapped);
    }
    return rc;
}

unsigned vu_mem_ram_regions(const struct vu_mem *mem, struct hv_ram_region *out)
{
    for (unsigned i = 0; i < mem->n; i++)
        out[i] = (struct hv_ram_region){mem->reg[i].r.gpa, mem->reg[i].r.size,
                                        mem->reg[i].host};
    return mem->n;
}

int vu_mem_uva_to_gpa(const struct vu_mem *mem, uint64_t uva, uint64_t *gpa)
{
    for (unsigned i = 0; i < mem->n; i++) {
        const struct vu_region *r = &mem->reg[i].r;

        if (uva >= r->uva && uva - r->uva < r->size) {
            *gpa = r->gpa + (uva - r->uva);
            return 0;
        }
    }
    return -1;
}
