/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/cmdtimeout.h — the per-device command time-out option in a config
 * string, compatible with tcmu-runner: ";tcmur_cmd_time_out=N;" (seconds)
 * as a prefix ("file/;tcmur_cmd_time_out=30;/img" gives "/img"), or as a
 * ';'-separated option elsewhere ("vol@host/img;tcmur_cmd_time_out=30"
 * gives "vol@host/img").
 */
#ifndef TCMUD_CMDTIMEOUT_H
#define TCMUD_CMDTIMEOUT_H

#include <stdbool.h>

#define CMD_TIMEOUT_KEY "tcmur_cmd_time_out="
#define CMD_TIMEOUT_MAX 86400 /* one day is more than any initiator waits */

/*
 * cmd_timeout_strip — remove every ";tcmur_cmd_time_out=N" option from
 * @cfg in place (a prefix option loses both of its ';'). *@found tells
 * whether there was one and *@seconds gets N (the last one wins). Any
 * thread. Returns 0, or -EINVAL when N is not a decimal number in
 * 0..CMD_TIMEOUT_MAX (then @cfg is unchanged).
 */
int cmd_timeout_strip(char *cfg, unsigned int *seconds, bool *found);

#endif
