/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of daemon/config.c: parsing tcmu.conf. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "config.h"
#include "test_daemon_util.h"

static void test_defaults(void **state)
{
	struct tcmud_config c;

	config_defaults(&c);
	assert_int_equal(c.log_level, 3);
	assert_int_equal(c.log_target, LOG_TARGET_STDERR);
	assert_string_equal(c.log_dir, "/var/log");
	assert_int_equal(c.busy_poll_us, 0);
}

static void test_all_keys(void **state)
{
	struct tcmud_config prev, c;

	config_defaults(&prev);
	capture_start();
	assert_int_equal(config_parse("# comment\n"
				      "\n"
				      "log_level = 5\n"
				      "  log_target=file   # trailing comment\n"
				      "log_dir = \"/var/log/tcmu\"\n",
				      "t.conf", &prev, &c),
			 0);
	assert_int_equal(c.log_level, 5);
	assert_int_equal(c.log_target, LOG_TARGET_FILE);
	assert_string_equal(c.log_dir, "/var/log/tcmu");
	assert_int_equal(captured.lines, 0);

	for (int t = LOG_TARGET_STDERR; t <= LOG_TARGET_FILE; t++) {
		char text[64];

		snprintf(text, sizeof(text), "log_target = %s", log_target_name(t));
		assert_int_equal(config_parse(text, "t.conf", &prev, &c), 0);
		assert_int_equal(c.log_target, t);
	}
	for (int l = 0; l <= 5; l++) {
		char text[64];

		snprintf(text, sizeof(text), "log_level=%d\n", l);
		assert_int_equal(config_parse(text, "t.conf", &prev, &c), 0);
		assert_int_equal(c.log_level, l);
	}
}

/* An invalid value is logged (file:line) and the previous value stays. */
static void test_invalid_keeps_previous(void **state)
{
	struct tcmud_config prev, c;

	config_defaults(&prev);
	prev.log_level = 4;
	prev.log_target = LOG_TARGET_SYSLOG;
	snprintf(prev.log_dir, sizeof(prev.log_dir), "/old");
	capture_start();
	assert_int_equal(config_parse("log_level = 6\n"
				      "log_target = kafka\n"
				      "log_dir = relative/dir\n",
				      "/etc/tcmu/tcmu.conf", &prev, &c),
			 3);
	assert_int_equal(c.log_level, 4);
	assert_int_equal(c.log_target, LOG_TARGET_SYSLOG);
	assert_string_equal(c.log_dir, "/old");
	assert_int_equal(captured_count("/etc/tcmu/tcmu.conf:1", "log_level", "\"6\"", NULL), 1);
	assert_int_equal(captured_count("/etc/tcmu/tcmu.conf:2", "kafka", NULL), 1);
	assert_int_equal(captured_count("/etc/tcmu/tcmu.conf:3", "relative/dir", NULL), 1);

	static const char *const bad_levels[] = { "-1", "3x", "", "03", "1 2", "+3" };
	for (size_t i = 0; i < sizeof(bad_levels) / sizeof(bad_levels[0]); i++) {
		char text[64];

		snprintf(text, sizeof(text), "log_level = %s\n", bad_levels[i]);
		assert_int_equal(config_parse(text, "t", &prev, &c), 1);
		assert_int_equal(c.log_level, 4);
	}
}

/* busy_poll_us: 0..TCMU_BUSY_POLL_MAX_US; anything else is logged with its
 * line and the previous value stays; absent means 0 again. */
static void test_busy_poll_us(void **state)
{
	struct tcmud_config prev, c, d;

	config_defaults(&prev);
	capture_start();
	assert_int_equal(config_parse("busy_poll_us = 20\n", "t", &prev, &c), 0);
	assert_int_equal(c.busy_poll_us, 20);
	assert_int_equal(config_parse("busy_poll_us=\"1000\"", "t", &prev, &c), 0);
	assert_int_equal(c.busy_poll_us, TCMU_BUSY_POLL_MAX_US);
	assert_int_equal(config_parse("busy_poll_us = 0", "t", &prev, &c), 0);
	assert_int_equal(c.busy_poll_us, 0);
	assert_int_equal(captured.lines, 0);

	/* config_equal sees it. */
	config_defaults(&d);
	c = d;
	assert_true(config_equal(&c, &d));
	c.busy_poll_us = 5;
	assert_false(config_equal(&c, &d));

	prev.busy_poll_us = 50;
	assert_int_equal(config_parse("log_level = 3\nbusy_poll_us = 1001\n",
				      "/etc/tcmu/tcmu.conf", &prev, &c),
			 1);
	assert_int_equal(c.busy_poll_us, 50);
	assert_int_equal(captured_count("/etc/tcmu/tcmu.conf:2", "busy_poll_us",
					"\"1001\"", "0..1000", "keeping 50", NULL),
			 1);

	static const char *const bad[] = {
		"-1", "20us", "", "020", "1 2", "+5", "4294967316", "99999999999999999999",
		"0x10", "1000000",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[64];

		snprintf(text, sizeof(text), "busy_poll_us = %s\n", bad[i]);
		assert_int_equal(config_parse(text, "t", &prev, &c), 1);
		assert_int_equal(c.busy_poll_us, 50);
	}

	/* Absent: back to the default. */
	assert_int_equal(config_parse("log_level = 3\n", "t", &prev, &c), 0);
	assert_int_equal(c.busy_poll_us, 0);
}

/* Keys absent from the file go back to their default. */
static void test_absent_is_default(void **state)
{
	struct tcmud_config prev, c;

	config_defaults(&prev);
	prev.log_level = 5;
	prev.log_target = LOG_TARGET_JOURNAL;
	capture_start();
	assert_int_equal(config_parse("# everything commented out\n# log_level = 1\n",
				      "t", &prev, &c),
			 0);
	assert_int_equal(c.log_level, 3);
	assert_int_equal(c.log_target, LOG_TARGET_STDERR);
}

static void test_syntax_errors(void **state)
{
	struct tcmud_config prev, c;

	config_defaults(&prev);
	capture_start();
	assert_int_equal(config_parse("log_level 4\nfoo = bar\nlog_level = 2\n",
				      "t.conf", &prev, &c),
			 2);
	assert_int_equal(c.log_level, 2); /* the good line still counts */
	assert_int_equal(captured_count("t.conf:1", "key = value", NULL), 1);
	assert_int_equal(captured_count("t.conf:2", "unknown key", "foo", NULL), 1);
}

static void test_load(void **state)
{
	char *dir = make_tmpdir();
	char path[512];
	struct tcmud_config prev, c;

	config_defaults(&prev);
	prev.log_level = 1;
	capture_start();
	snprintf(path, sizeof(path), "%s/none.conf", dir);
	assert_int_equal(config_load(path, &prev, &c), -ENOENT);
	assert_int_equal(c.log_level, 3); /* no file: defaults */

	snprintf(path, sizeof(path), "%s/tcmu.conf", dir);
	write_file(path, "log_level = 4\nlog_target = journal\n");
	assert_int_equal(config_load(path, &prev, &c), 0);
	assert_int_equal(c.log_level, 4);
	assert_int_equal(c.log_target, LOG_TARGET_JOURNAL);

	/* A directory is not a config file: keep what we had. */
	assert_int_equal(config_load(dir, &prev, &c), -EINVAL);
	assert_int_equal(c.log_level, 1);
	remove_tmpdir(dir);
}

/* The annotated default tcmu.conf of the source tree parses cleanly and
 * says what the defaults are. */
static void test_shipped_file(void **state)
{
	struct tcmud_config prev, c, d;

	config_defaults(&d);
	prev = d;
	prev.log_level = 0;
	capture_start();
	assert_int_equal(config_load(TCMU_SOURCE_DIR "/tcmu.conf", &prev, &c), 0);
	assert_true(config_equal(&c, &d));
	assert_int_equal(captured.lines, 0);

	/* Uncommenting every "# key = value" line gives the defaults too. */
	char *text = read_file(TCMU_SOURCE_DIR "/tcmu.conf");
	assert_non_null(text);
	size_t n = 0;
	for (char *p = text; (p = strstr(p, "\n# log_")); p++) {
		p[1] = ' ';
		n++;
	}
	char *bp = strstr(text, "\n# busy_poll_us =");
	assert_non_null(bp);
	bp[1] = ' ';
	assert_true(n >= 3);
	assert_int_equal(config_parse(text, "tcmu.conf", &prev, &c), 0);
	assert_true(config_equal(&c, &d));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_keys),
		cmocka_unit_test(test_invalid_keeps_previous),
		cmocka_unit_test(test_busy_poll_us),
		cmocka_unit_test(test_absent_is_default),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_shipped_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
