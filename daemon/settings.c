/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/settings.c — see settings.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tcmu/libtcmu.h>

#include "settings.h"

/* Command-line overrides win over the file. */
static void apply_overrides(const struct settings *s, struct tcmud_config *c)
{
	if (c->log_level < s->min_level)
		c->log_level = s->min_level;
	if (s->log_dir)
		snprintf(c->log_dir, sizeof(c->log_dir), "%s", s->log_dir);
}

static void apply(struct settings *s, const struct tcmud_config *next)
{
	const struct tcmud_config old = s->cur;
	bool first = !s->applied;

	tcmu_set_log_level(next->log_level);
	if (s->logger &&
	    (first || next->log_target != old.log_target ||
	     (next->log_target == LOG_TARGET_FILE &&
	      strcmp(next->log_dir, old.log_dir))))
		logger_set_target(s->logger, next->log_target, next->log_dir);
	s->cur = *next;
	s->applied = true;
	if (s->on_apply)
		s->on_apply(&s->cur, s->on_apply_arg);
	if (first) {
		if (next->busy_poll_us)
			tcmu_info("%s: busy_poll_us %u", s->path,
				  next->busy_poll_us);
		return;
	}
	if (next->log_level != old.log_level)
		tcmu_info("%s: log_level %d -> %d", s->path, old.log_level,
			  next->log_level);
	if (next->log_target != old.log_target)
		tcmu_info("%s: log_target %s -> %s", s->path,
			  log_target_name(old.log_target),
			  log_target_name(next->log_target));
	if (strcmp(next->log_dir, old.log_dir))
		tcmu_info("%s: log_dir %s -> %s", s->path, old.log_dir,
			  next->log_dir);
	if (next->busy_poll_us != old.busy_poll_us)
		tcmu_info("%s: busy_poll_us %u -> %u", s->path, old.busy_poll_us,
			  next->busy_poll_us);
}

void settings_on_apply(struct settings *s,
		       void (*fn)(const struct tcmud_config *c, void *arg),
		       void *arg)
{
	s->on_apply = fn;
	s->on_apply_arg = arg;
	if (fn && s->applied)
		fn(&s->cur, arg);
}

int settings_reload(struct settings *s)
{
	struct tcmud_config next;
	int r;

	s->reloads++;
	r = config_load(s->path, &s->cur, &next);
	if (r == -ENOENT) {
		tcmu_dbg("%s does not exist: using the defaults", s->path);
	} else if (r < 0) {
		tcmu_err("%s: cannot read: %s; configuration unchanged", s->path,
			 strerror(-r));
		return r;
	}
	apply_overrides(s, &next);
	apply(s, &next);
	return r < 0 ? r : 0;
}

int settings_init(struct settings *s, const char *path, int min_level,
		  const char *log_dir, struct logger *logger)
{
	memset(s, 0, sizeof(*s));
	s->path = strdup(path);
	s->log_dir = log_dir ? strdup(log_dir) : NULL;
	if (!s->path || (log_dir && !s->log_dir)) {
		settings_clear(s);
		return -ENOMEM;
	}
	s->min_level = min_level;
	s->logger = logger;
	config_defaults(&s->cur);
	settings_reload(s);
	if (!s->applied) { /* unreadable file: defaults + overrides */
		struct tcmud_config c;

		config_defaults(&c);
		apply_overrides(s, &c);
		apply(s, &c);
	}
	return 0;
}

/* confwatch callback: the file changed, reload it. Main thread. */
static void on_change(void *arg)
{
	settings_reload(arg);
}

int settings_watch(struct settings *s, GMainContext *ctx)
{
	s->watch = confwatch_new(ctx, s->path, on_change, s);
	if (!s->watch) {
		int r = -errno;

		tcmu_warn("cannot watch %s: %s; edits need a restart", s->path,
			  strerror(-r));
		return r;
	}
	return 0;
}

void settings_clear(struct settings *s)
{
	s->watch = confwatch_free(s->watch);
	free(s->path);
	free(s->log_dir);
	memset(s, 0, sizeof(*s));
}
