/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dbus/daemon_glue.c — the D-Bus service inside tcmud: implements
 * daemon/dbus_hook.h on top of dbus/tcmud_dbus.h. It exports the daemon's
 * handlers, answers CheckConfig with the handler registry, mirrors the
 * device table as Device1 objects, hands netlink events of subtypes served
 * by other processes to them, and carries out ChangeMedium by writing
 * the device's configfs attributes from a worker thread (the kernel then
 * sends a RECONFIG event that the main thread must be free to answer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#include "daemon/daemon.h"
#include "daemon/dbus_hook.h"
#include "tcmud_dbus.h"

/* How often the Device1 objects are brought in line with the table. */
#define SYNC_INTERVAL_S 1

struct tcmud_dbus {
	struct tcmud *d;
	struct dbus_service *svc;
	GHashTable *names; /* exported device name -> uio ("uio3") */
	guint sync_src;
};

/* The entry exported as @name, or NULL. Main thread. */
static const struct devtable_entry *entry_by_name(struct tcmud_dbus *s,
						  const char *name)
{
	const char *uio = g_hash_table_lookup(s->names, name);

	return uio ? devtable_find(tcmud_devices(s->d), uio) : NULL;
}

/*
 * Export new devices and unexport gone ones. A device is named by its
 * configfs name; "<dev>@<hba>" when two HBAs hold the same name.
 */
static void sync_devices(struct tcmud_dbus *s)
{
	struct devtable *dt = tcmud_devices(s->d);
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash,
							   g_str_equal, g_free,
							   NULL);
	GHashTableIter it;
	gpointer key, value;

	for (size_t i = 0; dt && i < devtable_count(dt); i++) {
		const struct devtable_entry *e = devtable_get(dt, i);
		const struct tcmu_device_info *info = tcmu_device_get_info(e->dev);
		const char *uio;
		char *name = g_strdup(info->dev);

		uio = g_hash_table_lookup(s->names, name);
		if (uio && strcmp(uio, e->uio)) {
			g_free(name);
			name = g_strdup_printf("%s@%s", info->dev, info->hba);
			uio = g_hash_table_lookup(s->names, name);
		}
		if (!uio) {
			if (dbus_device_added(s->svc, name) == 0)
				g_hash_table_insert(s->names, g_strdup(name),
						    g_strdup(e->uio));
		}
		g_hash_table_add(seen, name); /* seen owns it */
	}

	g_hash_table_iter_init(&it, s->names);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		if (!g_hash_table_contains(seen, key)) {
			dbus_device_removed(s->svc, key);
			g_hash_table_iter_remove(&it);
		}
	}
}

/* The periodic sync (a backstop for changes not seen as events). */
static gboolean on_sync(gpointer data)
{
	sync_devices(data);
	return G_SOURCE_CONTINUE;
}

/* devtable_changed_fn: a device came or went. Main thread. */
static void on_devices_changed(void *arg)
{
	sync_devices(arg);
}

/* ops->check_config: the handler registry's check. Main thread. */
static bool glue_check_config(void *ctx, const char *subtype,
			      const char *cfgstring, char **reason)
{
	struct tcmud_dbus *s = ctx;
	int r = handler_registry_check_config(tcmud_handlers(s->d), subtype,
					      cfgstring, reason);

	/* A handler without check_config accepts everything (as tcmu-runner). */
	return r == 0 || r == -EOPNOTSUPP;
}

/* ops->get_device: from the device table and libtcmu. Main thread. */
static int glue_get_device(void *ctx, const char *name,
			   struct dbus_device_snapshot *out)
{
	const struct devtable_entry *e = entry_by_name(ctx, name);
	const struct tcmu_device_info *info;

	if (!e)
		return -ENOENT;
	info = tcmu_device_get_info(e->dev);
	out->subtype = info->subtype;
	out->cfgstring = tcmu_dev_get_cfgstring(e->dev);
	out->uio = e->uio;
	out->size = tcmu_dev_get_size(e->dev);
	out->block_size = tcmu_dev_get_block_size(e->dev);
	tcmu_device_get_stats(e->dev, &out->stats);
	return 0;
}

/* One ChangeMedium, carried out by a worker thread. */
struct medium_job {
	struct tcmu_device_info info; /* configfs location of the device */
	char *cfgstring;              /* "<subtype>/<config>" */
	uint64_t size;
	bool set_cfg, set_size;
	char msg[256];
	struct dbus_pending *p;
};

/*
 * Worker thread: write attrib/dev_config, then attrib/dev_size. Each write
 * blocks until the daemon's main thread answered the kernel's RECONFIG.
 */
static void medium_work(GTask *task, gpointer src, gpointer data,
			GCancellable *cancel)
{
	struct medium_job *j = data;
	char val[32];
	int r = 0;

	if (j->set_cfg) {
		r = tcmu_cfgfs_write_attr(&j->info, "attrib/dev_config",
					  j->cfgstring);
		if (r < 0)
			snprintf(j->msg, sizeof(j->msg),
				 "the new config was refused: %s", strerror(-r));
	}
	if (r == 0 && j->set_size) {
		snprintf(val, sizeof(val), "%" PRIu64, j->size);
		r = tcmu_cfgfs_write_attr(&j->info, "attrib/dev_size", val);
		if (r < 0)
			snprintf(j->msg, sizeof(j->msg),
				 "the new size was refused: %s", strerror(-r));
	}
	g_task_return_int(task, r);
}

/* Main thread: answer the client. */
static void medium_done(GObject *src, GAsyncResult *res, gpointer data)
{
	struct medium_job *j = g_task_get_task_data(G_TASK(res));
	int r = (int)g_task_propagate_int(G_TASK(res), NULL);

	dbus_pending_complete(j->p, r, r ? j->msg : NULL);
	j->p = NULL;
}

static void medium_job_free(gpointer data)
{
	struct medium_job *j = data;

	g_free(j->cfgstring);
	g_free(j);
}

/* ops->change_medium. Main thread; hands the writes to a worker thread. */
static void glue_change_medium(void *ctx, const char *name, uint64_t size,
			       const char *cfgstring, struct dbus_pending *p)
{
	struct tcmud_dbus *s = ctx;
	const struct devtable_entry *e;
	const struct tcmu_device_info *info;
	g_autofree char *cur = NULL, *msg = NULL;
	struct medium_job *j;
	GTask *task;
	size_t sl;

	sync_devices(s);
	e = entry_by_name(s, name);
	if (!e) {
		msg = g_strdup_printf("no device \"%s\" is served by tcmud", name);
		dbus_pending_complete(p, -ENODEV, msg);
		return;
	}
	info = tcmu_device_get_info(e->dev);
	sl = strlen(info->subtype);
	if (strncmp(cfgstring, info->subtype, sl) ||
	    (cfgstring[sl] != '/' && cfgstring[sl] != '\0')) {
		msg = g_strdup_printf("device \"%s\" is served by handler \"%s\": the config must start with \"%s/\"",
				      name, info->subtype, info->subtype);
		dbus_pending_complete(p, -EINVAL, msg);
		return;
	}

	j = g_new0(struct medium_job, 1);
	j->info = *info;
	j->cfgstring = g_strdup(cfgstring);
	j->size = size;
	cur = g_strdup_printf("%s/%s", info->subtype, tcmu_dev_get_cfgstring(e->dev));
	j->set_cfg = strcmp(cur, cfgstring) != 0;
	j->set_size = size && size != tcmu_dev_get_size(e->dev);
	j->p = p;
	task = g_task_new(NULL, NULL, medium_done, NULL);
	g_task_set_task_data(task, j, medium_job_free);
	g_task_run_in_thread(task, medium_work);
	g_object_unref(task);
}

/* Result of a device event handed to a handler process. Main thread. */
static void external_done(int status, void *arg)
{
	char *device = arg;

	if (status < 0 && status != -ECANCELED)
		tcmu_err("%s: the handler process failed: %s", device,
			 strerror(-status));
	g_free(device);
}

/*
 * devtable_external_fn: an event for a subtype no plugin serves. When a
 * handler process registered it, hand the event over (asynchronously) and
 * answer the kernel now: the netlink callback cannot wait. Main thread.
 */
static int glue_external(const struct tcmu_nl_event *ev, const char *subtype,
			 void *arg)
{
	struct tcmud_dbus *s = arg;
	char *device;
	int r;

	if (!dbus_service_is_external(s->svc, subtype))
		return -ENOENT;
	device = g_strdup(ev->device);
	r = dbus_external_event(s->svc, ev, external_done, device);
	if (r < 0)
		g_free(device);
	return r;
}

static void glue_name_owned(void *ctx, bool owned)
{
	if (!owned)
		tcmu_warn("D-Bus: org.kernel.TCMUService1 not owned: targetcli cannot see tcmud");
}

struct tcmud_dbus *tcmud_dbus_new(struct tcmud *d)
{
	static const struct dbus_service_ops ops = {
		.check_config = glue_check_config,
		.get_device = glue_get_device,
		.change_medium = glue_change_medium,
		.name_owned = glue_name_owned,
	};
	const struct handler_registry *reg = tcmud_handlers(d);
	struct tcmud_dbus *s = g_new0(struct tcmud_dbus, 1);
	int r;

	s->d = d;
	s->names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 g_free);
	r = dbus_service_start(&ops, s, &s->svc);
	if (r < 0) {
		tcmu_err("D-Bus: cannot start the service: %s", strerror(-r));
		g_hash_table_destroy(s->names);
		g_free(s);
		return NULL;
	}
	for (size_t i = 0; reg && i < handler_registry_count(reg); i++) {
		const struct loaded_handler *lh = handler_registry_get(reg, i);

		r = dbus_handler_added(s->svc, lh->h.subtype, lh->h.cfg_desc);
		if (r < 0)
			tcmu_err("D-Bus: cannot export handler %s: %s",
				 lh->h.subtype, strerror(-r));
	}
	if (tcmud_devices(d)) {
		devtable_set_external(tcmud_devices(d), glue_external, s);
		devtable_set_changed(tcmud_devices(d), on_devices_changed, s);
	}
	sync_devices(s);
	s->sync_src = g_timeout_add_seconds(SYNC_INTERVAL_S, on_sync, s);
	return s;
}

struct tcmud_dbus *tcmud_dbus_free(struct tcmud_dbus *s)
{
	if (!s)
		return NULL;
	if (tcmud_devices(s->d)) {
		devtable_set_external(tcmud_devices(s->d), NULL, NULL);
		devtable_set_changed(tcmud_devices(s->d), NULL, NULL);
	}
	if (s->sync_src)
		g_source_remove(s->sync_src);
	s->svc = dbus_service_stop(s->svc);
	g_hash_table_destroy(s->names);
	g_free(s);
	return NULL;
}
