/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/sbc_rw.c — READ and WRITE (6)(10)(12)(16), VERIFY (10)(16),
 * WRITE AND VERIFY (10)(12)(16) and SYNCHRONIZE CACHE (10)(16) (SBC-3).
 *
 * READ and WRITE are the hot path: no allocation once the state pool is
 * warm, the handler gets the data area iovecs as they are.
 */
#include <stdlib.h>
#include <string.h>

#include "scsi_priv.h"

/* The fields of a READ / WRITE / VERIFY style CDB. */
struct rw_cdb {
	uint64_t lba;
	uint32_t nlb;
	bool fua;
	uint8_t protect;       /* RDPROTECT / WRPROTECT / VRPROTECT */
	unsigned int len_byte; /* where TRANSFER LENGTH starts */
};

static void parse_rw(const uint8_t *cdb, struct rw_cdb *rw)
{
	memset(rw, 0, sizeof(*rw));
	switch (cdb[0] >> 5) {
	case 0: /* 6-byte */
		rw->lba = tcmu_get_be24(&cdb[1]) & 0x1fffff;
		rw->nlb = cdb[4] ? cdb[4] : 256;
		rw->len_byte = 4;
		return;
	case 1: /* 10-byte */
	case 2:
		rw->lba = tcmu_get_be32(&cdb[2]);
		rw->nlb = tcmu_get_be16(&cdb[7]);
		rw->len_byte = 7;
		break;
	case 5: /* 12-byte */
		rw->lba = tcmu_get_be32(&cdb[2]);
		rw->nlb = tcmu_get_be32(&cdb[6]);
		rw->len_byte = 6;
		break;
	default: /* 16-byte */
		rw->lba = tcmu_get_be64(&cdb[2]);
		rw->nlb = tcmu_get_be32(&cdb[10]);
		rw->len_byte = 10;
		break;
	}
	rw->fua = cdb[1] & 0x08;
	rw->protect = cdb[1] >> 5;
}

/*
 * scsi_check_rw — common checks of a data transfer command: protection
 * information, LBA range, and a data area that holds exactly (writes) or
 * at least (reads) the transfer. Completes the command and returns false
 * when a check fails.
 */
static bool check_rw(struct tcmu_cmd *cmd, const struct rw_cdb *rw,
		     bool data_in)
{
	uint64_t len;

	if (rw->protect) {
		scsi_done_invalid_cdb(cmd, 1, 7);
		return false;
	}
	if (!scsi_lba_ok(cmd->dev, rw->lba, rw->nlb)) {
		scsi_done_lba_range(cmd);
		return false;
	}
	len = (uint64_t)rw->nlb * scsi_block_size(cmd->dev);
	if (data_in ? cmd->data_len < len : cmd->data_len != len) {
		tcmu_dev_dbg(cmd->dev,
			     "opcode 0x%02x: transfer of %llu bytes, data area %llu",
			     cmd->cdb[0], (unsigned long long)len,
			     (unsigned long long)cmd->data_len);
		scsi_done_invalid_cdb(cmd, rw->len_byte, -1);
		return false;
	}
	return true;
}

/* Fill cmd->io for a handler call. */
static void set_io(struct tcmu_cmd *cmd, enum tcmu_io_op op, uint64_t lba,
		   uint64_t bytes, const struct iovec *iov, size_t cnt,
		   unsigned int flags)
{
	cmd->io = (struct tcmu_io){
		.op = op,
		.flags = flags,
		.offset = lba * scsi_block_size(cmd->dev),
		.length = bytes,
		.iov = iov,
		.iovcnt = cnt,
	};
}

/* READ (6)(10)(12)(16). */
void sbc_read(struct tcmu_cmd *cmd)
{
	struct rw_cdb rw;
	uint64_t len;

	parse_rw(cmd->cdb, &rw);
	if (!check_rw(cmd, &rw, true))
		return;
	if (!rw.nlb) {
		scsi_done_good(cmd);
		return;
	}
	len = (uint64_t)rw.nlb * scsi_block_size(cmd->dev);
	if (cmd->data_len == len) {
		set_io(cmd, TCMU_IO_READ, rw.lba, len, cmd->iov, cmd->iov_cnt, 0);
	} else {
		/* Larger data area than the transfer: read into a prefix. */
		struct scsi_cstate *cs = scsi_cstate_get(cmd);
		size_t n;

		if (!cs) {
			scsi_done_nomem(cmd);
			return;
		}
		n = scsi_iov_count(cmd->iov, cmd->iov_cnt, 0, len);
		cs->iov = calloc(n, sizeof(*cs->iov));
		if (!cs->iov) {
			scsi_done_nomem(cmd);
			return;
		}
		scsi_iov_slice(cmd->iov, cmd->iov_cnt, 0, len, cs->iov, n);
		cmd->read_len = (uint32_t)len;
		cmd->read_len_set = true;
		set_io(cmd, TCMU_IO_READ, rw.lba, len, cs->iov, n, 0);
		runner_call(cmd, scsi_cont_complete);
		return;
	}
	runner_call(cmd, NULL);
}

static void write_issue(struct tcmu_cmd *cmd)
{
	struct scsi_cstate *cs = cmd->core_priv;

	set_io(cmd, TCMU_IO_WRITE, cs->lba,
	       cs->nlb * scsi_block_size(cmd->dev), cmd->iov, cmd->iov_cnt,
	       cs->io_flags);
	runner_call(cmd, scsi_cont_complete);
}

/* Is the handler able to write? Completes with WRITE PROTECTED if not. */
bool scsi_check_writable(struct tcmu_cmd *cmd)
{
	if (scsi_handler(cmd)->write)
		return true;
	scsi_done_check(cmd, TCMU_SENSE_DATA_PROTECT, TCMU_ASC_WRITE_PROTECTED);
	return false;
}

/* WRITE (6)(10)(12)(16). */
void sbc_write(struct tcmu_cmd *cmd)
{
	struct scsi_cstate *cs;
	struct rw_cdb rw;

	parse_rw(cmd->cdb, &rw);
	if (!check_rw(cmd, &rw, false))
		return;
	if (!rw.nlb) {
		scsi_done_good(cmd);
		return;
	}
	if (!scsi_handler(cmd)->write) {
		scsi_check_writable(cmd); /* completes with WRITE PROTECTED */
		return;
	}
	/* Only the lock and the range: no scratch is needed (see scsi_cstate). */
	cs = scsi_cstate_get_light(cmd);
	if (!cs) {
		scsi_done_nomem(cmd);
		return;
	}
	cs->lba = rw.lba;
	cs->nlb = rw.nlb;
	cs->io_flags = scsi_write_flags(cmd->dev, rw.fua);
	if (scsi_lock(cmd, SCSI_LOCK_SHARED, rw.lba, rw.nlb, write_issue))
		write_issue(cmd);
}

/* ---------------------------------------------------------------- */
/* Comparing the medium with data-out: VERIFY, WRITE AND VERIFY      */
/* ---------------------------------------------------------------- */

enum { CMP_ALL = 1, CMP_ONE_BLOCK = 3 };

static void compare_next(struct tcmu_cmd *cmd);

/*
 * The chunk [pos, pos + n) of the range is in cs->buf: compare it with the
 * data-out buffer (all of it, or its one block repeated).
 */
static void compare_read_done(struct tcmu_cmd *cmd, int result)
{
	struct scsi_cstate *cs = cmd->core_priv;
	uint32_t bs = scsi_block_size(cmd->dev);
	size_t n = cmd->io.length, done = 0;
	uint8_t tmp[4096];

	if (result) {
		scsi_complete_result(cmd, result);
		return;
	}
	while (done < n) {
		size_t at = cs->pos + done, l = SCSI_MIN(sizeof(tmp), n - done);
		size_t src = at;

		if (cs->aux == CMP_ONE_BLOCK) {
			src = at % bs;
			l = SCSI_MIN(l, bs - src);
		}
		scsi_iov_get(cmd->iov, cmd->iov_cnt, src, tmp, l);
		if (memcmp(tmp, cs->buf + done, l)) {
			struct scsi_sense s = {
				.key = TCMU_SENSE_MISCOMPARE,
				.asc = TCMU_ASC_MISCOMPARE_DURING_VERIFY,
				.info_valid = true,
			};
			size_t i = 0;

			while (tmp[i] == cs->buf[done + i])
				i++;
			s.info = at + i;
			scsi_done_sense(cmd, &s);
			return;
		}
		done += l;
	}
	cs->pos += n;
	compare_next(cmd);
}

static void compare_next(struct tcmu_cmd *cmd)
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
	set_io(cmd, TCMU_IO_READ, cs->lba, n, cs->biov, 1, 0);
	cmd->io.offset += cs->pos;
	runner_call(cmd, compare_read_done);
}

/* Start comparing [cs->lba, + cs->nlb) with data-out in mode cs->aux. */
static void compare_start(struct tcmu_cmd *cmd)
{
	struct scsi_cstate *cs = cmd->core_priv;
	uint32_t bs = scsi_block_size(cmd->dev);
	uint64_t total = cs->nlb * bs;

	cs->buf_len = (size_t)SCSI_MIN(total, (uint64_t)SCSI_BOUNCE_MAX);
	if (cs->buf_len > bs)
		cs->buf_len -= cs->buf_len % bs;
	cs->buf = malloc(cs->buf_len);
	if (!cs->buf) {
		scsi_done_nomem(cmd);
		return;
	}
	cs->pos = 0;
	compare_next(cmd);
}

/* VERIFY (10)(16) with BYTCHK 00b (medium only), 01b or 11b. */
void sbc_verify(struct tcmu_cmd *cmd)
{
	struct scsi_cstate *cs;
	struct rw_cdb rw;
	int bytchk = (cmd->cdb[1] >> 1) & 0x03;
	uint64_t need;
	uint32_t bs = scsi_block_size(cmd->dev);

	parse_rw(cmd->cdb, &rw);
	if (rw.protect) {
		scsi_done_invalid_cdb(cmd, 1, 7);
		return;
	}
	if (bytchk == 2) {
		scsi_done_invalid_cdb(cmd, 1, 2);
		return;
	}
	if (!scsi_lba_ok(cmd->dev, rw.lba, rw.nlb)) {
		scsi_done_lba_range(cmd);
		return;
	}
	if (!rw.nlb || !bytchk) {
		/* Nothing to compare; the medium is always readable. */
		scsi_done_good(cmd);
		return;
	}
	need = bytchk == CMP_ALL ? (uint64_t)rw.nlb * bs : bs;
	if (cmd->data_len != need) {
		scsi_done_invalid_cdb(cmd, rw.len_byte, -1);
		return;
	}
	cs = scsi_cstate_get(cmd);
	if (!cs) {
		scsi_done_nomem(cmd);
		return;
	}
	cs->lba = rw.lba;
	cs->nlb = rw.nlb;
	cs->aux = (uint32_t)bytchk;
	compare_start(cmd);
}

static void write_verify_written(struct tcmu_cmd *cmd, int result)
{
	struct scsi_cstate *cs = cmd->core_priv;

	if (result || !cs->aux) {
		scsi_complete_result(cmd, result);
		return;
	}
	compare_start(cmd);
}

static void write_verify_issue(struct tcmu_cmd *cmd)
{
	struct scsi_cstate *cs = cmd->core_priv;

	set_io(cmd, TCMU_IO_WRITE, cs->lba,
	       cs->nlb * scsi_block_size(cmd->dev), cmd->iov, cmd->iov_cnt,
	       TCMU_IO_FUA);
	runner_call(cmd, write_verify_written);
}

/*
 * WRITE AND VERIFY (10)(12)(16): a write that reaches the medium (FUA),
 * then, with BYTCHK, a read back compared with the data-out buffer.
 */
void sbc_write_verify(struct tcmu_cmd *cmd)
{
	struct scsi_cstate *cs;
	struct rw_cdb rw;

	parse_rw(cmd->cdb, &rw);
	rw.fua = true;
	if (!check_rw(cmd, &rw, false))
		return;
	if (!rw.nlb) {
		scsi_done_good(cmd);
		return;
	}
	if (!scsi_check_writable(cmd))
		return;
	cs = scsi_cstate_get(cmd);
	if (!cs) {
		scsi_done_nomem(cmd);
		return;
	}
	cs->lba = rw.lba;
	cs->nlb = rw.nlb;
	cs->aux = (cmd->cdb[1] & 0x02) ? CMP_ALL : 0; /* BYTCHK */
	if (scsi_lock(cmd, SCSI_LOCK_SHARED, rw.lba, rw.nlb,
		      write_verify_issue))
		write_verify_issue(cmd);
}

/*
 * SYNCHRONIZE CACHE (10)(16): flush the handler's cache (it has no
 * per-range flush, so the whole cache). IMMED is honoured by completing
 * after the flush, which SBC allows.
 */
void sbc_sync_cache(struct tcmu_cmd *cmd)
{
	struct rw_cdb rw;

	parse_rw(cmd->cdb, &rw);
	if (!scsi_lba_ok(cmd->dev, rw.lba, rw.nlb)) {
		scsi_done_lba_range(cmd);
		return;
	}
	if (!scsi_handler(cmd)->flush) {
		scsi_done_good(cmd);
		return;
	}
	memset(&cmd->io, 0, sizeof(cmd->io));
	cmd->io.op = TCMU_IO_FLUSH;
	runner_call(cmd, scsi_cont_complete);
}
