/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/sense.c — sense data (SPC-4 4.5): fixed (70h) and
 * descriptor (72h) formats, the sense-key specific field pointer and
 * progress indication, and the mapping of handler results to status.
 */
#include <errno.h>
#include <string.h>

#include "scsi_priv.h"

#define FIXED_LEN 18

static size_t build_fixed(uint8_t *b, const struct scsi_sense *s)
{
	memset(b, 0, FIXED_LEN);
	b[0] = 0x70;
	if (s->info_valid && s->info <= 0xffffffffull) {
		b[0] |= 0x80; /* VALID */
		tcmu_put_be32(&b[3], (uint32_t)s->info);
	}
	b[2] = s->key & 0x0f;
	b[7] = FIXED_LEN - 8; /* ADDITIONAL SENSE LENGTH */
	b[12] = TCMU_ASC(s->asc);
	b[13] = TCMU_ASCQ(s->asc);
	if (s->sks_valid) {
		b[15] = 0x80 | s->sks[0]; /* SKSV */
		b[16] = s->sks[1];
		b[17] = s->sks[2];
	}
	return FIXED_LEN;
}

static size_t build_desc(uint8_t *b, const struct scsi_sense *s)
{
	size_t n = 8;

	memset(b, 0, 8 + 12 + 8);
	b[0] = 0x72;
	b[1] = s->key & 0x0f;
	b[2] = TCMU_ASC(s->asc);
	b[3] = TCMU_ASCQ(s->asc);
	if (s->info_valid) {
		/* Information descriptor (type 00h) */
		b[n] = 0x00;
		b[n + 1] = 0x0a;
		b[n + 2] = 0x80; /* VALID */
		tcmu_put_be64(&b[n + 4], s->info);
		n += 12;
	}
	if (s->sks_valid) {
		/* Sense key specific descriptor (type 02h) */
		b[n] = 0x02;
		b[n + 1] = 0x06;
		b[n + 4] = 0x80 | s->sks[0];
		b[n + 5] = s->sks[1];
		b[n + 6] = s->sks[2];
		n += 8;
	}
	b[7] = (uint8_t)(n - 8);
	return n;
}

size_t scsi_build_sense(uint8_t *buf, size_t size, bool desc,
			const struct scsi_sense *s)
{
	uint8_t tmp[8 + 12 + 8];
	size_t n = desc ? build_desc(tmp, s) : build_fixed(tmp, s);

	n = SCSI_MIN(n, size);
	memcpy(buf, tmp, n);
	return n;
}

bool scsi_parse_sense(const uint8_t *b, size_t len, uint8_t *key,
		      uint16_t *asc)
{
	if (len < 4)
		return false;
	switch (b[0] & 0x7f) {
	case 0x70:
	case 0x71:
		if (len < 14)
			return false;
		*key = b[2] & 0x0f;
		*asc = (uint16_t)(b[12] << 8 | b[13]);
		return true;
	case 0x72:
	case 0x73:
		*key = b[1] & 0x0f;
		*asc = (uint16_t)(b[2] << 8 | b[3]);
		return true;
	default:
		return false;
	}
}

bool scsi_dev_d_sense(const struct tcmu_device *dev)
{
	return dev && dev->scsi && dev->scsi->d_sense;
}

void scsi_set_sense(struct tcmu_cmd *cmd, const struct scsi_sense *s)
{
	cmd->status = TCMU_SCSI_STATUS_CHECK_CONDITION;
	cmd->sense_len = (uint8_t)scsi_build_sense(cmd->sense,
						   sizeof(cmd->sense),
						   scsi_dev_d_sense(cmd->dev),
						   s);
}

void scsi_set_check(struct tcmu_cmd *cmd, uint8_t key, uint16_t asc)
{
	struct scsi_sense s = { .key = key, .asc = asc };

	scsi_set_sense(cmd, &s);
}

void scsi_sks_field(struct scsi_sense *s, bool cdb, unsigned int byte, int bit)
{
	s->sks_valid = true;
	s->sks[0] = cdb ? 0x40 : 0x00; /* C/D */
	if (bit >= 0 && bit <= 7)
		s->sks[0] |= 0x08 | (uint8_t)bit; /* BPV, BIT POINTER */
	s->sks[1] = (uint8_t)(byte >> 8);
	s->sks[2] = (uint8_t)byte;
}

void scsi_sks_progress(struct scsi_sense *s, uint16_t progress)
{
	s->sks_valid = true;
	s->sks[0] = 0;
	s->sks[1] = (uint8_t)(progress >> 8);
	s->sks[2] = (uint8_t)progress;
}

void scsi_done_good(struct tcmu_cmd *cmd)
{
	cmd->status = TCMU_SCSI_STATUS_GOOD;
	cmd->sense_len = 0;
	scsi_complete(cmd);
}

void scsi_done_status(struct tcmu_cmd *cmd, uint8_t status)
{
	cmd->status = status;
	cmd->sense_len = 0;
	scsi_complete(cmd);
}

void scsi_done_sense(struct tcmu_cmd *cmd, const struct scsi_sense *s)
{
	scsi_set_sense(cmd, s);
	scsi_complete(cmd);
}

void scsi_done_check(struct tcmu_cmd *cmd, uint8_t key, uint16_t asc)
{
	scsi_set_check(cmd, key, asc);
	scsi_complete(cmd);
}

void scsi_done_invalid_cdb(struct tcmu_cmd *cmd, unsigned int byte, int bit)
{
	struct scsi_sense s = {
		.key = TCMU_SENSE_ILLEGAL_REQUEST,
		.asc = TCMU_ASC_INVALID_FIELD_IN_CDB,
	};

	scsi_sks_field(&s, true, byte, bit);
	scsi_done_sense(cmd, &s);
}

void scsi_done_invalid_param(struct tcmu_cmd *cmd, unsigned int byte, int bit)
{
	struct scsi_sense s = {
		.key = TCMU_SENSE_ILLEGAL_REQUEST,
		.asc = TCMU_ASC_INVALID_FIELD_IN_PARAMETER_LIST,
	};

	scsi_sks_field(&s, false, byte, bit);
	scsi_done_sense(cmd, &s);
}

void scsi_done_param_len(struct tcmu_cmd *cmd)
{
	scsi_done_check(cmd, TCMU_SENSE_ILLEGAL_REQUEST,
			TCMU_ASC_PARAMETER_LIST_LENGTH_ERROR);
}

void scsi_done_lba_range(struct tcmu_cmd *cmd)
{
	scsi_done_check(cmd, TCMU_SENSE_ILLEGAL_REQUEST,
			TCMU_ASC_LBA_OUT_OF_RANGE);
}

void scsi_done_invalid_op(struct tcmu_cmd *cmd)
{
	scsi_done_check(cmd, TCMU_SENSE_ILLEGAL_REQUEST,
			TCMU_ASC_INVALID_COMMAND_OPERATION_CODE);
}

void scsi_done_nomem(struct tcmu_cmd *cmd)
{
	scsi_done_status(cmd, TCMU_SCSI_STATUS_TASK_SET_FULL);
}

/*
 * scsi_result_to_sense — see tcmu_internal.h. Ring thread. The mapping
 * follows tcmu_cmd_done() in handler.h; sense set by the handler wins and
 * is re-encoded in the format the initiator selected (D_SENSE).
 */
void scsi_result_to_sense(struct tcmu_cmd *cmd, int result)
{
	struct scsi_sense s;
	bool is_read = cmd->io.op == TCMU_IO_READ;

	if (!result && !cmd->sense_set) { /* every good command: no sense to build */
		cmd->status = TCMU_SCSI_STATUS_GOOD;
		cmd->sense_len = 0;
		return;
	}
	memset(&s, 0, sizeof(s));
	if (cmd->sense_set) {
		uint8_t key;
		uint16_t asc;

		if (!scsi_parse_sense(cmd->sense, cmd->sense_len, &key, &asc)) {
			/* Not a format we know: pass it on untouched. */
			cmd->status = TCMU_SCSI_STATUS_CHECK_CONDITION;
			return;
		}
		s.key = key;
		s.asc = asc;
		if (cmd->miscompare_set) {
			s.info_valid = true;
			s.info = cmd->miscompare_off;
		}
		scsi_set_sense(cmd, &s);
		return;
	}

	switch (result) {
	case -EILSEQ:
		s.key = TCMU_SENSE_MISCOMPARE;
		s.asc = TCMU_ASC_MISCOMPARE_DURING_VERIFY;
		if (cmd->miscompare_set) {
			s.info_valid = true;
			s.info = cmd->miscompare_off;
		}
		break;
	case -ENOSPC:
		s.key = TCMU_SENSE_DATA_PROTECT;
		s.asc = TCMU_ASC_SPACE_ALLOC_FAILED_WRITE_PROTECT;
		break;
	case -EROFS:
		s.key = TCMU_SENSE_DATA_PROTECT;
		s.asc = TCMU_ASC_WRITE_PROTECTED;
		break;
	case -EAGAIN:
	case -EBUSY:
	case -ETIMEDOUT:
	case -ENOTCONN:
	case -ESHUTDOWN:
		cmd->status = TCMU_SCSI_STATUS_BUSY;
		cmd->sense_len = 0;
		return;
	case -ENOMEM:
		cmd->status = TCMU_SCSI_STATUS_TASK_SET_FULL;
		cmd->sense_len = 0;
		return;
	case -EINVAL:
		s.key = TCMU_SENSE_ILLEGAL_REQUEST;
		s.asc = TCMU_ASC_INVALID_FIELD_IN_CDB;
		break;
	case -ERANGE:
		s.key = TCMU_SENSE_ILLEGAL_REQUEST;
		s.asc = TCMU_ASC_LBA_OUT_OF_RANGE;
		break;
	case -ECANCELED:
		s.key = TCMU_SENSE_ABORTED_COMMAND;
		s.asc = TCMU_ASC_NO_ADDITIONAL_SENSE;
		break;
	case -EOPNOTSUPP:
		s.key = TCMU_SENSE_ILLEGAL_REQUEST;
		s.asc = TCMU_ASC_INVALID_COMMAND_OPERATION_CODE;
		break;
	default:
		s.key = TCMU_SENSE_MEDIUM_ERROR;
		s.asc = is_read ? TCMU_ASC_READ_ERROR : TCMU_ASC_WRITE_ERROR;
		break;
	}
	scsi_set_sense(cmd, &s);
}
