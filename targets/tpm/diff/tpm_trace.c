/* Trace reader: see tpm_trace.h. */
#include "targets/tpm/diff/tpm_trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the hex word at `s` into a new buffer. */
static uint8_t *decode_hex(const char *s, size_t *out_len)
{
    size_t digits = strspn(s, "0123456789abcdefABCDEF");
    uint8_t *buf;

    if (digits % 2 || digits == 0)
        return NULL;
    buf = malloc(digits / 2);
    if (!buf)
        return NULL;
    for (size_t i = 0; i < digits / 2; i++)
        buf[i] = (uint8_t)(hex_nibble(s[2 * i]) << 4 | hex_nibble(s[2 * i + 1]));
    *out_len = digits / 2;
    return buf;
}

static int append_entry(struct tpm_trace *t, uint8_t *cmd, size_t len)
{
    struct tpm_trace_entry *e = realloc(t->e, (t->n + 1) * sizeof(*e));

    if (!e)
        return -1;
    t->e = e;
    t->e[t->n++] = (struct tpm_trace_entry){.cmd = cmd, .cmd_len = len};
    return 0;
}

static int parse_line(struct tpm_trace *t, const char *line)
{
    size_t len;
    uint8_t *buf;

    if (strncmp(line, "cmd ", 4) && strncmp(line, "rsp ", 4))
        return 0;
    buf = decode_hex(line + 4, &len);
    if (!buf)
        return -1;
    if (line[0] == 'c') {
        if (append_entry(t, buf, len) == 0)
            return 0;
    } else if (t->n && !t->e[t->n - 1].rsp) {
        t->e[t->n - 1].rsp = buf;
        t->e[t->n - 1].rsp_len = len;
        return 0;
    }
    free(buf);
    return -1;
}

int tpm_trace_load(const char *path, struct tpm_trace *t)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    int rc = 0;

    memset(t, 0, sizeof(*t));
    if (!f)
        return -1;
    while (rc == 0 && fgets(line, sizeof(line), f))
        rc = parse_line(t, line);
    fclose(f);
    if (rc)
        tpm_trace_free(t);
    return rc;
}

void tpm_trace_free(struct tpm_trace *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->e[i].cmd);
        free(t->e[i].rsp);
    }
    free(t->e);
    memset(t, 0, sizeof(*t));
}
