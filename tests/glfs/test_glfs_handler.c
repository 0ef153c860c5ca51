/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/glfs/test_glfs_handler.c — the "glfs" handler on a real GlusterFS
 * volume, through the public API and the ring simulator: check_config,
 * file creation and sizing, random I/O read back through gfapi, FUA and
 * SYNCHRONIZE CACHE (counted as FSYNC on the brick by "volume profile"),
 * UNMAP punching holes (st_blocks through gfapi), WRITE SAME, connections
 * shared between LUNs and finished in the background, gfapi's log file,
 * and I/O across a brick kill + restart, a glusterd restart, and both.
 *
 * The cluster comes from the ctest fixture (cluster-fixture up: volumes gv0
 * and gv1 on 127.0.0.1); $TCMU_GLFS_TEST_CLUSTER names its directory. Exit
 * status 77 (SKIP) only when the GlusterFS binaries are missing.
 * GLFS_TEST_FILTER="*brick*" runs only the matching tests.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glusterfs/api/glfs.h>

#include "test_pub_handler_common.h"

#define TH_BUSY 0x08

static struct {
	char dir[512];    /* the cluster's directory */
	char host[64];
	unsigned int port;
	char vol[64];     /* gv0 */
	char vol2[64];    /* gv1 */
	char cli[1024];   /* gluster --glusterd-sock=... --mode=script ... */
	char fault[1024]; /* tests/glfs/gluster-fault DIR */
	char log_dir[512];
} C;

/* The test's own gfapi client of C.vol: reads back what the LUNs wrote. */
static glfs_t *chk;

/* ---- helpers ---------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Runs a shell command; returns its exit status (-1: did not run). */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return st < 0 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* "<vol>@<host>:<port><path>" */
static const char *cfg_of(char *buf, size_t size, const char *vol, const char *path)
{
	snprintf(buf, size, "%s@%s:%u%s", vol, C.host, C.port, path);
	return buf;
}

static void chk_unlink(const char *path)
{
	glfs_unlink(chk, path);
}

static bool chk_exists(const char *path)
{
	struct stat st;

	return !glfs_stat(chk, path, &st);
}

static struct stat chk_stat(const char *path)
{
	struct stat st;

	if (glfs_stat(chk, path, &st))
		fail_msg("glfs_stat %s: %s", path, strerror(errno));
	return st;
}

/* Reads @len bytes at @off of @path through the test's own client. */
static void chk_read(const char *path, uint64_t off, void *buf, size_t len)
{
	glfs_fd_t *fd = glfs_open(chk, path, O_RDONLY);
	size_t done = 0;

	if (!fd)
		fail_msg("glfs_open %s: %s", path, strerror(errno));
	while (done < len) {
		ssize_t n = glfs_pread(fd, (char *)buf + done, len - done,
				       off + done, 0, NULL);

		if (n <= 0)
			fail_msg("glfs_pread %s: %zd (%s)", path, n, strerror(errno));
		done += n;
	}
	glfs_close(fd);
}

/* The file holds exactly @shadow (@size bytes). */
static void chk_equals(const char *path, const uint8_t *shadow, size_t size)
{
	uint8_t *buf = malloc(size);

	assert_non_null(buf);
	chk_read(path, 0, buf, size);
	assert_memory_equal(buf, shadow, size);
	free(buf);
}

/* Number of this process's threads named @comm. */
static int count_threads(const char *comm)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[300], name[64] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f))
			name[strcspn(name, "\n")] = '\0';
		fclose(f);
		n += !strcmp(name, comm);
	}
	closedir(d);
	return n;
}

/* gfapi starts one "glfs_timer" thread per glfs_t: live connections. */
static int live_glfs(void)
{
	return count_threads("glfs_timer");
}

/*
 * FSYNC calls the brick of C.vol has served since profiling started
 * ("volume profile <vol> info cumulative").
 */
static long brick_fsyncs(void)
{
	char cmd[1200], line[512];
	long n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s volume profile %s info cumulative 2>&1", C.cli, C.vol);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		long calls;
		char fop[32];

		/* "%-latency avg min max calls FOP": the last two fields */
		char *last = strrchr(line, ' ');
		if (!last || sscanf(last, " %31s", fop) != 1 || strcmp(fop, "FSYNC"))
			continue;
		*last = '\0';
		last = strrchr(line, ' ');
		while (last && last > line && last[1] == '\0') {
			*last = '\0';
			last = strrchr(line, ' ');
		}
		if (last && sscanf(last, " %ld", &calls) == 1)
			n = calls;
	}
	pclose(p);
	return n;
}

static void fault(const char *action)
{
	double t0 = now_s();

	if (sh("%s %s", C.fault, action))
		fail_msg("gluster-fault %s failed", action);
	print_message("gluster-fault %s: %.1f s\n", action, now_s() - t0);
}

/* Starts a LUN on C.vol's @path (unlinked first) with the default geometry. */
static void start_lun(struct th *t, const char *path, bool write_cache)
{
	char cfg[256];

	chk_unlink(path);
	assert_int_equal(th_start_wc(t, "glfs", cfg_of(cfg, sizeof(cfg), C.vol, path),
				     NULL, write_cache), 0);
}

/* ---- check_config ------------------------------------------------------ */

static bool check(const struct tcmu_handler *h, const char *cfg, const char *want)
{
	char *reason = NULL;
	bool ok = h->check_config(cfg, &reason);

	if (!ok) {
		assert_non_null(reason);
		if (want && !strstr(reason, want))
			fail_msg("'%s': reason '%s' lacks '%s'", cfg, reason, want);
	} else if (want) {
		fail_msg("'%s' accepted, expected a refusal with '%s'", cfg, want);
	}
	free(reason);
	return ok;
}

static void test_check_config(void **state)
{
	const struct tcmu_handler *h;
	char cfg[512], bad[512];
	struct th t;
	void *dl;

	h = th_load("glfs", &dl);
	assert_non_null(h->check_config);

	/* syntax (the parser's own cases are in test_glfs_cfg) */
	check(h, "", "empty");
	check(h, "gv0", "no '@'");
	check(h, "gv0@127.0.0.1", "no file");
	check(h, "gv0@127.0.0.1:0/x.img", "port");
	check(h, "gv0@127.0.0.1/dir/", "directory");
	check(h, "gv0@127.0.0.1/../x.img", "'..'");
	check(h, "gv0@127.0.0.1/x.img;direct", "unknown option");

	/* the volume must be reachable */
	snprintf(bad, sizeof(bad), "nosuchvol@%s:%u/x.img", C.host, C.port);
	check(h, bad, "no volume 'nosuchvol'");
	snprintf(bad, sizeof(bad), "%s@127.0.0.1:1/x.img", C.vol);
	check(h, bad, "cannot reach");

	/* the path: a regular file, or creatable in an existing directory */
	chk_unlink("/cc-file.img");
	glfs_rmdir(chk, "/cc-dir");
	assert_int_equal(glfs_mkdir(chk, "/cc-dir", 0755), 0);
	check(h, cfg_of(cfg, sizeof(cfg), C.vol, "/cc-dir"), "is a directory");
	check(h, cfg_of(cfg, sizeof(cfg), C.vol, "/cc-nodir/x.img"), "does not exist");
	assert_true(check(h, cfg_of(cfg, sizeof(cfg), C.vol, "/cc-dir/new.img"), NULL));
	assert_true(check(h, cfg_of(cfg, sizeof(cfg), C.vol, "/cc-file.img"), NULL));
	/* nothing was created */
	assert_false(chk_exists("/cc-dir/new.img"));
	assert_false(chk_exists("/cc-file.img"));

	/* an existing file; a file used as a directory */
	start_lun(&t, "/cc-file.img", true);
	th_stop(&t);
	assert_true(check(h, cfg_of(cfg, sizeof(cfg), C.vol, "/cc-file.img"), NULL));
	check(h, cfg_of(cfg, sizeof(cfg), C.vol, "/cc-file.img/x.img"), "not a directory");
	glfs_rmdir(chk, "/cc-dir");
	dlclose(dl);
}

/* ---- open: creation and sizing ----------------------------------------- */

static void test_create_and_size(void **state)
{
	const char *p = "/create.img";
	uint8_t buf[4096], back[4096];
	uint64_t seed = 5;
	char cfg[256];
	glfs_fd_t *fd;
	struct th t;

	/* missing: created with the LUN size */
	start_lun(&t, p, true);
	assert_int_equal(chk_stat(p).st_size, t.size);
	assert_true(S_ISREG(chk_stat(p).st_mode));
	th_stop(&t);

	/* larger: never shrunk */
	fd = glfs_open(chk, p, O_RDWR);
	assert_non_null(fd);
	assert_int_equal(glfs_ftruncate(fd, 3 * (16 << 20), NULL, NULL), 0);
	glfs_close(fd);
	assert_int_equal(th_start(&t, "glfs", cfg_of(cfg, sizeof(cfg), C.vol, p), NULL), 0);
	th_stop(&t);
	assert_int_equal(chk_stat(p).st_size, 3 * (16 << 20));

	/* smaller, with data: grown, data kept */
	chk_unlink(p);
	fd = glfs_creat(chk, p, O_RDWR, 0600);
	assert_non_null(fd);
	th_fill(buf, sizeof(buf), &seed);
	assert_int_equal(glfs_pwrite(fd, buf, sizeof(buf), 0, 0, NULL, NULL), sizeof(buf));
	glfs_close(fd);
	assert_int_equal(th_start(&t, "glfs", cfg, NULL), 0);
	assert_int_equal(chk_stat(p).st_size, t.size);
	assert_int_equal(th_read(&t, 0, sizeof(back) / t.bs, back), TH_GOOD);
	assert_memory_equal(back, buf, sizeof(buf));

	/* reconfig: a larger size grows the file, another config is refused */
	{
		struct tcmu_reconfig rc = { .size = 32 << 20, .write_cache = -1 };

		assert_int_equal(tcmu_device_reconfig(t.dev, &rc), 0);
		assert_int_equal(chk_stat(p).st_size, 32 << 20);
		rc = (struct tcmu_reconfig){ .cfgstring = "gv0@elsewhere/x.img",
					     .write_cache = -1 };
		assert_int_not_equal(tcmu_device_reconfig(t.dev, &rc), 0);
	}
	th_stop(&t);

	/* open() refuses what check_config refuses */
	assert_int_not_equal(th_start(&t, "glfs", "gv0@127.0.0.1/x.img;bad", NULL), 0);
	snprintf(cfg, sizeof(cfg), "nosuchvol@%s:%u/x.img", C.host, C.port);
	assert_int_not_equal(th_start(&t, "glfs", cfg, NULL), 0);
	glfs_mkdir(chk, "/adir", 0755);
	assert_int_not_equal(th_start(&t, "glfs", cfg_of(cfg, sizeof(cfg), C.vol, "/adir"), NULL), 0);
	glfs_rmdir(chk, "/adir");
}

/* ---- random I/O, read back through gfapi -------------------------------- */

static void random_io(const char *p, const struct sim_config *scfg, bool wc, int rounds)
{
	char cfg[256];
	uint8_t *shadow;
	struct th t;
	double t0;

	chk_unlink(p);
	assert_int_equal(th_start_wc(&t, "glfs", cfg_of(cfg, sizeof(cfg), C.vol, p), scfg, wc), 0);
	shadow = calloc(1, t.size);
	assert_non_null(shadow);
	t0 = now_s();
	th_random_io(&t, shadow, rounds, 16, 0x6c6673 + rounds);
	print_message("%d rounds of 16 random I/Os + full read: %.2f s\n", rounds, now_s() - t0);
	assert_int_equal(th_sync(&t), TH_GOOD);
	th_stop(&t);
	/* the file on the volume, read by another client, is what was written */
	chk_equals(p, shadow, t.size);
	free(shadow);
}

static void test_random_io(void **state)
{
	random_io("/random.img", NULL, true, 40);
}

/* 4 KiB blocks and data blocks of 4 pages: several iovecs per command. */
static void test_random_io_4k(void **state)
{
	struct sim_config scfg = { .dev_size = 16 << 20, .block_size = 4096,
				   .max_sectors = 32, .data_size = 8 << 20,
				   .data_pages_per_blk = 4 };

	random_io("/random4k.img", &scfg, true, 20);
}

static void test_random_io_no_write_cache(void **state)
{
	random_io("/random-nowc.img", NULL, false, 5);
}

/* Reads past the end of a file someone shrank return zeroes. */
static void test_past_eof(void **state)
{
	const char *p = "/eof.img";
	uint8_t data[TH_CHUNK], back[TH_CHUNK], zero[TH_CHUNK] = { 0 };
	uint64_t seed = 21;
	glfs_fd_t *fd;
	struct th t;

	start_lun(&t, p, true);
	th_fill(data, sizeof(data), &seed);
	assert_int_equal(th_write(&t, TH_CHUNK / 512, TH_CHUNK / 512, data, false), TH_GOOD);
	fd = glfs_open(chk, p, O_RDWR);
	assert_non_null(fd);
	assert_int_equal(glfs_ftruncate(fd, TH_CHUNK + 1000, NULL, NULL), 0);
	glfs_close(fd);
	assert_int_equal(th_read(&t, TH_CHUNK / 512, TH_CHUNK / 512, back), TH_GOOD);
	assert_memory_equal(back, data, 1000);
	assert_memory_equal(back + 1000, zero, TH_CHUNK - 1000);
	assert_int_equal(th_read(&t, 3 * TH_CHUNK / 512, TH_CHUNK / 512, back), TH_GOOD);
	assert_memory_equal(back, zero, TH_CHUNK);
	th_stop(&t);
}

/* COMPARE AND WRITE, emulated by the SCSI core with read() + write(). */
static void test_emulated_compare_and_write(void **state)
{
	uint8_t a[1024], b[1024], back[1024];
	uint64_t seed = 8;
	struct sim_io io;
	struct th t;

	start_lun(&t, "/caw.img", true);
	th_fill(a, sizeof(a), &seed);
	th_fill(b, sizeof(b), &seed);
	assert_int_equal(th_write(&t, 10, 2, a, false), TH_GOOD);
	assert_int_equal(th_caw(&t, 10, 2, a, b, &io), TH_GOOD);
	assert_int_equal(th_read(&t, 10, 2, back), TH_GOOD);
	assert_memory_equal(back, b, sizeof(b));
	assert_int_equal(th_caw(&t, 10, 2, a, a, &io), TH_CHECK);
	assert_int_equal(th_sense_key(&io), TH_KEY_MISCOMPARE);
	th_stop(&t);
}

/* ---- FUA, SYNCHRONIZE CACHE, no client-side write cache ----------------- */

static void test_fua_flush(void **state)
{
	const char *p = "/fua.img";
	char brick_file[700];
	uint8_t buf[8192], back[8192];
	uint64_t seed = 99;
	long f0, f1;
	struct th t;
	FILE *f;

	start_lun(&t, p, true);
	th_fill(buf, sizeof(buf), &seed);

	/* a plain write: acknowledged once the brick has it, no fsync */
	f0 = brick_fsyncs();
	assert_int_equal(th_write(&t, 300, sizeof(buf) / t.bs, buf, false), TH_GOOD);
	snprintf(brick_file, sizeof(brick_file), "%s/bricks/%s%s", C.dir, C.vol, p);
	f = fopen(brick_file, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 300 * 512, SEEK_SET), 0);
	assert_int_equal(fread(back, 1, sizeof(back), f), sizeof(back));
	fclose(f);
	assert_memory_equal(back, buf, sizeof(buf));
	assert_int_equal(brick_fsyncs(), f0);

	/* FUA: one fdatasync on the brick */
	assert_int_equal(th_write(&t, 100, sizeof(buf) / t.bs, buf, true), TH_GOOD);
	f1 = brick_fsyncs();
	assert_int_equal(f1, f0 + 1);
	chk_read(p, 100 * 512, back, sizeof(back));
	assert_memory_equal(back, buf, sizeof(buf));

	/* SYNCHRONIZE CACHE: one more */
	assert_int_equal(th_sync(&t), TH_GOOD);
	assert_int_equal(brick_fsyncs(), f1 + 1);
	th_stop(&t);

	/* write cache disabled: every write is durable (FUA from the core) */
	start_lun(&t, "/fua-nowc.img", false);
	f0 = brick_fsyncs();
	assert_int_equal(th_write(&t, 0, sizeof(buf) / t.bs, buf, false), TH_GOOD);
	assert_int_equal(th_write(&t, 64, sizeof(buf) / t.bs, buf, false), TH_GOOD);
	assert_int_equal(brick_fsyncs(), f0 + 2);
	th_stop(&t);
}

/* ---- UNMAP, WRITE SAME, get_lba_status ---------------------------------- */

/* Writes random data over the first @bytes, returns it (malloc'ed). */
static uint8_t *fill_start(struct th *t, size_t bytes, uint64_t seed)
{
	uint8_t *data = malloc(bytes);
	size_t off;

	assert_non_null(data);
	th_fill(data, bytes, &seed);
	for (off = 0; off < bytes; off += TH_CHUNK)
		assert_int_equal(th_write(t, off / t->bs, TH_CHUNK / t->bs, data + off, false),
				 TH_GOOD);
	assert_int_equal(th_sync(t), TH_GOOD);
	return data;
}

static void read_range(struct th *t, uint64_t off, size_t len, uint8_t *out)
{
	size_t done;

	for (done = 0; done < len; done += TH_CHUNK)
		assert_int_equal(th_read(t, (off + done) / t->bs, TH_CHUNK / t->bs, out + done),
				 TH_GOOD);
}

/* UNMAP of two 1 MiB ranges; *@fsyncs: FSYNCs the brick saw for it. */
static void unmap_punches(const char *p, bool write_cache, long *fsyncs)
{
	const size_t total = 4 << 20, mib = 1 << 20;
	const uint64_t ranges[2][2] = { { 0, mib / 512 }, { 2 * mib / 512, mib / 512 } };
	uint8_t *data, *back, *zero;
	uint64_t before, after, ext;
	bool mapped;
	struct th t;

	start_lun(&t, p, write_cache);
	assert_true(t.h->unmap_zeroes);
	data = fill_start(&t, total, 5);
	before = chk_stat(p).st_blocks;
	assert_true(before >= total / 512);
	assert_int_equal(t.h->get_lba_status(t.dev, 0, &mapped, &ext), 0);
	assert_true(mapped);
	assert_true(ext >= total);

	*fsyncs = brick_fsyncs();
	assert_int_equal(th_unmap(&t, ranges, 2), TH_GOOD);
	*fsyncs = brick_fsyncs() - *fsyncs;
	after = chk_stat(p).st_blocks;
	if (before - after < 2 * mib / 512)
		fail_msg("st_blocks %llu -> %llu: holes not punched",
			 (unsigned long long)before, (unsigned long long)after);

	back = malloc(total);
	zero = calloc(1, mib);
	assert_true(back && zero);
	read_range(&t, 0, total, back);
	assert_memory_equal(back, zero, mib);
	assert_memory_equal(back + mib, data + mib, mib);
	assert_memory_equal(back + 2 * mib, zero, mib);
	assert_memory_equal(back + 3 * mib, data + 3 * mib, mib);
	chk_read(p, 0, back, total);
	assert_memory_equal(back, zero, mib);
	assert_memory_equal(back + mib, data + mib, mib);

	/* get_lba_status sees the holes */
	assert_int_equal(t.h->get_lba_status(t.dev, 0, &mapped, &ext), 0);
	assert_false(mapped);
	assert_int_equal(ext, mib);
	assert_int_equal(t.h->get_lba_status(t.dev, mib, &mapped, &ext), 0);
	assert_true(mapped);
	assert_int_equal(ext, mib);
	assert_int_equal(t.h->get_lba_status(t.dev, 2 * mib + 4096, &mapped, &ext), 0);
	assert_false(mapped);
	assert_int_equal(ext, mib - 4096);
	assert_int_equal(t.h->get_lba_status(t.dev, t.size, &mapped, &ext), -ERANGE);
	th_stop(&t);
	free(data);
	free(back);
	free(zero);
}

static void test_unmap(void **state)
{
	long fsyncs;

	unmap_punches("/unmap.img", true, &fsyncs);
	assert_int_equal(fsyncs, 0);
}

/* Write cache off: an fdatasync follows the discards. */
static void test_unmap_no_write_cache(void **state)
{
	long fsyncs;

	unmap_punches("/unmap-nowc.img", false, &fsyncs);
	assert_int_equal(fsyncs, 1);
}

static void test_write_same(void **state)
{
	const char *p = "/ws.img";
	const size_t total = 2 << 20, mib = 1 << 20;
	uint8_t *data, *back, *zero, pat[512];
	uint64_t before, seed = 3;
	struct th t;
	size_t i;

	start_lun(&t, p, true);
	data = fill_start(&t, total, 11);
	back = malloc(total);
	zero = calloc(1, mib);
	assert_true(back && zero);

	/* zeroes, no UNMAP: zerofill; the blocks stay allocated */
	before = chk_stat(p).st_blocks;
	assert_int_equal(th_write_same(&t, 0, 256, zero, false), TH_GOOD);
	read_range(&t, 0, total, back);
	assert_memory_equal(back, zero, 256 * 512);
	assert_memory_equal(back + 256 * 512, data + 256 * 512, total - 256 * 512);
	assert_true((uint64_t)chk_stat(p).st_blocks + 8 >= before);

	/* zeroes with UNMAP over the second MiB: a hole */
	before = chk_stat(p).st_blocks;
	assert_int_equal(th_write_same(&t, mib / 512, mib / 512, zero, true), TH_GOOD);
	assert_true((uint64_t)chk_stat(p).st_blocks <= before - mib / 512);
	read_range(&t, mib, mib, back);
	assert_memory_equal(back, zero, mib);

	/* a pattern over 300 blocks, and over 3000 (several 1 MiB chunks) */
	th_fill(pat, sizeof(pat), &seed);
	assert_int_equal(th_write_same(&t, 1000, 300, pat, false), TH_GOOD);
	chk_read(p, 992 * 512, back, 320 * 512);
	assert_memory_equal(back, data + 992 * 512, 8 * 512);
	for (i = 0; i < 300; i++)
		assert_memory_equal(back + (8 + i) * 512, pat, 512);
	assert_memory_equal(back + 308 * 512, data + 1300 * 512, 12 * 512);
	pat[0] ^= 0xff;
	assert_int_equal(th_write_same(&t, 8192, 3000, pat, false), TH_GOOD);
	chk_read(p, 8192 * 512, back, 3001 * 512);
	for (i = 0; i < 3000; i++)
		assert_memory_equal(back + i * 512, pat, 512);
	assert_memory_equal(back + 3000 * 512, zero, 512);
	th_stop(&t);
	free(data);
	free(back);
	free(zero);
}

/* ---- the plugin --------------------------------------------------------- */

static void test_exports(void **state)
{
	const struct tcmu_handler *h;
	void *dl;

	h = th_load("glfs", &dl);
	assert_string_equal(h->subtype, "glfs");
	assert_int_equal(h->concurrency, TCMU_CONCURRENCY_ASYNC);
	assert_true(h->cmd_priv_size > 0);
	assert_true(h->unmap_zeroes);
	assert_non_null(h->flush);
	assert_non_null(h->unmap);
	assert_non_null(h->write_same);
	assert_null(dlsym(dl, "gl_conn_get"));
	assert_null(dlsym(dl, "gl_cfg_parse"));
	dlclose(dl);
}

/* gfapi logs into $TCMU_LOG_DIR/tcmu-glfs-<volume>.log (removed by main). */
static void test_log_file(void **state)
{
	char path[700];
	struct stat st;
	struct th t;

	start_lun(&t, "/log.img", true);
	th_stop(&t);
	snprintf(path, sizeof(path), "%s/tcmu-glfs-%s.log", C.log_dir, C.vol);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 0);
}

/* ---- I/O across faults --------------------------------------------------- */

/*
 * An initiator on its own thread: QD random writes and reads on slots that
 * never overlap while in flight, each BUSY retried (after a pause) until it
 * finishes otherwise, like the SCSI midlayer does. Acknowledged (GOOD)
 * writes go to the shadow; reads are checked against it. No cmocka asserts
 * here (not the test's thread): failures are counted.
 */
struct initiator {
	struct th *t;
	uint8_t *shadow;
	atomic_bool stop;
	atomic_int busy, errors, acked, mismatches;
	uint64_t seed;
};

/* sim_submit(), waiting while the ring is full. Not the test's thread. */
static void submit(struct th *t, struct sim_io *io)
{
	while (sim_submit(t->sim, io) == -EAGAIN)
		sleep_ms(1);
}

static void *initiator_main(void *arg)
{
	struct initiator *in = arg;
	struct th *t = in->t;
	enum { QD = 8, SLOT = 32 };
	uint64_t nslots = t->size / t->bs / SLOT;
	struct sim_io io[QD], copy[QD];
	uint8_t *buf[QD];
	uint64_t lba[QD];
	bool wr[QD];
	int i;

	for (i = 0; i < QD; i++)
		buf[i] = malloc((size_t)SLOT * t->bs);
	while (!atomic_load(&in->stop)) {
		uint8_t used[4096] = { 0 };

		for (i = 0; i < QD; i++) {
			uint64_t slot;
			uint32_t nr;

			do
				slot = th_rand(&in->seed) % nslots;
			while (used[slot % sizeof(used)]);
			used[slot % sizeof(used)] = 1;
			nr = 1 + th_rand(&in->seed) % SLOT;
			lba[i] = slot * SLOT;
			wr[i] = th_rand(&in->seed) % 3 != 0;
			th_rw16(&io[i], wr[i] ? TH_OP_WRITE16 : TH_OP_READ16, lba[i], nr,
				wr[i] && !(th_rand(&in->seed) % 4));
			if (wr[i]) {
				th_fill(buf[i], (size_t)nr * t->bs, &in->seed);
				io[i].out = buf[i];
				io[i].out_len = (size_t)nr * t->bs;
			} else {
				io[i].in = buf[i];
				io[i].in_len = (size_t)nr * t->bs;
			}
		}
		for (i = 0; i < QD; i++) {
			copy[i] = io[i];
			submit(t, &io[i]);
		}
		for (i = 0; i < QD; i++) {
			for (;;) {
				if (!sim_wait_done(t->sim, &io[i], 120000)) {
					atomic_fetch_add(&in->errors, 1);
					break;
				}
				if (io[i].status != TH_BUSY)
					break;
				atomic_fetch_add(&in->busy, 1);
				sleep_ms(20);
				io[i] = copy[i];
				submit(t, &io[i]);
			}
			if (io[i].status != TH_GOOD) {
				atomic_fetch_add(&in->errors, 1);
				continue;
			}
			if (wr[i]) {
				memcpy(in->shadow + lba[i] * t->bs, buf[i], io[i].out_len);
				atomic_fetch_add(&in->acked, 1);
			} else if (memcmp(buf[i], in->shadow + lba[i] * t->bs, io[i].in_len)) {
				atomic_fetch_add(&in->mismatches, 1);
			}
		}
	}
	for (i = 0; i < QD; i++)
		free(buf[i]);
	return NULL;
}

/*
 * Runs the initiator on LUN @p while @during() injects faults; then checks
 * that every acknowledged write is there, through the LUN and through
 * another gfapi client. Returns the number of BUSY statuses seen.
 */
static int io_across(const char *p, void (*during)(void))
{
	struct initiator in = { .seed = 0x1234567 };
	uint8_t *back;
	pthread_t th;
	struct th t;
	int busy;

	start_lun(&t, p, true);
	in.t = &t;
	in.shadow = calloc(1, t.size);
	back = malloc(t.size);
	assert_true(in.shadow && back);
	assert_int_equal(pthread_create(&th, NULL, initiator_main, &in), 0);
	sleep_ms(1000);
	during();
	sleep_ms(1500);
	atomic_store(&in.stop, true);
	assert_int_equal(pthread_join(th, NULL), 0);
	print_message("acked writes %d, BUSY %d, errors %d, bad reads %d\n",
		      atomic_load(&in.acked), atomic_load(&in.busy),
		      atomic_load(&in.errors), atomic_load(&in.mismatches));
	assert_int_equal(atomic_load(&in.errors), 0);
	assert_int_equal(atomic_load(&in.mismatches), 0);
	assert_true(atomic_load(&in.acked) > 20);
	busy = atomic_load(&in.busy);

	/* every acknowledged write is there */
	assert_int_equal(th_sync(&t), TH_GOOD);
	read_range(&t, 0, t.size, back);
	assert_memory_equal(back, in.shadow, t.size);
	th_stop(&t);
	chk_equals(p, in.shadow, t.size);
	free(back);
	free(in.shadow);
	return busy;
}

static void brick_outage(void)
{
	fault("brick-kill");
	sleep_ms(2000); /* the initiator keeps getting BUSY */
	fault("brick-start");
}

/*
 * The brick dies during I/O: commands get BUSY (retryable) meanwhile, and
 * after the restart the same LUN (same connection, same fd) carries on
 * with no acknowledged write lost.
 */
static void test_brick_restart(void **state)
{
	int busy = io_across("/brick-restart.img", brick_outage);

	assert_true(busy > 0);
}

static void glusterd_outage(void)
{
	char cfg[256];
	struct th t;

	fault("glusterd-kill");
	sleep_ms(1000);
	fault("glusterd-start");
	/* a new LUN on the same volume (the cached connection) opens */
	chk_unlink("/after-glusterd.img");
	assert_int_equal(th_start(&t, "glfs", cfg_of(cfg, sizeof(cfg), C.vol,
						     "/after-glusterd.img"), NULL), 0);
	assert_int_equal(th_write(&t, 0, 8, (uint8_t[4096]){ 1 }, true), TH_GOOD);
	th_stop(&t);
}

/* glusterd restarts during I/O: the bricks keep serving, no BUSY at all. */
static void test_glusterd_restart(void **state)
{
	assert_int_equal(io_across("/glusterd-restart.img", glusterd_outage), 0);
}

static void everything_outage(void)
{
	fault("glusterd-kill");
	fault("brick-kill");
	sleep_ms(1000);
	fault("glusterd-start"); /* it restarts the brick itself */
	fault("brick-start");    /* (waits until it is online) */
}

/*
 * glusterd and the brick both die during I/O: BUSY until glusterd is back
 * and has restarted the brick (the client finds the brick's new port
 * through glusterd), then the same LUN carries on, nothing lost.
 */
static void test_glusterd_and_brick_restart(void **state)
{
	assert_true(io_across("/everything-restart.img", everything_outage) > 0);
}

/* ---- connections: shared, lingering, finished in the background --------- */

static void test_shared_connection(void **state)
{
	struct th a, b, c;
	char cfg[256];
	int n_a, n_b;
	double t0;

	start_lun(&a, "/share-a.img", true);
	n_a = live_glfs();
	start_lun(&b, "/share-b.img", true);
	n_b = live_glfs();
	assert_int_equal(n_b, n_a); /* same volume: same glfs_t */

	/* another volume: another glfs_t */
	chk_unlink("/share-c.img"); /* on gv0: harmless */
	assert_int_equal(th_start(&c, "glfs", cfg_of(cfg, sizeof(cfg), C.vol2, "/share-c.img"),
				  NULL), 0);
	assert_int_equal(live_glfs(), n_b + 1);
	assert_int_equal(th_write(&c, 0, 8, (uint8_t[4096]){ 7 }, false), TH_GOOD);

	/*
	 * With no linger time, the last close hands the connection to a
	 * background glfs_fini (~10 s): close itself does not wait for it.
	 */
	setenv("TCMU_GLFS_LINGER", "0", 1);
	t0 = now_s();
	th_stop(&c);
	assert_true(now_s() - t0 < 3.0);
	while (live_glfs() > n_b && now_s() - t0 < 60)
		sleep_ms(200);
	print_message("gv1's glfs_t finished %.1f s after its last LUN closed\n",
		      now_s() - t0);
	assert_int_equal(live_glfs(), n_b);

	/* the LUNs on gv0 are unaffected */
	unsetenv("TCMU_GLFS_LINGER");
	assert_int_equal(th_write(&a, 0, 8, (uint8_t[4096]){ 1 }, false), TH_GOOD);
	assert_int_equal(th_write(&b, 0, 8, (uint8_t[4096]){ 2 }, false), TH_GOOD);
	th_stop(&a);
	th_stop(&b);
	/* gv0's connection lingers (60 s) */
	sleep_ms(500);
	assert_int_equal(live_glfs(), n_b);
}

/*
 * exit() finishes the lingering connections at once, in parallel, and the
 * handler works again afterwards (the daemon may load it anew). Last: it
 * leaves no connection of the handler behind, so that the process exits
 * with only its own client alive.
 */
static void test_exit(void **state)
{
	const struct tcmu_handler *h;
	struct th a, c;
	char cfg[256];
	void *dl;
	double t0;

	start_lun(&a, "/exit-a.img", true);
	assert_int_equal(th_start(&c, "glfs", cfg_of(cfg, sizeof(cfg), C.vol2, "/exit-c.img"),
				  NULL), 0);
	th_stop(&a);
	th_stop(&c);
	assert_true(live_glfs() >= 3); /* ours, gv0's and gv1's */

	h = th_load("glfs", &dl);
	assert_non_null(h->exit);
	t0 = now_s();
	h->exit();
	print_message("exit() finished the connections in %.1f s\n", now_s() - t0);
	assert_true(now_s() - t0 < 16); /* in parallel: not 2 x ~10 s */
	assert_int_equal(live_glfs(), 1);

	/* usable again; exit() again leaves nothing */
	start_lun(&a, "/exit-a.img", true);
	assert_int_equal(th_write(&a, 0, 8, (uint8_t[4096]){ 3 }, true), TH_GOOD);
	th_stop(&a);
	assert_int_equal(live_glfs(), 2);
	h->exit();
	assert_int_equal(live_glfs(), 1);
	dlclose(dl);
}

/* ---- main --------------------------------------------------------------- */

/* Reads "export KEY=VALUE" from the cluster's env file. */
static bool env_get(const char *file, const char *key, char *out, size_t size)
{
	char line[1200];
	size_t klen = strlen(key);
	bool found = false;
	FILE *f = fopen(file, "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *v = line;

		if (!strncmp(v, "export ", 7))
			v += 7;
		if (strncmp(v, key, klen) || v[klen] != '=')
			continue;
		v += klen + 1;
		v[strcspn(v, "\n")] = '\0';
		if (*v == '"') {
			v++;
			v[strcspn(v, "\"")] = '\0';
		}
		snprintf(out, size, "%s", v);
		found = true;
	}
	fclose(f);
	return found;
}

static bool have_gluster(void)
{
	return !sh("command -v glusterd >/dev/null 2>&1 && command -v gluster >/dev/null 2>&1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exports),
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_create_and_size),
		cmocka_unit_test(test_log_file),
		cmocka_unit_test(test_random_io),
		cmocka_unit_test(test_random_io_4k),
		cmocka_unit_test(test_random_io_no_write_cache),
		cmocka_unit_test(test_past_eof),
		cmocka_unit_test(test_emulated_compare_and_write),
		cmocka_unit_test(test_fua_flush),
		cmocka_unit_test(test_unmap),
		cmocka_unit_test(test_unmap_no_write_cache),
		cmocka_unit_test(test_write_same),
		cmocka_unit_test(test_brick_restart),
		cmocka_unit_test(test_glusterd_restart),
		cmocka_unit_test(test_glusterd_and_brick_restart),
		cmocka_unit_test(test_shared_connection),
		cmocka_unit_test(test_exit), /* last: closes all */
	};
	const char *dir = getenv("TCMU_GLFS_TEST_CLUSTER");
	const char *log_dir = getenv("TCMU_LOG_DIR");
	char env[600], vols[200], port[16];
	const char *filter;

	if (!dir || !*dir) {
		fprintf(stderr, "TCMU_GLFS_TEST_CLUSTER is not set (run through ctest)\n");
		return 1;
	}
	snprintf(env, sizeof(env), "%s/env", dir);
	if (access(env, R_OK)) {
		if (!have_gluster()) {
			printf("SKIP: GlusterFS is not installed (apt-get install glusterfs-server)\n");
			return 77;
		}
		fprintf(stderr, "no cluster in %s (the fixture glfs_cluster_up failed?)\n", dir);
		return 1;
	}
	snprintf(C.dir, sizeof(C.dir), "%s", dir);
	if (!env_get(env, "GLUSTER_HOST", C.host, sizeof(C.host)) ||
	    !env_get(env, "GLUSTER_PORT", port, sizeof(port)) ||
	    !env_get(env, "GLUSTER_VOLUMES", vols, sizeof(vols)) ||
	    !env_get(env, "GLUSTER_CLI", C.cli, sizeof(C.cli)) ||
	    sscanf(vols, "%63s %63s", C.vol, C.vol2) != 2) {
		fprintf(stderr, "%s: incomplete (two volumes needed)\n", env);
		return 1;
	}
	C.port = (unsigned int)atoi(port);
	snprintf(C.fault, sizeof(C.fault), "%s/tests/glfs/gluster-fault %s", TCMU_SOURCE_DIR, dir);
	if (!log_dir || log_dir[0] != '/') {
		fprintf(stderr, "TCMU_LOG_DIR must name the log directory\n");
		return 1;
	}
	snprintf(C.log_dir, sizeof(C.log_dir), "%s", log_dir);
	sh("mkdir -p '%s' && rm -f '%s'/tcmu-glfs-*.log", log_dir, log_dir);

	/* our own client: no metadata cache, so st_blocks are fresh */
	chk = glfs_new(C.vol);
	if (!chk || glfs_set_volfile_server(chk, "tcp", C.host, (int)C.port)) {
		fprintf(stderr, "glfs_new/set_volfile_server failed\n");
		return 1;
	}
	glfs_set_logging(chk, "/dev/null", 4);
	glfs_set_xlator_option(chk, "*-md-cache", "md-cache-timeout", "0");
	if (glfs_init(chk)) {
		fprintf(stderr, "glfs_init(%s@%s:%u): %s\n", C.vol, C.host, C.port, strerror(errno));
		return 1;
	}
	if (sh("%s volume profile %s start >/dev/null 2>&1", C.cli, C.vol) &&
	    sh("%s volume profile %s info >/dev/null 2>&1", C.cli, C.vol)) {
		fprintf(stderr, "cannot start 'volume profile %s'\n", C.vol);
		return 1;
	}
	filter = getenv("GLFS_TEST_FILTER"); /* e.g. "*brick*" */
	if (filter && *filter)
		cmocka_set_test_filter(filter);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
