/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of daemon/logger.c and journal.c: the queued log sink, its
 * targets, reopen after rotation, and dropping (never blocking) when full.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "journal.h"
#include "logger.h"
#include "test_daemon_util.h"

struct fixture {
	char *dir;
	char logfile[600];
	struct logger *lg;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = make_tmpdir();
	snprintf(f->logfile, sizeof(f->logfile), "%s/%s", f->dir,
		 LOGGER_FILE_NAME);
	f->lg = logger_new(0);
	assert_non_null(f->lg);
	logger_install(f->lg);
	tcmu_set_log_level(5);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	logger_free(f->lg);
	remove_tmpdir(f->dir);
	free(f);
	return 0;
}

static int count_substr(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Lines carry time, level, source location, device and message. */
static void test_file_format(void **state)
{
	struct fixture *f = *state;
	char *text;

	assert_int_equal(logger_set_target(f->lg, LOG_TARGET_FILE, f->dir), 0);
	tcmu_err("first %s", "line");
	tcmu_dbg("debug line");
	logger_flush(f->lg);
	text = read_file(f->logfile);
	assert_non_null(text);
	/* "YYYY-MM-DD HH:MM:SS.mmm error test_daemon_logger.c:NN: first line" */
	assert_non_null(strstr(text, " error test_daemon_logger.c:"));
	assert_non_null(strstr(text, ": first line\n"));
	assert_non_null(strstr(text, " debug test_daemon_logger.c:"));
	assert_true(text[4] == '-' && text[10] == ' ' && text[19] == '.');
	free(text);

	/* Lines above the level are not even queued. */
	tcmu_set_log_level(1);
	tcmu_info("hidden");
	logger_flush(f->lg);
	text = read_file(f->logfile);
	assert_null(strstr(text, "hidden"));
	free(text);
}

/* SIGHUP after logrotate: the new file gets the new lines. */
static void test_reopen(void **state)
{
	struct fixture *f = *state;
	char rotated[700];
	char *a, *b;

	snprintf(rotated, sizeof(rotated), "%s.1", f->logfile);
	assert_int_equal(logger_set_target(f->lg, LOG_TARGET_FILE, f->dir), 0);
	tcmu_warn("before rotation");
	logger_flush(f->lg);
	assert_int_equal(rename(f->logfile, rotated), 0);
	tcmu_warn("still old file");
	logger_reopen(f->lg);
	tcmu_warn("after reopen");
	logger_flush(f->lg);
	a = read_file(rotated);
	b = read_file(f->logfile);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(strstr(a, "before rotation"));
	assert_non_null(strstr(a, "still old file"));
	assert_null(strstr(a, "after reopen"));
	assert_non_null(strstr(b, "after reopen"));
	assert_null(strstr(b, "before rotation"));
	free(a);
	free(b);
}

/* An unusable log_dir falls back to stderr (and says so) instead of losing lines. */
static void test_bad_dir_falls_back(void **state)
{
	struct fixture *f = *state;
	char path[700];
	int saved = dup(STDERR_FILENO);
	int fd;
	char *text;

	snprintf(path, sizeof(path), "%s/stderr.txt", f->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
	assert_int_equal(logger_set_target(f->lg, LOG_TARGET_FILE,
					   "/nonexistent/tcmud-test"), 0);
	tcmu_err("must not be lost");
	logger_flush(f->lg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	text = read_file(path);
	assert_non_null(strstr(text, "cannot open log file /nonexistent/tcmud-test/tcmud.log"));
	assert_non_null(strstr(text, "must not be lost"));
	free(text);
}

struct spam_arg {
	int n;
};

static void *spam(void *p)
{
	struct spam_arg *a = p;

	for (int i = 0; i < a->n; i++)
		tcmu_info("spam %d", i);
	return NULL;
}

/*
 * With the writer stuck, the sink must neither block nor grow: lines past
 * the capacity are dropped and counted, and the count is reported.
 */
static void test_full_queue_drops(void **state)
{
	struct fixture *f = *state;
	struct logger *lg;
	struct spam_arg a = { .n = 50 };
	pthread_t t[2];
	char *text;

	logger_free(f->lg);
	f->lg = lg = logger_new(8);
	assert_non_null(lg);
	logger_install(lg);
	assert_int_equal(logger_set_target(lg, LOG_TARGET_FILE, f->dir), 0);
	logger_flush(lg);
	logger_hold(lg, true);
	/* Two "ring threads" log 100 lines while nothing is written. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, spam, &a), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(logger_dropped(lg), 100 - 8);
	logger_hold(lg, false);
	logger_flush(lg);
	text = read_file(f->logfile);
	assert_int_equal(count_substr(text, " spam "), 8);
	/* Reported as noticed, maybe in parts; the last report has the total. */
	assert_non_null(strstr(text, " log lines dropped: the log queue was full"));
	assert_non_null(strstr(text, "(92 dropped in total)"));
	free(text);

	/* Room again: nothing more is dropped. */
	tcmu_info("after the storm");
	logger_flush(lg);
	assert_int_equal(logger_dropped(lg), 92);
}

/* Journal target: one datagram per line, native protocol fields. */
static void test_journal_native(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	ssize_t n;
	int s;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/journal.sock", f->dir);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(logger_set_journal_path(f->lg, sa.sun_path), 0);
	assert_int_equal(logger_set_target(f->lg, LOG_TARGET_JOURNAL, NULL), 0);
	tcmu_warn("to the journal");
	logger_flush(f->lg);
	n = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "MESSAGE=to the journal\n"));
	assert_non_null(strstr(buf, "PRIORITY=4\n"));
	assert_non_null(strstr(buf, "SYSLOG_IDENTIFIER=tcmud\n"));
	assert_non_null(strstr(buf, "CODE_FILE=test_daemon_logger.c\n"));
	assert_non_null(strstr(buf, "CODE_LINE="));
	assert_null(strstr(buf, "TCMU_DEVICE="));
	close(s);
}

static void test_journal_format(void **state)
{
	struct journal_record rec = {
		.priority = 3, .file = "x.c", .line = 7,
		.dev = "tcm-user/1/d1", .message = "two\nlines",
	};
	char buf[512];
	int len;
	static const char expect_msg[] = "MESSAGE\n\x09\0\0\0\0\0\0\0two\nlines\n";

	len = journal_format(&rec, buf, sizeof(buf));
	assert_true(len > 0);
	/* Newlines force the binary form: name, LE64 length, data. */
	assert_memory_equal(buf, expect_msg, sizeof(expect_msg) - 1);
	assert_non_null(memmem(buf, (size_t)len, "TCMU_DEVICE=tcm-user/1/d1\n", 26));
	assert_non_null(memmem(buf, (size_t)len, "CODE_LINE=7\n", 12));
	assert_int_equal(journal_format(&rec, buf, 20), -ENOBUFS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_dir_falls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_queue_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_native, setup, teardown),
		cmocka_unit_test(test_journal_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
