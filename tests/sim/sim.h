/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/sim/sim.h — a userspace model of the kernel side of a TCMU device
 * (target_core_user), to drive libtcmu without a kernel.
 *
 * Same memory layout as the kernel: mailbox | command ring | data area in
 * one memfd that libtcmu maps; a stream socketpair stands in for the UIO
 * fd (a 4-byte read() on libtcmu's end returns an event, a 4-byte write()
 * is a completion notification). The producer behaves like
 * target_core_user: entries sized max(48 + 16 * iovs, 112) + CDB rounded
 * to 8 bytes, a PAD entry to the end of the ring before wrapping, one byte
 * always left free, cmd_ids allocated lowest-free in 1..65535 (like the
 * kernel's xa_alloc) or cyclically, data in blocks of data_pages_per_blk
 * pages with contiguous blocks merged into one iovec, TMR entries, and
 * reset_ring.
 *
 * Completions are processed exactly like the kernel does when userspace
 * writes the UIO fd: walk from the last cleaned position to cmd_tail,
 * step over PAD and TMR entries, look up every other entry's cmd_id (an
 * unknown cmd_id marks the ring broken, as the kernel does), copy data-in
 * out of the data area honouring TCMU_UFLAG_READ_LEN, deliver status and
 * sense, free the data blocks and the cmd_id.
 *
 * By default a "kernel" thread processes completions as soon as libtcmu
 * notifies (the kernel does so inside the write() system call); with
 * cfg.manual the test calls sim_reap() instead. All functions are
 * thread-safe (one lock, like the kernel's cmdr_lock).
 */
#ifndef TCMU_SIM_H
#define TCMU_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <tcmu/libtcmu.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sim;
struct sim_io;

/** Geometry and behaviour of a simulated device; zero fields take defaults. */
struct sim_config {
	uint32_t cmdr_size;          /* ring bytes (default 1 MiB - 128) */
	size_t data_size;            /* data area bytes (default 4 MiB) */
	uint32_t data_pages_per_blk; /* data block = this * 4096 (default 1) */
	uint64_t dev_size;           /* LUN size in bytes (default 64 MiB) */
	uint32_t block_size;         /* default 512 */
	uint32_t max_sectors;        /* default 128 */
	uint16_t mb_version;         /* default TCMU_MAILBOX_VERSION */
	bool no_oooc_flag;           /* clear CAP_OOOC in the mailbox */
	bool cyclic_ids;             /* cmd_ids cyclic instead of lowest-free */
	bool manual;                 /* no kernel thread: call sim_reap() */
	/* Called (kernel thread or sim_reap caller, lock not held) for each
	 * finished command. May call sim_submit(). */
	void (*complete)(struct sim *s, struct sim_io *io, void *arg);
	void *complete_arg;
};

/** Ways sim_submit_bad() breaks an entry (the kernel never does this). */
enum sim_corruption {
	SIM_BAD_NONE = 0,
	SIM_BAD_LEN_ZERO,      /* header length 0 */
	SIM_BAD_LEN_PAST_HEAD, /* header length beyond cmd_head */
	SIM_BAD_LEN_PAST_END,  /* header length beyond the end of the ring */
	SIM_BAD_LEN_SHORT,     /* CMD entry of 16 bytes: no room for a response */
	SIM_BAD_HEAD_UNALIGNED, /* cmd_head not 8-byte aligned */
	SIM_BAD_IOV_OOB,       /* first iovec points past the map */
	SIM_BAD_IOV_CNT,       /* iov_cnt absurdly large */
	SIM_BAD_CDB_OFF,       /* cdb_off outside the entry */
	SIM_BAD_UNKNOWN_OP,    /* an entry with opcode 5 (not PAD/CMD/TMR) */
};

/**
 * One SCSI command as the initiator sees it. The caller owns it and keeps
 * it alive until done.
 */
struct sim_io {
	/* in */
	uint8_t cdb[32];
	uint8_t cdb_len;
	const void *out;  /* data-out (to the device), or NULL */
	size_t out_len;
	void *in;         /* data-in buffer (from the device), or NULL */
	size_t in_len;
	void *priv;
	/* out, valid once done is true */
	uint16_t cmd_id;
	uint8_t status;   /* SAM status */
	uint8_t sense[96];
	bool unknown_op;      /* TCMU_UFLAG_UNKNOWN_OP was set */
	bool read_len_valid;  /* TCMU_UFLAG_READ_LEN honoured */
	uint32_t xfer_len;    /* data-in bytes copied to in */
	bool reset;           /* dropped by sim_reset() (status BUSY/CHECK) */
	bool aborted;         /* listed in a TMR */
	_Atomic bool done;
	struct sim_io *next_done; /* internal */
};

/** sim_create — build a simulated device. Returns 0 and *@out, or -errno. */
int sim_create(const struct sim_config *cfg, struct sim **out);
/** sim_destroy — stop the kernel thread, unmap, close. Returns NULL. */
struct sim *sim_destroy(struct sim *s);

/**
 * sim_device_fds — new fds for tcmu_device_open_fd(): *@event_fd (the
 * "UIO" end of the socketpair) and *@map_fd (the memfd), both dup()s that
 * the caller owns; *@map_size; and *@info describing the LUN. 0 or -errno.
 */
int sim_device_fds(struct sim *s, int *event_fd, int *map_fd,
		   size_t *map_size, struct tcmu_device_info *info);

/** sim_open_device — tcmu_device_open_fd() on this simulated device. */
static inline int sim_open_device(struct sim *s, struct tcmu_device **out)
{
	struct tcmu_device_info info;
	int efd, mfd, ret;
	size_t size;

	ret = sim_device_fds(s, &efd, &mfd, &size, &info);
	if (ret < 0)
		return ret;
	return tcmu_device_open_fd(efd, mfd, size, &info, out);
}

/** Flags for sim_submit_flags(). */
#define SIM_NO_KICK 0x1 /* do not raise a UIO event (batch; see sim_kick) */

/**
 * sim_submit — queue @io like target_core_user queues a command: data
 * blocks, ring entry (PAD first if needed), data-out copied in, cmd_head
 * advanced, UIO event. Returns the cmd_id (> 0), -EAGAIN when the ring or
 * the data area is full (the kernel's qfull), -EINVAL when it can never
 * fit, -EIO when the ring is broken.
 */
int sim_submit(struct sim *s, struct sim_io *io);
int sim_submit_flags(struct sim *s, struct sim_io *io, unsigned int flags);
/** sim_submit_bad — like sim_submit() but the entry is corrupted as @how. */
int sim_submit_bad(struct sim *s, struct sim_io *io, enum sim_corruption how);
/** sim_kick — raise a UIO event now. */
void sim_kick(struct sim *s);

/**
 * sim_tmr — queue a TMR entry (TCMU_TMR_*) listing @ids, like
 * tcmu_tmr_notify(); marks those commands aborted. 0, -EAGAIN or -EIO.
 */
int sim_tmr(struct sim *s, uint8_t type, const uint16_t *ids, uint32_t nr);

/**
 * sim_reset — configfs reset_ring: every command in flight is finished
 * with BUSY (@level 1) or CHECK CONDITION (@level 2) and io->reset set,
 * data blocks and cmd_ids freed, head = tail = 0, broken cleared.
 */
void sim_reset(struct sim *s, int level);

/**
 * sim_reap — manual mode: wait up to @timeout_ms for notifications, then
 * process completions if at least one arrived (or always with @force,
 * like block_dev does). Returns the number of commands finished, or
 * -EIO when the ring is broken.
 */
int sim_reap(struct sim *s, int timeout_ms, bool force);

/**
 * sim_wait_done — wait until @io is done or @timeout_ms passes (kernel
 * thread mode; in manual mode it reaps). true if done.
 */
bool sim_wait_done(struct sim *s, struct sim_io *io, int timeout_ms);
/** sim_wait_idle — wait until no command is in flight. true if idle. */
bool sim_wait_idle(struct sim *s, int timeout_ms);

/** Counters and state. */
struct sim_stats {
	uint64_t submitted, completed, notifies, events, pads, tmrs;
	uint32_t in_flight;
	uint32_t free_blocks, total_blocks;
	uint32_t head, tail, last_cleaned;
	bool broken;
};
void sim_get_stats(struct sim *s, struct sim_stats *st);

/** Geometry helpers. */
uint32_t sim_cmdr_size(const struct sim *s);
uint32_t sim_data_block_size(const struct sim *s);
/** Size of the ring entry sim_submit() would write for @io. */
uint32_t sim_entry_size(const struct sim *s, const struct sim_io *io);

/** sim_io_init — zero @io and set its CDB. */
void sim_io_init(struct sim_io *io, const uint8_t *cdb, uint8_t cdb_len);

#ifdef __cplusplus
}
#endif
#endif
