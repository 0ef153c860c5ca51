/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handlers/rbd/conn.c — rados connections shared between LUNs.
 *
 * A rados_t costs a few threads, sockets to the mon and every OSD, and a
 * cephx session, so LUNs with the same (conf, id, osd_op_timeout) share one,
 * counted. The registry is a short list under one mutex; connecting happens
 * with the mutex held, so two LUNs opening at once never make two
 * connections (a connect is bounded by client_mount_timeout).
 *
 * Blocklisting (the exclusive lock was broken by another client) fences a
 * whole rados client, so it hits every LUN on that connection: the first LUN
 * to see -ESHUTDOWN marks the connection dead and each LUN then reopens on a
 * fresh one, which the first of them creates.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tcmu/handler.h>

#include "rbd.h"

static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rbd_conn *conn_list;

static int conn_dup_key(struct rbd_cfg *dst, const struct rbd_cfg *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->osd_op_timeout = src->osd_op_timeout;
	if (src->conf && !(dst->conf = strdup(src->conf)))
		return -ENOMEM;
	if (src->id && !(dst->id = strdup(src->id)))
		return -ENOMEM;
	return 0;
}

/* Connect a new client for @c. Blocks. Returns 0 and *@out, or -errno. */
static int conn_connect(const struct rbd_cfg *c, rados_t *out)
{
	char name[300], val[32];
	rados_t cl;
	int r;

	snprintf(name, sizeof(name), "client.%s", c->id ? c->id : "admin");
	r = rados_create2(&cl, "ceph", name, 0);
	if (r < 0)
		return r;
	r = rados_conf_read_file(cl, c->conf);
	if (r < 0)
		goto fail;
	if (c->osd_op_timeout) {
		snprintf(val, sizeof(val), "%u", c->osd_op_timeout);
		r = rados_conf_set(cl, "rados_osd_op_timeout", val);
		if (r < 0)
			goto fail;
	}
	/*
	 * No librbd cache. Its default (write-around after the first flush)
	 * completes a write before the OSD has it and reports a failed write
	 * only to the next flush, once: with an initiator's FUA writes or
	 * flushes in flight, writes that never reached the OSD would end GOOD.
	 * Every SCSI write must end with its own result.
	 */
	r = rados_conf_set(cl, "rbd_cache", "false");
	if (r < 0)
		goto fail;
	/* nor a persistent write-back cache plugin (pwl): rbd.c completes a
	 * FUA write without a flush, which is right only when librbd's write
	 * completion means "committed on the OSD" */
	r = rados_conf_set(cl, "rbd_plugins", "");
	if (r < 0)
		goto fail;
	/* Never let a dead mon hold open() (main thread) for the default 300 s. */
	snprintf(val, sizeof(val), "%d", RBD_CONNECT_TIMEOUT);
	r = rados_conf_set(cl, "client_mount_timeout", val);
	if (r < 0)
		goto fail;
	r = rados_connect(cl);
	if (r < 0)
		goto fail;
	*out = cl;
	return 0;
fail:
	rados_shutdown(cl);
	return r;
}

int rbd_conn_get(const struct rbd_cfg *c, struct rbd_conn **out)
{
	struct rbd_conn *cn;
	int r;

	pthread_mutex_lock(&conn_lock);
	for (cn = conn_list; cn; cn = cn->next) {
		if (!__atomic_load_n(&cn->dead, __ATOMIC_ACQUIRE) &&
		    rbd_cfg_same_cluster(&cn->key, c)) {
			cn->refs++;
			pthread_mutex_unlock(&conn_lock);
			*out = cn;
			return 0;
		}
	}
	cn = calloc(1, sizeof(*cn));
	r = cn ? conn_dup_key(&cn->key, c) : -ENOMEM;
	if (!r)
		r = conn_connect(c, &cn->cluster);
	if (r) {
		pthread_mutex_unlock(&conn_lock);
		if (cn)
			rbd_cfg_free(&cn->key);
		free(cn);
		return r;
	}
	cn->refs = 1;
	cn->next = conn_list;
	conn_list = cn;
	pthread_mutex_unlock(&conn_lock);
	tcmu_dbg("rbd: connected to the cluster as client.%s (%s)",
		 c->id ? c->id : "admin", c->conf ? c->conf : "default conf");
	*out = cn;
	return 0;
}

void rbd_conn_put(struct rbd_conn *cn)
{
	struct rbd_conn **pp;

	if (!cn)
		return;
	pthread_mutex_lock(&conn_lock);
	if (--cn->refs) {
		pthread_mutex_unlock(&conn_lock);
		return;
	}
	for (pp = &conn_list; *pp; pp = &(*pp)->next) {
		if (*pp == cn) {
			*pp = cn->next;
			break;
		}
	}
	pthread_mutex_unlock(&conn_lock);
	rados_shutdown(cn->cluster);
	rbd_cfg_free(&cn->key);
	free(cn);
}

/* Lock-free: a librbd thread must not wait for a connect in progress. */
void rbd_conn_kill(struct rbd_conn *cn)
{
	__atomic_store_n(&cn->dead, true, __ATOMIC_RELEASE);
}

unsigned int rbd_conn_count(void)
{
	unsigned int n = 0;

	pthread_mutex_lock(&conn_lock);
	for (struct rbd_conn *cn = conn_list; cn; cn = cn->next)
		n++;
	pthread_mutex_unlock(&conn_lock);
	return n;
}
