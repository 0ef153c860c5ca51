/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/rbd/rbd_test.h — helpers for the rbd handler tests: the cluster the
 * ctest fixture started ($TCMU_RBD_CLUSTER), an admin rados client of the
 * test's own to create, resize and inspect images, the rbd CLI for export
 * and du, a fake configfs (so that tcmu_dev_set_size() works on a simulated
 * device), and a log sink that counts lines. Header-only, like
 * tests/unit/test_pub_handler_common.h, which the tests use to run the
 * handler on tests/sim.
 */
#ifndef TCMU_RBD_TEST_H
#define TCMU_RBD_TEST_H

#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#include "test_pub_handler_common.h"

#define RT_POOL "rbd"
#define RT_OP_READ_CAP16 0x9e
#define RT_STATUS_BUSY 0x08
#define RT_ASC_MISCOMPARE 0x1d
#define RT_ASC_CAPACITY 0x2a /* ASCQ 09h: CAPACITY DATA HAS CHANGED */

struct rt_env {
	char dir[512];      /* the cluster */
	char conf[600];     /* its ceph.conf */
	char clusters[512]; /* tests/clusters (ceph-osd) */
	char tmp[512];      /* scratch: exports, fake configfs */
	rados_t cl;
	rados_ioctx_t io;
};

static struct rt_env rt;

/* ---- log capture --------------------------------------------------- */

static pthread_mutex_t rt_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char rt_log_buf[1 << 16];
static size_t rt_log_len;

static inline void rt_log_sink(enum tcmu_log_level level, const char *dev_name,
			const char *file, int line, const char *msg, void *arg)
{
	pthread_mutex_lock(&rt_log_lock);
	if (level <= TCMU_LOG_INFO)
		fprintf(stderr, "[log %d] %s\n", level, msg);
	if (level <= TCMU_LOG_WARN) {
		int n = snprintf(rt_log_buf + rt_log_len,
				 sizeof(rt_log_buf) - rt_log_len, "%s\n", msg);

		if (n > 0 && rt_log_len + (size_t)n < sizeof(rt_log_buf))
			rt_log_len += (size_t)n;
	}
	pthread_mutex_unlock(&rt_log_lock);
}

static inline void rt_log_reset(void)
{
	pthread_mutex_lock(&rt_log_lock);
	rt_log_len = 0;
	rt_log_buf[0] = '\0';
	pthread_mutex_unlock(&rt_log_lock);
}

/* Error and warning lines logged since rt_log_reset() that contain @s. */
static inline int rt_log_count(const char *s)
{
	int n = 0;

	pthread_mutex_lock(&rt_log_lock);
	for (const char *p = rt_log_buf; (p = strstr(p, s)); p += strlen(s))
		n++;
	pthread_mutex_unlock(&rt_log_lock);
	return n;
}

/* ---- the cluster ---------------------------------------------------- */

/*
 * Before cmocka runs: is the cluster there? Returns 0 (yes), 77 (SKIP:
 * Ceph is not installed) or 1 (it should be there but is not).
 */
static inline int rt_prereq(void)
{
	const char *dir = getenv("TCMU_RBD_CLUSTER");
	const char *cls = getenv("TCMU_CLUSTERS_DIR");
	char cmd[700];
	struct stat st;

	if (!dir || !cls) {
		printf("TCMU_RBD_CLUSTER / TCMU_CLUSTERS_DIR not set: run me through ctest\n");
		return 1;
	}
	snprintf(rt.dir, sizeof(rt.dir), "%s", dir);
	snprintf(rt.clusters, sizeof(rt.clusters), "%s", cls);
	snprintf(rt.conf, sizeof(rt.conf), "%s/ceph.conf", dir);
	if (stat(rt.conf, &st) == 0)
		return 0;
	snprintf(cmd, sizeof(cmd), "bash -c '. \"%s/ceph-lib.sh\" && test -z \"$(ceph_missing_tools)\"'", cls);
	if (system(cmd) != 0) {
		printf("SKIP: Ceph is not installed (scripts/setup.sh installs it)\n");
		return 77;
	}
	printf("no cluster at %s: did the rbd_cluster_up fixture fail?\n", dir);
	return 1;
}

/* Group setup: admin client, scratch dir with a fake configfs, log sink. */
static inline int rt_setup(void **state)
{
	const char *base = getenv("TMPDIR");
	char path[700];
	int r;

	snprintf(rt.tmp, sizeof(rt.tmp), "%s/tcmu-rbd-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(rt.tmp))
		return -1;
	/* configfs as tcmu_cfgfs_*() sees it for a tests/sim device */
	snprintf(path, sizeof(path), "%s/core/user_1/sim", rt.tmp);
	{
		char cmd[1700];

		snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && : > '%s/control'", path, path);
		if (system(cmd))
			return -1;
	}
	setenv("TCMU_CONFIGFS_ROOT", rt.tmp, 1);
	tcmu_set_log_sink(rt_log_sink, NULL);
	tcmu_set_log_level(TCMU_LOG_INFO);

	r = rados_create2(&rt.cl, "ceph", "client.admin", 0);
	if (!r)
		r = rados_conf_read_file(rt.cl, rt.conf);
	if (!r)
		r = rados_connect(rt.cl);
	if (!r)
		r = rados_ioctx_create(rt.cl, RT_POOL, &rt.io);
	if (r) {
		fprintf(stderr, "admin client: %s\n", strerror(-r));
		return -1;
	}
	return 0;
}

/*
 * A fresh admin client. One that was idle through an OSD restart may try
 * the OSD's old address for a while (messenger back-off, ~15 s) before it
 * learns the new one; a new client asks the mon at once.
 */
static inline void rt_admin_reconnect(void)
{
	rados_ioctx_destroy(rt.io);
	rados_shutdown(rt.cl);
	assert_int_equal(rados_create2(&rt.cl, "ceph", "client.admin", 0), 0);
	assert_int_equal(rados_conf_read_file(rt.cl, rt.conf), 0);
	assert_int_equal(rados_connect(rt.cl), 0);
	assert_int_equal(rados_ioctx_create(rt.cl, RT_POOL, &rt.io), 0);
}

static inline int rt_teardown(void **state)
{
	char cmd[600];

	rados_ioctx_destroy(rt.io);
	rados_shutdown(rt.cl);
	tcmu_set_log_sink(NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rt.tmp);
	return system(cmd) ? -1 : 0;
}

/* A fresh image @name of @size bytes (an old one is removed first). */
static inline void rt_image_create(const char *name, uint64_t size)
{
	int order = 0;

	rbd_remove(rt.io, name);
	assert_int_equal(rbd_create(rt.io, name, size, &order), 0);
}

static inline void rt_image_remove(const char *name)
{
	assert_int_equal(rbd_remove(rt.io, name), 0);
}

/*
 * Remove image @name if nobody watches it any more. After an OSD restart a
 * watch of a client that lost it may linger on the OSD until it times out
 * (osd_client_watch_timeout, 30 s); the image then stays, harmlessly.
 */
static inline void rt_image_remove_lazy(const char *name)
{
	int r = rbd_remove(rt.io, name);

	if (r == -EBUSY)
		printf("# image %s still has a stale watcher: left in place\n", name);
	else
		assert_int_equal(r, 0);
}

/* The handler config for image @name with extra options @opts ("" or ";..."). */
static inline const char *rt_cfg(const char *name, const char *opts)
{
	static char buf[1200];

	snprintf(buf, sizeof(buf), RT_POOL "/%s;conf=%s%s", name, rt.conf, opts);
	return buf;
}

/* Runs a shell command with CEPH_CONF set; returns its exit status. */
static inline int rt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int rt_sh(const char *fmt, ...)
{
	char cmd[2048];
	int n, st;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "CEPH_CONF='%s' CEPH_ARGS= ", rt.conf);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* `rbd export` of image @name holds exactly @expect (@len bytes). */
static inline void rt_export_equals(const char *name, const uint8_t *expect, size_t len)
{
	char file[700];
	uint8_t *buf = malloc(len + 1);
	FILE *f;
	size_t n;

	assert_non_null(buf);
	snprintf(file, sizeof(file), "%s/%s.export", rt.tmp, name);
	unlink(file);
	assert_int_equal(rt_sh("rbd export --no-progress %s/%s '%s' >/dev/null 2>&1",
			       RT_POOL, name, file), 0);
	f = fopen(file, "rb");
	assert_non_null(f);
	n = fread(buf, 1, len + 1, f);
	fclose(f);
	unlink(file);
	assert_int_equal(n, len);
	if (memcmp(buf, expect, len)) {
		size_t i = 0;

		while (buf[i] == expect[i])
			i++;
		fail_msg("rbd export of %s differs at byte %zu", name, i);
	}
	free(buf);
}

/* `rbd du`: bytes used by image @name. */
static inline uint64_t rt_du_used(const char *name)
{
	char cmd[800], out[4096];
	unsigned long long used = ~0ull;
	const char *p;
	size_t n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "CEPH_CONF='%s' CEPH_ARGS= rbd du --format json %s/%s 2>&1",
		 rt.conf, RT_POOL, name);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	assert_int_equal(pclose(f), 0);
	p = strstr(out, "\"used_size\":");
	if (!p || sscanf(p + 12, "%llu", &used) != 1)
		fail_msg("rbd du: no used_size in '%s'", out);
	return used;
}

/*
 * librbd's perf counter @counter ("wr", "flush", "discard", ...) of image
 * @name as opened by this process (the handler), read from the admin
 * socket of our rados clients. -1 when there is no such image section.
 */
static inline long long rt_perf(const char *name, const char *counter)
{
	char cmd[2048], out[64] = "";
	long long v = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "for a in '%s'/run/ceph-client.*.%d.*.asok; do "
		 "CEPH_ARGS= ceph --admin-daemon \"$a\" perf dump 2>/dev/null; done | "
		 "/usr/bin/python3 -c 'import json, sys\n"
		 "dec = json.JSONDecoder(); s = sys.stdin.read().strip(); v = -1\n"
		 "while s:\n"
		 "    d, n = dec.raw_decode(s); s = s[n:].strip()\n"
		 "    for k, sec in d.items():\n"
		 "        if k.startswith(\"librbd-\") and k.endswith(\"-%s-%s\"): v = sec[\"%s\"]\n"
		 "print(v)'",
		 rt.dir, (int)getpid(), RT_POOL, name, counter);
	f = popen(cmd, "r");
	assert_non_null(f);
	if (fgets(out, sizeof(out), f))
		v = atoll(out);
	pclose(f);
	return v;
}

/* tests/clusters/ceph-osd DIR @what 0 */
static inline void rt_osd(const char *what)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "'%s/ceph-osd' '%s' %s 0", rt.clusters, rt.dir, what);
	assert_int_equal(system(cmd), 0);
}

/* What the fake configfs "control" file was last written. */
static inline void rt_control(char *buf, size_t size)
{
	char path[700];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/core/user_1/sim/control", rt.tmp);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* ---- SCSI helpers ---------------------------------------------------- */

static inline uint8_t rt_sense_asc(const struct sim_io *io)
{
	return (io->sense[0] & 0x7f) >= 0x72 ? io->sense[2] : io->sense[12];
}

static inline uint8_t rt_sense_ascq(const struct sim_io *io)
{
	return (io->sense[0] & 0x7f) >= 0x72 ? io->sense[3] : io->sense[13];
}

/* The INFORMATION field of the sense data, or -1 when not valid. */
static inline int64_t rt_sense_info(const struct sim_io *io)
{
	const uint8_t *s = io->sense;
	uint64_t v = 0;

	if ((s[0] & 0x7f) >= 0x72) {
		size_t len = 8 + s[7];

		for (size_t p = 8; p + 12 <= len; p += 2 + s[p + 1]) {
			if (s[p] == 0x00 && (s[p + 2] & 0x80)) {
				for (int i = 0; i < 8; i++)
					v = v << 8 | s[p + 4 + i];
				return (int64_t)v;
			}
		}
		return -1;
	}
	if (!(s[0] & 0x80))
		return -1;
	for (int i = 3; i < 7; i++)
		v = v << 8 | s[i];
	return (int64_t)v;
}

/* READ CAPACITY(16) (a unit attention is returned, not retried): status. */
static inline uint8_t rt_read_capacity(struct th *t, struct sim_io *io, uint64_t *bytes)
{
	static uint8_t data[32];
	uint8_t cdb[16] = { RT_OP_READ_CAP16, 0x10 };

	th_put_be(cdb + 10, sizeof(data), 4);
	sim_io_init(io, cdb, 16);
	io->in = data;
	io->in_len = sizeof(data);
	th_submit(t, io);
	th_wait(t, io);
	if (io->status == TH_GOOD && bytes) {
		uint64_t last = 0;
		uint32_t bs = 0;

		for (int i = 0; i < 8; i++)
			last = last << 8 | data[i];
		for (int i = 8; i < 12; i++)
			bs = bs << 8 | data[i];
		*bytes = (last + 1) * bs;
	}
	return io->status;
}

static inline double rt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
