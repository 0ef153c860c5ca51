/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of daemon/options.c: tcmud's command line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <tcmu/version.h>

#include "options.h"

/* Parse a NULL-terminated list of arguments; output lands in out/err. */
static int parse(struct tcmud_options *o, char *out, char *err, ...)
{
	char *argv[16] = { "tcmud" };
	int argc = 1, r;
	FILE *fo, *fe;
	va_list ap;

	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	fo = fmemopen(out, 4096, "w");
	fe = fmemopen(err, 4096, "w");
	assert_non_null(fo);
	assert_non_null(fe);
	memset(out, 0, 4096);
	memset(err, 0, 4096);
	r = options_parse(argc, argv, o, fo, fe);
	fclose(fo);
	fclose(fe);
	return r;
}

static void test_defaults(void **state)
{
	struct tcmud_options o;
	char out[4096], err[4096];

	assert_int_equal(parse(&o, out, err, NULL), 0);
	assert_string_equal(o.config_file, TCMU_CONFIG_FILE);
	assert_string_equal(o.handler_dir, TCMU_HANDLER_DIR);
	assert_string_equal(o.lock_file, TCMUD_LOCK_FILE);
	assert_null(o.log_dir);
	assert_false(o.debug);
	assert_string_equal(out, "");
	options_clear(&o);
}

static void test_all_long(void **state)
{
	struct tcmud_options o;
	char out[4096], err[4096];

	assert_int_equal(parse(&o, out, err, "--debug", "--config", "/x/t.conf",
			       "--handler-path", "/h", "--log-dir=/logs",
			       "--lock-file", "/tmp/l", NULL),
			 0);
	assert_true(o.debug);
	assert_string_equal(o.config_file, "/x/t.conf");
	assert_string_equal(o.handler_dir, "/h");
	assert_string_equal(o.log_dir, "/logs");
	assert_string_equal(o.lock_file, "/tmp/l");
	options_clear(&o);
	assert_null(o.config_file);
}

static void test_short(void **state)
{
	struct tcmud_options o;
	char out[4096], err[4096];

	assert_int_equal(parse(&o, out, err, "-d", "-c", "a.conf", "-H", "hd",
			       "-l", "ld", NULL),
			 0);
	assert_true(o.debug);
	assert_string_equal(o.config_file, "a.conf");
	assert_string_equal(o.handler_dir, "hd");
	assert_string_equal(o.log_dir, "ld");
	options_clear(&o);
}

static void test_last_wins(void **state)
{
	struct tcmud_options o;
	char out[4096], err[4096];

	assert_int_equal(parse(&o, out, err, "-c", "one", "--config", "two",
			       NULL),
			 0);
	assert_string_equal(o.config_file, "two");
	options_clear(&o);
}

static void test_help_version(void **state)
{
	struct tcmud_options o;
	char out[4096], err[4096];

	assert_int_equal(parse(&o, out, err, "--help", NULL), OPTIONS_EXIT);
	assert_non_null(strstr(out, "Usage: tcmud"));
	assert_non_null(strstr(out, "--handler-path DIR"));
	assert_non_null(strstr(out, "--log-dir DIR"));
	assert_non_null(strstr(out, "--config FILE"));
	assert_non_null(strstr(out, "--debug"));
	assert_null(o.config_file); /* nothing to free */

	assert_int_equal(parse(&o, out, err, "-V", NULL), OPTIONS_EXIT);
	assert_non_null(strstr(out, "tcmud " TCMU_VERSION_STRING));
	assert_string_equal(err, "");
}

static void test_errors(void **state)
{
	struct tcmud_options o;
	char out[4096], err[4096];

	assert_int_equal(parse(&o, out, err, "--bogus", NULL), -EINVAL);
	assert_non_null(strstr(err, "unknown option '--bogus'"));
	assert_null(o.config_file);

	assert_int_equal(parse(&o, out, err, "-x", NULL), -EINVAL);
	assert_non_null(strstr(err, "unknown option '-x'"));

	assert_int_equal(parse(&o, out, err, "--config", NULL), -EINVAL);
	assert_non_null(strstr(err, "needs an argument"));

	assert_int_equal(parse(&o, out, err, "-c", "", NULL), -EINVAL);
	assert_non_null(strstr(err, "non-empty"));

	assert_int_equal(parse(&o, out, err, "stray", NULL), -EINVAL);
	assert_non_null(strstr(err, "unexpected argument 'stray'"));

	/* A daemon has no --foreground/--daemon: it never forks. */
	assert_int_equal(parse(&o, out, err, "--daemon", NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_long),
		cmocka_unit_test(test_short),
		cmocka_unit_test(test_last_wins),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
