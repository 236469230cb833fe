/*
 * The text form of hvfuzz programs (host side, libc): hvfuzz-asm and
 * hvfuzz-disasm, crash printing, seeds. binary -> text -> binary is exact
 * for every byte string; see text.c for the grammar.
 */
#ifndef HV_TEXT_H
#define HV_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "harness/program/hv_program.h"

/* Assemble `text` (len bytes, need not be NUL-terminated) for layout `l`.
 * Returns a malloc'd buffer of *out_len bytes (non-NULL even when empty;
 * free it), or NULL with a one-line message "FNAME:LINE:COL: error: ..."
 * in err (errsz bytes, may be 0). fname is only used for messages. */
uint8_t *hv_asm(const struct hv_layout *l, const char *fname, const char *text,
                size_t len, size_t *out_len, char *err, size_t errsz);

/* Disassemble a program: a malloc'd NUL-terminated text, one op a line,
 * first line ".target NAME". NULL only when out of memory. */
char *hv_disasm(const struct hv_layout *l, const uint8_t *prog, size_t len);

/* One decoded op as a malloc'd line of text (no newline; free it), with
 * the same annotations as hv_disasm; for hosts that print a per-op trace.
 * An op the text form cannot reproduce (raw virtq_submit counts above 7)
 * is shown with its effective segments plus a "# raw nout= nin=" note.
 * Returns NULL when out of memory. */
char *hv_disasm_op(const struct hv_layout *l, const struct hv_op *op);

#endif
