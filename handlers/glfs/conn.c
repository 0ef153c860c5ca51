/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handlers/glfs/conn.c — glfs_t connections shared between LUNs.
 *
 * One glfs_t per (volume, volfile host, port), counted. glfs_init takes a
 * few tens of milliseconds, but glfs_fini about ten seconds (it waits for
 * gfapi's threads to wind down), so:
 *  - a connection no LUN holds stays cached for the linger time
 *    ($TCMU_GLFS_LINGER seconds, default 60): closing and re-adding a LUN,
 *    or check_config followed by open, reuses it;
 *  - after that a background thread ("glfs-reaper") hands it to a
 *    short-lived "glfs-fini" thread, so that nobody waits for glfs_fini:
 *    not the ring thread, not the main thread, not the next connection;
 *  - exit() (gl_conn_shutdown) finishes the idle connections in parallel,
 *    waiting up to GL_SHUTDOWN_WAIT_S for them.
 *
 * gfapi's log goes to $TCMU_LOG_DIR/tcmu-glfs-<volume>.log (the daemon does
 * not pass its log directory to handlers yet; default /var/log).
 *
 * Client-side caching: the write-behind translator in the volume's client
 * graph acknowledges writes before the brick has them. We open files with
 * O_DIRECT and set write-behind's strict-O_DIRECT, so that a write is
 * acknowledged only once the brick has it (and so that several gateways
 * serving the same LUN never see stale data); durability then follows
 * SCSI's rules: FUA and SYNCHRONIZE CACHE become fdatasync on the brick.
 * The metadata cache (md-cache) is off too, see conn_connect().
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tcmu/handler.h>
#include <tcmu/libtcmu.h>

#include "glfs.h"

#define GL_DEFAULT_LINGER_S 60
#define GL_MAX_LINGER_S (24 * 3600)
#define GL_SHUTDOWN_WAIT_S 30 /* for glfs_fini()s at exit */
/* gfapi log levels (gf_loglevel_t) */
#define GL_GF_LOG_INFO 7
#define GL_GF_LOG_DEBUG 8

/* A glfs_fini() in progress on its own thread. */
struct gl_fini {
	struct gl_fini *next;
	struct gl_conn *cn;
	pthread_t thread;
	bool done;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct gl_conn *conns;    /* handed out, lingering or retired */
	struct gl_fini *finis;    /* glfs_fini() threads not joined yet */
	pthread_t reaper;
	bool reaper_running;
	bool stop;
} G = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The linger time in ns, from $TCMU_GLFS_LINGER (seconds, 0..86400). */
static uint64_t linger_ns(void)
{
	const char *s = getenv("TCMU_GLFS_LINGER");
	unsigned long v = GL_DEFAULT_LINGER_S;
	char *end;

	if (s && *s) {
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno || *end || v > GL_MAX_LINGER_S)
			v = GL_DEFAULT_LINGER_S;
	}
	return (uint64_t)v * 1000000000ull;
}

static void conn_free(struct gl_conn *cn)
{
	free(cn->volume);
	free(cn->host);
	free(cn);
}

/* Runs glfs_fini() of one connection; its own thread; blocks ~10 s. */
static void *fini_main(void *arg)
{
	struct gl_fini *f = arg;
	struct gl_conn *cn = f->cn;

	if (cn->fs) {
		tcmu_dbg("glfs: closing the connection to %s@%s:%u", cn->volume,
			 cn->host, cn->port);
		glfs_fini(cn->fs);
	}
	conn_free(cn);
	pthread_mutex_lock(&G.lock);
	f->done = true;
	f->cn = NULL;
	pthread_cond_broadcast(&G.cond);
	pthread_mutex_unlock(&G.lock);
	return NULL;
}

/*
 * Starts glfs_fini() of @cn (already unlinked) on a new thread. Lock held.
 * When no thread can be made, the glfs_t is leaked rather than finished
 * inline: the caller must not block.
 */
static void fini_start_locked(struct gl_conn *cn)
{
	struct gl_fini *f = calloc(1, sizeof(*f));

	if (f) {
		f->cn = cn;
		if (!pthread_create(&f->thread, NULL, fini_main, f)) {
			pthread_setname_np(f->thread, "glfs-fini");
			f->next = G.finis;
			G.finis = f;
			return;
		}
		free(f);
	}
	tcmu_err("glfs: cannot start a thread to close %s@%s:%u; leaking it",
		 cn->volume, cn->host, cn->port);
	conn_free(cn);
}

/* Joins the glfs_fini() threads that are done. Lock held (briefly dropped). */
static void fini_reap_locked(void)
{
	struct gl_fini **pp = &G.finis;

	while (*pp) {
		struct gl_fini *f = *pp;

		if (!f->done) {
			pp = &f->next;
			continue;
		}
		*pp = f->next;
		pthread_join(f->thread, NULL); /* it has returned or is about to */
		free(f);
	}
}

/*
 * The reaper: finishes connections that were idle for the linger time, or
 * retired and idle, and joins finished glfs_fini() threads. Its own thread;
 * sleeps on G.cond until the next deadline.
 */
static void *reaper_main(void *arg)
{
	pthread_mutex_lock(&G.lock);
	while (!G.stop) {
		uint64_t now = mono_ns(), linger = linger_ns(), next = UINT64_MAX;
		struct gl_conn **pp = &G.conns;
		struct timespec ts;

		while (*pp) {
			struct gl_conn *cn = *pp;

			if (cn->refs) {
				pp = &cn->next;
			} else if (cn->retired || now - cn->idle_since >= linger) {
				*pp = cn->next;
				fini_start_locked(cn);
			} else {
				if (cn->idle_since + linger < next)
					next = cn->idle_since + linger;
				pp = &cn->next;
			}
		}
		fini_reap_locked();
		if (G.finis && next > now + 1000000000ull)
			next = now + 1000000000ull; /* poll for finished ones */
		if (next == UINT64_MAX) {
			pthread_cond_wait(&G.cond, &G.lock);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		next -= now; /* relative */
		ts.tv_sec += next / 1000000000ull;
		ts.tv_nsec += next % 1000000000ull;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&G.cond, &G.lock, &ts);
	}
	pthread_mutex_unlock(&G.lock);
	return NULL;
}

/* Wakes the reaper, starting it first if needed. Lock held. */
static void reaper_kick_locked(void)
{
	if (!G.reaper_running && !G.stop) {
		if (pthread_create(&G.reaper, NULL, reaper_main, NULL)) {
			tcmu_err("glfs: cannot start the connection reaper");
			return;
		}
		pthread_setname_np(G.reaper, "glfs-reaper");
		G.reaper_running = true;
	}
	pthread_cond_broadcast(&G.cond);
}

char *gl_log_path(const char *volume)
{
	const char *dir = getenv("TCMU_LOG_DIR");
	char *p;

	if (!dir || dir[0] != '/')
		dir = "/var/log";
	if (asprintf(&p, "%s/tcmu-glfs-%s.log", dir, volume) < 0)
		return NULL;
	return p;
}

/* glfs_new .. glfs_init for @c. Main thread; blocks. Returns 0 or -errno. */
static int conn_connect(const struct gl_cfg *c, glfs_t **out)
{
	int level = tcmu_get_log_level() >= TCMU_LOG_DEBUG ? GL_GF_LOG_DEBUG :
							      GL_GF_LOG_INFO;
	char *log = gl_log_path(c->volume);
	glfs_t *fs;
	int r;

	*out = NULL;
	fs = glfs_new(c->volume);
	if (!fs) {
		free(log);
		return errno ? -errno : -ENOMEM;
	}
	r = glfs_set_volfile_server(fs, "tcp", c->host, (int)c->port);
	if (r) {
		r = errno ? -errno : -EINVAL;
		goto fail;
	}
	if (!log || glfs_set_logging(fs, log, level)) {
		tcmu_warn("glfs: cannot log to %s (set TCMU_LOG_DIR); gfapi's log is discarded",
			  log ? log : "(no memory)");
		glfs_set_logging(fs, "/dev/null", level);
	}
	/* No acknowledged write may sit in the client's write-behind cache. */
	if (glfs_set_xlator_option(fs, "*-write-behind", "strict-O_DIRECT", "on"))
		tcmu_warn("glfs: cannot set write-behind strict-O_DIRECT");
	/*
	 * No metadata cache: a connection lingers, and a file that another
	 * client replaced meanwhile would fail to open with ESTALE for as long
	 * as md-cache trusts the old inode (1 s by default).
	 */
	if (glfs_set_xlator_option(fs, "*-md-cache", "md-cache-timeout", "0"))
		tcmu_warn("glfs: cannot set md-cache-timeout");
	if (glfs_init(fs)) {
		r = errno ? -errno : -EIO;
		goto fail;
	}
	free(log);
	*out = fs;
	return 0;
fail:
	free(log);
	/* A glfs_t that did not init finishes quickly, but not on our time. */
	{
		struct gl_conn *dead = calloc(1, sizeof(*dead));

		if (dead && (dead->volume = strdup(c->volume)) &&
		    (dead->host = strdup(c->host))) {
			dead->fs = fs;
			dead->retired = true;
			pthread_mutex_lock(&G.lock);
			dead->next = G.conns;
			G.conns = dead;
			reaper_kick_locked();
			pthread_mutex_unlock(&G.lock);
		} else if (dead) {
			conn_free(dead); /* and leak fs */
		}
	}
	return r;
}

static bool conn_matches(const struct gl_conn *cn, const struct gl_cfg *c)
{
	return !cn->retired && cn->port == c->port &&
	       !strcmp(cn->volume, c->volume) && !strcmp(cn->host, c->host);
}

/* Takes a reference to a live cached connection for @c. Lock held. */
static struct gl_conn *conn_find_locked(const struct gl_cfg *c)
{
	struct gl_conn *cn;

	for (cn = G.conns; cn; cn = cn->next)
		if (conn_matches(cn, c)) {
			cn->refs++;
			return cn;
		}
	return NULL;
}

int gl_conn_get(const struct gl_cfg *c, struct gl_conn **out)
{
	struct gl_conn *cn, *other;
	glfs_t *fs;
	int r;

	pthread_mutex_lock(&G.lock);
	cn = conn_find_locked(c);
	pthread_mutex_unlock(&G.lock);
	if (cn) {
		*out = cn;
		return 0;
	}

	cn = calloc(1, sizeof(*cn));
	if (!cn)
		return -ENOMEM;
	cn->volume = strdup(c->volume);
	cn->host = strdup(c->host);
	cn->port = c->port;
	if (!cn->volume || !cn->host) {
		conn_free(cn);
		return -ENOMEM;
	}
	r = conn_connect(c, &fs); /* unlocked: it blocks */
	if (r) {
		conn_free(cn);
		return r;
	}
	cn->fs = fs;
	cn->refs = 1;

	pthread_mutex_lock(&G.lock);
	other = conn_find_locked(c);
	if (other) {
		/* Someone connected meanwhile: use theirs, finish ours. */
		cn->refs = 0;
		cn->retired = true;
		cn->next = G.conns;
		G.conns = cn;
		reaper_kick_locked();
		cn = other;
	} else {
		cn->next = G.conns;
		G.conns = cn;
		tcmu_dbg("glfs: connected to %s@%s:%u", c->volume, c->host, c->port);
	}
	pthread_mutex_unlock(&G.lock);
	*out = cn;
	return 0;
}

void gl_conn_put(struct gl_conn *cn)
{
	if (!cn)
		return;
	pthread_mutex_lock(&G.lock);
	if (cn->refs && !--cn->refs) {
		cn->idle_since = mono_ns();
		reaper_kick_locked();
	}
	pthread_mutex_unlock(&G.lock);
}

void gl_conn_retire(struct gl_conn *cn)
{
	pthread_mutex_lock(&G.lock);
	if (!cn->retired) {
		tcmu_info("glfs: the connection to %s@%s:%u looks broken; the next LUN gets a new one",
			  cn->volume, cn->host, cn->port);
		cn->retired = true;
		if (!cn->refs)
			reaper_kick_locked();
	}
	pthread_mutex_unlock(&G.lock);
}

void gl_conn_shutdown(void)
{
	struct timespec deadline;
	struct gl_conn **pp;
	struct gl_fini *f;

	pthread_mutex_lock(&G.lock);
	G.stop = true;
	pthread_cond_broadcast(&G.cond);
	pthread_mutex_unlock(&G.lock);
	if (G.reaper_running)
		pthread_join(G.reaper, NULL);

	pthread_mutex_lock(&G.lock);
	G.reaper_running = false;
	pp = &G.conns;
	while (*pp) {
		struct gl_conn *cn = *pp;

		if (cn->refs) {
			tcmu_warn("glfs: %s@%s:%u still has %u users at exit",
				  cn->volume, cn->host, cn->port, cn->refs);
			pp = &cn->next;
			continue;
		}
		*pp = cn->next;
		fini_start_locked(cn);
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += GL_SHUTDOWN_WAIT_S;
	while ((f = G.finis)) {
		G.finis = f->next;
		pthread_mutex_unlock(&G.lock);
		if (pthread_timedjoin_np(f->thread, NULL, &deadline)) {
			/* a glfs_fini that hangs must not hang the daemon's exit */
			tcmu_warn("glfs: a connection did not close within %d s; leaving it",
				  GL_SHUTDOWN_WAIT_S);
			pthread_detach(f->thread); /* f stays: the thread uses it */
		} else {
			free(f);
		}
		pthread_mutex_lock(&G.lock);
	}
	G.stop = false; /* the handler may be initialized again */
	pthread_mutex_unlock(&G.lock);
}

unsigned int gl_conn_count(void)
{
	struct gl_conn *cn;
	struct gl_fini *f;
	unsigned int n = 0;

	pthread_mutex_lock(&G.lock);
	for (cn = G.conns; cn; cn = cn->next)
		n++;
	for (f = G.finis; f; f = f->next)
		n += !f->done;
	pthread_mutex_unlock(&G.lock);
	return n;
}
