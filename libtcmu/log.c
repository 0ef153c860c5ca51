/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/log.c — the one logging entry point of libtcmu and handlers.
 * Lines go to a sink set by the program (tcmud sends them to its log
 * target); the default sink writes to stderr. Formatting happens only for
 * lines at or below the current level.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "tcmu_internal.h"

static _Atomic int log_level = TCMU_LOG_INFO;
static _Atomic(tcmu_log_sink_fn) log_sink;
static void *_Atomic log_sink_arg;

static const char *const level_names[] = {
	"none", "error", "warn", "info", "debug", "debug-cmd",
};

static void stderr_sink(enum tcmu_log_level level, const char *dev_name,
			const char *file, int line, const char *msg, void *arg)
{
	const char *base = strrchr(file, '/');

	fprintf(stderr, "%s %s:%d%s%s: %s\n", level_names[level],
		base ? base + 1 : file, line, dev_name ? " " : "",
		dev_name ? dev_name : "", msg);
}

void tcmu_set_log_sink(tcmu_log_sink_fn fn, void *arg)
{
	atomic_store(&log_sink_arg, arg);
	atomic_store(&log_sink, fn);
}

void tcmu_set_log_level(int level)
{
	if (level < 0)
		level = 0;
	if (level > TCMU_LOG_DEBUG_SCSI_CMD)
		level = TCMU_LOG_DEBUG_SCSI_CMD;
	atomic_store(&log_level, level);
}

int tcmu_get_log_level(void)
{
	return atomic_load(&log_level);
}

void tcmu_log(enum tcmu_log_level level, const struct tcmu_device *dev,
	      const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	tcmu_log_sink_fn fn;

	if ((int)level > atomic_load(&log_level) || level < TCMU_LOG_ERROR)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fn = atomic_load(&log_sink);
	(fn ? fn : stderr_sink)(level, dev ? dev->info.name : NULL, file, line,
				msg, atomic_load(&log_sink_arg));
}
