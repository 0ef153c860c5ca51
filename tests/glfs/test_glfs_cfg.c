/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/glfs/test_glfs_cfg.c — the glfs handler's config parser
 * (handlers/glfs/cfg.c, compiled in): tcmu-runner's
 * "<volume>@<host>[:<port>]/<path>", IPv6 literals, ports, path rules,
 * refusals with a reason. No cluster needed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "glfs.h"

static void good(const char *s, const char *vol, const char *host,
		 unsigned int port, const char *path)
{
	struct gl_cfg c;
	char *reason = NULL;

	if (gl_cfg_parse(s, &c, &reason))
		fail_msg("'%s' refused: %s", s, reason ? reason : "(no reason)");
	assert_null(reason);
	assert_string_equal(c.volume, vol);
	assert_string_equal(c.host, host);
	assert_int_equal(c.port, port);
	assert_string_equal(c.path, path);
	gl_cfg_free(&c);
	assert_null(c.volume);
}

static void bad(const char *s, const char *want)
{
	struct gl_cfg c;
	char *reason = NULL;

	assert_int_equal(gl_cfg_parse(s, &c, &reason), -EINVAL);
	assert_null(c.volume);
	assert_null(c.path);
	assert_non_null(reason);
	if (want && !strstr(reason, want))
		fail_msg("'%s': reason '%s' lacks '%s'", s, reason, want);
	free(reason);
	/* no reason asked for: still refused, nothing allocated */
	assert_int_equal(gl_cfg_parse(s, &c, NULL), -EINVAL);
}

static void test_good(void **state)
{
	good("gv0@gluster1/lun0.img", "gv0", "gluster1", 24007, "/lun0.img");
	good("gv0@gluster1:24008/a/b/lun0", "gv0", "gluster1", 24008, "/a/b/lun0");
	good("my-vol_2@10.0.0.5/x", "my-vol_2", "10.0.0.5", 24007, "/x");
	good("gv0@[fd00::5]:1/x", "gv0", "fd00::5", 1, "/x");
	good("gv0@[::1]/x.img", "gv0", "::1", 24007, "/x.img");
	good("gv0@[fe80::1%eth0]:65535/x", "gv0", "fe80::1%eth0", 65535, "/x");
	good("gv0@host.example.com/.hidden/x..y", "gv0", "host.example.com", 24007,
	     "/.hidden/x..y");
}

static void test_bad(void **state)
{
	bad(NULL, "empty");
	bad("", "empty");
	bad("gv0", "no '@'");
	bad("gv0/x.img", "no '@'");
	bad("@host/x", "volume");
	bad("g v0@host/x", "volume");
	bad("-gv0@host/x", "volume");
	bad("gv0@/x", "host");
	bad("gv0@ho st/x", "host");
	bad("gv0@-host/x", "host");
	bad("gv0@host", "no file");
	bad("gv0@host/", "no file");
	bad("gv0@host:24007", "no file");
	bad("gv0@host:/x", "port");
	bad("gv0@host:0/x", "port");
	bad("gv0@host:65536/x", "port");
	bad("gv0@host:12ab/x", "port");
	bad("gv0@host:-1/x", "port");
	bad("gv0@[fd00::5/x", "IPv6");
	bad("gv0@[host]/x", "IPv6");
	bad("gv0@[fd00::5]x/x", "no file");
	bad("gv0@host/dir/", "directory");
	bad("gv0@host/a//b", "empty");
	bad("gv0@host/a/./b", "'.'");
	bad("gv0@host/../etc/passwd", "'..'");
	bad("gv0@host/a/..", "'..'");
	bad("gv0@host/x\n", "control");
	bad("gv0@host/x;direct", "unknown option");
}

static void test_limits(void **state)
{
	char s[8192], vol[200];

	memset(vol, 'v', sizeof(vol));
	vol[GL_MAX_VOLUME] = '\0';
	snprintf(s, sizeof(s), "%s@h/x", vol);
	good(s, vol, "h", 24007, "/x");
	vol[GL_MAX_VOLUME] = 'v';
	vol[GL_MAX_VOLUME + 1] = '\0';
	snprintf(s, sizeof(s), "%s@h/x", vol);
	bad(s, "volume");

	strcpy(s, "gv0@h/");
	memset(s + 6, 'p', GL_MAX_PATH - 1);
	s[6 + GL_MAX_PATH - 1] = '\0';
	assert_int_equal(strlen(s + 5), GL_MAX_PATH);
	{
		struct gl_cfg c;

		assert_int_equal(gl_cfg_parse(s, &c, NULL), 0);
		gl_cfg_free(&c);
	}
	strcat(s, "p");
	bad(s, "too long");
}

static void test_parent(void **state)
{
	struct gl_cfg c;
	char *p;

	assert_int_equal(gl_cfg_parse("gv0@h/a/b/c.img", &c, NULL), 0);
	p = gl_cfg_parent(&c);
	assert_string_equal(p, "/a/b");
	free(p);
	gl_cfg_free(&c);
	assert_int_equal(gl_cfg_parse("gv0@h/c.img", &c, NULL), 0);
	p = gl_cfg_parent(&c);
	assert_string_equal(p, "/");
	free(p);
	gl_cfg_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_parent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
