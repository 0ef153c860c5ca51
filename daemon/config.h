/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/config.h — tcmu.conf: "key = value" lines, '#' comments.
 *
 *   log_level  = 0..5       (tcmu-runner's meaning: 0 none .. 5 scsi cmds)
 *   log_target = stderr | syslog | journal | file
 *   log_dir    = /absolute/dir   (log_target = file writes log_dir/tcmud.log)
 *   busy_poll_us = 0..TCMU_BUSY_POLL_MAX_US  (µs the ring thread of every
 *                device spins for new work after a busy turn; 0 off)
 *
 * A key that is absent takes its default. A value that is invalid is
 * logged (file and line) and the previous value is kept, so a typo never
 * changes the running daemon's behaviour.
 */
#ifndef TCMUD_CONFIG_H
#define TCMUD_CONFIG_H

#include <limits.h>
#include <stdbool.h>

enum log_target {
	LOG_TARGET_STDERR = 0,
	LOG_TARGET_SYSLOG,
	LOG_TARGET_JOURNAL,
	LOG_TARGET_FILE,
};

#define CONFIG_DEFAULT_LOG_LEVEL 3 /* info */
#define CONFIG_DEFAULT_LOG_DIR "/var/log"
#define CONFIG_DEFAULT_BUSY_POLL_US 0

struct tcmud_config {
	int log_level;
	enum log_target log_target;
	char log_dir[PATH_MAX];
	unsigned int busy_poll_us; /* tcmu_device_set_busy_poll() of every device */
};

/* config_defaults — fills @c with the built-in defaults. Any thread. */
void config_defaults(struct tcmud_config *c);

/*
 * config_parse — parse the text of a tcmu.conf into @out. Keys not in
 * @text get their default; invalid values and lines are logged (naming
 * @origin and the line) and keep @prev's value. Any thread; never blocks.
 * Returns the number of problems found (0: all good).
 */
int config_parse(const char *text, const char *origin,
		 const struct tcmud_config *prev, struct tcmud_config *out);

/*
 * config_load — read @path and config_parse() it. A missing file gives the
 * defaults and -ENOENT (not logged: the caller decides). Main thread; may
 * block briefly. Returns the number of problems, or -errno when the file
 * could not be read (then @out holds the defaults, or @prev for errors
 * other than -ENOENT).
 */
int config_load(const char *path, const struct tcmud_config *prev,
		struct tcmud_config *out);

/* log_target_name — "stderr", "syslog", "journal" or "file". */
const char *log_target_name(enum log_target t);

/* log_target_parse — the target named @s, or -EINVAL. */
int log_target_parse(const char *s);

/* config_equal — true when @a and @b configure the same thing. */
bool config_equal(const struct tcmud_config *a, const struct tcmud_config *b);

#endif
