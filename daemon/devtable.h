/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/devtable.h — the daemon's table of served devices. It turns
 * netlink events (ADDED / REMOVED / RECONFIG) and devices found at start-up
 * into libtcmu calls, picks the handler by subtype, and applies the
 * per-device command time-out from the config string. One device failing
 * never affects the others.
 *
 * All libtcmu calls go through struct devtable_ops so that the logic can be
 * tested without a kernel; the daemon uses devtable_kernel_ops.
 */
#ifndef TCMUD_DEVTABLE_H
#define TCMUD_DEVTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tcmu/libtcmu.h>

#include "loader.h"

struct devtable;

/* The libtcmu calls the table makes; see include/tcmu/libtcmu.h. */
struct devtable_ops {
	int (*open_uio)(const char *uio, struct tcmu_device **out);
	struct tcmu_device *(*close)(struct tcmu_device *dev);
	const struct tcmu_device_info *(*get_info)(const struct tcmu_device *dev);
	/* Replace the config string the handler will see (before start). */
	int (*set_cfgstring)(struct tcmu_device *dev, const char *cfg);
	int (*start)(struct tcmu_device *dev, const struct tcmu_handler *h,
		     bool reopen);
	int (*stop)(struct tcmu_device *dev, unsigned int timeout_ms);
	int (*reconfig)(struct tcmu_device *dev, const struct tcmu_reconfig *rc);
	void (*set_cmd_timeout)(struct tcmu_device *dev, unsigned int seconds);
	int (*parse_uio_name)(const char *uio_name, struct tcmu_device_info *info);
	int (*block_dev)(const struct tcmu_device_info *info, bool block);
	int (*reset_ring)(const struct tcmu_device_info *info);
	/* Optional (NULL: busy poll is never set). */
	int (*set_busy_poll)(struct tcmu_device *dev, unsigned int usec);
};

/* The real thing: libtcmu (devtable_kernel.c). */
extern const struct devtable_ops devtable_kernel_ops;

/* One served device (read-only for users of the table). */
struct devtable_entry {
	char uio[32];                          /* "uio3" */
	struct tcmu_device *dev;
	const struct loaded_handler *handler;
	bool has_cmd_timeout;                  /* set by the config string */
	unsigned int cmd_timeout;              /* seconds */
};

/* Default time a device gets to finish its commands at stop. */
#define DEVTABLE_STOP_TIMEOUT_MS 10000

/*
 * devtable_new — an empty table serving devices with the handlers of @reg
 * through @ops. Main thread. Returns NULL on ENOMEM.
 */
struct devtable *devtable_new(const struct handler_registry *reg,
			      const struct devtable_ops *ops,
			      unsigned int stop_timeout_ms);

/*
 * devtable_nl_event — the tcmu_nl_event_fn: handles ADDED, REMOVED and
 * RECONFIG. Main thread (netlink dispatch); may block in the handler's
 * open/close/reconfig. Returns 0 or -errno, the reply status the kernel
 * gets; every failure is logged once, with the device name.
 */
int devtable_nl_event(const struct tcmu_nl_event *ev, void *arg);

/*
 * devtable_external_fn — hook for events of a subtype that no loaded
 * handler serves (the D-Bus service: handlers in other processes). Returns
 * -ENOENT when nobody serves @subtype (the event is then refused as
 * without a hook), else the reply status. Main thread; must not block.
 */
typedef int (*devtable_external_fn)(const struct tcmu_nl_event *ev,
				    const char *subtype, void *arg);

/* devtable_set_external — set (NULL: clear) that hook. Main thread. */
void devtable_set_external(struct devtable *dt, devtable_external_fn fn,
			   void *arg);

/*
 * devtable_changed_fn — told after an ADDED or REMOVED event was handled
 * (whatever its outcome), so that views of the table (the D-Bus Device
 * objects) follow at once. Main thread, inside the netlink callback,
 * before the kernel gets its reply: must not block.
 */
typedef void (*devtable_changed_fn)(void *arg);

/* devtable_set_changed — set (NULL: clear) that hook. Main thread. */
void devtable_set_changed(struct devtable *dt, devtable_changed_fn fn,
			  void *arg);

/*
 * devtable_restore — the tcmu_discover_fn for a device that existed before
 * the daemon started: block_dev=1, reset_ring=1, open + mmap, start with
 * reopen = true, block_dev=0. A device of a subtype no loaded handler
 * serves is left alone (another process may serve it). Main thread;
 * blocks. Always returns 0 so the discovery goes on after a failed device
 * (the failure is logged).
 */
int devtable_restore(const char *uio, const char *uio_name, void *arg);

/*
 * devtable_set_busy_poll — busy-poll time (µs, 0: off) of every served
 * device from now on: applied at once to the devices in the table and to
 * each device when it is added or reopened. A device that refuses it is
 * logged and keeps serving. Main thread; never blocks.
 */
void devtable_set_busy_poll(struct devtable *dt, unsigned int usec);

/* devtable_count — number of devices served. Main thread. */
size_t devtable_count(const struct devtable *dt);

/* devtable_get — the @i-th device, or NULL. Main thread; valid until the
 * next event is handled. */
const struct devtable_entry *devtable_get(const struct devtable *dt, size_t i);

/* devtable_find — the device named @uio ("uio3"), or NULL. Main thread. */
const struct devtable_entry *devtable_find(const struct devtable *dt,
					   const char *uio);

/*
 * devtable_stop_all — stop every device (each gets the stop time-out to
 * finish or fail back its commands), close it and empty the table. Main
 * thread; blocks. Returns the number of devices that had commands failed
 * back.
 */
int devtable_stop_all(struct devtable *dt);

/* devtable_free — stop_all + free. Main thread. Returns NULL. */
struct devtable *devtable_free(struct devtable *dt);

#endif
