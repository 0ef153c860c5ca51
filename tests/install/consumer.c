/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * consumer.c — a program outside the tree, built only from the installed
 * headers and tcmu.pc: it must compile, link and run against libtcmu.
 */
#include <stdio.h>
#include <string.h>
#include <tcmu/libtcmu.h>

int main(void)
{
	struct tcmu_device_info info;
	int r;

	memset(&info, 0, sizeof(info));
	r = tcmu_parse_uio_name("tcm-user/1/d1/file//var/lib/d1.img", &info);
	if (r || strcmp(info.subtype, "file") || strcmp(info.cfgstring, "/var/lib/d1.img")) {
		fprintf(stderr, "parse failed: %d\n", r);
		return 1;
	}
	tcmu_set_log_level(TCMU_LOG_DEBUG);
	printf("libtcmu %s, handler ABI %d.%d: %s is %s\n", TCMU_VERSION_STRING,
	       TCMU_HANDLER_API_MAJOR, TCMU_HANDLER_API_MINOR, info.dev,
	       info.subtype);
	return tcmu_get_log_level() == TCMU_LOG_DEBUG ? 0 : 1;
}
