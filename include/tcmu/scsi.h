/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tcmu/scsi.h — SCSI constants and helpers for handlers.
 *
 * Handlers rarely need these: the SCSI core turns CDBs into the I/O
 * callbacks of tcmu/handler.h. They matter for handle_cmd() (raw CDBs) and
 * for tcmu_cmd_set_sense(). Values follow SAM-5, SPC-4 and SBC-3.
 *
 * Additional sense codes are given as one 16-bit value, ASC << 8 | ASCQ;
 * TCMU_ASC(x) and TCMU_ASCQ(x) split them.
 *
 * Everything here is a macro or a static inline function: nothing to link.
 */
#ifndef TCMU_SCSI_H
#define TCMU_SCSI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* SAM status codes                                                    */
/* ------------------------------------------------------------------ */
#define TCMU_SCSI_STATUS_GOOD                 0x00
#define TCMU_SCSI_STATUS_CHECK_CONDITION      0x02
#define TCMU_SCSI_STATUS_CONDITION_MET        0x04
#define TCMU_SCSI_STATUS_BUSY                 0x08
#define TCMU_SCSI_STATUS_RESERVATION_CONFLICT 0x18
#define TCMU_SCSI_STATUS_TASK_SET_FULL        0x28
#define TCMU_SCSI_STATUS_ACA_ACTIVE           0x30
#define TCMU_SCSI_STATUS_TASK_ABORTED         0x40

/* ------------------------------------------------------------------ */
/* Sense keys                                                          */
/* ------------------------------------------------------------------ */
#define TCMU_SENSE_NO_SENSE        0x0
#define TCMU_SENSE_RECOVERED_ERROR 0x1
#define TCMU_SENSE_NOT_READY       0x2
#define TCMU_SENSE_MEDIUM_ERROR    0x3
#define TCMU_SENSE_HARDWARE_ERROR  0x4
#define TCMU_SENSE_ILLEGAL_REQUEST 0x5
#define TCMU_SENSE_UNIT_ATTENTION  0x6
#define TCMU_SENSE_DATA_PROTECT    0x7
#define TCMU_SENSE_BLANK_CHECK     0x8
#define TCMU_SENSE_COPY_ABORTED    0xa
#define TCMU_SENSE_ABORTED_COMMAND 0xb
#define TCMU_SENSE_VOLUME_OVERFLOW 0xd
#define TCMU_SENSE_MISCOMPARE      0xe

/* ------------------------------------------------------------------ */
/* Additional sense codes (ASC << 8 | ASCQ)                            */
/* ------------------------------------------------------------------ */
#define TCMU_ASC(x)  ((uint8_t)((x) >> 8))
#define TCMU_ASCQ(x) ((uint8_t)((x) & 0xff))

#define TCMU_ASC_NO_ADDITIONAL_SENSE             0x0000
#define TCMU_ASC_NOT_READY_CAUSE_NOT_REPORTABLE  0x0400
#define TCMU_ASC_NOT_READY_FORMAT_IN_PROGRESS    0x0404
#define TCMU_ASC_NOT_READY_MANUAL_INTERVENTION   0x0403
#define TCMU_ASC_LUN_NOT_ACCESSIBLE_TRANSITION   0x040a
#define TCMU_ASC_LUN_NOT_ACCESSIBLE_STANDBY      0x040b
#define TCMU_ASC_LUN_NOT_ACCESSIBLE_UNAVAILABLE  0x040c
#define TCMU_ASC_LUN_NOT_ACCESSIBLE_OFFLINE      0x0412
#define TCMU_ASC_WRITE_ERROR                     0x0c00
#define TCMU_ASC_READ_ERROR                      0x1100
#define TCMU_ASC_MISCOMPARE_DURING_VERIFY        0x1d00
#define TCMU_ASC_PARAMETER_LIST_LENGTH_ERROR     0x1a00
#define TCMU_ASC_INVALID_COMMAND_OPERATION_CODE  0x2000
#define TCMU_ASC_LBA_OUT_OF_RANGE                0x2100
#define TCMU_ASC_INVALID_FIELD_IN_CDB            0x2400
#define TCMU_ASC_LOGICAL_UNIT_NOT_SUPPORTED      0x2500
#define TCMU_ASC_INVALID_FIELD_IN_PARAMETER_LIST 0x2600
#define TCMU_ASC_UNSUPPORTED_SEGMENT_DESCRIPTOR  0x2609
#define TCMU_ASC_UNSUPPORTED_TARGET_DESCRIPTOR   0x2607
#define TCMU_ASC_TOO_MANY_TARGET_DESCRIPTORS     0x2606
#define TCMU_ASC_TOO_MANY_SEGMENT_DESCRIPTORS    0x2608
#define TCMU_ASC_OPERATION_IN_PROGRESS           0x0016
#define TCMU_ASC_WRITE_PROTECTED                 0x2700
#define TCMU_ASC_SPACE_ALLOC_FAILED_WRITE_PROTECT 0x2707
#define TCMU_ASC_POWER_ON_RESET                  0x2900
#define TCMU_ASC_MODE_PARAMETERS_CHANGED         0x2a01
#define TCMU_ASC_CAPACITY_DATA_HAS_CHANGED       0x2a09
#define TCMU_ASC_ASYMMETRIC_ACCESS_STATE_CHANGED 0x2a06
#define TCMU_ASC_COMMAND_SEQUENCE_ERROR          0x2c00
#define TCMU_ASC_SAVING_PARAMETERS_NOT_SUPPORTED 0x3900
#define TCMU_ASC_MEDIUM_FORMAT_CORRUPTED         0x3100
#define TCMU_ASC_INTERNAL_TARGET_FAILURE         0x4400
#define TCMU_ASC_COPY_TARGET_DEVICE_NOT_REACHABLE 0x0d02
#define TCMU_ASC_INSUFFICIENT_RESOURCES          0x5503
#define TCMU_ASC_INSUFFICIENT_REGISTRATION_RESOURCES 0x5504
#define TCMU_ASC_MEDIUM_REMOVAL_PREVENTED        0x5302

/* ------------------------------------------------------------------ */
/* Operation codes (SPC-4, SBC-3)                                      */
/* ------------------------------------------------------------------ */
#define TCMU_SCSI_OP_TEST_UNIT_READY        0x00
#define TCMU_SCSI_OP_REQUEST_SENSE          0x03
#define TCMU_SCSI_OP_FORMAT_UNIT            0x04
#define TCMU_SCSI_OP_READ_6                 0x08
#define TCMU_SCSI_OP_WRITE_6                0x0a
#define TCMU_SCSI_OP_INQUIRY                0x12
#define TCMU_SCSI_OP_MODE_SELECT_6          0x15
#define TCMU_SCSI_OP_MODE_SENSE_6           0x1a
#define TCMU_SCSI_OP_START_STOP_UNIT        0x1b
#define TCMU_SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL 0x1e
#define TCMU_SCSI_OP_READ_CAPACITY_10       0x25
#define TCMU_SCSI_OP_READ_10                0x28
#define TCMU_SCSI_OP_WRITE_10               0x2a
#define TCMU_SCSI_OP_WRITE_VERIFY_10        0x2e
#define TCMU_SCSI_OP_VERIFY_10              0x2f
#define TCMU_SCSI_OP_SYNCHRONIZE_CACHE_10   0x35
#define TCMU_SCSI_OP_WRITE_SAME_10          0x41
#define TCMU_SCSI_OP_UNMAP                  0x42
#define TCMU_SCSI_OP_MODE_SELECT_10         0x55
#define TCMU_SCSI_OP_MODE_SENSE_10          0x5a
#define TCMU_SCSI_OP_PERSISTENT_RESERVE_IN  0x5e
#define TCMU_SCSI_OP_PERSISTENT_RESERVE_OUT 0x5f
#define TCMU_SCSI_OP_EXTENDED_COPY          0x83
#define TCMU_SCSI_OP_RECEIVE_COPY_RESULTS   0x84
#define TCMU_SCSI_OP_READ_16                0x88
#define TCMU_SCSI_OP_COMPARE_AND_WRITE      0x89
#define TCMU_SCSI_OP_WRITE_16               0x8a
#define TCMU_SCSI_OP_WRITE_VERIFY_16        0x8e
#define TCMU_SCSI_OP_VERIFY_16              0x8f
#define TCMU_SCSI_OP_SYNCHRONIZE_CACHE_16   0x91
#define TCMU_SCSI_OP_WRITE_SAME_16          0x93
#define TCMU_SCSI_OP_SERVICE_ACTION_IN_16   0x9e
#define TCMU_SCSI_OP_REPORT_LUNS            0xa0
#define TCMU_SCSI_OP_MAINTENANCE_IN         0xa3
#define TCMU_SCSI_OP_MAINTENANCE_OUT        0xa4
#define TCMU_SCSI_OP_READ_12                0xa8
#define TCMU_SCSI_OP_WRITE_12               0xaa
#define TCMU_SCSI_OP_WRITE_VERIFY_12        0xae

/* Service actions */
#define TCMU_SCSI_SAI_READ_CAPACITY_16      0x10 /* SERVICE ACTION IN(16) */
#define TCMU_SCSI_SAI_GET_LBA_STATUS        0x12 /* SERVICE ACTION IN(16) */
#define TCMU_SCSI_MI_REPORT_TARGET_PGS      0x0a /* MAINTENANCE IN */
#define TCMU_SCSI_MI_REPORT_SUPPORTED_OPCODES 0x0c /* MAINTENANCE IN */
#define TCMU_SCSI_MO_SET_TARGET_PGS         0x0a /* MAINTENANCE OUT */
#define TCMU_SCSI_EC_LID1                   0x00 /* EXTENDED COPY (LID1) */
#define TCMU_SCSI_RCR_COPY_STATUS           0x00 /* RECEIVE COPY RESULTS */
#define TCMU_SCSI_RCR_OPERATING_PARAMS      0x03 /* RECEIVE COPY RESULTS */

/* Peripheral device type of a disk */
#define TCMU_SCSI_TYPE_DISK 0x00

/* ------------------------------------------------------------------ */
/* Big-endian helpers (unaligned access is fine)                       */
/* ------------------------------------------------------------------ */

/** tcmu_get_be16 — read a big-endian 16-bit value at @p. */
static inline uint16_t tcmu_get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/** tcmu_get_be24 — read a big-endian 24-bit value at @p. */
static inline uint32_t tcmu_get_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/** tcmu_get_be32 — read a big-endian 32-bit value at @p. */
static inline uint32_t tcmu_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/** tcmu_get_be64 — read a big-endian 64-bit value at @p. */
static inline uint64_t tcmu_get_be64(const uint8_t *p)
{
	return (uint64_t)tcmu_get_be32(p) << 32 | tcmu_get_be32(p + 4);
}

/** tcmu_put_be16 — store @v big-endian at @p. */
static inline void tcmu_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/** tcmu_put_be24 — store the low 24 bits of @v big-endian at @p. */
static inline void tcmu_put_be24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

/** tcmu_put_be32 — store @v big-endian at @p. */
static inline void tcmu_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/** tcmu_put_be64 — store @v big-endian at @p. */
static inline void tcmu_put_be64(uint8_t *p, uint64_t v)
{
	tcmu_put_be32(p, (uint32_t)(v >> 32));
	tcmu_put_be32(p + 4, (uint32_t)v);
}

/**
 * tcmu_cdb_length — length in bytes of a CDB from its operation code's
 * group (SPC-4 4.2.5.1), or 0 for a reserved / vendor-specific group
 * whose length cannot be known.
 */
static inline unsigned int tcmu_cdb_length(const uint8_t *cdb)
{
	switch (cdb[0] >> 5) {
	case 0:
		return 6;
	case 1:
	case 2:
		return 10;
	case 3:
		return cdb[0] == 0x7f ? 8u + cdb[7] : 0;
	case 4:
		return 16;
	case 5:
		return 12;
	default:
		return 0;
	}
}

#ifdef __cplusplus
}
#endif
#endif
