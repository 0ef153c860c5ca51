/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/caw.c — COMPARE AND WRITE (SBC-3 5.2).
 *
 * The data-out buffer holds the verify data then the write data, NUMBER OF
 * LOGICAL BLOCKS each. A handler with compare_and_write() gets both halves
 * and guarantees atomicity itself. Otherwise the core reads the blocks,
 * compares and writes, holding an exclusive lock on the range (lock.c) so
 * that no other write to those blocks runs between the read and the write.
 * A miscompare reports MISCOMPARE / MISCOMPARE DURING VERIFY OPERATION with
 * the offset of the first differing byte in the INFORMATION field.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi_priv.h"

/* Slice half @half (0 verify, 1 write) of the data-out into cs->iov. */
static int slice_half(struct tcmu_cmd *cmd, struct scsi_cstate *cs, int half,
		      struct iovec **out, size_t *cnt)
{
	size_t len = cs->nlb * scsi_block_size(cmd->dev);
	size_t off = half ? len : 0;
	size_t n = scsi_iov_count(cmd->iov, cmd->iov_cnt, off, len);
	int r;

	*out = cs->iov + cs->iov_cap;
	r = scsi_iov_slice(cmd->iov, cmd->iov_cnt, off, len, *out, n);
	if (r < 0)
		return -1;
	cs->iov_cap += (size_t)r;
	*cnt = (size_t)r;
	return 0;
}

static void caw_native(struct tcmu_cmd *cmd)
{
	struct scsi_cstate *cs = cmd->core_priv;
	uint32_t bs = scsi_block_size(cmd->dev);
	struct iovec *cmp, *data;
	size_t ncmp, ndata;

	if (slice_half(cmd, cs, 0, &cmp, &ncmp) < 0 ||
	    slice_half(cmd, cs, 1, &data, &ndata) < 0) {
		scsi_complete_result(cmd, -EINVAL); /* data-out shorter than the CDB says */
		return;
	}
	memset(&cmd->io, 0, sizeof(cmd->io));
	cmd->io.op = TCMU_IO_COMPARE_AND_WRITE;
	cmd->io.offset = cs->lba * bs;
	cmd->io.length = cs->nlb * bs;
	cmd->io.cmp_iov = cmp;
	cmd->io.cmp_iovcnt = ncmp;
	cmd->io.iov = data;
	cmd->io.iovcnt = ndata;
	cmd->io.flags = cs->io_flags;
	runner_call(cmd, scsi_cont_complete);
}

static void caw_written(struct tcmu_cmd *cmd, int result)
{
	scsi_complete_result(cmd, result);
}

static void caw_read_done(struct tcmu_cmd *cmd, int result)
{
	struct scsi_cstate *cs = cmd->core_priv;
	uint32_t bs = scsi_block_size(cmd->dev);
	size_t len = cs->nlb * bs;
	uint8_t *verify = cs->buf + len;
	struct iovec *data;
	size_t ndata;

	if (result) {
		scsi_complete_result(cmd, result);
		return;
	}
	scsi_iov_get(cmd->iov, cmd->iov_cnt, 0, verify, len);
	if (memcmp(cs->buf, verify, len)) {
		struct scsi_sense s = {
			.key = TCMU_SENSE_MISCOMPARE,
			.asc = TCMU_ASC_MISCOMPARE_DURING_VERIFY,
			.info_valid = true,
		};
		size_t i = 0;

		while (cs->buf[i] == verify[i])
			i++;
		s.info = i;
		scsi_done_sense(cmd, &s);
		return;
	}
	if (slice_half(cmd, cs, 1, &data, &ndata) < 0) {
		scsi_complete_result(cmd, -EINVAL);
		return;
	}
	memset(&cmd->io, 0, sizeof(cmd->io));
	cmd->io.op = TCMU_IO_WRITE;
	cmd->io.offset = cs->lba * bs;
	cmd->io.length = len;
	cmd->io.iov = data;
	cmd->io.iovcnt = ndata;
	cmd->io.flags = cs->io_flags;
	runner_call(cmd, caw_written);
}

static void caw_emulate(struct tcmu_cmd *cmd)
{
	struct scsi_cstate *cs = cmd->core_priv;
	uint32_t bs = scsi_block_size(cmd->dev);

	cs->biov[0].iov_base = cs->buf;
	cs->biov[0].iov_len = cs->nlb * bs;
	memset(&cmd->io, 0, sizeof(cmd->io));
	cmd->io.op = TCMU_IO_READ;
	cmd->io.offset = cs->lba * bs;
	cmd->io.length = cs->nlb * bs;
	cmd->io.iov = cs->biov;
	cmd->io.iovcnt = 1;
	runner_call(cmd, caw_read_done);
}

void sbc_compare_and_write(struct tcmu_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	const struct tcmu_handler *h = scsi_handler(cmd);
	uint64_t lba = tcmu_get_be64(&cdb[2]);
	uint32_t nlb = cdb[13], bs = scsi_block_size(cmd->dev);
	struct scsi_cstate *cs;
	size_t len = (size_t)nlb * bs;

	if (cdb[1] >> 5) { /* WRPROTECT */
		scsi_done_invalid_cdb(cmd, 1, 7);
		return;
	}
	if (nlb > vpd_max_caw_blocks(cmd->dev)) {
		scsi_done_invalid_cdb(cmd, 13, -1);
		return;
	}
	if (!scsi_lba_ok(cmd->dev, lba, nlb)) {
		scsi_done_lba_range(cmd);
		return;
	}
	if (!nlb) {
		scsi_done_good(cmd);
		return;
	}
	if (cmd->data_len != 2 * len) {
		scsi_done_invalid_cdb(cmd, 13, -1);
		return;
	}
	if (!scsi_check_writable(cmd))
		return;
	cs = scsi_cstate_get(cmd);
	if (!cs) {
		scsi_done_nomem(cmd);
		return;
	}
	cs->lba = lba;
	cs->nlb = nlb;
	cs->io_flags = scsi_write_flags(cmd->dev, cdb[1] & 0x08);
	/* Room for the iovecs of both halves. */
	cs->iov = calloc(cmd->iov_cnt + 2, sizeof(*cs->iov));
	if (!cs->iov) {
		scsi_done_nomem(cmd);
		return;
	}
	cs->iov_cap = 0; /* used entries */

	if (h->compare_and_write) {
		if (scsi_lock(cmd, SCSI_LOCK_SHARED, lba, nlb, caw_native))
			caw_native(cmd);
		return;
	}
	cs->buf = malloc(2 * len); /* medium data, then verify data */
	if (!cs->buf) {
		scsi_done_nomem(cmd);
		return;
	}
	if (scsi_lock(cmd, SCSI_LOCK_EXCL, lba, nlb, caw_emulate))
		caw_emulate(cmd);
}
