/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/dbus/test_daemon_external.c — the device table's hook for subtypes
 * served out of process (devtable_set_external, used by dbus/daemon_glue.c):
 * events of such a subtype go to the hook and the daemon never opens the
 * device; a subtype nobody serves is refused as before; a subtype with a
 * loaded handler never reaches the hook.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/devtable.h"
#include "daemon/loader.h"
#include "kabi.h"

static int opens;
static int hook_calls;
static int hook_result;
static char hook_subtype[64];
static int hook_cmd;

static int f_open_uio(const char *uio, struct tcmu_device **out)
{
	opens++;
	return -ENOENT; /* no kernel here */
}

static const struct devtable_ops fake_ops = {
	.open_uio = f_open_uio,
	.parse_uio_name = tcmu_parse_uio_name,
};

static int hook(const struct tcmu_nl_event *ev, const char *subtype, void *arg)
{
	hook_calls++;
	hook_cmd = ev->cmd;
	snprintf(hook_subtype, sizeof(hook_subtype), "%s", subtype);
	assert_ptr_equal(arg, &hook_calls);
	return strcmp(subtype, "ext") ? -ENOENT : hook_result;
}

static int h_open(struct tcmu_device *dev, bool reopen)
{
	return 0;
}

static void h_close(struct tcmu_device *dev)
{
}

static int h_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		  const struct iovec *iov, size_t iovcnt, uint64_t offset,
		  size_t length, unsigned int flags)
{
	return -EIO;
}

static struct tcmu_handler local = {
	._struct_size = sizeof(struct tcmu_handler),
	._api_version = TCMU_HANDLER_API_VERSION,
	.subtype = "local",
	.name = "local test handler",
	.open = h_open,
	.close = h_close,
	.read = h_read,
};

static int event(struct devtable *dt, int cmd, const char *device)
{
	struct tcmu_nl_event ev = {
		.cmd = cmd, .device = device, .minor = 4, .write_cache = -1,
	};

	return devtable_nl_event(&ev, dt);
}

static void test_external_hook(void **state)
{
	struct handler_registry *reg = handler_registry_new();
	struct devtable *dt;

	assert_non_null(reg);
	assert_int_equal(handler_registry_add(reg, &local, "test"), 0);
	dt = devtable_new(reg, &fake_ops, 100);
	assert_non_null(dt);

	/* Without a hook: unknown subtypes are opened and refused. */
	assert_int_equal(event(dt, TCMU_CMD_ADDED_DEVICE, "tcm-user/1/a/ext/"),
			 -ENOENT);
	assert_int_equal(opens, 1);

	devtable_set_external(dt, hook, &hook_calls);

	/* Served out of process: the hook answers, no open. */
	hook_result = 0;
	assert_int_equal(event(dt, TCMU_CMD_ADDED_DEVICE, "tcm-user/1/a/ext/cfg"), 0);
	assert_int_equal(hook_calls, 1);
	assert_int_equal(hook_cmd, TCMU_CMD_ADDED_DEVICE);
	assert_string_equal(hook_subtype, "ext");
	assert_int_equal(opens, 1);
	hook_result = -EIO;
	assert_int_equal(event(dt, TCMU_CMD_RECONFIG_DEVICE, "tcm-user/1/a/ext/cfg"),
			 -EIO);
	assert_int_equal(event(dt, TCMU_CMD_REMOVED_DEVICE, "tcm-user/1/a/ext/cfg"),
			 -EIO);
	assert_int_equal(hook_calls, 3);
	assert_int_equal(opens, 1);

	/* Nobody serves it: as without a hook. */
	assert_int_equal(event(dt, TCMU_CMD_ADDED_DEVICE, "tcm-user/1/b/nobody/"),
			 -ENOENT);
	assert_int_equal(hook_calls, 4);
	assert_int_equal(opens, 2);

	/* A loaded handler's subtype never reaches the hook. */
	assert_int_equal(event(dt, TCMU_CMD_ADDED_DEVICE, "tcm-user/1/c/local/"),
			 -ENOENT); /* fake open fails */
	assert_int_equal(hook_calls, 4);
	assert_int_equal(opens, 3);

	/* Cleared: back to the daemon alone. */
	devtable_set_external(dt, NULL, NULL);
	assert_int_equal(event(dt, TCMU_CMD_ADDED_DEVICE, "tcm-user/1/a/ext/"),
			 -ENOENT);
	assert_int_equal(hook_calls, 4);
	assert_int_equal(opens, 4);

	devtable_free(dt);
	handler_registry_free(reg);
}

static void count_changed(void *arg)
{
	++*(int *)arg;
}

/* The changed hook follows ADDED and REMOVED events (also failed ones),
 * not RECONFIG, so that D-Bus Device objects come and go at once. */
static void test_changed_hook(void **state)
{
	struct handler_registry *reg = handler_registry_new();
	struct devtable *dt;
	int changed = 0;

	(void)state;
	assert_non_null(reg);
	assert_int_equal(handler_registry_add(reg, &local, "test"), 0);
	dt = devtable_new(reg, &fake_ops, 100);
	assert_non_null(dt);
	devtable_set_changed(dt, count_changed, &changed);

	assert_int_equal(event(dt, TCMU_CMD_ADDED_DEVICE, "tcm-user/1/c/local/"),
			 -ENOENT); /* fake open fails */
	assert_int_equal(changed, 1);
	event(dt, TCMU_CMD_RECONFIG_DEVICE, "tcm-user/1/c/local/");
	assert_int_equal(changed, 1);
	event(dt, TCMU_CMD_REMOVED_DEVICE, "tcm-user/1/c/local/");
	assert_int_equal(changed, 2);

	devtable_set_changed(dt, NULL, NULL);
	event(dt, TCMU_CMD_ADDED_DEVICE, "tcm-user/1/c/local/");
	assert_int_equal(changed, 2);

	devtable_free(dt);
	handler_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_external_hook),
		cmocka_unit_test(test_changed_hook),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
