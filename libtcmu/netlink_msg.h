/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/netlink_msg.h — internals of netlink.c: parsing one TCM-USER
 * generic netlink event and building its *_DONE reply, without a kernel.
 * Only netlink.c and tests/unit/test_netlink.c include this.
 *
 * What the kernel (drivers/target/target_core_user.c) sends, multicast on
 * the family's "config" group, version 2:
 *   ADDED_DEVICE, REMOVED_DEVICE: DEVICE (string, the uio name),
 *       MINOR (u32), DEVICE_ID (u32, se_device dev_index; kernels >= 4.16)
 *   RECONFIG_DEVICE: the same plus exactly one of DEV_CFG (string),
 *       DEV_SIZE (u64, maybe preceded by a PAD attribute) or WRITECACHE (u8)
 * What it expects back, when it waits (it does once any daemon has sent
 * SET_FEATURES(SUPP_KERN_CMD_REPLY=1), and then with no timeout):
 *   <cmd>_DONE with CMD_STATUS (s32, 0 or -errno) and DEVICE_ID (u32); a
 *   reply without DEVICE_ID is refused, so the wait only ends for events
 *   that carried one.
 */
#ifndef TCMU_NETLINK_MSG_H
#define TCMU_NETLINK_MSG_H

#include <stdbool.h>

#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "tcmu_internal.h"

#define NLEV_FAMILY "TCM-USER"
#define NLEV_GROUP "config"
#define NLEV_VERSION 2

/* Sends one message to the kernel; returns 0 or -errno. */
typedef int (*nlev_send_fn)(struct tcmu_nl *nl, struct nl_msg *msg);

struct tcmu_nl {
	struct nl_sock *sock;   /* NULL for a test instance */
	struct nl_cb *cb;
	int family;             /* generic netlink family id of TCM-USER */
	tcmu_nl_event_fn fn;
	void *arg;
	bool replies;           /* false: the kernel has no *_DONE commands */
	nlev_send_fn send;
	void *send_arg;         /* for tests */
};

/*
 * nlev_parse — decode one TCM-USER message into @ev (strings point into
 * @nlh; a trailing newline of DEV_CFG is cut in place). Any thread; never
 * blocks. Returns:
 *   0            a well-formed ADDED / REMOVED / RECONFIG event;
 *   -EOPNOTSUPP  a command that is not an event (ev->cmd says which);
 *   -EINVAL      malformed: ev->cmd is set when the generic netlink header
 *                was readable (0 otherwise), and ev->device_id /
 *                has_device_id when that attribute could be salvaged, so
 *                that a reply can still be sent.
 * On failure @why (of @why_len bytes) says what is wrong, for the log.
 */
int nlev_parse(struct nlmsghdr *nlh, struct tcmu_nl_event *ev, char *why,
	       size_t why_len);

/* nlev_reply_cmd — the *_DONE command answering event @cmd, or 0. */
int nlev_reply_cmd(int cmd);

/*
 * nlev_build_reply — allocate the *_DONE message for event @ev with
 * CMD_STATUS = @status and DEVICE_ID if the event had one. Returns 0 and
 * *@out (free with nlmsg_free()), -EINVAL if @ev->cmd is not an event, or
 * -ENOMEM.
 */
int nlev_build_reply(int family, const struct tcmu_nl_event *ev, int status,
		     struct nl_msg **out);

/*
 * nlev_handle — one received message: parse it, call the event callback
 * if it is well formed, and send the *_DONE reply in every case where the
 * command is known (callback failure and malformed message included).
 * Main thread. Returns the status sent, or -EOPNOTSUPP / -EINVAL when no
 * reply could be sent (not an event, or the command is unknown).
 */
int nlev_handle(struct tcmu_nl *nl, struct nlmsghdr *nlh);

/*
 * nlev_recv_msg — libnl's valid-message callback: drops messages not from
 * the kernel (source port != 0) or of another family, then nlev_handle().
 * Always returns NL_OK.
 */
int nlev_recv_msg(struct nl_msg *msg, void *arg);

/*
 * nlev_new — a tcmu_nl without a socket, for tests: replies go to @send.
 * Free with tcmu_nl_close(). Returns NULL on ENOMEM.
 */
struct tcmu_nl *nlev_new(int family, tcmu_nl_event_fn fn, void *arg,
			 nlev_send_fn send, void *send_arg);

/*
 * nlev_attach — make nl->sock (connected, group joined) ready for
 * tcmu_nl_dispatch(): receive callbacks, no auto-ack, non-blocking.
 * Main thread. Returns 0 or -errno.
 */
int nlev_attach(struct tcmu_nl *nl);

/* nlev_errno — a libnl error code (negative NLE_*) as -errno. */
int nlev_errno(int nlerr);

#endif
