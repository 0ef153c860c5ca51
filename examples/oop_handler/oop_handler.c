/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * examples/oop_handler/oop_handler.c — tcmud-oop-example: a handler that
 * lives in its own process instead of being a handler_*.so loaded by tcmud.
 * It serves the subtype "oopmem", an in-memory disk, and shows the whole
 * out-of-process protocol (README.md explains why it looks like this):
 *
 *   1. Export, on our own system bus connection, the object
 *      /org/kernel/TCMUService1/HandlerManager1/oopmem with
 *        org.kernel.TCMUService1.CheckConfig            (targetcli "create")
 *        org.kernel.TCMUService1.ExternalHandler1.*     (devices, from tcmud)
 *   2. Call org.kernel.TCMUService1.HandlerManager1.RegisterHandler on
 *      tcmud (which D-Bus activation starts if needed). targetcli now lists
 *      user:oopmem; its CheckConfig calls are forwarded to us.
 *   3. Take over devices of our subtype that already exist (we restarted):
 *      block, reset the ring, open, start, unblock.
 *   4. tcmud alone answers the kernel's netlink events; for our subtype it
 *      calls AddDevice / RemoveDevice / ReconfigDevice and we open, stop or
 *      reconfigure the device with libtcmu. We never open netlink.
 *   5. When tcmud comes back after a restart we register again; on SIGTERM
 *      we stop our devices (commands completed) and exit.
 *
 * The storage part (mem_*) is an ordinary struct tcmu_handler run by
 * libtcmu's runner, exactly as inside tcmud.
 *
 *   tcmud-oop-example [-d]        (-d: debug log)
 *
 * Config strings: "oopmem/" (zero-filled) or "oopmem/fill=<byte>" (every
 * block reads as that byte until written; 0..255, decimal or 0x hex).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include <tcmu/libtcmu.h>

#include "tdbus-generated.h" /* gdbus-codegen of org.kernel.TCMUService1.xml */

#define SUBTYPE "oopmem"
#define BUS_NAME "org.kernel.TCMUService1"
#define HM_PATH "/org/kernel/TCMUService1/HandlerManager1"
#define OUR_PATH HM_PATH "/" SUBTYPE
#define STOP_TIMEOUT_MS 10000

/* ====================================================================== */
/* The storage: an in-memory disk, an ordinary libtcmu handler             */
/* ====================================================================== */

struct mem_disk {
	unsigned char *buf;
	size_t size;
};

/* "" or "fill=<byte>" -> *fill. Returns false for anything else. */
static bool mem_parse(const char *cfg, unsigned int *fill)
{
	char *end;
	unsigned long v;

	*fill = 0;
	if (!cfg[0])
		return true;
	if (strncmp(cfg, "fill=", 5) || !cfg[5])
		return false;
	errno = 0;
	v = strtoul(cfg + 5, &end, 0);
	if (errno || *end || v > 255)
		return false;
	*fill = (unsigned int)v;
	return true;
}

/*
 * check_config — validate the part after "oopmem/". Main thread (called
 * for CheckConfig, forwarded by tcmud); no side effects. The reason names
 * the expected syntax only, never echoes the caller's input.
 */
static bool mem_check_config(const char *cfgstring, char **reason)
{
	unsigned int fill;

	if (mem_parse(cfgstring, &fill))
		return true;
	*reason = strdup("oopmem: the config must be empty or fill=<byte> (0..255)");
	return false;
}

/* open — map the disk. Main thread; before the ring thread starts. */
static int mem_open(struct tcmu_device *dev, bool reopen)
{
	struct mem_disk *d;
	unsigned int fill;

	if (!mem_parse(tcmu_dev_get_cfgstring(dev), &fill))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->size = tcmu_dev_get_size(dev);
	d->buf = mmap(NULL, d->size ? d->size : 1, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (d->buf == MAP_FAILED) {
		free(d);
		return -ENOMEM;
	}
	if (fill)
		memset(d->buf, (int)fill, d->size);
	tcmu_dev_info(dev, "oopmem: %zu bytes%s", d->size,
		      reopen ? " (taken over: the old contents are gone)" : "");
	tcmu_dev_set_private(dev, d);
	return 0;
}

/* close — unmap. Main thread, after every command completed. */
static void mem_close(struct tcmu_device *dev)
{
	struct mem_disk *d = tcmu_dev_get_private(dev);

	munmap(d->buf, d->size ? d->size : 1);
	free(d);
	tcmu_dev_set_private(dev, NULL);
}

/* Copy between the disk and the iovecs (which point into the ring). */
static int mem_copy(struct tcmu_device *dev, const struct iovec *iov,
		    size_t iovcnt, uint64_t off, size_t len, bool to_disk)
{
	struct mem_disk *d = tcmu_dev_get_private(dev);

	if (off > d->size || len > d->size - off)
		return -ERANGE;
	for (size_t i = 0; i < iovcnt && len; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (to_disk)
			memcpy(d->buf + off, iov[i].iov_base, n);
		else
			memcpy(iov[i].iov_base, d->buf + off, n);
		off += n;
		len -= n;
	}
	return 0;
}

/* read / write / flush — ring thread (ASYNC); memcpy never blocks. */
static int mem_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		    const struct iovec *iov, size_t iovcnt, uint64_t offset,
		    size_t length, unsigned int flags)
{
	int r = mem_copy(dev, iov, iovcnt, offset, length, false);

	if (r < 0)
		return r;
	tcmu_cmd_done(cmd, 0);
	return 0;
}

static int mem_write(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		     const struct iovec *iov, size_t iovcnt, uint64_t offset,
		     size_t length, unsigned int flags)
{
	int r = mem_copy(dev, iov, iovcnt, offset, length, true);

	if (r < 0)
		return r;
	tcmu_cmd_done(cmd, 0);
	return 0;
}

static int mem_flush(struct tcmu_device *dev, struct tcmu_cmd *cmd)
{
	tcmu_cmd_done(cmd, 0);
	return 0;
}

static struct tcmu_handler mem_handler = {
	/* A program hands its handler to libtcmu directly (no .so, no
	 * TCMU_REGISTER_HANDLER): fill in what that macro would. */
	._struct_size = sizeof(struct tcmu_handler),
	._api_version = TCMU_HANDLER_API_VERSION,
	.subtype = SUBTYPE,
	.name = "in-memory disk served out of process (example)",
	.cfg_desc = "oopmem/ or oopmem/fill=<byte>: a memory disk (contents lost "
		    "when the example exits), zero-filled or filled with <byte>",
	.concurrency = TCMU_CONCURRENCY_ASYNC,
	.check_config = mem_check_config,
	.open = mem_open,
	.close = mem_close,
	.read = mem_read,
	.write = mem_write,
	.flush = mem_flush,
};

/* ====================================================================== */
/* Our devices                                                             */
/* ====================================================================== */

static GHashTable *devices; /* "uio3" -> struct tcmu_device */

/* Open /dev/<uio> and start serving it. Main thread; may block in open. */
static int dev_add(const char *uio, bool reopen)
{
	struct tcmu_device *dev;
	const struct tcmu_device_info *info;
	int r;

	if (g_hash_table_contains(devices, uio))
		return -EEXIST;
	r = tcmu_device_open_uio(uio, &dev);
	if (r < 0)
		return r;
	info = tcmu_device_get_info(dev);
	if (strcmp(info->subtype, SUBTYPE)) {
		tcmu_err("%s: subtype %s is not ours", uio, info->subtype);
		tcmu_device_close(dev);
		return -EINVAL;
	}
	r = tcmu_device_start(dev, &mem_handler, reopen);
	if (r < 0) {
		tcmu_device_close(dev);
		return r;
	}
	g_hash_table_insert(devices, g_strdup(uio), dev);
	tcmu_info("%s (%s): served", uio, info->name);
	return 0;
}

/* Stop serving (commands completed or failed back) and close. Main thread. */
static void dev_stop_close(gpointer data)
{
	struct tcmu_device *dev = data;

	if (tcmu_device_stop(dev, STOP_TIMEOUT_MS) == -ETIMEDOUT)
		tcmu_warn("%s: commands still running were failed back",
			  tcmu_device_get_info(dev)->uio);
	tcmu_device_close(dev);
}

/*
 * Restart protocol for a device that existed before we started: hold new
 * commands in the kernel, fail back (BUSY, retryable) what the previous
 * process left in the ring, take the ring over, let commands flow.
 */
static int take_over(const char *uio, const char *uio_name, void *arg)
{
	struct tcmu_device_info info;
	int r;

	memset(&info, 0, sizeof(info));
	if (tcmu_parse_uio_name(uio_name, &info) < 0 ||
	    strcmp(info.subtype, SUBTYPE))
		return 0; /* not ours: leave it alone */
	r = tcmu_cfgfs_block_dev(&info, true);
	if (r == 0)
		r = tcmu_cfgfs_reset_ring(&info);
	if (r < 0)
		tcmu_warn("%s: cannot block / reset: %s", uio, strerror(-r));
	r = dev_add(uio, true);
	if (r < 0)
		tcmu_err("%s: cannot take it over: %s", uio, strerror(-r));
	tcmu_cfgfs_block_dev(&info, false);
	return 0;
}

/* ====================================================================== */
/* D-Bus                                                                   */
/* ====================================================================== */

static GMainLoop *loop;
static GDBusConnection *bus;
static TdbusService *svc_iface;
static TdbusExternalHandler *ext_iface;
static int exit_status;

/* CheckConfig(cfg) forwarded by tcmud; cfg is without "oopmem/". */
static gboolean on_check_config(TdbusService *s, GDBusMethodInvocation *inv,
				const gchar *cfg, gpointer data)
{
	char *reason = NULL;
	bool ok = mem_check_config(cfg, &reason);

	tdbus_service_complete_check_config(s, inv, ok,
					    ok ? "success" : reason);
	free(reason);
	return TRUE;
}

/* AddDevice from tcmud: a new device of our subtype. */
static gboolean on_add_device(TdbusExternalHandler *e, GDBusMethodInvocation *inv,
			      const gchar *uio, const gchar *uio_name,
			      gpointer data)
{
	struct tcmu_device_info info;
	char *reason = NULL;
	int r;

	memset(&info, 0, sizeof(info));
	if (tcmu_parse_uio_name(uio_name, &info) < 0 ||
	    strcmp(info.subtype, SUBTYPE)) {
		r = -EINVAL;
	} else if (!mem_check_config(info.cfgstring, &reason)) {
		tcmu_err("%s: %s", uio, reason);
		free(reason);
		r = -EINVAL;
	} else {
		r = dev_add(uio, false);
		if (r < 0)
			tcmu_err("%s (%s): cannot serve it: %s", uio, uio_name,
				 strerror(-r));
	}
	tdbus_external_handler_complete_add_device(e, inv, r);
	return TRUE;
}

/* RemoveDevice from tcmud: the kernel removes the device. */
static gboolean on_remove_device(TdbusExternalHandler *e,
				 GDBusMethodInvocation *inv, const gchar *uio,
				 const gchar *uio_name, gpointer data)
{
	gpointer key = NULL, dev = NULL;

	/* Answer first: stopping may take up to STOP_TIMEOUT_MS. */
	tdbus_external_handler_complete_remove_device(e, inv, 0);
	if (g_hash_table_steal_extended(devices, uio, &key, &dev)) {
		/* tcmud answered the kernel already, so the uio device may be
		 * gone under us: libtcmu then logs an I/O error on its fd. */
		dev_stop_close(dev);
		tcmu_info("%s: removed", (char *)key);
		g_free(key);
	}
	return TRUE;
}

/* ReconfigDevice from tcmud: new config string, size or write cache. */
static gboolean on_reconfig_device(TdbusExternalHandler *e,
				   GDBusMethodInvocation *inv, const gchar *uio,
				   const gchar *uio_name, const gchar *cfg,
				   guint64 size, gint write_cache, gpointer data)
{
	struct tcmu_device *dev = g_hash_table_lookup(devices, uio);
	struct tcmu_reconfig rc = { .size = size, .write_cache = write_cache };
	int r;

	if (!dev) {
		r = -ENODEV;
	} else if (cfg[0]) {
		r = -EOPNOTSUPP; /* a memory disk cannot change its medium */
	} else {
		r = tcmu_device_reconfig(dev, &rc);
	}
	tdbus_external_handler_complete_reconfig_device(e, inv, r);
	return TRUE;
}

static void on_registered(GObject *src, GAsyncResult *res, gpointer data)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *msg = NULL;
	gboolean ok = FALSE;

	if (!tdbus_handler_manager_call_register_handler_finish(
		    TDBUS_HANDLER_MANAGER(src), &ok, &msg, res, &err)) {
		tcmu_err("RegisterHandler: %s", err->message);
		exit_status = 1;
		g_main_loop_quit(loop);
		return;
	}
	if (!ok) {
		tcmu_err("tcmud refused " SUBTYPE ": %s", msg);
		exit_status = 1;
		g_main_loop_quit(loop);
		return;
	}
	tcmu_info("registered " SUBTYPE " with tcmud");
}

static void on_proxy(GObject *src, GAsyncResult *res, gpointer data)
{
	g_autoptr(GError) err = NULL;
	TdbusHandlerManager *hm = tdbus_handler_manager_proxy_new_finish(res, &err);

	if (!hm) {
		tcmu_err("HandlerManager1: %s", err->message);
		exit_status = 1;
		g_main_loop_quit(loop);
		return;
	}
	tdbus_handler_manager_call_register_handler(hm, SUBTYPE,
						    mem_handler.cfg_desc, NULL,
						    on_registered, NULL);
	g_object_unref(hm);
}

/* tcmud is on the bus (at start, or again after a restart): register. */
static void on_tcmud_appeared(GDBusConnection *c, const gchar *name,
			      const gchar *owner, gpointer data)
{
	tdbus_handler_manager_proxy_new(c, G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES |
					G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS,
					owner, HM_PATH, NULL, on_proxy, NULL);
}

static void on_tcmud_vanished(GDBusConnection *c, const gchar *name,
			      gpointer data)
{
	if (c)
		tcmu_warn("tcmud left the bus; our devices keep running, waiting for it to come back");
}

static void on_bus_closed(GDBusConnection *c, gboolean remote, GError *error,
			  gpointer data)
{
	tcmu_err("lost the system bus; exiting");
	exit_status = 1;
	g_main_loop_quit(loop);
}

static gboolean on_signal(gpointer data)
{
	tcmu_info("shutting down");
	g_main_loop_quit(loop);
	return G_SOURCE_CONTINUE;
}

static int export_objects(void)
{
	g_autoptr(GError) err = NULL;

	svc_iface = tdbus_service_skeleton_new();
	tdbus_service_set_config_desc(svc_iface, mem_handler.cfg_desc);
	g_signal_connect(svc_iface, "handle-check-config",
			 G_CALLBACK(on_check_config), NULL);
	ext_iface = tdbus_external_handler_skeleton_new();
	g_signal_connect(ext_iface, "handle-add-device",
			 G_CALLBACK(on_add_device), NULL);
	g_signal_connect(ext_iface, "handle-remove-device",
			 G_CALLBACK(on_remove_device), NULL);
	g_signal_connect(ext_iface, "handle-reconfig-device",
			 G_CALLBACK(on_reconfig_device), NULL);
	if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(svc_iface),
					      bus, OUR_PATH, &err) ||
	    !g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(ext_iface),
					      bus, OUR_PATH, &err)) {
		tcmu_err("cannot export %s: %s", OUR_PATH, err->message);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	g_autoptr(GError) err = NULL;
	gulong closed_id;
	guint watch;

	if (argc > 1 && !strcmp(argv[1], "-d"))
		tcmu_set_log_level(TCMU_LOG_DEBUG);
	else
		tcmu_set_log_level(TCMU_LOG_INFO);
	loop = g_main_loop_new(NULL, FALSE);
	devices = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					dev_stop_close);

	bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &err);
	if (!bus) {
		tcmu_err("system bus: %s", err->message);
		return 1;
	}
	g_dbus_connection_set_exit_on_close(bus, FALSE);
	closed_id = g_signal_connect(bus, "closed", G_CALLBACK(on_bus_closed),
				     NULL);
	if (export_objects() < 0)
		return 1;

	/* Devices of ours that exist already (we restarted). */
	tcmu_discover_devices(take_over, NULL);

	/* Registers now and whenever tcmud comes back; starts it if needed. */
	watch = g_bus_watch_name_on_connection(bus, BUS_NAME,
					       G_BUS_NAME_WATCHER_FLAGS_AUTO_START,
					       on_tcmud_appeared,
					       on_tcmud_vanished, NULL, NULL);
	g_unix_signal_add(SIGTERM, on_signal, NULL);
	g_unix_signal_add(SIGINT, on_signal, NULL);
	g_main_loop_run(loop);

	g_bus_unwatch_name(watch);
	g_hash_table_destroy(devices); /* stops and closes every device */
	g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(svc_iface));
	g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(ext_iface));
	g_object_unref(svc_iface);
	g_object_unref(ext_iface);
	g_signal_handler_disconnect(bus, closed_id);
	g_dbus_connection_close_sync(bus, NULL, NULL);
	g_object_unref(bus);
	g_main_loop_unref(loop);
	return exit_status;
}
