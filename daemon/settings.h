/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/settings.h — the daemon's effective configuration: tcmu.conf plus
 * command-line overrides, applied to the log level and the logger (and,
 * through settings_on_apply(), busy_poll_us to the devices), and
 * re-applied whenever the file changes (live reload from the main loop).
 */
#ifndef TCMUD_SETTINGS_H
#define TCMUD_SETTINGS_H

#include <glib.h>
#include <stdbool.h>

#include "config.h"
#include "confwatch.h"
#include "logger.h"

struct settings {
	char *path;                  /* tcmu.conf */
	int min_level;               /* --debug: at least this level; 0 none */
	char *log_dir;               /* --log-dir, or NULL */
	struct logger *logger;       /* may be NULL (tests) */
	struct tcmud_config cur;     /* what is in force */
	bool applied;                /* cur was applied at least once */
	struct confwatch *watch;
	unsigned int reloads;        /* how often the file was (re)read */
	void (*on_apply)(const struct tcmud_config *c, void *arg);
	void *on_apply_arg;
};

/*
 * settings_init — set up @s for @path with the overrides, load the file
 * and apply it (log level, log target). A missing file is not an error (the
 * defaults apply). Main thread. Returns 0 or -ENOMEM.
 */
int settings_init(struct settings *s, const char *path, int min_level,
		  const char *log_dir, struct logger *logger);

/*
 * settings_reload — re-read the file; invalid values are logged and keep
 * their previous value; changes are applied and logged. Main thread.
 * Returns 0 if the file was read (even with problems), or -errno.
 */
int settings_reload(struct settings *s);

/*
 * settings_watch — reload on every change of the file, from @ctx's loop.
 * Main thread. Returns 0 or -errno (then there is no live reload; logged).
 */
int settings_watch(struct settings *s, GMainContext *ctx);

/*
 * settings_on_apply — call @fn with the configuration in force now and
 * after every reload (changed or not), for the parts that others apply
 * (busy_poll_us: the device table). NULL clears. Main thread; @fn must
 * not block.
 */
void settings_on_apply(struct settings *s,
		       void (*fn)(const struct tcmud_config *c, void *arg),
		       void *arg);

/* settings_clear — stop watching and free. Main thread. */
void settings_clear(struct settings *s);

#endif
