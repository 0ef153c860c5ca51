/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/netlink.c — the TCM-USER generic netlink family: device added /
 * removed / reconfigured events from target_core_user, and the *_DONE
 * replies the kernel waits for (with no timeout: a reply is sent for every
 * event whose command is known, whatever happened to it).
 *
 * Framing is libnl's; this file only decides what goes in. See
 * netlink_msg.h for what the kernel sends and expects.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "netlink_msg.h"

#define NLEV_RCVBUF (1 << 20) /* events are small; room for bursts */

static const char *cmd_name(int cmd)
{
	switch (cmd) {
	case TCMU_CMD_ADDED_DEVICE:
		return "ADDED_DEVICE";
	case TCMU_CMD_REMOVED_DEVICE:
		return "REMOVED_DEVICE";
	case TCMU_CMD_RECONFIG_DEVICE:
		return "RECONFIG_DEVICE";
	case TCMU_CMD_ADDED_DEVICE_DONE:
		return "ADDED_DEVICE_DONE";
	case TCMU_CMD_REMOVED_DEVICE_DONE:
		return "REMOVED_DEVICE_DONE";
	case TCMU_CMD_RECONFIG_DEVICE_DONE:
		return "RECONFIG_DEVICE_DONE";
	case TCMU_CMD_SET_FEATURES:
		return "SET_FEATURES";
	default:
		return "unknown";
	}
}

int nlev_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_SUCCESS:
		return 0;
	case NLE_INTR:
		return -EINTR;
	case NLE_BAD_SOCK:
		return -EBADF;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_MSGSIZE:
	case NLE_MSG_TRUNC:
		return -EMSGSIZE;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_PROTO_MISMATCH:
		return -EPROTONOSUPPORT;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_PERM:
		return -EPERM;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_DUMP_INTR:
		return -EINTR;
	default:
		return -EIO;
	}
}

/* ------------------------------------------------------------------ */
/* Parsing                                                            */
/* ------------------------------------------------------------------ */

/*
 * libnl's policy checks types and minimum lengths and that strings are
 * NUL-terminated; exact sizes are checked in attrs_problem().
 */
static struct nla_policy nlev_policy[TCMU_ATTR_MAX + 1] = {
	[TCMU_ATTR_DEVICE] = { .type = NLA_STRING },
	[TCMU_ATTR_MINOR] = { .type = NLA_U32 },
	[TCMU_ATTR_DEV_CFG] = { .type = NLA_STRING },
	[TCMU_ATTR_DEV_SIZE] = { .type = NLA_U64 },
	[TCMU_ATTR_WRITECACHE] = { .type = NLA_U8 },
	[TCMU_ATTR_DEVICE_ID] = { .type = NLA_U32 },
};

static const char *const attr_names[TCMU_ATTR_MAX + 1] = {
	[TCMU_ATTR_DEVICE] = "DEVICE",
	[TCMU_ATTR_MINOR] = "MINOR",
	[TCMU_ATTR_DEV_CFG] = "DEV_CFG",
	[TCMU_ATTR_DEV_SIZE] = "DEV_SIZE",
	[TCMU_ATTR_WRITECACHE] = "WRITECACHE",
	[TCMU_ATTR_DEVICE_ID] = "DEVICE_ID",
};

/* Exact payload size of a fixed-size attribute, or 0 for strings. */
static int attr_size(int type)
{
	switch (type) {
	case TCMU_ATTR_MINOR:
	case TCMU_ATTR_DEVICE_ID:
		return 4;
	case TCMU_ATTR_DEV_SIZE:
		return 8;
	case TCMU_ATTR_WRITECACHE:
		return 1;
	default:
		return 0;
	}
}

static bool is_string_attr(int type)
{
	return type == TCMU_ATTR_DEVICE || type == TCMU_ATTR_DEV_CFG;
}

/* NULL if @tb is a well-formed event @cmd, else why (in @why). */
static const char *attrs_problem(int cmd, struct nlattr **tb, char *why,
				 size_t why_len)
{
	static const int checked[] = {
		TCMU_ATTR_DEVICE,   TCMU_ATTR_MINOR,      TCMU_ATTR_DEV_CFG,
		TCMU_ATTR_DEV_SIZE, TCMU_ATTR_WRITECACHE, TCMU_ATTR_DEVICE_ID,
	};

	for (size_t i = 0; i < sizeof(checked) / sizeof(checked[0]); i++) {
		int t = checked[i];
		const struct nlattr *a = tb[t];
		int len;

		if (!a)
			continue;
		len = nla_len(a);
		if (is_string_attr(t)) {
			const char *s = nla_data(a);

			if (len < 1 || s[len - 1] != '\0' ||
			    strnlen(s, len) != (size_t)len - 1) {
				snprintf(why, why_len,
					 "attribute %s is not a NUL-terminated string (%d bytes)",
					 attr_names[t], len);
				return why;
			}
		} else if (len != attr_size(t)) {
			snprintf(why, why_len,
				 "attribute %s has %d bytes, expected %d",
				 attr_names[t], len, attr_size(t));
			return why;
		}
	}
	if (!tb[TCMU_ATTR_DEVICE] || !tb[TCMU_ATTR_MINOR]) {
		snprintf(why, why_len, "attribute %s missing",
			 tb[TCMU_ATTR_DEVICE] ? "MINOR" : "DEVICE");
		return why;
	}
	if (!*(const char *)nla_data(tb[TCMU_ATTR_DEVICE])) {
		snprintf(why, why_len, "attribute DEVICE is empty");
		return why;
	}
	if (cmd == TCMU_CMD_RECONFIG_DEVICE && !tb[TCMU_ATTR_DEV_CFG] &&
	    !tb[TCMU_ATTR_DEV_SIZE] && !tb[TCMU_ATTR_WRITECACHE]) {
		snprintf(why, why_len,
			 "RECONFIG without DEV_CFG, DEV_SIZE or WRITECACHE");
		return why;
	}
	return NULL;
}

int nlev_parse(struct nlmsghdr *nlh, struct tcmu_nl_event *ev, char *why,
	       size_t why_len)
{
	struct nlattr *tb[TCMU_ATTR_MAX + 1];
	struct genlmsghdr *ghdr;
	struct nlattr *id;
	int ret;

	memset(ev, 0, sizeof(*ev));
	ev->write_cache = -1;
	if (why_len)
		why[0] = '\0';

	if (!genlmsg_valid_hdr(nlh, 0)) {
		snprintf(why, why_len,
			 "message of %u bytes too short for a genl header",
			 nlh->nlmsg_len);
		return -EINVAL;
	}
	ghdr = nlmsg_data(nlh);
	ev->cmd = ghdr->cmd;
	if (ev->cmd != TCMU_CMD_ADDED_DEVICE &&
	    ev->cmd != TCMU_CMD_REMOVED_DEVICE &&
	    ev->cmd != TCMU_CMD_RECONFIG_DEVICE) {
		snprintf(why, why_len, "command %d (%s) is not an event",
			 ev->cmd, cmd_name(ev->cmd));
		return -EOPNOTSUPP;
	}

	ret = nla_parse(tb, TCMU_ATTR_MAX, genlmsg_attrdata(ghdr, 0),
			genlmsg_attrlen(ghdr, 0), nlev_policy);
	if (ret < 0) {
		/* Salvage what a reply needs, then explain. */
		nla_parse(tb, TCMU_ATTR_MAX, genlmsg_attrdata(ghdr, 0),
			  genlmsg_attrlen(ghdr, 0), NULL);
	}
	id = tb[TCMU_ATTR_DEVICE_ID];
	if (id && nla_len(id) == 4) {
		ev->device_id = nla_get_u32(id);
		ev->has_device_id = true;
	}
	if (attrs_problem(ev->cmd, tb, why, why_len))
		return -EINVAL;
	if (ret < 0) {
		snprintf(why, why_len, "attributes fail the policy: %s",
			 nl_geterror(ret));
		return -EINVAL;
	}

	ev->device = nla_data(tb[TCMU_ATTR_DEVICE]);
	ev->minor = nla_get_u32(tb[TCMU_ATTR_MINOR]);
	if (ev->cmd == TCMU_CMD_RECONFIG_DEVICE) {
		if (tb[TCMU_ATTR_DEV_CFG]) {
			/* The kernel passes on what was written, "\n" too. */
			char *cfg = nla_data(tb[TCMU_ATTR_DEV_CFG]);
			size_t n = strlen(cfg);

			while (n && cfg[n - 1] == '\n')
				cfg[--n] = '\0';
			ev->dev_cfg = cfg;
		}
		if (tb[TCMU_ATTR_DEV_SIZE]) {
			ev->dev_size = nla_get_u64(tb[TCMU_ATTR_DEV_SIZE]);
			ev->has_dev_size = true;
		}
		if (tb[TCMU_ATTR_WRITECACHE])
			ev->write_cache =
				nla_get_u8(tb[TCMU_ATTR_WRITECACHE]) ? 1 : 0;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Replies                                                            */
/* ------------------------------------------------------------------ */

int nlev_reply_cmd(int cmd)
{
	switch (cmd) {
	case TCMU_CMD_ADDED_DEVICE:
		return TCMU_CMD_ADDED_DEVICE_DONE;
	case TCMU_CMD_REMOVED_DEVICE:
		return TCMU_CMD_REMOVED_DEVICE_DONE;
	case TCMU_CMD_RECONFIG_DEVICE:
		return TCMU_CMD_RECONFIG_DEVICE_DONE;
	default:
		return 0;
	}
}

int nlev_build_reply(int family, const struct tcmu_nl_event *ev, int status,
		     struct nl_msg **out)
{
	int cmd = nlev_reply_cmd(ev->cmd);
	struct nl_msg *msg;

	*out = NULL;
	if (!cmd)
		return -EINVAL;
	msg = nlmsg_alloc();
	if (!msg)
		return -ENOMEM;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, 0, cmd,
			 NLEV_VERSION) ||
	    nla_put_s32(msg, TCMU_ATTR_CMD_STATUS, status) < 0 ||
	    (ev->has_device_id &&
	     nla_put_u32(msg, TCMU_ATTR_DEVICE_ID, ev->device_id) < 0)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	*out = msg;
	return 0;
}

/* Default sender: to the kernel, no ack requested (errors still come back). */
static int nlev_send_kernel(struct tcmu_nl *nl, struct nl_msg *msg)
{
	int ret;

	for (int tries = 0; tries < 3; tries++) {
		ret = nl_send_auto(nl->sock, msg);
		if (ret != -NLE_AGAIN && ret != -NLE_INTR)
			break;
	}
	return ret < 0 ? nlev_errno(ret) : 0;
}

static void send_reply(struct tcmu_nl *nl, const struct tcmu_nl_event *ev,
		       int status)
{
	struct nl_msg *msg;
	int ret;

	if (!nl->replies) {
		tcmu_dbg("netlink: kernel takes no replies; %s status %d not sent",
			 cmd_name(ev->cmd), status);
		return;
	}
	ret = nlev_build_reply(nl->family, ev, status, &msg);
	if (!ret) {
		ret = nl->send(nl, msg);
		nlmsg_free(msg);
	}
	if (ret) {
		tcmu_err("netlink: could not send %s reply (status %d) for device id %" PRIu32
			 ": %s; the kernel may wait for it forever (see target_core_user's block_netlink / reset_netlink parameters)",
			 cmd_name(nlev_reply_cmd(ev->cmd)), status,
			 ev->device_id, strerror(-ret));
		return;
	}
	if (!ev->has_device_id)
		tcmu_warn("netlink: %s carried no DEVICE_ID; replied without one",
			  cmd_name(ev->cmd));
}

int nlev_handle(struct tcmu_nl *nl, struct nlmsghdr *nlh)
{
	struct tcmu_nl_event ev;
	char why[160];
	int ret;

	ret = nlev_parse(nlh, &ev, why, sizeof(why));
	if (ret == -EOPNOTSUPP) {
		tcmu_err("netlink: ignoring TCM-USER message: %s", why);
		return ret;
	}
	if (ret && !nlev_reply_cmd(ev.cmd)) {
		tcmu_err("netlink: dropping malformed TCM-USER message: %s", why);
		return ret;
	}
	if (ret) {
		tcmu_err("netlink: malformed %s event (%u bytes, device id %s%" PRIu32
			 "): %s; replying %d",
			 cmd_name(ev.cmd), nlh->nlmsg_len,
			 ev.has_device_id ? "" : "absent ", ev.device_id, why,
			 ret);
	} else {
		tcmu_dbg("netlink: %s %s minor %" PRIu32 " device id %" PRIu32,
			 cmd_name(ev.cmd), ev.device, ev.minor, ev.device_id);
		ret = nl->fn(&ev, nl->arg);
		if (ret > 0) {
			tcmu_err("netlink: %s handler for %s returned %d, not -errno; replying -EINVAL",
				 cmd_name(ev.cmd), ev.device, ret);
			ret = -EINVAL;
		}
	}
	send_reply(nl, &ev, ret);
	return ret;
}

int nlev_recv_msg(struct nl_msg *msg, void *arg)
{
	struct tcmu_nl *nl = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct sockaddr_nl *src = nlmsg_get_src(msg);

	if (src && src->nl_pid != 0) {
		tcmu_err("netlink: dropping message from port %" PRIu32
			 ", not the kernel",
			 src->nl_pid);
		return NL_OK;
	}
	if (nlh->nlmsg_type != nl->family) {
		tcmu_dbg("netlink: ignoring message of type %u", nlh->nlmsg_type);
		return NL_OK;
	}
	nlev_handle(nl, nlh);
	return NL_OK;
}

/* The kernel refused something we sent (a reply: nothing asks for acks). */
static int nlev_recv_err(struct sockaddr_nl *who, struct nlmsgerr *err,
			 void *arg)
{
	int cmd = -1;

	if (err->msg.nlmsg_len >= NLMSG_HDRLEN + GENL_HDRLEN)
		cmd = ((struct genlmsghdr *)NLMSG_DATA(&err->msg))->cmd;
	if (err->error == -ENODEV)
		tcmu_warn("netlink: kernel has no pending command for our %s (device not waiting for a reply)",
			  cmd_name(cmd));
	else if (err->error)
		tcmu_err("netlink: kernel refused our %s: %s",
			 cmd_name(cmd), strerror(-err->error));
	return NL_SKIP;
}

static int nlev_no_seq_check(struct nl_msg *msg, void *arg)
{
	return NL_OK;
}

struct tcmu_nl *nlev_new(int family, tcmu_nl_event_fn fn, void *arg,
			 nlev_send_fn send, void *send_arg)
{
	struct tcmu_nl *nl = calloc(1, sizeof(*nl));

	if (!nl)
		return NULL;
	nl->family = family;
	nl->fn = fn;
	nl->arg = arg;
	nl->replies = true;
	nl->send = send ? send : nlev_send_kernel;
	nl->send_arg = send_arg;
	return nl;
}

int nlev_attach(struct tcmu_nl *nl)
{
	int ret;

	nl->cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!nl->cb)
		return -ENOMEM;
	nl_cb_set(nl->cb, NL_CB_VALID, NL_CB_CUSTOM, nlev_recv_msg, nl);
	/* Events are multicast with sequence number 0. */
	nl_cb_set(nl->cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, nlev_no_seq_check,
		  NULL);
	nl_cb_err(nl->cb, NL_CB_CUSTOM, nlev_recv_err, nl);
	/* Replies go without NLM_F_ACK: the kernel answers only refusals. */
	nl_socket_disable_auto_ack(nl->sock);
	if (nl_socket_set_buffer_size(nl->sock, NLEV_RCVBUF, 0) < 0)
		tcmu_dbg("netlink: could not enlarge the receive buffer");
	ret = nl_socket_set_nonblocking(nl->sock);
	return ret < 0 ? nlev_errno(ret) : 0;
}

/* ------------------------------------------------------------------ */
/* Public API                                                         */
/* ------------------------------------------------------------------ */

/*
 * Tells the kernel we send *_DONE replies. Blocking send + ack wait, done
 * before joining the group so that no event can arrive (and be eaten by
 * libnl's ack wait) meanwhile.
 */
static int nlev_set_features(struct tcmu_nl *nl)
{
	struct nl_msg *msg = nlmsg_alloc();
	int ret;

	if (!msg)
		return -ENOMEM;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, 0,
			 TCMU_CMD_SET_FEATURES, NLEV_VERSION) ||
	    nla_put_u8(msg, TCMU_ATTR_SUPP_KERN_CMD_REPLY, 1) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	ret = nl_send_sync(nl->sock, msg); /* frees msg */
	return ret < 0 ? nlev_errno(ret) : 0;
}

int tcmu_nl_open(tcmu_nl_event_fn fn, void *arg, struct tcmu_nl **out)
{
	struct tcmu_nl *nl;
	int grp, ret;

	if (!fn || !out)
		return -EINVAL;
	*out = NULL;
	nl = nlev_new(0, fn, arg, NULL, NULL);
	if (!nl)
		return -ENOMEM;
	nl->sock = nl_socket_alloc();
	if (!nl->sock) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = genl_connect(nl->sock);
	if (ret < 0) {
		ret = nlev_errno(ret);
		tcmu_dbg("netlink: cannot connect to generic netlink: %s",
			 strerror(-ret));
		goto fail;
	}
	fcntl(nl_socket_get_fd(nl->sock), F_SETFD, FD_CLOEXEC);

	nl->family = genl_ctrl_resolve(nl->sock, NLEV_FAMILY);
	if (nl->family < 0) {
		ret = nlev_errno(nl->family);
		if (ret == -ENOENT)
			tcmu_dbg("netlink: family " NLEV_FAMILY
				 " not registered: is target_core_user loaded?");
		else
			tcmu_dbg("netlink: cannot resolve " NLEV_FAMILY ": %s",
				 strerror(-ret));
		goto fail;
	}
	grp = genl_ctrl_resolve_grp(nl->sock, NLEV_FAMILY, NLEV_GROUP);
	if (grp < 0) {
		ret = nlev_errno(grp);
		tcmu_dbg("netlink: cannot resolve group " NLEV_GROUP ": %s",
			 strerror(-ret));
		goto fail;
	}

	ret = nlev_set_features(nl);
	if (ret == -EOPNOTSUPP) {
		/* Pre-4.14 kernels: no SET_FEATURES, no *_DONE, no waiting. */
		tcmu_info("netlink: kernel does not take command replies");
		nl->replies = false;
	} else if (ret) {
		tcmu_dbg("netlink: SET_FEATURES(SUPP_KERN_CMD_REPLY) failed: %s",
			 strerror(-ret));
		goto fail;
	}

	ret = nl_socket_add_membership(nl->sock, grp);
	if (ret < 0) {
		ret = nlev_errno(ret);
		tcmu_dbg("netlink: cannot join group " NLEV_GROUP ": %s",
			 strerror(-ret));
		goto fail;
	}
	ret = nlev_attach(nl);
	if (ret)
		goto fail;
	*out = nl;
	return 0;
fail:
	tcmu_nl_close(nl);
	return ret;
}

int tcmu_nl_get_fd(const struct tcmu_nl *nl)
{
	return nl && nl->sock ? nl_socket_get_fd(nl->sock) : -EBADF;
}

int tcmu_nl_dispatch(struct tcmu_nl *nl)
{
	bool lost_logged = false;
	int ret;

	if (!nl || !nl->sock)
		return -EINVAL;
	for (;;) {
		ret = nl_recvmsgs_report(nl->sock, nl->cb);
		if (ret > 0)
			continue;
		if (ret == 0 || ret == -NLE_AGAIN)
			return 0;
		if (ret == -NLE_NOMEM && !lost_logged) {
			/* ENOBUFS: the socket overran; events were dropped. */
			tcmu_err("netlink: receive overrun or no memory: events may be lost and the kernel may wait for their replies (target_core_user's reset_netlink parameter ends such waits)");
			lost_logged = true;
			continue;
		}
		ret = nlev_errno(ret);
		tcmu_dbg("netlink: receive failed: %s", strerror(-ret));
		return ret;
	}
}

struct tcmu_nl *tcmu_nl_close(struct tcmu_nl *nl)
{
	if (!nl)
		return NULL;
	if (nl->cb)
		nl_cb_put(nl->cb);
	if (nl->sock)
		nl_socket_free(nl->sock);
	free(nl);
	return NULL;
}
