/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/module.c — see module.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <libkmod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <tcmu/libtcmu.h>

#include "module.h"
#include "util.h"

static void kmod_ctx_unrefp(struct kmod_ctx **c)
{
	if (*c)
		kmod_unref(*c);
}

static void kmod_module_unrefp(struct kmod_module **m)
{
	if (*m)
		kmod_module_unref(*m);
}

static void kmod_list_freep(struct kmod_list **l)
{
	if (*l)
		kmod_module_unref_list(*l);
}

/* libkmod's log callback: its messages go to our log at debug level.
 * Main thread (inside module_ensure_loaded); never blocks. */
static void kmod_log_fn(void *data, int priority, const char *file, int line,
			const char *fn, const char *format, va_list args)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), format, args);
	tcmu_log(TCMU_LOG_DEBUG, NULL, file, line, "libkmod: %s",
		 msg[0] ? msg : "");
}

static const char *sysfs_root(void)
{
	const char *root = secure_getenv("TCMU_SYSFS_ROOT");

	return root && *root ? root : "/sys";
}

/* True when $TCMU_SYSFS_ROOT/module/@name exists. */
static bool module_present(const char *name)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;

	if (asprintf(&path, "%s/module/%s", sysfs_root(), name) < 0) {
		path = NULL;
		return false;
	}
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int module_ensure_loaded(const char *name)
{
	_cleanup_(kmod_ctx_unrefp) struct kmod_ctx *ctx = NULL;
	_cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
	_cleanup_(kmod_list_freep) struct kmod_list *list = NULL;
	struct utsname u;
	int state, r;

	/*
	 * Loaded modules and built-in ones with parameters (this one has
	 * some) have a /sys/module directory; libkmod only knows a built-in
	 * from the modules.builtin index, which containers often lack.
	 */
	if (module_present(name)) {
		tcmu_dbg("kernel module %s is present", name);
		return 0;
	}
	uname(&u);
	ctx = kmod_new(NULL, NULL);
	if (!ctx) {
		tcmu_err("kernel module %s: cannot initialise libkmod", name);
		return -ENOMEM;
	}
	kmod_set_log_fn(ctx, kmod_log_fn, NULL);

	r = kmod_module_new_from_name(ctx, name, &mod);
	if (r < 0) {
		tcmu_err("kernel module %s: %s", name, strerror(-r));
		return r;
	}
	state = kmod_module_get_initstate(mod);
	if (state == KMOD_MODULE_LIVE || state == KMOD_MODULE_BUILTIN) {
		tcmu_dbg("kernel module %s is %s", name,
			 state == KMOD_MODULE_LIVE ? "loaded" : "built in");
		return 0;
	}

	r = kmod_module_new_from_lookup(ctx, name, &list);
	if (r < 0 || !list) {
		tcmu_err("kernel module %s is not loaded and cannot be found for kernel %s (is the kernel's module package installed?)",
			 name, u.release);
		return r < 0 ? r : -ENOENT;
	}
	r = kmod_module_probe_insert_module(kmod_module_get_module(list), 0,
					    NULL, NULL, NULL, NULL);
	if (r < 0) {
		tcmu_err("kernel module %s is not loaded and loading it failed: %s%s",
			 name, strerror(-r),
			 r == -EPERM ? " (tcmud needs CAP_SYS_MODULE, or load it beforehand)" : "");
		return r;
	}
	tcmu_info("kernel module %s loaded", name);
	return 0;
}

int module_param_write(const char *param, const char *val)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	size_t len = strlen(val);
	ssize_t n;

	if (asprintf(&path, "%s/module/%s/parameters/%s", sysfs_root(),
		     TCMU_MODULE_NAME, param) < 0) {
		path = NULL;
		return -ENOMEM;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int module_block_netlink(bool block)
{
	return module_param_write("block_netlink", block ? "1" : "0");
}

int module_reset_netlink(void)
{
	return module_param_write("reset_netlink", "1");
}
