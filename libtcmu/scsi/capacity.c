/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/capacity.c — READ CAPACITY (10)(16) and GET LBA STATUS
 * (SBC-3 5.15, 5.16, 5.7).
 */
#include <string.h>

#include "scsi_priv.h"

/* READ CAPACITY (10): last LBA (FFFFFFFFh if it does not fit) and block length. */
void sbc_read_capacity10(struct tcmu_cmd *cmd)
{
	uint64_t n = scsi_num_lbas(cmd->dev);
	uint8_t buf[8];

	/* PMI clear requires LOGICAL BLOCK ADDRESS zero (SBC-3). */
	if (!(cmd->cdb[8] & 0x01) && tcmu_get_be32(&cmd->cdb[2])) {
		scsi_done_invalid_cdb(cmd, 2, 7);
		return;
	}
	uint64_t last = n ? n - 1 : 0;

	tcmu_put_be32(&buf[0], (uint32_t)SCSI_MIN(last, 0xffffffffull));
	tcmu_put_be32(&buf[4], scsi_block_size(cmd->dev));
	scsi_data_in(cmd, buf, sizeof(buf), sizeof(buf));
	scsi_done_good(cmd);
}

/*
 * READ CAPACITY (16): last LBA, block length, and LBPME / LBPRZ when the
 * handler can unmap (and unmapped blocks read back as zeroes).
 */
void sbc_read_capacity16(struct tcmu_cmd *cmd)
{
	const struct tcmu_handler *h = scsi_handler(cmd);
	uint64_t n = scsi_num_lbas(cmd->dev);
	size_t alloc = tcmu_get_be32(&cmd->cdb[10]);
	uint8_t buf[32] = { 0 };

	tcmu_put_be64(&buf[0], n ? n - 1 : 0);
	tcmu_put_be32(&buf[8], scsi_block_size(cmd->dev));
	if (h->unmap) {
		buf[14] = 0x80; /* LBPME */
		if (h->unmap_zeroes)
			buf[14] |= 0x40; /* LBPRZ */
	}
	scsi_data_in(cmd, buf, sizeof(buf), alloc);
	scsi_done_good(cmd);
}

#define LBA_STATUS_MAX_DESC 64

/*
 * GET LBA STATUS: provisioning status from the handler's get_lba_status()
 * (several descriptors, as far as the allocation length allows), or one
 * "mapped" descriptor up to the end of the medium when the handler cannot
 * tell.
 */
void sbc_get_lba_status(struct tcmu_cmd *cmd)
{
	struct tcmu_device *dev = cmd->dev;
	const struct tcmu_handler *h = scsi_handler(cmd);
	uint64_t lba = tcmu_get_be64(&cmd->cdb[2]);
	size_t alloc = tcmu_get_be32(&cmd->cdb[10]);
	uint64_t end = scsi_num_lbas(dev);
	uint32_t bs = scsi_block_size(dev);
	uint8_t buf[8 + 16 * LBA_STATUS_MAX_DESC] = { 0 };
	size_t max_desc, nd = 0;

	if (lba >= end) {
		scsi_done_lba_range(cmd);
		return;
	}
	max_desc = alloc > 8 ? (alloc - 8 + 15) / 16 : 1;
	max_desc = SCSI_MIN(SCSI_MAX(max_desc, (size_t)1),
			    (size_t)LBA_STATUS_MAX_DESC);

	while (nd < max_desc && lba < end) {
		uint8_t *d = &buf[8 + 16 * nd];
		bool mapped = true;
		uint64_t blocks = end - lba;

		if (h->get_lba_status) {
			uint64_t ext = 0;
			int ret = h->get_lba_status(dev, lba * bs, &mapped,
						    &ext);

			if (ret) {
				cmd->io.op = TCMU_IO_READ;
				scsi_complete_result(cmd, ret);
				return;
			}
			blocks = ext / bs;
			if (!blocks)
				blocks = 1;
			blocks = SCSI_MIN(blocks, end - lba);
		}
		blocks = SCSI_MIN(blocks, 0xffffffffull);
		tcmu_put_be64(&d[0], lba);
		tcmu_put_be32(&d[8], (uint32_t)blocks);
		d[12] = mapped ? 0x00 : 0x01; /* mapped / deallocated */
		nd++;
		lba += blocks;
		if (!h->get_lba_status)
			break;
	}
	/* PARAMETER DATA LENGTH counts the bytes after itself. */
	tcmu_put_be32(&buf[0], (uint32_t)(4 + 16 * nd));
	scsi_data_in(cmd, buf, 8 + 16 * nd, alloc);
	scsi_done_good(cmd);
}
