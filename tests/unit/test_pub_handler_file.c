/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_pub_handler_file.c — the "file" handler through the public
 * API: check_config, file creation and sizing, random I/O with out-of-order
 * completion on both engines (io_uring and the worker pool), FUA and
 * SYNCHRONIZE CACHE, UNMAP punching holes, WRITE SAME, reads past end of
 * file, get_lba_status, and the exported symbols.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_pub_handler_common.h"

static char tmpdir[256];

static int setup_dir(void **state)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/tcmu-file-XXXXXX", base ? base : "/var/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tmpdir, name);
}

/* ---- check_config --------------------------------------------------- */

static bool check(const struct tcmu_handler *h, const char *cfg, const char *want)
{
	char *reason = NULL;
	bool ok = h->check_config(cfg, &reason);

	if (!ok) {
		assert_non_null(reason); /* a refusal always says why */
		if (want && !strstr(reason, want))
			fail_msg("'%s': reason '%s' lacks '%s'", cfg, reason, want);
	}
	free(reason);
	return ok;
}

static void test_check_config(void **state)
{
	const struct tcmu_handler *h;
	char p[512], cfg[600];
	struct stat st;
	void *dl;
	int fd;

	h = th_load("file", &dl);
	assert_non_null(h->check_config);
	assert_false(check(h, "", "no path"));
	assert_false(check(h, "relative/disk.img", "absolute"));
	assert_false(check(h, tmpdir, "directory"));
	snprintf(cfg, sizeof(cfg), "%s/", tmpdir);
	assert_false(check(h, cfg, "directory"));
	snprintf(cfg, sizeof(cfg), "%s/missing/disk.img", tmpdir);
	assert_false(check(h, cfg, "does not exist"));
	assert_false(check(h, "/dev/null", "not a regular file"));

	/* a regular file used as a directory */
	path_of(p, sizeof(p), "plain");
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cfg, sizeof(cfg), "%s/disk.img", p);
	assert_false(check(h, cfg, NULL));

	/* options */
	path_of(p, sizeof(p), "new.img");
	snprintf(cfg, sizeof(cfg), "%s;engine=bogus", p);
	assert_false(check(h, cfg, "engine"));
	snprintf(cfg, sizeof(cfg), "%s;threads=0", p);
	assert_false(check(h, cfg, "threads"));
	snprintf(cfg, sizeof(cfg), "%s;threads=65", p);
	assert_false(check(h, cfg, "threads"));
	snprintf(cfg, sizeof(cfg), "%s;threads=4x", p);
	assert_false(check(h, cfg, "threads"));
	snprintf(cfg, sizeof(cfg), "%s;sync=never", p);
	assert_false(check(h, cfg, "sync"));
	snprintf(cfg, sizeof(cfg), "%s;direct=1", p);
	assert_false(check(h, cfg, "unknown option"));
	snprintf(cfg, sizeof(cfg), "%s;frobnicate", p);
	assert_false(check(h, cfg, "unknown option"));

	/* good ones; none creates the file */
	assert_true(check(h, p, NULL));
	snprintf(cfg, sizeof(cfg), "%s;engine=threads;direct;sync=fsync;threads=3", p);
	assert_true(check(h, cfg, NULL));
	snprintf(cfg, sizeof(cfg), "%s;engine=auto;sync=fdatasync", p);
	assert_true(check(h, cfg, NULL));
	assert_int_equal(stat(p, &st), -1);
	assert_int_equal(errno, ENOENT);
	path_of(p, sizeof(p), "plain");
	assert_true(check(h, p, NULL)); /* existing regular file */
	dlclose(dl);
}

/* In a child process: does check_config refuse @cfg with @want in the reason? */
static bool refuses(const struct tcmu_handler *h, const char *cfg, const char *want)
{
	char *reason = NULL;
	bool ok = h->check_config(cfg, &reason);
	bool good = !ok && reason && (!want || strstr(reason, want));

	free(reason);
	return good;
}

/*
 * Permission checks as an unprivileged user (root passes access(), so a
 * root test run drops to nobody in a child): a directory we may not write
 * to, a file we may not write.
 */
static void test_check_config_permissions(void **state)
{
	const struct tcmu_handler *h;
	char ro[512], cfg[600], f[600];
	pid_t pid;
	int status, fd;
	void *dl;

	h = th_load("file", &dl);
	path_of(ro, sizeof(ro), "ro");
	assert_int_equal(mkdir(ro, 0755), 0);
	snprintf(f, sizeof(f), "%s/ro.img", ro);
	fd = open(f, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(f, 0444), 0);
	assert_int_equal(chmod(ro, 0555), 0);
	assert_int_equal(chmod(tmpdir, 0755), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int bad = 0;

		if (geteuid() == 0 && (setgid(65534) || setuid(65534)))
			_exit(100);
		snprintf(cfg, sizeof(cfg), "%s/new.img", ro);
		bad |= !refuses(h, cfg, "cannot create") << 0;
		bad |= !refuses(h, f, "cannot read and write") << 1;
		snprintf(cfg, sizeof(cfg), "%s/sub/x.img", ro);
		bad |= !refuses(h, cfg, "does not exist") << 2;
		_exit(bad);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(chmod(ro, 0755), 0);
	assert_int_equal(chmod(f, 0644), 0);
	if (WEXITSTATUS(status) == 100)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
	/* writable again: accepted */
	assert_true(check(h, f, NULL));
	snprintf(cfg, sizeof(cfg), "%s/new.img", ro);
	assert_true(check(h, cfg, NULL));
	dlclose(dl);
}

/* ---- creation, sizing ----------------------------------------------- */

static void test_create_and_size(void **state)
{
	char p[512], cfg[600];
	uint8_t buf[4096], back[4096];
	uint64_t seed = 7;
	struct stat st;
	struct th t;
	int fd;

	/* missing: created with the device size */
	path_of(p, sizeof(p), "created.img");
	unlink(p);
	assert_int_equal(th_start(&t, "file", p, NULL), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, t.size);
	th_stop(&t);

	/* larger: never shrunk */
	assert_int_equal(truncate(p, 3 * (16 << 20)), 0);
	assert_int_equal(th_start(&t, "file", p, NULL), 0);
	th_stop(&t);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 3 * (16 << 20));

	/* smaller, with data: grown, data kept */
	unlink(p);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	th_fill(buf, sizeof(buf), &seed);
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), sizeof(buf));
	close(fd);
	snprintf(cfg, sizeof(cfg), "%s;engine=threads", p);
	assert_int_equal(th_start(&t, "file", cfg, NULL), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, t.size);
	assert_int_equal(th_read(&t, 0, sizeof(back) / t.bs, back), TH_GOOD);
	assert_memory_equal(back, buf, sizeof(buf));
	th_stop(&t);

	/* open() refuses what check_config refuses */
	assert_int_not_equal(th_start(&t, "file", tmpdir, NULL), 0);
	snprintf(cfg, sizeof(cfg), "%s;nonsense", p);
	assert_int_not_equal(th_start(&t, "file", cfg, NULL), 0);
}

/* ---- random I/O ----------------------------------------------------- */

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

/* The backing file holds exactly @shadow. */
static void check_file(const char *p, const uint8_t *shadow, uint64_t size)
{
	uint8_t *buf = malloc(size);
	int fd = open(p, O_RDONLY);

	assert_non_null(buf);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, size, 0), (ssize_t)size);
	assert_memory_equal(buf, shadow, size);
	close(fd);
	free(buf);
}

static void random_io(const char *name, const char *opts, int workers,
		      const struct sim_config *scfg, bool write_cache, int rounds)
{
	char p[512], cfg[700];
	uint8_t *shadow;
	struct th t;
	int r;

	path_of(p, sizeof(p), name);
	unlink(p);
	snprintf(cfg, sizeof(cfg), "%s%s", p, opts);
	r = th_start_wc(&t, "file", cfg, scfg, write_cache);
	if (r == -EINVAL && strstr(opts, "direct"))
		skip(); /* the filesystem refuses O_DIRECT */
	assert_int_equal(r, 0);
	assert_int_equal(count_threads("tcmu-file"), workers);
	shadow = calloc(1, t.size);
	assert_non_null(shadow);
	th_random_io(&t, shadow, rounds, 16, 0x1234 + workers);
	assert_int_equal(th_sync(&t), TH_GOOD);
	check_file(p, shadow, t.size);
	th_stop(&t);
	assert_int_equal(count_threads("tcmu-file"), 0);
	free(shadow);
}

static void test_random_io_uring(void **state)
{
	random_io("uring.img", ";engine=uring", 2, NULL, true, 40);
}

static void test_random_io_threads(void **state)
{
	random_io("threads.img", ";engine=threads;threads=3", 3, NULL, true, 40);
}

static void test_random_io_direct(void **state)
{
	struct sim_config scfg = { .dev_size = 16 << 20, .block_size = 4096,
				   .max_sectors = 32, .data_size = 8 << 20 };

	random_io("direct.img", ";engine=uring;direct", 2, &scfg, true, 40);
}

/* Write cache off: every write is RWF_DSYNC. */
static void test_random_io_no_write_cache(void **state)
{
	random_io("nowc.img", "", 2, NULL, false, 5);
	random_io("nowc.img", ";engine=threads", 4, NULL, false, 5);
}

/*
 * The file handler has no compare_and_write: the SCSI core emulates it with
 * a read and then a write of the same command. That write is issued from a
 * continuation, outside a batch, so it must not wait for batch_end().
 */
static void test_emulated_compare_and_write(void **state)
{
	uint8_t a[1024], b[1024], back[1024];
	uint64_t seed = 8;
	char p[512], cfg[600];
	struct sim_io io;
	struct th t;

	path_of(p, sizeof(p), "caw.img");
	snprintf(cfg, sizeof(cfg), "%s;engine=uring", p);
	assert_int_equal(th_start(&t, "file", cfg, NULL), 0);
	assert_null(t.h->compare_and_write);
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

/* ---- FUA, flush ----------------------------------------------------- */

static void fua_flush(const char *opts)
{
	char p[512], cfg[600];
	uint8_t buf[8192], back[8192];
	uint64_t seed = 99;
	struct th t;
	int fd;

	path_of(p, sizeof(p), "fua.img");
	unlink(p);
	snprintf(cfg, sizeof(cfg), "%s%s", p, opts);
	assert_int_equal(th_start(&t, "file", cfg, NULL), 0);
	assert_non_null(t.h->flush);
	th_fill(buf, sizeof(buf), &seed);
	assert_int_equal(th_write(&t, 100, sizeof(buf) / t.bs, buf, true), TH_GOOD);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, back, sizeof(back), 100 * t.bs), sizeof(back));
	assert_memory_equal(back, buf, sizeof(buf));
	close(fd);
	assert_int_equal(th_write(&t, 300, sizeof(buf) / t.bs, buf, false), TH_GOOD);
	assert_int_equal(th_sync(&t), TH_GOOD);
	th_stop(&t);
}

static void test_fua_flush_uring(void **state)
{
	fua_flush(";engine=uring");
}

static void test_fua_flush_threads(void **state)
{
	fua_flush(";engine=threads;sync=fsync");
}

/* ---- UNMAP, WRITE SAME, get_lba_status ------------------------------ */

static uint64_t blocks_of(const char *p)
{
	struct stat st;

	assert_int_equal(stat(p, &st), 0);
	return st.st_blocks; /* 512-byte units */
}

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

static void unmap_punches(const char *opts, bool write_cache)
{
	const size_t total = 4 << 20, mib = 1 << 20;
	const uint64_t ranges[2][2] = { { 0, mib / 512 }, { 2 * mib / 512, mib / 512 } };
	char p[512], cfg[600];
	uint8_t *data, *back, *zero;
	uint64_t before, after, ext;
	bool mapped;
	struct th t;

	path_of(p, sizeof(p), "unmap.img");
	unlink(p);
	snprintf(cfg, sizeof(cfg), "%s%s", p, opts);
	assert_int_equal(th_start_wc(&t, "file", cfg, NULL, write_cache), 0);
	assert_true(t.h->unmap_zeroes);
	data = fill_start(&t, total, 5);
	before = blocks_of(p);
	assert_true(before >= total / 512);
	assert_int_equal(t.h->get_lba_status(t.dev, 0, &mapped, &ext), 0);
	assert_true(mapped);
	assert_true(ext >= total);

	assert_int_equal(th_unmap(&t, ranges, 2), TH_GOOD);
	after = blocks_of(p);
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

static void test_unmap_uring(void **state)
{
	unmap_punches(";engine=uring", true);
}

static void test_unmap_threads(void **state)
{
	unmap_punches(";engine=threads", true);
}

/* Write cache off: UNMAP goes to a worker (ranges copied) and is synced. */
static void test_unmap_uring_no_write_cache(void **state)
{
	unmap_punches(";engine=uring", false);
}

static void write_same(const char *opts)
{
	const size_t total = 2 << 20, mib = 1 << 20;
	char p[512], cfg[600];
	uint8_t *data, *back, *zero, pat[512];
	uint64_t before, seed = 3;
	struct th t;
	size_t i;
	int fd;

	path_of(p, sizeof(p), "ws.img");
	unlink(p);
	snprintf(cfg, sizeof(cfg), "%s%s", p, opts);
	assert_int_equal(th_start(&t, "file", cfg, NULL), 0);
	data = fill_start(&t, total, 11);
	back = malloc(total);
	zero = calloc(1, mib);
	assert_true(back && zero);

	/* zeroes, no UNMAP: reads zero, the file holds zeroes */
	assert_int_equal(th_write_same(&t, 0, 256, zero, false), TH_GOOD);
	read_range(&t, 0, total, back);
	assert_memory_equal(back, zero, 256 * 512);
	assert_memory_equal(back + 256 * 512, data + 256 * 512, total - 256 * 512);

	/* zeroes with UNMAP over the second MiB: a hole */
	before = blocks_of(p);
	assert_int_equal(th_write_same(&t, mib / 512, mib / 512, zero, true), TH_GOOD);
	assert_true(blocks_of(p) <= before - mib / 512);
	read_range(&t, mib, mib, back);
	assert_memory_equal(back, zero, mib);

	/* a pattern: every block equals it */
	th_fill(pat, sizeof(pat), &seed);
	assert_int_equal(th_write_same(&t, 1000, 300, pat, false), TH_GOOD);
	read_range(&t, 1000 * 512 - 512 * 8, 64 * 1024 * 3, back);
	for (i = 0; i < 300; i++)
		assert_memory_equal(back + (8 + i) * 512, pat, 512);
	assert_memory_equal(back, data + 992 * 512, 8 * 512);
	assert_memory_equal(back + 308 * 512, data + 1300 * 512, 16 * 512);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, back, 512, 1299 * 512), 512);
	assert_memory_equal(back, pat, 512);
	close(fd);
	th_stop(&t);
	free(data);
	free(back);
	free(zero);
}

static void test_write_same_uring(void **state)
{
	write_same(";engine=uring");
}

static void test_write_same_threads(void **state)
{
	write_same(";engine=threads");
}

/* ---- past end of file ----------------------------------------------- */

static void past_eof(const char *opts)
{
	char p[512], cfg[600];
	uint8_t *data, back[TH_CHUNK], zero[TH_CHUNK] = { 0 };
	struct th t;

	path_of(p, sizeof(p), "eof.img");
	unlink(p);
	snprintf(cfg, sizeof(cfg), "%s%s", p, opts);
	assert_int_equal(th_start(&t, "file", cfg, NULL), 0);
	data = fill_start(&t, 4 * TH_CHUNK, 21);
	/* someone shrinks the file behind our back, mid-block */
	assert_int_equal(truncate(p, TH_CHUNK + 1000), 0);
	assert_int_equal(th_read(&t, TH_CHUNK / 512, TH_CHUNK / 512, back), TH_GOOD);
	assert_memory_equal(back, data + TH_CHUNK, 1000);
	assert_memory_equal(back + 1000, zero, TH_CHUNK - 1000);
	assert_int_equal(th_read(&t, 3 * TH_CHUNK / 512, TH_CHUNK / 512, back), TH_GOOD);
	assert_memory_equal(back, zero, TH_CHUNK);
	th_stop(&t);
	free(data);
}

static void test_past_eof_uring(void **state)
{
	past_eof(";engine=uring");
}

static void test_past_eof_threads(void **state)
{
	past_eof(";engine=threads");
}

/* ---- ;mmap=auto: I/O through a shared mapping (tmpfs) ---------------- */

/* A path on tmpfs for @name, or skip() when /dev/shm is not tmpfs. */
static void shm_path(char *buf, size_t size, const char *name)
{
	struct statfs sf;

	if (statfs("/dev/shm", &sf) || sf.f_type != TMPFS_MAGIC)
		skip();
	snprintf(buf, size, "/dev/shm/tcmu-file-%d-%s", (int)getpid(), name);
}

/* Does this process map @path? */
static bool mapped_here(const char *path)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024];
	bool found = false;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, path) != NULL;
	fclose(f);
	return found;
}

/* Resident KiB of this process's mapping of @path (smaps "Rss:"); -1: none. */
static long long mapping_rss_kib(const char *path)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[1024];
	unsigned long long lo, hi;
	bool in = false;
	long long kib = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2)
			in = strstr(line, path) != NULL; /* a mapping's header line */
		else if (in && sscanf(line, "Rss: %lld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return in ? kib : -1;
}

/* A file of @size bytes on tmpfs with every page allocated (fallocate). */
static void dense_file(const char *p, uint64_t size)
{
	int fd;

	unlink(p);
	fd = open(p, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(posix_fallocate(fd, 0, (off_t)size), 0);
	close(fd);
}

/* Waits (10 s at most) for the mapping's warm-up thread to end. */
static void wait_warm_done(void)
{
	int i;

	for (i = 0; i < 1000 && count_threads("tcmu-file-warm"); i++)
		usleep(10000);
	assert_int_equal(count_threads("tcmu-file-warm"), 0);
}

/*
 * Random I/O through the mapping (the default on tmpfs) lands in the file
 * and reads back right: on a thin file (writes only through the mapping)
 * and on a fully allocated one (reads too, page tables prefaulted).
 */
static void mmap_random_io(bool dense)
{
	char p[512];
	uint8_t *shadow;
	struct th t;

	shm_path(p, sizeof(p), "map.img");
	unlink(p);
	if (dense)
		dense_file(p, 16 << 20);
	assert_int_equal(th_start(&t, "file", p, NULL), 0);
	assert_true(mapped_here(p));
	if (dense) {
		wait_warm_done();
		/* the warm-up mapped every page: no fault on the ring thread */
		assert_int_equal(mapping_rss_kib(p), (long long)(t.size >> 10));
	}
	shadow = calloc(1, t.size);
	assert_non_null(shadow);
	th_random_io(&t, shadow, 40, 16, 0x4321);
	assert_int_equal(th_sync(&t), TH_GOOD);
	check_file(p, shadow, t.size);
	th_stop(&t);
	assert_false(mapped_here(p));
	free(shadow);
	unlink(p);
}

static void test_mmap_random_io_thin(void **state)
{
	mmap_random_io(false);
}

static void test_mmap_random_io_dense(void **state)
{
	mmap_random_io(true);
}

/* ;mmap=off: no mapping, same I/O. */
static void test_mmap_off(void **state)
{
	char p[512], cfg[700];
	uint8_t buf[TH_CHUNK], back[TH_CHUNK];
	uint64_t seed = 3;
	struct th t;

	shm_path(p, sizeof(p), "nomap.img");
	dense_file(p, 16 << 20);
	snprintf(cfg, sizeof(cfg), "%s;mmap=off", p);
	assert_int_equal(th_start(&t, "file", cfg, NULL), 0);
	assert_false(mapped_here(p));
	assert_int_equal(count_threads("tcmu-file-warm"), 0);
	th_fill(buf, sizeof(buf), &seed);
	assert_int_equal(th_write(&t, 8, TH_CHUNK / t.bs, buf, false), TH_GOOD);
	assert_int_equal(th_read(&t, 8, TH_CHUNK / t.bs, back), TH_GOOD);
	assert_memory_equal(back, buf, sizeof(buf));
	th_stop(&t);
	unlink(p);
}

/*
 * Reading a thin image allocates nothing: a load from a hole through the
 * mapping would fill it, so reads of a file with holes take the engine.
 */
static void test_mmap_thin_reads_allocate_nothing(void **state)
{
	char p[512];
	uint8_t buf[TH_CHUNK], back[TH_CHUNK], zero[TH_CHUNK] = { 0 };
	uint64_t off, seed = 9, filled;
	struct th t;

	shm_path(p, sizeof(p), "thin.img");
	unlink(p); /* created sparse, at the device size */
	assert_int_equal(th_start(&t, "file", p, NULL), 0);
	assert_true(mapped_here(p));
	assert_int_equal(blocks_of(p), 0);
	for (off = 0; off < (1 << 20); off += TH_CHUNK) {
		assert_int_equal(th_read(&t, off / t.bs, TH_CHUNK / t.bs, back), TH_GOOD);
		assert_memory_equal(back, zero, TH_CHUNK);
	}
	assert_int_equal(blocks_of(p), 0);
	/* a write fills its hole, through the mapping */
	th_fill(buf, sizeof(buf), &seed);
	assert_int_equal(th_write(&t, (2 << 20) / t.bs, TH_CHUNK / t.bs, buf, false), TH_GOOD);
	filled = blocks_of(p); /* TH_CHUNK / 512, or a huge page on a huge=... tmpfs */
	assert_true(filled >= TH_CHUNK / 512);
	assert_int_equal(th_read(&t, (2 << 20) / t.bs, TH_CHUNK / t.bs, back), TH_GOOD);
	assert_memory_equal(back, buf, TH_CHUNK);
	for (off = 4 << 20; off < (5 << 20); off += TH_CHUNK)
		assert_int_equal(th_read(&t, off / t.bs, TH_CHUNK / t.bs, back), TH_GOOD);
	assert_int_equal(blocks_of(p), filled);
	th_stop(&t);
	unlink(p);
}

/*
 * A fully allocated image is read through the mapping until an UNMAP
 * punches holes; from then on reads take the engine, so reading the
 * unmapped range gives zeroes and does not allocate it again.
 */
static void test_mmap_unmap_then_reads(void **state)
{
	const size_t mib = 1 << 20;
	const uint64_t ranges[1][2] = { { mib / 512, mib / 512 } };
	char p[512];
	uint8_t *data, *back, *zero;
	uint64_t before, after;
	struct th t;

	shm_path(p, sizeof(p), "punch.img");
	dense_file(p, 16 << 20);
	assert_int_equal(th_start_wc(&t, "file", p, NULL, true), 0);
	data = fill_start(&t, 4 * mib, 21);
	back = malloc(4 * mib);
	zero = calloc(1, mib);
	assert_true(back && zero);
	read_range(&t, 0, 4 * mib, back);
	assert_memory_equal(back, data, 4 * mib);
	before = blocks_of(p);
	assert_int_equal(th_unmap(&t, ranges, 1), TH_GOOD);
	after = blocks_of(p);
	if (before - after < mib / 512)
		fail_msg("st_blocks %llu -> %llu: hole not punched",
			 (unsigned long long)before, (unsigned long long)after);
	assert_int_equal(count_threads("tcmu-file-warm"), 0); /* stopped first */
	read_range(&t, 0, 4 * mib, back);
	assert_memory_equal(back, data, mib);
	assert_memory_equal(back + mib, zero, mib);
	assert_memory_equal(back + 2 * mib, data + 2 * mib, 2 * mib);
	assert_int_equal(blocks_of(p), after);
	th_stop(&t);
	free(data);
	free(back);
	free(zero);
	unlink(p);
}

/*
 * The file is truncated behind our back: a load or store in the mapping
 * raises SIGBUS, the guard catches it and the transfer is done the usual
 * way (a read past the end reads zeroes, a write grows the file again)
 * instead of killing the process.
 */
static void test_mmap_sigbus_fallback(void **state)
{
	char p[512], cfg[700];
	uint8_t *data, back[TH_CHUNK], zero[TH_CHUNK] = { 0 };
	struct th t;

	shm_path(p, sizeof(p), "bus.img");
	dense_file(p, 16 << 20); /* no hole: reads go through the mapping too */
	snprintf(cfg, sizeof(cfg), "%s;mmap=on", p); /* "on" is "auto" */
	assert_int_equal(th_start(&t, "file", cfg, NULL), 0);
	assert_true(mapped_here(p));
	data = fill_start(&t, 4 * TH_CHUNK, 33);
	assert_int_equal(truncate(p, 0), 0);
	memset(back, 0xa5, sizeof(back));
	assert_int_equal(th_read(&t, TH_CHUNK / t.bs, TH_CHUNK / t.bs, back), TH_GOOD);
	assert_memory_equal(back, zero, TH_CHUNK);
	assert_int_equal(th_write(&t, 2 * TH_CHUNK / t.bs, TH_CHUNK / t.bs, data, false), TH_GOOD);
	assert_int_equal(th_read(&t, 2 * TH_CHUNK / t.bs, TH_CHUNK / t.bs, back), TH_GOOD);
	assert_memory_equal(back, data, TH_CHUNK);
	/* writes use the mapping again once the file is long enough (reads stay off it) */
	assert_int_equal(truncate(p, t.size), 0);
	assert_int_equal(th_write(&t, 0, TH_CHUNK / t.bs, data + TH_CHUNK, false), TH_GOOD);
	assert_int_equal(th_read(&t, 0, TH_CHUNK / t.bs, back), TH_GOOD);
	assert_memory_equal(back, data + TH_CHUNK, TH_CHUNK);
	th_stop(&t);
	free(data);
	unlink(p);
}

/* ---- the plugin exports one symbol ---------------------------------- */

static void test_exports(void **state)
{
	const struct tcmu_handler *h;
	void *dl;

	h = th_load("file", &dl);
	assert_string_equal(h->subtype, "file");
	assert_int_equal(h->concurrency, TCMU_CONCURRENCY_ASYNC);
	assert_true(h->cmd_priv_size > 0);
	assert_true(h->nonrotational);
	assert_null(dlsym(dl, "fh_open"));
	assert_null(dlsym(dl, "fh_config_parse"));
	assert_null(dlsym(dl, "fh_pool_queue"));
	dlclose(dl);
}

/*
 * Where io_uring is unavailable (seccomp, old kernels), engine=auto falls
 * back to the worker pool and engine=uring refuses to open. io_uring_setup
 * is blocked with a seccomp filter on this process: irreversible, so this
 * test runs last.
 */
static void test_fallback_without_io_uring(void **state)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(insns) / sizeof(insns[0]), .filter = insns };
	char p[512], cfg[600];

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		skip();
	assert_int_equal(syscall(__NR_io_uring_setup, 4, NULL), -1);
	assert_int_equal(errno, ENOSYS);

	path_of(p, sizeof(p), "nouring.img");
	snprintf(cfg, sizeof(cfg), "%s;engine=uring", p);
	assert_int_equal(th_start(&(struct th){ 0 }, "file", cfg, NULL), -ENOSYS);
	/* auto: the default pool of 4 workers carries all the I/O */
	random_io("nouring.img", "", 4, NULL, true, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exports),
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_check_config_permissions),
		cmocka_unit_test(test_create_and_size),
		cmocka_unit_test(test_random_io_uring),
		cmocka_unit_test(test_random_io_threads),
		cmocka_unit_test(test_random_io_direct),
		cmocka_unit_test(test_random_io_no_write_cache),
		cmocka_unit_test(test_emulated_compare_and_write),
		cmocka_unit_test(test_fua_flush_uring),
		cmocka_unit_test(test_fua_flush_threads),
		cmocka_unit_test(test_unmap_uring),
		cmocka_unit_test(test_unmap_threads),
		cmocka_unit_test(test_unmap_uring_no_write_cache),
		cmocka_unit_test(test_write_same_uring),
		cmocka_unit_test(test_write_same_threads),
		cmocka_unit_test(test_past_eof_uring),
		cmocka_unit_test(test_past_eof_threads),
		cmocka_unit_test(test_mmap_random_io_thin),
		cmocka_unit_test(test_mmap_random_io_dense),
		cmocka_unit_test(test_mmap_off),
		cmocka_unit_test(test_mmap_thin_reads_allocate_nothing),
		cmocka_unit_test(test_mmap_unmap_then_reads),
		cmocka_unit_test(test_mmap_sigbus_fallback),
		cmocka_unit_test(test_fallback_without_io_uring), /* last */
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
