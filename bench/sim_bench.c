/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/sim_bench.c — tcmu-simbench: commands per second and CPU per
 * command through the whole daemon data path (ring thread, SCSI core,
 * handler, completion write-back) with the ring simulator of tests/sim as
 * the "kernel". No kernel, no root.
 *
 *   tcmu-simbench [-q 1,8,32,256] [-b 4k,64k,1m] [-w read,write]
 *                 [-t SECONDS | -n COMMANDS] [-H ram] [-c CONFIG] [-p PAGES_PER_BLK]
 *                 [-s DEV_SIZE] [-C]
 *
 * The main thread is the producer (what target_core_user does): it keeps
 * QD commands in flight, reaps completions when libtcmu notifies, and
 * resubmits them with new random LBAs, raising one UIO event per batch.
 * libtcmu's ring thread (named "tcmu-ring") is the daemon side; its CPU
 * time is read from /proc/self/task/<tid>/schedstat (nanoseconds), so the
 * "daemon" columns are our own overhead on one core, whatever the producer
 * costs. The producer's own CPU time is reported beside it.
 *
 * Output: one line per (workload, block size, queue depth), or CSV with -C.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tcmu/handler.h>
#include <tcmu/libtcmu.h>

#include "sim.h"

/* Under callgrind, count only the measured phase (bench/run-sim.sh -c). */
#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define CALLGRIND_ZERO_STATS do { } while (0)
#define CALLGRIND_DUMP_STATS_AT(s) do { (void)(s); } while (0)
#endif

#ifndef TCMU_HANDLER_BUILD_DIR
#define TCMU_HANDLER_BUILD_DIR "handlers"
#endif

#define MAX_LIST 16
#define BLOCK 512u

struct opts {
	unsigned int qd[MAX_LIST], nqd;
	size_t bs[MAX_LIST];
	unsigned int nbs;
	bool rw_write[2];
	unsigned int nrw;
	double secs;
	uint64_t ops;
	const char *handler;
	const char *handler_dir;
	const char *cfg;
	uint32_t pages_per_blk;
	uint64_t dev_size;
	bool csv;
};

struct run {
	struct sim *sim;
	struct sim_io *ios;
	uint8_t *buf;
	size_t bs;
	unsigned int qd;
	bool write;
	uint64_t nlba_slots; /* dev_size / bs */
	uint64_t rng;
	uint64_t target;     /* commands to complete (0: until deadline) */
	uint64_t issued, completed, errors;
	bool stop;
	struct sim_io **retry;
	unsigned int nretry;
	bool kick;
	uint8_t last_status;
	uint8_t last_sense[3];
};

struct result {
	uint64_t cmds;
	double wall_s;
	double daemon_cpu_s;
	double producer_cpu_s;
	uint64_t notifies, events;
	uint64_t errors;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("tcmu-simbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* ---- the daemon's ring thread ------------------------------------------ */

/* The tid of the thread named "tcmu-ring" (the newest one), or -1. */
static long ring_tid(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long best = -1;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[64], comm[32] = "";
		FILE *f;
		long tid = strtol(e->d_name, NULL, 10);

		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%ld/comm", tid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, "tcmu-ring", 9) &&
		    tid > best)
			best = tid;
		fclose(f);
	}
	closedir(d);
	return best;
}

/* CPU time of thread @tid in seconds (schedstat: ns on the CPU). */
static double tid_cpu_s(long tid)
{
	char path[64];
	unsigned long long ns = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/schedstat", tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return (double)ns / 1e9;
}

/* ---- producer ------------------------------------------------------------ */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* READ(10)/WRITE(10) of run->bs bytes at a random aligned LBA (what sd sends). */
static void prep_io(struct run *r, struct sim_io *io, uint8_t *buf)
{
	uint8_t cdb[10] = { 0 };
	uint64_t slot = xorshift(&r->rng) % r->nlba_slots;
	uint32_t nlb = (uint32_t)(r->bs / BLOCK);

	cdb[0] = r->write ? 0x2a : 0x28;
	put_be32(&cdb[2], (uint32_t)(slot * nlb));
	cdb[7] = nlb >> 8;
	cdb[8] = nlb & 0xff;
	sim_io_init(io, cdb, sizeof(cdb));
	if (r->write) {
		io->out = buf;
		io->out_len = r->bs;
	} else {
		/* data-in is not copied out: the kernel's copy is not ours to time */
		io->in = NULL;
		io->in_len = r->bs;
	}
	io->priv = r;
}

static void submit(struct run *r, struct sim_io *io)
{
	int ret = sim_submit_flags(r->sim, io, SIM_NO_KICK);

	if (ret == -EAGAIN) {
		r->retry[r->nretry++] = io;
		return;
	}
	if (ret < 0)
		die("sim_submit: %s", strerror(-ret));
	r->issued++;
	r->kick = true;
}

/* Simulator completion callback (the producer thread, in sim_reap). */
static void on_complete(struct sim *s, struct sim_io *io, void *arg)
{
	struct run *r = arg;
	size_t idx = (size_t)(io - r->ios);

	if (io->priv != r)
		return; /* a warm-up command */
	r->completed++;
	if (io->status) {
		r->errors++;
		r->last_status = io->status;
		r->last_sense[0] = io->sense[2] & 0x0f;
		r->last_sense[1] = io->sense[12];
		r->last_sense[2] = io->sense[13];
	}
	if (r->stop || (r->target && r->issued >= r->target))
		return;
	prep_io(r, io, r->buf + idx * r->bs);
	submit(r, io);
}

/* Runs until @target commands completed or @secs passed (then drains). */
static void drive(struct run *r, double secs, uint64_t target)
{
	double end = now_s() + secs;
	unsigned int i;
	uint64_t checks = 0;

	r->target = target;
	r->stop = false;
	r->issued = r->completed = r->errors = 0;
	r->kick = false;
	for (i = 0; i < r->qd && (!target || i < target); i++) {
		prep_io(r, &r->ios[i], r->buf + (size_t)i * r->bs);
		submit(r, &r->ios[i]);
	}
	for (;;) {
		unsigned int n;

		if (r->kick) {
			r->kick = false;
			sim_kick(r->sim);
		}
		if (r->completed == r->issued && !r->nretry)
			break;
		if (sim_reap(r->sim, 1000, false) < 0)
			die("the simulated ring broke");
		/* retry what did not fit (ring or data area full) */
		n = r->nretry;
		r->nretry = 0;
		for (i = 0; i < n; i++)
			if (!r->stop)
				submit(r, r->retry[i]);
		if (!target && !r->stop && (++checks & 15) == 0 && now_s() >= end)
			r->stop = true;
	}
}

/* ---- one configuration ------------------------------------------------------ */

static const struct tcmu_handler *load_handler(const struct opts *o, void **dl)
{
	char path[1024];
	tcmu_handler_entry_fn entry;

	snprintf(path, sizeof(path), "%s/handler_%s.so", o->handler_dir, o->handler);
	*dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*dl)
		die("dlopen %s: %s", path, dlerror());
	entry = (tcmu_handler_entry_fn)dlsym(*dl, TCMU_HANDLER_ENTRY_SYMBOL);
	if (!entry)
		die("%s: no %s", path, TCMU_HANDLER_ENTRY_SYMBOL);
	return entry();
}

static void run_one(const struct opts *o, const struct tcmu_handler *h,
		    bool write, size_t bs, unsigned int qd, struct result *res)
{
	size_t blk = (size_t)o->pages_per_blk * 4096;
	size_t per = (bs + blk - 1) / blk * blk;
	struct sim_config cfg = {
		.cmdr_size = (8u << 20) - 64, /* the kernel's default ring: 8 MiB with the mailbox */
		.data_pages_per_blk = o->pages_per_blk,
		.data_size = 2 * (size_t)qd * per < (4u << 20) ? (4u << 20) : 2 * (size_t)qd * per,
		.dev_size = o->dev_size,
		.block_size = BLOCK,
		.max_sectors = (uint32_t)((bs > (1u << 20) ? bs : (1u << 20)) / BLOCK),
		.manual = true,
	};
	struct tcmu_device_info info;
	struct tcmu_device *dev;
	struct sim_stats st0, st1;
	struct run r = { .bs = bs, .qd = qd, .rng = 0x9e3779b97f4a7c15ull };
	double t0, t1, d0, d1, p0, p1;
	size_t map_size;
	int efd, mfd, ret;
	long tid;

	cfg.complete = on_complete;
	cfg.complete_arg = &r;
	ret = sim_create(&cfg, &r.sim);
	if (ret < 0)
		die("sim_create: %s", strerror(-ret));
	ret = sim_device_fds(r.sim, &efd, &mfd, &map_size, &info);
	if (ret < 0)
		die("sim_device_fds: %s", strerror(-ret));
	snprintf(info.subtype, sizeof(info.subtype), "%s", o->handler);
	snprintf(info.cfgstring, sizeof(info.cfgstring), "%s", o->cfg);
	info.write_cache = true;
	ret = tcmu_device_open_fd(efd, mfd, map_size, &info, &dev);
	if (ret < 0)
		die("tcmu_device_open_fd: %s", strerror(-ret));
	ret = tcmu_device_start(dev, h, false);
	if (ret < 0)
		die("tcmu_device_start(%s): %s", o->handler, strerror(-ret));
	tid = ring_tid();
	if (tid < 0)
		die("no tcmu-ring thread");

	r.ios = calloc(qd, sizeof(*r.ios));
	r.retry = calloc(qd, sizeof(*r.retry));
	r.buf = aligned_alloc(4096, (size_t)qd * bs);
	if (!r.ios || !r.retry || !r.buf)
		die("out of memory");
	memset(r.buf, 0xa5, (size_t)qd * bs);

	/*
	 * Warm-up: the first command gets the power-on unit attention; then
	 * write the whole LUN once (the ram handler's pages exist afterwards)
	 * and run the workload briefly.
	 */
	{
		size_t fill = 1u << 20;
		uint8_t *wbuf = aligned_alloc(4096, fill);
		uint8_t tur[6] = { 0 };
		struct sim_io io;
		uint64_t slot;

		if (!wbuf)
			die("out of memory");
		memset(wbuf, 0x5a, fill);
		/* TEST UNIT READY eats the unit attention */
		sim_io_init(&io, tur, sizeof(tur));
		if (sim_submit(r.sim, &io) < 0 || !sim_wait_done(r.sim, &io, 10000))
			die("TEST UNIT READY failed");
		for (slot = 0; slot < o->dev_size / fill; slot++) {
			uint8_t cdb[10] = { 0x2a };
			uint32_t nlb = (uint32_t)(fill / BLOCK);

			put_be32(&cdb[2], (uint32_t)(slot * nlb));
			cdb[7] = nlb >> 8;
			cdb[8] = nlb & 0xff;
			sim_io_init(&io, cdb, sizeof(cdb));
			io.out = wbuf;
			io.out_len = fill;
			ret = sim_submit(r.sim, &io);
			if (ret < 0)
				die("warm-up write: %s", strerror(-ret));
			if (!sim_wait_done(r.sim, &io, 10000) || io.status)
				die("warm-up write failed (status 0x%02x)", io.status);
		}
		free(wbuf);
	}
	r.write = write;
	r.bs = bs;
	r.qd = qd;
	r.nlba_slots = o->dev_size / bs;
	drive(&r, 0, (uint64_t)qd * 64 + 1000);

	sim_get_stats(r.sim, &st0);
	CALLGRIND_ZERO_STATS;
	t0 = now_s();
	d0 = tid_cpu_s(tid);
	p0 = thread_cpu_s();
	drive(&r, o->secs, o->ops);
	p1 = thread_cpu_s();
	d1 = tid_cpu_s(tid);
	t1 = now_s();
	{
		char label[64];

		snprintf(label, sizeof(label), "measured %s bs=%zu qd=%u cmds=%" PRIu64,
			 write ? "write" : "read", bs, qd, r.completed);
		CALLGRIND_DUMP_STATS_AT(label);
	}
	sim_get_stats(r.sim, &st1);

	res->cmds = r.completed;
	res->errors = r.errors;
	res->wall_s = t1 - t0;
	res->daemon_cpu_s = d1 - d0;
	res->producer_cpu_s = p1 - p0;
	res->notifies = st1.notifies - st0.notifies;
	res->events = st1.events - st0.events;
	if (r.errors)
		fprintf(stderr, "tcmu-simbench: %" PRIu64 " commands failed (last status 0x%02x sense %x/%02x/%02x)\n",
			r.errors, r.last_status, r.last_sense[0], r.last_sense[1],
			r.last_sense[2]);

	ret = tcmu_device_stop(dev, 5000);
	if (ret < 0)
		die("tcmu_device_stop: %s", strerror(-ret));
	tcmu_device_close(dev);
	sim_destroy(r.sim);
	free(r.ios);
	free(r.retry);
	free(r.buf);
}

/* ---- options and output ------------------------------------------------------ */

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (end == s || *end)
		die("bad size '%s'", s);
	return (size_t)v;
}

static void parse_list(const char *arg, void (*add)(struct opts *, const char *),
		       struct opts *o)
{
	char *dup = strdup(arg), *save = NULL, *tok;

	if (!dup)
		die("out of memory");
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		add(o, tok);
	free(dup);
}

static void add_qd(struct opts *o, const char *s)
{
	if (o->nqd == MAX_LIST)
		die("too many queue depths");
	o->qd[o->nqd] = (unsigned int)strtoul(s, NULL, 10);
	if (!o->qd[o->nqd] || o->qd[o->nqd] > 4096)
		die("bad queue depth '%s'", s);
	o->nqd++;
}

static void add_bs(struct opts *o, const char *s)
{
	if (o->nbs == MAX_LIST)
		die("too many block sizes");
	o->bs[o->nbs] = parse_size(s);
	if (!o->bs[o->nbs] || o->bs[o->nbs] % BLOCK || o->bs[o->nbs] > (16u << 20))
		die("bad transfer size '%s' (512 B multiple, <= 16 MiB)", s);
	o->nbs++;
}

static void add_rw(struct opts *o, const char *s)
{
	if (o->nrw == 2)
		die("too many workloads");
	if (!strcmp(s, "read"))
		o->rw_write[o->nrw++] = false;
	else if (!strcmp(s, "write"))
		o->rw_write[o->nrw++] = true;
	else
		die("workload must be read or write, not '%s'", s);
}

static void usage(void)
{
	puts("usage: tcmu-simbench [-q QD,...] [-b SIZE,...] [-w read,write] [-t SECONDS | -n COMMANDS]\n"
	     "                     [-H HANDLER] [-c CONFIG] [-D HANDLER_DIR] [-p DATA_PAGES_PER_BLK] [-s DEV_SIZE] [-C]\n"
	     "  e.g. -H file -c /dev/shm/bench.img (the config string after \"<handler>/\")\n"
	     "defaults: -q 1,8,32,256 -b 4k,64k,1m -w read,write -t 2 -H ram -p 8 -s 64m");
}

static void fmt_size(size_t b, char *out, size_t len)
{
	if (b >= (1u << 20) && b % (1u << 20) == 0)
		snprintf(out, len, "%zuM", b >> 20);
	else if (b >= 1024 && b % 1024 == 0)
		snprintf(out, len, "%zuk", b >> 10);
	else
		snprintf(out, len, "%zu", b);
}

int main(int argc, char **argv)
{
	struct opts o = { .secs = 2, .handler = "ram", .cfg = "bench",
			  .handler_dir = TCMU_HANDLER_BUILD_DIR,
			  .pages_per_blk = 8, .dev_size = 64u << 20 };
	const struct tcmu_handler *h;
	void *dl;
	unsigned int i, j, k;
	int c;

	while ((c = getopt(argc, argv, "q:b:w:t:n:H:c:D:p:s:Ch")) != -1) {
		switch (c) {
		case 'q': parse_list(optarg, add_qd, &o); break;
		case 'b': parse_list(optarg, add_bs, &o); break;
		case 'w': parse_list(optarg, add_rw, &o); break;
		case 't': o.secs = strtod(optarg, NULL); break;
		case 'n': o.ops = strtoull(optarg, NULL, 10); break;
		case 'H': o.handler = optarg; break;
		case 'c': o.cfg = optarg; break;
		case 'D': o.handler_dir = optarg; break;
		case 'p': o.pages_per_blk = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 's': o.dev_size = parse_size(optarg); break;
		case 'C': o.csv = true; break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (!o.nqd)
		parse_list("1,8,32,256", add_qd, &o);
	if (!o.nbs)
		parse_list("4k,64k,1m", add_bs, &o);
	if (!o.nrw)
		parse_list("read,write", add_rw, &o);
	if (!o.pages_per_blk || o.pages_per_blk > 512)
		die("bad -p");
	if (o.dev_size < (1u << 20) || o.dev_size % (1u << 20))
		die("-s must be a multiple of 1 MiB");
	if (o.secs <= 0 && !o.ops)
		die("-t must be > 0");

	tcmu_set_log_level(TCMU_LOG_WARN);
	h = load_handler(&o, &dl);
	if (o.csv)
		puts("workload,bs,qd,cmds,wall_s,kcmd_s,ns_per_cmd,mib_s,daemon_ns_per_cmd,daemon_kcmd_per_core_s,producer_ns_per_cmd,cmds_per_notify,errors");
	else
		printf("%-5s %5s %4s %10s %10s %9s %10s %12s %13s %10s %9s\n",
		       "rw", "bs", "qd", "cmds", "kcmd/s", "ns/cmd", "MiB/s",
		       "daemon ns/c", "daemon kc/s/c", "prod ns/c", "cmd/ntfy");
	for (i = 0; i < o.nrw; i++) {
		for (j = 0; j < o.nbs; j++) {
			for (k = 0; k < o.nqd; k++) {
				struct result res = { 0 };
				char bsz[32];
				double rate, ns, dns, pns, mib, batch;

				if (o.bs[j] > o.dev_size)
					continue;
				run_one(&o, h, o.rw_write[i], o.bs[j], o.qd[k], &res);
				fmt_size(o.bs[j], bsz, sizeof(bsz));
				rate = res.cmds / res.wall_s;
				ns = res.wall_s * 1e9 / res.cmds;
				dns = res.daemon_cpu_s * 1e9 / res.cmds;
				pns = res.producer_cpu_s * 1e9 / res.cmds;
				mib = rate * o.bs[j] / 1048576.0;
				batch = res.notifies ? (double)res.cmds / res.notifies : 0;
				if (o.csv)
					printf("%s,%s,%u,%" PRIu64 ",%.3f,%.1f,%.0f,%.1f,%.0f,%.1f,%.0f,%.2f,%" PRIu64 "\n",
					       o.rw_write[i] ? "write" : "read", bsz, o.qd[k],
					       res.cmds, res.wall_s, rate / 1e3, ns, mib, dns,
					       dns > 0 ? 1e6 / dns : 0, pns, batch, res.errors);
				else
					printf("%-5s %5s %4u %10" PRIu64 " %10.1f %9.0f %10.1f %12.0f %13.1f %10.0f %9.2f%s\n",
					       o.rw_write[i] ? "write" : "read", bsz, o.qd[k],
					       res.cmds, rate / 1e3, ns, mib, dns,
					       dns > 0 ? 1e6 / dns : 0, pns, batch,
					       res.errors ? "  ERRORS" : "");
				fflush(stdout);
				if (res.errors)
					return 1;
			}
		}
	}
	dlclose(dl);
	return 0;
}
