/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libtcmu/scsi/xcopy.c — EXTENDED COPY (being written). */
#include "scsi_priv.h"

void spc_extended_copy(struct tcmu_cmd *cmd)
{
	scsi_done_invalid_op(cmd);
}

void spc_receive_copy_results(struct tcmu_cmd *cmd)
{
	scsi_done_invalid_op(cmd);
}
