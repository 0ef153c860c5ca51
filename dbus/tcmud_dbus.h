/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dbus/tcmud_dbus.h — tcmud's D-Bus service, org.kernel.TCMUService1 on the
 * system bus: what targetcli talks to (see org.kernel.TCMUService1.xml for
 * the objects and interfaces).
 *
 * The daemon owns the state (handlers, devices); this module mirrors it on
 * the bus. The daemon pushes changes (dbus_handler_added(),
 * dbus_device_added(), ...) and answers questions through the ops table.
 *
 * Threads. Everything here runs on the main thread: the one that called
 * dbus_service_start() with the GMainContext it iterates (the daemon's GLib
 * main loop). Every function below must be called from that thread, and
 * every op is called on it. Nothing here blocks on the bus: connecting,
 * owning the name and calls to out-of-process handlers are asynchronous,
 * and calls to other processes time out (params.call_timeout_ms).
 *
 * Out-of-process handlers. A process may serve a subtype over D-Bus
 * (HandlerManager1.RegisterHandler). The kernel must get exactly one reply
 * to each netlink event, so tcmud stays the only process that answers
 * netlink, for every subtype: for a subtype that dbus_service_is_external()
 * reports, the daemon answers the event itself and hands it to the handler
 * process with dbus_external_event(). See examples/oop_handler/README.md.
 *
 * Errors are 0 / -errno.
 */
#ifndef TCMUD_DBUS_H
#define TCMUD_DBUS_H

#include <stdbool.h>
#include <stdint.h>

#include <tcmu/libtcmu.h>

#define DBUS_SERVICE_NAME "org.kernel.TCMUService1"
#define DBUS_SERVICE_PATH "/org/kernel/TCMUService1"

struct dbus_service;
struct dbus_pending;

/* What a device is, as the daemon reports it to the service (get_device). */
struct dbus_device_snapshot {
	const char *subtype;   /* handler subtype, e.g. "file" */
	const char *cfgstring; /* config after "<subtype>/" */
	const char *uio;       /* "uio0", or NULL */
	uint64_t size;         /* bytes */
	uint32_t block_size;   /* bytes */
	struct tcmu_device_stats stats; /* tcmu_device_get_stats() */
};

/* Callbacks into the daemon. Main thread. Any of them may be NULL. */
struct dbus_service_ops {
	/*
	 * check_config — validate @cfgstring (without the "<subtype>/"
	 * prefix) for the daemon's handler @subtype, with the handler's
	 * check_config(). May block briefly (the handler's check does).
	 * Returns true, or false with a malloc'ed message for the user in
	 * *@reason (or NULL: a generic message is used); the service frees it.
	 * NULL op: every config is accepted.
	 */
	bool (*check_config)(void *ctx, const char *subtype,
			     const char *cfgstring, char **reason);

	/*
	 * get_device — describe device @name (as given to
	 * dbus_device_added()). Called whenever a client reads a Device1
	 * property, so it must be cheap and must not block. The strings only
	 * need to stay valid until it returns. Returns 0 or -ENOENT.
	 */
	int (*get_device)(void *ctx, const char *name,
			  struct dbus_device_snapshot *out);

	/*
	 * change_medium — a client asked to replace the medium of device
	 * @name by @cfgstring (the whole "<subtype>/<config>", as the kernel's
	 * dev_config wants it; the prefix names a known handler) of @size
	 * bytes. Must not block: writing dev_config / dev_size makes the
	 * kernel wait for a RECONFIG netlink reply from this very thread, so
	 * do it from a worker thread. Finish with dbus_pending_complete(),
	 * exactly once, now or later. NULL op: refused with -EOPNOTSUPP.
	 */
	void (*change_medium)(void *ctx, const char *name, uint64_t size,
			      const char *cfgstring, struct dbus_pending *p);

	/*
	 * name_owned — the service now owns the bus name (true), or lost it
	 * or the bus (false; it reconnects by itself). For logs / readiness.
	 */
	void (*name_owned)(void *ctx, bool owned);

	/*
	 * external_changed — an out-of-process handler for @subtype appeared
	 * (true) or went away (false): its devices are then not served until
	 * it registers again.
	 */
	void (*external_changed)(void *ctx, const char *subtype, bool present);
};

/* Optional knobs of dbus_service_start_full(). Zero means the default. */
struct dbus_service_params {
	const char *address;          /* bus address; NULL: the system bus */
	unsigned int call_timeout_ms; /* calls to handler processes; 5000 */
	unsigned int retry_ms;        /* first reconnect delay; 1000 */
};

/*
 * dbus_service_start — start the service: connect to the system bus, export
 * the objects and own org.kernel.TCMUService1, all asynchronously on the
 * calling thread's main context; it reconnects when the bus goes away.
 * Handlers and devices may be added before the bus is there. Main thread;
 * does not block. Returns 0 and *@out, or -ENOMEM / -EINVAL.
 */
int dbus_service_start(const struct dbus_service_ops *ops, void *ctx,
		       struct dbus_service **out);
/* dbus_service_start_full — same, with @params (may be NULL). */
int dbus_service_start_full(const struct dbus_service_ops *ops, void *ctx,
			    const struct dbus_service_params *params,
			    struct dbus_service **out);

/*
 * dbus_service_stop — release the name, unexport everything, disconnect and
 * free. Pending dbus_external_event() callbacks are called with -ECANCELED
 * before it returns; ops are not called any more. A ChangeMedium handed to
 * ops->change_medium stays valid: complete it as usual. NULL is fine. Main
 * thread; does not block. Returns NULL.
 */
struct dbus_service *dbus_service_stop(struct dbus_service *svc);

/*
 * dbus_service_owns_name — true while the service owns the bus name.
 * Main thread.
 */
bool dbus_service_owns_name(const struct dbus_service *svc);

/*
 * dbus_handler_added — the daemon serves @subtype ([a-z0-9_]+) with help
 * text @cfg_desc (may be NULL): export /org/kernel/TCMUService1/<subtype>.
 * Main thread. Returns 0, -EEXIST (already there, e.g. out of process),
 * -EINVAL (bad subtype) or -ENOMEM.
 */
int dbus_handler_added(struct dbus_service *svc, const char *subtype,
		       const char *cfg_desc);
/*
 * dbus_handler_removed — undo dbus_handler_added(). Main thread. Returns 0
 * or -ENOENT (unknown, or served out of process).
 */
int dbus_handler_removed(struct dbus_service *svc, const char *subtype);

/*
 * dbus_device_added — export device @name (any string; its object path is
 * /org/kernel/TCMUService1/Devices/<escaped name>); its properties come from
 * ops->get_device on every read. Main thread. Returns 0, -EEXIST or
 * -ENOMEM.
 */
int dbus_device_added(struct dbus_service *svc, const char *name);
/* dbus_device_removed — unexport it. Main thread. Returns 0 or -ENOENT. */
int dbus_device_removed(struct dbus_service *svc, const char *name);

/*
 * dbus_service_is_external — true when @subtype is currently served by an
 * out-of-process handler (registered over D-Bus). Main thread.
 */
bool dbus_service_is_external(const struct dbus_service *svc,
			      const char *subtype);

/* Result of dbus_external_event(): 0 or -errno. Main thread. */
typedef void (*dbus_ext_done_fn)(int status, void *arg);

/*
 * dbus_external_event — hand the netlink event @ev (ADDED, REMOVED or
 * RECONFIG; the subtype in ev->device is served out of process) to the
 * handler process: AddDevice / RemoveDevice / ReconfigDevice, asynchronous,
 * with the call timeout. @done(status, @arg) is called exactly once on the
 * main thread, after this function returned: the handler's answer,
 * -ETIMEDOUT, -ENOTCONN when it went away, -EOPNOTSUPP when it does not
 * implement ExternalHandler1, or -ECANCELED from within
 * dbus_service_stop(). @ev is copied. Main thread; never blocks. Returns 0
 * (@done will be called), -ENOENT (no process serves that subtype),
 * -EINVAL (malformed event; @done not called).
 *
 * The daemon answers the kernel itself (the netlink callback cannot wait):
 * 0 for ADDED/REMOVED/RECONFIG when this returned 0.
 */
int dbus_external_event(struct dbus_service *svc,
			const struct tcmu_nl_event *ev, dbus_ext_done_fn done,
			void *arg);

/*
 * dbus_pending_complete — answer a ChangeMedium call handed to
 * ops->change_medium: @rc 0 or -errno, @msg for the user (NULL: "success"
 * or strerror(-rc)). Frees @p. Still valid after dbus_service_stop().
 * Any thread (GDBus replies are thread safe); never blocks.
 */
void dbus_pending_complete(struct dbus_pending *p, int rc, const char *msg);

#endif
