/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of daemon/devtable.c: netlink events and start-up discovery turned
 * into device open / handler start / stop / reconfig calls, against fake
 * libtcmu operations that record what was called.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "devtable.h"
#include "libtcmu/kabi.h"
#include "test_daemon_util.h"

/*
 * Our fake device. tcmu_log() reads the device name from the info at the
 * start of libtcmu's struct tcmu_device, so info comes first here too.
 */
struct tcmu_device {
	struct tcmu_device_info info;
	char cfg_at_start[4096];
	bool started;
};

#define MAX_DEVS 8

static struct {
	char calls[4096];        /* "op(arg) op(arg) " */
	struct tcmu_device *open[MAX_DEVS];
	int opened, closed;
	int start_result;        /* returned by start() */
	int stop_result;
	int reconfig_result;
	struct tcmu_reconfig last_rc;
	char last_rc_cfg[256];
	unsigned int timeout;
	int timeout_calls;
} fake;

static void rec(const char *fmt, ...)
{
	size_t len = strlen(fake.calls);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fake.calls + len, sizeof(fake.calls) - len, fmt, ap);
	va_end(ap);
	len = strlen(fake.calls);
	snprintf(fake.calls + len, sizeof(fake.calls) - len, " ");
}

/* uioN's kernel name: "tcm-user/1/d<N>/<subtype>/<cfg>" set by the test. */
static char uio_names[MAX_DEVS][256];

static int f_parse(const char *uio_name, struct tcmu_device_info *info)
{
	char tail[256];
	unsigned int hba;

	if (sscanf(uio_name, "tcm-user/%u/%63[^/]/%255[^\n]", &hba, info->dev,
		   tail) != 3)
		return -EINVAL;
	snprintf(info->name, sizeof(info->name), "tcm-user/%u/%s", hba, info->dev);
	snprintf(info->hba, sizeof(info->hba), "user_%u", hba);
	char *slash = strchr(tail, '/');
	if (slash)
		*slash = '\0';
	snprintf(info->subtype, sizeof(info->subtype), "%.63s", tail);
	snprintf(info->cfgstring, sizeof(info->cfgstring), "%s",
		 slash ? slash + 1 : "");
	return 0;
}

static int f_open(const char *uio, struct tcmu_device **out)
{
	unsigned int n;
	struct tcmu_device *d;

	rec("open(%s)", uio);
	if (sscanf(uio, "uio%u", &n) != 1 || n >= MAX_DEVS || !uio_names[n][0])
		return -ENOENT;
	d = calloc(1, sizeof(*d));
	snprintf(d->info.uio, sizeof(d->info.uio), "%s", uio);
	assert_int_equal(f_parse(uio_names[n], &d->info), 0);
	fake.open[n] = d;
	fake.opened++;
	*out = d;
	return 0;
}

static struct tcmu_device *f_close(struct tcmu_device *d)
{
	unsigned int n;

	rec("close(%s)", d->info.uio);
	sscanf(d->info.uio, "uio%u", &n);
	fake.open[n] = NULL;
	fake.closed++;
	free(d);
	return NULL;
}

static const struct tcmu_device_info *f_info(const struct tcmu_device *d)
{
	return &d->info;
}

static int f_set_cfg(struct tcmu_device *d, const char *cfg)
{
	rec("setcfg(%s)", cfg);
	snprintf(d->info.cfgstring, sizeof(d->info.cfgstring), "%s", cfg);
	return 0;
}

static int f_start(struct tcmu_device *d, const struct tcmu_handler *h,
		   bool reopen)
{
	rec("start(%s,%s,%d)", d->info.uio, h->subtype, reopen);
	snprintf(d->cfg_at_start, sizeof(d->cfg_at_start), "%s",
		 d->info.cfgstring);
	if (fake.start_result)
		return fake.start_result;
	d->started = true;
	return 0;
}

static int f_stop(struct tcmu_device *d, unsigned int timeout_ms)
{
	rec("stop(%s)", d->info.uio);
	assert_true(d->started);
	assert_true(timeout_ms >= 100);
	d->started = false;
	return fake.stop_result;
}

static int f_reconfig(struct tcmu_device *d, const struct tcmu_reconfig *rc)
{
	rec("reconfig(%s)", d->info.uio);
	fake.last_rc = *rc;
	snprintf(fake.last_rc_cfg, sizeof(fake.last_rc_cfg), "%s",
		 rc->cfgstring ? rc->cfgstring : "(null)");
	return fake.reconfig_result;
}

static void f_timeout(struct tcmu_device *d, unsigned int s)
{
	rec("timeout(%s,%u)", d->info.uio, s);
	fake.timeout = s;
	fake.timeout_calls++;
}

static int busy_poll_result;

static int f_busy_poll(struct tcmu_device *d, unsigned int usec)
{
	rec("busypoll(%s,%u)", d->info.uio, usec);
	return busy_poll_result;
}

static int block_result, reset_result;

static int f_block(const struct tcmu_device_info *info, bool block)
{
	rec("block(%s,%d)", info->dev, block);
	return block_result;
}

static int f_reset(const struct tcmu_device_info *info)
{
	rec("reset(%s)", info->dev);
	return reset_result;
}

static const struct devtable_ops fake_ops = {
	.open_uio = f_open,
	.close = f_close,
	.get_info = f_info,
	.set_cfgstring = f_set_cfg,
	.start = f_start,
	.stop = f_stop,
	.reconfig = f_reconfig,
	.set_cmd_timeout = f_timeout,
	.parse_uio_name = f_parse,
	.block_dev = f_block,
	.reset_ring = f_reset,
	.set_busy_poll = f_busy_poll,
};

static int h_open(struct tcmu_device *dev, bool reopen) { return 0; }
static void h_close(struct tcmu_device *dev) {}
static int h_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		  const struct iovec *iov, size_t iovcnt, uint64_t offset,
		  size_t length, unsigned int flags) { return -EIO; }

static struct tcmu_handler file_h = {
	._struct_size = sizeof(struct tcmu_handler),
	._api_version = TCMU_HANDLER_API_VERSION,
	.subtype = "file", .name = "test file",
	.open = h_open, .close = h_close, .read = h_read,
};
static struct tcmu_handler ram_h = {
	._struct_size = sizeof(struct tcmu_handler),
	._api_version = TCMU_HANDLER_API_VERSION,
	.subtype = "ram", .name = "test ram",
	.open = h_open, .close = h_close, .read = h_read,
};

struct fixture {
	struct handler_registry *reg;
	struct devtable *dt;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	memset(&fake, 0, sizeof(fake));
	memset(uio_names, 0, sizeof(uio_names));
	block_result = reset_result = busy_poll_result = 0;
	capture_start();
	f->reg = handler_registry_new();
	assert_int_equal(handler_registry_add(f->reg, &file_h, "builtin"), 0);
	assert_int_equal(handler_registry_add(f->reg, &ram_h, "builtin"), 0);
	f->dt = devtable_new(f->reg, &fake_ops, 1000);
	assert_non_null(f->dt);
	fake.calls[0] = '\0';
	capture_start();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	devtable_free(f->dt);
	assert_int_equal(fake.opened, fake.closed); /* nothing leaked */
	handler_registry_free(f->reg);
	free(f);
	tcmu_set_log_sink(NULL, NULL);
	return 0;
}

static int event(struct fixture *f, int cmd, unsigned int minor)
{
	struct tcmu_nl_event ev = {
		.cmd = cmd, .minor = minor, .device = uio_names[minor],
		.write_cache = -1,
	};

	return devtable_nl_event(&ev, f->dt);
}

static void test_add_remove(void **state)
{
	struct fixture *f = *state;
	const struct devtable_entry *e;

	snprintf(uio_names[3], 256, "tcm-user/1/d3/file//var/lib/d3.img");
	assert_int_equal(event(f, TCMU_CMD_ADDED_DEVICE, 3), 0);
	assert_string_equal(fake.calls, "open(uio3) start(uio3,file,0) ");
	assert_int_equal(devtable_count(f->dt), 1);
	e = devtable_find(f->dt, "uio3");
	assert_non_null(e);
	assert_ptr_equal(e->handler->h.open, h_open);
	assert_ptr_equal(devtable_get(f->dt, 0), e);
	assert_null(devtable_get(f->dt, 1));
	assert_string_equal(fake.open[3]->cfg_at_start, "/var/lib/d3.img");
	assert_int_equal(fake.timeout_calls, 0);

	/* Added twice: refused, the first stays. */
	assert_int_equal(event(f, TCMU_CMD_ADDED_DEVICE, 3), -EEXIST);
	assert_int_equal(devtable_count(f->dt), 1);

	fake.calls[0] = '\0';
	assert_int_equal(event(f, TCMU_CMD_REMOVED_DEVICE, 3), 0);
	assert_string_equal(fake.calls, "stop(uio3) close(uio3) ");
	assert_int_equal(devtable_count(f->dt), 0);

	/* Removing what we do not serve is fine (its add may have failed). */
	assert_int_equal(event(f, TCMU_CMD_REMOVED_DEVICE, 3), 0);
}

/* Unknown subtype: error reply, one log line naming the device. */
static void test_unknown_subtype(void **state)
{
	struct fixture *f = *state;

	snprintf(uio_names[1], 256, "tcm-user/1/d1/qcow//img.qcow2");
	assert_int_equal(event(f, TCMU_CMD_ADDED_DEVICE, 1), -ENOENT);
	assert_string_equal(fake.calls, "open(uio1) close(uio1) ");
	assert_int_equal(devtable_count(f->dt), 0);
	assert_int_equal(captured_count("|tcm-user/1/d1|", "qcow", NULL), 1);
	assert_int_equal(captured_count("qcow", NULL), 1); /* once */
	assert_int_equal(captured_count("loaded: file, ram", NULL), 1);
}

/* The cmd time-out option is cut from the config before the handler sees it. */
static void test_cmd_timeout_prefix(void **state)
{
	struct fixture *f = *state;
	const struct devtable_entry *e;

	snprintf(uio_names[2], 256,
		 "tcm-user/1/d2/file/;tcmur_cmd_time_out=30;/var/lib/d2.img");
	assert_int_equal(event(f, TCMU_CMD_ADDED_DEVICE, 2), 0);
	assert_string_equal(fake.calls,
			    "open(uio2) setcfg(/var/lib/d2.img) timeout(uio2,30) start(uio2,file,0) ");
	assert_string_equal(fake.open[2]->cfg_at_start, "/var/lib/d2.img");
	e = devtable_find(f->dt, "uio2");
	assert_true(e->has_cmd_timeout);
	assert_int_equal(e->cmd_timeout, 30);

	/* An invalid value refuses the device. */
	fake.calls[0] = '\0';
	snprintf(uio_names[4], 256,
		 "tcm-user/1/d4/file/;tcmur_cmd_time_out=soon;/x");
	assert_int_equal(event(f, TCMU_CMD_ADDED_DEVICE, 4), -EINVAL);
	assert_string_equal(fake.calls, "open(uio4) close(uio4) ");
	assert_int_equal(captured_count("|tcm-user/1/d4|", "tcmur_cmd_time_out", NULL), 1);
}

/* A handler that cannot open its device fails only that device. */
static void test_start_failure_isolated(void **state)
{
	struct fixture *f = *state;

	snprintf(uio_names[0], 256, "tcm-user/1/good/ram/size=1M");
	snprintf(uio_names[1], 256, "tcm-user/1/bad/file//missing");
	assert_int_equal(event(f, TCMU_CMD_ADDED_DEVICE, 0), 0);
	fake.start_result = -ENOENT;
	assert_int_equal(event(f, TCMU_CMD_ADDED_DEVICE, 1), -ENOENT);
	fake.start_result = 0;
	assert_int_equal(devtable_count(f->dt), 1);
	assert_non_null(devtable_find(f->dt, "uio0"));
	assert_null(fake.open[1]);
	assert_int_equal(captured_count("|tcm-user/1/bad|", "cannot open", NULL), 1);

	/* A uio that cannot be opened at all. */
	assert_int_equal(event(f, TCMU_CMD_ADDED_DEVICE, 7), -ENOENT);
	assert_int_equal(devtable_count(f->dt), 1);
}

static void test_reconfig(void **state)
{
	struct fixture *f = *state;
	struct tcmu_nl_event ev = { .cmd = TCMU_CMD_RECONFIG_DEVICE, .minor = 5,
				    .write_cache = -1 };

	snprintf(uio_names[5], 256, "tcm-user/1/d5/file//a.img");
	ev.device = uio_names[5];
	assert_int_equal(event(f, TCMU_CMD_ADDED_DEVICE, 5), 0);

	ev.has_dev_size = true;
	ev.dev_size = 1 << 30;
	assert_int_equal(devtable_nl_event(&ev, f->dt), 0);
	assert_int_equal(fake.last_rc.size, 1 << 30);
	assert_null(fake.last_rc.cfgstring);
	assert_int_equal(fake.last_rc.write_cache, -1);

	ev.has_dev_size = false;
	ev.write_cache = 1;
	assert_int_equal(devtable_nl_event(&ev, f->dt), 0);
	assert_int_equal(fake.last_rc.write_cache, 1);
	assert_int_equal(fake.last_rc.size, 0);

	/* DEV_CFG is "<subtype>/<cfg>"; the handler gets <cfg>, without our option. */
	ev.write_cache = -1;
	ev.dev_cfg = "file/;tcmur_cmd_time_out=5;/b.img";
	assert_int_equal(devtable_nl_event(&ev, f->dt), 0);
	assert_string_equal(fake.last_rc_cfg, "/b.img");
	assert_int_equal(fake.timeout, 5);
	assert_true(devtable_find(f->dt, "uio5")->has_cmd_timeout);

	/* The option gone from the config: no time-out any more. */
	ev.dev_cfg = "file//c.img";
	assert_int_equal(devtable_nl_event(&ev, f->dt), 0);
	assert_string_equal(fake.last_rc_cfg, "/c.img");
	assert_int_equal(fake.timeout, 0);
	assert_false(devtable_find(f->dt, "uio5")->has_cmd_timeout);

	/* Another subtype: refused before the handler is asked. */
	int calls = fake.timeout_calls;
	fake.last_rc_cfg[0] = '\0';
	ev.dev_cfg = "ram/size=1G";
	assert_int_equal(devtable_nl_event(&ev, f->dt), -EINVAL);
	assert_string_equal(fake.last_rc_cfg, "");
	ev.dev_cfg = "files//c.img";
	assert_int_equal(devtable_nl_event(&ev, f->dt), -EINVAL);
	assert_int_equal(fake.timeout_calls, calls);

	/* The handler's refusal is the reply. */
	ev.dev_cfg = "file//d.img";
	fake.reconfig_result = -EOPNOTSUPP;
	assert_int_equal(devtable_nl_event(&ev, f->dt), -EOPNOTSUPP);
	fake.reconfig_result = 0;

	/* Unknown device. */
	ev.minor = 6;
	assert_int_equal(devtable_nl_event(&ev, f->dt), -ENODEV);
}

/* Start-up take-over: block, reset ring, open, start(reopen), unblock. */
static void test_restore_protocol(void **state)
{
	struct fixture *f = *state;

	snprintf(uio_names[0], 256, "tcm-user/2/a/file//a.img");
	assert_int_equal(devtable_restore("uio0", uio_names[0], f->dt), 0);
	assert_string_equal(fake.calls,
			    "block(a,1) reset(a) open(uio0) start(uio0,file,1) block(a,0) ");
	assert_int_equal(devtable_count(f->dt), 1);

	/* Seen again: nothing happens. */
	fake.calls[0] = '\0';
	assert_int_equal(devtable_restore("uio0", uio_names[0], f->dt), 0);
	assert_string_equal(fake.calls, "");

	/* A subtype without a handler here may belong to another process:
	 * not blocked, not reset, not opened; the scan goes on (return 0). */
	snprintf(uio_names[1], 256, "tcm-user/2/b/glfs/vol@host/b");
	assert_int_equal(devtable_restore("uio1", uio_names[1], f->dt), 0);
	assert_string_equal(fake.calls, "");
	assert_int_equal(captured_count("tcm-user/2/b", "glfs", "left alone", NULL), 1);

	/* A device whose handler cannot open it is unblocked anyway. */
	fake.start_result = -EIO;
	snprintf(uio_names[4], 256, "tcm-user/2/e/file//gone.img");
	assert_int_equal(devtable_restore("uio4", uio_names[4], f->dt), 0);
	assert_string_equal(fake.calls,
			    "block(e,1) reset(e) open(uio4) start(uio4,file,1) close(uio4) block(e,0) ");
	fake.start_result = 0;

	/* Garbage name: skipped without touching configfs. */
	fake.calls[0] = '\0';
	assert_int_equal(devtable_restore("uio2", "not-tcmu", f->dt), 0);
	assert_string_equal(fake.calls, "");

	/* Blocking fails: no ring reset (that would race new commands), but
	 * the device is still served. */
	block_result = -EINVAL;
	snprintf(uio_names[3], 256, "tcm-user/2/c/ram/");
	assert_int_equal(devtable_restore("uio3", uio_names[3], f->dt), 0);
	assert_string_equal(fake.calls,
			    "block(c,1) open(uio3) start(uio3,ram,1) block(c,0) ");
	assert_int_equal(devtable_count(f->dt), 2);
}

/*
 * busy_poll_us (tcmu.conf) reaches the devices already served at once, and
 * each device added or reopened later before its start; 0 on a new device
 * needs no call; a device that refuses it is logged and keeps serving.
 */
static void test_busy_poll(void **state)
{
	struct fixture *f = *state;

	snprintf(uio_names[0], 256, "tcm-user/1/d0/file//img0");
	snprintf(uio_names[1], 256, "tcm-user/1/d1/ram/r1");
	snprintf(uio_names[2], 256, "tcm-user/1/d2/file//img2");
	assert_int_equal(event(f, TCMU_CMD_ADDED_DEVICE, 0), 0);
	assert_int_equal(event(f, TCMU_CMD_ADDED_DEVICE, 1), 0);
	assert_string_equal(fake.calls, "open(uio0) start(uio0,file,0) "
					"open(uio1) start(uio1,ram,0) ");

	fake.calls[0] = '\0';
	devtable_set_busy_poll(f->dt, 20);
	assert_string_equal(fake.calls, "busypoll(uio0,20) busypoll(uio1,20) ");
	fake.calls[0] = '\0';
	devtable_set_busy_poll(f->dt, 20); /* unchanged: nothing to do */
	assert_string_equal(fake.calls, "");

	assert_int_equal(event(f, TCMU_CMD_ADDED_DEVICE, 2), 0);
	assert_string_equal(fake.calls,
			    "open(uio2) busypoll(uio2,20) start(uio2,file,0) ");
	fake.calls[0] = '\0';
	assert_int_equal(event(f, TCMU_CMD_REMOVED_DEVICE, 1), 0);
	assert_int_equal(devtable_restore("uio1", uio_names[1], f->dt), 0);
	assert_string_equal(fake.calls,
			    "stop(uio1) close(uio1) block(d1,1) reset(d1) open(uio1) "
			    "busypoll(uio1,20) start(uio1,ram,1) block(d1,0) ");

	/* Off again, and a device that refuses: logged, still served. */
	fake.calls[0] = '\0';
	busy_poll_result = -EINVAL;
	devtable_set_busy_poll(f->dt, 0);
	assert_string_equal(fake.calls,
			    "busypoll(uio0,0) busypoll(uio2,0) busypoll(uio1,0) ");
	assert_int_equal(captured_count("cannot set busy_poll_us", NULL), 3);
	assert_int_equal(devtable_count(f->dt), 3);
}

static void test_stop_all(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 3; i++) {
		snprintf(uio_names[i], 256, "tcm-user/1/s%d/ram/", i);
		assert_int_equal(event(f, TCMU_CMD_ADDED_DEVICE, i), 0);
	}
	fake.calls[0] = '\0';
	fake.stop_result = -ETIMEDOUT;
	assert_int_equal(devtable_stop_all(f->dt), 3);
	assert_int_equal(devtable_count(f->dt), 0);
	assert_int_equal(fake.closed, 3);
	assert_int_equal(captured_count("failed back", NULL), 3);
	assert_non_null(strstr(fake.calls, "stop(uio0) close(uio0)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_subtype, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmd_timeout_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_failure_isolated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconfig, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_all, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
