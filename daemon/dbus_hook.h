/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/dbus_hook.h — where the D-Bus service plugs into the daemon.
 *
 * When a CMake target tcmud_dbus exists (dbus/), daemon/CMakeLists.txt
 * links it and defines TCMUD_HAVE_DBUS; main.c then calls these two
 * functions, which tcmud_dbus implements, around tcmud_run(). The service
 * reaches the daemon through daemon.h: tcmud_main_context() to attach its
 * sources, tcmud_handlers() (handler_registry_count/get, and
 * handler_registry_check_config for CheckConfig), tcmud_devices()
 * (devtable_count/get + tcmu_device_get_stats for per-device stats).
 */
#ifndef TCMUD_DBUS_HOOK_H
#define TCMUD_DBUS_HOOK_H

struct tcmud;
struct tcmud_dbus;

/*
 * tcmud_dbus_new — own the bus name and export the objects on @d's main
 * context. Main thread. Returns the service, or NULL (logged; the daemon
 * runs on without D-Bus).
 */
struct tcmud_dbus *tcmud_dbus_new(struct tcmud *d);

/* tcmud_dbus_free — unexport and release the name. Main thread. NULL. */
struct tcmud_dbus *tcmud_dbus_free(struct tcmud_dbus *s);

#endif
