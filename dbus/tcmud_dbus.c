/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dbus/tcmud_dbus.c — org.kernel.TCMUService1: handler objects under an
 * ObjectManager (what targetcli lists as user:<subtype> backstores),
 * HandlerManager1 for out-of-process handlers, and Device1 objects with
 * live statistics under a second ObjectManager.
 *
 * Everything runs on the main context of the thread that started the
 * service. The bus connection is our own (not GLib's singleton, which would
 * raise SIGTERM when the bus goes away): it is opened asynchronously and
 * reopened with back-off when it closes. Calls to other processes are
 * asynchronous with a timeout, so a stuck handler process never stalls the
 * daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#include "kabi.h" /* TCMU_CMD_* of netlink events */
#include "tcmud_dbus.h"
#include "tdbus-generated.h"

#define HM_PATH DBUS_SERVICE_PATH "/HandlerManager1"
#define DEV_PATH DBUS_SERVICE_PATH "/Devices"
#define EXT_IFACE "org.kernel.TCMUService1.ExternalHandler1"
#define SVC_IFACE "org.kernel.TCMUService1"
#define SUBTYPE_MAX 63
#define MSG_MAX 1024 /* longest message we pass on to a client */
#define RETRY_MAX_MS 30000

struct svc_handler {
	struct dbus_service *svc;
	char *subtype;
	GDBusObjectSkeleton *obj;
	TdbusService *iface;
	char *owner;   /* unique bus name of the serving process; NULL: ours */
	guint watch_id;
};

/* One dbus_external_event() in flight. svc is NULL once orphaned. */
struct ext_call {
	struct dbus_service *svc;
	dbus_ext_done_fn done;
	void *arg;
};

/* One asynchronous connect in flight. svc is NULL once orphaned. */
struct connect_attempt {
	struct dbus_service *svc;
};

struct dbus_pending {
	GDBusMethodInvocation *inv;
};

struct dbus_service {
	struct dbus_service_ops ops;
	void *ctx;
	char *address;
	unsigned int timeout_ms;
	unsigned int retry_ms, retry_cur;
	bool stopping;

	GDBusConnection *conn;
	struct connect_attempt *attempt;
	guint retry_source;
	gulong closed_id;
	guint owner_id;
	bool owned;
	bool warned; /* logged the current outage already */

	GDBusObjectManagerServer *handler_mgr; /* DBUS_SERVICE_PATH */
	GDBusObjectManagerServer *device_mgr;  /* DEV_PATH */
	TdbusHandlerManager *hm;
	GHashTable *handlers; /* subtype -> struct svc_handler */
	GHashTable *devices;  /* name -> GDBusObjectSkeleton */
	GList *ext_calls;     /* struct ext_call */
};

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */
/* ---------------------------------------------------------------------- */

/* [a-z0-9_]{1,63}: a handler subtype, also a D-Bus path element. */
static bool subtype_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return n > 0 && n <= SUBTYPE_MAX;
}

/*
 * "<subtype>/<cfg>" or "<subtype>" -> "<cfg>" (in @s), or NULL when @s is
 * for another subtype.
 */
static const char *strip_subtype(const char *subtype, const char *s)
{
	size_t n = strlen(subtype);

	if (strncmp(s, subtype, n))
		return NULL;
	if (s[n] == '/')
		return s + n + 1;
	if (s[n] == '\0')
		return s + n;
	return NULL;
}

/* A copy of @s fit for a D-Bus string: valid UTF-8, at most MSG_MAX bytes. */
static char *msg_sanitize(const char *s)
{
	char *v = g_utf8_make_valid(s ? s : "", -1);
	char *end = v + MSG_MAX;

	if (strlen(v) > MSG_MAX) {
		while (end > v && (*end & 0xc0) == 0x80)
			end--; /* cut before a whole character */
		*end = '\0';
	}
	return v;
}

static char *handler_path(const char *subtype)
{
	return g_strdup_printf(DBUS_SERVICE_PATH "/%s", subtype);
}

static char *ext_path(const char *subtype)
{
	return g_strdup_printf(HM_PATH "/%s", subtype);
}

static void return_bs(GDBusMethodInvocation *inv, bool ok, const char *msg)
{
	g_autofree char *m = msg_sanitize(msg);

	g_dbus_method_invocation_return_value(inv,
					      g_variant_new("(bs)", ok, m));
}

static void return_is(GDBusMethodInvocation *inv, int rc, const char *msg)
{
	g_autofree char *m = msg_sanitize(msg);

	g_dbus_method_invocation_return_value(inv,
					      g_variant_new("(is)", rc, m));
}

/* ---------------------------------------------------------------------- */
/* Device1 objects: a skeleton that refreshes itself from the daemon       */
/* ---------------------------------------------------------------------- */

#define SVC_TYPE_DEVICE_SKEL (svc_device_skel_get_type())
G_DECLARE_FINAL_TYPE(SvcDeviceSkel, svc_device_skel, SVC, DEVICE_SKEL,
		     TdbusDeviceSkeleton)

struct _SvcDeviceSkel {
	TdbusDeviceSkeleton parent_instance;
	struct dbus_service *svc; /* NULL once unexported */
	char *name;
};

G_DEFINE_TYPE(SvcDeviceSkel, svc_device_skel, TDBUS_TYPE_DEVICE_SKELETON)

static GDBusInterfaceGetPropertyFunc device_parent_get_property;

/* Copy the daemon's current view of the device into the properties. */
static void device_refresh(SvcDeviceSkel *self)
{
	struct dbus_service *svc = self->svc;
	struct dbus_device_snapshot s = { 0 };
	TdbusDevice *d = TDBUS_DEVICE(self);
	g_autofree char *sub = NULL, *cfg = NULL, *uio = NULL;

	if (!svc || svc->stopping || !svc->ops.get_device ||
	    svc->ops.get_device(svc->ctx, self->name, &s) < 0)
		return; /* keep the last values */

	sub = msg_sanitize(s.subtype);
	cfg = g_utf8_make_valid(s.cfgstring ? s.cfgstring : "", -1);
	uio = msg_sanitize(s.uio);
	tdbus_device_set_handler(d, sub);
	tdbus_device_set_config(d, cfg);
	tdbus_device_set_uio(d, uio);
	tdbus_device_set_size(d, s.size);
	tdbus_device_set_block_size(d, s.block_size);
	tdbus_device_set_commands_completed(d, s.stats.cmds_completed);
	tdbus_device_set_bytes_read(d, s.stats.bytes_read);
	tdbus_device_set_bytes_written(d, s.stats.bytes_written);
	tdbus_device_set_errors(d, s.stats.errors);
	tdbus_device_set_in_flight(d, s.stats.in_flight);
	tdbus_device_set_timeouts(d, s.stats.timeouts);
	tdbus_device_set_aborts(d, s.stats.aborts);
}

/* Properties.Get / GetAll (one call per property): refresh, then answer. */
static GVariant *device_get_property(GDBusConnection *conn, const gchar *sender,
				     const gchar *path, const gchar *iface,
				     const gchar *prop, GError **error,
				     gpointer user_data)
{
	device_refresh(SVC_DEVICE_SKEL(user_data));
	return device_parent_get_property(conn, sender, path, iface, prop,
					  error, user_data);
}

static GDBusInterfaceVTable *device_get_vtable(GDBusInterfaceSkeleton *sk)
{
	static GDBusInterfaceVTable vt;
	static gsize once;

	if (g_once_init_enter(&once)) {
		GDBusInterfaceSkeletonClass *parent =
			G_DBUS_INTERFACE_SKELETON_CLASS(
				svc_device_skel_parent_class);

		vt = *parent->get_vtable(sk);
		device_parent_get_property = vt.get_property;
		vt.get_property = device_get_property;
		g_once_init_leave(&once, 1);
	}
	return &vt;
}

/* All properties at once (GetManagedObjects, InterfacesAdded). */
static GVariant *device_get_properties(GDBusInterfaceSkeleton *sk)
{
	device_refresh(SVC_DEVICE_SKEL(sk));
	return G_DBUS_INTERFACE_SKELETON_CLASS(svc_device_skel_parent_class)
		->get_properties(sk);
}

static void device_finalize(GObject *obj)
{
	g_free(SVC_DEVICE_SKEL(obj)->name);
	G_OBJECT_CLASS(svc_device_skel_parent_class)->finalize(obj);
}

static void svc_device_skel_class_init(SvcDeviceSkelClass *klass)
{
	GDBusInterfaceSkeletonClass *sk = G_DBUS_INTERFACE_SKELETON_CLASS(klass);

	G_OBJECT_CLASS(klass)->finalize = device_finalize;
	sk->get_vtable = device_get_vtable;
	sk->get_properties = device_get_properties;
}

static void svc_device_skel_init(SvcDeviceSkel *self)
{
}

/* ---------------------------------------------------------------------- */
/* ChangeMedium                                                            */
/* ---------------------------------------------------------------------- */

void dbus_pending_complete(struct dbus_pending *p, int rc, const char *msg)
{
	if (!p)
		return;
	if (rc > 0)
		rc = -EINVAL;
	if (!msg)
		msg = rc ? g_strerror(-rc) : "success";
	return_is(p->inv, rc, msg);
	g_free(p);
}

/* Hand a validated ChangeMedium to the daemon. Takes @inv. */
static void change_medium_start(struct dbus_service *svc,
				GDBusMethodInvocation *inv, const char *name,
				guint64 size, const char *configstr)
{
	struct dbus_pending *p;

	if (!svc->ops.change_medium) {
		return_is(inv, -EOPNOTSUPP,
			  "this daemon cannot change the medium of a device");
		return;
	}
	if (!name[0]) {
		return_is(inv, -EINVAL, "the device name is empty");
		return;
	}
	p = g_new0(struct dbus_pending, 1);
	p->inv = inv;
	svc->ops.change_medium(svc->ctx, name, size, configstr, p);
}

/* org.kernel.TCMUService1.ChangeMedium on a handler object. Main thread. */
static gboolean on_handler_change_medium(TdbusService *iface,
					 GDBusMethodInvocation *inv,
					 const gchar *name, guint64 size,
					 const gchar *configstr,
					 gpointer user_data)
{
	struct svc_handler *h = user_data;
	g_autofree char *msg = NULL;

	if (!strip_subtype(h->subtype, configstr)) {
		msg = g_strdup_printf("the config string must start with \"%s/\"",
				      h->subtype);
		return_is(inv, -EINVAL, msg);
		return TRUE;
	}
	change_medium_start(h->svc, inv, name, size, configstr);
	return TRUE;
}

/* HandlerManager1.ChangeMedium: the subtype comes from the config string. */
static gboolean on_manager_change_medium(TdbusHandlerManager *hm,
					 GDBusMethodInvocation *inv,
					 const gchar *name, guint64 size,
					 const gchar *configstr,
					 gpointer user_data)
{
	struct dbus_service *svc = user_data;
	g_autofree char *subtype = g_strndup(configstr,
					     strcspn(configstr, "/"));
	g_autofree char *msg = NULL;

	if (!subtype_valid(subtype) ||
	    !g_hash_table_contains(svc->handlers, subtype)) {
		msg = g_strdup_printf("no handler for \"%s\": the config string must be \"<subtype>/<config>\" with a subtype that this daemon serves",
				      subtype);
		return_is(inv, -ENOENT, msg);
		return TRUE;
	}
	change_medium_start(svc, inv, name, size, configstr);
	return TRUE;
}

/* ---------------------------------------------------------------------- */
/* CheckConfig                                                             */
/* ---------------------------------------------------------------------- */

struct fwd_check {
	GDBusMethodInvocation *inv;
	char *subtype;
};

/* Answer of an out-of-process handler to a forwarded CheckConfig. */
static void fwd_check_done(GObject *src, GAsyncResult *res, gpointer data)
{
	struct fwd_check *fc = data;
	g_autoptr(GError) err = NULL;
	g_autoptr(GVariant) ret = NULL;
	g_autofree char *msg = NULL;
	gboolean ok;
	const char *reason;

	ret = g_dbus_connection_call_finish(G_DBUS_CONNECTION(src), res, &err);
	if (ret) {
		g_variant_get(ret, "(b&s)", &ok, &reason);
		return_bs(fc->inv, ok, reason);
	} else {
		if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
			msg = g_strdup_printf("handler \"%s\" did not answer in time; try again",
					      fc->subtype);
		else
			msg = g_strdup_printf("handler \"%s\" is not available right now",
					      fc->subtype);
		tcmu_warn("D-Bus: CheckConfig forwarded to handler %s: %s",
			  fc->subtype, err->message);
		return_bs(fc->inv, false, msg);
	}
	g_free(fc->subtype);
	g_free(fc);
}

/*
 * org.kernel.TCMUService1.CheckConfig on a handler object: strip
 * "<subtype>/", then ask the daemon's handler or forward to the process
 * serving the subtype. Main thread; blocks only as long as the handler's
 * check_config does.
 */
static gboolean on_check_config(TdbusService *iface, GDBusMethodInvocation *inv,
				const gchar *configstr, gpointer user_data)
{
	struct svc_handler *h = user_data;
	struct dbus_service *svc = h->svc;
	const char *cfg = strip_subtype(h->subtype, configstr);
	g_autofree char *msg = NULL, *path = NULL;
	char *reason = NULL;
	bool ok;

	if (!cfg) {
		msg = g_strdup_printf("the config string must be \"%s/<config>\": the handler name, a slash, then the handler's config",
				      h->subtype);
		return_bs(inv, false, msg);
		return TRUE;
	}

	if (h->owner) {
		struct fwd_check *fc = g_new0(struct fwd_check, 1);

		fc->inv = inv;
		fc->subtype = g_strdup(h->subtype);
		path = ext_path(h->subtype);
		g_dbus_connection_call(g_dbus_method_invocation_get_connection(inv),
				       h->owner, path, SVC_IFACE, "CheckConfig",
				       g_variant_new("(s)", cfg),
				       G_VARIANT_TYPE("(bs)"),
				       G_DBUS_CALL_FLAGS_NO_AUTO_START,
				       (int)svc->timeout_ms, NULL,
				       fwd_check_done, fc);
		return TRUE;
	}

	if (!svc->ops.check_config) {
		return_bs(inv, true, "success");
		return TRUE;
	}
	ok = svc->ops.check_config(svc->ctx, h->subtype, cfg, &reason);
	if (ok) {
		return_bs(inv, true, "success");
	} else if (reason && reason[0]) {
		return_bs(inv, false, reason);
	} else {
		msg = g_strdup_printf("the config is not valid for handler \"%s\"; \"help create\" shows the format",
				      h->subtype);
		return_bs(inv, false, msg);
	}
	free(reason);
	return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Handler objects                                                         */
/* ---------------------------------------------------------------------- */

static struct svc_handler *handler_new(struct dbus_service *svc,
				       const char *subtype,
				       const char *cfg_desc, const char *owner)
{
	struct svc_handler *h = g_new0(struct svc_handler, 1);
	g_autofree char *path = handler_path(subtype);
	g_autofree char *desc = g_utf8_make_valid(cfg_desc ? cfg_desc : "", -1);

	h->svc = svc;
	h->subtype = g_strdup(subtype);
	h->owner = g_strdup(owner);
	h->obj = g_dbus_object_skeleton_new(path);
	h->iface = tdbus_service_skeleton_new();
	tdbus_service_set_config_desc(h->iface, desc);
	g_signal_connect(h->iface, "handle-check-config",
			 G_CALLBACK(on_check_config), h);
	g_signal_connect(h->iface, "handle-change-medium",
			 G_CALLBACK(on_handler_change_medium), h);
	g_dbus_object_skeleton_add_interface(h->obj,
					     G_DBUS_INTERFACE_SKELETON(h->iface));
	g_hash_table_insert(svc->handlers, h->subtype, h);
	g_dbus_object_manager_server_export(svc->handler_mgr, h->obj);
	return h;
}

/* Unexport and free @h; tell the daemon when an external one goes away. */
static void handler_free(struct svc_handler *h)
{
	struct dbus_service *svc = h->svc;
	g_autofree char *path = handler_path(h->subtype);
	bool external = h->owner != NULL;

	g_hash_table_steal(svc->handlers, h->subtype);
	if (h->watch_id)
		g_bus_unwatch_name(h->watch_id);
	g_dbus_object_manager_server_unexport(svc->handler_mgr, path);
	g_signal_handlers_disconnect_by_data(h->iface, h);
	g_object_unref(h->iface);
	g_object_unref(h->obj);
	if (external && !svc->stopping && svc->ops.external_changed)
		svc->ops.external_changed(svc->ctx, h->subtype, false);
	if (external)
		tcmu_info("D-Bus: out-of-process handler %s is gone",
			  h->subtype);
	g_free(h->owner);
	g_free(h->subtype);
	g_free(h);
}

int dbus_handler_added(struct dbus_service *svc, const char *subtype,
		       const char *cfg_desc)
{
	if (!svc || !subtype || !subtype_valid(subtype))
		return -EINVAL;
	if (g_hash_table_contains(svc->handlers, subtype))
		return -EEXIST;
	handler_new(svc, subtype, cfg_desc, NULL);
	return 0;
}

int dbus_handler_removed(struct dbus_service *svc, const char *subtype)
{
	struct svc_handler *h;

	if (!svc || !subtype)
		return -EINVAL;
	h = g_hash_table_lookup(svc->handlers, subtype);
	if (!h || h->owner)
		return -ENOENT;
	handler_free(h);
	return 0;
}

bool dbus_service_is_external(const struct dbus_service *svc,
			      const char *subtype)
{
	struct svc_handler *h;

	if (!svc || !subtype)
		return false;
	h = g_hash_table_lookup(svc->handlers, subtype);
	return h && h->owner;
}

/* The process serving an external handler left the bus. Main thread. */
static void on_owner_vanished(GDBusConnection *conn, const gchar *name,
			      gpointer user_data)
{
	handler_free(user_data);
}

/*
 * HandlerManager1.RegisterHandler: the caller (root, per the bus policy)
 * serves @subtype from now on. Main thread; never blocks.
 */
static gboolean on_register_handler(TdbusHandlerManager *hm,
				    GDBusMethodInvocation *inv,
				    const gchar *subtype, const gchar *desc,
				    gpointer user_data)
{
	struct dbus_service *svc = user_data;
	const char *sender = g_dbus_method_invocation_get_sender(inv);
	struct svc_handler *h;
	g_autofree char *msg = NULL;

	if (!sender) {
		return_bs(inv, false, "only a client of the message bus can register a handler");
		return TRUE;
	}
	if (!subtype_valid(subtype)) {
		return_bs(inv, false, "the subtype must be 1 to 63 characters from a-z, 0-9 and _");
		return TRUE;
	}
	h = g_hash_table_lookup(svc->handlers, subtype);
	if (h && h->owner && !strcmp(h->owner, sender)) {
		g_autofree char *d = g_utf8_make_valid(desc, -1);

		tdbus_service_set_config_desc(h->iface, d);
		return_bs(inv, true, "already registered by this caller");
		return TRUE;
	}
	if (h) {
		msg = g_strdup_printf("subtype \"%s\" is already served by %s",
				      subtype, h->owner ? "another process" : "tcmud itself");
		return_bs(inv, false, msg);
		return TRUE;
	}

	h = handler_new(svc, subtype, desc, sender);
	h->watch_id = g_bus_watch_name_on_connection(
		svc->conn, sender, G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
		on_owner_vanished, h, NULL);
	tcmu_info("D-Bus: handler %s registered by %s", subtype, sender);
	if (svc->ops.external_changed)
		svc->ops.external_changed(svc->ctx, subtype, true);
	return_bs(inv, true, "registered");
	return TRUE;
}

/* HandlerManager1.UnregisterHandler: only the registering caller may. */
static gboolean on_unregister_handler(TdbusHandlerManager *hm,
				      GDBusMethodInvocation *inv,
				      const gchar *subtype, gpointer user_data)
{
	struct dbus_service *svc = user_data;
	const char *sender = g_dbus_method_invocation_get_sender(inv);
	struct svc_handler *h = g_hash_table_lookup(svc->handlers, subtype);

	if (!h || !h->owner || !sender || strcmp(h->owner, sender)) {
		return_bs(inv, false, "this subtype was not registered by this caller");
		return TRUE;
	}
	handler_free(h);
	return_bs(inv, true, "unregistered");
	return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Devices                                                                 */
/* ---------------------------------------------------------------------- */

static char *device_path(const char *name)
{
	g_autofree char *esc = g_dbus_escape_object_path(name);

	return g_strdup_printf(DEV_PATH "/%s", esc);
}

int dbus_device_added(struct dbus_service *svc, const char *name)
{
	g_autofree char *path = NULL;
	GDBusObjectSkeleton *obj;
	SvcDeviceSkel *skel;

	if (!svc || !name || !name[0])
		return -EINVAL;
	if (g_hash_table_contains(svc->devices, name))
		return -EEXIST;
	path = device_path(name);
	obj = g_dbus_object_skeleton_new(path);
	skel = g_object_new(SVC_TYPE_DEVICE_SKEL, NULL);
	skel->svc = svc;
	skel->name = g_strdup(name);
	{
		g_autofree char *n = g_utf8_make_valid(name, -1);

		tdbus_device_set_name(TDBUS_DEVICE(skel), n);
	}
	g_dbus_object_skeleton_add_interface(obj, G_DBUS_INTERFACE_SKELETON(skel));
	g_object_unref(skel);
	g_hash_table_insert(svc->devices, g_strdup(name), obj);
	g_dbus_object_manager_server_export(svc->device_mgr, obj);
	return 0;
}

/* Unexport one device object (the hash table's value destructor). */
static void device_obj_free(gpointer data)
{
	GDBusObjectSkeleton *obj = data;
	struct dbus_service *svc = NULL;
	GList *ifaces = g_dbus_object_get_interfaces(G_DBUS_OBJECT(obj));

	for (GList *l = ifaces; l; l = l->next) {
		if (SVC_IS_DEVICE_SKEL(l->data)) {
			svc = SVC_DEVICE_SKEL(l->data)->svc;
			SVC_DEVICE_SKEL(l->data)->svc = NULL;
		}
	}
	g_list_free_full(ifaces, g_object_unref);
	if (svc)
		g_dbus_object_manager_server_unexport(
			svc->device_mgr,
			g_dbus_object_get_object_path(G_DBUS_OBJECT(obj)));
	g_object_unref(obj);
}

int dbus_device_removed(struct dbus_service *svc, const char *name)
{
	if (!svc || !name)
		return -EINVAL;
	return g_hash_table_remove(svc->devices, name) ? 0 : -ENOENT;
}

/* ---------------------------------------------------------------------- */
/* Netlink events for out-of-process handlers                              */
/* ---------------------------------------------------------------------- */

static int ext_error_to_errno(const GError *err)
{
	if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
		return -ETIMEDOUT;
	if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return -ECANCELED;
	if (g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD) ||
	    g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT) ||
	    g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE))
		return -EOPNOTSUPP;
	if (g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
	    g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
	    g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
	    g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CLOSED))
		return -ENOTCONN;
	if (g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED))
		return -EACCES;
	return -EIO;
}

static void ext_call_done(GObject *src, GAsyncResult *res, gpointer data)
{
	struct ext_call *c = data;
	g_autoptr(GError) err = NULL;
	g_autoptr(GVariant) ret = NULL;
	int status;

	ret = g_dbus_connection_call_finish(G_DBUS_CONNECTION(src), res, &err);
	if (ret) {
		g_variant_get(ret, "(i)", &status);
		if (status > 0)
			status = -EIO;
	} else {
		status = ext_error_to_errno(err);
	}
	if (c->svc) {
		if (!ret)
			tcmu_warn("D-Bus: out-of-process handler call failed: %s",
				  err->message);
		c->svc->ext_calls = g_list_remove(c->svc->ext_calls, c);
		c->done(status, c->arg);
	}
	g_free(c);
}

int dbus_external_event(struct dbus_service *svc,
			const struct tcmu_nl_event *ev, dbus_ext_done_fn done,
			void *arg)
{
	struct tcmu_device_info *info;
	struct svc_handler *h;
	struct ext_call *c;
	const char *method;
	GVariant *params;
	g_autofree char *uio = NULL, *path = NULL, *name = NULL;
	g_autofree char *cfg = NULL;

	if (!svc || !ev || !ev->device || !done)
		return -EINVAL;
	info = g_new0(struct tcmu_device_info, 1);
	if (tcmu_parse_uio_name(ev->device, info) < 0) {
		g_free(info);
		return -EINVAL;
	}
	h = g_hash_table_lookup(svc->handlers, info->subtype);
	g_free(info);
	if (!h || !h->owner || !svc->conn)
		return -ENOENT;

	uio = g_strdup_printf("uio%u", ev->minor);
	name = g_utf8_make_valid(ev->device, -1);
	switch (ev->cmd) {
	case TCMU_CMD_ADDED_DEVICE:
		method = "AddDevice";
		params = g_variant_new("(ss)", uio, name);
		break;
	case TCMU_CMD_REMOVED_DEVICE:
		method = "RemoveDevice";
		params = g_variant_new("(ss)", uio, name);
		break;
	case TCMU_CMD_RECONFIG_DEVICE:
		method = "ReconfigDevice";
		cfg = g_utf8_make_valid(ev->dev_cfg ? ev->dev_cfg : "", -1);
		params = g_variant_new("(sssti)", uio, name, cfg,
				       (guint64)(ev->has_dev_size ? ev->dev_size : 0),
				       (gint32)ev->write_cache);
		break;
	default:
		return -EINVAL;
	}

	c = g_new0(struct ext_call, 1);
	c->svc = svc;
	c->done = done;
	c->arg = arg;
	svc->ext_calls = g_list_prepend(svc->ext_calls, c);
	path = ext_path(h->subtype);
	g_dbus_connection_call(svc->conn, h->owner, path, EXT_IFACE, method,
			       params, G_VARIANT_TYPE("(i)"),
			       G_DBUS_CALL_FLAGS_NO_AUTO_START,
			       (int)svc->timeout_ms, NULL, ext_call_done, c);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The bus connection and the name                                         */
/* ---------------------------------------------------------------------- */

static void svc_connect(struct dbus_service *svc);

static gboolean on_retry(gpointer data)
{
	struct dbus_service *svc = data;

	svc->retry_source = 0;
	svc_connect(svc);
	return G_SOURCE_REMOVE;
}

static void schedule_retry(struct dbus_service *svc)
{
	if (svc->stopping || svc->retry_source)
		return;
	svc->retry_source = g_timeout_add(svc->retry_cur, on_retry, svc);
	svc->retry_cur = MIN(svc->retry_cur * 2, RETRY_MAX_MS);
}

static void on_name_acquired(GDBusConnection *conn, const gchar *name,
			     gpointer data)
{
	struct dbus_service *svc = data;

	svc->owned = true;
	svc->warned = false;
	svc->retry_cur = svc->retry_ms;
	tcmu_info("D-Bus: owning %s", name);
	if (svc->ops.name_owned)
		svc->ops.name_owned(svc->ctx, true);
}

static void on_name_lost(GDBusConnection *conn, const gchar *name,
			 gpointer data)
{
	struct dbus_service *svc = data;
	bool was = svc->owned;

	svc->owned = false;
	if (conn && !g_dbus_connection_is_closed(conn))
		tcmu_warn("D-Bus: %s is owned by another process (tcmu-runner?); waiting for it",
			  name);
	if (was && svc->ops.name_owned)
		svc->ops.name_owned(svc->ctx, false);
}

/* Drop the connection and everything that lives on it. */
static void svc_disconnect(struct dbus_service *svc)
{
	GHashTableIter it;
	gpointer value;
	GList *ext = NULL;
	bool was = svc->owned;

	if (svc->owner_id)
		g_bus_unown_name(svc->owner_id);
	svc->owner_id = 0;
	svc->owned = false;

	/* Out-of-process handlers live on this bus: they must register again. */
	g_hash_table_iter_init(&it, svc->handlers);
	while (g_hash_table_iter_next(&it, NULL, &value))
		if (((struct svc_handler *)value)->owner)
			ext = g_list_prepend(ext, value);
	for (GList *l = ext; l; l = l->next)
		handler_free(l->data);
	g_list_free(ext);

	if (!svc->conn)
		return;
	g_dbus_object_manager_server_set_connection(svc->handler_mgr, NULL);
	g_dbus_object_manager_server_set_connection(svc->device_mgr, NULL);
	g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(svc->hm));
	g_signal_handler_disconnect(svc->conn, svc->closed_id);
	svc->closed_id = 0;
	if (!g_dbus_connection_is_closed(svc->conn))
		g_dbus_connection_close(svc->conn, NULL, NULL, NULL);
	g_clear_object(&svc->conn);
	if (was && !svc->stopping && svc->ops.name_owned)
		svc->ops.name_owned(svc->ctx, false);
}

static void on_closed(GDBusConnection *conn, gboolean remote_vanished,
		      GError *error, gpointer data)
{
	struct dbus_service *svc = data;

	tcmu_warn("D-Bus: connection to the bus closed (%s); reconnecting",
		  error ? error->message : "no error");
	svc_disconnect(svc);
	schedule_retry(svc);
}

static void on_connected(GObject *src, GAsyncResult *res, gpointer data)
{
	struct connect_attempt *a = data;
	struct dbus_service *svc = a->svc;
	g_autoptr(GError) err = NULL;
	GDBusConnection *conn;

	conn = g_dbus_connection_new_for_address_finish(res, &err);
	g_free(a);
	if (!svc) { /* stopped meanwhile */
		if (conn) {
			g_dbus_connection_close(conn, NULL, NULL, NULL);
			g_object_unref(conn);
		}
		return;
	}
	svc->attempt = NULL;
	if (!conn) {
		if (!svc->warned)
			tcmu_warn("D-Bus: cannot connect to %s: %s; retrying",
				  svc->address, err->message);
		svc->warned = true;
		schedule_retry(svc);
		return;
	}

	svc->conn = conn;
	g_dbus_connection_set_exit_on_close(conn, FALSE);
	svc->closed_id = g_signal_connect(conn, "closed", G_CALLBACK(on_closed),
					  svc);
	g_dbus_object_manager_server_set_connection(svc->handler_mgr, conn);
	g_dbus_object_manager_server_set_connection(svc->device_mgr, conn);
	if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(svc->hm),
					      conn, HM_PATH, &err))
		tcmu_err("D-Bus: cannot export %s: %s", HM_PATH, err->message);
	svc->owner_id = g_bus_own_name_on_connection(conn, DBUS_SERVICE_NAME,
						     G_BUS_NAME_OWNER_FLAGS_NONE,
						     on_name_acquired,
						     on_name_lost, svc, NULL);
}

static void svc_connect(struct dbus_service *svc)
{
	struct connect_attempt *a = g_new0(struct connect_attempt, 1);

	a->svc = svc;
	svc->attempt = a;
	g_dbus_connection_new_for_address(
		svc->address,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
			G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
		NULL, NULL, on_connected, a);
}

/* ---------------------------------------------------------------------- */
/* Start / stop                                                            */
/* ---------------------------------------------------------------------- */

int dbus_service_start_full(const struct dbus_service_ops *ops, void *ctx,
			    const struct dbus_service_params *params,
			    struct dbus_service **out)
{
	struct dbus_service *svc;
	g_autoptr(GError) err = NULL;
	char *addr;

	if (!out)
		return -EINVAL;
	if (params && params->address)
		addr = g_strdup(params->address);
	else
		addr = g_dbus_address_get_for_bus_sync(G_BUS_TYPE_SYSTEM, NULL,
						       &err);
	if (!addr) {
		tcmu_err("D-Bus: no system bus address: %s", err->message);
		return -EINVAL;
	}

	svc = g_new0(struct dbus_service, 1);
	if (ops)
		svc->ops = *ops;
	svc->ctx = ctx;
	svc->address = addr;
	svc->timeout_ms = params && params->call_timeout_ms ?
				  params->call_timeout_ms : 5000;
	svc->retry_ms = params && params->retry_ms ? params->retry_ms : 1000;
	svc->retry_cur = svc->retry_ms;
	svc->handlers = g_hash_table_new(g_str_hash, g_str_equal);
	svc->devices = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					     device_obj_free);
	svc->handler_mgr = g_dbus_object_manager_server_new(DBUS_SERVICE_PATH);
	svc->device_mgr = g_dbus_object_manager_server_new(DEV_PATH);
	svc->hm = tdbus_handler_manager_skeleton_new();
	g_signal_connect(svc->hm, "handle-register-handler",
			 G_CALLBACK(on_register_handler), svc);
	g_signal_connect(svc->hm, "handle-unregister-handler",
			 G_CALLBACK(on_unregister_handler), svc);
	g_signal_connect(svc->hm, "handle-change-medium",
			 G_CALLBACK(on_manager_change_medium), svc);
	svc_connect(svc);
	*out = svc;
	return 0;
}

int dbus_service_start(const struct dbus_service_ops *ops, void *ctx,
		       struct dbus_service **out)
{
	return dbus_service_start_full(ops, ctx, NULL, out);
}

bool dbus_service_owns_name(const struct dbus_service *svc)
{
	return svc && svc->owned;
}

struct dbus_service *dbus_service_stop(struct dbus_service *svc)
{
	GHashTableIter it;
	gpointer value;
	GList *local = NULL;

	if (!svc)
		return NULL;
	svc->stopping = true;
	if (svc->retry_source)
		g_source_remove(svc->retry_source);
	if (svc->attempt)
		svc->attempt->svc = NULL; /* its callback closes the result */

	while (svc->ext_calls) {
		struct ext_call *c = svc->ext_calls->data;

		svc->ext_calls = g_list_delete_link(svc->ext_calls,
						    svc->ext_calls);
		c->svc = NULL; /* its GLib callback just frees it */
		c->done(-ECANCELED, c->arg);
	}

	svc_disconnect(svc);
	g_hash_table_remove_all(svc->devices);
	g_hash_table_iter_init(&it, svc->handlers);
	while (g_hash_table_iter_next(&it, NULL, &value))
		local = g_list_prepend(local, value);
	for (GList *l = local; l; l = l->next)
		handler_free(l->data);
	g_list_free(local);

	g_signal_handlers_disconnect_by_data(svc->hm, svc);
	g_object_unref(svc->hm);
	g_object_unref(svc->handler_mgr);
	g_object_unref(svc->device_mgr);
	g_hash_table_destroy(svc->handlers);
	g_hash_table_destroy(svc->devices);
	g_free(svc->address);
	g_free(svc);
	return NULL;
}
