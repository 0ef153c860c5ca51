/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/sim/sim.c — the kernel side of a TCMU device, in userspace. See
 * sim.h for what is modelled; the comments below say which kernel
 * behaviour each piece stands for.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kabi.h"
#include "sim.h"

#define SIM_PAGE 4096u
#define SIM_CMDR_OFF ((uint32_t)sizeof(struct tcmu_mailbox))
#define SIM_ENTRY_MIN ((uint32_t)sizeof(struct tcmu_cmd_entry))
#define SIM_IOV_OFF ((uint32_t)offsetof(struct tcmu_cmd_entry, req.iov))
#define SIM_TMR_IDS_OFF ((uint32_t)offsetof(struct tcmu_tmr_entry, cmd_ids))
#define SIM_NR_IDS 65536u
#define SIM_BLK_INLINE 8

#define STAT_GOOD 0x00
#define STAT_CHECK 0x02
#define STAT_BUSY 0x08

struct sim_cmd {
	struct sim_io *io;
	uint32_t nblk, nblk_prim; /* blocks; the first nblk_prim hold the primary data */
	uint32_t *blk;
	uint32_t blk_inline[SIM_BLK_INLINE];
	size_t prim_len, bidi_len;
	bool read_only; /* DMA_FROM_DEVICE: READ_LEN applies */
};

struct sim {
	struct sim_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t cond;

	int memfd;
	uint8_t *map;
	size_t map_size;
	struct tcmu_mailbox *mb;
	uint8_t *cmdr;
	uint32_t cmdr_size;
	size_t data_off;

	uint32_t blk_size, nblocks, free_blocks;
	uint64_t *blk_map;
	uint64_t *id_map; /* bit set: cmd_id in use; bit 0 always set */
	uint32_t next_id;
	struct sim_cmd *cmds; /* [SIM_NR_IDS] */
	uint32_t in_flight;
	uint32_t last_cleaned; /* the kernel's cmdr_last_cleaned */
	bool broken;

	int kfd;  /* our end of the UIO socketpair */
	int ufd;  /* libtcmu's end (kept to look at its unread events) */
	int stop_fd;
	pthread_t thread;
	bool thread_on;
	uint32_t notify_rem; /* bytes of a partial notify */

	uint64_t submitted, completed, notifies, events, pads, tmrs;
};

/* ---- small helpers --------------------------------------------------------- */

static inline uint32_t *mb_head(struct sim *s)
{
	return (uint32_t *)((uint8_t *)s->mb + offsetof(struct tcmu_mailbox, cmd_head));
}

static inline uint32_t *mb_tail(struct sim *s)
{
	return (uint32_t *)((uint8_t *)s->mb + offsetof(struct tcmu_mailbox, cmd_tail));
}

static inline uint32_t round8(uint32_t v)
{
	return (v + 7u) & ~7u;
}

static uint32_t spc_used(uint32_t head, uint32_t tail, uint32_t size)
{
	return head >= tail ? head - tail : size - tail + head;
}

/* Free bytes, keeping one unused so full and empty differ (like the kernel). */
static uint32_t spc_free(uint32_t head, uint32_t tail, uint32_t size)
{
	return size - spc_used(head, tail, size) - 1;
}

static int64_t find_zero(const uint64_t *map, uint32_t nbits, uint32_t from)
{
	uint32_t i;

	for (i = from / 64; i * 64u < nbits; i++) {
		uint64_t w = map[i];

		if (i == from / 64 && from % 64)
			w |= (1ull << (from % 64)) - 1;
		if (~w) {
			uint32_t b = i * 64u + (uint32_t)__builtin_ctzll(~w);

			return b < nbits ? (int64_t)b : -1;
		}
	}
	return -1;
}

static inline void bit_set(uint64_t *map, uint32_t b)
{
	map[b / 64] |= 1ull << (b % 64);
}

static inline void bit_clr(uint64_t *map, uint32_t b)
{
	map[b / 64] &= ~(1ull << (b % 64));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void abs_deadline(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* ---- geometry ------------------------------------------------------------- */

uint32_t sim_cmdr_size(const struct sim *s)
{
	return s->cmdr_size;
}

uint32_t sim_data_block_size(const struct sim *s)
{
	return s->blk_size;
}

static void io_lengths(const struct sim_io *io, size_t *prim, size_t *bidi,
		       bool *read_only)
{
	if (io->out_len) {
		*prim = io->out_len;
		*bidi = io->in_len;
		*read_only = false;
	} else {
		*prim = io->in_len;
		*bidi = 0;
		*read_only = io->in_len != 0;
	}
}

static uint32_t entry_size(uint32_t nr_iov, uint32_t cdb_len)
{
	uint32_t base = SIM_IOV_OFF + nr_iov * (uint32_t)sizeof(struct iovec);

	if (base < SIM_ENTRY_MIN)
		base = SIM_ENTRY_MIN;
	return base + round8(cdb_len);
}

uint32_t sim_entry_size(const struct sim *s, const struct sim_io *io)
{
	size_t prim, bidi;
	bool ro;
	uint32_t n;

	/* Upper bound: one iovec per block (blocks may merge). */
	io_lengths(io, &prim, &bidi, &ro);
	n = (uint32_t)((prim + s->blk_size - 1) / s->blk_size +
		       (bidi + s->blk_size - 1) / s->blk_size);
	return entry_size(n, io->cdb_len);
}

void sim_io_init(struct sim_io *io, const uint8_t *cdb, uint8_t cdb_len)
{
	memset(io, 0, sizeof(*io));
	if (cdb_len > sizeof(io->cdb))
		cdb_len = sizeof(io->cdb);
	memcpy(io->cdb, cdb, cdb_len);
	io->cdb_len = cdb_len;
}

/* ---- events (UIO interrupt) ------------------------------------------------ */

/*
 * uio_event_notify(): libtcmu's next 4-byte read() returns. Like UIO,
 * events coalesce: nothing is sent while one is still unread.
 */
void sim_kick(struct sim *s)
{
	uint32_t ev;
	int unread = 0;

	if (ioctl(s->ufd, FIONREAD, &unread) == 0 && unread > 0)
		return;
	ev = (uint32_t)__atomic_add_fetch(&s->events, 1, __ATOMIC_RELAXED);
	if (write(s->kfd, &ev, sizeof(ev)) < 0 && errno != EAGAIN)
		fprintf(stderr, "sim: event write: %s\n", strerror(errno));
}

/* ---- create / destroy ------------------------------------------------------ */

static void *kernel_thread(void *arg);

int sim_create(const struct sim_config *cfg, struct sim **out)
{
	struct sim *s;
	int sv[2], ret;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (cfg)
		s->cfg = *cfg;
	if (!s->cfg.cmdr_size)
		s->cfg.cmdr_size = (1u << 20) - SIM_CMDR_OFF;
	if (!s->cfg.data_pages_per_blk)
		s->cfg.data_pages_per_blk = 1;
	if (!s->cfg.data_size)
		s->cfg.data_size = 4u << 20;
	if (!s->cfg.dev_size)
		s->cfg.dev_size = 64ull << 20;
	if (!s->cfg.block_size)
		s->cfg.block_size = 512;
	if (!s->cfg.max_sectors)
		s->cfg.max_sectors = 128;
	if (!s->cfg.mb_version)
		s->cfg.mb_version = TCMU_MAILBOX_VERSION;
	s->kfd = s->ufd = s->stop_fd = s->memfd = -1;

	ret = -EINVAL;
	if (s->cfg.cmdr_size % 8 || s->cfg.cmdr_size < 2 * SIM_ENTRY_MIN)
		goto err;
	s->cmdr_size = s->cfg.cmdr_size;
	s->blk_size = s->cfg.data_pages_per_blk * SIM_PAGE;
	s->nblocks = (uint32_t)(s->cfg.data_size / s->blk_size);
	if (!s->nblocks)
		goto err;
	s->free_blocks = s->nblocks;
	s->data_off = SIM_CMDR_OFF + s->cmdr_size;
	s->map_size = s->data_off + (size_t)s->nblocks * s->blk_size;

	ret = -ENOMEM;
	s->blk_map = calloc((s->nblocks + 63) / 64, sizeof(uint64_t));
	s->id_map = calloc(SIM_NR_IDS / 64, sizeof(uint64_t));
	s->cmds = calloc(SIM_NR_IDS, sizeof(*s->cmds));
	if (!s->blk_map || !s->id_map || !s->cmds)
		goto err;
	bit_set(s->id_map, 0); /* cmd_id 0 is never used */
	s->next_id = 1;

	s->memfd = memfd_create("tcmu-sim", MFD_CLOEXEC);
	if (s->memfd < 0 || ftruncate(s->memfd, (off_t)s->map_size) < 0) {
		ret = -errno;
		goto err;
	}
	s->map = mmap(NULL, s->map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      s->memfd, 0);
	if (s->map == MAP_FAILED) {
		s->map = NULL;
		ret = -errno;
		goto err;
	}
	s->mb = (struct tcmu_mailbox *)s->map;
	s->cmdr = s->map + SIM_CMDR_OFF;
	s->mb->version = s->cfg.mb_version;
	s->mb->flags = TCMU_MAILBOX_FLAG_CAP_READ_LEN | TCMU_MAILBOX_FLAG_CAP_TMR;
	if (!s->cfg.no_oooc_flag)
		s->mb->flags |= TCMU_MAILBOX_FLAG_CAP_OOOC;
	s->mb->cmdr_off = SIM_CMDR_OFF;
	s->mb->cmdr_size = s->cmdr_size;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = -errno;
		goto err;
	}
	s->kfd = sv[0];
	s->ufd = sv[1];
	fcntl(s->kfd, F_SETFL, fcntl(s->kfd, F_GETFL) | O_NONBLOCK);
	fcntl(s->ufd, F_SETFL, fcntl(s->ufd, F_GETFL) | O_NONBLOCK);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0) {
		ret = -errno;
		goto err;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (!s->cfg.manual) {
		ret = -pthread_create(&s->thread, NULL, kernel_thread, s);
		if (ret) {
			pthread_mutex_destroy(&s->lock);
			pthread_cond_destroy(&s->cond);
			goto err;
		}
		s->thread_on = true;
	}
	*out = s;
	return 0;
err:
	if (s->map)
		munmap(s->map, s->map_size);
	if (s->memfd >= 0)
		close(s->memfd);
	if (s->kfd >= 0)
		close(s->kfd);
	if (s->ufd >= 0)
		close(s->ufd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	free(s->blk_map);
	free(s->id_map);
	free(s->cmds);
	free(s);
	return ret;
}

struct sim *sim_destroy(struct sim *s)
{
	uint32_t i;

	if (!s)
		return NULL;
	if (s->thread_on) {
		uint64_t one = 1;

		if (write(s->stop_fd, &one, sizeof(one)) < 0)
			fprintf(stderr, "sim: stop write: %s\n", strerror(errno));
		pthread_join(s->thread, NULL);
	}
	for (i = 0; i < SIM_NR_IDS; i++)
		if (s->cmds[i].blk && s->cmds[i].blk != s->cmds[i].blk_inline)
			free(s->cmds[i].blk);
	munmap(s->map, s->map_size);
	close(s->memfd);
	close(s->kfd);
	close(s->ufd);
	close(s->stop_fd);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s->blk_map);
	free(s->id_map);
	free(s->cmds);
	free(s);
	return NULL;
}

int sim_device_fds(struct sim *s, int *event_fd, int *map_fd,
		   size_t *map_size, struct tcmu_device_info *info)
{
	*event_fd = fcntl(s->ufd, F_DUPFD_CLOEXEC, 0);
	if (*event_fd < 0)
		return -errno;
	*map_fd = fcntl(s->memfd, F_DUPFD_CLOEXEC, 0);
	if (*map_fd < 0) {
		int ret = -errno;

		close(*event_fd);
		return ret;
	}
	*map_size = s->map_size;
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "tcm-user/1/sim");
	snprintf(info->hba, sizeof(info->hba), "user_1");
	snprintf(info->dev, sizeof(info->dev), "sim");
	snprintf(info->subtype, sizeof(info->subtype), "sim");
	info->block_size = s->cfg.block_size;
	info->size = s->cfg.dev_size;
	info->max_sectors = s->cfg.max_sectors;
	info->cmd_time_out = 30;
	return 0;
}

/* ---- queueing commands (queue_cmd_ring) ------------------------------------ */

static void free_cmd(struct sim *s, uint16_t id)
{
	struct sim_cmd *c = &s->cmds[id];
	uint32_t i;

	for (i = 0; i < c->nblk; i++)
		bit_clr(s->blk_map, c->blk[i]);
	s->free_blocks += c->nblk;
	c->nblk = 0;
	c->io = NULL;
	bit_clr(s->id_map, id);
	s->in_flight--;
}

static int alloc_id(struct sim *s)
{
	int64_t id;

	if (s->cfg.cyclic_ids) {
		id = find_zero(s->id_map, SIM_NR_IDS, s->next_id);
		if (id < 0)
			id = find_zero(s->id_map, SIM_NR_IDS, 1);
		if (id < 0)
			return -EAGAIN;
		s->next_id = (uint32_t)id + 1 < SIM_NR_IDS ? (uint32_t)id + 1 : 1;
	} else {
		id = find_zero(s->id_map, SIM_NR_IDS, 1);
		if (id < 0)
			return -EAGAIN;
	}
	return (int)id;
}

/* Take @n lowest free data blocks into c->blk[@first..]. */
static void take_blocks(struct sim *s, struct sim_cmd *c, uint32_t first,
			uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		int64_t b = find_zero(s->blk_map, s->nblocks, 0);

		bit_set(s->blk_map, (uint32_t)b);
		c->blk[first + i] = (uint32_t)b;
	}
	s->free_blocks -= n;
}

/* Write iovecs for @len bytes of blocks blk[0..]; merges neighbours. */
static uint32_t build_iovs(struct sim *s, const uint32_t *blk, size_t len,
			   struct iovec *iov)
{
	uint32_t n = 0, i = 0;

	while (len) {
		size_t l = len < s->blk_size ? len : s->blk_size;
		uint64_t off = s->data_off + (uint64_t)blk[i] * s->blk_size;

		if (n && (uint64_t)(uintptr_t)iov[n - 1].iov_base +
				 iov[n - 1].iov_len == off) {
			iov[n - 1].iov_len += l;
		} else {
			if (iov) {
				iov[n].iov_base = (void *)(uintptr_t)off;
				iov[n].iov_len = l;
			}
			n++;
		}
		len -= l;
		i++;
	}
	return n;
}

static uint32_t count_iovs(struct sim *s, const uint32_t *blk, size_t len)
{
	uint32_t n = 0, i;
	size_t nb = (len + s->blk_size - 1) / s->blk_size;

	for (i = 0; i < nb; i++)
		if (!i || blk[i] != blk[i - 1] + 1)
			n++;
	return n;
}

static void copy_to_blocks(struct sim *s, const uint32_t *blk, const void *src,
			   size_t len)
{
	const uint8_t *p = src;
	uint32_t i = 0;

	while (len) {
		size_t l = len < s->blk_size ? len : s->blk_size;

		memcpy(s->map + s->data_off + (size_t)blk[i] * s->blk_size, p, l);
		p += l;
		len -= l;
		i++;
	}
}

static void copy_from_blocks(struct sim *s, const uint32_t *blk, void *dst,
			     size_t len)
{
	uint8_t *p = dst;
	uint32_t i = 0;

	while (len) {
		size_t l = len < s->blk_size ? len : s->blk_size;

		memcpy(p, s->map + s->data_off + (size_t)blk[i] * s->blk_size, l);
		p += l;
		len -= l;
		i++;
	}
}

/*
 * Room for @size bytes at the head; inserts the PAD to the end of the ring
 * if the entry does not fit before the wrap. Returns the entry's offset or
 * -EAGAIN.
 */
static int64_t ring_reserve(struct sim *s, uint32_t size)
{
	uint32_t head = *mb_head(s) % s->cmdr_size;
	uint32_t to_end = s->cmdr_size - head;
	uint32_t needed = size + (to_end < size ? to_end : 0);

	if (spc_free(head, s->last_cleaned, s->cmdr_size) < needed)
		return -EAGAIN;
	if (to_end < size) {
		uint32_t len_op = to_end | TCMU_OP_PAD;

		memset(s->cmdr + head, 0, sizeof(struct tcmu_cmd_entry_hdr));
		memcpy(s->cmdr + head, &len_op, sizeof(len_op));
		__atomic_store_n(mb_head(s), 0, __ATOMIC_RELEASE);
		s->pads++;
		head = 0;
	}
	return head;
}

static void publish_head(struct sim *s, uint32_t off, uint32_t size)
{
	__atomic_store_n(mb_head(s), (off + size) % s->cmdr_size, __ATOMIC_RELEASE);
}

static int submit_locked(struct sim *s, struct sim_io *io,
			 enum sim_corruption how)
{
	struct sim_cmd *c;
	size_t prim, bidi;
	bool ro;
	uint32_t nb1, nb2, n1, n2, size, i;
	int64_t off;
	uint8_t *ent;
	struct tcmu_cmd_entry_hdr hdr;
	uint64_t cdb_off;
	int id;

	if (s->broken)
		return -EIO;
	if (!io->cdb_len || io->cdb_len > sizeof(io->cdb))
		return -EINVAL;
	io_lengths(io, &prim, &bidi, &ro);
	nb1 = (uint32_t)((prim + s->blk_size - 1) / s->blk_size);
	nb2 = (uint32_t)((bidi + s->blk_size - 1) / s->blk_size);
	if ((uint64_t)nb1 + nb2 > s->nblocks)
		return -EINVAL;
	if (nb1 + nb2 > s->free_blocks)
		return -EAGAIN;
	id = alloc_id(s);
	if (id < 0)
		return id;
	c = &s->cmds[id];
	if (nb1 + nb2 > SIM_BLK_INLINE) {
		if (c->blk && c->blk != c->blk_inline)
			free(c->blk);
		c->blk = malloc((nb1 + nb2) * sizeof(uint32_t));
		if (!c->blk)
			return -ENOMEM;
	} else {
		if (c->blk && c->blk != c->blk_inline)
			free(c->blk);
		c->blk = c->blk_inline;
	}
	/* Blocks are only taken once the entry is sure to fit. */
	take_blocks(s, c, 0, nb1 + nb2);
	n1 = count_iovs(s, c->blk, prim);
	n2 = count_iovs(s, c->blk + nb1, bidi);
	size = entry_size(n1 + n2, io->cdb_len);
	if (how == SIM_BAD_LEN_SHORT)
		size = 16;
	if (size > s->cmdr_size / 2)
		goto err_inval;
	off = ring_reserve(s, size);
	if (off < 0)
		goto err_again;

	bit_set(s->id_map, (uint32_t)id);
	c->io = io;
	c->nblk = nb1 + nb2;
	c->nblk_prim = nb1;
	c->prim_len = prim;
	c->bidi_len = bidi;
	c->read_only = ro;
	s->in_flight++;
	s->submitted++;
	io->cmd_id = (uint16_t)id;
	atomic_store_explicit(&io->done, false, memory_order_relaxed);

	if (prim && io->out_len)
		copy_to_blocks(s, c->blk, io->out, io->out_len);

	ent = s->cmdr + off;
	memset(ent, 0, size);
	hdr.len_op = size | TCMU_OP_CMD;
	hdr.cmd_id = (uint16_t)id;
	hdr.kflags = 0;
	hdr.uflags = 0;
	if (how == SIM_BAD_LEN_SHORT) {
		memcpy(ent, &hdr, sizeof(hdr));
		publish_head(s, (uint32_t)off, size);
		return id;
	}
	build_iovs(s, c->blk, prim, (struct iovec *)(ent + SIM_IOV_OFF));
	build_iovs(s, c->blk + nb1, bidi,
		   (struct iovec *)(ent + SIM_IOV_OFF) + n1);
	memcpy(ent + offsetof(struct tcmu_cmd_entry, req.iov_cnt), &n1, 4);
	memcpy(ent + offsetof(struct tcmu_cmd_entry, req.iov_bidi_cnt), &n2, 4);
	/* The CDB follows the iovecs; cdb_off counts from the map start. */
	cdb_off = SIM_CMDR_OFF + (uint64_t)off + (size - round8(io->cdb_len));
	memcpy(s->map + cdb_off, io->cdb, io->cdb_len);

	switch (how) {
	case SIM_BAD_LEN_ZERO:
		hdr.len_op = TCMU_OP_CMD;
		break;
	case SIM_BAD_LEN_PAST_HEAD:
		hdr.len_op = (size + 8) | TCMU_OP_CMD;
		break;
	case SIM_BAD_LEN_PAST_END:
		hdr.len_op = (round8(s->cmdr_size) + 8) | TCMU_OP_CMD;
		break;
	case SIM_BAD_IOV_OOB: {
		struct iovec v = { (void *)(uintptr_t)(s->map_size + SIM_PAGE), 512 };

		memcpy(ent + SIM_IOV_OFF, &v, sizeof(v));
		if (!n1) {
			n1 = 1;
			memcpy(ent + offsetof(struct tcmu_cmd_entry, req.iov_cnt), &n1, 4);
		}
		break;
	}
	case SIM_BAD_IOV_CNT:
		n1 = 0x10000000u;
		memcpy(ent + offsetof(struct tcmu_cmd_entry, req.iov_cnt), &n1, 4);
		break;
	case SIM_BAD_CDB_OFF:
		cdb_off = s->map_size + 64;
		break;
	default:
		break;
	}
	memcpy(ent + offsetof(struct tcmu_cmd_entry, req.cdb_off), &cdb_off, 8);
	memcpy(ent, &hdr, sizeof(hdr));
	publish_head(s, (uint32_t)off, size);
	if (how == SIM_BAD_HEAD_UNALIGNED)
		__atomic_store_n(mb_head(s), (uint32_t)((off + size + 4) % s->cmdr_size),
				 __ATOMIC_RELEASE);
	(void)i;
	return id;

err_inval:
	for (i = 0; i < nb1 + nb2; i++)
		bit_clr(s->blk_map, c->blk[i]);
	s->free_blocks += nb1 + nb2;
	return -EINVAL;
err_again:
	for (i = 0; i < nb1 + nb2; i++)
		bit_clr(s->blk_map, c->blk[i]);
	s->free_blocks += nb1 + nb2;
	return -EAGAIN;
}

/* An entry of a kind the kernel does not have (opcode 5), not a command. */
static int submit_unknown_op(struct sim *s)
{
	uint32_t size = SIM_ENTRY_MIN, len_op = size | 5u;
	int64_t off;

	if (s->broken)
		return -EIO;
	off = ring_reserve(s, size);
	if (off < 0)
		return (int)off;
	memset(s->cmdr + off, 0, size);
	memcpy(s->cmdr + off, &len_op, sizeof(len_op));
	publish_head(s, (uint32_t)off, size);
	return 0;
}

int sim_submit_bad(struct sim *s, struct sim_io *io, enum sim_corruption how)
{
	int ret;

	pthread_mutex_lock(&s->lock);
	if (how == SIM_BAD_UNKNOWN_OP)
		ret = submit_unknown_op(s);
	else
		ret = submit_locked(s, io, how);
	pthread_mutex_unlock(&s->lock);
	if (ret >= 0)
		sim_kick(s);
	return ret;
}

int sim_submit_flags(struct sim *s, struct sim_io *io, unsigned int flags)
{
	int ret;

	pthread_mutex_lock(&s->lock);
	ret = submit_locked(s, io, SIM_BAD_NONE);
	pthread_mutex_unlock(&s->lock);
	if (ret > 0 && !(flags & SIM_NO_KICK))
		sim_kick(s);
	return ret;
}

int sim_submit(struct sim *s, struct sim_io *io)
{
	return sim_submit_flags(s, io, 0);
}

/* ---- TMR (tcmu_tmr_notify / queue_tmr_ring) --------------------------------- */

int sim_tmr(struct sim *s, uint8_t type, const uint16_t *ids, uint32_t nr)
{
	uint32_t size = round8(SIM_TMR_IDS_OFF + nr * 2u), len_op, i;
	int64_t off;
	uint8_t *ent;

	pthread_mutex_lock(&s->lock);
	if (s->broken) {
		pthread_mutex_unlock(&s->lock);
		return -EIO;
	}
	off = ring_reserve(s, size);
	if (off < 0) {
		pthread_mutex_unlock(&s->lock);
		return -EAGAIN;
	}
	ent = s->cmdr + off;
	memset(ent, 0, size);
	len_op = size | TCMU_OP_TMR;
	memcpy(ent, &len_op, sizeof(len_op));
	ent[offsetof(struct tcmu_tmr_entry, tmr_type)] = type;
	memcpy(ent + offsetof(struct tcmu_tmr_entry, cmd_cnt), &nr, 4);
	if (nr)
		memcpy(ent + SIM_TMR_IDS_OFF, ids, nr * 2u);
	for (i = 0; i < nr; i++)
		if (s->cmds[ids[i]].io)
			s->cmds[ids[i]].io->aborted = true;
	publish_head(s, (uint32_t)off, size);
	s->tmrs++;
	pthread_mutex_unlock(&s->lock);
	sim_kick(s);
	return 0;
}

/* ---- completions (tcmu_handle_completions) ---------------------------------- */

static void finish_io(struct sim *s, struct sim_cmd *c, const uint8_t *ent,
		      struct sim_io **done)
{
	struct sim_io *io = c->io;
	struct tcmu_cmd_entry_hdr hdr;
	uint32_t rl;
	size_t read_len;
	const uint32_t *in_blk;

	memcpy(&hdr, ent, sizeof(hdr));
	memcpy(&rl, ent + offsetof(struct tcmu_cmd_entry, rsp.read_len), 4);
	io->unknown_op = false;
	io->read_len_valid = false;
	io->xfer_len = 0;
	memset(io->sense, 0, sizeof(io->sense));
	if (hdr.uflags & TCMU_UFLAG_UNKNOWN_OP) {
		io->unknown_op = true;
		io->status = STAT_CHECK;
		goto done;
	}
	io->status = ent[offsetof(struct tcmu_cmd_entry, rsp.scsi_status)];
	/* The data-in part: the bidi buffer, or the only buffer of a read. */
	if (c->read_only) {
		read_len = c->prim_len;
		in_blk = c->blk;
	} else {
		read_len = c->bidi_len;
		in_blk = c->blk + c->nblk_prim;
	}
	if (c->read_only && (hdr.uflags & TCMU_UFLAG_READ_LEN) && rl) {
		io->read_len_valid = true;
		if (rl < read_len)
			read_len = rl;
	}
	if (io->status == STAT_CHECK) {
		memcpy(io->sense, ent + offsetof(struct tcmu_cmd_entry, rsp.sense_buffer),
		       sizeof(io->sense));
		if (!io->read_len_valid)
			goto done;
	}
	if (read_len && io->in) {
		copy_from_blocks(s, in_blk, io->in, read_len);
		io->xfer_len = (uint32_t)read_len;
	}
done:
	free_cmd(s, io->cmd_id);
	s->completed++;
	io->next_done = *done;
	*done = io;
}

/* Returns the number of commands finished; appends them to *@done. */
static int process_completions(struct sim *s, struct sim_io **done)
{
	uint32_t tail;
	int n = 0;

	if (s->broken)
		return -EIO;
	tail = __atomic_load_n(mb_tail(s), __ATOMIC_ACQUIRE);
	if (tail >= s->cmdr_size || tail % 8) {
		fprintf(stderr, "sim: cmd_tail %u outside the ring, ring is broken\n", tail);
		s->broken = true;
		return -EIO;
	}
	while (s->last_cleaned != tail) {
		const uint8_t *ent = s->cmdr + s->last_cleaned;
		struct tcmu_cmd_entry_hdr hdr;
		uint32_t len, op;

		memcpy(&hdr, ent, sizeof(hdr));
		len = tcmu_hdr_get_len(hdr.len_op);
		op = tcmu_hdr_get_op(hdr.len_op);
		if (!len || len > s->cmdr_size - s->last_cleaned) {
			fprintf(stderr, "sim: entry length %u at %u, ring is broken\n",
				len, s->last_cleaned);
			s->broken = true;
			return -EIO;
		}
		if (op == TCMU_OP_PAD || op == TCMU_OP_TMR) {
			s->last_cleaned = (s->last_cleaned + len) % s->cmdr_size;
			continue;
		}
		/* Anything else is taken for a command, as the kernel does. */
		if (!s->cmds[hdr.cmd_id].io) {
			fprintf(stderr, "sim: cmd_id %u not found, ring is broken\n",
				hdr.cmd_id);
			s->broken = true;
			return -EIO;
		}
		finish_io(s, &s->cmds[hdr.cmd_id], ent, done);
		s->last_cleaned = (s->last_cleaned + len) % s->cmdr_size;
		n++;
	}
	return n;
}

/* Mark done and run callbacks, lock not held. */
static void deliver(struct sim *s, struct sim_io *list)
{
	struct sim_io *io, *next;

	/* Oldest first. */
	struct sim_io *rev = NULL;

	for (io = list; io; io = next) {
		next = io->next_done;
		io->next_done = rev;
		rev = io;
	}
	for (io = rev; io; io = next) {
		next = io->next_done;
		io->next_done = NULL;
		atomic_store_explicit(&io->done, true, memory_order_release);
		if (s->cfg.complete)
			s->cfg.complete(s, io, s->cfg.complete_arg);
	}
}

/* Read pending notifications; returns how many arrived. */
static uint64_t drain_notifies(struct sim *s)
{
	uint8_t buf[4096];
	uint64_t n = 0;
	ssize_t r;

	for (;;) {
		r = read(s->kfd, buf, sizeof(buf));
		if (r > 0) {
			uint32_t bytes = (uint32_t)r + s->notify_rem;

			n += bytes / 4;
			s->notify_rem = bytes % 4;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		break;
	}
	if (n)
		__atomic_add_fetch(&s->notifies, n, __ATOMIC_RELAXED);
	return n;
}

static void *kernel_thread(void *arg)
{
	struct sim *s = arg;
	struct pollfd pfd[2] = {
		{ .fd = s->kfd, .events = POLLIN },
		{ .fd = s->stop_fd, .events = POLLIN },
	};

	for (;;) {
		struct sim_io *done = NULL;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		if (!drain_notifies(s))
			continue;
		/* The irqcontrol path: process completions under the lock. */
		pthread_mutex_lock(&s->lock);
		process_completions(s, &done);
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		deliver(s, done);
		/* Waiters may look at done flags set by deliver(). */
		pthread_mutex_lock(&s->lock);
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

int sim_reap(struct sim *s, int timeout_ms, bool force)
{
	struct pollfd pfd = { .fd = s->kfd, .events = POLLIN };
	struct sim_io *done = NULL;
	uint64_t got;
	int n;

	if (s->thread_on) { /* the kernel thread reaps; just wait */
		if (force) {
			pthread_mutex_lock(&s->lock);
			n = process_completions(s, &done);
			pthread_mutex_unlock(&s->lock);
			deliver(s, done);
			return n;
		}
		return 0;
	}
	if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	got = drain_notifies(s);
	if (!got && !force)
		return 0;
	pthread_mutex_lock(&s->lock);
	n = process_completions(s, &done);
	pthread_mutex_unlock(&s->lock);
	deliver(s, done);
	return n;
}

bool sim_wait_done(struct sim *s, struct sim_io *io, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (!atomic_load_explicit(&io->done, memory_order_acquire)) {
		uint64_t now = now_ms();

		if (now >= end)
			return false;
		if (s->thread_on) {
			struct timespec ts;

			abs_deadline(&ts, (int)(end - now < 50 ? end - now : 50));
			pthread_mutex_lock(&s->lock);
			if (!atomic_load_explicit(&io->done, memory_order_acquire))
				pthread_cond_timedwait(&s->cond, &s->lock, &ts);
			pthread_mutex_unlock(&s->lock);
		} else {
			sim_reap(s, (int)(end - now), false);
		}
	}
	return true;
}

bool sim_wait_idle(struct sim *s, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		uint32_t inf;
		uint64_t now = now_ms();

		pthread_mutex_lock(&s->lock);
		inf = s->in_flight;
		pthread_mutex_unlock(&s->lock);
		if (!inf)
			return true;
		if (now >= end)
			return false;
		if (s->thread_on) {
			struct timespec ts;

			abs_deadline(&ts, (int)(end - now < 50 ? end - now : 50));
			pthread_mutex_lock(&s->lock);
			if (s->in_flight)
				pthread_cond_timedwait(&s->cond, &s->lock, &ts);
			pthread_mutex_unlock(&s->lock);
		} else {
			sim_reap(s, (int)(end - now), false);
		}
	}
}

/* ---- reset_ring -------------------------------------------------------------- */

void sim_reset(struct sim *s, int level)
{
	struct sim_io *done = NULL;
	uint32_t id;

	pthread_mutex_lock(&s->lock);
	for (id = 1; id < SIM_NR_IDS; id++) {
		struct sim_io *io = s->cmds[id].io;

		if (!io)
			continue;
		io->reset = true;
		io->status = level == 1 ? STAT_BUSY : STAT_CHECK;
		free_cmd(s, (uint16_t)id);
		io->next_done = done;
		done = io;
	}
	s->last_cleaned = 0;
	__atomic_store_n(mb_tail(s), 0, __ATOMIC_RELEASE);
	__atomic_store_n(mb_head(s), 0, __ATOMIC_RELEASE);
	s->broken = false;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	deliver(s, done);
}

void sim_get_stats(struct sim *s, struct sim_stats *st)
{
	pthread_mutex_lock(&s->lock);
	st->submitted = s->submitted;
	st->completed = s->completed;
	st->notifies = __atomic_load_n(&s->notifies, __ATOMIC_RELAXED);
	st->events = __atomic_load_n(&s->events, __ATOMIC_RELAXED);
	st->pads = s->pads;
	st->tmrs = s->tmrs;
	st->in_flight = s->in_flight;
	st->free_blocks = s->free_blocks;
	st->total_blocks = s->nblocks;
	st->head = *mb_head(s);
	st->tail = *mb_tail(s);
	st->last_cleaned = s->last_cleaned;
	st->broken = s->broken;
	pthread_mutex_unlock(&s->lock);
}
