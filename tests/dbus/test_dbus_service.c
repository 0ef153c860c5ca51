/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/dbus/test_dbus_service.c — the D-Bus service (dbus/tcmud_dbus.c)
 * against a private dbus-daemon, with a fake daemon behind the ops table:
 * the objects targetcli sees, CheckConfig, ChangeMedium, Device1
 * statistics, out-of-process handlers (registration, forwarding, time-outs,
 * going away) and reconnecting after the bus restarts.
 *
 * When run as root the bus uses the real policy file, so these tests also
 * show that root may do everything the daemon and its handlers need.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kabi.h"
#include "tcmud_dbus.h"
#include "tdbus-generated.h"
#include "testbus.h"

#define NAME DBUS_SERVICE_NAME
#define ROOT DBUS_SERVICE_PATH
#define HM ROOT "/HandlerManager1"
#define IFACE "org.kernel.TCMUService1"
#define HM_IFACE "org.kernel.TCMUService1.HandlerManager1"
#define DEV_IFACE "org.kernel.TCMUService1.Device1"
#define OM "org.freedesktop.DBus.ObjectManager"
#define PROPS "org.freedesktop.DBus.Properties"

static struct testbus bus;

/* ---------------------------------------------------------------------- */
/* The fake daemon                                                         */
/* ---------------------------------------------------------------------- */

struct fake {
	int check_calls;
	char check_subtype[64];
	char check_cfg[256];

	bool owned;
	int owned_true, owned_false;

	int ext_calls;
	char ext_subtype[64];
	bool ext_present;

	uint64_t cmds, rd, wr, errors, inflight;

	int cm_calls;
	char cm_name[64];
	uint64_t cm_size;
	char cm_cfg[256];
	int cm_rc;          /* what to answer */
	const char *cm_msg;
	bool cm_later;      /* answer from an idle callback */
};

static struct fake fk;

static bool fake_check(void *ctx, const char *subtype, const char *cfg,
		       char **reason)
{
	fk.check_calls++;
	snprintf(fk.check_subtype, sizeof(fk.check_subtype), "%s", subtype);
	snprintf(fk.check_cfg, sizeof(fk.check_cfg), "%s", cfg);
	if (!strcmp(cfg, "bad")) {
		*reason = strdup("bad thing");
		return false;
	}
	if (!strcmp(cfg, "noreason"))
		return false;
	if (!strcmp(cfg, "badutf8")) {
		*reason = strdup("\xff\xfe not utf-8");
		return false;
	}
	return true;
}

static int fake_get_device(void *ctx, const char *name,
			   struct dbus_device_snapshot *out)
{
	if (!strcmp(name, "d1")) {
		out->subtype = "fake";
		out->cfgstring = "/img/d1";
		out->uio = "uio0";
		out->size = 1ULL << 30;
		out->block_size = 512;
		out->stats.cmds_completed = fk.cmds;
		out->stats.bytes_read = fk.rd;
		out->stats.bytes_written = fk.wr;
		out->stats.errors = fk.errors;
		out->stats.in_flight = fk.inflight;
		out->stats.timeouts = 7;
		out->stats.aborts = 8;
		return 0;
	}
	if (!strcmp(name, "my-dev.2")) {
		out->subtype = "other";
		out->cfgstring = NULL;
		out->size = 4096;
		out->block_size = 4096;
		return 0;
	}
	return -ENOENT;
}

struct later {
	struct dbus_pending *p;
	int rc;
	const char *msg;
};

static gboolean cm_answer_later(gpointer data)
{
	struct later *l = data;

	dbus_pending_complete(l->p, l->rc, l->msg);
	g_free(l);
	return G_SOURCE_REMOVE;
}

static void fake_change_medium(void *ctx, const char *name, uint64_t size,
			       const char *cfg, struct dbus_pending *p)
{
	fk.cm_calls++;
	snprintf(fk.cm_name, sizeof(fk.cm_name), "%s", name);
	fk.cm_size = size;
	snprintf(fk.cm_cfg, sizeof(fk.cm_cfg), "%s", cfg);
	if (fk.cm_later) {
		struct later *l = g_new0(struct later, 1);

		l->p = p;
		l->rc = fk.cm_rc;
		l->msg = fk.cm_msg;
		g_timeout_add(50, cm_answer_later, l);
	} else {
		dbus_pending_complete(p, fk.cm_rc, fk.cm_msg);
	}
}

static void fake_name_owned(void *ctx, bool owned)
{
	fk.owned = owned;
	if (owned)
		fk.owned_true++;
	else
		fk.owned_false++;
}

static void fake_external_changed(void *ctx, const char *subtype, bool present)
{
	fk.ext_calls++;
	snprintf(fk.ext_subtype, sizeof(fk.ext_subtype), "%s", subtype);
	fk.ext_present = present;
}

static const struct dbus_service_ops fake_ops = {
	.check_config = fake_check,
	.get_device = fake_get_device,
	.change_medium = fake_change_medium,
	.name_owned = fake_name_owned,
	.external_changed = fake_external_changed,
};

/* ---------------------------------------------------------------------- */
/* Per-test fixture: a service with handlers "fake" and "other", a client  */
/* ---------------------------------------------------------------------- */

struct fix {
	struct dbus_service *svc;
	GDBusConnection *client;
};

static bool is_owned(void *arg)
{
	return dbus_service_owns_name(arg);
}

static int start_service(struct fix *f, const struct dbus_service_ops *ops,
			 unsigned int timeout_ms)
{
	struct dbus_service_params params = {
		.address = bus.address,
		.call_timeout_ms = timeout_ms,
		.retry_ms = 100,
	};

	memset(&fk, 0, sizeof(fk));
	if (dbus_service_start_full(ops, NULL, &params, &f->svc))
		return -1;
	/* Before the bus is there: must be exported once it is. */
	if (dbus_handler_added(f->svc, "fake", "fake: <path to an image>") ||
	    dbus_handler_added(f->svc, "other", NULL))
		return -1;
	if (!wait_until(is_owned, f->svc, 5000))
		return -1;
	f->client = testbus_connect(&bus);
	return f->client ? 0 : -1;
}

static int setup(void **state)
{
	struct fix *f = g_new0(struct fix, 1);

	*state = f;
	return start_service(f, &fake_ops, 5000);
}

static int setup_short_timeout(void **state)
{
	struct fix *f = g_new0(struct fix, 1);

	*state = f;
	return start_service(f, &fake_ops, 1000);
}

static int teardown(void **state)
{
	struct fix *f = *state;

	f->svc = dbus_service_stop(f->svc);
	if (f->client) {
		g_dbus_connection_close_sync(f->client, NULL, NULL);
		g_object_unref(f->client);
	}
	g_free(f);
	wait_ms(20); /* let closed connections settle */
	return 0;
}

/* GetManagedObjects at @path as a dict a{oa{sa{sv}}}. */
static GVariant *managed(struct fix *f, const char *path)
{
	g_autoptr(GError) err = NULL;
	GVariant *r = call(f->client, NULL, path, OM, "GetManagedObjects",
			   NULL, &err);

	if (!r)
		fail_msg("GetManagedObjects: %s", err->message);
	return r;
}

/* The property @prop of @iface of object @obj in a GetManagedObjects reply. */
static GVariant *managed_prop(GVariant *r, const char *obj, const char *iface,
			      const char *prop)
{
	g_autoptr(GVariant) objs = g_variant_get_child_value(r, 0);
	g_autoptr(GVariant) ifaces = g_variant_lookup_value(
		objs, obj, G_VARIANT_TYPE("a{sa{sv}}"));
	g_autoptr(GVariant) props = NULL;

	if (!ifaces)
		return NULL;
	props = g_variant_lookup_value(ifaces, iface, G_VARIANT_TYPE("a{sv}"));
	if (!props)
		return NULL;
	return g_variant_lookup_value(props, prop, NULL);
}

static size_t managed_count(GVariant *r)
{
	g_autoptr(GVariant) objs = g_variant_get_child_value(r, 0);

	return g_variant_n_children(objs);
}

static bool has_object(GVariant *r, const char *obj)
{
	g_autoptr(GVariant) objs = g_variant_get_child_value(r, 0);
	g_autoptr(GVariant) v = g_variant_lookup_value(objs, obj, NULL);

	return v != NULL;
}

/* CheckConfig(@cfg) on handler @subtype: returns ok, copies the message. */
static bool check_config(struct fix *f, const char *subtype, const char *cfg,
			 char *msg, size_t len)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *path = g_strdup_printf(ROOT "/%s", subtype);
	g_autoptr(GVariant) r = call(f->client, NULL, path, IFACE,
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

/* ---------------------------------------------------------------------- */
/* What targetcli sees                                                     */
/* ---------------------------------------------------------------------- */

static void test_objects(void **state)
{
	struct fix *f = *state;
	g_autoptr(GVariant) r = managed(f, ROOT);
	g_autoptr(GVariant) desc = managed_prop(r, ROOT "/fake", IFACE,
						"ConfigDesc");
	g_autoptr(GVariant) desc2 = managed_prop(r, ROOT "/other", IFACE,
						 "ConfigDesc");
	g_autoptr(GVariant) all = NULL, intro = NULL;
	g_autoptr(GError) err = NULL;
	const char *xml;

	assert_int_equal(fk.owned_true, 1);
	/* Exactly the handlers: HandlerManager1 and devices are not listed. */
	assert_int_equal(managed_count(r), 2);
	assert_non_null(desc);
	assert_string_equal(g_variant_get_string(desc, NULL),
			    "fake: <path to an image>");
	assert_non_null(desc2);
	assert_string_equal(g_variant_get_string(desc2, NULL), "");

	/* targetcli's proxy does Properties.GetAll on each handler. */
	all = call(f->client, NULL, ROOT "/fake", PROPS, "GetAll",
		   g_variant_new("(s)", IFACE), &err);
	assert_non_null(all);

	/* HandlerManager1 is exported, outside the ObjectManager. */
	intro = call(f->client, NULL, HM, "org.freedesktop.DBus.Introspectable",
		     "Introspect", NULL, &err);
	assert_non_null(intro);
	g_variant_get(intro, "(&s)", &xml);
	assert_non_null(strstr(xml, HM_IFACE));
	assert_non_null(strstr(xml, "RegisterHandler"));
}

static void test_handler_add_remove(void **state)
{
	struct fix *f = *state;
	g_autoptr(GVariant) r1 = NULL, r2 = NULL;

	assert_int_equal(dbus_handler_added(f->svc, "fake", "x"), -EEXIST);
	assert_int_equal(dbus_handler_added(f->svc, "Bad", "x"), -EINVAL);
	assert_int_equal(dbus_handler_added(f->svc, "a/b", "x"), -EINVAL);
	assert_int_equal(dbus_handler_added(f->svc, "", "x"), -EINVAL);
	assert_int_equal(dbus_handler_added(f->svc, "new_1", "\xff desc"), 0);
	r1 = managed(f, ROOT);
	assert_int_equal(managed_count(r1), 3);
	assert_true(has_object(r1, ROOT "/new_1"));

	assert_int_equal(dbus_handler_removed(f->svc, "new_1"), 0);
	assert_int_equal(dbus_handler_removed(f->svc, "new_1"), -ENOENT);
	assert_int_equal(dbus_handler_removed(f->svc, "fake"), 0);
	r2 = managed(f, ROOT);
	assert_int_equal(managed_count(r2), 1);
	assert_false(has_object(r2, ROOT "/fake"));
	assert_true(has_object(r2, ROOT "/other"));
	assert_false(dbus_service_is_external(f->svc, "other"));
}

/* ---------------------------------------------------------------------- */
/* CheckConfig                                                             */
/* ---------------------------------------------------------------------- */

static void test_check_config(void **state)
{
	struct fix *f = *state;
	char msg[1200];

	/* What targetcli sends: "<subtype>/<cfgstring>". */
	assert_true(check_config(f, "fake", "fake//mnt/bench/f1.img", msg,
				 sizeof(msg)));
	assert_string_equal(msg, "success");
	assert_int_equal(fk.check_calls, 1);
	assert_string_equal(fk.check_subtype, "fake");
	assert_string_equal(fk.check_cfg, "/mnt/bench/f1.img");

	assert_true(check_config(f, "fake", "fake", msg, sizeof(msg)));
	assert_string_equal(fk.check_cfg, "");

	/* The handler's own reason. */
	assert_false(check_config(f, "fake", "fake/bad", msg, sizeof(msg)));
	assert_string_equal(msg, "bad thing");

	/* No reason: a fixed, helpful one. */
	assert_false(check_config(f, "fake", "fake/noreason", msg, sizeof(msg)));
	assert_non_null(strstr(msg, "help create"));
	assert_non_null(strstr(msg, "\"fake\""));

	/* A reason that is not UTF-8 still makes a valid D-Bus answer. */
	assert_false(check_config(f, "fake", "fake/badutf8", msg, sizeof(msg)));
	assert_non_null(strstr(msg, "not utf-8"));
	assert_true(g_utf8_validate(msg, -1, NULL));

	/* Another subtype's prefix is refused without asking the handler. */
	fk.check_calls = 0;
	assert_false(check_config(f, "fake", "other/x", msg, sizeof(msg)));
	assert_non_null(strstr(msg, "\"fake/<config>\""));
	assert_false(check_config(f, "fake", "fakeX/y", msg, sizeof(msg)));
	assert_false(check_config(f, "fake", "/mnt/x.img", msg, sizeof(msg)));
	assert_int_equal(fk.check_calls, 0);

	/* The other handler gets its own subtype. */
	assert_true(check_config(f, "other", "other/o", msg, sizeof(msg)));
	assert_string_equal(fk.check_subtype, "other");
	assert_string_equal(fk.check_cfg, "o");
}

static void test_check_config_no_op(void **state)
{
	struct fix f = { 0 };
	struct dbus_service_ops ops = { 0 };
	char msg[256];

	assert_int_equal(start_service(&f, &ops, 5000), 0);
	assert_true(check_config(&f, "fake", "fake/anything", msg, sizeof(msg)));
	assert_string_equal(msg, "success");
	{
		struct fix *fp = g_memdup2(&f, sizeof(f));

		teardown((void **)&fp);
	}
}

/* ---------------------------------------------------------------------- */
/* Devices                                                                 */
/* ---------------------------------------------------------------------- */

static guint64 get_u64(struct fix *f, const char *path, const char *prop)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GVariant) r = call(f->client, NULL, path, PROPS, "Get",
				     g_variant_new("(ss)", DEV_IFACE, prop),
				     &err);
	g_autoptr(GVariant) v = NULL;

	if (!r)
		fail_msg("Get %s: %s", prop, err->message);
	g_variant_get(r, "(v)", &v);
	return g_variant_get_uint64(v);
}

static void test_devices(void **state)
{
	struct fix *f = *state;
	g_autoptr(GVariant) r = NULL, r2 = NULL, hr = NULL, all = NULL;
	g_autoptr(GVariant) v = NULL;
	g_autoptr(GError) err = NULL;
	g_autofree char *esc = g_dbus_escape_object_path("my-dev.2");
	g_autofree char *p2 = g_strdup_printf(ROOT "/Devices/%s", esc);
	const char *d1 = ROOT "/Devices/d1";

	fk.cmds = 10;
	fk.rd = 4096;
	fk.wr = 8192;
	fk.errors = 1;
	fk.inflight = 2;
	assert_int_equal(dbus_device_added(f->svc, "d1"), 0);
	assert_int_equal(dbus_device_added(f->svc, "d1"), -EEXIST);
	assert_int_equal(dbus_device_added(f->svc, ""), -EINVAL);
	assert_int_equal(dbus_device_added(f->svc, "my-dev.2"), 0);

	r = managed(f, ROOT "/Devices");
	assert_int_equal(managed_count(r), 2);
	v = managed_prop(r, d1, DEV_IFACE, "Handler");
	assert_non_null(v);
	assert_string_equal(g_variant_get_string(v, NULL), "fake");
	g_clear_pointer(&v, g_variant_unref);
	v = managed_prop(r, d1, DEV_IFACE, "Config");
	assert_string_equal(g_variant_get_string(v, NULL), "/img/d1");
	g_clear_pointer(&v, g_variant_unref);
	v = managed_prop(r, d1, DEV_IFACE, "Uio");
	assert_string_equal(g_variant_get_string(v, NULL), "uio0");
	g_clear_pointer(&v, g_variant_unref);
	v = managed_prop(r, d1, DEV_IFACE, "Size");
	assert_int_equal(g_variant_get_uint64(v), 1ULL << 30);
	g_clear_pointer(&v, g_variant_unref);
	v = managed_prop(r, d1, DEV_IFACE, "BlockSize");
	assert_int_equal(g_variant_get_uint32(v), 512);
	g_clear_pointer(&v, g_variant_unref);
	v = managed_prop(r, d1, DEV_IFACE, "CommandsCompleted");
	assert_int_equal(g_variant_get_uint64(v), 10);
	g_clear_pointer(&v, g_variant_unref);
	v = managed_prop(r, p2, DEV_IFACE, "Name");
	assert_non_null(v);
	assert_string_equal(g_variant_get_string(v, NULL), "my-dev.2");
	g_clear_pointer(&v, g_variant_unref);
	v = managed_prop(r, p2, DEV_IFACE, "Config");
	assert_string_equal(g_variant_get_string(v, NULL), "");

	/* Every read is live. */
	assert_int_equal(get_u64(f, d1, "BytesRead"), 4096);
	fk.cmds = 11;
	fk.rd = 5000;
	fk.wr = 9000;
	fk.errors = 3;
	fk.inflight = 0;
	assert_int_equal(get_u64(f, d1, "CommandsCompleted"), 11);
	assert_int_equal(get_u64(f, d1, "BytesRead"), 5000);
	assert_int_equal(get_u64(f, d1, "BytesWritten"), 9000);
	assert_int_equal(get_u64(f, d1, "Errors"), 3);
	assert_int_equal(get_u64(f, d1, "InFlight"), 0);
	assert_int_equal(get_u64(f, d1, "Timeouts"), 7);
	assert_int_equal(get_u64(f, d1, "Aborts"), 8);
	fk.cmds = 12;
	all = call(f->client, NULL, d1, PROPS, "GetAll",
		   g_variant_new("(s)", DEV_IFACE), &err);
	assert_non_null(all);
	{
		g_autoptr(GVariant) dict = g_variant_get_child_value(all, 0);
		guint64 n = 0;

		assert_true(g_variant_lookup(dict, "CommandsCompleted", "t", &n));
		assert_int_equal(n, 12);
	}

	/* Devices never show up as targetcli backstores. */
	hr = managed(f, ROOT);
	assert_int_equal(managed_count(hr), 2);

	assert_int_equal(dbus_device_removed(f->svc, "d1"), 0);
	assert_int_equal(dbus_device_removed(f->svc, "d1"), -ENOENT);
	r2 = managed(f, ROOT "/Devices");
	assert_int_equal(managed_count(r2), 1);
	assert_false(has_object(r2, d1));
}

/* ---------------------------------------------------------------------- */
/* ChangeMedium                                                            */
/* ---------------------------------------------------------------------- */

static int change_medium(struct fix *f, const char *path, const char *iface,
			 const char *name, guint64 size, const char *cfg,
			 char *msg, size_t len)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GVariant) r = call(f->client, NULL, path, iface,
				     "ChangeMedium",
				     g_variant_new("(sts)", name, size, cfg),
				     &err);
	gint32 rc;
	const char *m;

	if (!r)
		fail_msg("ChangeMedium: %s", err->message);
	g_variant_get(r, "(i&s)", &rc, &m);
	snprintf(msg, len, "%s", m);
	return rc;
}

static void test_change_medium(void **state)
{
	struct fix *f = *state;
	char msg[256];

	/* targetcli calls it on the handler object. */
	assert_int_equal(change_medium(f, ROOT "/fake", IFACE, "d1", 1ULL << 31,
				       "fake//img/new.img", msg, sizeof(msg)),
			 0);
	assert_string_equal(msg, "success");
	assert_int_equal(fk.cm_calls, 1);
	assert_string_equal(fk.cm_name, "d1");
	assert_int_equal(fk.cm_size, 1ULL << 31);
	assert_string_equal(fk.cm_cfg, "fake//img/new.img"); /* whole */

	/* Answered later, with an error and no message. */
	fk.cm_later = true;
	fk.cm_rc = -EBUSY;
	assert_int_equal(change_medium(f, HM, HM_IFACE, "d1", 512, "fake/x",
				       msg, sizeof(msg)),
			 -EBUSY);
	assert_string_equal(msg, g_strerror(EBUSY));
	assert_int_equal(fk.cm_calls, 2);
	fk.cm_later = false;

	fk.cm_rc = -ENOENT;
	fk.cm_msg = "no device \"zz\"";
	assert_int_equal(change_medium(f, ROOT "/fake", IFACE, "zz", 512,
				       "fake/x", msg, sizeof(msg)),
			 -ENOENT);
	assert_string_equal(msg, "no device \"zz\"");

	/* Refused before the daemon sees them. */
	fk.cm_calls = 0;
	assert_int_equal(change_medium(f, ROOT "/fake", IFACE, "d1", 512,
				       "other/x", msg, sizeof(msg)),
			 -EINVAL);
	assert_int_equal(change_medium(f, ROOT "/fake", IFACE, "", 512,
				       "fake/x", msg, sizeof(msg)),
			 -EINVAL);
	assert_int_equal(change_medium(f, HM, HM_IFACE, "d1", 512, "nope/x",
				       msg, sizeof(msg)),
			 -ENOENT);
	assert_non_null(strstr(msg, "\"nope\""));
	assert_int_equal(fk.cm_calls, 0);
}

static void test_change_medium_no_op(void **state)
{
	struct fix f = { 0 };
	struct dbus_service_ops ops = { .check_config = fake_check };
	char msg[256];

	assert_int_equal(start_service(&f, &ops, 5000), 0);
	assert_int_equal(change_medium(&f, ROOT "/fake", IFACE, "d1", 512,
				       "fake/x", msg, sizeof(msg)),
			 -EOPNOTSUPP);
	{
		struct fix *fp = g_memdup2(&f, sizeof(f));

		teardown((void **)&fp);
	}
}

/* ---------------------------------------------------------------------- */
/* Out-of-process handlers                                                 */
/* ---------------------------------------------------------------------- */

/* An out-of-process handler on its own connection, served in this process. */
struct oop {
	GDBusConnection *conn;
	TdbusService *svc_iface;
	TdbusExternalHandler *ext;
	char subtype[64];
	bool silent;              /* hold calls instead of answering */
	GPtrArray *held;          /* GDBusMethodInvocation */
	int checks;
	char last_cfg[256];
	int adds, removes, reconfigs;
	char last_uio[32];
	char last_name[256];
	char last_rcfg[256];
	guint64 last_size;
	int last_wc;
};

static gboolean oop_check(TdbusService *s, GDBusMethodInvocation *inv,
			  const gchar *cfg, gpointer data)
{
	struct oop *o = data;

	o->checks++;
	snprintf(o->last_cfg, sizeof(o->last_cfg), "%s", cfg);
	if (o->silent) {
		g_ptr_array_add(o->held, inv);
		return TRUE;
	}
	if (!strcmp(cfg, "ok"))
		tdbus_service_complete_check_config(s, inv, TRUE, "fine");
	else
		tdbus_service_complete_check_config(s, inv, FALSE, "ext says no");
	return TRUE;
}

static gboolean oop_add(TdbusExternalHandler *e, GDBusMethodInvocation *inv,
			const gchar *uio, const gchar *name, gpointer data)
{
	struct oop *o = data;

	o->adds++;
	snprintf(o->last_uio, sizeof(o->last_uio), "%s", uio);
	snprintf(o->last_name, sizeof(o->last_name), "%s", name);
	if (o->silent) {
		g_ptr_array_add(o->held, inv);
		return TRUE;
	}
	tdbus_external_handler_complete_add_device(
		e, inv, strcmp(uio, "uio7") ? 0 : -ENOSPC);
	return TRUE;
}

static gboolean oop_remove(TdbusExternalHandler *e, GDBusMethodInvocation *inv,
			   const gchar *uio, const gchar *name, gpointer data)
{
	struct oop *o = data;

	o->removes++;
	snprintf(o->last_uio, sizeof(o->last_uio), "%s", uio);
	tdbus_external_handler_complete_remove_device(e, inv, 0);
	return TRUE;
}

static gboolean oop_reconfig(TdbusExternalHandler *e, GDBusMethodInvocation *inv,
			     const gchar *uio, const gchar *name,
			     const gchar *cfg, guint64 size, gint wc,
			     gpointer data)
{
	struct oop *o = data;

	o->reconfigs++;
	snprintf(o->last_rcfg, sizeof(o->last_rcfg), "%s", cfg);
	o->last_size = size;
	o->last_wc = wc;
	tdbus_external_handler_complete_reconfig_device(e, inv, -EOPNOTSUPP);
	return TRUE;
}

static struct oop *oop_new(const char *subtype)
{
	struct oop *o = g_new0(struct oop, 1);
	g_autofree char *path = g_strdup_printf(HM "/%s", subtype);

	snprintf(o->subtype, sizeof(o->subtype), "%s", subtype);
	o->held = g_ptr_array_new();
	o->conn = testbus_connect(&bus);
	assert_non_null(o->conn);
	o->svc_iface = tdbus_service_skeleton_new();
	o->ext = tdbus_external_handler_skeleton_new();
	g_signal_connect(o->svc_iface, "handle-check-config",
			 G_CALLBACK(oop_check), o);
	g_signal_connect(o->ext, "handle-add-device", G_CALLBACK(oop_add), o);
	g_signal_connect(o->ext, "handle-remove-device", G_CALLBACK(oop_remove),
			 o);
	g_signal_connect(o->ext, "handle-reconfig-device",
			 G_CALLBACK(oop_reconfig), o);
	assert_true(g_dbus_interface_skeleton_export(
		G_DBUS_INTERFACE_SKELETON(o->svc_iface), o->conn, path, NULL));
	assert_true(g_dbus_interface_skeleton_export(
		G_DBUS_INTERFACE_SKELETON(o->ext), o->conn, path, NULL));
	return o;
}

static void oop_free(struct oop *o)
{
	if (!o)
		return;
	for (guint i = 0; i < o->held->len; i++)
		g_dbus_method_invocation_return_dbus_error(
			o->held->pdata[i], "org.example.Gone", "gone");
	g_ptr_array_free(o->held, TRUE);
	g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(o->svc_iface));
	g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(o->ext));
	g_object_unref(o->svc_iface);
	g_object_unref(o->ext);
	if (!g_dbus_connection_is_closed(o->conn))
		g_dbus_connection_close_sync(o->conn, NULL, NULL);
	g_object_unref(o->conn);
	g_free(o);
}

/* RegisterHandler(@subtype) from @c: returns succeeded, copies message. */
static bool register_handler(GDBusConnection *c, const char *subtype,
			     const char *desc, char *msg, size_t len)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GVariant) r = call(c, NULL, HM, HM_IFACE, "RegisterHandler",
				     g_variant_new("(ss)", subtype, desc), &err);
	gboolean ok;
	const char *m;

	if (!r)
		fail_msg("RegisterHandler: %s", err->message);
	g_variant_get(r, "(b&s)", &ok, &m);
	snprintf(msg, len, "%s", m);
	return ok;
}

struct ext_result {
	int calls;
	int status;
};

static void ext_done(int status, void *arg)
{
	struct ext_result *er = arg;

	er->calls++;
	er->status = status;
}

static bool ext_finished(void *arg)
{
	return ((struct ext_result *)arg)->calls > 0;
}

static bool ext_gone(void *arg)
{
	return !fk.ext_present;
}

static void test_external(void **state)
{
	struct fix *f = *state;
	struct oop *o = oop_new("ext");
	g_autoptr(GVariant) r = NULL, r2 = NULL, desc = NULL;
	GDBusConnection *other = testbus_connect(&bus);
	struct tcmu_nl_event ev = { 0 };
	struct ext_result er = { 0 };
	char msg[256];

	assert_true(register_handler(o->conn, "ext", "ext: anything", msg,
				     sizeof(msg)));
	assert_int_equal(fk.ext_calls, 1);
	assert_string_equal(fk.ext_subtype, "ext");
	assert_true(fk.ext_present);
	assert_true(dbus_service_is_external(f->svc, "ext"));
	assert_false(dbus_service_is_external(f->svc, "fake"));
	/* Registering again from the same caller is harmless. */
	assert_true(register_handler(o->conn, "ext", "ext: anything", msg,
				     sizeof(msg)));
	/* Nobody else may take the subtype, nor a daemon handler's. */
	assert_false(register_handler(other, "ext", "x", msg, sizeof(msg)));
	assert_non_null(strstr(msg, "another process"));
	assert_false(register_handler(o->conn, "fake", "x", msg, sizeof(msg)));
	assert_non_null(strstr(msg, "tcmud"));
	assert_false(register_handler(o->conn, "Bad-Name", "x", msg, sizeof(msg)));
	assert_false(register_handler(o->conn, "", "x", msg, sizeof(msg)));
	assert_int_equal(dbus_handler_added(f->svc, "ext", "x"), -EEXIST);
	assert_int_equal(dbus_handler_removed(f->svc, "ext"), -ENOENT);

	/* targetcli sees it like any other handler. */
	r = managed(f, ROOT);
	assert_int_equal(managed_count(r), 3);
	desc = managed_prop(r, ROOT "/ext", IFACE, "ConfigDesc");
	assert_non_null(desc);
	assert_string_equal(g_variant_get_string(desc, NULL), "ext: anything");

	/* CheckConfig is forwarded, without the subtype prefix. */
	assert_true(check_config(f, "ext", "ext/ok", msg, sizeof(msg)));
	assert_string_equal(msg, "fine");
	assert_string_equal(o->last_cfg, "ok");
	assert_false(check_config(f, "ext", "ext/nope", msg, sizeof(msg)));
	assert_string_equal(msg, "ext says no");
	assert_int_equal(o->checks, 2);
	assert_int_equal(fk.check_calls, 0); /* never the daemon's op */
	assert_false(check_config(f, "ext", "fake/ok", msg, sizeof(msg)));
	assert_int_equal(o->checks, 2);

	/* Netlink events are handed over. */
	ev.cmd = TCMU_CMD_ADDED_DEVICE;
	ev.device = "tcm-user/3/d9/ext/some/cfg";
	ev.minor = 3;
	assert_int_equal(dbus_external_event(f->svc, &ev, ext_done, &er), 0);
	assert_int_equal(er.calls, 0); /* never from within */
	assert_true(wait_until(ext_finished, &er, 5000));
	assert_int_equal(er.status, 0);
	assert_int_equal(o->adds, 1);
	assert_string_equal(o->last_uio, "uio3");
	assert_string_equal(o->last_name, "tcm-user/3/d9/ext/some/cfg");

	memset(&er, 0, sizeof(er));
	ev.minor = 7; /* the fake handler refuses uio7 */
	assert_int_equal(dbus_external_event(f->svc, &ev, ext_done, &er), 0);
	assert_true(wait_until(ext_finished, &er, 5000));
	assert_int_equal(er.status, -ENOSPC);

	memset(&er, 0, sizeof(er));
	ev.cmd = TCMU_CMD_RECONFIG_DEVICE;
	ev.dev_cfg = "ext/new";
	ev.write_cache = -1;
	assert_int_equal(dbus_external_event(f->svc, &ev, ext_done, &er), 0);
	assert_true(wait_until(ext_finished, &er, 5000));
	assert_int_equal(er.status, -EOPNOTSUPP);
	assert_string_equal(o->last_rcfg, "ext/new");
	assert_int_equal(o->last_size, 0);
	assert_int_equal(o->last_wc, -1);

	memset(&er, 0, sizeof(er));
	ev.cmd = TCMU_CMD_REMOVED_DEVICE;
	ev.dev_cfg = NULL;
	assert_int_equal(dbus_external_event(f->svc, &ev, ext_done, &er), 0);
	assert_true(wait_until(ext_finished, &er, 5000));
	assert_int_equal(er.status, 0);
	assert_int_equal(o->removes, 1);

	/* Not for subtypes served by the daemon, nor garbage. */
	ev.device = "tcm-user/3/d9/fake/x";
	assert_int_equal(dbus_external_event(f->svc, &ev, ext_done, &er), -ENOENT);
	ev.device = "nonsense";
	assert_int_equal(dbus_external_event(f->svc, &ev, ext_done, &er), -EINVAL);
	ev.device = "tcm-user/3/d9/ext/x";
	ev.cmd = 999;
	assert_int_equal(dbus_external_event(f->svc, &ev, ext_done, &er), -EINVAL);

	/* The process goes away: so does its handler. */
	oop_free(o);
	assert_true(wait_until(ext_gone, NULL, 5000));
	assert_int_equal(fk.ext_calls, 2);
	assert_false(dbus_service_is_external(f->svc, "ext"));
	r2 = managed(f, ROOT);
	assert_int_equal(managed_count(r2), 2);
	assert_false(has_object(r2, ROOT "/ext"));

	/* ... and the subtype is free again. */
	assert_true(register_handler(other, "ext", "x", msg, sizeof(msg)));
	g_dbus_connection_close_sync(other, NULL, NULL);
	g_object_unref(other);
	assert_true(wait_until(ext_gone, NULL, 5000));
}

static void test_external_unregister(void **state)
{
	struct fix *f = *state;
	struct oop *o = oop_new("ext2");
	GDBusConnection *other = testbus_connect(&bus);
	g_autoptr(GVariant) r1 = NULL, r2 = NULL;
	g_autoptr(GError) err = NULL;
	gboolean ok;

	assert_true(register_handler(o->conn, "ext2", "", (char[64]){ 0 }, 64));
	r1 = call(other, NULL, HM, HM_IFACE, "UnregisterHandler",
		  g_variant_new("(s)", "ext2"), &err);
	assert_non_null(r1);
	g_variant_get(r1, "(b&s)", &ok, NULL);
	assert_false(ok);
	assert_true(dbus_service_is_external(f->svc, "ext2"));

	r2 = call(o->conn, NULL, HM, HM_IFACE, "UnregisterHandler",
		  g_variant_new("(s)", "ext2"), &err);
	assert_non_null(r2);
	g_variant_get(r2, "(b&s)", &ok, NULL);
	assert_true(ok);
	assert_false(dbus_service_is_external(f->svc, "ext2"));
	assert_false(fk.ext_present);

	g_dbus_connection_close_sync(other, NULL, NULL);
	g_object_unref(other);
	oop_free(o);
}

/*
 * A handler process that does not answer: the client gets a clear "no" at
 * the call timeout (1 s here), and the service keeps answering others
 * meanwhile: nothing waits on the stuck process.
 */
static void test_external_timeout(void **state)
{
	struct fix *f = *state;
	struct oop *o = oop_new("slow");
	struct ext_result er = { 0 };
	struct tcmu_nl_event ev = {
		.cmd = TCMU_CMD_ADDED_DEVICE,
		.device = "tcm-user/1/s1/slow/",
		.minor = 5,
	};
	g_autoptr(GVariant) r = NULL, fast = NULL;
	g_autoptr(GError) err = NULL;
	gint64 ms_slow = 0, ms_fast = 0;
	char msg[256];
	gboolean ok;
	const char *m;

	assert_true(register_handler(o->conn, "slow", "", msg, sizeof(msg)));
	o->silent = true;

	/* The external event first: it must not hold up anything below. */
	assert_int_equal(dbus_external_event(f->svc, &ev, ext_done, &er), 0);

	r = call_timed(f->client, NULL, ROOT "/slow", IFACE, "CheckConfig",
		       g_variant_new("(s)", "slow/x"), 10000, &err, &ms_slow);
	assert_non_null(r);
	g_variant_get(r, "(b&s)", &ok, &m);
	assert_false(ok);
	assert_non_null(strstr(m, "did not answer in time"));
	assert_in_range(ms_slow, 900, 5000);

	/* While the next one hangs, other clients are served at once. */
	o->checks = 0;
	{
		GDBusConnection *c2 = testbus_connect(&bus);

		g_dbus_connection_call(c2, NAME, ROOT "/slow", IFACE,
				       "CheckConfig",
				       g_variant_new("(s)", "slow/y"), NULL,
				       G_DBUS_CALL_FLAGS_NONE, 10000, NULL,
				       NULL, NULL);
		fast = call_timed(f->client, NULL, ROOT, OM,
				  "GetManagedObjects", NULL, 10000, NULL,
				  &ms_fast);
		assert_non_null(fast);
		assert_true(ms_fast < 700); /* far below the 1 s timeout */
		g_dbus_connection_close_sync(c2, NULL, NULL);
		g_object_unref(c2);
	}

	assert_true(wait_until(ext_finished, &er, 5000));
	assert_int_equal(er.status, -ETIMEDOUT);
	oop_free(o);
	assert_true(wait_until(ext_gone, NULL, 5000));
}

/* dbus_service_stop() answers what is still pending with -ECANCELED. */
static void test_stop_cancels(void **state)
{
	struct fix *f = *state;
	struct oop *o = oop_new("hang");
	struct ext_result er = { 0 };
	struct tcmu_nl_event ev = {
		.cmd = TCMU_CMD_ADDED_DEVICE,
		.device = "tcm-user/1/h1/hang/",
		.minor = 1,
	};
	char msg[256];

	assert_true(register_handler(o->conn, "hang", "", msg, sizeof(msg)));
	o->silent = true;
	assert_int_equal(dbus_external_event(f->svc, &ev, ext_done, &er), 0);
	wait_ms(50);
	assert_int_equal(er.calls, 0);
	f->svc = dbus_service_stop(f->svc);
	assert_int_equal(er.calls, 1);
	assert_int_equal(er.status, -ECANCELED);
	wait_ms(100); /* the late GLib callback must not call again */
	assert_int_equal(er.calls, 1);
	oop_free(o);
}

/* ---------------------------------------------------------------------- */
/* The bus goes away and comes back (last: it restarts the shared bus)    */
/* ---------------------------------------------------------------------- */

static bool not_owned(void *arg)
{
	return !dbus_service_owns_name(arg);
}

static void test_bus_restart(void **state)
{
	struct fix *f = *state;
	g_autoptr(GVariant) r = NULL;
	struct oop *o = oop_new("gone");
	char msg[64];

	assert_true(register_handler(o->conn, "gone", "", msg, sizeof(msg)));
	assert_true(fk.owned);
	testbus_kill(&bus);
	assert_true(wait_until(not_owned, f->svc, 5000));
	assert_false(fk.owned);
	assert_int_equal(fk.owned_false, 1);
	/* Handler processes were on the old bus: they are gone. */
	assert_false(dbus_service_is_external(f->svc, "gone"));
	oop_free(o);

	/* Still usable while disconnected. */
	assert_int_equal(dbus_handler_added(f->svc, "late", "l"), 0);
	assert_int_equal(dbus_device_added(f->svc, "d1"), 0);

	assert_int_equal(testbus_respawn(&bus), 0);
	assert_true(wait_until(is_owned, f->svc, 10000));
	assert_int_equal(fk.owned_true, 2);

	g_dbus_connection_close_sync(f->client, NULL, NULL);
	g_object_unref(f->client);
	f->client = testbus_connect(&bus);
	r = managed(f, ROOT);
	assert_int_equal(managed_count(r), 3);
	assert_true(has_object(r, ROOT "/late"));
	{
		g_autoptr(GVariant) d = managed(f, ROOT "/Devices");

		assert_true(has_object(d, ROOT "/Devices/d1"));
	}
}

static int group_setup(void **state)
{
	int ret = testbus_start(&bus, getuid() == 0 ? TCMU_DBUS_POLICY : NULL,
				NULL);

	if (ret == -ENOENT) {
		fprintf(stderr, "SKIP: no dbus-daemon\n");
		return 0;
	}
	return ret;
}

static int group_teardown(void **state)
{
	testbus_stop(&bus);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_objects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handler_add_remove, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_check_config, setup,
						teardown),
		cmocka_unit_test(test_check_config_no_op),
		cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_change_medium, setup,
						teardown),
		cmocka_unit_test(test_change_medium_no_op),
		cmocka_unit_test_setup_teardown(test_external, setup, teardown),
		cmocka_unit_test_setup_teardown(test_external_unregister, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_external_timeout,
						setup_short_timeout, teardown),
		cmocka_unit_test_setup_teardown(test_stop_cancels, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bus_restart, setup,
						teardown),
	};

	g_autofree char *daemon = g_find_program_in_path("dbus-daemon");

	if (!daemon) {
		printf("SKIP: dbus-daemon not installed\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
