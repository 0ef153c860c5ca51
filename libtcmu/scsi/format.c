/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libtcmu/scsi/format.c — FORMAT UNIT (being written). */
#include "scsi_priv.h"

void sbc_format_unit(struct tcmu_cmd *cmd)
{
	scsi_done_invalid_op(cmd);
}
