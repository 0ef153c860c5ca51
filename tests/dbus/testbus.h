/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/dbus/testbus.h — a private dbus-daemon for the D-Bus tests, set up
 * like the system bus (method calls denied unless a policy allows them),
 * plus helpers to wait on the GLib main context and to call methods
 * without blocking it (the service under test runs on the same context).
 */
#ifndef TCMUD_TESTBUS_H
#define TCMUD_TESTBUS_H

#include <stdbool.h>
#include <gio/gio.h>

struct testbus {
	char dir[64];     /* private directory (0755) */
	char *address;    /* unix:path=<dir>/bus */
	char *socket;     /* <dir>/bus */
	char *conf;       /* <dir>/bus.conf */
	GPid pid;         /* dbus-daemon, 0 when not running */
};

/*
 * testbus_start — write a config that includes @policy (a busconfig file;
 * NULL: a permissive one that lets anybody own org.kernel.TCMUService1 and
 * call anything) and, when @servicedir is set, activates services from it;
 * start dbus-daemon and wait until it accepts connections. Sets
 * DBUS_SYSTEM_BUS_ADDRESS (for us and for activated services). Returns 0,
 * -ENOENT when there is no dbus-daemon, or -errno.
 */
int testbus_start(struct testbus *b, const char *policy, const char *servicedir);
/* testbus_kill — stop dbus-daemon (SIGTERM, reap), keep the directory. */
void testbus_kill(struct testbus *b);
/* testbus_respawn — start dbus-daemon again on the same address. */
int testbus_respawn(struct testbus *b);
/* testbus_stop — kill and remove the directory. */
void testbus_stop(struct testbus *b);

/* A new private connection to the bus (a separate client). NULL on error. */
GDBusConnection *testbus_connect(const struct testbus *b);

/*
 * wait_until — iterate the default main context until @cond(@arg) is true
 * or @timeout_ms passed. Returns the last value of @cond.
 */
bool wait_until(bool (*cond)(void *arg), void *arg, unsigned int timeout_ms);
/* wait_ms — iterate the default main context for @ms. */
void wait_ms(unsigned int ms);

/*
 * call — asynchronous method call on @c that iterates the default main
 * context until the reply (so an in-process service can answer). Returns
 * the reply, or NULL and *@err. @dest NULL: org.kernel.TCMUService1.
 */
GVariant *call(GDBusConnection *c, const char *dest, const char *path,
	       const char *iface, const char *method, GVariant *params,
	       GError **err);
/* Same with a timeout and an elapsed-time report (ms), for latency tests. */
GVariant *call_timed(GDBusConnection *c, const char *dest, const char *path,
		     const char *iface, const char *method, GVariant *params,
		     int timeout_ms, GError **err, gint64 *elapsed_ms);

#endif
