/* Load the agent: an ELF64 x86-64 executable, its PT_LOAD segments copied
 * to their physical addresses in guest RAM (identity-mapped). */
#include "harness/vmm/hv_vmm.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* Segments must lie in [HV_GPA_AGENT, the stack's lowest page). */
#define LOAD_LIMIT (HV_GPA_STACK_TOP - 0x10000ull)

static int load_image(struct hv_vm *vm, const char *path, const uint8_t *img,
                      size_t n, char *err, size_t errlen)
{
    const Elf64_Ehdr *eh = (const void *)img;
    int entry_ok = 0, nload = 0;

    if (n < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
        return ERR("agent %s: not an ELF file", path);
    if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB)
        return ERR("agent %s: not a little-endian ELF64 file", path);
    if (eh->e_machine != EM_X86_64)
        return ERR("agent %s: not an x86-64 ELF (e_machine %u)", path, eh->e_machine);
    if (eh->e_type != ET_EXEC)
        return ERR("agent %s: not an executable (ET_EXEC) ELF", path);
    if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
        eh->e_phoff > n || (n - eh->e_phoff) / sizeof(Elf64_Phdr) < eh->e_phnum)
        return ERR("agent %s: malformed program headers", path);
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        Elf64_Phdr ph;

        memcpy(&ph, img + eh->e_phoff + i * sizeof(ph), sizeof(ph));
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
            continue;
        uint64_t addr = ph.p_paddr ? ph.p_paddr : ph.p_vaddr;
        if (ph.p_filesz > ph.p_memsz || ph.p_offset > n ||
            n - ph.p_offset < ph.p_filesz)
            return ERR("agent %s: segment %u lies outside the file", path, i);
        if (addr < HV_GPA_AGENT || addr > LOAD_LIMIT ||
            ph.p_memsz > LOAD_LIMIT - addr)
            return ERR("agent %s: segment %u at 0x%llx+0x%llx is outside guest "
                       "RAM [0x%llx, 0x%llx)",
                       path, i, (unsigned long long)addr,
                       (unsigned long long)ph.p_memsz,
                       (unsigned long long)HV_GPA_AGENT,
                       (unsigned long long)LOAD_LIMIT);
        memcpy(vm->ram + addr, img + ph.p_offset, ph.p_filesz);
        memset(vm->ram + addr + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
        if (eh->e_entry >= ph.p_vaddr && eh->e_entry - ph.p_vaddr < ph.p_memsz)
            entry_ok = 1;
        nload++;
    }
    if (nload == 0)
        return ERR("agent %s: no loadable segment", path);
    if (!entry_ok)
        return ERR("agent %s: entry point 0x%llx is in no loaded segment", path,
                   (unsigned long long)eh->e_entry);
    vm->entry = eh->e_entry;
    return 0;
}

int hv_load_agent(struct hv_vm *vm, const char *path, char *err, size_t errlen)
{
    FILE *f;
    struct stat st;
    uint8_t *img;
    int rc;

    f = fopen(path, "rb");
    if (!f)
        return ERR("agent %s: %s (build the agent, or set HVFUZZ_AGENT)", path,
                   strerror(errno));
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) ||
        st.st_size > (off_t)(LOAD_LIMIT)) {
        fclose(f);
        return ERR("agent %s: not a regular file of sane size", path);
    }
    img = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!img) {
        fclose(f);
        return ERR("out of memory");
    }
    size_t n = fread(img, 1, (size_t)st.st_size, f);
    fclose(f);
    rc = load_image(vm, path, img, n, err, errlen);
    free(img);
    return rc;
}
