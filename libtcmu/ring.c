/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/ring.c — the command ring of one device: parsing new entries,
 * the preallocated command pool, and out-of-order completion write-back.
 *
 * Layout (shared with target_core_user): the mailbox at offset 0, the
 * command ring at mb->cmdr_off (mb->cmdr_size bytes), the data area from
 * the end of the ring to the end of the map. Entries are 8-byte aligned
 * and contiguous; the kernel fills the end of the ring with a PAD entry
 * when the next entry does not fit before the wrap.
 *
 * Two cursors, both owned by the ring thread:
 *   pos  — the next entry to parse (we have parsed everything before it);
 *   tail — our cmd_tail: the next slot a completion is written into.
 * With CAP_OOOC the kernel walks from its last cleaned position to
 * cmd_tail and, for every CMD slot, completes the command whose cmd_id is
 * written in THAT slot. So a completion goes into the next CMD slot at
 * tail (PAD and TMR slots are stepped over; the kernel skips them too),
 * whichever command originally sat there. tail never passes pos: the
 * number of CMD slots between them equals the commands we hold. Because a
 * slot may be reused for another command's completion, commands copy
 * their CDB and iovecs out of the entry when they are taken.
 *
 * The kernel is trusted to follow the protocol but everything it wrote is
 * bounds-checked before use: a CMD entry whose CDB or iovecs lie outside
 * the map is completed at once with CHECK CONDITION; a header that makes
 * the ring unwalkable (length 0, unaligned, past the head or the end of
 * the ring, a CMD entry too short to hold a response, a duplicate cmd_id)
 * marks the ring broken: reported once, no further command is taken.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spine.h"

#define ENTRY_IOV_OFF offsetof(struct tcmu_cmd_entry, req.iov)
#define ENTRY_MIN sizeof(struct tcmu_cmd_entry)
#define TMR_IDS_OFF offsetof(struct tcmu_tmr_entry, cmd_ids)
#define POOL_INITIAL 64u
#define POOL_MAX (TCMU_CMD_ID_MAX - 1) /* cmd_ids 1..65535 */
#define IOV_DEFAULT 16u
#define HPRIV_CHUNK 64u /* tcmu_cmd_priv() areas are allocated in these */

struct pool_chunk {
	struct pool_chunk *next;
	uint32_t n;
	struct tcmu_cmd cmds[];
};

struct ring {
	uint8_t *base; /* start of the map */
	struct tcmu_mailbox *mb;
	uint8_t *cmdr;
	uint32_t cmdr_off, cmdr_size;
	uint64_t data_off, data_end; /* data area, offsets from base */
	uint32_t pos, tail, notified_tail;
	int error; /* -EIO once broken */
	bool logged_unknown_op, logged_bad_tmr, logged_pool;
	tcmu_tmr_fn tmr_fn;
	void *tmr_arg;

	struct tcmu_cmd **by_id; /* [TCMU_CMD_ID_MAX] */
	struct tcmu_cmd *free_list; /* linked through work_next */
	struct pool_chunk *chunks;
	uint32_t nr_cmds, nr_used;
	size_t iov_cap;  /* iovecs preallocated per new command */
	size_t hpriv_size;
	size_t hpriv_alloc; /* hpriv_size rounded up to HPRIV_CHUNK */
	_Atomic uint64_t nr_notify;
	_Atomic uint64_t cmd_timeout_ms;
	_Atomic unsigned int busy_poll_us; /* tcmu_device_set_busy_poll() */
	uint64_t now_ns;     /* CLOCK_MONOTONIC of the current drain */
	unsigned int now_uses; /* commands stamped with now_ns; 0: read the clock */
};

/* Commands that may share one clock reading within a drain of the ring. */
#define NOW_MAX_USES 64

/*
 * Counters of the device that only the ring thread writes: a relaxed
 * load and store instead of a locked read-modify-write; readers on other
 * threads still see whole values.
 */
static inline void stat_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* The mailbox is packed: reach head and tail through plain u32 pointers. */
static inline uint32_t *mb_head(struct ring *r)
{
	return (uint32_t *)((uint8_t *)r->mb +
			    offsetof(struct tcmu_mailbox, cmd_head));
}

static inline uint32_t *mb_tail(struct ring *r)
{
	return (uint32_t *)((uint8_t *)r->mb +
			    offsetof(struct tcmu_mailbox, cmd_tail));
}

static inline uint32_t ring_add(const struct ring *r, uint32_t a, uint32_t len)
{
	uint64_t v = (uint64_t)a + len;

	/*
	 * Callers step over entries already checked to end inside the ring,
	 * so one subtraction wraps; a division here cost more than the rest
	 * of the cursor arithmetic per command.
	 */
	if (v < r->cmdr_size)
		return (uint32_t)v;
	v -= r->cmdr_size;
	return (uint32_t)(v < r->cmdr_size ? v : v % r->cmdr_size);
}

static inline uint32_t ring_dist(const struct ring *r, uint32_t from,
				 uint32_t to)
{
	return to >= from ? to - from : r->cmdr_size - from + to;
}

static inline uint32_t hdr_len_op(const struct ring *r, uint32_t off)
{
	uint32_t v;

	memcpy(&v, r->cmdr + off, sizeof(v));
	return v;
}

/* ---- command pool ---------------------------------------------------- */

static int pool_grow(struct ring *r)
{
	struct pool_chunk *c;
	uint32_t n, i;

	n = r->nr_cmds ? r->nr_cmds : POOL_INITIAL;
	if (n > POOL_MAX - r->nr_cmds)
		n = POOL_MAX - r->nr_cmds;
	if (!n)
		return -ENOSPC;
	c = calloc(1, sizeof(*c) + (size_t)n * sizeof(struct tcmu_cmd));
	if (!c)
		return -ENOMEM;
	c->n = n;
	for (i = 0; i < n; i++) {
		struct tcmu_cmd *cmd = &c->cmds[i];

		cmd->iov_store = calloc(r->iov_cap, sizeof(struct iovec));
		if (!cmd->iov_store)
			goto fail;
		cmd->iov_cap = r->iov_cap;
		if (r->hpriv_alloc) {
			cmd->hpriv = calloc(1, r->hpriv_alloc);
			if (!cmd->hpriv)
				goto fail;
		}
	}
	for (i = n; i-- > 0;) {
		c->cmds[i].work_next = r->free_list;
		r->free_list = &c->cmds[i];
	}
	c->next = r->chunks;
	r->chunks = c;
	r->nr_cmds += n;
	return 0;
fail:
	for (i = 0; i < n; i++) {
		free(c->cmds[i].iov_store);
		free(c->cmds[i].hpriv);
	}
	free(c);
	return -ENOMEM;
}

static struct tcmu_cmd *pool_get(struct tcmu_device *dev, struct ring *r)
{
	struct tcmu_cmd *cmd;
	int ret;

	if (!r->free_list) {
		ret = pool_grow(r);
		if (ret < 0) {
			if (!r->logged_pool)
				tcmu_dev_err(dev, "cannot grow the command pool (%u commands): %s",
					     r->nr_cmds, strerror(-ret));
			r->logged_pool = true;
			return NULL;
		}
	}
	cmd = r->free_list;
	r->free_list = cmd->work_next;
	cmd->work_next = NULL;
	r->nr_used++;
	return cmd;
}

static void pool_put(struct ring *r, struct tcmu_cmd *cmd)
{
	cmd->cmd_id = 0;
	cmd->work_next = r->free_list;
	r->free_list = cmd;
	r->nr_used--;
}

/*
 * Reset the per-command state; keeps the owned buffers. Every field is set
 * here one by one, in struct order: a memset of the first 106 bytes became
 * a "rep stos" and cost more than the stores, and the CDB, iovecs and
 * lengths are written again by parse_cmd() anyway. A field added to
 * struct tcmu_cmd must be added here (the assertion below catches a
 * change of the layout on LP64).
 */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(offsetof(struct tcmu_cmd, hpriv) == 336 &&
		       sizeof(struct tcmu_cmd) == 344,
	       "struct tcmu_cmd changed: reset the new fields in cmd_reset()");
#endif
static void cmd_reset(struct ring *r, struct tcmu_device *dev,
		      struct tcmu_cmd *cmd, uint16_t id)
{
	unsigned char *hpriv = cmd->hpriv;

	cmd->dev = dev;
	cmd->cmd_id = id;
	cmd->cdb_len = 0;
	memset(cmd->cdb, 0, sizeof(cmd->cdb));
	cmd->iov = cmd->iov_store;
	cmd->iov_cnt = 0;
	cmd->bidi_iov = cmd->iov_store;
	cmd->bidi_cnt = 0;
	/* iov_cap, iov_store: owned */
	cmd->data_len = 0;
	cmd->status = 0;
	cmd->sense_len = 0;
	/* sense: only read up to sense_len */
	cmd->read_len_set = false;
	cmd->unknown_op = false;
	cmd->read_len = 0;
	atomic_store_explicit(&cmd->next, NULL, memory_order_relaxed);
	cmd->result = 0;
	cmd->sense_set = false;
	cmd->miscompare_set = false;
	cmd->miscompare_off = 0;
	cmd->aborted = false;
	cmd->timed_out = false;
	cmd->in_handler = false;
	cmd->cont = NULL;
	cmd->core_priv = NULL;
	memset(&cmd->io, 0, sizeof(cmd->io));
	/*
	 * start_ns only feeds the command timeout (seconds): commands taken in
	 * one drain of the ring share one clock reading.
	 */
	if (!r->now_uses || r->now_uses >= NOW_MAX_USES) {
		r->now_ns = spine_now_ns();
		r->now_uses = 0;
	}
	r->now_uses++;
	cmd->start_ns = r->now_ns;
	cmd->work_next = NULL;
	/*
	 * The area is allocated in HPRIV_CHUNK steps: a small one (the usual
	 * case) is zeroed with a few inline stores, not a memset() call.
	 */
	if (r->hpriv_alloc == HPRIV_CHUNK)
		memset(hpriv, 0, HPRIV_CHUNK);
	else if (r->hpriv_alloc)
		memset(hpriv, 0, r->hpriv_alloc);
}

/* ---- init / teardown -------------------------------------------------- */

/*
 * iovecs to preallocate per command: one per data block of the largest
 * transfer (the kernel merges adjacent blocks, so usually far fewer), with
 * pages as the smallest block. Bigger needs grow the command's store.
 */
static size_t iov_cap_for(const struct tcmu_device *dev, uint64_t ring_end)
{
	uint64_t xfer = (uint64_t)dev->info.max_sectors * dev->info.block_size;
	uint64_t data = dev->map_size - ring_end;
	uint64_t n;

	if (!xfer || xfer > data)
		xfer = data;
	n = xfer / 4096 + 2;
	if (n < IOV_DEFAULT)
		n = IOV_DEFAULT;
	if (n > 256)
		n = 256;
	return (size_t)n;
}

int ring_init(struct tcmu_device *dev)
{
	struct tcmu_mailbox mb;
	struct ring *r;
	uint64_t ring_end;

	if (dev->map_size < sizeof(mb)) {
		tcmu_dev_err(dev, "map of %zu bytes cannot hold a mailbox",
			     dev->map_size);
		return -EINVAL;
	}
	memcpy(&mb, dev->map, sizeof(mb));
	if (mb.version != TCMU_MAILBOX_VERSION) {
		tcmu_dev_err(dev, "unsupported mailbox version %u (want %u)",
			     mb.version, TCMU_MAILBOX_VERSION);
		return -EINVAL;
	}
	if (!(mb.flags & TCMU_MAILBOX_FLAG_CAP_OOOC)) {
		tcmu_dev_err(dev, "kernel lacks out-of-order completion (flags 0x%x)",
			     mb.flags);
		return -EINVAL;
	}
	ring_end = (uint64_t)mb.cmdr_off + mb.cmdr_size;
	if (mb.cmdr_off < sizeof(mb) || mb.cmdr_off % TCMU_OP_ALIGN_SIZE ||
	    mb.cmdr_size < 2 * ENTRY_MIN || mb.cmdr_size % TCMU_OP_ALIGN_SIZE ||
	    ring_end > dev->map_size) {
		tcmu_dev_err(dev, "bad ring geometry: off %u size %u map %zu",
			     mb.cmdr_off, mb.cmdr_size, dev->map_size);
		return -EINVAL;
	}
	if (mb.cmd_head >= mb.cmdr_size || mb.cmd_tail >= mb.cmdr_size ||
	    mb.cmd_head % TCMU_OP_ALIGN_SIZE || mb.cmd_tail % TCMU_OP_ALIGN_SIZE) {
		tcmu_dev_err(dev, "bad ring cursors: head %u tail %u size %u",
			     mb.cmd_head, mb.cmd_tail, mb.cmdr_size);
		return -EINVAL;
	}

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->by_id = calloc(TCMU_CMD_ID_MAX, sizeof(*r->by_id));
	if (!r->by_id) {
		free(r);
		return -ENOMEM;
	}
	r->base = dev->map;
	r->mb = dev->map;
	r->cmdr_off = mb.cmdr_off;
	r->cmdr_size = mb.cmdr_size;
	r->cmdr = r->base + mb.cmdr_off;
	r->data_off = ring_end;
	r->data_end = dev->map_size;
	/* Start where the kernel expects the next completion. */
	r->pos = r->tail = r->notified_tail = mb.cmd_tail;
	r->iov_cap = iov_cap_for(dev, ring_end);
	dev->ring = r;
	if (pool_grow(r) < 0) {
		ring_free(dev);
		return -ENOMEM;
	}
	return 0;
}

void ring_free(struct tcmu_device *dev)
{
	struct ring *r = dev->ring;
	struct pool_chunk *c, *next;
	uint32_t i;

	if (!r)
		return;
	for (c = r->chunks; c; c = next) {
		next = c->next;
		for (i = 0; i < c->n; i++) {
			free(c->cmds[i].iov_store);
			free(c->cmds[i].hpriv);
		}
		free(c);
	}
	free(r->by_id);
	free(r);
	dev->ring = NULL;
}

int ring_set_hpriv_size(struct tcmu_device *dev, size_t size)
{
	struct ring *r = dev->ring;
	struct pool_chunk *c;
	size_t alloc;
	uint32_t i;

	if (size == r->hpriv_size)
		return 0;
	if (size > SIZE_MAX - HPRIV_CHUNK)
		return -ENOMEM;
	alloc = (size + HPRIV_CHUNK - 1) / HPRIV_CHUNK * HPRIV_CHUNK;
	for (c = r->chunks; c; c = c->next) {
		for (i = 0; i < c->n; i++) {
			void *p = NULL;

			if (alloc) {
				p = calloc(1, alloc);
				if (!p)
					return -ENOMEM;
			}
			free(c->cmds[i].hpriv);
			c->cmds[i].hpriv = p;
		}
	}
	r->hpriv_size = size;
	r->hpriv_alloc = alloc;
	return 0;
}

int ring_error(const struct tcmu_device *dev)
{
	return dev->ring ? __atomic_load_n(&dev->ring->error, __ATOMIC_RELAXED) : 0;
}

struct tcmu_cmd *ring_cmd_by_id(struct tcmu_device *dev, uint16_t id)
{
	return dev->ring->by_id[id];
}

uint32_t ring_cmds_in_use(const struct tcmu_device *dev)
{
	return dev->ring->nr_used;
}

void ring_for_each_in_use(struct tcmu_device *dev,
			  void (*fn)(struct tcmu_cmd *cmd, void *arg), void *arg)
{
	struct pool_chunk *c;
	uint32_t i;

	for (c = dev->ring->chunks; c; c = c->next)
		for (i = 0; i < c->n; i++)
			if (c->cmds[i].cmd_id)
				fn(&c->cmds[i], arg);
}

uint64_t ring_cmd_timeout_ms(const struct tcmu_device *dev)
{
	return atomic_load_explicit(&dev->ring->cmd_timeout_ms, memory_order_relaxed);
}

void ring_set_cmd_timeout_ms(struct tcmu_device *dev, uint64_t ms)
{
	atomic_store_explicit(&dev->ring->cmd_timeout_ms, ms, memory_order_relaxed);
}

unsigned int ring_busy_poll_us(const struct tcmu_device *dev)
{
	return atomic_load_explicit(&dev->ring->busy_poll_us, memory_order_relaxed);
}

void ring_set_busy_poll_us(struct tcmu_device *dev, unsigned int us)
{
	atomic_store_explicit(&dev->ring->busy_poll_us, us, memory_order_relaxed);
}

uint64_t ring_notify_count(const struct tcmu_device *dev)
{
	return atomic_load_explicit(&dev->ring->nr_notify, memory_order_relaxed);
}

/* ---- parsing ----------------------------------------------------------- */

static void ring_mark_broken(struct tcmu_device *dev, struct ring *r,
			     const char *why, uint32_t off, uint32_t len_op)
{
	if (r->error)
		return;
	__atomic_store_n(&r->error, -EIO, __ATOMIC_RELAXED);
	tcmu_dev_err(dev, "command ring corrupt at offset %u (len_op 0x%x): %s; no longer taking commands",
		     off, len_op, why);
}

/* SCSI CDB length from the opcode (SPC-4 4.2.5.1); 0 when unknown. */
static unsigned int cdb_length(const uint8_t *cdb, size_t avail)
{
	static const uint8_t group_len[8] = { 6, 10, 10, 12, 16, 12, 10, 10 };

	if (cdb[0] == 0x7f) { /* variable length */
		if (avail < 8)
			return 0;
		return 8u + cdb[7];
	}
	return group_len[cdb[0] >> 5];
}

/*
 * Copy a CDB of @len bytes (at most TCMU_CDB_MAX): the usual lengths as
 * fixed-size copies (a few moves instead of a "rep movsb").
 */
static inline void cdb_copy(uint8_t *dst, const uint8_t *src, unsigned int len)
{
	switch (len) {
	case 6:
		memcpy(dst, src, 6);
		break;
	case 10:
		memcpy(dst, src, 10);
		break;
	case 12:
		memcpy(dst, src, 12);
		break;
	case 16:
		memcpy(dst, src, 16);
		break;
	default:
		memcpy(dst, src, len);
		break;
	}
}

/* Fail a command we could not parse: written back at once. */
static void ring_fail_cmd(struct tcmu_device *dev, struct tcmu_cmd *cmd,
			  uint8_t key, uint8_t asc, uint8_t ascq)
{
	cmd->status = SAM_STAT_CHECK_CONDITION_;
	cmd->sense_len = spine_fixed_sense(cmd->sense, key, asc, ascq);
	cmd->sense_set = true;
	tcmu_ring_complete(dev, cmd);
}

static bool iov_grow(struct ring *r, struct tcmu_cmd *cmd, size_t n)
{
	struct iovec *p;
	size_t cap = cmd->iov_cap ? cmd->iov_cap : IOV_DEFAULT;

	while (cap < n)
		cap *= 2;
	p = realloc(cmd->iov_store, cap * sizeof(*p));
	if (!p)
		return false;
	cmd->iov_store = p;
	cmd->iov_cap = cap;
	if (cap > r->iov_cap)
		r->iov_cap = cap; /* new pool objects start this large */
	return true;
}

/*
 * Copy a CMD entry at @off (@len bytes) into @cmd. Returns 0, or a
 * negative value with the sense key and ASC to report.
 */
static int parse_cmd(struct ring *r, struct tcmu_cmd *cmd, uint32_t off,
		     uint32_t len, uint8_t *key, uint8_t *asc)
{
	const uint8_t *ent = r->cmdr + off;
	uint32_t iov_cnt, bidi_cnt;
	uint64_t n, cdb_off, ent_start, ent_end, total = 0;
	unsigned int clen;
	size_t i;

	memcpy(&iov_cnt, ent + offsetof(struct tcmu_cmd_entry, req.iov_cnt), 4);
	memcpy(&bidi_cnt, ent + offsetof(struct tcmu_cmd_entry, req.iov_bidi_cnt), 4);
	memcpy(&cdb_off, ent + offsetof(struct tcmu_cmd_entry, req.cdb_off), 8);

	*key = 0x04; /* HARDWARE ERROR */
	*asc = 0x44; /* INTERNAL TARGET FAILURE */

	n = (uint64_t)iov_cnt + bidi_cnt;
	if (ENTRY_IOV_OFF + n * sizeof(struct iovec) > len)
		return -EINVAL; /* iovecs do not fit in the entry */

	/* The CDB lies inside the entry, after the iovecs. */
	ent_start = (uint64_t)r->cmdr_off + off;
	ent_end = ent_start + len;
	if (cdb_off < ent_start + ENTRY_IOV_OFF + n * sizeof(struct iovec) ||
	    cdb_off >= ent_end)
		return -EINVAL;
	clen = cdb_length(r->base + cdb_off, ent_end - cdb_off);
	if (!clen || cdb_off + clen > ent_end)
		return -EINVAL;
	if (clen > TCMU_CDB_MAX) {
		*key = 0x05; /* ILLEGAL REQUEST */
		*asc = 0x20; /* INVALID COMMAND OPERATION CODE */
		return -EINVAL;
	}
	cdb_copy(cmd->cdb, r->base + cdb_off, clen);
	cmd->cdb_len = (uint8_t)clen;

	if (n > cmd->iov_cap && !iov_grow(r, cmd, n)) {
		*key = 0x0b; /* ABORTED COMMAND */
		*asc = 0x55; /* SYSTEM RESOURCE FAILURE */
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct iovec v;
		uint64_t base, l;

		memcpy(&v, ent + ENTRY_IOV_OFF + i * sizeof(v), sizeof(v));
		base = (uint64_t)(uintptr_t)v.iov_base;
		l = v.iov_len;
		if (base < r->data_off || base > r->data_end ||
		    l > r->data_end - base)
			return -EINVAL;
		cmd->iov_store[i].iov_base = r->base + base;
		cmd->iov_store[i].iov_len = l;
		if (i < iov_cnt)
			total += l;
	}
	cmd->iov = cmd->iov_store;
	cmd->iov_cnt = iov_cnt;
	cmd->bidi_iov = cmd->iov_store + iov_cnt;
	cmd->bidi_cnt = bidi_cnt;
	cmd->data_len = total;
	return 0;
}

static void handle_tmr(struct tcmu_device *dev, struct ring *r, uint32_t off,
		       uint32_t len)
{
	const uint8_t *ent = r->cmdr + off;
	uint8_t type = ent[offsetof(struct tcmu_tmr_entry, tmr_type)];
	uint32_t cnt;

	memcpy(&cnt, ent + offsetof(struct tcmu_tmr_entry, cmd_cnt), 4);
	if (len < TMR_IDS_OFF || cnt > (len - TMR_IDS_OFF) / sizeof(uint16_t)) {
		if (!r->logged_bad_tmr)
			tcmu_dev_warn(dev, "ignoring malformed TMR entry (len %u, %u ids)",
				      len, cnt);
		r->logged_bad_tmr = true;
		return;
	}
	if (r->tmr_fn)
		r->tmr_fn(dev, type, (const uint16_t *)(ent + TMR_IDS_OFF), cnt,
			  r->tmr_arg);
	else
		tcmu_dev_dbg(dev, "TMR type %u for %u command(s) ignored", type, cnt);
}

bool ring_has_new(const struct tcmu_device *dev)
{
	struct ring *r = dev->ring;

	return !r->error && r->pos != __atomic_load_n(mb_head(r), __ATOMIC_ACQUIRE);
}

struct tcmu_cmd *tcmu_ring_next(struct tcmu_device *dev)
{
	struct ring *r = dev->ring;
	uint32_t head;

	if (r->error)
		return NULL;
	head = __atomic_load_n(mb_head(r), __ATOMIC_ACQUIRE);
	if (r->pos == head) {
		r->now_uses = 0; /* drained: the next command reads the clock */
		return NULL;
	}
	if (head >= r->cmdr_size || head % TCMU_OP_ALIGN_SIZE) {
		ring_mark_broken(dev, r, "cmd_head outside the ring", head, 0);
		return NULL;
	}

	while (r->pos != head) {
		uint32_t off = r->pos, len_op = hdr_len_op(r, off);
		uint32_t len = tcmu_hdr_get_len(len_op);
		struct tcmu_cmd_entry_hdr hdr;
		struct tcmu_cmd *cmd;
		uint8_t key, asc;

		if (!len || len % TCMU_OP_ALIGN_SIZE ||
		    len > r->cmdr_size - off || len > ring_dist(r, off, head)) {
			ring_mark_broken(dev, r, "bad entry length", off, len_op);
			return NULL;
		}
		switch (tcmu_hdr_get_op(len_op)) {
		case TCMU_OP_PAD:
			r->pos = ring_add(r, off, len);
			continue;
		case TCMU_OP_TMR:
			r->pos = ring_add(r, off, len);
			handle_tmr(dev, r, off, len);
			continue;
		case TCMU_OP_CMD:
			break;
		default:
			/*
			 * Not a kind we know: step over it and turn it into a
			 * PAD of the same length, so the kernel's completion
			 * walk steps over it as well.
			 */
			if (!r->logged_unknown_op)
				tcmu_dev_warn(dev, "skipping ring entry with unknown opcode %u",
					      tcmu_hdr_get_op(len_op));
			r->logged_unknown_op = true;
			len_op = len | TCMU_OP_PAD;
			memcpy(r->cmdr + off, &len_op, sizeof(len_op));
			r->pos = ring_add(r, off, len);
			continue;
		}

		if (len < ENTRY_MIN) {
			ring_mark_broken(dev, r, "command entry too short for a response",
					 off, len_op);
			return NULL;
		}
		memcpy(&hdr, r->cmdr + off, sizeof(hdr));
		if (!hdr.cmd_id || r->by_id[hdr.cmd_id]) {
			ring_mark_broken(dev, r, hdr.cmd_id ? "duplicate cmd_id" :
					 "cmd_id 0", off, len_op);
			return NULL;
		}
		cmd = pool_get(dev, r);
		if (!cmd)
			return NULL; /* retried on the next call */
		cmd_reset(r, dev, cmd, hdr.cmd_id);
		r->by_id[hdr.cmd_id] = cmd;
		r->pos = ring_add(r, off, len);
		stat_add(&dev->stat_in_flight, 1);

		if (parse_cmd(r, cmd, off, len, &key, &asc) < 0) {
			tcmu_dev_err(dev, "malformed command entry %u at offset %u: failed",
				     hdr.cmd_id, off);
			ring_fail_cmd(dev, cmd, key, asc, 0);
			continue;
		}
		return cmd;
	}
	r->now_uses = 0;
	return NULL;
}

/* ---- completion -------------------------------------------------------- */

/* Step tail over PAD/TMR slots we have already parsed. */
static void tail_skip_noncmd(struct ring *r)
{
	while (r->tail != r->pos) {
		uint32_t len_op = hdr_len_op(r, r->tail);

		if (tcmu_hdr_get_op(len_op) == TCMU_OP_CMD)
			return;
		r->tail = ring_add(r, r->tail, tcmu_hdr_get_len(len_op));
	}
}

void tcmu_ring_complete(struct tcmu_device *dev, struct tcmu_cmd *cmd)
{
	struct ring *r = dev->ring;
	struct tcmu_cmd_entry_hdr hdr;
	uint8_t *slot;
	uint32_t len;
	uint8_t status = cmd->status;

	if (!cmd->cmd_id || r->by_id[cmd->cmd_id] != cmd) {
		tcmu_dev_err(dev, "completing a command the ring does not hold (id %u)",
			     cmd->cmd_id);
		return;
	}
	tail_skip_noncmd(r);
	if (r->tail == r->pos) { /* cannot happen while cmd is held */
		tcmu_dev_err(dev, "no ring slot for the completion of %u",
			     cmd->cmd_id);
		return;
	}
	slot = r->cmdr + r->tail;
	len = tcmu_hdr_get_len(hdr_len_op(r, r->tail));

	memcpy(&hdr, slot, sizeof(hdr));
	hdr.cmd_id = cmd->cmd_id;
	hdr.uflags = 0;
	if (cmd->unknown_op)
		hdr.uflags |= TCMU_UFLAG_UNKNOWN_OP;
	if (cmd->read_len_set)
		hdr.uflags |= TCMU_UFLAG_READ_LEN;
	memcpy(slot, &hdr, sizeof(hdr));
	slot[offsetof(struct tcmu_cmd_entry, rsp.scsi_status)] = status;
	memcpy(slot + offsetof(struct tcmu_cmd_entry, rsp.read_len),
	       &cmd->read_len, sizeof(cmd->read_len));
	if (status == SAM_STAT_CHECK_CONDITION_) {
		uint8_t *sb = slot + offsetof(struct tcmu_cmd_entry, rsp.sense_buffer);
		size_t sl = cmd->sense_len;

		if (sl > TCMU_SENSE_BUFFERSIZE)
			sl = TCMU_SENSE_BUFFERSIZE;
		memcpy(sb, cmd->sense, sl);
		memset(sb + sl, 0, TCMU_SENSE_BUFFERSIZE - sl);
	}
	r->tail = ring_add(r, r->tail, len);
	__atomic_store_n(mb_tail(r), r->tail, __ATOMIC_RELEASE);

	stat_add(&dev->stat_cmds, 1);
	stat_add(&dev->stat_in_flight, (uint64_t)-1);
	if (status != SAM_STAT_GOOD_ || cmd->unknown_op)
		stat_add(&dev->stat_errors, 1);
	r->by_id[cmd->cmd_id] = NULL;
	pool_put(r, cmd);
}

int tcmu_ring_notify(struct tcmu_device *dev)
{
	struct ring *r = dev->ring;
	uint32_t one = 1;
	ssize_t n;

	tail_skip_noncmd(r);
	if (r->tail == r->notified_tail)
		return 0;
	__atomic_store_n(mb_tail(r), r->tail, __ATOMIC_RELEASE);
	do {
		n = write(dev->event_fd, &one, sizeof(one));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != sizeof(one))
		return -EIO;
	r->notified_tail = r->tail;
	stat_add(&r->nr_notify, 1);
	return 0;
}

int tcmu_ring_ack_events(struct tcmu_device *dev)
{
	uint32_t v;
	int count = 0;
	ssize_t n;

	for (;;) {
		n = read(dev->event_fd, &v, sizeof(v));
		if (n > 0) {
			count++;
			continue;
		}
		if (n == 0) /* the other side is gone */
			return count ? count : -EPIPE;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return count;
		return -errno;
	}
}

void tcmu_ring_set_tmr_fn(struct tcmu_device *dev, tcmu_tmr_fn fn, void *arg)
{
	dev->ring->tmr_fn = fn;
	dev->ring->tmr_arg = arg;
}

int tcmu_ring_get_error(const struct tcmu_device *dev)
{
	return ring_error(dev);
}
