/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/write_same.c — WRITE SAME (10)(16) (SBC-3 5.41, 5.42),
 * with UNMAP and NDOB.
 *
 * In order of preference: the handler's unmap() when UNMAP is set, the
 * pattern is zero and unmapped blocks read back as zeroes; the handler's
 * write_same(); or an emulation that writes a buffer filled with the
 * pattern, chunk by chunk.
 */
#include <stdlib.h>
#include <string.h>

#include "scsi_priv.h"

static void ws_next(struct tcmu_cmd *cmd);

static void ws_chunk_done(struct tcmu_cmd *cmd, int result)
{
	struct scsi_cstate *cs = cmd->core_priv;

	if (result) {
		scsi_complete_result(cmd, result);
		return;
	}
	cs->pos += cmd->io.length;
	ws_next(cmd);
}

/* Emulation: write the next chunk of pattern blocks. */
static void ws_next(struct tcmu_cmd *cmd)
{
	struct scsi_cstate *cs = cmd->core_priv;
	uint32_t bs = scsi_block_size(cmd->dev);
	uint64_t total = cs->nlb * bs;
	size_t n;

	if (cs->pos >= total) {
		scsi_done_good(cmd);
		return;
	}
	n = (size_t)SCSI_MIN(total - cs->pos, (uint64_t)cs->buf_len);
	cs->biov[0].iov_base = cs->buf;
	cs->biov[0].iov_len = n;
	memset(&cmd->io, 0, sizeof(cmd->io));
	cmd->io.op = TCMU_IO_WRITE;
	cmd->io.offset = cs->lba * bs + cs->pos;
	cmd->io.length = n;
	cmd->io.iov = cs->biov;
	cmd->io.iovcnt = 1;
	cmd->io.flags = cs->io_flags;
	runner_call(cmd, ws_chunk_done);
}

/* step values */
enum { WS_UNMAP = 1, WS_HANDLER, WS_EMULATE };

static void ws_issue(struct tcmu_cmd *cmd)
{
	struct scsi_cstate *cs = cmd->core_priv;
	uint32_t bs = scsi_block_size(cmd->dev);

	memset(&cmd->io, 0, sizeof(cmd->io));
	switch (cs->step) {
	case WS_UNMAP:
		cmd->io.op = TCMU_IO_UNMAP;
		cmd->io.ranges = cs->ranges;
		cmd->io.nr_ranges = cs->aux;
		runner_call(cmd, scsi_cont_complete);
		return;
	case WS_HANDLER:
		cmd->io.op = TCMU_IO_WRITE_SAME;
		cmd->io.offset = cs->lba * bs;
		cmd->io.length = cs->nlb * bs;
		cmd->io.iov = cs->biov;
		cmd->io.iovcnt = 1;
		cmd->io.flags = cs->io_flags;
		runner_call(cmd, scsi_cont_complete);
		return;
	default:
		cs->pos = 0;
		ws_next(cmd);
		return;
	}
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Split [lba, lba + nlb) into ranges of at most max_unmap_len bytes. */
static bool build_ranges(struct tcmu_cmd *cmd, struct scsi_cstate *cs)
{
	const struct tcmu_handler *h = scsi_handler(cmd);
	uint32_t bs = scsi_block_size(cmd->dev);
	uint64_t off = cs->lba * bs, left = cs->nlb * bs, max = left;
	size_t nr;

	if (h->max_unmap_len && h->max_unmap_len >= bs)
		max = h->max_unmap_len - h->max_unmap_len % bs;
	nr = (size_t)((left + max - 1) / max);
	cs->ranges = calloc(nr, sizeof(*cs->ranges));
	if (!cs->ranges)
		return false;
	for (size_t i = 0; i < nr; i++) {
		uint64_t l = SCSI_MIN(left, max);

		cs->ranges[i].offset = off;
		cs->ranges[i].length = l;
		off += l;
		left -= l;
	}
	cs->aux = (uint32_t)nr;
	return true;
}

void sbc_write_same(struct tcmu_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	const struct tcmu_handler *h = scsi_handler(cmd);
	bool sixteen = cdb[0] == TCMU_SCSI_OP_WRITE_SAME_16;
	bool unmap = cdb[1] & 0x08, ndob = sixteen && (cdb[1] & 0x01);
	unsigned int len_byte = sixteen ? 10 : 7;
	uint64_t lba = sixteen ? tcmu_get_be64(&cdb[2]) : tcmu_get_be32(&cdb[2]);
	uint32_t nlb = sixteen ? tcmu_get_be32(&cdb[10]) : tcmu_get_be16(&cdb[7]);
	uint32_t bs = scsi_block_size(cmd->dev);
	struct scsi_cstate *cs;
	bool zero;

	if (cdb[1] >> 5) { /* WRPROTECT */
		scsi_done_invalid_cdb(cmd, 1, 7);
		return;
	}
	if (cdb[1] & 0x10) { /* ANCHOR */
		scsi_done_invalid_cdb(cmd, 1, 4);
		return;
	}
	if (cdb[1] & 0x06) { /* PBDATA, LBDATA */
		scsi_done_invalid_cdb(cmd, 1, (cdb[1] & 0x04) ? 2 : 1);
		return;
	}
	if (!nlb || nlb > SCSI_MAX_WRITE_SAME) { /* WSNZ is set */
		scsi_done_invalid_cdb(cmd, len_byte, -1);
		return;
	}
	if (!scsi_lba_ok(cmd->dev, lba, nlb)) {
		scsi_done_lba_range(cmd);
		return;
	}
	if (!ndob && cmd->data_len != bs) {
		scsi_done_invalid_cdb(cmd, len_byte, -1);
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
	cs->io_flags = scsi_write_flags(cmd->dev, false);

	/* The one-block pattern, in a buffer we may replicate. */
	cs->buf_len = (size_t)SCSI_MIN((uint64_t)nlb * bs,
				       (uint64_t)SCSI_BOUNCE_MAX);
	cs->buf_len -= cs->buf_len % bs;
	if (!h->write_same || ndob || unmap)
		cs->buf = calloc(1, cs->buf_len);
	else
		cs->buf = malloc(bs);
	if (!cs->buf) {
		scsi_done_nomem(cmd);
		return;
	}
	if (!ndob)
		scsi_data_out(cmd, cs->buf, bs);
	zero = ndob || all_zero(cs->buf, bs);
	cs->biov[0].iov_base = cs->buf;
	cs->biov[0].iov_len = bs;

	if (unmap && zero && h->unmap && h->unmap_zeroes) {
		cs->step = WS_UNMAP;
		if (!build_ranges(cmd, cs)) {
			scsi_done_nomem(cmd);
			return;
		}
	} else if (h->write_same) {
		cs->step = WS_HANDLER;
		if (unmap)
			cs->io_flags |= TCMU_WRITE_SAME_UNMAP;
	} else {
		cs->step = WS_EMULATE;
		for (size_t o = bs; o < cs->buf_len; o += bs)
			memcpy(cs->buf + o, cs->buf, bs);
	}
	if (scsi_lock(cmd, SCSI_LOCK_SHARED, lba, nlb, ws_issue))
		ws_issue(cmd);
}
