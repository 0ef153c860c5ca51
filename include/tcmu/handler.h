/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tcmu/handler.h — the handler plugin ABI.
 *
 * A handler serves the storage behind user-backed LUNs of one subtype
 * ("file", "qcow", "rbd", ...). It is a shared object named handler_<x>.so
 * that defines one static struct tcmu_handler and registers it with
 * TCMU_REGISTER_HANDLER(); that macro defines the only symbol the .so
 * exports (tcmu_handler_entry). See handlers/tutorial/ for a complete
 * example that doubles as documentation.
 *
 * Threads. Every device has one *ring thread* that owns its command ring.
 * The SCSI core runs there and turns SCSI commands into the I/O callbacks
 * below. How those callbacks are called depends on the handler's declared
 * concurrency model, which the daemon enforces:
 *
 *   TCMU_CONCURRENCY_SERIALIZED  one worker thread per device calls the I/O
 *                                callbacks one at a time; they may block.
 *   TCMU_CONCURRENCY_PARALLEL    a pool of nr_threads worker threads per
 *                                device calls them concurrently; they may
 *                                block.
 *   TCMU_CONCURRENCY_ASYNC       the ring thread calls them; they must NOT
 *                                block: start the I/O and complete later
 *                                from any thread.
 *
 * Completion. Every I/O callback returns 0 when it has taken the command:
 * the handler then calls tcmu_cmd_done() exactly once, from any thread, at
 * any time (possibly before the callback returns). A callback that cannot
 * start the command returns a negative errno instead and must not call
 * tcmu_cmd_done(); the daemon completes the command with sense data that
 * matches the errno (see tcmu_cmd_done()).
 *
 * Iovecs passed to the callbacks point straight into the kernel's mmapped
 * data area; they stay valid until tcmu_cmd_done() is called.
 *
 * Compatibility. Fields are only ever appended. The loader copies
 * min(sizeof(struct tcmu_handler), _struct_size) bytes and zeroes the rest,
 * so a plugin built against an older minor version still loads, and a
 * NULL callback means "not implemented".
 */
#ifndef TCMU_HANDLER_H
#define TCMU_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <tcmu/version.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tcmu_device;
struct tcmu_cmd;

/** How the daemon may call a handler's I/O callbacks (see above). */
enum tcmu_concurrency {
	TCMU_CONCURRENCY_SERIALIZED = 0,
	TCMU_CONCURRENCY_PARALLEL = 1,
	TCMU_CONCURRENCY_ASYNC = 2,
};

/** One LBA range, in bytes, as handed to unmap(). */
struct tcmu_range {
	uint64_t offset;
	uint64_t length;
};

/** What changed in a RECONFIG event; fields not set keep their value. */
struct tcmu_reconfig {
	const char *cfgstring; /* new config (after "<subtype>/"), or NULL */
	uint64_t size;         /* new size in bytes, or 0 when unchanged */
	int write_cache;       /* 0 / 1, or -1 when unchanged */
};

/** Flags for read()/write(), and write_same(). */
#define TCMU_IO_FUA 0x1 /* write: data must be stable before completion */

/** Flag for write_same() (besides TCMU_IO_FUA): blocks may be deallocated. */
#define TCMU_WRITE_SAME_UNMAP 0x2

/**
 * struct tcmu_handler — a handler plugin. Register it with
 * TCMU_REGISTER_HANDLER(); do not set _struct_size / _api_version by hand.
 */
struct tcmu_handler {
	uint32_t _struct_size; /* filled by TCMU_REGISTER_HANDLER */
	uint32_t _api_version; /* filled by TCMU_REGISTER_HANDLER */

	/** Required. Subtype: the config prefix and D-Bus object name ([a-z0-9_]+). */
	const char *subtype;
	/** Required. One-line description (logs, --help). */
	const char *name;
	/** Optional. Help for the config string, shown by targetcli. */
	const char *cfg_desc;
	/** Concurrency model of the I/O callbacks (default SERIALIZED). */
	enum tcmu_concurrency concurrency;
	/** PARALLEL only: worker threads per device (0: daemon default). */
	uint32_t nr_threads;
	/** Bytes of per-command private data (tcmu_cmd_priv()); 0 for none. */
	size_t cmd_priv_size;

	/**
	 * init — optional. Called once after the .so is loaded, main thread,
	 * may block briefly. Returns 0, or -errno to refuse loading (the
	 * daemon logs it and serves the other handlers).
	 */
	int (*init)(void);
	/** exit — optional. Called once before unloading, main thread. */
	void (*exit)(void);

	/**
	 * check_config — optional but strongly recommended. Validates a config
	 * string (the part after "<subtype>/") without side effects: no file
	 * is created, no image opened for writing. Main thread, may block
	 * briefly (it answers a D-Bus call). Returns true when the config is
	 * usable; otherwise false and, in *reason, a malloc'ed message for the
	 * user that reveals nothing the caller could not see for himself. The
	 * daemon frees *reason.
	 */
	bool (*check_config)(const char *cfgstring, char **reason);

	/**
	 * open — required. Opens the storage for a new device; the config,
	 * size and block size are available through the tcmu_dev_*()
	 * accessors. Called from the main thread before the ring thread
	 * starts; may block. @reopen is true when the device already existed
	 * before (daemon restart). Returns 0 or -errno (the device add fails
	 * and the kernel is told so).
	 */
	int (*open)(struct tcmu_device *dev, bool reopen);

	/**
	 * close — required. Called after the ring thread has stopped and every
	 * command was completed; main thread; may block. Frees everything
	 * open() allocated.
	 */
	void (*close)(struct tcmu_device *dev);

	/**
	 * reconfig — optional. The kernel changed the config string, size or
	 * write cache setting. Main thread; the ring is paused while it runs;
	 * may block. Returns 0 or -errno (the change is refused). Without
	 * it, size and write-cache changes are accepted and config changes
	 * refused.
	 */
	int (*reconfig)(struct tcmu_device *dev, const struct tcmu_reconfig *rc);

	/**
	 * read — required. Reads @length bytes at byte @offset into @iov.
	 * Thread and blocking per the concurrency model. Returns 0 (taken;
	 * complete with tcmu_cmd_done()) or -errno.
	 */
	int (*read)(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		    const struct iovec *iov, size_t iovcnt, uint64_t offset,
		    size_t length, unsigned int flags);

	/**
	 * write — required unless the handler is read-only. Writes @length
	 * bytes from @iov at byte @offset; with TCMU_IO_FUA the data must be
	 * durable before completion. Same contract as read.
	 */
	int (*write)(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		     const struct iovec *iov, size_t iovcnt, uint64_t offset,
		     size_t length, unsigned int flags);

	/**
	 * flush — optional. Makes every completed write durable
	 * (SYNCHRONIZE CACHE, and FUA emulation when write() ignores the
	 * flag). Same contract as read. Without it the write cache is
	 * reported disabled and FUA is a no-op.
	 */
	int (*flush)(struct tcmu_device *dev, struct tcmu_cmd *cmd);

	/**
	 * unmap — optional. Deallocates @nr ranges (UNMAP, WRITE SAME with
	 * UNMAP). Same contract as read. Without it the LUN does not report
	 * thin provisioning. After unmap, reads return zeroes only if
	 * unmap_zeroes (below) is true.
	 */
	int (*unmap)(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		     const struct tcmu_range *ranges, size_t nr);

	/**
	 * write_same — optional. Writes the one-block pattern in @iov to every
	 * block of [@offset, @offset + @length); TCMU_WRITE_SAME_UNMAP allows
	 * deallocation when the pattern is all zeroes. Same contract as read.
	 * Without it the SCSI core emulates WRITE SAME with write().
	 */
	int (*write_same)(struct tcmu_device *dev, struct tcmu_cmd *cmd,
			  const struct iovec *iov, size_t iovcnt,
			  uint64_t offset, uint64_t length, unsigned int flags);

	/**
	 * compare_and_write — optional. Atomically compares @length bytes at
	 * @offset with @cmp and, when equal, writes @data there. On a
	 * miscompare, call tcmu_cmd_set_miscompare() with the offset of the
	 * first differing byte and complete with -EILSEQ. Same contract as
	 * read. Without it the SCSI core emulates it with read() + write()
	 * under a per-device lock that orders it against every other write.
	 */
	int (*compare_and_write)(struct tcmu_device *dev, struct tcmu_cmd *cmd,
				 const struct iovec *cmp, size_t cmpcnt,
				 const struct iovec *data, size_t datacnt,
				 uint64_t offset, size_t length);

	/**
	 * handle_cmd — optional. Sees every CDB before the SCSI core does.
	 * Ring thread; must not block. Returns TCMU_NOT_HANDLED to let the
	 * SCSI core handle it, or 0 when the handler took the command
	 * (complete it with tcmu_cmd_done() / tcmu_cmd_done_scsi()).
	 */
	int (*handle_cmd)(struct tcmu_device *dev, struct tcmu_cmd *cmd);

	/**
	 * batch_end — optional. Called on the ring thread after each batch of
	 * commands was handed out, e.g. to submit queued io_uring entries
	 * with one system call. Must not block.
	 */
	void (*batch_end)(struct tcmu_device *dev);

	/**
	 * abort — optional. A task management function aborted @cmd (still
	 * owned by the handler). Ring thread; must not block. The handler
	 * should complete it soon (with -ECANCELED if it could stop it). The
	 * daemon never reuses the command before tcmu_cmd_done().
	 */
	void (*abort)(struct tcmu_device *dev, struct tcmu_cmd *cmd);

	/**
	 * get_lba_status — optional. Reports whether the block at @offset is
	 * mapped: sets *@mapped and *@extent_len (bytes with the same state
	 * from @offset). Any thread; may block briefly. Returns 0 or -errno.
	 */
	int (*get_lba_status)(struct tcmu_device *dev, uint64_t offset,
			      bool *mapped, uint64_t *extent_len);

	/** Bytes per UNMAP range the handler accepts at most (0: no limit). */
	uint64_t max_unmap_len;
	/** True when unmapped blocks read back as zeroes (LBPRZ). */
	bool unmap_zeroes;
	/** True when the storage is non-rotational (VPD 0xB1). */
	bool nonrotational;
};

/** handle_cmd() return value: let the SCSI core handle the command. */
#define TCMU_NOT_HANDLED 1

/** Name of the one symbol a handler .so exports. */
#define TCMU_HANDLER_ENTRY_SYMBOL "tcmu_handler_entry"

/** Type of that symbol: returns the handler, with its size and version set. */
typedef struct tcmu_handler *(*tcmu_handler_entry_fn)(void);

#if defined(__GNUC__)
#define TCMU_HANDLER_EXPORT __attribute__((visibility("default")))
#else
#define TCMU_HANDLER_EXPORT
#endif

/**
 * TCMU_REGISTER_HANDLER(h) — register the static struct tcmu_handler @h.
 * Use it once, at file scope, in a handler .so.
 */
#define TCMU_REGISTER_HANDLER(h)                                     \
	TCMU_HANDLER_EXPORT struct tcmu_handler *tcmu_handler_entry(void); \
	TCMU_HANDLER_EXPORT struct tcmu_handler *tcmu_handler_entry(void)  \
	{                                                                \
		(h)._struct_size = sizeof(h);                            \
		(h)._api_version = TCMU_HANDLER_API_VERSION;             \
		return &(h);                                             \
	}

/* ------------------------------------------------------------------ */
/* Completing commands. Any thread, never blocks.                     */
/* ------------------------------------------------------------------ */

/**
 * tcmu_cmd_done — complete a command taken by an I/O callback. Any thread;
 * never blocks. @result is 0 for success or a negative errno, mapped to
 * SCSI status + sense: -EILSEQ miscompare, -ENOSPC space allocation failed,
 * -EROFS write protected, -EAGAIN/-EBUSY/-ETIMEDOUT/-ENOTCONN/-ESHUTDOWN
 * BUSY-like retryable status, -ENOMEM TASK SET FULL, -EINVAL invalid field,
 * -ERANGE LBA out of range, -ECANCELED aborted, anything else MEDIUM ERROR
 * (read) or WRITE ERROR (write). Sense already set with tcmu_cmd_set_sense()
 * wins over the mapping.
 */
void tcmu_cmd_done(struct tcmu_cmd *cmd, int result);

/**
 * tcmu_cmd_set_sense — set explicit CHECK CONDITION sense (key, ASC, ASCQ)
 * to report on completion. Call before tcmu_cmd_done(). Any thread holding
 * the command.
 */
void tcmu_cmd_set_sense(struct tcmu_cmd *cmd, uint8_t key, uint8_t asc,
			uint8_t ascq);

/**
 * tcmu_cmd_set_miscompare — for compare_and_write(): the byte offset (within
 * the compared data) of the first difference. Call before
 * tcmu_cmd_done(cmd, -EILSEQ).
 */
void tcmu_cmd_set_miscompare(struct tcmu_cmd *cmd, uint32_t offset);

/** tcmu_cmd_priv — the handler's per-command private area (cmd_priv_size bytes, zeroed when the command arrives). Any thread holding the command. */
void *tcmu_cmd_priv(struct tcmu_cmd *cmd);

/** tcmu_cmd_get_cdb — the CDB and its length. Any thread holding the command. */
const uint8_t *tcmu_cmd_get_cdb(const struct tcmu_cmd *cmd, size_t *len);

/** tcmu_cmd_get_iov — data iovecs (into the data area) and their count. */
struct iovec *tcmu_cmd_get_iov(struct tcmu_cmd *cmd, size_t *iovcnt);

/** tcmu_cmd_get_device — the device the command belongs to. */
struct tcmu_device *tcmu_cmd_get_device(const struct tcmu_cmd *cmd);

/**
 * tcmu_cmd_done_scsi — for handle_cmd(): complete with an explicit SCSI
 * status (sense set before with tcmu_cmd_set_sense()). Any thread.
 */
void tcmu_cmd_done_scsi(struct tcmu_cmd *cmd, uint8_t scsi_status);

/* ------------------------------------------------------------------ */
/* Device accessors. Any thread; never block.                         */
/* ------------------------------------------------------------------ */

/** Device name as the kernel knows it, e.g. "tcm-user/1/d1" (for logs). */
const char *tcmu_dev_get_name(const struct tcmu_device *dev);
/** Config string after "<subtype>/", e.g. "/var/lib/d1.img". */
const char *tcmu_dev_get_cfgstring(const struct tcmu_device *dev);
/** Device size in bytes. */
uint64_t tcmu_dev_get_size(const struct tcmu_device *dev);
/** Logical block size in bytes (hw_block_size). */
uint32_t tcmu_dev_get_block_size(const struct tcmu_device *dev);
/** Number of logical blocks. */
uint64_t tcmu_dev_get_num_lbas(const struct tcmu_device *dev);
/** Largest transfer in bytes the kernel hands over in one command. */
uint32_t tcmu_dev_get_max_xfer_len(const struct tcmu_device *dev);
/** True when the write cache is enabled (emulate_write_cache). */
bool tcmu_dev_get_write_cache(const struct tcmu_device *dev);
/** Handler-private pointer, NULL until set. */
void *tcmu_dev_get_private(const struct tcmu_device *dev);
/** Sets the handler-private pointer. Call from open(). */
void tcmu_dev_set_private(struct tcmu_device *dev, void *priv);

/**
 * tcmu_dev_set_size — the handler found a different size (e.g. the image was
 * resized). Updates the LUN size in configfs and raises CAPACITY DATA HAS
 * CHANGED. Main thread or a handler thread; may block. Returns 0 or -errno.
 */
int tcmu_dev_set_size(struct tcmu_device *dev, uint64_t size);

/**
 * tcmu_dev_add_poll_fd — have the ring thread wait on @fd as well and call
 * @fn(dev, @arg) on the ring thread when it is readable, e.g. an io_uring
 * eventfd, so completions reach the ring without a thread hop. Call from
 * open(). @fn must not block. Returns 0 or -errno.
 */
int tcmu_dev_add_poll_fd(struct tcmu_device *dev, int fd,
			 void (*fn)(struct tcmu_device *dev, void *arg),
			 void *arg);

/* ------------------------------------------------------------------ */
/* Logging for handlers. Any thread; never blocks.                    */
/* ------------------------------------------------------------------ */

/** Log levels, tcmu-runner's meaning: 0 none .. 5 debug scsi cmd. */
enum tcmu_log_level {
	TCMU_LOG_ERROR = 1,
	TCMU_LOG_WARN = 2,
	TCMU_LOG_INFO = 3,
	TCMU_LOG_DEBUG = 4,
	TCMU_LOG_DEBUG_SCSI_CMD = 5,
};

/** Logs one line; @dev (may be NULL) names the device. printf-style. */
void tcmu_log(enum tcmu_log_level level, const struct tcmu_device *dev,
	      const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#define tcmu_dev_err(dev, ...) \
	tcmu_log(TCMU_LOG_ERROR, dev, __FILE__, __LINE__, __VA_ARGS__)
#define tcmu_dev_warn(dev, ...) \
	tcmu_log(TCMU_LOG_WARN, dev, __FILE__, __LINE__, __VA_ARGS__)
#define tcmu_dev_info(dev, ...) \
	tcmu_log(TCMU_LOG_INFO, dev, __FILE__, __LINE__, __VA_ARGS__)
#define tcmu_dev_dbg(dev, ...) \
	tcmu_log(TCMU_LOG_DEBUG, dev, __FILE__, __LINE__, __VA_ARGS__)
#define tcmu_err(...) tcmu_dev_err(NULL, __VA_ARGS__)
#define tcmu_warn(...) tcmu_dev_warn(NULL, __VA_ARGS__)
#define tcmu_info(...) tcmu_dev_info(NULL, __VA_ARGS__)
#define tcmu_dbg(...) tcmu_dev_dbg(NULL, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
