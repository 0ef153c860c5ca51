/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/logger.c — bounded log queue + writer thread (see logger.h).
 *
 * Locking: one mutex protects the queue, the counters and the requested
 * target. Callers of the sink (any thread) hold it only to copy one line
 * into a preallocated slot; the writer holds it only to copy a batch out.
 * Every output (file, syslog, journal socket) is owned by the writer
 * thread, so a slow disk or a stuck syslog never stalls a ring thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <tcmu/libtcmu.h>

#include "journal.h"
#include "logger.h"
#include "util.h"

#define BATCH 32

struct log_entry {
	struct timespec ts;
	int level;
	int line;
	char file[64];
	char dev[128];
	char msg[1024];
};

struct logger {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the writer waits here */
	pthread_cond_t done; /* logger_flush() waits here */
	pthread_t thread;

	/* --- under lock --- */
	struct log_entry *q;
	size_t cap, head, count;
	uint64_t queued, written;        /* lines accepted / written */
	uint64_t taken;                  /* lines taken out by the writer */
	uint64_t req_seq;                /* lines queued before the request */
	uint64_t dropped_reported;       /* drops already reported in the log */
	uint64_t req_gen, applied_gen;   /* target changes requested / done */
	enum log_target req_target;
	char req_dir[PATH_MAX];
	char *journal_path;              /* NULL: JOURNAL_SOCKET */
	bool stop, hold, installed;

	_Atomic uint64_t dropped; /* written under lock, read anywhere */

	/* --- writer thread only --- */
	struct log_entry *batch;
	enum log_target cur_target;
	int fd;                 /* log file, or -1 */
	int jfd;                /* journal socket, or -1 */
	bool journal_failed;    /* journal unreachable already reported */
	bool syslog_open;
	char cur_dir[PATH_MAX];
	char cur_journal[108];
};

static const char *const level_names[] = {
	"none", "error", "warn", "info", "debug", "debug-cmd",
};

static const char *level_name(int level)
{
	if (level < 0 || (size_t)level >= ARRAY_SIZE(level_names))
		return "?";
	return level_names[level];
}

static int level_to_syslog(int level)
{
	switch (level) {
	case TCMU_LOG_ERROR:
		return LOG_ERR;
	case TCMU_LOG_WARN:
		return LOG_WARNING;
	case TCMU_LOG_INFO:
		return LOG_INFO;
	default:
		return LOG_DEBUG;
	}
}

/* Write all of @buf to @fd, retrying short writes. Returns 0 or -errno. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* "2025-01-02 03:04:05.678 error file.c:12 dev: message\n" */
static size_t format_line(const struct log_entry *e, char *buf, size_t size)
{
	struct tm tm;
	size_t n;
	int r;

	localtime_r(&e->ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
	r = snprintf(buf + n, size - n, ".%03ld %s %s:%d%s%s: %s\n",
		     e->ts.tv_nsec / 1000000, level_name(e->level), e->file,
		     e->line, e->dev[0] ? " " : "", e->dev, e->msg);
	if (r < 0)
		return n;
	n += (size_t)r;
	if (n >= size) { /* truncated: keep the newline */
		n = size - 1;
		buf[n - 1] = '\n';
	}
	return n;
}

static void write_stderr(const struct log_entry *e)
{
	char buf[1600];

	write_all(STDERR_FILENO, buf, format_line(e, buf, sizeof(buf)));
}

/* A line from the logger itself (about the logger), on the writer thread. */
static void self_entry(struct log_entry *e, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void self_entry(struct log_entry *e, int level, const char *fmt, ...)
{
	va_list ap;

	memset(e, 0, sizeof(*e));
	clock_gettime(CLOCK_REALTIME, &e->ts);
	e->level = level;
	e->line = 0;
	snprintf(e->file, sizeof(e->file), "logger");
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

static void close_outputs(struct logger *lg)
{
	if (lg->fd >= 0)
		close(lg->fd);
	lg->fd = -1;
	if (lg->jfd >= 0)
		close(lg->jfd);
	lg->jfd = -1;
	if (lg->syslog_open)
		closelog();
	lg->syslog_open = false;
}

/* Writer thread: switch to @target. Falls back to stderr on failure. */
static void open_target(struct logger *lg, enum log_target target)
{
	struct log_entry e;
	char path[PATH_MAX + 16];
	int fd;

	close_outputs(lg);
	lg->cur_target = LOG_TARGET_STDERR;
	lg->journal_failed = false;
	switch (target) {
	case LOG_TARGET_STDERR:
		break;
	case LOG_TARGET_FILE:
		snprintf(path, sizeof(path), "%s/%s", lg->cur_dir,
			 LOGGER_FILE_NAME);
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
			  0640);
		if (fd < 0) {
			self_entry(&e, TCMU_LOG_ERROR,
				   "cannot open log file %s: %s; logging to stderr",
				   path, strerror(errno));
			write_stderr(&e);
			return;
		}
		lg->fd = fd;
		break;
	case LOG_TARGET_SYSLOG:
		openlog("tcmud", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		lg->syslog_open = true;
		break;
	case LOG_TARGET_JOURNAL:
		fd = journal_socket();
		if (fd < 0) {
			self_entry(&e, TCMU_LOG_ERROR,
				   "cannot create a journal socket: %s; logging to stderr",
				   strerror(-fd));
			write_stderr(&e);
			return;
		}
		lg->jfd = fd;
		break;
	}
	lg->cur_target = target;
}

/* Writer thread: write one entry to the current target. */
static void output(struct logger *lg, const struct log_entry *e)
{
	char buf[1600];
	size_t len;
	int r;

	switch (lg->cur_target) {
	case LOG_TARGET_STDERR:
		write_stderr(e);
		break;
	case LOG_TARGET_FILE:
		len = format_line(e, buf, sizeof(buf));
		if (write_all(lg->fd, buf, len) < 0)
			write_stderr(e);
		break;
	case LOG_TARGET_SYSLOG:
		syslog(level_to_syslog(e->level), "%s %s:%d%s%s: %s",
		       level_name(e->level), e->file, e->line,
		       e->dev[0] ? " " : "", e->dev, e->msg);
		break;
	case LOG_TARGET_JOURNAL: {
		struct journal_record rec = {
			.priority = level_to_syslog(e->level),
			.file = e->file,
			.line = e->line,
			.dev = e->dev[0] ? e->dev : NULL,
			.message = e->msg,
		};

		r = journal_send(lg->jfd,
				 lg->cur_journal[0] ? lg->cur_journal : NULL,
				 &rec);
		if (r < 0) {
			/* journald down or full: never lose the line. */
			if (!lg->journal_failed) {
				struct log_entry n;

				self_entry(&n, TCMU_LOG_WARN,
					   "cannot send to the journal: %s; writing to stderr",
					   strerror(-r));
				write_stderr(&n);
				lg->journal_failed = true;
			}
			write_stderr(e);
		} else {
			lg->journal_failed = false;
		}
		break;
	}
	}
}

/* A target change is due once the lines queued before it were taken. */
static bool change_due(const struct logger *lg)
{
	return lg->applied_gen != lg->req_gen && lg->taken >= lg->req_seq;
}

static bool writer_has_work(struct logger *lg)
{
	return change_due(lg) ||
	       atomic_load(&lg->dropped) != lg->dropped_reported ||
	       (lg->count && (!lg->hold || lg->stop));
}

/*
 * The writer thread: applies target changes in order with the lines,
 * writes queued lines in batches (outside the lock) and reports drops.
 * Blocks on I/O, which is the point: nobody else does. Returns when
 * stopped and the queue is empty.
 */
static void *writer_main(void *arg)
{
	struct logger *lg = arg;

	pthread_mutex_lock(&lg->lock);
	for (;;) {
		while (!lg->stop && !writer_has_work(lg))
			pthread_cond_wait(&lg->wake, &lg->lock);

		if (change_due(lg)) {
			uint64_t gen = lg->req_gen;
			enum log_target t = lg->req_target;

			memcpy(lg->cur_dir, lg->req_dir, sizeof(lg->cur_dir));
			snprintf(lg->cur_journal, sizeof(lg->cur_journal), "%s",
				 lg->journal_path ? lg->journal_path : "");
			pthread_mutex_unlock(&lg->lock);
			open_target(lg, t);
			pthread_mutex_lock(&lg->lock);
			lg->applied_gen = gen;
			pthread_cond_broadcast(&lg->done);
			continue;
		}

		uint64_t dropped = atomic_load(&lg->dropped);
		uint64_t new_drops = dropped - lg->dropped_reported;
		size_t n = 0, max = BATCH;

		/* Lines queued after a pending change wait for it. */
		if (lg->applied_gen != lg->req_gen && lg->req_seq - lg->taken < max)
			max = (size_t)(lg->req_seq - lg->taken);
		if (!lg->hold || lg->stop) {
			while (n < max && lg->count) {
				lg->batch[n++] = lg->q[lg->head];
				lg->head = (lg->head + 1) % lg->cap;
				lg->count--;
			}
			lg->taken += n;
		}
		if (!n && !new_drops) {
			if (lg->stop && !lg->count)
				break;
			continue;
		}
		pthread_mutex_unlock(&lg->lock);
		if (new_drops) {
			struct log_entry e;

			self_entry(&e, TCMU_LOG_WARN,
				   "%llu log lines dropped: the log queue was full (%llu dropped in total)",
				   (unsigned long long)new_drops,
				   (unsigned long long)dropped);
			output(lg, &e);
		}
		for (size_t i = 0; i < n; i++)
			output(lg, &lg->batch[i]);
		pthread_mutex_lock(&lg->lock);
		lg->written += n;
		lg->dropped_reported = dropped;
		pthread_cond_broadcast(&lg->done);
	}
	pthread_mutex_unlock(&lg->lock);
	return NULL;
}

/* The tcmu_log() sink. Any thread; copies the line and returns. */
static void logger_sink(enum tcmu_log_level level, const char *dev_name,
			const char *file, int line, const char *msg, void *arg)
{
	struct logger *lg = arg;
	const char *base = file ? strrchr(file, '/') : NULL;
	struct log_entry *e;
	struct timespec ts;

	base = base ? base + 1 : (file ? file : "?");
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!lg) {
		/* Raced with logger_free()'s uninstall: write it directly. */
		fprintf(stderr, "%s %s:%d %s\n", level_name(level), base, line,
			msg);
		return;
	}
	pthread_mutex_lock(&lg->lock);
	if (lg->count == lg->cap) {
		atomic_fetch_add(&lg->dropped, 1);
		pthread_cond_signal(&lg->wake);
		pthread_mutex_unlock(&lg->lock);
		return;
	}
	e = &lg->q[(lg->head + lg->count) % lg->cap];
	e->ts = ts;
	e->level = level;
	e->line = line;
	snprintf(e->file, sizeof(e->file), "%s", base);
	snprintf(e->dev, sizeof(e->dev), "%s", dev_name ? dev_name : "");
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	lg->count++;
	lg->queued++;
	pthread_cond_signal(&lg->wake);
	pthread_mutex_unlock(&lg->lock);
}

struct logger *logger_new(size_t capacity)
{
	struct logger *lg = calloc(1, sizeof(*lg));
	int r;

	if (!lg)
		return NULL;
	lg->cap = capacity ? capacity : LOGGER_DEFAULT_CAPACITY;
	lg->q = calloc(lg->cap, sizeof(*lg->q));
	lg->batch = calloc(BATCH, sizeof(*lg->batch));
	lg->fd = -1;
	lg->jfd = -1;
	lg->cur_target = LOG_TARGET_STDERR;
	if (!lg->q || !lg->batch) {
		free(lg->q);
		free(lg->batch);
		free(lg);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&lg->lock, NULL);
	pthread_cond_init(&lg->wake, NULL);
	pthread_cond_init(&lg->done, NULL);
	r = pthread_create(&lg->thread, NULL, writer_main, lg);
	if (r) {
		pthread_cond_destroy(&lg->done);
		pthread_cond_destroy(&lg->wake);
		pthread_mutex_destroy(&lg->lock);
		free(lg->q);
		free(lg->batch);
		free(lg);
		errno = r;
		return NULL;
	}
	pthread_setname_np(lg->thread, "tcmud-log");
	return lg;
}

void logger_install(struct logger *lg)
{
	pthread_mutex_lock(&lg->lock);
	lg->installed = true;
	pthread_mutex_unlock(&lg->lock);
	tcmu_set_log_sink(logger_sink, lg);
}

int logger_set_target(struct logger *lg, enum log_target target,
		      const char *log_dir)
{
	if ((unsigned int)target > LOG_TARGET_FILE)
		return -EINVAL;
	if (target == LOG_TARGET_FILE &&
	    (!log_dir || strlen(log_dir) >= sizeof(lg->req_dir)))
		return -EINVAL;
	pthread_mutex_lock(&lg->lock);
	lg->req_target = target;
	snprintf(lg->req_dir, sizeof(lg->req_dir), "%s", log_dir ? log_dir : "");
	lg->req_gen++;
	lg->req_seq = lg->queued;
	pthread_cond_signal(&lg->wake);
	pthread_mutex_unlock(&lg->lock);
	return 0;
}

void logger_reopen(struct logger *lg)
{
	/* Re-applying the current request reopens the file. */
	pthread_mutex_lock(&lg->lock);
	lg->req_gen++;
	lg->req_seq = lg->queued;
	pthread_cond_signal(&lg->wake);
	pthread_mutex_unlock(&lg->lock);
}

void logger_flush(struct logger *lg)
{
	uint64_t seq, gen, dropped;

	pthread_mutex_lock(&lg->lock);
	seq = lg->queued;
	gen = lg->req_gen;
	dropped = atomic_load(&lg->dropped);
	while (lg->written < seq || lg->applied_gen < gen ||
	       lg->dropped_reported < dropped)
		pthread_cond_wait(&lg->done, &lg->lock);
	pthread_mutex_unlock(&lg->lock);
}

uint64_t logger_dropped(struct logger *lg)
{
	return atomic_load(&lg->dropped);
}

void logger_hold(struct logger *lg, bool hold)
{
	pthread_mutex_lock(&lg->lock);
	lg->hold = hold;
	pthread_cond_signal(&lg->wake);
	pthread_mutex_unlock(&lg->lock);
}

int logger_set_journal_path(struct logger *lg, const char *path)
{
	char *p = NULL;

	if (path) {
		if (strlen(path) >= sizeof(lg->cur_journal))
			return -ENAMETOOLONG;
		p = strdup(path);
		if (!p)
			return -ENOMEM;
	}
	pthread_mutex_lock(&lg->lock);
	free(lg->journal_path);
	lg->journal_path = p;
	pthread_mutex_unlock(&lg->lock);
	return 0;
}

struct logger *logger_free(struct logger *lg)
{
	if (!lg)
		return NULL;
	if (lg->installed)
		tcmu_set_log_sink(NULL, NULL);
	pthread_mutex_lock(&lg->lock);
	lg->stop = true;
	lg->hold = false;
	pthread_cond_signal(&lg->wake);
	pthread_mutex_unlock(&lg->lock);
	pthread_join(lg->thread, NULL);
	close_outputs(lg);
	pthread_cond_destroy(&lg->done);
	pthread_cond_destroy(&lg->wake);
	pthread_mutex_destroy(&lg->lock);
	free(lg->journal_path);
	free(lg->q);
	free(lg->batch);
	free(lg);
	return NULL;
}
