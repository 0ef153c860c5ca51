/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libtcmu/runner.c — TEMPORARY stub until the runner lands. */
#include "tcmu_internal.h"

void runner_call(struct tcmu_cmd *cmd, tcmu_cmd_cont_fn cont)
{
	if (cont)
		cont(cmd, -95);
}

void runner_finish(struct tcmu_cmd *cmd)
{
}
