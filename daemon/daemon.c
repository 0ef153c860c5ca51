/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/daemon.c — the tcmud daemon object (see daemon.h).
 */
#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tcmu/libtcmu.h>

#include "daemon.h"
#include "lockfile.h"
#include "module.h"

struct tcmud {
	struct tcmud_options opts;   /* our copy */
	struct logger *logger;
	struct settings settings;
	bool settings_ok;
	int lock_fd;
	bool nl_blockable;           /* the module has block_netlink */
	struct handler_registry *handlers;
	struct devtable *devices;
	struct tcmu_nl *nl;
	GMainContext *ctx;
	GMainLoop *loop;
	guint src_nl, src_term, src_int, src_hup;
	int exit_status;
};

GMainContext *tcmud_main_context(struct tcmud *d)
{
	return d->ctx;
}

const struct handler_registry *tcmud_handlers(struct tcmud *d)
{
	return d->handlers;
}

struct devtable *tcmud_devices(struct tcmud *d)
{
	return d->devices;
}

struct logger *tcmud_logger(struct tcmud *d)
{
	return d->logger;
}

static char *dup_or_null(const char *s, bool *fail)
{
	char *r;

	if (!s)
		return NULL;
	r = strdup(s);
	if (!r)
		*fail = true;
	return r;
}

void tcmud_quit(struct tcmud *d, int status)
{
	d->exit_status = status;
	g_main_loop_quit(d->loop);
}

/* SIGTERM / SIGINT: end the main loop (tcmud_free shuts down). Main
 * thread (GLib dispatches signals there); never blocks. Keeps the source. */
static gboolean on_quit_signal(gpointer data)
{
	struct tcmud *d = data;

	tcmu_info("shutting down");
	tcmud_quit(d, 0);
	return G_SOURCE_CONTINUE;
}

/* SIGHUP: reopen the log file (rotation) and re-read tcmu.conf. Main
 * thread; never blocks on I/O (the log writer reopens). */
static gboolean on_hup(gpointer data)
{
	struct tcmud *d = data;

	tcmu_info("SIGHUP: reopening the log, re-reading %s", d->opts.config_file);
	logger_reopen(d->logger);
	settings_reload(&d->settings);
	return G_SOURCE_CONTINUE;
}

struct tcmud *tcmud_new(const struct tcmud_options *opts)
{
	struct tcmud *d = calloc(1, sizeof(*d));
	bool fail = false;

	if (!d) {
		tcmu_err("out of memory");
		return NULL;
	}
	d->lock_fd = -1;
	d->opts.debug = opts->debug;
	d->opts.config_file = dup_or_null(opts->config_file, &fail);
	d->opts.handler_dir = dup_or_null(opts->handler_dir, &fail);
	d->opts.log_dir = dup_or_null(opts->log_dir, &fail);
	d->opts.lock_file = dup_or_null(opts->lock_file, &fail);
	d->ctx = g_main_context_ref(g_main_context_default());
	d->loop = g_main_loop_new(d->ctx, FALSE);
	if (fail) {
		tcmu_err("out of memory");
		return tcmud_free(d);
	}
	d->logger = logger_new(0);
	if (!d->logger) {
		tcmu_err("cannot start the log writer: %s", strerror(errno));
		return tcmud_free(d);
	}
	logger_install(d->logger);
	if (settings_init(&d->settings, d->opts.config_file,
			  d->opts.debug ? TCMU_LOG_DEBUG : 0, d->opts.log_dir,
			  d->logger) < 0) {
		tcmu_err("out of memory");
		return tcmud_free(d);
	}
	d->settings_ok = true;
	/*
	 * Catch the signals now: a SIGTERM during tcmud_start() (which may
	 * take a while with many devices) then ends the main loop as soon as
	 * it runs, through the normal shutdown, instead of killing us with
	 * devices blocked.
	 */
	d->src_term = g_unix_signal_add(SIGTERM, on_quit_signal, d);
	d->src_int = g_unix_signal_add(SIGINT, on_quit_signal, d);
	d->src_hup = g_unix_signal_add(SIGHUP, on_hup, d);
	return d;
}

/* The netlink socket is readable: dispatch the events (device add,
 * remove, reconfig). Main thread; blocks only in handler open/close.
 * Removes itself, and quits with status 1, when the socket failed. */
static gboolean on_netlink(gint fd, GIOCondition cond, gpointer data)
{
	struct tcmud *d = data;
	int r;

	r = tcmu_nl_dispatch(d->nl);
	if (r < 0 && r != -EAGAIN)
		tcmu_err("netlink: %s", strerror(-r));
	if (cond & (G_IO_ERR | G_IO_HUP | G_IO_NVAL)) {
		tcmu_err("netlink socket failed: cannot serve new devices, exiting");
		tcmud_quit(d, 1);
		d->src_nl = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* Block new netlink commands and wake those left waiting for a reply. */
static void netlink_block_and_reset(struct tcmud *d, const char *when)
{
	int r;

	if (!d->nl_blockable)
		return;
	r = module_block_netlink(true);
	if (r < 0) {
		tcmu_warn("%s: cannot block netlink: %s", when, strerror(-r));
		return;
	}
	r = module_reset_netlink();
	if (r < 0)
		tcmu_warn("%s: cannot reset netlink: %s", when, strerror(-r));
}

/* settings_on_apply hook: tcmu.conf values that go to every device.
 * Main thread; never blocks. */
static void on_settings(const struct tcmud_config *c, void *arg)
{
	struct tcmud *d = arg;

	devtable_set_busy_poll(d->devices, c->busy_poll_us);
}

int tcmud_start(struct tcmud *d)
{
	int r, n;

	signal(SIGPIPE, SIG_IGN);
	tcmu_info("tcmud %s starting", TCMU_VERSION_STRING);

	r = lockfile_acquire(d->opts.lock_file);
	if (r < 0)
		return r;
	d->lock_fd = r;

	r = module_ensure_loaded(TCMU_MODULE_NAME);
	if (r < 0)
		return r;

	/*
	 * A daemon that died may have left configfs writers waiting for its
	 * reply: make new commands fail fast and wake the waiting ones until
	 * we can answer.
	 */
	r = module_block_netlink(true);
	if (r == -ENOENT) {
		tcmu_warn("%s has no block_netlink parameter: a restart cannot protect configfs writers",
			  TCMU_MODULE_NAME);
	} else if (r < 0) {
		tcmu_err("cannot block netlink: %s", strerror(-r));
		return r;
	} else {
		d->nl_blockable = true;
		r = module_reset_netlink();
		if (r < 0)
			tcmu_warn("cannot reset netlink: %s", strerror(-r));
	}

	d->handlers = handler_registry_new();
	if (!d->handlers)
		return -ENOMEM;
	n = handler_registry_load_dir(d->handlers, d->opts.handler_dir);
	if (n < 0)
		tcmu_warn("serving no device: handler directory unusable");

	d->devices = devtable_new(d->handlers, &devtable_kernel_ops,
				  DEVTABLE_STOP_TIMEOUT_MS);
	if (!d->devices)
		return -ENOMEM;
	/* Before discovery: reopened devices get busy_poll_us too. */
	settings_on_apply(&d->settings, on_settings, d);

	r = tcmu_nl_open(devtable_nl_event, d->devices, &d->nl);
	if (r < 0) {
		tcmu_err("cannot open the TCM-USER netlink family: %s%s",
			 strerror(-r),
			 r == -ENOENT ? " (is target_core_user loaded?)" : "");
		return r;
	}

	n = tcmu_discover_devices(devtable_restore, d->devices);
	if (n < 0)
		tcmu_err("cannot look for existing devices: %s", strerror(-n));
	else if (n)
		tcmu_info("%d existing device(s) found, %zu served", n,
			  devtable_count(d->devices));

	if (d->nl_blockable) {
		r = module_block_netlink(false);
		if (r < 0) {
			tcmu_err("cannot unblock netlink: %s", strerror(-r));
			return r;
		}
	}

	d->src_nl = g_unix_fd_add(tcmu_nl_get_fd(d->nl),
				  G_IO_IN | G_IO_ERR | G_IO_HUP, on_netlink, d);
	settings_watch(&d->settings, d->ctx);
	tcmu_info("ready: %zu handler(s), %zu device(s)",
		  handler_registry_count(d->handlers),
		  devtable_count(d->devices));
	return 0;
}

int tcmud_run(struct tcmud *d)
{
	g_main_loop_run(d->loop);
	return d->exit_status;
}

static void remove_source(guint *id)
{
	if (*id)
		g_source_remove(*id);
	*id = 0;
}

struct tcmud *tcmud_free(struct tcmud *d)
{
	int n;

	if (!d)
		return NULL;
	/* No new netlink commands; wake those we will not answer. */
	if (d->nl)
		netlink_block_and_reset(d, "shutdown");
	remove_source(&d->src_nl);
	remove_source(&d->src_term);
	remove_source(&d->src_int);
	remove_source(&d->src_hup);
	if (d->devices) {
		if (d->settings_ok)
			settings_on_apply(&d->settings, NULL, NULL);
		n = devtable_stop_all(d->devices);
		if (n)
			tcmu_warn("%d device(s) had commands failed back at shutdown",
				  n);
		d->devices = devtable_free(d->devices);
	}
	d->nl = tcmu_nl_close(d->nl);
	d->handlers = handler_registry_free(d->handlers);
	if (d->settings_ok)
		settings_clear(&d->settings);
	if (d->lock_fd >= 0) {
		tcmu_info("tcmud stopped");
		close(d->lock_fd);
	}
	d->logger = logger_free(d->logger);
	if (d->loop)
		g_main_loop_unref(d->loop);
	if (d->ctx)
		g_main_context_unref(d->ctx);
	options_clear(&d->opts);
	free(d);
	return NULL;
}
