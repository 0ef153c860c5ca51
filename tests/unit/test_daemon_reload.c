/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of daemon/settings.c + confwatch.c: editing tcmu.conf changes the
 * running daemon's logging through its GLib main loop, without a restart.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <glib.h>

#include "settings.h"
#include "test_daemon_util.h"

struct fixture {
	char *dir;
	char path[512];
	GMainContext *ctx;
	struct settings s;
	bool inited;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = make_tmpdir();
	snprintf(f->path, sizeof(f->path), "%s/tcmu.conf", f->dir);
	f->ctx = g_main_context_new();
	capture_start();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->inited)
		settings_clear(&f->s);
	g_main_context_unref(f->ctx);
	remove_tmpdir(f->dir);
	free(f);
	tcmu_set_log_sink(NULL, NULL);
	return 0;
}

/* Replace the file the way editors do: write a new one, rename it over. */
static void replace_file(struct fixture *f, const char *text)
{
	char tmp[600];

	snprintf(tmp, sizeof(tmp), "%s/.tcmu.conf.swp", f->dir);
	write_file(tmp, text);
	assert_int_equal(rename(tmp, f->path), 0);
}

static int64_t now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

/* Run the main loop until the log level is @level (or 5 s passed). */
static bool loop_until_level(struct fixture *f, int level)
{
	int64_t end = now_ms() + 5000;

	while (now_ms() < end) {
		if (tcmu_get_log_level() == level)
			return true;
		g_main_context_iteration(f->ctx, FALSE);
		g_usleep(2000);
	}
	return tcmu_get_log_level() == level;
}

/* Run the main loop until the file was re-read @n times in total. */
static bool loop_until_reloads(struct fixture *f, unsigned int n)
{
	int64_t end = now_ms() + 5000;

	while (now_ms() < end && f->s.reloads < n) {
		g_main_context_iteration(f->ctx, FALSE);
		g_usleep(2000);
	}
	return f->s.reloads >= n;
}

static void start(struct fixture *f, int min_level, const char *log_dir,
		  struct logger *lg)
{
	assert_int_equal(settings_init(&f->s, f->path, min_level, log_dir, lg), 0);
	f->inited = true;
	assert_int_equal(settings_watch(&f->s, f->ctx), 0);
}

static void test_level_changes_live(void **state)
{
	struct fixture *f = *state;

	write_file(f->path, "log_level = 2\n");
	start(f, 0, NULL, NULL);
	assert_int_equal(tcmu_get_log_level(), 2);

	/* Rename over (vim, sed -i, ansible). */
	replace_file(f, "log_level = 5\n");
	assert_true(loop_until_level(f, 5));
	assert_int_equal(captured_count("log_level 2 -> 5", NULL), 1);

	/* Rewrite in place (echo >). */
	write_file(f->path, "# quieter\nlog_level = 1\n");
	assert_true(loop_until_level(f, 1));

	/* Other files in the directory are not our business. */
	unsigned int reloads = f->s.reloads;
	char other[600];
	snprintf(other, sizeof(other), "%s/other.conf", f->dir);
	write_file(other, "log_level = 4\n");
	for (int i = 0; i < 50; i++) {
		g_main_context_iteration(f->ctx, FALSE);
		g_usleep(4000);
	}
	assert_int_equal(f->s.reloads, reloads);
	assert_int_equal(tcmu_get_log_level(), 1);
}

static void test_invalid_value_ignored(void **state)
{
	struct fixture *f = *state;
	unsigned int reloads;

	write_file(f->path, "log_level = 4\n");
	start(f, 0, NULL, NULL);
	assert_int_equal(tcmu_get_log_level(), 4);

	reloads = f->s.reloads;
	replace_file(f, "log_level = 9\n");
	assert_true(loop_until_reloads(f, reloads + 1));
	assert_int_equal(tcmu_get_log_level(), 4);
	assert_int_equal(captured_count(f->path, "log_level", "\"9\"", "keeping 4", NULL), 1);

	/* A good value afterwards is taken. */
	replace_file(f, "log_level = 2\nlog_target = nowhere\n");
	assert_true(loop_until_level(f, 2));
	assert_int_equal(f->s.cur.log_target, LOG_TARGET_STDERR);
	assert_int_equal(captured_count("nowhere", NULL), 1);
}

static void test_removed_file_gives_defaults(void **state)
{
	struct fixture *f = *state;

	write_file(f->path, "log_level = 1\n");
	start(f, 0, NULL, NULL);
	assert_int_equal(tcmu_get_log_level(), 1);
	assert_int_equal(unlink(f->path), 0);
	assert_true(loop_until_level(f, CONFIG_DEFAULT_LOG_LEVEL));
}

/* No file at start: defaults, and creating it later is noticed. */
static void test_created_later(void **state)
{
	struct fixture *f = *state;

	start(f, 0, NULL, NULL);
	assert_int_equal(tcmu_get_log_level(), CONFIG_DEFAULT_LOG_LEVEL);
	replace_file(f, "log_level = 5\n");
	assert_true(loop_until_level(f, 5));
}

/* --debug is a floor for the level, whatever the file says. */
static void test_debug_override(void **state)
{
	struct fixture *f = *state;

	write_file(f->path, "log_level = 1\n");
	start(f, TCMU_LOG_DEBUG, NULL, NULL);
	assert_int_equal(tcmu_get_log_level(), TCMU_LOG_DEBUG);
	replace_file(f, "log_level = 5\n");
	assert_true(loop_until_level(f, 5));
	replace_file(f, "log_level = 2\n");
	assert_true(loop_until_level(f, TCMU_LOG_DEBUG));
}

/* log_target = file through a reload: lines land in log_dir/tcmud.log,
 * and --log-dir beats the file's log_dir. */
static void test_target_file_live(void **state)
{
	struct fixture *f = *state;
	struct logger *lg = logger_new(0);
	char logdir[600], logfile[700];
	char *text;

	assert_non_null(lg);
	snprintf(logdir, sizeof(logdir), "%s/logs", f->dir);
	assert_int_equal(mkdir(logdir, 0755), 0);
	snprintf(logfile, sizeof(logfile), "%s/tcmud.log", logdir);

	write_file(f->path, "log_level = 3\nlog_dir = /nonexistent\n");
	start(f, 0, logdir, lg);
	logger_install(lg);
	replace_file(f, "log_level = 4\nlog_target = file\nlog_dir = /nonexistent\n");
	assert_true(loop_until_level(f, 4));
	tcmu_info("hello file %d", 42);
	logger_flush(lg);
	text = read_file(logfile);
	assert_non_null(text);
	assert_non_null(strstr(text, "hello file 42"));
	free(text);
	settings_clear(&f->s);
	f->inited = false;
	logger_free(lg);
}

static unsigned int hook_calls, hook_busy_poll;

static void on_apply(const struct tcmud_config *c, void *arg)
{
	hook_calls++;
	hook_busy_poll = c->busy_poll_us;
}

/* Run the main loop until the hook saw busy_poll_us == @us (or 5 s). */
static bool loop_until_busy_poll(struct fixture *f, unsigned int us)
{
	int64_t end = now_ms() + 5000;

	while (now_ms() < end && hook_busy_poll != us) {
		g_main_context_iteration(f->ctx, FALSE);
		g_usleep(2000);
	}
	return hook_busy_poll == us;
}

/*
 * busy_poll_us goes to the on_apply hook (the daemon's device table): at
 * once with the value in force, then on every reload; a change is logged
 * once at info level, an invalid value keeps the one in force.
 */
static void test_busy_poll_live(void **state)
{
	struct fixture *f = *state;
	unsigned int reloads;

	hook_calls = 0;
	hook_busy_poll = 12345;
	write_file(f->path, "busy_poll_us = 20\n");
	start(f, 0, NULL, NULL);
	assert_int_equal(captured_count("busy_poll_us 20", NULL), 1);
	settings_on_apply(&f->s, on_apply, NULL);
	assert_int_equal(hook_calls, 1);
	assert_int_equal(hook_busy_poll, 20);

	replace_file(f, "busy_poll_us = 50\n");
	assert_true(loop_until_busy_poll(f, 50));
	assert_int_equal(captured_count("busy_poll_us 20 -> 50", NULL), 1);

	reloads = f->s.reloads;
	replace_file(f, "busy_poll_us = 5000\n");
	assert_true(loop_until_reloads(f, reloads + 1));
	assert_int_equal(hook_busy_poll, 50);
	assert_int_equal(f->s.cur.busy_poll_us, 50);
	assert_int_equal(captured_count(f->path, "busy_poll_us", "\"5000\"", NULL), 1);
	assert_int_equal(captured_count("busy_poll_us 50 ->", NULL), 0);

	/* Gone from the file: back to 0 (off). */
	replace_file(f, "log_level = 3\n");
	assert_true(loop_until_busy_poll(f, 0));
	assert_int_equal(captured_count("busy_poll_us 50 -> 0", NULL), 1);
	settings_on_apply(&f->s, NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_level_changes_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_value_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_file_gives_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_created_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_debug_override, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_file_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_poll_live, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
