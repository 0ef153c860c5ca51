/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handlers/ram/ram.c — the "ram" handler: a memory-backed LUN for tests and
 * benchmarks. Nothing survives the device.
 *
 * Config (after "ram/"):  <any name>[;size=N][;stall_ms=N][;stall=0|1]
 *
 *   size=N       accepted for compatibility and ignored: the LUN is as large
 *                as the device.
 *   stall_ms=N   every command completes N ms late (its data is moved at
 *                once; only the completion waits), to provoke time-outs.
 *   stall=1      commands never complete until aborted (TMR); abort()
 *                completes them with -ECANCELED.
 *
 * The model is ASYNC: every callback runs on the ring thread, moves the
 * data with memcpy and completes inline, so the fast path makes no system
 * call. Because all callbacks (and abort, and the stall timer) run on that
 * one thread, COMPARE AND WRITE is atomic without a lock, and the list of
 * stalled commands needs none either.
 *
 * Memory is an anonymous private mapping with MAP_NORESERVE: untouched
 * blocks cost nothing and read as zeroes; UNMAP gives whole pages back with
 * MADV_DONTNEED.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <tcmu/handler.h>

struct ram_cmd {
	struct tcmu_cmd *cmd;
	struct ram_cmd *prev, *next; /* stalled list */
	uint64_t deadline_ns;        /* CLOCK_MONOTONIC */
	int result;
	bool stalled;
};

struct ram_dev {
	struct tcmu_device *dev;
	unsigned char *mem;
	size_t size;
	unsigned int stall_ms;
	bool stall_forever;
	int tfd;                     /* timerfd for stall_ms, or -1 */
	struct ram_cmd *head, *tail; /* stalled commands, by deadline */
};

struct ram_config {
	unsigned int stall_ms;
	bool stall_forever;
};

static bool ram_fail(char **reason, const char *fmt, const char *arg)
{
	if (reason && asprintf(reason, fmt, arg) < 0)
		*reason = NULL;
	return false;
}

static bool ram_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && end != s && !*end && *out <= max;
}

/* Parses the options after the name. Pure. Returns true or false + reason. */
static bool ram_parse(const char *cfg, struct ram_config *c, char **reason)
{
	const char *opt = cfg ? strchr(cfg, ';') : NULL;

	*c = (struct ram_config){ 0 };
	while (opt) {
		const char *end = strchr(opt + 1, ';');
		size_t len = end ? (size_t)(end - opt - 1) : strlen(opt + 1);
		char buf[64];
		unsigned long v;

		if (len >= sizeof(buf))
			return ram_fail(reason, "ram: option too long: '%s'", opt + 1);
		memcpy(buf, opt + 1, len);
		buf[len] = '\0';
		opt = end;
		if (!len)
			continue;
		if (!strncmp(buf, "size=", 5)) {
			/* ignored: the device size rules */
		} else if (!strncmp(buf, "stall_ms=", 9)) {
			if (!ram_parse_uint(buf + 9, 3600 * 1000, &v))
				return ram_fail(reason, "ram: bad stall_ms '%s'", buf + 9);
			c->stall_ms = v;
		} else if (!strncmp(buf, "stall=", 6)) {
			if (!ram_parse_uint(buf + 6, 1, &v))
				return ram_fail(reason, "ram: stall must be 0 or 1, not '%s'", buf + 6);
			c->stall_forever = v;
		} else {
			return ram_fail(reason, "ram: unknown option '%s'", buf);
		}
	}
	return true;
}

/*
 * check_config — validates the options. Main thread; pure. Returns true, or
 * false with a message in *reason.
 */
static bool ram_check_config(const char *cfgstring, char **reason)
{
	struct ram_config c;

	return ram_parse(cfgstring, &c, reason);
}

/* ------------------------------------------------------------------ */
/* Stalling                                                           */
/* ------------------------------------------------------------------ */

static uint64_t ram_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void ram_arm(struct ram_dev *r)
{
	struct itimerspec its = { 0 };

	if (r->head) {
		its.it_value.tv_sec = r->head->deadline_ns / 1000000000u;
		its.it_value.tv_nsec = r->head->deadline_ns % 1000000000u;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(r->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void ram_unlink(struct ram_dev *r, struct ram_cmd *rc)
{
	if (rc->prev)
		rc->prev->next = rc->next;
	else
		r->head = rc->next;
	if (rc->next)
		rc->next->prev = rc->prev;
	else
		r->tail = rc->prev;
	rc->prev = rc->next = NULL;
	rc->stalled = false;
}

/*
 * Parks @cmd (result @res) on a stalling device. The deadlines are FIFO
 * (one stall_ms for all), so the list stays sorted. Ring thread.
 */
static __attribute__((noinline)) int ram_stall(struct ram_dev *r,
					       struct tcmu_cmd *cmd, int res)
{
	struct ram_cmd *rc;

	rc = tcmu_cmd_priv(cmd);
	*rc = (struct ram_cmd){ .cmd = cmd, .result = res, .stalled = true,
				.prev = r->tail };
	if (!r->stall_forever)
		rc->deadline_ns = ram_now_ns() + (uint64_t)r->stall_ms * 1000000u;
	if (r->tail)
		r->tail->next = rc;
	else
		r->head = rc;
	r->tail = rc;
	if (r->head == rc && !r->stall_forever)
		ram_arm(r);
	return 0;
}

/*
 * Completes @cmd with @res now, or parks it when the device stalls. Inline
 * for the usual case: no stall, so no frame for the stall bookkeeping.
 * Ring thread.
 */
static inline int ram_done(struct ram_dev *r, struct tcmu_cmd *cmd, int res)
{
	if (!r->stall_ms && !r->stall_forever) {
		tcmu_cmd_done(cmd, res);
		return 0;
	}
	return ram_stall(r, cmd, res);
}

/*
 * Poll-fd callback of the stall timer: completes every command whose
 * deadline passed and re-arms for the next. Ring thread; never blocks.
 */
static void ram_timer(struct tcmu_device *dev, void *arg)
{
	struct ram_dev *r = arg;
	uint64_t ticks, now = ram_now_ns();

	if (read(r->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		tcmu_dev_dbg(dev, "ram: timerfd read: %s", strerror(errno));
	while (r->head && r->head->deadline_ns <= now) {
		struct ram_cmd *rc = r->head;

		ram_unlink(r, rc);
		tcmu_cmd_done(rc->cmd, rc->result);
	}
	ram_arm(r);
}

/*
 * abort — a TMR aborted @cmd: if it is stalled here, complete it now with
 * -ECANCELED. Ring thread; never blocks.
 */
static void ram_abort(struct tcmu_device *dev, struct tcmu_cmd *cmd)
{
	struct ram_dev *r = tcmu_dev_get_private(dev);
	struct ram_cmd *rc = tcmu_cmd_priv(cmd);

	if (!rc->stalled || rc->cmd != cmd)
		return; /* not ours to hold: it completes on its own */
	ram_unlink(r, rc);
	if (!r->stall_forever)
		ram_arm(r);
	tcmu_cmd_done(cmd, -ECANCELED);
}

/* ------------------------------------------------------------------ */
/* I/O: ring thread, never blocks, completes inline                   */
/* ------------------------------------------------------------------ */

static bool ram_in_range(const struct ram_dev *r, uint64_t off, uint64_t len)
{
	return off <= r->size && len <= r->size - off;
}

/* Copies @len bytes between the iovecs and the disk. */
static void ram_copy(struct ram_dev *r, const struct iovec *iov, size_t cnt,
		     uint64_t off, size_t len, bool to_disk)
{
	size_t i;

	for (i = 0; i < cnt && len; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (to_disk)
			memcpy(r->mem + off, iov[i].iov_base, n);
		else
			memcpy(iov[i].iov_base, r->mem + off, n);
		off += n;
		len -= n;
	}
}

static size_t ram_iov_len(const struct iovec *iov, size_t cnt)
{
	size_t i, sum = 0;

	for (i = 0; i < cnt; i++)
		sum += iov[i].iov_len;
	return sum;
}

/*
 * read — copies from memory into the data area and completes. Ring thread;
 * never blocks. Returns 0, or -ERANGE / -EINVAL for a bad request.
 */
static int ram_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		    const struct iovec *iov, size_t iovcnt, uint64_t offset,
		    size_t length, unsigned int flags)
{
	struct ram_dev *r = tcmu_dev_get_private(dev);

	if (!ram_in_range(r, offset, length))
		return -ERANGE;
	if (ram_iov_len(iov, iovcnt) < length)
		return -EINVAL;
	ram_copy(r, iov, iovcnt, offset, length, false);
	return ram_done(r, cmd, 0);
}

/* write — copies from the data area into memory; FUA is moot. As read. */
static int ram_write(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		     const struct iovec *iov, size_t iovcnt, uint64_t offset,
		     size_t length, unsigned int flags)
{
	struct ram_dev *r = tcmu_dev_get_private(dev);

	if (!ram_in_range(r, offset, length))
		return -ERANGE;
	if (ram_iov_len(iov, iovcnt) < length)
		return -EINVAL;
	ram_copy(r, iov, iovcnt, offset, length, true);
	return ram_done(r, cmd, 0);
}

/* flush — nothing to make durable; completes (honouring stalls). As read. */
static int ram_flush(struct tcmu_device *dev, struct tcmu_cmd *cmd)
{
	return ram_done(tcmu_dev_get_private(dev), cmd, 0);
}

/* Zeroes [off, off + len): whole pages are given back to the kernel. */
static void ram_zero(struct ram_dev *r, uint64_t off, uint64_t len)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)r->mem + off, end = start + len;
	uintptr_t astart = (start + pg - 1) & ~(pg - 1), aend = end & ~(pg - 1);

	if (astart >= aend || madvise((void *)astart, aend - astart, MADV_DONTNEED)) {
		memset(r->mem + off, 0, len);
		return;
	}
	memset((void *)start, 0, astart - start);
	memset((void *)aend, 0, end - aend);
}

/*
 * unmap — zeroes every range (unmapped blocks read as zeroes). Ring
 * thread; never blocks (madvise). Returns 0 or -ERANGE before touching
 * anything.
 */
static int ram_unmap(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		     const struct tcmu_range *ranges, size_t nr)
{
	struct ram_dev *r = tcmu_dev_get_private(dev);
	size_t i;

	for (i = 0; i < nr; i++)
		if (!ram_in_range(r, ranges[i].offset, ranges[i].length))
			return -ERANGE;
	for (i = 0; i < nr; i++)
		if (ranges[i].length)
			ram_zero(r, ranges[i].offset, ranges[i].length);
	return ram_done(r, cmd, 0);
}

/*
 * write_same — writes the one-block pattern over the range (zeroes via
 * ram_zero). Ring thread; never blocks. Returns 0, or -ERANGE / -EINVAL.
 */
static int ram_write_same(struct tcmu_device *dev, struct tcmu_cmd *cmd,
			  const struct iovec *iov, size_t iovcnt,
			  uint64_t offset, uint64_t length, unsigned int flags)
{
	struct ram_dev *r = tcmu_dev_get_private(dev);
	size_t bs = ram_iov_len(iov, iovcnt), i;
	bool zero = true;
	uint64_t done;

	if (!ram_in_range(r, offset, length))
		return -ERANGE;
	if (!bs || length % bs)
		return -EINVAL;
	for (i = 0; i < iovcnt && zero; i++) {
		const unsigned char *p = iov[i].iov_base;
		size_t j;

		for (j = 0; j < iov[i].iov_len && zero; j++)
			zero = !p[j];
	}
	if (zero) {
		ram_zero(r, offset, length);
		return ram_done(r, cmd, 0);
	}
	if (!length)
		return ram_done(r, cmd, 0);
	/* one block from the iovecs, then double the written run */
	ram_copy(r, iov, iovcnt, offset, bs, true);
	for (done = bs; done < length;) {
		uint64_t n = done < length - done ? done : length - done;

		memcpy(r->mem + offset + done, r->mem + offset, n);
		done += n;
	}
	return ram_done(r, cmd, 0);
}

/*
 * compare_and_write — compares, then writes when equal. Atomic because
 * every I/O callback runs on the one ring thread. Ring thread; never
 * blocks. Returns 0 (completed: 0 or -EILSEQ with the miscompare offset),
 * or -ERANGE / -EINVAL.
 */
static int ram_compare_and_write(struct tcmu_device *dev, struct tcmu_cmd *cmd,
				 const struct iovec *cmp, size_t cmpcnt,
				 const struct iovec *data, size_t datacnt,
				 uint64_t offset, size_t length)
{
	struct ram_dev *r = tcmu_dev_get_private(dev);
	size_t i, pos = 0;

	if (!ram_in_range(r, offset, length))
		return -ERANGE;
	if (ram_iov_len(cmp, cmpcnt) < length || ram_iov_len(data, datacnt) < length)
		return -EINVAL;
	for (i = 0; i < cmpcnt && pos < length; i++) {
		const unsigned char *a = cmp[i].iov_base;
		const unsigned char *b = r->mem + offset + pos;
		size_t n = cmp[i].iov_len < length - pos ? cmp[i].iov_len : length - pos;

		if (memcmp(a, b, n)) {
			size_t j = 0;

			while (a[j] == b[j])
				j++;
			tcmu_cmd_set_miscompare(cmd, pos + j);
			return ram_done(r, cmd, -EILSEQ);
		}
		pos += n;
	}
	ram_copy(r, data, datacnt, offset, length, true);
	return ram_done(r, cmd, 0);
}

/* ------------------------------------------------------------------ */
/* open / close / reconfig: main thread                               */
/* ------------------------------------------------------------------ */

static unsigned char *ram_map(size_t size)
{
	void *p;

	if (!size)
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void ram_free(struct ram_dev *r)
{
	if (!r)
		return;
	if (r->mem)
		munmap(r->mem, r->size);
	if (r->tfd >= 0)
		close(r->tfd);
	free(r);
}

/*
 * open — maps zeroed memory of the device size; with stall_ms, a timerfd
 * polled by the ring thread. Main thread. Returns 0 or -errno.
 */
static int ram_open(struct tcmu_device *dev, bool reopen)
{
	struct ram_config c;
	struct ram_dev *r;
	char *reason = NULL;
	int ret;

	if (!ram_parse(tcmu_dev_get_cfgstring(dev), &c, &reason)) {
		tcmu_dev_err(dev, "%s", reason ? reason : "ram: bad config");
		free(reason);
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->dev = dev;
	r->tfd = -1;
	r->stall_ms = c.stall_ms;
	r->stall_forever = c.stall_forever;
	r->size = tcmu_dev_get_size(dev);
	r->mem = ram_map(r->size);
	if (r->size && !r->mem) {
		ret = -ENOMEM;
		goto fail;
	}
	if (r->stall_ms && !r->stall_forever) {
		r->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (r->tfd < 0) {
			ret = -errno;
			goto fail;
		}
		ret = tcmu_dev_add_poll_fd(dev, r->tfd, ram_timer, r);
		if (ret)
			goto fail;
	}
	tcmu_dev_set_private(dev, r);
	return 0;
fail:
	tcmu_dev_err(dev, "ram: open failed: %s", strerror(-ret));
	ram_free(r);
	return ret;
}

/*
 * close — frees the memory. Main thread, after every command completed (a
 * stalled command was failed back by the daemon; only the list is left).
 */
static void ram_close(struct tcmu_device *dev)
{
	ram_free(tcmu_dev_get_private(dev));
	tcmu_dev_set_private(dev, NULL);
}

/*
 * reconfig — resizes the memory (mremap; new blocks read as zeroes);
 * config changes are refused. Main thread, ring paused. Returns 0 or
 * -errno.
 */
static int ram_reconfig(struct tcmu_device *dev, const struct tcmu_reconfig *rc)
{
	struct ram_dev *r = tcmu_dev_get_private(dev);
	void *p;

	if (rc->cfgstring && strcmp(rc->cfgstring, tcmu_dev_get_cfgstring(dev)))
		return -EOPNOTSUPP;
	if (!rc->size || rc->size == r->size)
		return 0;
	if (!r->mem)
		p = ram_map(rc->size);
	else
		p = mremap(r->mem, r->size, rc->size, MREMAP_MAYMOVE);
	if (!p || p == MAP_FAILED)
		return -ENOMEM;
	r->mem = p;
	r->size = rc->size;
	return 0;
}

static struct tcmu_handler ram_handler = {
	.subtype = "ram",
	.name = "Memory-backed LUN (tests, benchmarks)",
	.cfg_desc = "Any name, e.g. ram/scratch. Options: ;size=N (ignored), "
		    ";stall_ms=N (complete late), ;stall=1 (complete only on abort)",
	.concurrency = TCMU_CONCURRENCY_ASYNC,
	.cmd_priv_size = sizeof(struct ram_cmd),
	.check_config = ram_check_config,
	.open = ram_open,
	.close = ram_close,
	.reconfig = ram_reconfig,
	.read = ram_read,
	.write = ram_write,
	.flush = ram_flush,
	.unmap = ram_unmap,
	.write_same = ram_write_same,
	.compare_and_write = ram_compare_and_write,
	.abort = ram_abort,
	.unmap_zeroes = true,
	.nonrotational = true,
};

TCMU_REGISTER_HANDLER(ram_handler)
