/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/core.c — TEMPORARY stub of the SCSI core so the tree links
 * while the real one is written: every command fails with CHECK CONDITION,
 * ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE (fixed sense).
 */
#include <errno.h>
#include <string.h>

#include "tcmu_internal.h"

int scsi_dev_init(struct tcmu_device *dev)
{
	return 0;
}

void scsi_dev_free(struct tcmu_device *dev)
{
}

void scsi_capacity_changed(struct tcmu_device *dev)
{
}

static void fixed_sense(struct tcmu_cmd *cmd, uint8_t key, uint8_t asc,
			uint8_t ascq)
{
	memset(cmd->sense, 0, 18);
	cmd->sense[0] = 0x70;
	cmd->sense[2] = key;
	cmd->sense[7] = 10;
	cmd->sense[12] = asc;
	cmd->sense[13] = ascq;
	cmd->sense_len = 18;
	cmd->status = 0x02; /* CHECK CONDITION */
}

void scsi_result_to_sense(struct tcmu_cmd *cmd, int result)
{
	if (result == 0) {
		cmd->status = 0;
		cmd->sense_len = 0;
		return;
	}
	fixed_sense(cmd, 0x03, 0x11, 0x00); /* MEDIUM ERROR, UNRECOVERED READ ERROR */
}

void scsi_submit(struct tcmu_cmd *cmd)
{
	fixed_sense(cmd, 0x05, 0x20, 0x00);
	runner_finish(cmd);
}
