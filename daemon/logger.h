/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/logger.h — the daemon's log sink. tcmu_log() lines (from any
 * thread, ring threads included) are copied into a bounded queue and
 * written by one writer thread to the configured target: stderr, syslog,
 * the journal (native protocol) or <log_dir>/tcmud.log. The sink never
 * waits for I/O: when the queue is full the line is dropped and counted,
 * and the writer reports the count in the log.
 */
#ifndef TCMUD_LOGGER_H
#define TCMUD_LOGGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct logger;

#define LOGGER_DEFAULT_CAPACITY 1024 /* queued lines */
#define LOGGER_FILE_NAME "tcmud.log"

/*
 * logger_new — start a logger writing to stderr, with room for @capacity
 * queued lines (0: default). It is not yet the tcmu_log() sink: see
 * logger_install(). Main thread. Returns the logger or NULL (errno set).
 */
struct logger *logger_new(size_t capacity);

/* logger_install — make @lg the tcmu_log() sink. Main thread. */
void logger_install(struct logger *lg);

/*
 * logger_set_target — log to @target from now on (@log_dir for
 * LOG_TARGET_FILE). The writer thread applies it before writing lines
 * queued later; if the target cannot be opened it logs why to stderr and
 * uses stderr. Main thread; never blocks on I/O. Returns 0 or -errno.
 */
int logger_set_target(struct logger *lg, enum log_target target,
		      const char *log_dir);

/*
 * logger_reopen — close and reopen the log file (SIGHUP, after rotation).
 * Asynchronous, like logger_set_target(). Main thread; never blocks.
 */
void logger_reopen(struct logger *lg);

/*
 * logger_flush — wait until every line queued and every target change
 * requested before the call was handled by the writer. Main thread (tests,
 * shutdown); blocks.
 */
void logger_flush(struct logger *lg);

/* logger_dropped — lines dropped so far because the queue was full. Any thread. */
uint64_t logger_dropped(struct logger *lg);

/*
 * logger_free — uninstall the sink if installed, write what is queued,
 * stop the writer and free everything. Call when no other thread logs any
 * more. Main thread; blocks until the queue is written. Returns NULL.
 */
struct logger *logger_free(struct logger *lg);

/* Test hooks. logger_hold: the writer stops taking lines while @hold. */
void logger_hold(struct logger *lg, bool hold);
/* logger_set_journal_path: send journal records to @path instead. */
int logger_set_journal_path(struct logger *lg, const char *path);

#endif
