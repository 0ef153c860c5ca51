/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/options.c — tcmud's command line (getopt_long). The daemon always
 * runs in the foreground, systemd style: there is no option to fork.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <tcmu/version.h>

#include "options.h"
#include "util.h"

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"Usage: %s [OPTION]...\n"
		"Serve TCMU (target_core_user) SCSI devices from userspace handlers.\n"
		"Runs in the foreground; stop it with SIGTERM or SIGINT. SIGHUP\n"
		"reopens the log file and re-reads the configuration (which is\n"
		"also re-read by itself whenever it changes).\n"
		"\n"
		"  -h, --help               show this help and exit\n"
		"  -V, --version            show the version and exit\n"
		"  -d, --debug              log at debug level (overrides log_level\n"
		"                           in the configuration file)\n"
		"  -c, --config FILE        configuration file (default %s)\n"
		"  -H, --handler-path DIR   load handler_*.so from DIR\n"
		"                           (default %s)\n"
		"  -l, --log-dir DIR        directory of tcmud.log for log_target = file\n"
		"                           (overrides log_dir in the configuration file)\n"
		"      --lock-file FILE     lock that keeps a second tcmud away\n"
		"                           (default %s)\n",
		prog, TCMU_CONFIG_FILE, TCMU_HANDLER_DIR, TCMUD_LOCK_FILE);
}

void options_clear(struct tcmud_options *o)
{
	free(o->config_file);
	free(o->handler_dir);
	free(o->log_dir);
	free(o->lock_file);
	memset(o, 0, sizeof(*o));
}

/* Replace *dst by a copy of @src. Returns 0 or -ENOMEM. */
static int set_str(char **dst, const char *src)
{
	char *s = strdup(src);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

/* An option argument must not be empty. Returns 0 or -EINVAL. */
static int check_arg(const char *opt, const char *arg, FILE *err)
{
	if (!arg[0]) {
		fprintf(err, "tcmud: %s needs a non-empty argument\n", opt);
		return -EINVAL;
	}
	return 0;
}

enum { OPT_LOCK_FILE = 0x100 };

static const struct option long_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "debug", no_argument, NULL, 'd' },
	{ "config", required_argument, NULL, 'c' },
	{ "handler-path", required_argument, NULL, 'H' },
	{ "log-dir", required_argument, NULL, 'l' },
	{ "lock-file", required_argument, NULL, OPT_LOCK_FILE },
	{ NULL, 0, NULL, 0 },
};

static int parse(int argc, char **argv, struct tcmud_options *o, FILE *out,
		 FILE *err)
{
	const char *prog = argc > 0 ? argv[0] : "tcmud";
	int c, r;

	if (set_str(&o->config_file, TCMU_CONFIG_FILE) < 0 ||
	    set_str(&o->handler_dir, TCMU_HANDLER_DIR) < 0 ||
	    set_str(&o->lock_file, TCMUD_LOCK_FILE) < 0)
		return -ENOMEM;

	optind = 0; /* glibc: full re-initialisation, so tests can parse again */
	opterr = 0; /* we print our own messages to @err */
	while ((c = getopt_long(argc, argv, ":hVdc:H:l:", long_opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(out, prog);
			return OPTIONS_EXIT;
		case 'V':
			fprintf(out, "tcmud %s (handler ABI %d.%d)\n",
				TCMU_VERSION_STRING, TCMU_HANDLER_API_MAJOR,
				TCMU_HANDLER_API_MINOR);
			return OPTIONS_EXIT;
		case 'd':
			o->debug = true;
			break;
		case 'c':
			r = check_arg("--config", optarg, err);
			if (!r)
				r = set_str(&o->config_file, optarg);
			if (r)
				return r;
			break;
		case 'H':
			r = check_arg("--handler-path", optarg, err);
			if (!r)
				r = set_str(&o->handler_dir, optarg);
			if (r)
				return r;
			break;
		case 'l':
			r = check_arg("--log-dir", optarg, err);
			if (!r)
				r = set_str(&o->log_dir, optarg);
			if (r)
				return r;
			break;
		case OPT_LOCK_FILE:
			r = check_arg("--lock-file", optarg, err);
			if (!r)
				r = set_str(&o->lock_file, optarg);
			if (r)
				return r;
			break;
		case ':':
			fprintf(err, "tcmud: option '%s' needs an argument\n",
				argv[optind - 1]);
			fprintf(err, "Try '%s --help'.\n", prog);
			return -EINVAL;
		default:
			if (optopt)
				fprintf(err, "tcmud: unknown option '-%c'\n", optopt);
			else
				fprintf(err, "tcmud: unknown option '%s'\n",
					argv[optind - 1]);
			fprintf(err, "Try '%s --help'.\n", prog);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(err, "tcmud: unexpected argument '%s'\n", argv[optind]);
		fprintf(err, "Try '%s --help'.\n", prog);
		return -EINVAL;
	}
	return 0;
}

int options_parse(int argc, char **argv, struct tcmud_options *o, FILE *out,
		  FILE *err)
{
	int r;

	memset(o, 0, sizeof(*o));
	r = parse(argc, argv, o, out, err);
	if (r != 0)
		options_clear(o);
	return r;
}
