/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tests/dbus/testbus.c — see testbus.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testbus.h"

/* The default context of the system bus (dbus' system.conf, abridged). */
static const char conf_fmt[] =
	"<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
	" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
	"<busconfig>\n"
	"  <type>system</type>\n"
	"  <listen>%s</listen>\n"
	"  <auth>EXTERNAL</auth>\n"
	"  %s\n"
	"  <policy context=\"default\">\n"
	"    <allow user=\"*\"/>\n"
	"    <deny own=\"*\"/>\n"
	"    <deny send_type=\"method_call\"/>\n"
	"    <allow send_type=\"signal\"/>\n"
	"    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
	"    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
	"    <allow receive_type=\"method_call\"/>\n"
	"    <allow receive_type=\"method_return\"/>\n"
	"    <allow receive_type=\"error\"/>\n"
	"    <allow receive_type=\"signal\"/>\n"
	"    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"/>\n"
	"    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
	"    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Properties\"/>\n"
	"  </policy>\n"
	"  <include>%s</include>\n"
	"</busconfig>\n";

static const char permissive[] =
	"<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
	" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
	"<busconfig>\n"
	"  <policy context=\"default\">\n"
	"    <allow own=\"org.kernel.TCMUService1\"/>\n"
	"    <allow send_type=\"method_call\"/>\n"
	"  </policy>\n"
	"</busconfig>\n";

static bool can_connect(void *arg)
{
	const struct testbus *b = arg;
	GDBusConnection *c = testbus_connect(b);

	if (!c)
		return false;
	g_object_unref(c);
	return true;
}

int testbus_respawn(struct testbus *b)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *daemon = g_find_program_in_path("dbus-daemon");
	g_autofree char *cfgarg = g_strdup_printf("--config-file=%s", b->conf);
	char *argv[] = { daemon, cfgarg, "--nofork", "--nopidfile", NULL };
	gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	mode_t old;
	bool ok;

	if (!daemon)
		return -ENOENT;
	/* 0777 socket: unprivileged clients (policy tests) must connect. */
	old = umask(0);
	ok = g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
			   NULL, &b->pid, &err);
	umask(old);
	if (!ok) {
		fprintf(stderr, "testbus: %s\n", err->message);
		return -EIO;
	}
	while (g_get_monotonic_time() < end) {
		if (access(b->socket, F_OK) == 0 && can_connect(b))
			return 0;
		g_usleep(20000);
	}
	fprintf(stderr, "testbus: dbus-daemon did not come up\n");
	testbus_kill(b);
	return -ETIMEDOUT;
}

int testbus_start(struct testbus *b, const char *policy, const char *servicedir)
{
	g_autofree char *text = NULL, *sd = NULL, *perm = NULL;
	g_autoptr(GError) err = NULL;
	g_autofree char *daemon = g_find_program_in_path("dbus-daemon");

	memset(b, 0, sizeof(*b));
	if (!daemon)
		return -ENOENT;
	snprintf(b->dir, sizeof(b->dir), "/tmp/tcmud-dbus-XXXXXX");
	if (!mkdtemp(b->dir))
		return -errno;
	chmod(b->dir, 0755);
	b->socket = g_strdup_printf("%s/bus", b->dir);
	b->address = g_strdup_printf("unix:path=%s", b->socket);
	b->conf = g_strdup_printf("%s/bus.conf", b->dir);
	if (!policy) {
		perm = g_strdup_printf("%s/permissive.conf", b->dir);
		if (!g_file_set_contents(perm, permissive, -1, &err))
			return -EIO;
		policy = perm;
	}
	sd = servicedir ? g_strdup_printf("<servicedir>%s</servicedir>",
					  servicedir) :
			  g_strdup("");
	text = g_strdup_printf(conf_fmt, b->address, sd, policy);
	if (!g_file_set_contents(b->conf, text, -1, &err))
		return -EIO;
	setenv("DBUS_SYSTEM_BUS_ADDRESS", b->address, 1);
	return testbus_respawn(b);
}

void testbus_kill(struct testbus *b)
{
	if (!b->pid)
		return;
	kill(b->pid, SIGTERM);
	waitpid(b->pid, NULL, 0);
	g_spawn_close_pid(b->pid);
	b->pid = 0;
	unlink(b->socket);
}

void testbus_stop(struct testbus *b)
{
	testbus_kill(b);
	if (b->dir[0]) {
		g_autofree char *perm = g_strdup_printf("%s/permissive.conf",
							b->dir);

		unlink(perm);
		unlink(b->conf);
		rmdir(b->dir);
	}
	g_free(b->address);
	g_free(b->socket);
	g_free(b->conf);
	memset(b, 0, sizeof(*b));
}

GDBusConnection *testbus_connect(const struct testbus *b)
{
	return g_dbus_connection_new_for_address_sync(
		b->address,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
			G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
		NULL, NULL, NULL);
}

static gboolean on_timeout(gpointer data)
{
	*(bool *)data = true;
	return G_SOURCE_REMOVE;
}

bool wait_until(bool (*cond)(void *arg), void *arg, unsigned int timeout_ms)
{
	bool expired = false;
	guint id = g_timeout_add(timeout_ms, on_timeout, &expired);
	bool ok;

	while (!(ok = cond(arg)) && !expired)
		g_main_context_iteration(NULL, TRUE);
	if (!expired)
		g_source_remove(id);
	return ok;
}

static bool never(void *arg)
{
	return false;
}

void wait_ms(unsigned int ms)
{
	wait_until(never, NULL, ms);
}

struct call_state {
	bool done;
	GVariant *ret;
	GError *err;
};

static void call_done(GObject *src, GAsyncResult *res, gpointer data)
{
	struct call_state *st = data;

	st->ret = g_dbus_connection_call_finish(G_DBUS_CONNECTION(src), res,
						&st->err);
	st->done = true;
}

static bool call_finished(void *arg)
{
	return ((struct call_state *)arg)->done;
}

GVariant *call_timed(GDBusConnection *c, const char *dest, const char *path,
		     const char *iface, const char *method, GVariant *params,
		     int timeout_ms, GError **err, gint64 *elapsed_ms)
{
	struct call_state st = { 0 };
	gint64 t0 = g_get_monotonic_time();

	g_dbus_connection_call(c, dest ? dest : "org.kernel.TCMUService1",
			       path, iface, method, params, NULL,
			       G_DBUS_CALL_FLAGS_NONE, timeout_ms, NULL,
			       call_done, &st);
	wait_until(call_finished, &st, (unsigned int)timeout_ms + 5000);
	if (elapsed_ms)
		*elapsed_ms = (g_get_monotonic_time() - t0) / 1000;
	if (err)
		*err = st.err;
	else if (st.err)
		g_error_free(st.err);
	return st.ret;
}

GVariant *call(GDBusConnection *c, const char *dest, const char *path,
	       const char *iface, const char *method, GVariant *params,
	       GError **err)
{
	return call_timed(c, dest, path, iface, method, params, 10000, err,
			  NULL);
}
