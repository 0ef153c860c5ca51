/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test_daemon_util.h — helpers for the daemon's unit tests:
 * capture what is logged through tcmu_log(), make temporary directories.
 */
#ifndef TEST_DAEMON_UTIL_H
#define TEST_DAEMON_UTIL_H

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tcmu/libtcmu.h>

/* Every captured line is "<level>|<device or ->|<message>\n". */
static struct {
	pthread_mutex_t lock;
	char buf[256 * 1024];
	size_t len;
	unsigned int lines;
} captured = { .lock = PTHREAD_MUTEX_INITIALIZER };

static inline void capture_sink(enum tcmu_log_level level, const char *dev,
				const char *file, int line, const char *msg,
				void *arg)
{
	pthread_mutex_lock(&captured.lock);
	int n = snprintf(captured.buf + captured.len,
			 sizeof(captured.buf) - captured.len, "%d|%s|%s\n",
			 (int)level, dev ? dev : "-", msg);
	if (n > 0 && (size_t)n < sizeof(captured.buf) - captured.len)
		captured.len += (size_t)n;
	captured.lines++;
	pthread_mutex_unlock(&captured.lock);
	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "  log: %d %s:%d %s %s\n", (int)level, file,
			line, dev ? dev : "-", msg);
}

/* Start capturing (level 5: everything), forgetting earlier lines. */
static inline void capture_start(void)
{
	pthread_mutex_lock(&captured.lock);
	captured.len = 0;
	captured.buf[0] = '\0';
	captured.lines = 0;
	pthread_mutex_unlock(&captured.lock);
	tcmu_set_log_level(5);
	tcmu_set_log_sink(capture_sink, NULL);
}

/* How many captured lines contain every one of the NULL-terminated needles. */
static inline int captured_count(const char *needle, ...)
{
	int count = 0;

	pthread_mutex_lock(&captured.lock);
	for (char *line = captured.buf; *line;) {
		char *end = strchr(line, '\n');
		bool all = true;
		va_list ap;

		*end = '\0';
		va_start(ap, needle);
		for (const char *n = needle; n; n = va_arg(ap, const char *))
			if (!strstr(line, n))
				all = false;
		va_end(ap);
		*end = '\n';
		if (all)
			count++;
		line = end + 1;
	}
	pthread_mutex_unlock(&captured.lock);
	return count;
}

static inline void dump_captured(void)
{
	pthread_mutex_lock(&captured.lock);
	fprintf(stderr, "--- captured log ---\n%s--------------------\n",
		captured.buf);
	pthread_mutex_unlock(&captured.lock);
}

/* A fresh temporary directory (free the result). */
static inline char *make_tmpdir(void)
{
	char *d = strdup("/tmp/tcmud-test-XXXXXX");

	if (!d || !mkdtemp(d)) {
		perror("mkdtemp");
		abort();
	}
	return d;
}

static inline int rm_one(const char *p, const struct stat *st, int flag,
			 struct FTW *ftw)
{
	return remove(p);
}

/* rm -rf @dir and free it. */
static inline void remove_tmpdir(char *dir)
{
	if (dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

/* Write @text to @path (truncating). */
static inline void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		abort();
	}
	fputs(text, f);
	fclose(f);
}

/* Read all of @path (free the result), or NULL. */
static inline char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

#endif
