/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of daemon/daemon.c without a kernel: tcmu.conf applied at
 * creation, SIGTERM ending the main loop with status 0, the lock keeping a
 * second daemon out, and the netlink module parameters (on a fake sysfs):
 * blocked + reset at start, and again at shutdown.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "daemon.h"
#include "lockfile.h"
#include "test_daemon_util.h"

struct fixture {
	char *dir;
	char params[256];
	struct tcmud_options o;
};

static char *path_in(struct fixture *f, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", f->dir, name) > 0);
	return p;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *cmd, *p;

	f->dir = make_tmpdir();
	snprintf(f->params, sizeof(f->params),
		 "%s/sys/module/target_core_user/parameters", f->dir);
	assert_true(asprintf(&cmd, "mkdir -p '%s' '%s/handlers' '%s/sys/class/uio'",
			     f->params, f->dir, f->dir) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_true(asprintf(&p, "%s/block_netlink", f->params) > 0);
	write_file(p, "0");
	free(p);
	assert_true(asprintf(&p, "%s/reset_netlink", f->params) > 0);
	write_file(p, "0");
	free(p);
	assert_true(asprintf(&p, "%s/sys", f->dir) > 0);
	setenv("TCMU_SYSFS_ROOT", p, 1);
	free(p);

	f->o.config_file = path_in(f, "tcmu.conf");
	f->o.handler_dir = path_in(f, "handlers");
	f->o.lock_file = path_in(f, "tcmud.lock");
	write_file(f->o.config_file, "log_level = 2\n");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unsetenv("TCMU_SYSFS_ROOT");
	options_clear(&f->o);
	remove_tmpdir(f->dir);
	free(f);
	tcmu_set_log_sink(NULL, NULL);
	tcmu_set_log_level(3);
	return 0;
}

static char *param(struct fixture *f, const char *name)
{
	char *p, *v;

	assert_true(asprintf(&p, "%s/%s", f->params, name) > 0);
	v = read_file(p);
	free(p);
	return v;
}

/* The configuration is in force once the daemon object exists. */
static void test_config_applied(void **state)
{
	struct fixture *f = *state;
	struct tcmud *d;

	d = tcmud_new(&f->o);
	assert_non_null(d);
	assert_int_equal(tcmu_get_log_level(), 2);
	assert_non_null(tcmud_logger(d));
	assert_non_null(tcmud_main_context(d));
	tcmud_free(d);

	f->o.debug = true;
	d = tcmud_new(&f->o);
	assert_int_equal(tcmu_get_log_level(), TCMU_LOG_DEBUG);
	tcmud_free(d);
}

/* SIGTERM, even one that arrives before the loop runs, ends it with 0. */
static void test_sigterm_ends_loop(void **state)
{
	struct fixture *f = *state;
	struct tcmud *d = tcmud_new(&f->o);

	assert_non_null(d);
	assert_int_equal(kill(getpid(), SIGTERM), 0);
	assert_int_equal(tcmud_run(d), 0);
	tcmud_free(d);
}

/* Start against the fake sysfs: whatever the netlink outcome (no module on
 * a build host, the real one elsewhere), netlink is blocked when no daemon
 * answers, and a second daemon is kept out by the lock. */
static void test_start_netlink_params_and_lock(void **state)
{
	struct fixture *f = *state;
	struct tcmud *d, *d2;
	char *v;
	int r;

	d = tcmud_new(&f->o);
	assert_non_null(d);
	r = tcmud_start(d);
	v = param(f, "reset_netlink");
	assert_string_equal(v, "1"); /* waiters from a dead daemon woken */
	free(v);
	v = param(f, "block_netlink");
	if (r == 0) {
		/* A kernel with TCM-USER: we listen, so it is unblocked. */
		assert_string_equal(v, "0");
		free(v);
		/* A second daemon is refused by the lock. */
		d2 = tcmud_new(&f->o);
		assert_int_equal(tcmud_start(d2), -EBUSY);
		tcmud_free(d2);
		assert_int_equal(kill(getpid(), SIGTERM), 0);
		assert_int_equal(tcmud_run(d), 0);
	} else {
		/* No TCM-USER family here: start fails, still blocked. */
		assert_int_equal(r, -ENOENT);
		assert_string_equal(v, "1");
		free(v);
	}
	/* Reset the files to see what shutdown writes. */
	char *p;
	assert_true(asprintf(&p, "%s/block_netlink", f->params) > 0);
	write_file(p, "0");
	free(p);
	assert_true(asprintf(&p, "%s/reset_netlink", f->params) > 0);
	write_file(p, "0");
	free(p);
	tcmud_free(d);
	v = param(f, "block_netlink");
	assert_string_equal(v, r == 0 ? "1" : "0"); /* blocked again at stop */
	free(v);
	v = param(f, "reset_netlink");
	assert_string_equal(v, r == 0 ? "1" : "0");
	free(v);

	/* Lock released: another daemon may take it. */
	d2 = tcmud_new(&f->o);
	r = tcmud_start(d2);
	assert_int_not_equal(r, -EBUSY);
	tcmud_free(d2);
}

/* The lock is taken first: a second daemon never touches the kernel. */
static void test_lock_held_elsewhere(void **state)
{
	struct fixture *f = *state;
	struct tcmud *d;
	char *v;
	int fd = lockfile_acquire(f->o.lock_file);

	assert_true(fd >= 0);
	d = tcmud_new(&f->o);
	assert_int_equal(tcmud_start(d), -EBUSY);
	tcmud_free(d);
	v = param(f, "block_netlink");
	assert_string_equal(v, "0"); /* untouched */
	free(v);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_ends_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_netlink_params_and_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_held_elsewhere, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
