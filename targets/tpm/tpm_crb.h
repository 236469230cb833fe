/*
 * TPM 2.0 CRB (Command Response Buffer) interface as a device model:
 * TCG PC Client Platform TPM Profile (PTP) spec, section 6.5 (CRB
 * interface) and 6.4.2 (locality registers), mirroring QEMU 7.2's tpm-crb
 * (hw/tpm/tpm_crb.c): locality 0 only, one fixed MMIO region of 4 KiB at
 * 0xFED40000, registers at 0x00-0x7f, the command/response buffer of 3968
 * bytes at 0x80. CTRL_START runs the command synchronously through the
 * command model (tpm.h).
 */
#ifndef HV_TPM_CRB_H
#define HV_TPM_CRB_H

#include "targets/common/hv_device.h"

#define TPM_CRB_BASE 0xfed40000ull
#define TPM_CRB_SIZE 0x1000u

/* Register offsets, locality 0 (PTP 6.5.3, table "CRB Interface Registers") */
#define TPM_CRB_LOC_STATE 0x00u
#define TPM_CRB_LOC_CTRL 0x08u
#define TPM_CRB_LOC_STS 0x0cu
#define TPM_CRB_INTF_ID 0x30u /* 64-bit: INTF_ID at 0x30, its VID/DID at 0x34 */
#define TPM_CRB_CTRL_EXT 0x38u
#define TPM_CRB_CTRL_REQ 0x40u
#define TPM_CRB_CTRL_STS 0x44u
#define TPM_CRB_CTRL_CANCEL 0x48u
#define TPM_CRB_CTRL_START 0x4cu
#define TPM_CRB_INT_ENABLE 0x50u
#define TPM_CRB_INT_STS 0x54u
#define TPM_CRB_CTRL_CMD_SIZE 0x58u
#define TPM_CRB_CTRL_CMD_LADDR 0x5cu
#define TPM_CRB_CTRL_CMD_HADDR 0x60u
#define TPM_CRB_CTRL_RSP_SIZE 0x64u
#define TPM_CRB_CTRL_RSP_ADDR 0x68u /* 64-bit */
#define TPM_CRB_DATA_BUFFER 0x80u
#define TPM_CRB_BUF_SIZE (TPM_CRB_SIZE - TPM_CRB_DATA_BUFFER) /* 3968 */

/* Register bits */
#define TPM_CRB_LOC_STATE_ESTABLISHED 0x01u
#define TPM_CRB_LOC_STATE_ASSIGNED 0x02u
#define TPM_CRB_LOC_STATE_VALID 0x80u
#define TPM_CRB_LOC_CTRL_REQUEST 0x01u
#define TPM_CRB_LOC_CTRL_RELINQUISH 0x02u
#define TPM_CRB_LOC_CTRL_SEIZE 0x04u
#define TPM_CRB_LOC_CTRL_RESET_EST 0x08u
#define TPM_CRB_LOC_STS_GRANTED 0x01u
#define TPM_CRB_LOC_STS_SEIZED 0x02u
#define TPM_CRB_CTRL_REQ_CMD_READY 0x01u
#define TPM_CRB_CTRL_REQ_GO_IDLE 0x02u
#define TPM_CRB_CTRL_STS_ERROR 0x01u
#define TPM_CRB_CTRL_STS_IDLE 0x02u
#define TPM_CRB_START_INVOKE 0x01u
#define TPM_CRB_CANCEL_INVOKE 0x01u

/* QEMU 7.2's INTF_ID: CRB active (type 1, version 1), locality 0 only,
 * 64-byte transfers, CRB supported, selector CRB; INTF_ID2: VID IBM. */
#define TPM_CRB_INTF_ID_VALUE 0x00025811u
#define TPM_CRB_INTF_ID2_VALUE 0x00001014u

/* A CRB at TPM_CRB_BASE over a fresh TPM (manufactured state, after
 * _TPM_Init: the guest sends TPM2_Startup itself). Not a PCI device. */
hv_dev *tpm_crb_create(hv_machine *m);

#endif
