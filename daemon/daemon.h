/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/daemon.h — the tcmud daemon object: everything main.c starts and
 * stops, and what other front ends (the D-Bus service) reach through.
 *
 * Life cycle, all on the main thread:
 *   tcmud_new(opts)   logging, tcmu.conf; nothing touches the kernel yet
 *   tcmud_start(d)    lock, module, netlink block + reset, handlers,
 *                     netlink, take over existing devices, unblock,
 *                     signal and config-watch sources
 *   ... front ends attach to tcmud_main_context(d) here (D-Bus) ...
 *   tcmud_run(d)      GLib main loop until SIGTERM / SIGINT
 *   tcmud_free(d)     block + reset netlink, stop and close every device
 *                     (commands completed or failed back), unload
 *                     handlers, free everything
 */
#ifndef TCMUD_DAEMON_H
#define TCMUD_DAEMON_H

#include <glib.h>

#include "devtable.h"
#include "loader.h"
#include "logger.h"
#include "options.h"
#include "settings.h"

struct tcmud;

/*
 * tcmud_new — create the daemon: start the logger and apply tcmu.conf
 * and the options. Main thread. Returns NULL on error (logged).
 */
struct tcmud *tcmud_new(const struct tcmud_options *opts);

/*
 * tcmud_start — bring the daemon up (see above). Main thread; blocks while
 * existing devices are reopened. Returns 0 or -errno (logged); after an
 * error, tcmud_free() cleans up.
 */
int tcmud_start(struct tcmud *d);

/*
 * tcmud_run — run the main loop until SIGTERM / SIGINT (or tcmud_quit).
 * Main thread. Returns the exit status (0 for a clean shutdown).
 */
int tcmud_run(struct tcmud *d);

/* tcmud_quit — make tcmud_run() return with @status. Main thread. */
void tcmud_quit(struct tcmud *d, int status);

/* tcmud_free — shut down (see above) and free. Main thread. Returns NULL. */
struct tcmud *tcmud_free(struct tcmud *d);

/* Accessors for front ends (D-Bus). Main thread. */
GMainContext *tcmud_main_context(struct tcmud *d);
const struct handler_registry *tcmud_handlers(struct tcmud *d);
struct devtable *tcmud_devices(struct tcmud *d);
struct logger *tcmud_logger(struct tcmud *d);

#endif
