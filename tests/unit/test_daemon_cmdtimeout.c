/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of daemon/cmdtimeout.c: the ";tcmur_cmd_time_out=N;" option. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cmdtimeout.h"

/* Strip @in; expect @out, found and seconds. */
static void check(const char *in, const char *out, bool found, unsigned int secs)
{
	char buf[256];
	unsigned int s = 12345;
	bool f = !found;

	snprintf(buf, sizeof(buf), "%s", in);
	assert_int_equal(cmd_timeout_strip(buf, &s, &f), 0);
	assert_string_equal(buf, out);
	assert_int_equal(f, found);
	if (found)
		assert_int_equal(s, secs);
}

static void test_prefix(void **state)
{
	check(";tcmur_cmd_time_out=30;/var/lib/d1.img", "/var/lib/d1.img", true, 30);
	check(";tcmur_cmd_time_out=0;/x", "/x", true, 0);
	check(";tcmur_cmd_time_out=30;", "", true, 30);
	check(";tcmur_cmd_time_out=7", "", true, 7);
}

static void test_elsewhere(void **state)
{
	/* gluster-block style: "<vol>@<host>/<path>;tcmur_cmd_time_out=N" */
	check("vol@host/block-store/id;tcmur_cmd_time_out=43", "vol@host/block-store/id", true, 43);
	check("a;tcmur_cmd_time_out=5;control=x", "a;control=x", true, 5);
	check("a;other=1;tcmur_cmd_time_out=9", "a;other=1", true, 9);
}

static void test_none(void **state)
{
	check("/var/lib/d1.img", "/var/lib/d1.img", false, 0);
	check("", "", false, 0);
	check(";other=1;/x", ";other=1;/x", false, 0);
	/* Not an option: the key must follow a ';'. */
	check("tcmur_cmd_time_out=5", "tcmur_cmd_time_out=5", false, 0);
	check("/p/;tcmur_cmd_time_outX=5", "/p/;tcmur_cmd_time_outX=5", false, 0);
}

static void test_repeated_last_wins(void **state)
{
	check(";tcmur_cmd_time_out=1;tcmur_cmd_time_out=2;/x", "/x", true, 2);
	check("/x;tcmur_cmd_time_out=1;tcmur_cmd_time_out=3", "/x", true, 3);
}

static void test_invalid(void **state)
{
	static const char *const bad[] = {
		";tcmur_cmd_time_out=;/x",
		";tcmur_cmd_time_out=abc;/x",
		";tcmur_cmd_time_out=-1;/x",
		";tcmur_cmd_time_out=5s;/x",
		";tcmur_cmd_time_out=86401;/x",
		";tcmur_cmd_time_out=99999999999999999999;/x",
		"/x;tcmur_cmd_time_out=1;tcmur_cmd_time_out=zz",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char buf[128];
		unsigned int s = 77;
		bool f;

		snprintf(buf, sizeof(buf), "%s", bad[i]);
		assert_int_equal(cmd_timeout_strip(buf, &s, &f), -EINVAL);
		assert_string_equal(buf, bad[i]); /* untouched */
		assert_int_equal(s, 77);
	}
	check(";tcmur_cmd_time_out=86400;/x", "/x", true, 86400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_elsewhere),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_repeated_last_wins),
		cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
