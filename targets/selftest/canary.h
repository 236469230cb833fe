/* selftest-canary: a deliberately buggy toy device (see canary.c). */
#ifndef HV_CANARY_H
#define HV_CANARY_H
#include "targets/common/hv_device.h"

#define CANARY_VENDOR_ID 0x1b36 /* QEMU's test vendor space */
#define CANARY_DEVICE_ID 0x00fe
#define CANARY_BAR0_SIZE 0x1000u
#define CANARY_REG_LEN 0x00  /* u8: length of the next copy */
#define CANARY_REG_COPY 0x08 /* write: copy `len` bytes of the value into buf */
#define CANARY_REG_SUM 0x10  /* read: sum of buf */
#define CANARY_BUF_SIZE 16u

hv_dev *canary_create(hv_machine *m);
#endif
