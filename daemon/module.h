/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/module.h — the target_core_user kernel module: load it with
 * libkmod, and drive its netlink module parameters.
 *
 * The kernel (drivers/target/target_core_user.c) waits for the daemon's
 * reply to ADDED / REMOVED / RECONFIG without a time-out, and an ADDED
 * with no listener at all still waits. Its two parameters:
 *   block_netlink = 1  new commands fail at once with -EAGAIN instead of
 *                      waiting (REMOVED ignores that and goes ahead);
 *                  = 0  commands are sent and wait for the reply again;
 *   reset_netlink = 1  (only while blocked, else -EBUSY) wakes every
 *                      command still waiting for a reply with -EINTR.
 * tcmud blocks + resets at start (a daemon that died may have left
 * configfs writers waiting), unblocks once netlink is open and the
 * existing devices are taken over, and blocks + resets again at stop, so
 * nobody waits for a daemon that is gone. Blocking stays on after exit:
 * creating a device without a daemon fails fast instead of hanging.
 */
#ifndef TCMUD_MODULE_H
#define TCMUD_MODULE_H

#include <stdbool.h>

#define TCMU_MODULE_NAME "target_core_user"

/*
 * module_ensure_loaded — load kernel module @name (modprobe semantics,
 * dependencies included) unless it is loaded or built in, i.e. unless
 * $TCMU_SYSFS_ROOT (default /sys)/module/@name exists. Main thread;
 * blocks. Returns 0, or -errno with one clear error line logged.
 */
int module_ensure_loaded(const char *name);

/*
 * module_param_write — write @val to
 * $TCMU_SYSFS_ROOT (default /sys)/module/target_core_user/parameters/@param.
 * Main thread; may block briefly. Returns 0 or -errno (-ENOENT: a kernel
 * without that parameter).
 */
int module_param_write(const char *param, const char *val);

/* module_block_netlink — block_netlink = 1 / 0. Returns 0 or -errno. */
int module_block_netlink(bool block);

/* module_reset_netlink — reset_netlink = 1 (needs block). Returns 0 or -errno. */
int module_reset_netlink(void);

#endif
