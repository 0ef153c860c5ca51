/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_netlink — TCM-USER event parsing and *_DONE replies, driven with
 * messages built by libnl here (no kernel): every attribute, missing and
 * malformed ones, unknown commands, and the reply sent in every case.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "netlink_msg.h"

#define FAM 0x1d

/* ---- helpers ---------------------------------------------------------- */

static struct nl_msg *ev_new(int cmd)
{
	struct nl_msg *m = nlmsg_alloc();

	assert_non_null(m);
	assert_non_null(genlmsg_put(m, 0, 0, FAM, 0, 0, cmd, NLEV_VERSION));
	return m;
}

/* What the kernel puts in every event. */
static struct nl_msg *ev_std(int cmd, const char *dev, uint32_t minor,
			     uint32_t id)
{
	struct nl_msg *m = ev_new(cmd);

	assert_int_equal(nla_put_string(m, TCMU_ATTR_DEVICE, dev), 0);
	assert_int_equal(nla_put_u32(m, TCMU_ATTR_MINOR, minor), 0);
	assert_int_equal(nla_put_u32(m, TCMU_ATTR_DEVICE_ID, id), 0);
	return m;
}

static int parse(struct nl_msg *m, struct tcmu_nl_event *ev)
{
	char why[160];

	return nlev_parse(nlmsg_hdr(m), ev, why, sizeof(why));
}

static int log_errors;

static void count_sink(enum tcmu_log_level level, const char *dev_name,
		       const char *file, int line, const char *msg, void *arg)
{
	if (level == TCMU_LOG_ERROR)
		log_errors++;
}

static int setup(void **state)
{
	log_errors = 0;
	tcmu_set_log_sink(count_sink, NULL);
	return 0;
}

/* Replies captured by the send seam. */
struct sent {
	int n;
	int fail;
	uint8_t buf[4][512];
};

static int capture_send(struct tcmu_nl *nl, struct nl_msg *msg)
{
	struct sent *s = nl->send_arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);

	assert_true(s->n < 4);
	assert_true(h->nlmsg_len <= sizeof(s->buf[0]));
	memcpy(s->buf[s->n++], h, h->nlmsg_len);
	return s->fail;
}

/* Checks captured reply @i: command, status, device id (or none). */
static void check_reply(struct sent *s, int i, int cmd, int status,
			bool has_id, uint32_t id)
{
	struct nlmsghdr *h = (struct nlmsghdr *)s->buf[i];
	struct genlmsghdr *g = nlmsg_data(h);
	struct nlattr *tb[TCMU_ATTR_MAX + 1];

	assert_int_equal(h->nlmsg_type, FAM);
	assert_int_equal(g->cmd, cmd);
	assert_int_equal(g->version, NLEV_VERSION);
	assert_int_equal(genlmsg_parse(h, 0, tb, TCMU_ATTR_MAX, NULL), 0);
	assert_non_null(tb[TCMU_ATTR_CMD_STATUS]);
	assert_int_equal(nla_len(tb[TCMU_ATTR_CMD_STATUS]), 4);
	assert_int_equal(nla_get_s32(tb[TCMU_ATTR_CMD_STATUS]), status);
	if (has_id) {
		assert_non_null(tb[TCMU_ATTR_DEVICE_ID]);
		assert_int_equal(nla_len(tb[TCMU_ATTR_DEVICE_ID]), 4);
		assert_int_equal(nla_get_u32(tb[TCMU_ATTR_DEVICE_ID]), id);
	} else {
		assert_null(tb[TCMU_ATTR_DEVICE_ID]);
	}
}

/* The event callback: records what it saw, returns rec->ret. */
struct rec {
	int calls;
	int ret;
	struct tcmu_nl_event ev;
	char device[256];
	char cfg[256];
};

static int record_event(const struct tcmu_nl_event *ev, void *arg)
{
	struct rec *r = arg;

	r->calls++;
	r->ev = *ev;
	snprintf(r->device, sizeof(r->device), "%s", ev->device);
	snprintf(r->cfg, sizeof(r->cfg), "%s", ev->dev_cfg ? ev->dev_cfg : "");
	r->ev.device = r->device;
	r->ev.dev_cfg = ev->dev_cfg ? r->cfg : NULL;
	return r->ret;
}

/* ---- parsing ------------------------------------------------------------ */

static void parse_added_all_attrs(void **state)
{
	struct nl_msg *m = ev_std(TCMU_CMD_ADDED_DEVICE,
				  "tcm-user/3/disk1/file//var/x.img", 7, 42);
	struct tcmu_nl_event ev;

	assert_int_equal(parse(m, &ev), 0);
	assert_int_equal(ev.cmd, TCMU_CMD_ADDED_DEVICE);
	assert_string_equal(ev.device, "tcm-user/3/disk1/file//var/x.img");
	assert_int_equal(ev.minor, 7);
	assert_true(ev.has_device_id);
	assert_int_equal(ev.device_id, 42);
	assert_null(ev.dev_cfg);
	assert_false(ev.has_dev_size);
	assert_int_equal(ev.write_cache, -1);
	nlmsg_free(m);
}

static void parse_removed_without_device_id(void **state)
{
	struct nl_msg *m = ev_new(TCMU_CMD_REMOVED_DEVICE);
	struct tcmu_nl_event ev;

	nla_put_string(m, TCMU_ATTR_DEVICE, "tcm-user/0/d/null/");
	nla_put_u32(m, TCMU_ATTR_MINOR, 0);
	assert_int_equal(parse(m, &ev), 0);
	assert_int_equal(ev.cmd, TCMU_CMD_REMOVED_DEVICE);
	assert_false(ev.has_device_id);
	assert_int_equal(ev.device_id, 0);
	nlmsg_free(m);
}

static void parse_reconfig_dev_cfg(void **state)
{
	struct nl_msg *m = ev_std(TCMU_CMD_RECONFIG_DEVICE, "tcm-user/1/d/file/a",
				  2, 5);
	struct tcmu_nl_event ev;

	/* As written by "echo file/b > dev_config": newline included. */
	nla_put_string(m, TCMU_ATTR_DEV_CFG, "file//new/path\n");
	assert_int_equal(parse(m, &ev), 0);
	assert_string_equal(ev.dev_cfg, "file//new/path");
	assert_false(ev.has_dev_size);
	assert_int_equal(ev.write_cache, -1);
	nlmsg_free(m);
}

static void parse_reconfig_dev_size_with_pad(void **state)
{
	struct nl_msg *m = ev_std(TCMU_CMD_RECONFIG_DEVICE, "tcm-user/1/d/file/a",
				  2, 5);
	struct tcmu_nl_event ev;

	/* nla_put_u64_64bit() may put a PAD attribute first. */
	assert_int_equal(nla_put(m, TCMU_ATTR_PAD, 0, NULL), 0);
	nla_put_u64(m, TCMU_ATTR_DEV_SIZE, 0x123456789abcULL);
	assert_int_equal(parse(m, &ev), 0);
	assert_true(ev.has_dev_size);
	assert_true(ev.dev_size == 0x123456789abcULL);
	assert_null(ev.dev_cfg);
	assert_int_equal(ev.write_cache, -1);
	nlmsg_free(m);
}

static void parse_reconfig_writecache(void **state)
{
	for (int v = 0; v < 3; v++) {
		struct nl_msg *m = ev_std(TCMU_CMD_RECONFIG_DEVICE,
					  "tcm-user/1/d/file/a", 2, 5);
		struct tcmu_nl_event ev;

		nla_put_u8(m, TCMU_ATTR_WRITECACHE, v);
		assert_int_equal(parse(m, &ev), 0);
		assert_int_equal(ev.write_cache, v ? 1 : 0);
		assert_false(ev.has_dev_size);
		nlmsg_free(m);
	}
}

static void parse_reconfig_without_change(void **state)
{
	struct nl_msg *m = ev_std(TCMU_CMD_RECONFIG_DEVICE, "tcm-user/1/d/f/a",
				  2, 5);
	struct tcmu_nl_event ev;

	assert_int_equal(parse(m, &ev), -EINVAL);
	assert_int_equal(ev.cmd, TCMU_CMD_RECONFIG_DEVICE);
	assert_true(ev.has_device_id);
	assert_int_equal(ev.device_id, 5);
	nlmsg_free(m);
}

static void parse_missing_device(void **state)
{
	struct nl_msg *m = ev_new(TCMU_CMD_ADDED_DEVICE);
	struct tcmu_nl_event ev;

	nla_put_u32(m, TCMU_ATTR_MINOR, 1);
	nla_put_u32(m, TCMU_ATTR_DEVICE_ID, 9);
	assert_int_equal(parse(m, &ev), -EINVAL);
	assert_int_equal(ev.cmd, TCMU_CMD_ADDED_DEVICE);
	assert_true(ev.has_device_id);
	assert_int_equal(ev.device_id, 9);
	nlmsg_free(m);
}

static void parse_missing_minor(void **state)
{
	struct nl_msg *m = ev_new(TCMU_CMD_ADDED_DEVICE);
	struct tcmu_nl_event ev;

	nla_put_string(m, TCMU_ATTR_DEVICE, "tcm-user/1/d/f/a");
	nla_put_u32(m, TCMU_ATTR_DEVICE_ID, 9);
	assert_int_equal(parse(m, &ev), -EINVAL);
	assert_int_equal(ev.device_id, 9);
	nlmsg_free(m);
}

static void parse_empty_device(void **state)
{
	struct nl_msg *m = ev_std(TCMU_CMD_ADDED_DEVICE, "", 1, 9);
	struct tcmu_nl_event ev;

	assert_int_equal(parse(m, &ev), -EINVAL);
	nlmsg_free(m);
}

/* Wrong sizes for every fixed-size attribute; the device id survives. */
static void parse_wrong_lengths(void **state)
{
	static const struct {
		int type;
		int len;
	} bad[] = {
		{ TCMU_ATTR_MINOR, 2 },	     { TCMU_ATTR_MINOR, 8 },
		{ TCMU_ATTR_DEV_SIZE, 4 },   { TCMU_ATTR_DEV_SIZE, 12 },
		{ TCMU_ATTR_WRITECACHE, 4 }, { TCMU_ATTR_WRITECACHE, 0 },
	};
	uint8_t zero[16] = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nl_msg *m = ev_new(TCMU_CMD_RECONFIG_DEVICE);
		struct tcmu_nl_event ev;
		char why[160];

		nla_put_u32(m, TCMU_ATTR_DEVICE_ID, 77);
		nla_put_string(m, TCMU_ATTR_DEVICE, "tcm-user/1/d/f/a");
		if (bad[i].type != TCMU_ATTR_MINOR)
			nla_put_u32(m, TCMU_ATTR_MINOR, 1);
		nla_put(m, bad[i].type, bad[i].len, zero);
		assert_int_equal(nlev_parse(nlmsg_hdr(m), &ev, why, sizeof(why)),
				 -EINVAL);
		assert_int_equal(ev.cmd, TCMU_CMD_RECONFIG_DEVICE);
		assert_true(ev.has_device_id);
		assert_int_equal(ev.device_id, 77);
		assert_non_null(strstr(why, "bytes"));
		nlmsg_free(m);
	}
}

static void parse_bad_device_id(void **state)
{
	struct nl_msg *m = ev_new(TCMU_CMD_ADDED_DEVICE);
	struct tcmu_nl_event ev;
	uint16_t id = 3;

	nla_put_string(m, TCMU_ATTR_DEVICE, "tcm-user/1/d/f/a");
	nla_put_u32(m, TCMU_ATTR_MINOR, 1);
	nla_put(m, TCMU_ATTR_DEVICE_ID, sizeof(id), &id);
	assert_int_equal(parse(m, &ev), -EINVAL);
	assert_false(ev.has_device_id);
	nlmsg_free(m);
}

static void parse_unterminated_strings(void **state)
{
	int types[] = { TCMU_ATTR_DEVICE, TCMU_ATTR_DEV_CFG };

	for (size_t i = 0; i < 2; i++) {
		struct nl_msg *m = ev_new(TCMU_CMD_RECONFIG_DEVICE);
		struct tcmu_nl_event ev;

		nla_put_u32(m, TCMU_ATTR_DEVICE_ID, 4);
		nla_put_u32(m, TCMU_ATTR_MINOR, 1);
		if (types[i] != TCMU_ATTR_DEVICE)
			nla_put_string(m, TCMU_ATTR_DEVICE, "tcm-user/1/d/f/a");
		nla_put(m, types[i], 3, "abc");
		assert_int_equal(parse(m, &ev), -EINVAL);
		assert_int_equal(ev.device_id, 4);
		nlmsg_free(m);
	}
	/* An embedded NUL is not a string either. */
	struct nl_msg *m = ev_new(TCMU_CMD_ADDED_DEVICE);
	struct tcmu_nl_event ev;

	nla_put_u32(m, TCMU_ATTR_MINOR, 1);
	nla_put(m, TCMU_ATTR_DEVICE, 4, "a\0b");
	assert_int_equal(parse(m, &ev), -EINVAL);
	nlmsg_free(m);
}

static void parse_truncated_attribute(void **state)
{
	struct nl_msg *m = ev_new(TCMU_CMD_ADDED_DEVICE);
	struct tcmu_nl_event ev;

	nla_put_u32(m, TCMU_ATTR_DEVICE_ID, 11);
	nla_put_string(m, TCMU_ATTR_DEVICE, "tcm-user/1/d/f/a");
	nla_put_u32(m, TCMU_ATTR_MINOR, 1);
	nlmsg_hdr(m)->nlmsg_len -= 4; /* cut MINOR's payload */
	assert_int_equal(parse(m, &ev), -EINVAL);
	assert_int_equal(ev.cmd, TCMU_CMD_ADDED_DEVICE);
	assert_int_equal(ev.device_id, 11);
	nlmsg_free(m);
}

static void parse_unknown_attribute_ignored(void **state)
{
	struct nl_msg *m = ev_std(TCMU_CMD_ADDED_DEVICE, "tcm-user/1/d/f/a", 1, 2);
	struct tcmu_nl_event ev;

	nla_put_u32(m, TCMU_ATTR_MAX + 5, 1234); /* from a newer kernel */
	assert_int_equal(parse(m, &ev), 0);
	assert_int_equal(ev.device_id, 2);
	nlmsg_free(m);
}

static void parse_not_an_event(void **state)
{
	int cmds[] = { TCMU_CMD_UNSPEC, TCMU_CMD_ADDED_DEVICE_DONE,
		       TCMU_CMD_SET_FEATURES, 99 };

	for (size_t i = 0; i < 4; i++) {
		struct nl_msg *m = ev_std(cmds[i], "tcm-user/1/d/f/a", 1, 2);
		struct tcmu_nl_event ev;

		assert_int_equal(parse(m, &ev), -EOPNOTSUPP);
		assert_int_equal(ev.cmd, cmds[i]);
		nlmsg_free(m);
	}
}

static void parse_short_header(void **state)
{
	struct nl_msg *m = ev_new(TCMU_CMD_ADDED_DEVICE);
	struct tcmu_nl_event ev;

	nlmsg_hdr(m)->nlmsg_len = NLMSG_HDRLEN + 2; /* half a genl header */
	assert_int_equal(parse(m, &ev), -EINVAL);
	assert_int_equal(ev.cmd, 0);
	assert_int_equal(nlev_reply_cmd(ev.cmd), 0);
	nlmsg_free(m);
}

/* ---- replies ------------------------------------------------------------ */

static void reply_cmds(void **state)
{
	assert_int_equal(nlev_reply_cmd(TCMU_CMD_ADDED_DEVICE),
			 TCMU_CMD_ADDED_DEVICE_DONE);
	assert_int_equal(nlev_reply_cmd(TCMU_CMD_REMOVED_DEVICE),
			 TCMU_CMD_REMOVED_DEVICE_DONE);
	assert_int_equal(nlev_reply_cmd(TCMU_CMD_RECONFIG_DEVICE),
			 TCMU_CMD_RECONFIG_DEVICE_DONE);
	assert_int_equal(nlev_reply_cmd(TCMU_CMD_SET_FEATURES), 0);
	assert_int_equal(nlev_reply_cmd(TCMU_CMD_ADDED_DEVICE_DONE), 0);
}

static void reply_build(void **state)
{
	struct tcmu_nl_event ev = { .cmd = TCMU_CMD_RECONFIG_DEVICE,
				    .device_id = 0xfffffffe,
				    .has_device_id = true };
	struct sent s = { 0 };
	struct nl_msg *msg;

	assert_int_equal(nlev_build_reply(FAM, &ev, -ENOSPC, &msg), 0);
	memcpy(s.buf[0], nlmsg_hdr(msg), nlmsg_hdr(msg)->nlmsg_len);
	nlmsg_free(msg);
	check_reply(&s, 0, TCMU_CMD_RECONFIG_DEVICE_DONE, -ENOSPC, true,
		    0xfffffffe);

	ev.has_device_id = false;
	ev.cmd = TCMU_CMD_ADDED_DEVICE;
	assert_int_equal(nlev_build_reply(FAM, &ev, 0, &msg), 0);
	memcpy(s.buf[1], nlmsg_hdr(msg), nlmsg_hdr(msg)->nlmsg_len);
	nlmsg_free(msg);
	check_reply(&s, 1, TCMU_CMD_ADDED_DEVICE_DONE, 0, false, 0);

	ev.cmd = TCMU_CMD_SET_FEATURES;
	assert_int_equal(nlev_build_reply(FAM, &ev, 0, &msg), -EINVAL);
	assert_null(msg);
}

/* ---- handling: callback + reply ----------------------------------------- */

static void handle_success(void **state)
{
	struct rec r = { .ret = 0 };
	struct sent s = { 0 };
	struct tcmu_nl *nl = nlev_new(FAM, record_event, &r, capture_send, &s);
	int cmds[] = { TCMU_CMD_ADDED_DEVICE, TCMU_CMD_REMOVED_DEVICE };

	for (int i = 0; i < 2; i++) {
		struct nl_msg *m = ev_std(cmds[i], "tcm-user/2/lun0/file/x", 3,
					  100 + i);

		assert_int_equal(nlev_handle(nl, nlmsg_hdr(m)), 0);
		assert_int_equal(r.calls, i + 1);
		assert_int_equal(r.ev.cmd, cmds[i]);
		assert_string_equal(r.device, "tcm-user/2/lun0/file/x");
		assert_int_equal(r.ev.minor, 3);
		assert_int_equal(s.n, i + 1);
		check_reply(&s, i, nlev_reply_cmd(cmds[i]), 0, true, 100 + i);
		nlmsg_free(m);
	}
	assert_int_equal(log_errors, 0);
	tcmu_nl_close(nl);
}

static void handle_callback_failure_still_replies(void **state)
{
	struct rec r = { .ret = -ENODEV };
	struct sent s = { 0 };
	struct tcmu_nl *nl = nlev_new(FAM, record_event, &r, capture_send, &s);
	struct nl_msg *m = ev_std(TCMU_CMD_RECONFIG_DEVICE, "tcm-user/2/l/f/x",
				  3, 8);

	nla_put_u64(m, TCMU_ATTR_DEV_SIZE, 4096);
	assert_int_equal(nlev_handle(nl, nlmsg_hdr(m)), -ENODEV);
	assert_int_equal(r.calls, 1);
	assert_true(r.ev.has_dev_size);
	assert_int_equal(s.n, 1);
	check_reply(&s, 0, TCMU_CMD_RECONFIG_DEVICE_DONE, -ENODEV, true, 8);
	nlmsg_free(m);
	tcmu_nl_close(nl);
}

static void handle_positive_return_is_error(void **state)
{
	struct rec r = { .ret = 1 };
	struct sent s = { 0 };
	struct tcmu_nl *nl = nlev_new(FAM, record_event, &r, capture_send, &s);
	struct nl_msg *m = ev_std(TCMU_CMD_ADDED_DEVICE, "tcm-user/2/l/f/x", 3, 8);

	assert_int_equal(nlev_handle(nl, nlmsg_hdr(m)), -EINVAL);
	check_reply(&s, 0, TCMU_CMD_ADDED_DEVICE_DONE, -EINVAL, true, 8);
	nlmsg_free(m);
	tcmu_nl_close(nl);
}

static void handle_malformed_replies_einval(void **state)
{
	struct rec r = { .ret = 0 };
	struct sent s = { 0 };
	struct tcmu_nl *nl = nlev_new(FAM, record_event, &r, capture_send, &s);
	struct nl_msg *m = ev_new(TCMU_CMD_ADDED_DEVICE);
	uint16_t minor = 1;

	nla_put_u32(m, TCMU_ATTR_DEVICE_ID, 31);
	nla_put_string(m, TCMU_ATTR_DEVICE, "tcm-user/2/l/f/x");
	nla_put(m, TCMU_ATTR_MINOR, sizeof(minor), &minor);
	assert_int_equal(nlev_handle(nl, nlmsg_hdr(m)), -EINVAL);
	assert_int_equal(r.calls, 0); /* never sees a broken event */
	assert_int_equal(s.n, 1);
	check_reply(&s, 0, TCMU_CMD_ADDED_DEVICE_DONE, -EINVAL, true, 31);
	assert_int_equal(log_errors, 1); /* logged once */
	nlmsg_free(m);

	/* Nothing but the command: the reply still goes out. */
	m = ev_new(TCMU_CMD_REMOVED_DEVICE);
	assert_int_equal(nlev_handle(nl, nlmsg_hdr(m)), -EINVAL);
	assert_int_equal(s.n, 2);
	check_reply(&s, 1, TCMU_CMD_REMOVED_DEVICE_DONE, -EINVAL, false, 0);
	assert_int_equal(log_errors, 2);
	nlmsg_free(m);
	tcmu_nl_close(nl);
}

static void handle_unknown_command_no_reply(void **state)
{
	struct rec r = { .ret = 0 };
	struct sent s = { 0 };
	struct tcmu_nl *nl = nlev_new(FAM, record_event, &r, capture_send, &s);
	struct nl_msg *m = ev_std(42, "tcm-user/2/l/f/x", 3, 8);

	assert_int_equal(nlev_handle(nl, nlmsg_hdr(m)), -EOPNOTSUPP);
	assert_int_equal(r.calls, 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(log_errors, 1);
	nlmsg_free(m);

	m = ev_new(TCMU_CMD_ADDED_DEVICE);
	nlmsg_hdr(m)->nlmsg_len = NLMSG_HDRLEN; /* command unknowable */
	assert_int_equal(nlev_handle(nl, nlmsg_hdr(m)), -EINVAL);
	assert_int_equal(s.n, 0);
	assert_int_equal(log_errors, 2);
	nlmsg_free(m);
	tcmu_nl_close(nl);
}

static void handle_no_replies_on_old_kernel(void **state)
{
	struct rec r = { .ret = 0 };
	struct sent s = { 0 };
	struct tcmu_nl *nl = nlev_new(FAM, record_event, &r, capture_send, &s);
	struct nl_msg *m = ev_std(TCMU_CMD_ADDED_DEVICE, "tcm-user/2/l/f/x", 3, 8);

	nl->replies = false;
	assert_int_equal(nlev_handle(nl, nlmsg_hdr(m)), 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(s.n, 0);
	nlmsg_free(m);
	tcmu_nl_close(nl);
}

static void handle_send_failure_logged(void **state)
{
	struct rec r = { .ret = 0 };
	struct sent s = { .fail = -EPERM };
	struct tcmu_nl *nl = nlev_new(FAM, record_event, &r, capture_send, &s);
	struct nl_msg *m = ev_std(TCMU_CMD_ADDED_DEVICE, "tcm-user/2/l/f/x", 3, 8);

	assert_int_equal(nlev_handle(nl, nlmsg_hdr(m)), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(log_errors, 1);
	nlmsg_free(m);
	tcmu_nl_close(nl);
}

static void recv_only_from_kernel_and_family(void **state)
{
	struct rec r = { .ret = 0 };
	struct sent s = { 0 };
	struct tcmu_nl *nl = nlev_new(FAM, record_event, &r, capture_send, &s);
	struct nl_msg *m = ev_std(TCMU_CMD_ADDED_DEVICE, "tcm-user/2/l/f/x", 3, 8);
	struct sockaddr_nl src = { .nl_family = AF_NETLINK, .nl_pid = 4321 };

	nlmsg_set_src(m, &src);
	assert_int_equal(nlev_recv_msg(m, nl), NL_OK);
	assert_int_equal(r.calls, 0);
	assert_int_equal(s.n, 0);

	src.nl_pid = 0;
	nlmsg_set_src(m, &src);
	nlmsg_hdr(m)->nlmsg_type = FAM + 1;
	assert_int_equal(nlev_recv_msg(m, nl), NL_OK);
	assert_int_equal(r.calls, 0);

	nlmsg_hdr(m)->nlmsg_type = FAM;
	assert_int_equal(nlev_recv_msg(m, nl), NL_OK);
	assert_int_equal(r.calls, 1);
	assert_int_equal(s.n, 1);
	nlmsg_free(m);
	tcmu_nl_close(nl);
}

/* ---- the real socket ---------------------------------------------------- */

static int never_called(const struct tcmu_nl_event *ev, void *arg)
{
	fail();
	return 0;
}

static void open_without_module_is_enoent(void **state)
{
	struct tcmu_nl *nl = (void *)1;
	int ret;

	if (access("/sys/module/target_core_user", F_OK) == 0)
		skip(); /* the VM tests cover the loaded case */
	ret = tcmu_nl_open(never_called, NULL, &nl);
	if (ret == -EAFNOSUPPORT || ret == -EPROTONOSUPPORT)
		skip(); /* no generic netlink in this sandbox */
	assert_int_equal(ret, -ENOENT);
	assert_null(nl);
	assert_int_equal(tcmu_nl_open(NULL, NULL, &nl), -EINVAL);
	assert_null(tcmu_nl_close(NULL));
	assert_int_equal(tcmu_nl_dispatch(NULL), -EINVAL);
	assert_int_equal(tcmu_nl_get_fd(NULL), -EBADF);
}

/*
 * The receive path on a real socket: another (root) socket unicasts
 * TCM-USER-looking events to ours. dispatch must drain them all, drop
 * them (not from the kernel: port != 0) and stop at EAGAIN with 0.
 */
static void dispatch_drains_and_drops_user_senders(void **state)
{
	struct rec r = { .ret = 0 };
	struct sent s = { 0 };
	struct tcmu_nl *nl = nlev_new(FAM, record_event, &r, capture_send, &s);
	struct nl_sock *tx = nl_socket_alloc();
	int fd;

	assert_non_null(nl);
	assert_non_null(tx);
	nl->sock = nl_socket_alloc();
	assert_non_null(nl->sock);
	if (nl_connect(nl->sock, NETLINK_GENERIC) < 0 ||
	    nl_connect(tx, NETLINK_GENERIC) < 0) {
		nl_socket_free(tx);
		tcmu_nl_close(nl);
		skip(); /* no generic netlink here */
	}
	assert_int_equal(nlev_attach(nl), 0);
	fd = tcmu_nl_get_fd(nl);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);

	assert_int_equal(tcmu_nl_dispatch(nl), 0); /* nothing yet */
	for (int i = 0; i < 3; i++) {
		struct nl_msg *m = ev_std(TCMU_CMD_ADDED_DEVICE,
					  "tcm-user/1/d/f/x", 1, i);
		int ret;

		nlmsg_hdr(m)->nlmsg_pid = nl_socket_get_local_port(tx);
		nl_socket_set_peer_port(tx, nl_socket_get_local_port(nl->sock));
		ret = nl_send_auto(tx, m);
		nlmsg_free(m);
		if (ret == -NLE_PERM) {
			nl_socket_free(tx);
			tcmu_nl_close(nl);
			skip(); /* unicast to a user port needs CAP_NET_ADMIN */
		}
		assert_true(ret > 0);
	}
	assert_int_equal(tcmu_nl_dispatch(nl), 0);
	assert_int_equal(log_errors, 3); /* one line per dropped message */
	assert_int_equal(r.calls, 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(tcmu_nl_dispatch(nl), 0);
	assert_int_equal(log_errors, 3);
	nl_socket_free(tx);
	tcmu_nl_close(nl);
}

static void errno_mapping(void **state)
{
	assert_int_equal(nlev_errno(-NLE_OBJ_NOTFOUND), -ENOENT);
	assert_int_equal(nlev_errno(-NLE_OPNOTSUPP), -EOPNOTSUPP);
	assert_int_equal(nlev_errno(-NLE_PERM), -EPERM);
	assert_int_equal(nlev_errno(-NLE_NOMEM), -ENOMEM);
	assert_int_equal(nlev_errno(-NLE_AGAIN), -EAGAIN);
	assert_int_equal(nlev_errno(0), 0);
	assert_int_equal(nlev_errno(-NLE_FAILURE), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup(f, setup)
		T(parse_added_all_attrs),
		T(parse_removed_without_device_id),
		T(parse_reconfig_dev_cfg),
		T(parse_reconfig_dev_size_with_pad),
		T(parse_reconfig_writecache),
		T(parse_reconfig_without_change),
		T(parse_missing_device),
		T(parse_missing_minor),
		T(parse_empty_device),
		T(parse_wrong_lengths),
		T(parse_bad_device_id),
		T(parse_unterminated_strings),
		T(parse_truncated_attribute),
		T(parse_unknown_attribute_ignored),
		T(parse_not_an_event),
		T(parse_short_header),
		T(reply_cmds),
		T(reply_build),
		T(handle_success),
		T(handle_callback_failure_still_replies),
		T(handle_positive_return_is_error),
		T(handle_malformed_replies_einval),
		T(handle_unknown_command_no_reply),
		T(handle_no_replies_on_old_kernel),
		T(handle_send_failure_logged),
		T(recv_only_from_kernel_and_family),
		T(open_without_module_is_enoent),
		T(dispatch_drains_and_drops_user_senders),
		T(errno_mapping),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
