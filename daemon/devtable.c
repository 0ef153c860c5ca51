/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/devtable.c — served devices (see devtable.h).
 *
 * Logging rule: every failure is logged exactly once, here, with the
 * device; the netlink layer only turns the return value into the reply.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libtcmu/kabi.h"

#include "cmdtimeout.h"
#include "devtable.h"
#include "util.h"

struct devtable {
	const struct handler_registry *reg;
	const struct devtable_ops *ops;
	unsigned int stop_timeout_ms;
	unsigned int busy_poll_us; /* for every device (tcmu.conf) */
	struct devtable_entry **e;
	size_t n, cap;
	devtable_external_fn ext;
	void *ext_arg;
	devtable_changed_fn changed;
	void *changed_arg;
};

void devtable_set_external(struct devtable *dt, devtable_external_fn fn,
			   void *arg)
{
	dt->ext = fn;
	dt->ext_arg = arg;
}

void devtable_set_changed(struct devtable *dt, devtable_changed_fn fn,
			  void *arg)
{
	dt->changed = fn;
	dt->changed_arg = arg;
}

/*
 * Offer @ev to the external hook when no loaded handler serves its
 * subtype. Returns the hook's status, or -ENOENT: not taken.
 */
static int try_external(struct devtable *dt, const struct tcmu_nl_event *ev)
{
	_cleanup_free_ struct tcmu_device_info *info = NULL;

	if (!dt->ext || !ev->device)
		return -ENOENT;
	info = calloc(1, sizeof(*info));
	if (!info || dt->ops->parse_uio_name(ev->device, info) < 0 ||
	    handler_registry_find(dt->reg, info->subtype))
		return -ENOENT;
	return dt->ext(ev, info->subtype, dt->ext_arg);
}

struct devtable *devtable_new(const struct handler_registry *reg,
			      const struct devtable_ops *ops,
			      unsigned int stop_timeout_ms)
{
	struct devtable *dt = calloc(1, sizeof(*dt));

	if (!dt)
		return NULL;
	dt->reg = reg;
	dt->ops = ops;
	dt->stop_timeout_ms = stop_timeout_ms;
	return dt;
}

/* Give @dev the table's busy-poll time. Returns 0 or -errno (logged). */
static int apply_busy_poll(struct devtable *dt, struct tcmu_device *dev)
{
	int r;

	if (!dt->ops->set_busy_poll)
		return 0;
	r = dt->ops->set_busy_poll(dev, dt->busy_poll_us);
	if (r < 0)
		tcmu_dev_err(dev, "cannot set busy_poll_us = %u: %s",
			     dt->busy_poll_us, strerror(-r));
	return r;
}

void devtable_set_busy_poll(struct devtable *dt, unsigned int usec)
{
	if (usec == dt->busy_poll_us)
		return;
	dt->busy_poll_us = usec;
	for (size_t i = 0; i < dt->n; i++)
		apply_busy_poll(dt, dt->e[i]->dev);
}

size_t devtable_count(const struct devtable *dt)
{
	return dt->n;
}

const struct devtable_entry *devtable_get(const struct devtable *dt, size_t i)
{
	return i < dt->n ? dt->e[i] : NULL;
}

static ssize_t find_index(const struct devtable *dt, const char *uio)
{
	for (size_t i = 0; i < dt->n; i++)
		if (!strcmp(dt->e[i]->uio, uio))
			return (ssize_t)i;
	return -1;
}

const struct devtable_entry *devtable_find(const struct devtable *dt,
					   const char *uio)
{
	ssize_t i = find_index(dt, uio);

	return i < 0 ? NULL : dt->e[i];
}

static int table_add(struct devtable *dt, struct devtable_entry *e)
{
	if (dt->n == dt->cap) {
		size_t cap = dt->cap ? dt->cap * 2 : 16;
		struct devtable_entry **v = realloc(dt->e, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		dt->e = v;
		dt->cap = cap;
	}
	dt->e[dt->n++] = e;
	return 0;
}

static void table_del(struct devtable *dt, size_t i)
{
	free(dt->e[i]);
	memmove(&dt->e[i], &dt->e[i + 1], (dt->n - i - 1) * sizeof(dt->e[0]));
	dt->n--;
}

/*
 * Open @uio, pick its handler, apply the time-out option and start it.
 * Returns 0 or -errno (logged once).
 */
static int dev_setup(struct devtable *dt, const char *uio, bool reopen)
{
	const struct devtable_ops *ops = dt->ops;
	_cleanup_free_ struct devtable_entry *e = NULL;
	const struct tcmu_device_info *info;
	const struct loaded_handler *lh;
	struct tcmu_device *dev = NULL;
	char cfg[sizeof(info->cfgstring)];
	unsigned int secs = 0;
	bool found = false;
	int r;

	e = calloc(1, sizeof(*e));
	if (!e) {
		tcmu_err("%s: out of memory", uio);
		return -ENOMEM;
	}
	snprintf(e->uio, sizeof(e->uio), "%s", uio);

	r = ops->open_uio(uio, &dev);
	if (r < 0) {
		tcmu_err("%s: cannot open the device: %s", uio, strerror(-r));
		return r;
	}
	info = ops->get_info(dev);

	lh = handler_registry_find(dt->reg, info->subtype);
	if (!lh) {
		char names[256];

		handler_registry_names(dt->reg, names, sizeof(names));
		tcmu_dev_err(dev, "no handler for subtype \"%s\" (loaded: %s)",
			     info->subtype, names);
		ops->close(dev);
		return -ENOENT;
	}

	snprintf(cfg, sizeof(cfg), "%s", info->cfgstring);
	r = cmd_timeout_strip(cfg, &secs, &found);
	if (r < 0) {
		tcmu_dev_err(dev, "invalid %s in the config string (0..%d seconds expected)",
			     CMD_TIMEOUT_KEY, CMD_TIMEOUT_MAX);
		ops->close(dev);
		return r;
	}
	if (found) {
		r = ops->set_cfgstring(dev, cfg);
		if (r < 0) {
			tcmu_dev_err(dev, "cannot set the config string: %s",
				     strerror(-r));
			ops->close(dev);
			return r;
		}
		ops->set_cmd_timeout(dev, secs);
		e->has_cmd_timeout = true;
		e->cmd_timeout = secs;
		tcmu_dev_dbg(dev, "command time-out %u s", secs);
	}

	/* A new device starts with 0: only a setting needs the call. */
	if (dt->busy_poll_us)
		apply_busy_poll(dt, dev);

	r = ops->start(dev, &lh->h, reopen);
	if (r < 0) {
		tcmu_dev_err(dev, "handler %s cannot %s the device: %s",
			     lh->h.subtype, reopen ? "reopen" : "open",
			     strerror(-r));
		ops->close(dev);
		return r;
	}
	e->dev = dev;
	e->handler = lh;
	r = table_add(dt, e);
	if (r < 0) {
		tcmu_dev_err(dev, "out of memory");
		ops->stop(dev, dt->stop_timeout_ms);
		ops->close(dev);
		return r;
	}
	tcmu_dev_info(dev, "%s by %s (%s)", reopen ? "reopened" : "added",
		      lh->h.subtype, uio);
	e = NULL;
	return 0;
}

/* Stop, close and forget the device at @i. Returns stop()'s result. */
static int dev_teardown(struct devtable *dt, size_t i, unsigned int timeout_ms)
{
	struct devtable_entry *e = dt->e[i];
	int r;

	r = dt->ops->stop(e->dev, timeout_ms);
	if (r == -ETIMEDOUT)
		tcmu_dev_warn(e->dev, "commands still running after %u ms were failed back",
			      timeout_ms);
	else if (r < 0)
		tcmu_dev_err(e->dev, "stop failed: %s", strerror(-r));
	tcmu_dev_info(e->dev, "removed (%s)", e->uio);
	dt->ops->close(e->dev);
	table_del(dt, i);
	return r;
}

static int on_added(struct devtable *dt, const struct tcmu_nl_event *ev)
{
	char uio[32];

	snprintf(uio, sizeof(uio), "uio%u", ev->minor);
	if (find_index(dt, uio) >= 0) {
		tcmu_err("%s (%s): added twice, refused", uio, ev->device);
		return -EEXIST;
	}
	return dev_setup(dt, uio, false);
}

static int on_removed(struct devtable *dt, const struct tcmu_nl_event *ev)
{
	char uio[32];
	ssize_t i;

	snprintf(uio, sizeof(uio), "uio%u", ev->minor);
	i = find_index(dt, uio);
	if (i < 0) {
		/* Nothing to do: we never served it (e.g. its add failed). */
		tcmu_dbg("%s (%s): removed, was not served", uio, ev->device);
		return 0;
	}
	dev_teardown(dt, (size_t)i, dt->stop_timeout_ms);
	return 0;
}

static int on_reconfig(struct devtable *dt, const struct tcmu_nl_event *ev)
{
	struct tcmu_reconfig rc = { .write_cache = ev->write_cache };
	const struct tcmu_device_info *info;
	struct devtable_entry *e;
	char cfg[sizeof(info->cfgstring)];
	unsigned int secs = 0;
	bool found = false;
	char uio[32];
	ssize_t i;
	int r;

	snprintf(uio, sizeof(uio), "uio%u", ev->minor);
	i = find_index(dt, uio);
	if (i < 0) {
		tcmu_err("%s (%s): reconfiguration of a device not served here",
			 uio, ev->device);
		return -ENODEV;
	}
	e = dt->e[i];
	info = dt->ops->get_info(e->dev);
	if (ev->has_dev_size)
		rc.size = ev->dev_size;
	if (ev->dev_cfg) {
		size_t sl = strlen(info->subtype);

		/* DEV_CFG is the whole "<subtype>/<cfg>". */
		if (strncmp(ev->dev_cfg, info->subtype, sl) ||
		    (ev->dev_cfg[sl] != '/' && ev->dev_cfg[sl] != '\0')) {
			tcmu_dev_err(e->dev, "new config \"%s\" changes the subtype \"%s\": refused",
				     ev->dev_cfg, info->subtype);
			return -EINVAL;
		}
		snprintf(cfg, sizeof(cfg), "%s",
			 ev->dev_cfg[sl] ? ev->dev_cfg + sl + 1 : "");
		if (strlen(ev->dev_cfg + sl) > sizeof(cfg)) {
			tcmu_dev_err(e->dev, "new config string too long: refused");
			return -EINVAL;
		}
		r = cmd_timeout_strip(cfg, &secs, &found);
		if (r < 0) {
			tcmu_dev_err(e->dev, "invalid %s in the new config string: refused",
				     CMD_TIMEOUT_KEY);
			return r;
		}
		rc.cfgstring = cfg;
	}
	r = dt->ops->reconfig(e->dev, &rc);
	if (r < 0) {
		tcmu_dev_err(e->dev, "reconfiguration (%s%s%s) refused: %s",
			     ev->dev_cfg ? "config" : "",
			     ev->has_dev_size ? "size" : "",
			     ev->write_cache >= 0 ? "write cache" : "",
			     strerror(-r));
		return r;
	}
	if (ev->dev_cfg && (found || e->has_cmd_timeout)) {
		/* The config string defines it: gone from it means none. */
		dt->ops->set_cmd_timeout(e->dev, found ? secs : 0);
		e->has_cmd_timeout = found;
		e->cmd_timeout = found ? secs : 0;
	}
	tcmu_dev_info(e->dev, "reconfigured");
	return 0;
}

int devtable_nl_event(const struct tcmu_nl_event *ev, void *arg)
{
	struct devtable *dt = arg;
	int r = try_external(dt, ev);

	if (r != -ENOENT)
		return r;
	switch (ev->cmd) {
	case TCMU_CMD_ADDED_DEVICE:
		r = on_added(dt, ev);
		break;
	case TCMU_CMD_REMOVED_DEVICE:
		r = on_removed(dt, ev);
		break;
	case TCMU_CMD_RECONFIG_DEVICE:
		return on_reconfig(dt, ev);
	default:
		tcmu_err("netlink: unexpected command %d for %s", ev->cmd,
			 ev->device ? ev->device : "?");
		return -EOPNOTSUPP;
	}
	if (dt->changed)
		dt->changed(dt->changed_arg);
	return r;
}

int devtable_restore(const char *uio, const char *uio_name, void *arg)
{
	struct devtable *dt = arg;
	struct tcmu_device_info info;
	int r;

	memset(&info, 0, sizeof(info));
	if (find_index(dt, uio) >= 0)
		return 0;
	r = dt->ops->parse_uio_name(uio_name, &info);
	if (r < 0) {
		tcmu_err("%s: cannot parse its name \"%s\", not served", uio,
			 uio_name);
		return 0;
	}
	/*
	 * A subtype without a plugin here may be served by another process
	 * (an out-of-process handler over D-Bus): blocking or resetting its
	 * ring would pull the device away from it. Leave it alone.
	 */
	if (!handler_registry_find(dt->reg, info.subtype)) {
		tcmu_warn("%s (%s): no handler for subtype \"%s\" here, left alone",
			  uio, info.name, info.subtype);
		return 0;
	}
	/*
	 * Restart protocol: hold new commands in the kernel, fail back (BUSY,
	 * retryable) what the previous daemon left in the ring, take the
	 * ring over and let commands flow again.
	 */
	r = dt->ops->block_dev(&info, true);
	if (r < 0)
		tcmu_err("%s (%s): cannot block the device: %s", uio, info.name,
			 strerror(-r));
	if (r == 0) {
		r = dt->ops->reset_ring(&info);
		if (r < 0)
			tcmu_err("%s (%s): cannot reset the ring: %s", uio,
				 info.name, strerror(-r));
	}
	dev_setup(dt, uio, true);
	/* Unblock even on failure: commands then time out in the kernel
	 * instead of waiting for a daemon forever. */
	r = dt->ops->block_dev(&info, false);
	if (r < 0)
		tcmu_err("%s (%s): cannot unblock the device: %s", uio,
			 info.name, strerror(-r));
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int devtable_stop_all(struct devtable *dt)
{
	uint64_t deadline = now_ms() + dt->stop_timeout_ms;
	int failed_back = 0;

	/*
	 * One deadline for all devices, so N stuck devices do not make the
	 * shutdown N times longer; each still gets a little time.
	 */
	while (dt->n) {
		uint64_t now = now_ms();
		unsigned int left = now < deadline ? (unsigned int)(deadline - now) : 0;

		if (left < 100)
			left = 100;
		if (dev_teardown(dt, dt->n - 1, left) == -ETIMEDOUT)
			failed_back++;
	}
	return failed_back;
}

struct devtable *devtable_free(struct devtable *dt)
{
	if (!dt)
		return NULL;
	devtable_stop_all(dt);
	free(dt->e);
	free(dt);
	return NULL;
}
