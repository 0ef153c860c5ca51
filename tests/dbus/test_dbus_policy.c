/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/dbus/test_dbus_policy.c — the installed bus files, on a private
 * dbus-daemon set up like the system bus:
 *  - dbus/org.kernel.TCMUService1.conf: an unprivileged user (nobody) may
 *    introspect, read properties, list objects and call CheckConfig, and
 *    nothing else (RegisterHandler, ChangeMedium, owning the name). Needs
 *    root to switch to nobody; says SKIP otherwise.
 *  - the activation file: a call to org.kernel.TCMUService1 with nobody
 *    owning it starts the Exec'ed service (this binary, in --activated
 *    mode, standing in for tcmud).
 *
 * The unprivileged client is this binary again (--client-call /
 * --client-own), run as nobody, so the test needs nothing but dbus-daemon.
 */
#include <errno.h>
#include <grp.h>
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
#include <glib-unix.h>

#include "tcmud_dbus.h"
#include "testbus.h"

#define NAME DBUS_SERVICE_NAME
#define ROOT DBUS_SERVICE_PATH
#define HM ROOT "/HandlerManager1"
#define IFACE "org.kernel.TCMUService1"
#define HM_IFACE "org.kernel.TCMUService1.HandlerManager1"

#define EXIT_DENIED 2

static struct testbus bus;
static char servicedir[64];
static char self[4096];

/* ---------------------------------------------------------------------- */
/* Child modes                                                             */
/* ---------------------------------------------------------------------- */

static GDBusConnection *child_connect(void)
{
	g_autoptr(GError) err = NULL;
	GDBusConnection *c = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &err);

	if (!c)
		fprintf(stderr, "connect: %s\n", err->message);
	return c;
}

static int exit_for(const GError *err)
{
	fprintf(stderr, "%s\n", err->message);
	return g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED) ?
		       EXIT_DENIED : 1;
}

/* --client-call PATH IFACE METHOD [GVARIANT-TEXT]: print the reply. */
static int client_call(int argc, char **argv)
{
	g_autoptr(GDBusConnection) c = child_connect();
	g_autoptr(GError) err = NULL;
	g_autoptr(GVariant) r = NULL;
	g_autofree char *text = NULL;
	GVariant *params = NULL;

	if (!c || argc < 5)
		return 1;
	if (argc > 5) {
		params = g_variant_parse(NULL, argv[5], NULL, NULL, &err);
		if (!params)
			return exit_for(err);
	}
	r = g_dbus_connection_call_sync(c, NAME, argv[2], argv[3], argv[4],
					params, NULL, G_DBUS_CALL_FLAGS_NONE,
					10000, NULL, &err);
	if (!r)
		return exit_for(err);
	text = g_variant_print(r, FALSE);
	printf("%s\n", text);
	return 0;
}

/* --client-own: try to own org.kernel.TCMUService1. */
static int client_own(void)
{
	g_autoptr(GDBusConnection) c = child_connect();
	g_autoptr(GError) err = NULL;
	g_autoptr(GVariant) r = NULL;

	if (!c)
		return 1;
	r = g_dbus_connection_call_sync(c, "org.freedesktop.DBus",
					"/org/freedesktop/DBus",
					"org.freedesktop.DBus", "RequestName",
					g_variant_new("(su)", NAME, 4 /* DO_NOT_QUEUE */),
					G_VARIANT_TYPE("(u)"),
					G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &err);
	if (!r)
		return exit_for(err);
	return 0;
}

static gboolean on_term(gpointer loop)
{
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

/* --activated: what dbus-daemon starts through the activation file. */
static int activated(void)
{
	GMainLoop *loop = g_main_loop_new(NULL, FALSE);
	struct dbus_service *svc = NULL;
	struct dbus_service_ops ops = { 0 };

	if (dbus_service_start(&ops, NULL, &svc))
		return 1;
	dbus_handler_added(svc, "activated", "started by D-Bus activation");
	g_unix_signal_add(SIGTERM, on_term, loop);
	g_timeout_add_seconds(60, on_term, loop);
	g_main_loop_run(loop);
	dbus_service_stop(svc);
	g_main_loop_unref(loop);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Running the client as nobody while our main context keeps serving        */
/* ---------------------------------------------------------------------- */

struct child {
	bool done;
	int status;
};

static void child_setup_nobody(gpointer data)
{
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534))
		_exit(99);
}

static void on_child_exit(GPid pid, gint status, gpointer data)
{
	struct child *ch = data;

	ch->status = status;
	ch->done = true;
	g_spawn_close_pid(pid);
}

static bool child_done(void *arg)
{
	return ((struct child *)arg)->done;
}

/* Runs this binary with @args as nobody; returns its exit code, output in @out. */
static int as_nobody(const char *const *args, char *out, size_t len)
{
	char *argv[16] = { self };
	struct child ch = { 0 };
	g_autoptr(GError) err = NULL;
	GPid pid;
	int fd, i;
	ssize_t n;

	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = (char *)args[i];
	if (!g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
				      child_setup_nobody, NULL, &pid, NULL, &fd,
				      NULL, &err))
		fail_msg("spawn: %s", err->message);
	g_child_watch_add(pid, on_child_exit, &ch);
	if (!wait_until(child_done, &ch, 20000))
		fail_msg("client did not finish");
	n = read(fd, out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return WIFEXITED(ch.status) ? WEXITSTATUS(ch.status) : 98;
}

/* ---------------------------------------------------------------------- */
/* Policy                                                                  */
/* ---------------------------------------------------------------------- */

static bool fake_check(void *ctx, const char *subtype, const char *cfg,
		       char **reason)
{
	return !strcmp(cfg, "good");
}

static int fake_get_device(void *ctx, const char *name,
			   struct dbus_device_snapshot *out)
{
	out->subtype = "fake";
	out->cfgstring = "/img";
	out->size = 4096;
	out->block_size = 512;
	out->stats.cmds_completed = 42;
	return 0;
}

static int cm_calls;

static void fake_change_medium(void *ctx, const char *name, uint64_t size,
			       const char *cfg, struct dbus_pending *p)
{
	cm_calls++;
	dbus_pending_complete(p, 0, NULL);
}

static const struct dbus_service_ops ops = {
	.check_config = fake_check,
	.get_device = fake_get_device,
	.change_medium = fake_change_medium,
};

static bool owned(void *svc)
{
	return dbus_service_owns_name(svc);
}

static int svc_setup(void **state)
{
	struct dbus_service *svc;

	if (dbus_service_start(&ops, NULL, &svc))
		return -1;
	dbus_handler_added(svc, "fake", "fake: a path");
	dbus_device_added(svc, "d1");
	*state = svc;
	return wait_until(owned, svc, 5000) ? 0 : -1;
}

static int svc_teardown(void **state)
{
	dbus_service_stop(*state);
	wait_ms(20);
	return 0;
}

static void test_nobody_may_look(void **state)
{
	char out[8192];

	if (getuid() != 0)
		skip();
	assert_int_equal(as_nobody((const char *[]){ "--client-call", ROOT,
				   "org.freedesktop.DBus.Introspectable",
				   "Introspect", NULL }, out, sizeof(out)), 0);
	assert_int_equal(as_nobody((const char *[]){ "--client-call", ROOT,
				   "org.freedesktop.DBus.ObjectManager",
				   "GetManagedObjects", NULL }, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "/org/kernel/TCMUService1/fake"));
	assert_int_equal(as_nobody((const char *[]){ "--client-call", ROOT "/fake",
				   "org.freedesktop.DBus.Properties", "GetAll",
				   "('" IFACE "',)", NULL }, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "fake: a path"));
	assert_int_equal(as_nobody((const char *[]){ "--client-call", ROOT "/fake",
				   IFACE, "CheckConfig", "('fake/good',)", NULL },
				   out, sizeof(out)), 0);
	assert_non_null(strstr(out, "(true, 'success')"));
	assert_int_equal(as_nobody((const char *[]){ "--client-call", ROOT "/fake",
				   IFACE, "CheckConfig", "('fake/bad',)", NULL },
				   out, sizeof(out)), 0);
	assert_non_null(strstr(out, "(false,"));
	assert_int_equal(as_nobody((const char *[]){ "--client-call",
				   ROOT "/Devices/d1",
				   "org.freedesktop.DBus.Properties", "Get",
				   "('" IFACE ".Device1', 'CommandsCompleted')",
				   NULL }, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "42"));
}

static void test_nobody_may_not_change(void **state)
{
	char out[8192];

	if (getuid() != 0)
		skip();
	assert_int_equal(as_nobody((const char *[]){ "--client-call", HM,
				   HM_IFACE, "RegisterHandler",
				   "('evil', 'x')", NULL }, out, sizeof(out)),
			 EXIT_DENIED);
	assert_int_equal(as_nobody((const char *[]){ "--client-call", HM,
				   HM_IFACE, "UnregisterHandler", "('fake',)",
				   NULL }, out, sizeof(out)),
			 EXIT_DENIED);
	assert_int_equal(as_nobody((const char *[]){ "--client-call", HM,
				   HM_IFACE, "ChangeMedium",
				   "('d1', uint64 512, 'fake/x')", NULL },
				   out, sizeof(out)),
			 EXIT_DENIED);
	assert_int_equal(as_nobody((const char *[]){ "--client-call", ROOT "/fake",
				   IFACE, "ChangeMedium",
				   "('d1', uint64 512, 'fake/x')", NULL },
				   out, sizeof(out)),
			 EXIT_DENIED);
	assert_int_equal(cm_calls, 0);
	assert_int_equal(as_nobody((const char *[]){ "--client-own", NULL }, out,
				   sizeof(out)),
			 EXIT_DENIED);
}

/* ---------------------------------------------------------------------- */
/* Activation                                                              */
/* ---------------------------------------------------------------------- */

static bool name_has_owner(GDBusConnection *c)
{
	g_autoptr(GVariant) r = call(c, "org.freedesktop.DBus",
				     "/org/freedesktop/DBus",
				     "org.freedesktop.DBus", "NameHasOwner",
				     g_variant_new("(s)", NAME), NULL);
	gboolean has = FALSE;

	if (r)
		g_variant_get(r, "(b)", &has);
	return has;
}

static bool no_owner(void *c)
{
	return !name_has_owner(c);
}

static void test_activation(void **state)
{
	g_autoptr(GDBusConnection) c = testbus_connect(&bus);
	g_autoptr(GVariant) r = NULL, pid = NULL;
	g_autoptr(GError) err = NULL;
	g_autofree char *text = NULL;
	guint32 p;

	assert_non_null(c);
	assert_false(name_has_owner(c));
	/* What targetcli does first; then any call would do as well. */
	r = call(c, "org.freedesktop.DBus", "/org/freedesktop/DBus",
		 "org.freedesktop.DBus", "StartServiceByName",
		 g_variant_new("(su)", NAME, 0), &err);
	if (!r)
		fail_msg("StartServiceByName: %s", err->message);
	g_clear_pointer(&r, g_variant_unref);
	r = call(c, NULL, ROOT, "org.freedesktop.DBus.ObjectManager",
		 "GetManagedObjects", NULL, &err);
	if (!r)
		fail_msg("GetManagedObjects: %s", err->message);
	text = g_variant_print(r, FALSE);
	assert_non_null(strstr(text, ROOT "/activated"));

	pid = call(c, "org.freedesktop.DBus", "/org/freedesktop/DBus",
		   "org.freedesktop.DBus", "GetConnectionUnixProcessID",
		   g_variant_new("(s)", NAME), &err);
	assert_non_null(pid);
	g_variant_get(pid, "(u)", &p);
	assert_int_equal(kill((pid_t)p, SIGTERM), 0);
	assert_true(wait_until(no_owner, c, 10000));
}

/* ---------------------------------------------------------------------- */

/* Install the activation file with Exec pointing at this binary. */
static int write_service_file(void)
{
	g_autofree char *text = NULL, *dst = NULL;
	g_autoptr(GString) out = g_string_new(NULL);
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents(TCMU_DBUS_ACTIVATION, &text, NULL, NULL)) {
		fprintf(stderr, "cannot read %s\n", TCMU_DBUS_ACTIVATION);
		return -1;
	}
	lines = g_strsplit(text, "\n", -1);
	for (int i = 0; lines[i]; i++) {
		if (g_str_has_prefix(lines[i], "Exec="))
			g_string_append_printf(out, "Exec=%s --activated\n", self);
		else if (lines[i][0])
			g_string_append_printf(out, "%s\n", lines[i]);
	}
	dst = g_strdup_printf("%s/" NAME ".service", servicedir);
	return g_file_set_contents(dst, out->str, -1, NULL) ? 0 : -1;
}

static int group_setup(void **state)
{
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -1;
	self[n] = '\0';
	snprintf(servicedir, sizeof(servicedir), "/tmp/tcmud-svcdir-XXXXXX");
	if (!mkdtemp(servicedir) || write_service_file())
		return -1;
	return testbus_start(&bus, getuid() == 0 ? TCMU_DBUS_POLICY : NULL,
			     servicedir);
}

static int group_teardown(void **state)
{
	g_autofree char *f = g_strdup_printf("%s/" NAME ".service", servicedir);

	testbus_stop(&bus);
	unlink(f);
	rmdir(servicedir);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nobody_may_look, svc_setup,
						svc_teardown),
		cmocka_unit_test_setup_teardown(test_nobody_may_not_change,
						svc_setup, svc_teardown),
		cmocka_unit_test(test_activation),
	};
	g_autofree char *daemon = NULL;

	if (argc > 1 && !strcmp(argv[1], "--client-call"))
		return client_call(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--client-own"))
		return client_own();
	if (argc > 1 && !strcmp(argv[1], "--activated"))
		return activated();

	daemon = g_find_program_in_path("dbus-daemon");
	if (!daemon) {
		printf("SKIP: dbus-daemon not installed\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
