/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tcmu/libtcmu.h — serve TCMU devices from your own program.
 *
 * Two levels:
 *
 * 1. The ring API (this file, "Devices and the ring"): open a device (a real
 *    /dev/uioN or any fd + mapping with the same semantics), wait on its fd,
 *    take commands with tcmu_ring_next(), complete them with
 *    tcmu_ring_complete() in any order, and tell the kernel once per batch
 *    with tcmu_ring_notify(). Single-threaded: every tcmu_ring_* call on a
 *    device must come from the one thread that owns its ring.
 *
 * 2. The runner (this file, "Runner"): give a device a handler (tcmu/handler.h)
 *    and libtcmu starts the ring thread, runs the SCSI core, enforces the
 *    handler's concurrency model and batches completions; the daemon tcmud
 *    is a thin shell around this.
 *
 * Plus the kernel control plane: netlink events (tcmu_nl_*), start-up
 * discovery (tcmu_discover_*) and configfs attributes (tcmu_cfgfs_*).
 *
 * Errors are 0 / -errno. The library logs only through tcmu_log() (see
 * tcmu_set_log_sink()).
 */
#ifndef TCMU_LIBTCMU_H
#define TCMU_LIBTCMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <tcmu/handler.h>
#include <tcmu/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Logging                                                            */
/* ------------------------------------------------------------------ */

/**
 * A log sink receives every line at or below the current level. Any thread;
 * must not block for long. @dev_name may be NULL.
 */
typedef void (*tcmu_log_sink_fn)(enum tcmu_log_level level,
				 const char *dev_name, const char *file,
				 int line, const char *msg, void *arg);

/** Sets the sink (NULL: stderr) and its argument. Any thread. */
void tcmu_set_log_sink(tcmu_log_sink_fn fn, void *arg);
/** Sets the level (0 none .. 5); lines above it are dropped cheaply. Any thread. */
void tcmu_set_log_level(int level);
/** Current level. Any thread. */
int tcmu_get_log_level(void);

/* ------------------------------------------------------------------ */
/* Devices and the ring                                               */
/* ------------------------------------------------------------------ */

/**
 * What a device is, as the kernel describes it. Filled from sysfs/configfs
 * by tcmu_device_open_uio(); given by the caller to tcmu_device_open_fd().
 */
struct tcmu_device_info {
	char uio[32];          /* "uio0" (empty for a custom fd) */
	char name[256];        /* "tcm-user/<hba>/<dev>" part of the uio name */
	char hba[64];          /* "user_<N>" directory in configfs core/ */
	char dev[128];         /* device name in configfs */
	char subtype[64];      /* "file" */
	char cfgstring[4096];  /* after "<subtype>/" */
	uint32_t block_size;   /* hw_block_size */
	uint64_t size;         /* bytes */
	uint32_t max_sectors;  /* hw_max_sectors (in blocks) */
	bool write_cache;      /* emulate_write_cache */
	uint32_t cmd_time_out; /* seconds, 0 = none */
};

/**
 * tcmu_device_open_uio — open /dev/<uio> (e.g. "uio0") of a TCMU device:
 * O_RDWR|O_NONBLOCK|O_CLOEXEC, mmap of exactly maps/map0/size, mailbox
 * version check, and @info filled from sysfs and configfs. Main thread; may
 * block briefly. Returns 0 and *@out, or -errno (-EINVAL: not a TCMU
 * device or unsupported mailbox version).
 */
int tcmu_device_open_uio(const char *uio, struct tcmu_device **out);

/**
 * tcmu_device_open_fd — open a device from an fd with UIO semantics (4-byte
 * read = events, 4-byte write = notify) and a separate mappable fd holding
 * mailbox | ring | data area of @map_size bytes. Used by tests/sim and by
 * programs with their own transport. Takes ownership of both fds (they may
 * be equal). Returns 0 and *@out, or -errno.
 */
int tcmu_device_open_fd(int event_fd, int map_fd, size_t map_size,
			const struct tcmu_device_info *info,
			struct tcmu_device **out);

/**
 * tcmu_device_close — stops the runner if started, unmaps, closes the fds
 * and frees the device. Commands not completed are lost to the kernel (it
 * times them out): complete them first. Main thread. Always returns NULL.
 */
struct tcmu_device *tcmu_device_close(struct tcmu_device *dev);

/** tcmu_device_get_info — what the device is. Any thread. */
const struct tcmu_device_info *tcmu_device_get_info(const struct tcmu_device *dev);

/** tcmu_device_get_fd — fd to poll for POLLIN (new commands). Any thread. */
int tcmu_device_get_fd(const struct tcmu_device *dev);

/**
 * tcmu_ring_ack_events — consume pending kernel events (4-byte reads until
 * EAGAIN). Ring thread. Returns the number of reads that returned data, or
 * -errno.
 */
int tcmu_ring_ack_events(struct tcmu_device *dev);

/**
 * tcmu_ring_next — the next new SCSI command, or NULL when the ring has none.
 * PAD entries are skipped. TMR entries are handed to the TMR callback (see
 * tcmu_ring_set_tmr_fn()) and skipped. An entry that is malformed (bad
 * length, CDB or iovec outside the mapping) is completed at once with
 * CHECK CONDITION and skipped, never dereferenced. The returned command
 * holds a copy of its CDB and iovecs (pointers into the data area), so its
 * ring slot may be reused for other completions. Ring thread; never blocks.
 */
struct tcmu_cmd *tcmu_ring_next(struct tcmu_device *dev);

/**
 * tcmu_ring_complete — write @cmd's status, sense and residual into the ring
 * (out-of-order completion) and recycle @cmd. The kernel learns of it at
 * the next tcmu_ring_notify(). Ring thread; never blocks.
 */
void tcmu_ring_complete(struct tcmu_device *dev, struct tcmu_cmd *cmd);

/**
 * tcmu_ring_notify — tell the kernel about completions written since the
 * last call, with one 4-byte write; does nothing when there were none.
 * Ring thread. Returns 0 or -errno.
 */
int tcmu_ring_notify(struct tcmu_device *dev);

/**
 * tcmu_ring_get_error — 0, or -EIO once the ring was found corrupt (an entry
 * header that cannot be walked). A broken ring hands out no more commands;
 * those already taken can still be completed. Reported once in the log.
 * Any thread.
 */
int tcmu_ring_get_error(const struct tcmu_device *dev);

/** A TMR from the kernel: @type is TCMU_TMR_*, @ids the affected cmd_ids. */
typedef void (*tcmu_tmr_fn)(struct tcmu_device *dev, uint8_t type,
			    const uint16_t *ids, uint32_t nr_ids, void *arg);
/** tcmu_ring_set_tmr_fn — sets the TMR callback (ring thread calls it). */
void tcmu_ring_set_tmr_fn(struct tcmu_device *dev, tcmu_tmr_fn fn, void *arg);

/** tcmu_cmd_get_id — the kernel's cmd_id of @cmd. Any thread holding it. */
uint16_t tcmu_cmd_get_id(const struct tcmu_cmd *cmd);

/** tcmu_cmd_get_bidi_iov — bidirectional (data-in of a bidi command) iovecs. */
struct iovec *tcmu_cmd_get_bidi_iov(struct tcmu_cmd *cmd, size_t *iovcnt);

/**
 * tcmu_cmd_set_status — ring API: the SCSI status and (optional, may be NULL)
 * sense bytes to write back at tcmu_ring_complete(). Any thread holding it.
 */
void tcmu_cmd_set_status(struct tcmu_cmd *cmd, uint8_t status,
			 const uint8_t *sense, size_t sense_len);

/**
 * tcmu_cmd_set_read_len — bytes actually transferred to the initiator, when
 * fewer than the data area holds (residual; TCMU_UFLAG_READ_LEN).
 */
void tcmu_cmd_set_read_len(struct tcmu_cmd *cmd, uint32_t len);

/**
 * tcmu_cmd_set_unknown_op — report the opcode as unsupported to the kernel
 * (TCMU_UFLAG_UNKNOWN_OP).
 */
void tcmu_cmd_set_unknown_op(struct tcmu_cmd *cmd);

/* ------------------------------------------------------------------ */
/* Runner: ring thread + SCSI core + handler                          */
/* ------------------------------------------------------------------ */

/** Counters of one device; read with tcmu_device_get_stats(). */
struct tcmu_device_stats {
	uint64_t cmds_completed;
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t errors;
	uint64_t in_flight;
	uint64_t timeouts;
	uint64_t aborts;
};

/**
 * tcmu_device_start — attach @handler (its open() is called here, with
 * @reopen) and start the device's ring thread: commands are parsed,
 * answered by the SCSI core or routed to the handler per its concurrency
 * model, and completions written back in batches. Main thread; may block
 * in open(). Returns 0 or -errno (the handler's open() error included).
 */
int tcmu_device_start(struct tcmu_device *dev, const struct tcmu_handler *handler,
		      bool reopen);

/**
 * tcmu_device_stop — stop taking new commands, wait up to @timeout_ms for
 * those in flight (each is written back as it finishes), then stop the
 * ring thread and the workers, call the handler's close() and free the
 * SCSI core state. Commands the handler still holds at the deadline are
 * abandoned, NOT completed to the kernel (their data blocks could be
 * reused while the handler still writes them): the kernel's cmd_time_out
 * answers the initiator and the next daemon resets the ring. Main thread;
 * blocks (also on a worker stuck in a callback). Returns 0, or -ETIMEDOUT
 * when commands were abandoned.
 */
int tcmu_device_stop(struct tcmu_device *dev, unsigned int timeout_ms);

/** tcmu_device_get_stats — copies the counters. Any thread. */
void tcmu_device_get_stats(const struct tcmu_device *dev,
			   struct tcmu_device_stats *st);

/**
 * tcmu_device_set_cmd_timeout — watch for commands the handler holds
 * longer than @seconds (0: never): each is logged once, counted in
 * tcmu_device_stats.timeouts and handed to the handler's abort(). It is
 * never completed to the kernel while the handler holds it (the handler's
 * iovecs point into data blocks the kernel reuses after completion); the
 * kernel's own cmd_time_out answers the initiator meanwhile. Any thread.
 */
void tcmu_device_set_cmd_timeout(struct tcmu_device *dev, unsigned int seconds);

/** Largest busy-poll time tcmu_device_set_busy_poll() accepts (µs). */
#define TCMU_BUSY_POLL_MAX_US 1000u

/**
 * tcmu_device_set_busy_poll — after a turn that took commands off the
 * ring, the device's ring thread busy-waits up to @usec microseconds for
 * new ring entries or handler completions before it sleeps in epoll:
 * lower latency at low queue depth, for at most @usec of CPU per busy
 * turn. An idle device never spins. 0 (the default) turns it off. The
 * value is kept across tcmu_device_stop()/start() and read by the ring
 * thread on every turn. Any thread, any time (before or after
 * tcmu_device_start()); never blocks. Returns 0, or -EINVAL for a NULL
 * @dev or @usec above TCMU_BUSY_POLL_MAX_US (the value is then unchanged).
 */
int tcmu_device_set_busy_poll(struct tcmu_device *dev, unsigned int usec);

/** tcmu_device_get_busy_poll — the busy-poll time in µs (0: off). Any thread. */
unsigned int tcmu_device_get_busy_poll(const struct tcmu_device *dev);

/**
 * tcmu_device_reconfig — apply a RECONFIG (pauses the ring, calls the
 * handler's reconfig(), updates size / write cache, raises the unit
 * attentions). Main thread; may block. Returns 0 or -errno.
 */
int tcmu_device_reconfig(struct tcmu_device *dev, const struct tcmu_reconfig *rc);

/* ------------------------------------------------------------------ */
/* Netlink (generic netlink family TCM-USER)                          */
/* ------------------------------------------------------------------ */

struct tcmu_nl;

/**
 * One netlink event. Strings point into the message; valid during the
 * callback. The kernel sends DEVICE, MINOR and DEVICE_ID with every event,
 * and a RECONFIG carries exactly one of DEV_CFG, DEV_SIZE, WRITECACHE.
 */
struct tcmu_nl_event {
	int cmd;               /* TCMU_CMD_ADDED_DEVICE, _REMOVED_, _RECONFIG_ */
	const char *device;    /* TCMU_ATTR_DEVICE: the uio name, "tcm-user/<hba>/<dev>/<subtype>/<cfg>" (before a RECONFIG is applied: the old one) */
	uint32_t minor;        /* TCMU_ATTR_MINOR: N of /dev/uioN */
	uint32_t device_id;    /* TCMU_ATTR_DEVICE_ID (0 if absent) */
	bool has_device_id;
	const char *dev_cfg;   /* RECONFIG: TCMU_ATTR_DEV_CFG, the new whole "<subtype>/<cfg>" (trailing newlines cut), or NULL */
	uint64_t dev_size;     /* RECONFIG: TCMU_ATTR_DEV_SIZE, valid if has_dev_size */
	bool has_dev_size;
	int write_cache;       /* RECONFIG: TCMU_ATTR_WRITECACHE 0/1, -1 absent */
};

/**
 * Handles one event; called from tcmu_nl_dispatch() (main thread) and must
 * not wait for the kernel to act on this device's configfs (the kernel is
 * blocked until the reply). Returns 0 or -errno, which becomes the reply's
 * TCMU_ATTR_CMD_STATUS (and, for ADDED, the error of the configfs "enable"
 * write). The reply (*_DONE) is always sent; a malformed event is not
 * passed to the callback and is answered with -EINVAL.
 */
typedef int (*tcmu_nl_event_fn)(const struct tcmu_nl_event *ev, void *arg);

/**
 * tcmu_nl_open — connect to the TCM-USER family, join the "config" group and
 * send SET_FEATURES(SUPP_KERN_CMD_REPLY) (EOPNOTSUPP from older kernels is
 * ignored). Main thread. Returns 0 and *@out, or -errno (-ENOENT: family
 * not registered, i.e. target_core_user not loaded).
 */
int tcmu_nl_open(tcmu_nl_event_fn fn, void *arg, struct tcmu_nl **out);
/** tcmu_nl_get_fd — fd to poll for POLLIN. Any thread. */
int tcmu_nl_get_fd(const struct tcmu_nl *nl);
/**
 * tcmu_nl_dispatch — read pending messages, call the callback for each,
 * send each *_DONE reply. Main thread; never blocks. Returns 0 or -errno.
 */
int tcmu_nl_dispatch(struct tcmu_nl *nl);
/** tcmu_nl_close — disconnect (NULL is fine). Main thread. Returns NULL. */
struct tcmu_nl *tcmu_nl_close(struct tcmu_nl *nl);

/* ------------------------------------------------------------------ */
/* Discovery of existing devices, restart protocol, configfs          */
/* ------------------------------------------------------------------ */

/**
 * Called for each TCMU uio device found, @uio e.g. "uio0" and @uio_name
 * its sysfs name (trailing newline cut). Return 0 to continue, non-zero
 * to stop the scan.
 */
typedef int (*tcmu_discover_fn)(const char *uio, const char *uio_name, void *arg);

/**
 * tcmu_discover_devices — scan $TCMU_SYSFS_ROOT (default /sys)/class/uio
 * for devices whose name starts with "tcm-user/" and call @fn for each,
 * in uio number order. Main thread; may block briefly. Returns the number
 * found (0 when there is no class/uio at all), @fn's return value if it
 * stopped the scan with a negative one, or -errno.
 */
int tcmu_discover_devices(tcmu_discover_fn fn, void *arg);

/**
 * tcmu_parse_uio_name — split "tcm-user/<host id>/<dev>/<subtype>/<cfg>"
 * (the kernel's "tcm-user/%u/%s/%s" of host id, device name and
 * dev_config) into @info's name ("tcm-user/<host id>/<dev>"), hba
 * ("user_<host id>"), dev, subtype and cfgstring. <cfg> may hold '/' and
 * may be empty ("<subtype>/" or just "<subtype>"); trailing newlines are
 * cut. Other fields of @info are untouched, and nothing is on failure.
 * Any thread. Returns 0, or -EINVAL for anything else: another prefix,
 * no dev_config (no subtype), a bad host id, a field too long for @info.
 */
int tcmu_parse_uio_name(const char *uio_name, struct tcmu_device_info *info);

/**
 * tcmu_cfgfs_block_dev / tcmu_cfgfs_reset_ring — write the configfs action
 * files action/block_dev ("1" block / "0" unblock) and action/reset_ring
 * ("1": commands in the ring are failed with BUSY, retryable) of the
 * device. The restart protocol is: block, reset_ring, open + mmap,
 * unblock. The kernel refuses both (-EINVAL) for a device not enabled.
 * Main thread; may block briefly. Return 0 or -errno (-ENOENT: no such
 * device, or a kernel without action files).
 */
int tcmu_cfgfs_block_dev(const struct tcmu_device_info *info, bool block);
int tcmu_cfgfs_reset_ring(const struct tcmu_device_info *info);

/**
 * tcmu_cfgfs_read_attr — read configfs
 * <root>/core/<hba>/<dev>/<path> (e.g. "attrib/hw_block_size",
 * "wwn/vpd_unit_serial", "info") into @buf (NUL-terminated, trailing
 * newlines removed). <root> is $TCMU_CONFIGFS_ROOT, default
 * /sys/kernel/config/target. For "wwn/vpd_unit_serial" the kernel's
 * "T10 VPD Unit Serial Number: " label is removed: just the serial, empty
 * until the kernel sets it (after enable). Any thread; may block briefly.
 * Returns the length, -EOVERFLOW if it does not fit, -EINVAL for a bad
 * @path or info, or -errno.
 */
int tcmu_cfgfs_read_attr(const struct tcmu_device_info *info, const char *path,
			 char *buf, size_t size);
/**
 * Same, parsed as an unsigned decimal integer. Returns 0, -ENODATA for an
 * empty attribute, -EINVAL for anything but digits, -ERANGE, or -errno.
 */
int tcmu_cfgfs_read_u64(const struct tcmu_device_info *info, const char *path,
			uint64_t *val);
/**
 * tcmu_cfgfs_write_attr — write @val to an attribute in one write(). Any
 * thread; may block briefly. Returns 0 or -errno (the kernel's refusal).
 */
int tcmu_cfgfs_write_attr(const struct tcmu_device_info *info, const char *path,
			  const char *val);
/**
 * tcmu_cfgfs_set_dev_size — handler-initiated resize: writes "dev_size=N"
 * (bytes) to "control", which changes the kernel's size without sending a
 * RECONFIG event (attrib/dev_size would send one and wait for our reply).
 * Any thread; may block briefly. Returns 0 or -errno.
 */
int tcmu_cfgfs_set_dev_size(const struct tcmu_device_info *info, uint64_t size);

/**
 * Parsed "info" attribute of a TCMU device (the kernel prints e.g.
 * "Status: ACTIVATED  Max Queue Depth: 128  SectorSize: 512  HwMaxSectors: 128\n
 *  Config: <dev_config or NULL> Size: N MaxDataAreaMB: N DataPagesPerBlk: N\n";
 * newer kernels append " CmdRingSizeMB: N").
 */
struct tcmu_cfgfs_dev_info {
	uint64_t size;               /* bytes */
	uint32_t max_data_area_mb;   /* 0 when the kernel does not say */
	uint32_t data_pages_per_blk; /* 1 when the kernel does not say */
};
/**
 * tcmu_cfgfs_read_info — read and parse "info". Any thread; may block
 * briefly. Returns 0, -EINVAL when Size is missing or a field is garbage,
 * or -errno.
 */
int tcmu_cfgfs_read_info(const struct tcmu_device_info *info,
			 struct tcmu_cfgfs_dev_info *out);

/* tcmu_alua_group.tpgs: the TPGS field of standard INQUIRY data. */
#define TCMU_ALUA_TPGS_IMPLICIT 0x1
#define TCMU_ALUA_TPGS_EXPLICIT 0x2

/** One ALUA target port group of the device (configfs alua/<group>). */
struct tcmu_alua_group {
	char name[64];
	uint16_t id;            /* tg_pt_gp_id */
	uint8_t state;          /* alua_access_state: 0 AO, 1 AN, 2 S, 3 U, 4 LBD, 0xe O, 0xf T */
	uint8_t supported;      /* alua_support_*: RTPG bits T 0x80 O 0x40 LBD 0x10 U 0x08 S 0x04 AN 0x02 AO 0x01 */
	bool preferred;
	uint8_t tpgs;           /* alua_access_type: TCMU_ALUA_TPGS_* */
};
/**
 * tcmu_cfgfs_read_alua — the device's groups (alua/<group>/, e.g.
 * "default_tg_pt_gp") that have a tg_pt_gp_id, sorted by id; at most
 * @max are stored. Any thread; may block briefly. Returns the number
 * stored, or -errno (-ENOENT: no alua directory, -EINVAL: a garbage value).
 */
int tcmu_cfgfs_read_alua(const struct tcmu_device_info *info,
			 struct tcmu_alua_group *groups, size_t max);

#ifdef __cplusplus
}
#endif
#endif
