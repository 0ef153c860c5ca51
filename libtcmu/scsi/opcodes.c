/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/opcodes.c — REPORT SUPPORTED OPERATION CODES (SPC-4 6.35):
 * all commands, or one (with or without service action), optionally with
 * command timeouts descriptors (RCTD).
 */
#include <stdlib.h>
#include <string.h>

#include "scsi_priv.h"

/* Command timeouts descriptor (SPC-4 6.35.4), 12 bytes. */
static size_t put_timeouts(uint8_t *p, const struct scsi_op *op)
{
	tcmu_put_be16(&p[0], 0x0a); /* DESCRIPTOR LENGTH */
	p[2] = 0;
	p[3] = 0;                    /* COMMAND SPECIFIC */
	tcmu_put_be32(&p[4], 0);     /* NOMINAL COMMAND PROCESSING TIMEOUT */
	tcmu_put_be32(&p[8], op->timeout); /* RECOMMENDED COMMAND TIMEOUT */
	return 12;
}

static void report_all(struct tcmu_cmd *cmd, bool rctd, size_t alloc)
{
	size_t dlen = rctd ? 20 : 8;
	size_t size = 4 + scsi_ops_count * dlen, off = 4;
	uint8_t *buf = calloc(1, size);

	if (!buf) {
		scsi_done_nomem(cmd);
		return;
	}
	for (size_t i = 0; i < scsi_ops_count; i++) {
		const struct scsi_op *op = &scsi_ops[i];
		uint8_t *p = &buf[off];

		if (!scsi_op_enabled(cmd->dev, op))
			continue;
		p[0] = op->opcode;
		if (op->flags & SCSI_OPF_SA) {
			tcmu_put_be16(&p[2], op->sa);
			p[5] |= 0x01; /* SERVACTV */
		}
		if (rctd)
			p[5] |= 0x02; /* CTDP */
		tcmu_put_be16(&p[6], op->cdb_len);
		off += 8;
		if (rctd)
			off += put_timeouts(&buf[off], op);
	}
	tcmu_put_be32(&buf[0], (uint32_t)(off - 4)); /* COMMAND DATA LENGTH */
	scsi_data_in(cmd, buf, off, alloc);
	free(buf);
	scsi_done_good(cmd);
}

/* Does any entry of the table carry service actions for @opcode? */
static bool has_sa(uint8_t opcode)
{
	for (size_t i = 0; i < scsi_ops_count; i++)
		if (scsi_ops[i].opcode == opcode &&
		    (scsi_ops[i].flags & SCSI_OPF_SA))
			return true;
	return false;
}

static void report_one(struct tcmu_cmd *cmd, int options, bool rctd,
		       size_t alloc)
{
	const uint8_t *cdb = cmd->cdb;
	uint8_t opcode = cdb[3];
	uint16_t sa = tcmu_get_be16(&cdb[4]);
	const struct scsi_op *found = NULL;
	uint8_t buf[4 + 16 + 12] = { 0 };
	size_t off = 4;

	if (options == 1 && has_sa(opcode)) {
		/* The opcode needs a service action to be named. */
		scsi_done_invalid_cdb(cmd, 2, 2);
		return;
	}
	if (options == 2 && !has_sa(opcode)) {
		scsi_done_invalid_cdb(cmd, 2, 2);
		return;
	}
	for (size_t i = 0; i < scsi_ops_count; i++) {
		const struct scsi_op *op = &scsi_ops[i];

		if (op->opcode != opcode)
			continue;
		if ((op->flags & SCSI_OPF_SA) && op->sa != sa)
			continue;
		if (!(op->flags & SCSI_OPF_SA) && options == 3 && sa)
			continue;
		if (scsi_op_enabled(cmd->dev, op))
			found = op;
		break;
	}

	if (!found) {
		buf[1] = 0x01; /* SUPPORT: not supported */
	} else {
		buf[1] = 0x03; /* SUPPORT: supported per the standard */
		if (rctd)
			buf[1] |= 0x80; /* CTDP */
		tcmu_put_be16(&buf[2], found->cdb_len);
		memcpy(&buf[4], found->usage, found->cdb_len);
		off += found->cdb_len;
		if (rctd)
			off += put_timeouts(&buf[off], found);
	}
	scsi_data_in(cmd, buf, off, alloc);
	scsi_done_good(cmd);
}

void spc_report_opcodes(struct tcmu_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	bool rctd = cdb[2] & 0x80;
	int options = cdb[2] & 0x07;
	size_t alloc = tcmu_get_be32(&cdb[6]);

	switch (options) {
	case 0:
		report_all(cmd, rctd, alloc);
		return;
	case 1:
	case 2:
	case 3:
		report_one(cmd, options, rctd, alloc);
		return;
	default:
		scsi_done_invalid_cdb(cmd, 2, 2);
	}
}
