/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/dbus/test_oop_example.c — examples/oop_handler (tcmud-oop-example)
 * against the D-Bus service on a private bus, without a kernel: it
 * registers, answers forwarded CheckConfig, takes over only devices of its
 * own subtype at start (restart protocol on a fake configfs), answers
 * AddDevice / RemoveDevice / ReconfigDevice, comes back after the service
 * restarts, and disappears when it exits. Serving a real device is
 * tests/vm's job.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "kabi.h"
#include "tcmud_dbus.h"
#include "testbus.h"

#define ROOT DBUS_SERVICE_PATH
#define IFACE "org.kernel.TCMUService1"

static struct testbus bus;
static char tmp[64];

struct fix {
	struct dbus_service *svc;
	GDBusConnection *client;
	GPid pid;
	bool exited;
	int status;
	int ext_calls;
	bool present;
};

static void ext_changed(void *ctx, const char *subtype, bool present)
{
	struct fix *f = ctx;

	if (strcmp(subtype, "oopmem"))
		return;
	f->ext_calls++;
	f->present = present;
}

static const struct dbus_service_ops ops = {
	.external_changed = ext_changed,
};

static bool owned(void *svc)
{
	return dbus_service_owns_name(svc);
}

static bool registered(void *arg)
{
	struct fix *f = arg;

	return f->svc && dbus_service_is_external(f->svc, "oopmem");
}

static bool gone(void *arg)
{
	return !((struct fix *)arg)->present;
}

static bool exited(void *arg)
{
	return ((struct fix *)arg)->exited;
}

static void on_exit_cb(GPid pid, gint status, gpointer data)
{
	struct fix *f = data;

	f->status = status;
	f->exited = true;
	g_spawn_close_pid(pid);
}

/* A file with @text, directories created as needed. */
static void put(const char *rel, const char *text)
{
	g_autofree char *path = g_strdup_printf("%s/%s", tmp, rel);
	g_autofree char *dir = g_path_get_dirname(path);

	assert_int_equal(g_mkdir_with_parents(dir, 0755), 0);
	assert_true(g_file_set_contents(path, text, -1, NULL));
}

static char *get(const char *rel)
{
	g_autofree char *path = g_strdup_printf("%s/%s", tmp, rel);
	char *text = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return g_strdup("<missing>");
	return text;
}

static int start_service(struct fix *f)
{
	struct dbus_service_params params = { .address = bus.address,
					      .call_timeout_ms = 5000 };

	if (dbus_service_start_full(&ops, f, &params, &f->svc))
		return -1;
	return wait_until(owned, f->svc, 5000) ? 0 : -1;
}

static int setup(void **state)
{
	struct fix *f = g_new0(struct fix, 1);
	g_autofree char *sys = g_strdup_printf("%s/sys", tmp);
	g_autofree char *dev = g_strdup_printf("%s/dev", tmp);
	g_autofree char *cfg = g_strdup_printf("%s/cfg", tmp);
	g_auto(GStrv) env = g_get_environ();
	char *argv[] = { TCMU_OOP_EXAMPLE, "-d", NULL };
	g_autoptr(GError) err = NULL;

	*state = f;
	/* Two devices exist already: one of ours, one of another handler. */
	put("sys/class/uio/uio5/name", "tcm-user/1/mine/oopmem/fill=7\n");
	put("sys/class/uio/uio5/maps/map0/size", "1052672\n");
	put("cfg/core/user_1/mine/action/block_dev", "");
	put("cfg/core/user_1/mine/action/reset_ring", "");
	put("sys/class/uio/uio6/name", "tcm-user/2/theirs/file//x.img\n");
	put("cfg/core/user_2/theirs/action/block_dev", "untouched");
	put("cfg/core/user_2/theirs/action/reset_ring", "untouched");
	g_mkdir_with_parents(dev, 0755);

	if (start_service(f))
		return -1;
	f->client = testbus_connect(&bus);
	env = g_environ_setenv(env, "TCMU_SYSFS_ROOT", sys, TRUE);
	env = g_environ_setenv(env, "TCMU_DEV_ROOT", dev, TRUE);
	env = g_environ_setenv(env, "TCMU_CONFIGFS_ROOT", cfg, TRUE);
	if (!g_spawn_async(NULL, argv, env, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
			   NULL, &f->pid, &err)) {
		fprintf(stderr, "spawn: %s\n", err->message);
		return -1;
	}
	g_child_watch_add(f->pid, on_exit_cb, f);
	if (!wait_until(registered, f, 10000)) {
		fprintf(stderr, "the example did not register\n");
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	if (!f->exited) {
		kill(f->pid, SIGTERM);
		wait_until(exited, f, 10000);
	}
	f->svc = dbus_service_stop(f->svc);
	if (f->client) {
		g_dbus_connection_close_sync(f->client, NULL, NULL);
		g_object_unref(f->client);
	}
	g_free(f);
	wait_ms(20);
	return 0;
}

static bool check_config(struct fix *f, const char *cfg, char *msg, size_t len)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GVariant) r = call(f->client, NULL, ROOT "/oopmem", IFACE,
				     "CheckConfig", g_variant_new("(s)", cfg),
				     &err);
	gboolean ok;
	const char *m;

	if (!r)
		fail_msg("CheckConfig: %s", err->message);
	g_variant_get(r, "(b&s)", &ok, &m);
	snprintf(msg, len, "%s", m);
	return ok;
}

struct ev_result {
	int calls;
	int status;
};

static void ev_done(int status, void *arg)
{
	struct ev_result *r = arg;

	r->calls++;
	r->status = status;
}

static bool ev_finished(void *arg)
{
	return ((struct ev_result *)arg)->calls > 0;
}

static int event(struct fix *f, int cmd, const char *device, unsigned int minor,
		 const char *dev_cfg)
{
	struct tcmu_nl_event ev = {
		.cmd = cmd, .device = device, .minor = minor,
		.dev_cfg = dev_cfg, .write_cache = -1,
	};
	struct ev_result r = { 0 };

	assert_int_equal(dbus_external_event(f->svc, &ev, ev_done, &r), 0);
	assert_true(wait_until(ev_finished, &r, 10000));
	return r.status;
}

static void test_registers_and_checks(void **state)
{
	struct fix *f = *state;
	g_autoptr(GVariant) r = NULL;
	g_autofree char *text = NULL;
	char msg[256];

	assert_true(f->present);
	r = call(f->client, NULL, ROOT, "org.freedesktop.DBus.ObjectManager",
		 "GetManagedObjects", NULL, NULL);
	assert_non_null(r);
	text = g_variant_print(r, FALSE);
	assert_non_null(strstr(text, ROOT "/oopmem"));
	assert_non_null(strstr(text, "fill=<byte>")); /* ConfigDesc */

	assert_true(check_config(f, "oopmem/", msg, sizeof(msg)));
	assert_string_equal(msg, "success");
	assert_true(check_config(f, "oopmem", msg, sizeof(msg)));
	assert_true(check_config(f, "oopmem/fill=0x5a", msg, sizeof(msg)));
	assert_true(check_config(f, "oopmem/fill=255", msg, sizeof(msg)));
	assert_false(check_config(f, "oopmem/fill=256", msg, sizeof(msg)));
	assert_non_null(strstr(msg, "fill=<byte>"));
	assert_false(check_config(f, "oopmem//etc/shadow", msg, sizeof(msg)));
	assert_null(strstr(msg, "shadow")); /* input is not echoed */
	assert_false(check_config(f, "oopmem/fill=", msg, sizeof(msg)));
}

/* At start it took over uio5 (ours) and left uio6 (file) alone. */
static void test_takes_over_only_its_own(void **state)
{
	g_autofree char *b5 = get("cfg/core/user_1/mine/action/block_dev");
	g_autofree char *r5 = get("cfg/core/user_1/mine/action/reset_ring");
	g_autofree char *b6 = get("cfg/core/user_2/theirs/action/block_dev");
	g_autofree char *r6 = get("cfg/core/user_2/theirs/action/reset_ring");

	/* Blocked, reset, (open failed: no /dev/uio5 here), unblocked. */
	assert_string_equal(b5, "0");
	assert_string_equal(r5, "1");
	assert_string_equal(b6, "untouched");
	assert_string_equal(r6, "untouched");
}

static void test_device_events(void **state)
{
	struct fix *f = *state;

	/* No /dev/uio9 here: the open fails and tcmud hears why. */
	assert_int_equal(event(f, TCMU_CMD_ADDED_DEVICE,
			       "tcm-user/3/d9/oopmem/", 9, NULL),
			 -ENOENT);
	/* A config the handler refuses is refused before any open. */
	assert_int_equal(event(f, TCMU_CMD_ADDED_DEVICE,
			       "tcm-user/3/d9/oopmem/fill=x", 9, NULL),
			 -EINVAL);
	/* Removing what it does not serve is fine; reconfiguring is not. */
	assert_int_equal(event(f, TCMU_CMD_REMOVED_DEVICE,
			       "tcm-user/3/d9/oopmem/", 9, NULL),
			 0);
	assert_int_equal(event(f, TCMU_CMD_RECONFIG_DEVICE,
			       "tcm-user/3/d9/oopmem/", 9, "oopmem/fill=1"),
			 -ENODEV);
}

/* tcmud restarts: the example registers again by itself. */
static void test_reregisters(void **state)
{
	struct fix *f = *state;

	f->svc = dbus_service_stop(f->svc);
	f->present = false;
	wait_ms(200);
	assert_int_equal(start_service(f), 0);
	assert_true(wait_until(registered, f, 10000));
	assert_true(f->present);
	assert_false(f->exited);
}

/* SIGTERM: a clean exit, and its handler object goes away. */
static void test_exit(void **state)
{
	struct fix *f = *state;
	g_autoptr(GVariant) r = NULL;
	g_autofree char *text = NULL;

	kill(f->pid, SIGTERM);
	assert_true(wait_until(exited, f, 10000));
	assert_true(WIFEXITED(f->status));
	assert_int_equal(WEXITSTATUS(f->status), 0);
	assert_true(wait_until(gone, f, 5000));
	assert_false(dbus_service_is_external(f->svc, "oopmem"));
	r = call(f->client, NULL, ROOT, "org.freedesktop.DBus.ObjectManager",
		 "GetManagedObjects", NULL, NULL);
	text = g_variant_print(r, FALSE);
	assert_null(strstr(text, ROOT "/oopmem"));
}

static int group_setup(void **state)
{
	int ret;

	snprintf(tmp, sizeof(tmp), "/tmp/tcmud-oop-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	ret = testbus_start(&bus, getuid() == 0 ? TCMU_DBUS_POLICY : NULL,
			    NULL);
	return ret;
}

static int group_teardown(void **state)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmp);

	testbus_stop(&bus);
	if (system(cmd))
		return -1;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registers_and_checks,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_takes_over_only_its_own,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_events, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reregisters, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_exit, setup, teardown),
	};
	g_autofree char *daemon = g_find_program_in_path("dbus-daemon");

	if (!daemon) {
		printf("SKIP: dbus-daemon not installed\n");
		return 0;
	}
	if (!TCMU_OOP_EXAMPLE[0]) {
		printf("SKIP: the example is not built\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
