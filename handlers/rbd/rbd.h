/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handlers/rbd/rbd.h — internals of the "rbd" handler shared by its files:
 * the parsed config string (cfg.c) and the rados connections shared between
 * LUNs (conn.c). The handler itself is rbd.c; README.md explains the design.
 */
#ifndef TCMU_RBD_H
#define TCMU_RBD_H

#include <stdbool.h>
#include <stdint.h>

#include <rados/librados.h>

/* Seconds a connection attempt may take (client_mount_timeout). */
#define RBD_CONNECT_TIMEOUT 30
/* Largest osd_op_timeout accepted, in seconds. */
#define RBD_MAX_OP_TIMEOUT (24 * 3600)

/** A parsed config string "<pool>[/<namespace>]/<image>[;opt=val...]". */
struct rbd_cfg {
	char *pool;
	char *ns;              /* NULL: the pool's default namespace */
	char *image;
	char *conf;            /* ceph.conf path; NULL: librados' search */
	char *id;              /* client id without "client."; NULL: admin */
	unsigned int osd_op_timeout; /* seconds; 0: wait for ever */
};

/*
 * rbd_cfg_parse — parse @s (the config after "rbd/") into @c. Pure: no
 * file or cluster is looked at. Returns 0, or -EINVAL with a malloc'ed
 * message in *@reason (if @reason is not NULL). @c is freed on failure.
 * Any thread.
 */
int rbd_cfg_parse(const char *s, struct rbd_cfg *c, char **reason);
/* rbd_cfg_free — free the strings of @c (NULL-safe) and zero it. */
void rbd_cfg_free(struct rbd_cfg *c);
/* rbd_cfg_same_cluster — do @a and @b need the same rados connection? */
bool rbd_cfg_same_cluster(const struct rbd_cfg *a, const struct rbd_cfg *b);
/* rbd_cfg_equal — do @a and @b name the same image with the same options? */
bool rbd_cfg_equal(const struct rbd_cfg *a, const struct rbd_cfg *b);

/*
 * A connection to a cluster (a rados_t), shared by every LUN with the same
 * conf, id and osd_op_timeout, and counted. A connection whose client was
 * blocklisted is "dead": it stays usable for the LUNs that still hold it
 * (their I/O fails with -ESHUTDOWN), but rbd_conn_get() never hands it out
 * again and makes a new one instead.
 */
struct rbd_conn {
	struct rbd_conn *next;
	struct rbd_cfg key;    /* conf, id, osd_op_timeout used */
	rados_t cluster;
	unsigned int refs;
	bool dead;
};

/*
 * rbd_conn_get — a reference to the live connection for @c, connecting
 * first if there is none (that blocks for up to RBD_CONNECT_TIMEOUT s).
 * Any thread but a librbd callback. Returns 0 and *@out, or -errno.
 */
int rbd_conn_get(const struct rbd_cfg *c, struct rbd_conn **out);
/*
 * rbd_conn_put — drop a reference; the last one shuts the connection down
 * (blocks briefly). Any thread but a librbd callback. NULL is fine.
 */
void rbd_conn_put(struct rbd_conn *cn);
/* rbd_conn_kill — mark @cn dead (blocklisted). Any thread; never blocks. */
void rbd_conn_kill(struct rbd_conn *cn);
/* rbd_conn_count — live + dead connections, for tests and logs. */
unsigned int rbd_conn_count(void);

#endif
