/*
 * hvfuzz-serve tpm: hvfuzz's TPM 2.0 model (targets/tpm) behind swtpm's
 * control-channel protocol, so QEMU's `-tpmdev emulator` (tpm-crb,
 * tpm-tis) drives it. See harness/serve/README.md and swtpm.c.
 */
#ifndef HV_SERVE_SWTPM_H
#define HV_SERVE_SWTPM_H

/* `hvfuzz-serve tpm --swtpm SOCKET ...`: argv[1] is "tpm". Returns the
 * process exit status (0 after SIGINT/SIGTERM, 1 on an error, 2 on bad
 * usage). */
int swtpm_main(int argc, char **argv);

#endif
