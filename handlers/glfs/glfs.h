/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handlers/glfs/glfs.h — internals of the "glfs" handler (a LUN backed by a
 * file on a GlusterFS volume, through libgfapi), shared by its files:
 *
 *   cfg.c   the config string "<volume>@<host>[:<port>]/<path>" (pure)
 *   conn.c  glfs_t connections shared between LUNs, kept for a while after
 *           the last LUN closed and finished (glfs_fini) on a background
 *           thread; gfapi's own log file
 *   glfs.c  the handler: check_config, open/close, asynchronous I/O
 *
 * README.md in this directory explains the design and the environment
 * variables.
 */
#ifndef TCMU_HANDLER_GLFS_H
#define TCMU_HANDLER_GLFS_H

#include <stdbool.h>
#include <stdint.h>

#include <glusterfs/api/glfs.h>

#define GL_DEFAULT_PORT 24007
#define GL_MAX_VOLUME 128 /* bytes of a volume name, without the NUL */
#define GL_MAX_HOST 255   /* bytes of a host name or address */
#define GL_MAX_PATH 4095  /* bytes of the path inside the volume */

/** A parsed config string: "<volume>@<host>[:<port>]/<path>". */
struct gl_cfg {
	char *volume;
	char *host;       /* a name or an address; IPv6 without brackets */
	unsigned int port;
	char *path;       /* inside the volume, starts with '/' */
};

/*
 * gl_cfg_parse — parse @s (the config after "glfs/") into @c. Pure string
 * work: no host is contacted. Returns 0, -EINVAL with a malloc'ed message
 * in *@reason (when @reason is not NULL), or -ENOMEM. @c is zeroed on
 * failure. Any thread.
 */
int gl_cfg_parse(const char *s, struct gl_cfg *c, char **reason);
/* gl_cfg_free — frees the strings of @c (NULL-safe) and zeroes it. */
void gl_cfg_free(struct gl_cfg *c);
/* gl_cfg_parent — malloc'ed directory part of c->path ("/" at least). */
char *gl_cfg_parent(const struct gl_cfg *c);

/*
 * A connection (glfs_t) to one volume through one volfile server, shared
 * by every LUN that names the same volume, host and port, and counted.
 * When the last LUN lets go it stays cached for the linger time (a new LUN
 * on the same volume then starts at once), and then glfs_fini() runs on a
 * background thread: it takes about 10 s, which no caller should wait for.
 * A connection that was found broken is "retired": the LUNs holding it keep
 * it, but gl_conn_get() never hands it out again.
 */
struct gl_conn {
	struct gl_conn *next;
	char *volume;
	char *host;
	unsigned int port;
	glfs_t *fs;
	unsigned int refs;     /* under the cache lock */
	bool retired;
	uint64_t idle_since;   /* CLOCK_MONOTONIC ns when refs dropped to 0 */
};

/*
 * gl_conn_get — a reference to the connection for @c's volume, host and
 * port, made (glfs_init) when there is none. Main thread (open,
 * check_config); may block while connecting. Returns 0 and *@out, or
 * -errno (-ENOENT: no such volume; -ENOTCONN and friends: glusterd not
 * reachable).
 */
int gl_conn_get(const struct gl_cfg *c, struct gl_conn **out);
/*
 * gl_conn_put — drop a reference; the last one starts the linger time.
 * Any thread but a gfapi callback; never blocks for long. NULL is fine.
 */
void gl_conn_put(struct gl_conn *cn);
/*
 * gl_conn_retire — stop handing @cn out (it looked broken); the next
 * gl_conn_get() for its volume connects anew. Any thread; never blocks.
 */
void gl_conn_retire(struct gl_conn *cn);
/*
 * gl_conn_shutdown — stop the background thread and finish every
 * connection no LUN holds, in parallel. Handler exit(); blocks (each
 * glfs_fini takes ~10 s; it waits 30 s at most). The handler may be used
 * again afterwards.
 */
void gl_conn_shutdown(void);
/* gl_conn_count — connections cached or being finished (tests, logs). */
unsigned int gl_conn_count(void);
/*
 * gl_log_path — malloc'ed path of gfapi's log file for @volume:
 * $TCMU_LOG_DIR (default /var/log) + "/tcmu-glfs-<volume>.log".
 */
char *gl_log_path(const char *volume);

#endif
