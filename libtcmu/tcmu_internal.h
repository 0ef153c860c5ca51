/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/tcmu_internal.h — structures shared by the modules of libtcmu
 * (ring, runner, SCSI core). Not installed; handlers never see it.
 *
 * Naming: internal functions never start with "tcmu_" (the version script
 * exports exactly tcmu_*). Unit tests link the static object library.
 *
 * Ownership rules:
 *  - struct tcmu_cmd objects come from the device's pool (preallocated,
 *    recycled by tcmu_ring_complete()); no malloc per command.
 *  - Everything in struct tcmu_device marked [ring] is touched only by the
 *    ring thread; [any] fields are atomics or immutable after start.
 */
#ifndef TCMU_INTERNAL_H
#define TCMU_INTERNAL_H

#include "kabi.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <tcmu/handler.h>
#include <tcmu/libtcmu.h>

#define TCMU_CDB_MAX 32 /* longest CDB we copy; longer ones are refused */
#define TCMU_CMD_ID_MAX 65536 /* cmd_id is 16 bits */

struct scsi_dev; /* SCSI core per-device state (libtcmu/scsi/) */
struct runner;   /* runner per-device state (libtcmu/runner.c) */
struct ring;     /* ring parser state (libtcmu/ring.c) */

/*
 * struct tcmu_device — one TCMU device. info is filled at open and changed
 * only while the ring is paused (reconfig); handler and handler_priv are
 * set before the ring thread starts.
 */
struct tcmu_device {
	struct tcmu_device_info info;
	const struct tcmu_handler *handler; /* NULL until tcmu_device_start */
	void *handler_priv;                 /* tcmu_dev_set_private() */
	struct scsi_dev *scsi;              /* SCSI core state */
	struct ring *ring;                  /* ring.c state */
	struct runner *runner;              /* runner.c state */
	int event_fd;                       /* uio fd (or sim equivalent) */
	int map_fd;
	void *map;                          /* mailbox | cmd ring | data area */
	size_t map_size;
	_Atomic uint64_t stat_cmds, stat_read_bytes, stat_write_bytes,
		stat_errors, stat_in_flight, stat_timeouts, stat_aborts;
	/*
	 * Synchronous test mode (unit tests of the SCSI core, no ring thread):
	 * when runner == NULL, runner_call() calls the handler callback
	 * directly on the calling thread, tcmu_cmd_done() runs the
	 * continuation (or maps the result and finishes) inline, and
	 * runner_finish() calls finish_hook(cmd).
	 */
	void (*finish_hook)(struct tcmu_cmd *cmd);
	void *finish_hook_arg;
};

/* Operations the SCSI core asks of a handler (see runner_call()). */
enum tcmu_io_op {
	TCMU_IO_READ,
	TCMU_IO_WRITE,
	TCMU_IO_FLUSH,
	TCMU_IO_UNMAP,
	TCMU_IO_WRITE_SAME,
	TCMU_IO_COMPARE_AND_WRITE,
};

/* One handler call, prepared by the SCSI core. */
struct tcmu_io {
	enum tcmu_io_op op;
	unsigned int flags;          /* TCMU_IO_FUA, TCMU_WRITE_SAME_UNMAP */
	uint64_t offset;             /* bytes */
	uint64_t length;             /* bytes */
	const struct iovec *iov;     /* read/write/write_same data, CAW data */
	size_t iovcnt;
	const struct iovec *cmp_iov; /* CAW compare data */
	size_t cmp_iovcnt;
	const struct tcmu_range *ranges; /* unmap */
	size_t nr_ranges;
};

/* Continuation run on the ring thread when a handler call completes. */
typedef void (*tcmu_cmd_cont_fn)(struct tcmu_cmd *cmd, int result);

struct tcmu_cmd {
	/* --- from the ring entry (tcmu_ring_next) --- */
	struct tcmu_device *dev;
	uint16_t cmd_id;
	uint8_t cdb_len;
	uint8_t cdb[TCMU_CDB_MAX];
	struct iovec *iov;       /* data iovecs, into the data area */
	size_t iov_cnt;
	struct iovec *bidi_iov;  /* bidi data-in iovecs */
	size_t bidi_cnt;
	size_t iov_cap;          /* capacity of iov_store */
	struct iovec *iov_store; /* owned storage for iov + bidi_iov */
	uint64_t data_len;       /* sum of iov lengths */

	/* --- response, written back by tcmu_ring_complete --- */
	uint8_t status;          /* SAM status */
	uint8_t sense_len;
	uint8_t sense[TCMU_SENSE_BUFFERSIZE];
	bool read_len_set;
	bool unknown_op;
	uint32_t read_len;

	/* --- runner / SCSI core state --- */
	_Atomic(struct tcmu_cmd *) next; /* completion queue / free list link */
	int result;                /* handler's tcmu_cmd_done() result */
	bool sense_set;            /* handler called tcmu_cmd_set_sense() */
	bool miscompare_set;
	uint32_t miscompare_off;
	bool aborted;              /* TMR hit it */
	bool timed_out;            /* failed back by the timeout */
	bool in_handler;           /* a handler call is outstanding */
	tcmu_cmd_cont_fn cont;     /* SCSI core continuation, or NULL */
	void *core_priv;           /* SCSI core's per-command state */
	struct tcmu_io io;         /* the current handler call */
	uint64_t start_ns;         /* CLOCK_MONOTONIC when taken */
	struct tcmu_cmd *work_next; /* runner work queue link */
	void *hpriv;               /* handler's cmd_priv_size bytes */
};

/* ---------------------------------------------------------------------- */
/* Runner -> SCSI core                                                     */
/* ---------------------------------------------------------------------- */

/*
 * scsi_dev_init — allocate the SCSI core state of @dev (mode pages,
 * unit attentions, VPD identifiers, CAW lock). Main thread, before the ring
 * thread starts. Returns 0 or -errno.
 */
int scsi_dev_init(struct tcmu_device *dev);
/* scsi_dev_free — frees it. Main thread, after the ring thread stopped. */
void scsi_dev_free(struct tcmu_device *dev);

/*
 * scsi_submit — handle one new command. Ring thread; never blocks. The
 * core either completes @cmd itself (runner_finish) or issues handler
 * calls through runner_call(), possibly several in sequence via
 * continuations.
 */
void scsi_submit(struct tcmu_cmd *cmd);

/*
 * scsi_capacity_changed — raise CAPACITY DATA HAS CHANGED for the next
 * command. Any thread.
 */
void scsi_capacity_changed(struct tcmu_device *dev);

/*
 * scsi_result_to_sense — map a handler's -errno result for a command
 * to status + sense in @cmd (respecting sense_set / miscompare and the
 * device's descriptor-sense setting). Ring thread.
 */
void scsi_result_to_sense(struct tcmu_cmd *cmd, int result);

/* ---------------------------------------------------------------------- */
/* SCSI core -> runner                                                     */
/* ---------------------------------------------------------------------- */

/*
 * runner_call — run cmd->io on the device's handler, honouring its
 * concurrency model. When the handler completes, @cont(cmd, result) runs on
 * the ring thread (or, if @cont is NULL, the result is mapped to sense and
 * the command finished). Ring thread; never blocks.
 */
void runner_call(struct tcmu_cmd *cmd, tcmu_cmd_cont_fn cont);

/*
 * runner_finish — the command is answered (status/sense in @cmd): queue
 * it for write-back in the current batch. Ring thread; never blocks.
 */
void runner_finish(struct tcmu_cmd *cmd);

#endif
