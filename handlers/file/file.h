/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handlers/file/file.h — internals of the "file" handler, shared by file.c
 * (config, open/close, callbacks, blocking implementations), uring.c (the
 * io_uring engine) and pool.c (the worker-pool engine). Not installed.
 *
 * Engines. A device runs one of two engines, chosen at open():
 *  - uring:   one io_uring per device. The I/O callbacks (ring thread,
 *             ASYNC) prepare SQEs straight from the data-area iovecs;
 *             batch_end() submits them with one system call and reaps
 *             what completed meanwhile; later completions wake the ring
 *             thread, which polls the io_uring fd (tcmu_dev_add_poll_fd()).
 *  - threads: a small per-device worker pool; the callbacks queue the
 *             command and a worker runs the blocking system calls and
 *             completes it with tcmu_cmd_done().
 * The uring engine also owns a small pool for rare slow paths (WRITE SAME
 * with a non-zero pattern, filesystems without FALLOC_FL_ZERO_RANGE or
 * PUNCH_HOLE, write cache disabled).
 */
#ifndef TCMU_HANDLER_FILE_H
#define TCMU_HANDLER_FILE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <tcmu/handler.h>

#ifdef TCMU_FILE_URING
#include <liburing.h>
#endif

/*
 * Default ;async_min: buffered transfers of at least this many bytes are
 * copied by io-wq workers (IOSQE_ASYNC), not on the ring thread.
 */
#define FH_ASYNC_MIN (128u * 1024)

enum fh_engine {
	FH_ENGINE_AUTO = 0, /* io_uring when it works, else threads */
	FH_ENGINE_URING,    /* io_uring or fail */
	FH_ENGINE_THREADS,  /* worker pool */
};

/* Parsed config string: "<abs path>[;option]..." */
struct fh_config {
	char *path;             /* malloc'ed */
	enum fh_engine engine;
	bool direct;            /* ;direct -> O_DIRECT */
	bool full_fsync;        /* ;sync=fsync (default fdatasync) */
	unsigned int threads;   /* ;threads=N, worker pool size */
	int inline_writes;      /* ;inline=on 1, off 0, auto -1 */
	uint64_t async_min;     /* ;async_min=BYTES (0 given: UINT64_MAX) */
	bool mmap_io;           /* ;mmap=auto (default): I/O through a shared
				   mapping on a memory filesystem; off: never */
};

enum fh_op {
	FH_OP_READ = 1,
	FH_OP_WRITE,
	FH_OP_FLUSH,
	FH_OP_UNMAP,
	FH_OP_WRITE_SAME,
};

/*
 * A position inside a command's iovec list, to resume after a short
 * read/write without copying the list: iov[idx] + skip is the next byte,
 * left bytes remain, at file offset off.
 */
struct fh_cursor {
	const struct iovec *iov;
	size_t iovcnt;
	size_t idx;
	size_t skip;
	uint64_t off;
	uint64_t left;
	struct iovec one; /* scratch: a partial iovec for the next transfer */
};

/*
 * Per-command state, in the command's private area (cmd_priv_size): no
 * allocation per command. Zeroed by the runner when the command arrives.
 */
struct fh_cmd {
	struct tcmu_cmd *cmd;
	struct fh_cmd *next;       /* pool queue link */
	enum fh_op op;
	bool dsync;                /* write: RWF_DSYNC */
	int result;                /* first error of a multi-SQE command */
	uint32_t inflight;         /* SQEs outstanding (+1 while queueing) */
	struct fh_cursor cur;      /* read / write */
	/* write_same */
	const struct iovec *pat;
	size_t patcnt;
	bool pat_zero;
	unsigned int ws_flags;
	/* unmap / write_same extent */
	uint64_t off, len;
	/* unmap on the pool: a copy of the ranges (rare path, malloc'ed) */
	struct tcmu_range *ranges;
	size_t nr_ranges;
};

struct fh_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct fh_cmd *head, *tail;
	bool stop;
	unsigned int nr;
	pthread_t *threads;
};

struct fh_dev {
	struct tcmu_device *dev;
	struct fh_config cfg;
	int fd;
	enum fh_engine engine;      /* URING or THREADS once open */
	atomic_bool no_punch;       /* fs refused FALLOC_FL_PUNCH_HOLE */
	atomic_bool no_zero_range;  /* fs refused FALLOC_FL_ZERO_RANGE */
	struct fh_pool pool;
	bool pool_started;
	bool inline_writes;         /* buffered writes on the ring thread */
	char *map;                  /* ;mmap: the file mapped shared, or NULL */
	size_t map_len;
	/*
	 * Reads through the mapping too (not only writes): the file had no
	 * hole when mapped, and no UNMAP / WRITE SAME has punched one since
	 * (a load from a hole of a tmpfs file allocates its page). Ring
	 * thread, or the main thread with the ring idle.
	 */
	bool map_reads;
	/* a thread prefaulting the mapping's page tables (map.c) */
	pthread_t map_warm;
	bool map_warm_running;
	atomic_bool map_warm_stop;
#ifdef TCMU_FILE_URING
	struct io_uring ring;
	bool ring_ready;
	bool fixed_file;            /* fd registered as fixed file 0 */
#endif
};

/* file.c */
int fh_config_parse(const char *cfg, struct fh_config *c, char **reason);
void fh_config_free(struct fh_config *c);
const struct iovec *fh_cursor_window(struct fh_cursor *c, unsigned int *cnt);
void fh_cursor_advance(struct fh_cursor *c, size_t n);
void fh_cursor_zero_rest(struct fh_cursor *c);
int fh_exec_blocking(struct fh_dev *d, struct fh_cmd *fc);
int fh_exec_blocking_rw(struct fh_dev *d, struct fh_cmd *fc);
bool fh_write_dsync(const struct fh_dev *d, unsigned int flags);

/* map.c */
int fh_map_open(struct fh_dev *d, uint64_t size);
void fh_map_close(struct fh_dev *d);
void fh_map_holes_ahead(struct fh_dev *d);
int fh_map_rw(struct fh_dev *d, const struct fh_cursor *c, bool write);

/* pool.c */
int fh_pool_start(struct fh_dev *d, unsigned int nr);
void fh_pool_stop(struct fh_dev *d);
void fh_pool_queue(struct fh_dev *d, struct fh_cmd *fc);

/* uring.c (stubs returning -ENOTSUP without liburing) */
int fh_uring_open(struct fh_dev *d);
void fh_uring_close(struct fh_dev *d);
int fh_uring_start(struct fh_dev *d, struct fh_cmd *fc);
int fh_uring_unmap(struct fh_dev *d, struct fh_cmd *fc,
		   const struct tcmu_range *ranges, size_t nr);
void fh_uring_submit(struct fh_dev *d);
void fh_uring_reap(struct fh_dev *d);

#endif
