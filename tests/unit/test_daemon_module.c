/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of daemon/module.c (module loading, netlink module parameters on a
 * fake sysfs tree) and daemon/lockfile.c (one daemon per kernel).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "lockfile.h"
#include "module.h"
#include "test_daemon_util.h"

static char *make_fake_sysfs(char **params)
{
	char *root = make_tmpdir();
	char p[600];

	snprintf(p, sizeof(p), "%s/module", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/module/target_core_user", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/module/target_core_user/parameters", root);
	mkdir(p, 0755);
	*params = strdup(p);
	setenv("TCMU_SYSFS_ROOT", root, 1);
	return root;
}

static char *param(const char *dir, const char *name)
{
	char p[700];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return read_file(p);
}

static void test_netlink_params(void **state)
{
	char *params;
	char *root = make_fake_sysfs(&params);
	char p[700];
	char *v;

	/* A kernel without the parameters: -ENOENT, nothing created. */
	assert_int_equal(module_block_netlink(true), -ENOENT);
	assert_int_equal(module_reset_netlink(), -ENOENT);

	snprintf(p, sizeof(p), "%s/block_netlink", params);
	write_file(p, "");
	snprintf(p, sizeof(p), "%s/reset_netlink", params);
	write_file(p, "");

	assert_int_equal(module_block_netlink(true), 0);
	v = param(params, "block_netlink");
	assert_string_equal(v, "1");
	free(v);
	assert_int_equal(module_reset_netlink(), 0);
	v = param(params, "reset_netlink");
	assert_string_equal(v, "1");
	free(v);
	/* sysfs: each write replaces the value (files here: truncate first). */
	snprintf(p, sizeof(p), "%s/block_netlink", params);
	write_file(p, "");
	assert_int_equal(module_block_netlink(false), 0);
	v = param(params, "block_netlink");
	assert_string_equal(v, "0");
	free(v);

	unsetenv("TCMU_SYSFS_ROOT");
	free(params);
	remove_tmpdir(root);
}

static void test_module_missing_is_clear(void **state)
{
	capture_start();
	assert_true(module_ensure_loaded("tcmud_test_no_such_module") < 0);
	assert_int_equal(captured_count("tcmud_test_no_such_module", "not loaded", NULL), 1);
	tcmu_set_log_sink(NULL, NULL);
}

static void test_module_loaded_is_fine(void **state)
{
	struct stat st;

	/* /sys/module/kernel exists on every Linux (built-in parameters). */
	if (stat("/sys/module/kernel", &st) < 0)
		skip();
	capture_start();
	assert_int_equal(module_ensure_loaded("kernel"), 0);
	assert_int_equal(captured_count("failed", NULL), 0);
	tcmu_set_log_sink(NULL, NULL);
}

static void test_lockfile(void **state)
{
	char *dir = make_tmpdir();
	char path[600], pid[32];
	int fd, fd2;
	char *text;

	snprintf(path, sizeof(path), "%s/tcmud.lock", dir);
	capture_start();
	fd = lockfile_acquire(path);
	assert_true(fd >= 0);
	text = read_file(path);
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	assert_string_equal(text, pid);
	free(text);

	/* A second daemon (another open file description) is refused. */
	assert_int_equal(lockfile_acquire(path), -EBUSY);
	snprintf(pid, sizeof(pid), "pid %ld", (long)getpid());
	assert_int_equal(captured_count("another tcmud", pid, NULL), 1);

	/* Released when the first goes away. */
	close(fd);
	fd2 = lockfile_acquire(path);
	assert_true(fd2 >= 0);
	close(fd2);

	snprintf(path, sizeof(path), "%s/nodir/tcmud.lock", dir);
	assert_int_equal(lockfile_acquire(path), -ENOENT);
	tcmu_set_log_sink(NULL, NULL);
	remove_tmpdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netlink_params),
		cmocka_unit_test(test_module_missing_is_clear),
		cmocka_unit_test(test_module_loaded_is_fine),
		cmocka_unit_test(test_lockfile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
