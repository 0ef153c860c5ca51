/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/scsi_priv.h — internals shared by the files of the SCSI core.
 *
 * Threading: everything here runs on the device's ring thread (in the
 * synchronous test mode: on the calling thread), except where a comment
 * says otherwise (unit attention bits, the device registry).
 *
 * Flow of a command: scsi_submit() looks the opcode up in the dispatch table
 * (core.c), checks unit attentions and readiness, and calls the command's
 * emulation function. That function either answers at once
 * (scsi_done_*()), or prepares cmd->io and calls runner_call() with a
 * continuation that issues the next step or completes the command with
 * scsi_complete(). Commands that need state across steps get a struct
 * scsi_cstate (cmd->core_priv) from a per-device pool.
 */
#ifndef SCSI_PRIV_H
#define SCSI_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <tcmu/scsi.h>

#include "tcmu_internal.h"

#define SCSI_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SCSI_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SCSI_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Pending unit attentions, lowest bit reported first. */
#define SCSI_UA_POWER_ON (1u << 0)
#define SCSI_UA_CAPACITY (1u << 1)
#define SCSI_UA_MODE     (1u << 2)

/* Limits we report (VPD 0xB0) and enforce. */
#define SCSI_MAX_UNMAP_DESC     256
#define SCSI_MAX_CAW_BLOCKS     255
#define SCSI_MAX_WRITE_SAME     0x400000u /* blocks */
#define SCSI_BOUNCE_MAX         (1u << 20) /* emulation chunk, bytes */
#define SCSI_MAX_ALUA_GROUPS    16

/* Sense to report: key, ASC/ASCQ and the optional fields. */
struct scsi_sense {
	uint8_t key;
	uint16_t asc;         /* ASC << 8 | ASCQ */
	bool info_valid;
	uint64_t info;        /* INFORMATION field */
	bool sks_valid;
	uint8_t sks[3];       /* sense-key specific bytes; SKSV is added */
};

/* A tiny intrusive doubly-linked list. */
struct scsi_list {
	struct scsi_list *prev, *next;
};

#define scsi_container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

static inline void scsi_list_init(struct scsi_list *h)
{
	h->prev = h->next = h;
}

static inline bool scsi_list_empty(const struct scsi_list *h)
{
	return h->next == h;
}

static inline void scsi_list_add_tail(struct scsi_list *h, struct scsi_list *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static inline void scsi_list_del(struct scsi_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

/* Write-ordering lock kinds (see lock.c). */
enum scsi_lock_kind {
	SCSI_LOCK_NONE = 0,
	SCSI_LOCK_SHARED, /* an ordinary write: excludes only EXCL */
	SCSI_LOCK_EXCL,   /* COMPARE AND WRITE, FORMAT: excludes everything */
};

/*
 * Per-command state of the SCSI core, from a per-device pool (no malloc
 * once the pool is warm). cmd->core_priv points to it while the command
 * runs; scsi_complete() returns it.
 *
 * Two ways to get one: scsi_cstate_get() zeroes all of it; an ordinary
 * WRITE (the hot path) takes it with scsi_cstate_get_light(), which sets
 * only the fields up to the scratch part and marks it light. A later
 * scsi_cstate_get() on the same command zeroes the scratch part, and
 * scsi_complete() frees scratch only of a state that is not light.
 */
struct scsi_cstate {
	struct scsi_list link;     /* lock active or waiting list, or the pool */
	struct tcmu_cmd *cmd;
	/* write ordering */
	enum scsi_lock_kind lock;
	bool waiting;
	bool granted;              /* was waiting, now holds: resume pending */
	bool light;                /* the scratch part below is not set up */
	uint64_t lk_start, lk_end; /* locked LBA range [start, end) */
	void (*resume)(struct tcmu_cmd *cmd); /* the lock was granted */
	/* the command's range (set by the emulation) */
	uint64_t lba;              /* first LBA */
	uint64_t nlb;              /* number of blocks */
	unsigned int io_flags;     /* TCMU_IO_FUA ... */
	/* emulation scratch, freed by scsi_complete(); from here to the end */
	uint8_t *buf;              /* bounce buffer */
	size_t buf_len;
	struct iovec *iov;         /* iovec scratch (malloc) */
	size_t iov_cap;
	struct iovec biov[2];      /* small inline iovecs */
	struct tcmu_range *ranges; /* unmap ranges */
	void *ext;                 /* command-specific state */
	void (*ext_free)(void *ext);
	/* progress of a multi-step emulation */
	uint64_t pos;              /* bytes or blocks done */
	uint32_t aux;
	int step;
};

#define SCSI_CSTATE_SCRATCH offsetof(struct scsi_cstate, buf)

#define SCSI_MAX_ALUA_PORTS 16 /* target ports listed per group */

/* One ALUA target port group as we report it. */
struct scsi_alua_group {
	struct tcmu_alua_group g;
	uint8_t access_type;      /* INQUIRY byte 5 TPGS bits: 0x10 implicit, 0x20 explicit */
	uint8_t nr_members;       /* LUNs (ports) listed in its members file */
	uint8_t nr_ports;         /* of which the relative port id is known: */
	uint16_t ports[SCSI_MAX_ALUA_PORTS]; /* relative target port ids */
};

/* SCSI core per-device state (dev->scsi). */
struct scsi_dev {
	struct tcmu_device *dev;
	_Atomic unsigned int ua;   /* pending unit attentions (any thread) */
	bool wce_seen;             /* write cache state at the last command */
	bool d_sense;              /* control mode page D_SENSE */

	/* write ordering (lock.c) */
	struct scsi_list active;   /* holders */
	struct scsi_list waiting;  /* FIFO of waiters */
	unsigned int nr_excl;      /* EXCL holders + waiters */
	unsigned int nr_granted;   /* granted waiters not resumed yet */
	bool running_ready;

	/* pool of per-command states */
	struct scsi_list pool;

	/* FORMAT UNIT (format.c) */
	bool formatting;
	uint64_t fmt_done, fmt_total; /* blocks */
	struct tcmu_cmd *fmt_cmd;     /* the command doing the work */
	bool fmt_internal;            /* ... an internal one (IMMED) */
	bool fmt_corrupt;             /* the last FORMAT UNIT failed */

	/* identity (vpd.c); guarded by the registry lock (read elsewhere) */
	char serial[256];
	bool serial_known;

	/* EXTENDED COPY results for RECEIVE COPY RESULTS (xcopy.c) */
	void *xc_results;
	/* registry of started devices (registry.c) */
	struct scsi_list reg_link;
	bool registered;
	uint64_t uid;              /* unique for the life of the process */
};

/* Configfs access, replaceable by unit tests (scsi_test_set_cfgfs). */
struct scsi_cfgfs_ops {
	int (*read_attr)(const struct tcmu_device_info *info, const char *path,
			 char *buf, size_t size);
	int (*write_attr)(const struct tcmu_device_info *info,
			  const char *path, const char *val);
	int (*read_alua)(const struct tcmu_device_info *info,
			 struct tcmu_alua_group *groups, size_t max);
	/*
	 * read_port_attr — attribute @attr (e.g. "statistics/scsi_port/indx")
	 * of the exported LUN that a line of an ALUA group's members file
	 * names ("<fabric>/<wwn>/tpgt_<n>/lun_<m>"), like read_attr. May be
	 * NULL (the ports are then unknown).
	 */
	int (*read_port_attr)(const char *member, const char *attr, char *buf,
			      size_t size);
};
extern struct scsi_cfgfs_ops scsi_cfgfs;

/*
 * scsi_test_set_cfgfs — replace the configfs accessors (NULL restores the
 * defaults). For unit tests only; call before devices are used.
 */
void scsi_test_set_cfgfs(const struct scsi_cfgfs_ops *ops);
/* scsi_have_cfgfs — can @dev's configfs attributes be read at all? */
bool scsi_have_cfgfs(const struct tcmu_device *dev);
bool scsi_have_cfgfs_info(const struct tcmu_device_info *info);
/* scsi_read_serial — unit serial from configfs ("" if unset). Any thread. */
void scsi_read_serial(const struct tcmu_device_info *info, char *buf,
		      size_t size);

/* ---------------------------------------------------------------- */
/* core.c                                                            */
/* ---------------------------------------------------------------- */

/* A command emulation: answers or starts the command. */
typedef void (*scsi_emul_fn)(struct tcmu_cmd *cmd);

#define SCSI_OPF_MEDIUM   0x01 /* accesses the medium (not after a failed FORMAT) */
#define SCSI_OPF_NO_UA    0x02 /* neither reports nor clears a UA */
#define SCSI_OPF_SA       0x04 /* the entry is for one service action */
#define SCSI_OPF_NEED_UNMAP 0x08 /* only if the handler has unmap */
#define SCSI_OPF_ALUA     0x10 /* only with ALUA groups (scsi_op_enabled) */
#define SCSI_OPF_FORMAT_OK 0x20 /* allowed while formatting */

/* One supported command (and the CDB usage data for REPORT SUPPORTED OPCODES). */
struct scsi_op {
	uint8_t opcode;
	uint16_t sa;               /* service action, with SCSI_OPF_SA */
	uint8_t flags;
	uint8_t cdb_len;
	scsi_emul_fn fn;
	uint8_t usage[16];         /* CDB USAGE DATA (byte 0 = opcode) */
	uint32_t timeout;          /* recommended timeout, seconds */
};

/* Table of all supported commands; scsi_ops_count entries. */
extern const struct scsi_op scsi_ops[];
extern const size_t scsi_ops_count;

/* The flags of entries that a device may not support (scsi_op_enabled). */
#define SCSI_OPF_CONDITIONAL (SCSI_OPF_NEED_UNMAP | SCSI_OPF_ALUA)
/* scsi_op_conditional_enabled — scsi_op_enabled() for those entries (core.c). */
bool scsi_op_conditional_enabled(const struct tcmu_device *dev,
				 const struct scsi_op *op);

/*
 * scsi_op_enabled — is @op supported by @dev's handler? Only entries with
 * a SCSI_OPF_CONDITIONAL flag can be disabled (inline: every command asks).
 */
static inline bool scsi_op_enabled(const struct tcmu_device *dev,
				   const struct scsi_op *op)
{
	return !(op->flags & SCSI_OPF_CONDITIONAL) ||
	       scsi_op_conditional_enabled(dev, op);
}

/* scsi_complete — the command is answered: free its state, finish it. */
void scsi_complete(struct tcmu_cmd *cmd);

/* scsi_complete_result — map @result (0 / -errno) to status and complete. */
void scsi_complete_result(struct tcmu_cmd *cmd, int result);

/* scsi_cont_complete — continuation that maps the result and completes. */
void scsi_cont_complete(struct tcmu_cmd *cmd, int result);

/*
 * scsi_internal_cmd_new — a command of the SCSI core's own (not from the
 * ring) for background work on @dev's handler, e.g. FORMAT UNIT with IMMED:
 * runner_call() works on it, but it is never finished to the ring; free it
 * with scsi_internal_cmd_free(). NULL on ENOMEM.
 */
struct tcmu_cmd *scsi_internal_cmd_new(struct tcmu_device *dev);
void scsi_internal_cmd_free(struct tcmu_cmd *cmd);

/* scsi_cstate_get — the command's state, allocated on first use (NULL: ENOMEM). */
struct scsi_cstate *scsi_cstate_get(struct tcmu_cmd *cmd);
/*
 * scsi_cstate_get_light — a new state for @cmd (which has none) with only
 * link, cmd and the lock fields set (lba, nlb, io_flags are the caller's;
 * the scratch part is not set up). For the ordinary write. NULL: ENOMEM.
 */
struct scsi_cstate *scsi_cstate_get_light(struct tcmu_cmd *cmd);

/* scsi_handler — the device's handler (never NULL while commands run). */
static inline const struct tcmu_handler *scsi_handler(const struct tcmu_cmd *cmd)
{
	return cmd->dev->handler;
}

/* scsi_block_size — logical block size, never 0. */
static inline uint32_t scsi_block_size(const struct tcmu_device *dev)
{
	return dev->info.block_size ? dev->info.block_size : 512;
}

/* scsi_num_lbas — number of logical blocks. */
static inline uint64_t scsi_num_lbas(const struct tcmu_device *dev)
{
	return dev->info.size / scsi_block_size(dev);
}

/* scsi_wce — is the write cache reported enabled? */
static inline bool scsi_wce(const struct tcmu_device *dev)
{
	return dev->handler && dev->handler->flush && dev->info.write_cache;
}

/*
 * scsi_write_flags — handler flags for a write: FUA when the CDB asks for
 * it, and always when the handler caches writes (it has flush) but the
 * write cache is reported disabled, since the initiator then relies on
 * every completed write being durable.
 */
static inline unsigned int scsi_write_flags(const struct tcmu_device *dev,
					    bool fua)
{
	const struct tcmu_handler *h = dev->handler;

	if (fua || (h && h->flush && !dev->info.write_cache))
		return TCMU_IO_FUA;
	return 0;
}

/* scsi_lba_ok — is [@lba, @lba + @n) inside the device? */
static inline bool scsi_lba_ok(const struct tcmu_device *dev, uint64_t lba,
			       uint64_t n)
{
	uint64_t end = scsi_num_lbas(dev);

	return lba <= end && n <= end - lba;
}

/* ---------------------------------------------------------------- */
/* sense.c                                                           */
/* ---------------------------------------------------------------- */

/* scsi_build_sense — format @s into @buf (fixed or descriptor). Returns length. */
size_t scsi_build_sense(uint8_t *buf, size_t size, bool desc,
			const struct scsi_sense *s);
/* scsi_parse_sense — key / ASC / ASCQ of fixed or descriptor sense. */
bool scsi_parse_sense(const uint8_t *buf, size_t len, uint8_t *key,
		      uint16_t *asc);
/* scsi_dev_d_sense — does @dev report descriptor sense? */
bool scsi_dev_d_sense(const struct tcmu_device *dev);
/* scsi_set_sense — CHECK CONDITION with @s in the device's format. */
void scsi_set_sense(struct tcmu_cmd *cmd, const struct scsi_sense *s);
/* scsi_set_check — CHECK CONDITION, @key, @asc (ASC<<8|ASCQ). */
void scsi_set_check(struct tcmu_cmd *cmd, uint8_t key, uint16_t asc);

/* Complete @cmd with GOOD / CHECK CONDITION (these call scsi_complete). */
void scsi_done_good(struct tcmu_cmd *cmd);
void scsi_done_check(struct tcmu_cmd *cmd, uint8_t key, uint16_t asc);
void scsi_done_sense(struct tcmu_cmd *cmd, const struct scsi_sense *s);
void scsi_done_status(struct tcmu_cmd *cmd, uint8_t status);
/* INVALID FIELD IN CDB, pointing at byte @byte, bit @bit (-1: no bit). */
void scsi_done_invalid_cdb(struct tcmu_cmd *cmd, unsigned int byte, int bit);
/* INVALID FIELD IN PARAMETER LIST, pointing at parameter byte/bit. */
void scsi_done_invalid_param(struct tcmu_cmd *cmd, unsigned int byte, int bit);
void scsi_done_param_len(struct tcmu_cmd *cmd);     /* PARAMETER LIST LENGTH ERROR */
void scsi_done_lba_range(struct tcmu_cmd *cmd);     /* LBA OUT OF RANGE */
void scsi_done_invalid_op(struct tcmu_cmd *cmd);    /* INVALID COMMAND OPERATION CODE */
void scsi_done_nomem(struct tcmu_cmd *cmd);         /* TASK SET FULL */
/* Sense-key specific field pointer bytes. */
void scsi_sks_field(struct scsi_sense *s, bool cdb, unsigned int byte, int bit);
/* Sense-key specific progress indication (0..65535). */
void scsi_sks_progress(struct scsi_sense *s, uint16_t progress);

/* ---------------------------------------------------------------- */
/* iov.c — the data area                                             */
/* ---------------------------------------------------------------- */

/* Copy up to @len bytes from @src into the iovecs at byte @off; returns bytes copied. */
size_t scsi_iov_put(const struct iovec *iov, size_t cnt, size_t off,
		    const void *src, size_t len);
/* Copy up to @len bytes from the iovecs at byte @off into @dst; returns bytes copied. */
size_t scsi_iov_get(const struct iovec *iov, size_t cnt, size_t off,
		    void *dst, size_t len);
/* Total length of @cnt iovecs. */
size_t scsi_iov_len(const struct iovec *iov, size_t cnt);
/*
 * scsi_iov_slice — describe bytes [@off, @off + @len) of @iov in @out
 * (at most @max entries). Returns the entry count, or -1 when the range is
 * not inside the iovecs or @max is too small.
 */
int scsi_iov_slice(const struct iovec *iov, size_t cnt, size_t off,
		   size_t len, struct iovec *out, size_t max);
/* Number of iovecs that cover bytes [@off, @off + @len) of @iov. */
size_t scsi_iov_count(const struct iovec *iov, size_t cnt, size_t off,
		      size_t len);
/*
 * scsi_data_in — return @len bytes of @buf as data-in, truncated to
 * @alloc_len and to the data area; sets the residual when fewer bytes than
 * the data area holds are returned. Does not complete the command.
 */
void scsi_data_in(struct tcmu_cmd *cmd, const void *buf, size_t len,
		  size_t alloc_len);
/* scsi_data_out — copy up to @len bytes of data-out into @buf; returns bytes. */
size_t scsi_data_out(struct tcmu_cmd *cmd, void *buf, size_t len);

/* ---------------------------------------------------------------- */
/* lock.c — write ordering for COMPARE AND WRITE / FORMAT            */
/* ---------------------------------------------------------------- */

/*
 * The lock's entry points are inline for the common case (no EXCL lock held
 * or waited for: nothing can conflict, O(1)); the rest is in lock.c.
 */
/* scsi_lock_contended — scsi_lock() when an EXCL lock exists (lock.c). */
bool scsi_lock_contended(struct scsi_dev *sd, struct scsi_cstate *cs);
/* scsi_grant_waiters — grant, in order, waiters that no longer conflict (lock.c). */
void scsi_grant_waiters(struct scsi_dev *sd);
/* scsi_resume_granted — the loop of scsi_run_ready() (lock.c). */
void scsi_resume_granted(struct scsi_dev *sd);

/*
 * scsi_lock — take the write-ordering lock of @kind on LBAs [@lba, @lba +
 * @n) for @cmd (needs its cstate). Returns true when granted at once;
 * otherwise @resume(cmd) runs once it is granted. Released by
 * scsi_complete(). Ring thread.
 */
static inline bool scsi_lock(struct tcmu_cmd *cmd, enum scsi_lock_kind kind,
			     uint64_t lba, uint64_t n,
			     void (*resume)(struct tcmu_cmd *cmd))
{
	struct scsi_dev *sd = cmd->dev->scsi;
	struct scsi_cstate *cs = cmd->core_priv;

	cs->lock = kind;
	cs->lk_start = lba;
	cs->lk_end = lba + n > lba ? lba + n : UINT64_MAX;
	cs->resume = resume;
	if (kind == SCSI_LOCK_EXCL)
		sd->nr_excl++;
	if (sd->nr_excl)
		return scsi_lock_contended(sd, cs);
	cs->waiting = false;
	scsi_list_add_tail(&sd->active, &cs->link);
	return true;
}

/* scsi_unlock — release @cs's lock; granted waiters go to the ready list. */
static inline void scsi_unlock(struct scsi_dev *sd, struct scsi_cstate *cs)
{
	if (cs->lock == SCSI_LOCK_NONE)
		return;
	if (cs->lock == SCSI_LOCK_EXCL)
		sd->nr_excl--;
	scsi_list_del(&cs->link);
	cs->lock = SCSI_LOCK_NONE;
	cs->waiting = false;
	if (!scsi_list_empty(&sd->waiting))
		scsi_grant_waiters(sd);
}

/* scsi_run_ready — resume granted waiters (re-entrancy safe). */
static inline void scsi_run_ready(struct scsi_dev *sd)
{
	if (sd->nr_granted && !sd->running_ready)
		scsi_resume_granted(sd);
}

/* ---------------------------------------------------------------- */
/* Emulations (one file each)                                        */
/*                                                                   */
/* Each takes a command from scsi_submit() on the ring thread and    */
/* never blocks (a few read configfs, which is brief): it answers at  */
/* once or issues handler calls through runner_call() and answers    */
/* from a continuation. None returns anything.                        */
/* ---------------------------------------------------------------- */

/* spc.c */
void spc_test_unit_ready(struct tcmu_cmd *cmd);
void spc_request_sense(struct tcmu_cmd *cmd);
void spc_start_stop(struct tcmu_cmd *cmd);
void spc_prevent_allow(struct tcmu_cmd *cmd);
bool spc_take_ua(struct tcmu_device *dev, struct scsi_sense *s);
void spc_format_progress_sense(struct tcmu_device *dev, struct scsi_sense *s);
/* inquiry.c / vpd.c */
void spc_inquiry(struct tcmu_cmd *cmd);
int vpd_page(struct tcmu_device *dev, uint8_t page, uint8_t *buf,
	     size_t size);
void vpd_get_serial(struct tcmu_device *dev, char *buf, size_t size);
void vpd_naa(struct tcmu_device *dev, uint8_t naa[16]);
void vpd_naa_from_serial(const char *serial, uint8_t naa[16]);
/* MAXIMUM UNMAP LBA COUNT we report (FFFFFFFFh: no limit; 0: no unmap). */
uint32_t vpd_max_unmap_lbas(const struct tcmu_device *dev);
/* MAXIMUM COMPARE AND WRITE LENGTH we report, in blocks. */
uint32_t vpd_max_caw_blocks(const struct tcmu_device *dev);
void vpd_get_inquiry_str(struct tcmu_device *dev, const char *attr,
			 const char *def, char *buf, size_t size);
/* mode.c */
void spc_mode_sense(struct tcmu_cmd *cmd);
void spc_mode_select(struct tcmu_cmd *cmd);
/* opcodes.c */
void spc_report_opcodes(struct tcmu_cmd *cmd);
/* sbc_rw.c */
void sbc_read(struct tcmu_cmd *cmd);
void sbc_write(struct tcmu_cmd *cmd);
void sbc_verify(struct tcmu_cmd *cmd);
void sbc_write_verify(struct tcmu_cmd *cmd);
void sbc_sync_cache(struct tcmu_cmd *cmd);
/* Completes with DATA PROTECT / WRITE PROTECTED for a read-only handler. */
bool scsi_check_writable(struct tcmu_cmd *cmd);
/* capacity.c */
void sbc_read_capacity10(struct tcmu_cmd *cmd);
void sbc_read_capacity16(struct tcmu_cmd *cmd);
void sbc_get_lba_status(struct tcmu_cmd *cmd);
/* unmap.c, write_same.c, caw.c, format.c */
void sbc_unmap(struct tcmu_cmd *cmd);
void sbc_write_same(struct tcmu_cmd *cmd);
void sbc_compare_and_write(struct tcmu_cmd *cmd);
void sbc_format_unit(struct tcmu_cmd *cmd);
/* alua.c */
void spc_report_tpgs(struct tcmu_cmd *cmd);
void spc_set_tpgs(struct tcmu_cmd *cmd);
/* vpd_port_group — the group (and the only port, or 0) to report. */
int vpd_port_group(struct tcmu_device *dev, uint16_t *port);
int alua_read_groups(struct tcmu_device *dev, struct scsi_alua_group *g,
		     size_t max);
/* xcopy.c */
void spc_extended_copy(struct tcmu_cmd *cmd);
void spc_receive_copy_results(struct tcmu_cmd *cmd);

/*
 * registry.c — the devices of this process with a SCSI core, for EXTENDED
 * COPY. One recursive lock guards the list, every device's cached serial
 * and the EXTENDED COPY proxies (xcopy.c).
 */
void scsi_registry_add(struct scsi_dev *sd);
void scsi_registry_del(struct scsi_dev *sd);
/*
 * scsi_registry_find_naa — the device whose NAA designator is @naa (16
 * bytes) and its uid, or NULL. Any thread; may read configfs. The pointer
 * may only be used while scsi_registry_alive() says so, under the lock.
 */
struct scsi_dev *scsi_registry_find_naa(const uint8_t *naa, uint64_t *uid);
/* scsi_registry_alive — is @sd (with @uid) still registered? Lock held. */
bool scsi_registry_alive(const struct scsi_dev *sd, uint64_t uid);
void scsi_registry_lock(void);
void scsi_registry_unlock(void);
/* xcopy_dev_gone — @sd is being freed: fail or orphan its copy proxies. */
void xcopy_dev_gone(struct scsi_dev *sd);

#endif
