/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcmud — userspace daemon for TCMU (target_core_user) SCSI devices.
 * Parses the command line and runs the daemon object (daemon/daemon.h);
 * always in the foreground, systemd style.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon/daemon.h"
#include "daemon/options.h"
#ifdef TCMUD_HAVE_DBUS
#include "daemon/dbus_hook.h"
#endif

int main(int argc, char **argv)
{
	struct tcmud_options opts;
	struct tcmud *d;
	int r, status;

	r = options_parse(argc, argv, &opts, stdout, stderr);
	if (r == OPTIONS_EXIT)
		return EXIT_SUCCESS;
	if (r < 0)
		return r == -EINVAL ? 2 : EXIT_FAILURE;

	d = tcmud_new(&opts);
	options_clear(&opts);
	if (!d)
		return EXIT_FAILURE;
	r = tcmud_start(d);
	if (r < 0) {
		tcmud_free(d);
		return EXIT_FAILURE;
	}
#ifdef TCMUD_HAVE_DBUS
	struct tcmud_dbus *bus = tcmud_dbus_new(d);
#endif
	status = tcmud_run(d);
#ifdef TCMUD_HAVE_DBUS
	tcmud_dbus_free(bus);
#endif
	tcmud_free(d);
	return status;
}
