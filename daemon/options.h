/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/options.h — tcmud's command line.
 */
#ifndef TCMUD_OPTIONS_H
#define TCMUD_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

/* What the command line asked for. Strings are malloc'ed. */
struct tcmud_options {
	char *config_file;  /* --config; default TCMU_CONFIG_FILE */
	char *handler_dir;  /* --handler-path; default TCMU_HANDLER_DIR */
	char *log_dir;      /* --log-dir, or NULL: take it from tcmu.conf */
	char *lock_file;    /* --lock-file; default TCMUD_LOCK_FILE */
	bool debug;         /* --debug: log level debug, whatever tcmu.conf says */
};

/* The lock file that keeps a second daemon away from the kernel. */
#define TCMUD_LOCK_FILE "/run/tcmud.lock"

/* Returned by options_parse() when the program should exit with 0 now. */
#define OPTIONS_EXIT 1

/*
 * options_parse — parse argv into @o (defaults filled in). --help and
 * --version print to @out. Usage errors print to @err. Main thread.
 * Returns 0 to run, OPTIONS_EXIT after --help/--version, -EINVAL on a
 * usage error, -ENOMEM. Unless it returns 0, @o is left empty (nothing
 * to free).
 */
int options_parse(int argc, char **argv, struct tcmud_options *o, FILE *out,
		  FILE *err);

/* options_clear — frees the strings of @o and zeroes it. Any thread. */
void options_clear(struct tcmud_options *o);

#endif
