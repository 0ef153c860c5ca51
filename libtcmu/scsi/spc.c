/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/spc.c — small SPC/SBC commands answered by the core:
 * TEST UNIT READY, REQUEST SENSE, START STOP UNIT and PREVENT ALLOW
 * MEDIUM REMOVAL.
 */
#include <string.h>

#include "scsi_priv.h"

/*
 * spc_format_progress_sense — NOT READY, FORMAT IN PROGRESS with the
 * progress indication of the running FORMAT UNIT. Ring thread.
 */
void spc_format_progress_sense(struct tcmu_device *dev, struct scsi_sense *s)
{
	struct scsi_dev *sd = dev->scsi;
	uint64_t p = 0;

	memset(s, 0, sizeof(*s));
	s->key = TCMU_SENSE_NOT_READY;
	s->asc = TCMU_ASC_NOT_READY_FORMAT_IN_PROGRESS;
	if (sd->fmt_total)
		p = sd->fmt_done * 65536 / sd->fmt_total;
	scsi_sks_progress(s, (uint16_t)SCSI_MIN(p, 65535u));
}

/* TEST UNIT READY (SPC-4 6.47): GOOD unless a FORMAT UNIT runs. */
void spc_test_unit_ready(struct tcmu_cmd *cmd)
{
	scsi_done_good(cmd);
}

/*
 * REQUEST SENSE (SPC-4 6.39): the pending unit attention (which it clears),
 * FORMAT IN PROGRESS with its progress, or NO SENSE; in descriptor format
 * when DESC is set. Always GOOD status.
 */
void spc_request_sense(struct tcmu_cmd *cmd)
{
	bool desc = cmd->cdb[1] & 0x01;
	size_t alloc = cmd->cdb[4];
	struct scsi_sense s = { 0 };
	uint8_t buf[TCMU_SENSE_BUFFERSIZE];
	size_t n;

	if (!spc_take_ua(cmd->dev, &s)) {
		if (cmd->dev->scsi->formatting)
			spc_format_progress_sense(cmd->dev, &s);
		else
			s.key = TCMU_SENSE_NO_SENSE;
	}
	n = scsi_build_sense(buf, sizeof(buf), desc, &s);
	scsi_data_in(cmd, buf, n, alloc);
	scsi_done_good(cmd);
}

static void start_stop_flushed(struct tcmu_cmd *cmd, int result)
{
	scsi_complete_result(cmd, result);
}

/*
 * START STOP UNIT (SBC-3 5.25). The medium is never removable and never
 * spins down: START is a no-op, STOP flushes the write cache (unless
 * NO_FLUSH) and the unit stays ready. Power conditions other than
 * START_VALID and LOEJ are refused.
 */
void spc_start_stop(struct tcmu_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	bool start = cdb[4] & 0x01, no_flush = cdb[4] & 0x04;

	if (cdb[4] >> 4) {
		scsi_done_invalid_cdb(cmd, 4, 7);
		return;
	}
	if (cdb[4] & 0x02) {
		scsi_done_invalid_cdb(cmd, 4, 1);
		return;
	}
	if (start || no_flush || !scsi_wce(cmd->dev)) {
		scsi_done_good(cmd);
		return;
	}
	memset(&cmd->io, 0, sizeof(cmd->io));
	cmd->io.op = TCMU_IO_FLUSH;
	runner_call(cmd, start_stop_flushed);
}

/*
 * PREVENT ALLOW MEDIUM REMOVAL (SBC-3 5.5): the medium is not removable;
 * PREVENT 00b and 01b are accepted and have no effect.
 */
void spc_prevent_allow(struct tcmu_cmd *cmd)
{
	if (cmd->cdb[4] & 0x02) {
		scsi_done_invalid_cdb(cmd, 4, 1);
		return;
	}
	scsi_done_good(cmd);
}
