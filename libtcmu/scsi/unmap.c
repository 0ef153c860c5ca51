/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/unmap.c — UNMAP (SBC-3 5.28): a parameter list of block
 * descriptors, checked against the limits of VPD page B0h, handed to the
 * handler's unmap() as one list of byte ranges.
 */
#include <stdlib.h>
#include <string.h>

#include "scsi_priv.h"

#define UNMAP_HDR 8
#define UNMAP_DESC 16

static void unmap_issue(struct tcmu_cmd *cmd)
{
	struct scsi_cstate *cs = cmd->core_priv;

	memset(&cmd->io, 0, sizeof(cmd->io));
	cmd->io.op = TCMU_IO_UNMAP;
	cmd->io.ranges = cs->ranges;
	cmd->io.nr_ranges = cs->aux;
	runner_call(cmd, scsi_cont_complete);
}

void sbc_unmap(struct tcmu_cmd *cmd)
{
	struct tcmu_device *dev = cmd->dev;
	size_t plen = tcmu_get_be16(&cmd->cdb[7]);
	uint32_t bs = scsi_block_size(dev);
	uint64_t max_lbas = vpd_max_unmap_lbas(dev), total = 0;
	uint64_t lo = UINT64_MAX, hi = 0;
	uint8_t *buf;
	size_t bd_len, nd, nr = 0;
	struct scsi_cstate *cs;

	if (cmd->cdb[1] & 0x01) { /* ANCHOR: not supported */
		scsi_done_invalid_cdb(cmd, 1, 0);
		return;
	}
	if (!scsi_check_writable(cmd))
		return;
	if (plen == 0) {
		scsi_done_good(cmd);
		return;
	}
	if (plen < UNMAP_HDR || plen > cmd->data_len) {
		scsi_done_param_len(cmd);
		return;
	}
	cs = scsi_cstate_get(cmd);
	if (!cs) {
		scsi_done_nomem(cmd);
		return;
	}
	buf = cs->buf = malloc(plen);
	if (!buf) {
		scsi_done_nomem(cmd);
		return;
	}
	scsi_data_out(cmd, buf, plen);

	/*
	 * Only complete descriptors inside the parameter list count (a
	 * BLOCK DESCRIPTOR DATA LENGTH beyond it is truncated, like LIO).
	 */
	bd_len = SCSI_MIN((size_t)tcmu_get_be16(&buf[2]), plen - UNMAP_HDR);
	nd = bd_len / UNMAP_DESC;
	if (nd > SCSI_MAX_UNMAP_DESC) {
		scsi_done_invalid_param(cmd, 2, 7);
		return;
	}
	if (nd == 0) {
		scsi_done_good(cmd);
		return;
	}
	cs->ranges = calloc(nd, sizeof(*cs->ranges));
	if (!cs->ranges) {
		scsi_done_nomem(cmd);
		return;
	}
	for (size_t i = 0; i < nd; i++) {
		const uint8_t *d = &buf[UNMAP_HDR + i * UNMAP_DESC];
		uint64_t lba = tcmu_get_be64(&d[0]);
		uint32_t n = tcmu_get_be32(&d[8]);

		if (!scsi_lba_ok(dev, lba, n)) {
			scsi_done_lba_range(cmd);
			return;
		}
		total += n;
		if (max_lbas != 0xffffffffu && total > max_lbas) {
			scsi_done_invalid_param(
				cmd, (unsigned)(UNMAP_HDR + i * UNMAP_DESC + 8), 7);
			return;
		}
		if (!n)
			continue;
		cs->ranges[nr].offset = lba * bs;
		cs->ranges[nr].length = (uint64_t)n * bs;
		nr++;
		lo = SCSI_MIN(lo, lba);
		hi = SCSI_MAX(hi, lba + n);
	}
	if (!nr) {
		scsi_done_good(cmd);
		return;
	}
	cs->aux = (uint32_t)nr;
	/* One lock over the span of all ranges orders it against CAW. */
	if (scsi_lock(cmd, SCSI_LOCK_SHARED, lo, hi - lo, unmap_issue))
		unmap_issue(cmd);
}
