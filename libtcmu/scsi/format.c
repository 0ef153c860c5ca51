/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/format.c — FORMAT UNIT (SBC-3 5.3).
 *
 * Formatting initialises every block to zero: with unmap() when unmapped
 * blocks read back as zeroes, else with write_same() or chunked write()s
 * of a zero buffer. While it runs, commands other than INQUIRY, REQUEST
 * SENSE and REPORT SUPPORTED OPERATION CODES get NOT READY, FORMAT IN
 * PROGRESS with the progress indication (core.c), and REQUEST SENSE
 * reports it. With IMMED the command completes once validated and the
 * work continues on an internal command. A format that fails leaves the
 * medium NOT READY, MEDIUM FORMAT CORRUPTED until a FORMAT UNIT succeeds.
 */
#include <stdlib.h>
#include <string.h>

#include "scsi_priv.h"

#define FMT_UNMAP_CHUNK (1ull << 30) /* bytes per unmap() call */
#define FMT_WS_CHUNK (256ull << 20)  /* bytes per write_same() call */

enum { FMT_UNMAP = 1, FMT_WS, FMT_WRITE };

static void fmt_next(struct tcmu_cmd *cmd);

/* The format is over: report (or remember) the result. */
static void fmt_end(struct tcmu_cmd *cmd, int result)
{
	struct scsi_dev *sd = cmd->dev->scsi;
	bool internal = sd->fmt_internal;

	sd->formatting = false;
	sd->fmt_cmd = NULL;
	sd->fmt_internal = false;
	sd->fmt_corrupt = result != 0;
	if (result)
		tcmu_dev_err(cmd->dev, "FORMAT UNIT failed at block %llu: %d",
			     (unsigned long long)sd->fmt_done, result);
	if (internal) {
		scsi_internal_cmd_free(cmd);
		return;
	}
	scsi_complete_result(cmd, result);
}

static void fmt_step_done(struct tcmu_cmd *cmd, int result)
{
	struct scsi_cstate *cs = cmd->core_priv;
	struct scsi_dev *sd = cmd->dev->scsi;
	uint32_t bs = scsi_block_size(cmd->dev);

	if (result) {
		fmt_end(cmd, result);
		return;
	}
	cs->pos += cmd->io.length;
	sd->fmt_done = cs->pos / bs;
	fmt_next(cmd);
}

static void fmt_next(struct tcmu_cmd *cmd)
{
	struct scsi_cstate *cs = cmd->core_priv;
	const struct tcmu_handler *h = scsi_handler(cmd);
	uint64_t total = cs->nlb * scsi_block_size(cmd->dev);
	uint64_t left = total - cs->pos, n;

	if (cs->pos >= total) {
		fmt_end(cmd, 0);
		return;
	}
	memset(&cmd->io, 0, sizeof(cmd->io));
	switch (cs->step) {
	case FMT_UNMAP:
		n = SCSI_MIN(left, FMT_UNMAP_CHUNK);
		if (h->max_unmap_len)
			n = SCSI_MIN(n, h->max_unmap_len);
		cs->ranges[0].offset = cs->pos;
		cs->ranges[0].length = n;
		cmd->io.op = TCMU_IO_UNMAP;
		cmd->io.ranges = cs->ranges;
		cmd->io.nr_ranges = 1;
		break;
	case FMT_WS:
		n = SCSI_MIN(left, FMT_WS_CHUNK);
		cmd->io.op = TCMU_IO_WRITE_SAME;
		cmd->io.iov = cs->biov;
		cmd->io.iovcnt = 1;
		cmd->io.flags = cs->io_flags;
		break;
	default:
		n = SCSI_MIN(left, (uint64_t)cs->buf_len);
		cs->biov[0].iov_len = (size_t)n;
		cmd->io.op = TCMU_IO_WRITE;
		cmd->io.iov = cs->biov;
		cmd->io.iovcnt = 1;
		cmd->io.flags = cs->io_flags;
		break;
	}
	cmd->io.offset = cs->pos;
	cmd->io.length = n;
	runner_call(cmd, fmt_step_done);
}

/* The exclusive lock on the whole medium is ours: start. */
static void fmt_start(struct tcmu_cmd *cmd)
{
	fmt_next(cmd);
}

/* Set up the job on @cmd (the FORMAT UNIT itself or an internal command). */
static int fmt_prepare(struct tcmu_cmd *cmd)
{
	struct tcmu_device *dev = cmd->dev;
	const struct tcmu_handler *h = dev->handler;
	struct scsi_cstate *cs = scsi_cstate_get(cmd);
	uint32_t bs = scsi_block_size(dev);

	if (!cs)
		return -1;
	cs->lba = 0;
	cs->nlb = scsi_num_lbas(dev);
	cs->pos = 0;
	cs->io_flags = scsi_write_flags(dev, false);
	cs->aux = 0;
	if (h->unmap && h->unmap_zeroes) {
		cs->step = FMT_UNMAP;
		cs->ranges = calloc(1, sizeof(*cs->ranges));
		cs->aux = 1;
		return cs->ranges ? 0 : -1;
	}
	cs->step = h->write_same ? FMT_WS : FMT_WRITE;
	cs->buf_len = h->write_same ? bs : SCSI_BOUNCE_MAX;
	cs->buf_len -= cs->buf_len % bs;
	cs->buf = calloc(1, cs->buf_len);
	cs->biov[0].iov_base = cs->buf;
	cs->biov[0].iov_len = cs->buf_len;
	return cs->buf ? 0 : -1;
}

void sbc_format_unit(struct tcmu_cmd *cmd)
{
	struct tcmu_device *dev = cmd->dev;
	struct scsi_dev *sd = dev->scsi;
	const uint8_t *cdb = cmd->cdb;
	bool longlist = cdb[1] & 0x20, fmtdata = cdb[1] & 0x10;
	bool immed = false;
	struct tcmu_cmd *job = cmd;

	if (cdb[1] & 0xc0) { /* FMTPINFO: no protection information */
		scsi_done_invalid_cdb(cmd, 1, 7);
		return;
	}
	if (fmtdata) {
		size_t hdr = longlist ? 8 : 4;
		uint8_t p[8];

		if (cmd->data_len < hdr) {
			scsi_done_param_len(cmd);
			return;
		}
		scsi_data_out(cmd, p, hdr);
		if (p[0] & 0x07) { /* PROTECTION FIELD USAGE */
			scsi_done_invalid_param(cmd, 0, 2);
			return;
		}
		if (p[1] & 0x08) { /* IP: no initialization pattern */
			scsi_done_invalid_param(cmd, 1, 3);
			return;
		}
		if (longlist && p[3]) { /* P_I_INFORMATION, exponent */
			scsi_done_invalid_param(cmd, 3, 7);
			return;
		}
		/* A defect list, if any, is ignored: there are no defects. */
		immed = p[1] & 0x02;
	}
	if (!scsi_check_writable(cmd))
		return;

	if (immed) {
		job = scsi_internal_cmd_new(dev);
		if (!job) {
			scsi_done_nomem(cmd);
			return;
		}
	}
	if (fmt_prepare(job) < 0) {
		if (immed)
			scsi_internal_cmd_free(job);
		scsi_done_nomem(cmd);
		return;
	}
	sd->formatting = true;
	sd->fmt_done = 0;
	sd->fmt_total = scsi_num_lbas(dev);
	sd->fmt_cmd = job;
	sd->fmt_internal = immed;
	if (immed)
		scsi_done_good(cmd);
	if (scsi_lock(job, SCSI_LOCK_EXCL, 0, UINT64_MAX, fmt_start))
		fmt_start(job);
}
