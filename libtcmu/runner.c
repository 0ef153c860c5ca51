/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/runner.c — the ring thread of a device and the dispatch of
 * handler calls.
 *
 * One ring thread per device owns the ring. Each turn of its loop:
 *   epoll_wait(uio fd, completion eventfd, control eventfd, timer fd,
 *   handler fds) -> (ack events) -> take every new entry (tcmu_ring_next) and hand it to
 *   the handler's handle_cmd() or the SCSI core (scsi_submit)
 *   -> collect finished handler calls (continuations run here)
 *   -> write every answered command into the ring -> ONE notify
 *   -> handler->batch_end().
 * Two refinements: a turn whose inline-completed data reaches
 * EARLY_ANSWER_BYTES answers those commands at once (answer_early) before
 * taking the next, and with busy_poll_us set the thread spins briefly for
 * new work after a busy turn instead of sleeping in epoll_wait.
 *
 * Handler calls (runner_call) follow the handler's concurrency model:
 * ASYNC on the ring thread, SERIALIZED on one worker, PARALLEL on
 * nr_threads workers. tcmu_cmd_done() from the ring thread appends to a
 * local list; from any other thread it pushes onto a lock-free MPSC stack
 * and writes the completion eventfd only when the stack goes from empty to
 * non-empty. No allocation and, on the ASYNC path, no system call per
 * command.
 *
 * A command the handler holds longer than the command timeout is logged
 * once, counted and handed to handler->abort(); it is never completed to
 * the kernel while the handler may still touch its iovecs, because the
 * kernel frees and reuses the data blocks of completed commands (the
 * kernel's own cmd_time_out answers the initiator meanwhile).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "spine.h"

#define DEFAULT_PARALLEL_THREADS 4
#define MAX_COLLECT_ROUNDS 64
/*
 * Data of commands completed inline after which a turn answers them before
 * taking the next command (answer_early). 512 KiB: a QD32 batch of 4 KiB
 * or 16 KiB commands stays one notify; 64 KiB writes copied inline on tmpfs
 * are answered every 8 commands, which took sequential 64k QD32 writes in
 * the test VM from 3,676 to 5,729 and from 3,544 to 4,798 IOPS (two runs;
 * 128 KiB: 4,427; 1 MiB: 4,378).
 */
#define EARLY_ANSWER_BYTES (512u * 1024u)

struct poll_ent {
	int fd;
	void (*fn)(struct tcmu_device *dev, void *arg);
	void *arg;
};

struct runner {
	struct tcmu_device *dev;
	const struct tcmu_handler *h;

	int wake_fd;  /* eventfd: completion stack became non-empty */
	int ctl_fd;   /* eventfd: control request pending */
	int timer_fd; /* timeout scan tick */

	/* MPSC stack of completed commands (linked through cmd->next). */
	_Atomic(struct tcmu_cmd *) done;

	/* Ring thread only. */
	struct tcmu_cmd *local_head, *local_tail; /* completed on the ring thread */
	struct tcmu_cmd *fin_head, *fin_tail;     /* answered, to write back */
	bool stopping;
	uint64_t stop_deadline_ns;
	bool logged_ring_error, logged_event_error;
	unsigned int calls_this_turn; /* ASYNC handler calls since batch_end */
	uint64_t timer_period_ns;
	bool took_cmds;    /* the last turn took commands off the ring */
	uint64_t local_bytes; /* data of commands completed inline this turn */
	_Atomic uint64_t early_bytes;   /* answer mid-turn once local_bytes reach this */
	_Atomic uint64_t early_answers; /* mid-turn answers made */
	_Atomic uint64_t busy_poll_hits; /* busy polls that found work */

	struct poll_ent *pfds;
	size_t npfds, pfd_cap;

	/* Control (lock). */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool thread_started, running;
	bool stop_req, pause_req, paused, exited;
	unsigned int stop_timeout_ms;
	uint32_t abandoned;
	_Atomic bool timeout_changed;

	/* Workers (SERIALIZED / PARALLEL). */
	pthread_t *workers;
	unsigned int nr_workers;
	pthread_mutex_t wq_lock;
	pthread_cond_t wq_cond;
	struct tcmu_cmd *wq_head, *wq_tail; /* linked through work_next */
	bool wq_stop;
};

/*
 * The runner whose ring thread this is (NULL elsewhere). Initial-exec: a
 * plain %fs-relative load in tcmu_cmd_done() instead of a __tls_get_addr()
 * call per command (libtcmu is linked, not dlopen()ed, by its users).
 */
static __thread struct runner *tls_ring_runner
	__attribute__((tls_model("initial-exec")));

/*
 * Counters that only the ring thread writes: relaxed load + store, no
 * locked read-modify-write per command.
 */
static inline void stat_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* ---- handler invocation ------------------------------------------------ */

/* inlined: one call per command on the ring thread's hot path */
static inline __attribute__((always_inline)) int
invoke(const struct tcmu_handler *h, struct tcmu_device *dev, struct tcmu_cmd *cmd)
{
	const struct tcmu_io *io = &cmd->io;

	switch (io->op) {
	case TCMU_IO_READ:
		if (!h->read)
			break;
		return h->read(dev, cmd, io->iov, io->iovcnt, io->offset,
			       io->length, io->flags);
	case TCMU_IO_WRITE:
		if (!h->write)
			break;
		return h->write(dev, cmd, io->iov, io->iovcnt, io->offset,
				io->length, io->flags);
	case TCMU_IO_FLUSH:
		if (!h->flush)
			break;
		return h->flush(dev, cmd);
	case TCMU_IO_UNMAP:
		if (!h->unmap)
			break;
		return h->unmap(dev, cmd, io->ranges, io->nr_ranges);
	case TCMU_IO_WRITE_SAME:
		if (!h->write_same)
			break;
		return h->write_same(dev, cmd, io->iov, io->iovcnt, io->offset,
				     io->length, io->flags);
	case TCMU_IO_COMPARE_AND_WRITE:
		if (!h->compare_and_write)
			break;
		return h->compare_and_write(dev, cmd, io->cmp_iov, io->cmp_iovcnt,
					    io->iov, io->iovcnt, io->offset,
					    io->length);
	}
	return -EOPNOTSUPP;
}

/* Deliver a handler result: continuation, or map to sense and finish. */
static void deliver(struct tcmu_cmd *cmd, int result)
{
	tcmu_cmd_cont_fn cont = cmd->cont;

	cmd->in_handler = false;
	cmd->cont = NULL;
	if (cont) {
		cont(cmd, result);
	} else {
		scsi_result_to_sense(cmd, result);
		runner_finish(cmd);
	}
}

/* ---- completion queues ------------------------------------------------- */

static void local_push(struct runner *r, struct tcmu_cmd *cmd)
{
	cmd->work_next = NULL;
	if (r->local_tail)
		r->local_tail->work_next = cmd;
	else
		r->local_head = cmd;
	r->local_tail = cmd;
}

/* out of line: tcmu_cmd_done() on the ring thread needs no frame for it */
static __attribute__((noinline)) void mpsc_push(struct runner *r, struct tcmu_cmd *cmd)
{
	struct tcmu_cmd *old = atomic_load_explicit(&r->done, memory_order_relaxed);

	do {
		atomic_store_explicit(&cmd->next, old, memory_order_relaxed);
	} while (!atomic_compare_exchange_weak_explicit(&r->done, &old, cmd,
							memory_order_release,
							memory_order_relaxed));
	if (!old) {
		uint64_t one = 1;
		ssize_t n;

		do {
			n = write(r->wake_fd, &one, sizeof(one));
		} while (n < 0 && errno == EINTR);
	}
}

void tcmu_cmd_done(struct tcmu_cmd *cmd, int result)
{
	struct tcmu_device *dev = cmd->dev;
	struct runner *r = dev->runner;

	cmd->result = result;
	if (!r) { /* synchronous test mode */
		deliver(cmd, result);
		return;
	}
	if (tls_ring_runner == r) {
		if (cmd->in_handler &&
		    (cmd->io.op == TCMU_IO_READ || cmd->io.op == TCMU_IO_WRITE))
			r->local_bytes += cmd->io.length;
		local_push(r, cmd);
	} else
		mpsc_push(r, cmd);
}

/* Continuation for tcmu_cmd_done_scsi(): status and sense are final. */
static void cont_status_final(struct tcmu_cmd *cmd, int result)
{
	runner_finish(cmd);
}

void tcmu_cmd_done_scsi(struct tcmu_cmd *cmd, uint8_t scsi_status)
{
	cmd->status = scsi_status;
	if (scsi_status != SAM_STAT_CHECK_CONDITION_)
		cmd->sense_len = 0;
	cmd->cont = cont_status_final;
	tcmu_cmd_done(cmd, 0);
}

/* ---- SCSI core interface ------------------------------------------------ */

void runner_finish(struct tcmu_cmd *cmd)
{
	struct tcmu_device *dev = cmd->dev;
	struct runner *r = dev->runner;

	if (!r) {
		if (dev->finish_hook)
			dev->finish_hook(cmd);
		return;
	}
	cmd->work_next = NULL;
	if (r->fin_tail)
		r->fin_tail->work_next = cmd;
	else
		r->fin_head = cmd;
	r->fin_tail = cmd;
}

static void wq_push(struct runner *r, struct tcmu_cmd *cmd)
{
	pthread_mutex_lock(&r->wq_lock);
	cmd->work_next = NULL;
	if (r->wq_tail)
		r->wq_tail->work_next = cmd;
	else
		r->wq_head = cmd;
	r->wq_tail = cmd;
	pthread_cond_signal(&r->wq_cond);
	pthread_mutex_unlock(&r->wq_lock);
}

void runner_call(struct tcmu_cmd *cmd, tcmu_cmd_cont_fn cont)
{
	struct tcmu_device *dev = cmd->dev;
	struct runner *r = dev->runner;
	int ret;

	cmd->cont = cont;
	cmd->in_handler = true;
	if (!r) { /* synchronous test mode: every call is a batch of one */
		ret = invoke(dev->handler, dev, cmd);
		if (ret < 0)
			deliver(cmd, ret);
		else if (dev->handler->batch_end)
			dev->handler->batch_end(dev);
		return;
	}
	if (r->h->concurrency == TCMU_CONCURRENCY_ASYNC) {
		r->calls_this_turn++;
		ret = invoke(r->h, dev, cmd);
		if (ret < 0) {
			cmd->result = ret;
			local_push(r, cmd);
		}
		return;
	}
	wq_push(r, cmd);
}

/* ---- workers ------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct runner *r = arg;
	struct tcmu_cmd *cmd;
	int ret;

	for (;;) {
		pthread_mutex_lock(&r->wq_lock);
		while (!r->wq_head && !r->wq_stop)
			pthread_cond_wait(&r->wq_cond, &r->wq_lock);
		if (r->wq_stop) {
			pthread_mutex_unlock(&r->wq_lock);
			break;
		}
		cmd = r->wq_head;
		r->wq_head = cmd->work_next;
		if (!r->wq_head)
			r->wq_tail = NULL;
		pthread_mutex_unlock(&r->wq_lock);

		ret = invoke(r->h, r->dev, cmd);
		if (ret < 0)
			tcmu_cmd_done(cmd, ret);
	}
	return NULL;
}

/* ---- ring thread ---------------------------------------------------------- */

static void dispatch(struct runner *r, struct tcmu_cmd *cmd)
{
	int ret;

	if (r->h->handle_cmd) {
		cmd->in_handler = true;
		ret = r->h->handle_cmd(r->dev, cmd);
		if (ret == 0)
			return; /* taken: tcmu_cmd_done() follows */
		cmd->in_handler = false;
		if (ret != TCMU_NOT_HANDLED) {
			cmd->result = ret;
			cmd->cont = NULL;
			local_push(r, cmd);
			return;
		}
	}
	scsi_submit(cmd);
}

static void count_bytes(struct runner *r, struct tcmu_cmd *cmd)
{
	struct tcmu_device *dev = r->dev;

	if (cmd->result || !cmd->in_handler)
		return;
	if (cmd->io.op == TCMU_IO_READ)
		stat_add(&dev->stat_read_bytes, cmd->io.length);
	else if (cmd->io.op == TCMU_IO_WRITE)
		stat_add(&dev->stat_write_bytes, cmd->io.length);
}

/* Run continuations of every finished handler call. */
static void collect(struct runner *r)
{
	int round;

	for (round = 0; round < MAX_COLLECT_ROUNDS; round++) {
		struct tcmu_cmd *list, *rev = NULL, *next, *cmd;

		/* Commands completed on the ring thread, in order. */
		list = r->local_head;
		r->local_head = r->local_tail = NULL;
		for (cmd = list; cmd; cmd = next) {
			next = cmd->work_next;
			count_bytes(r, cmd);
			deliver(cmd, cmd->result);
		}
		/* Commands from other threads: reverse the stack to FIFO. */
		list = atomic_exchange_explicit(&r->done, NULL,
						memory_order_acquire);
		while (list) {
			next = atomic_load_explicit(&list->next, memory_order_relaxed);
			atomic_store_explicit(&list->next, rev, memory_order_relaxed);
			rev = list;
			list = next;
		}
		for (cmd = rev; cmd; cmd = next) {
			next = atomic_load_explicit(&cmd->next, memory_order_relaxed);
			count_bytes(r, cmd);
			deliver(cmd, cmd->result);
		}
		if (!rev && !r->local_head)
			return;
	}
	/* More keeps coming: let poll() run; the eventfd is still armed. */
	if (r->local_head) {
		uint64_t one = 1;

		if (write(r->wake_fd, &one, sizeof(one)) < 0)
			tcmu_dev_dbg(r->dev, "wake write: %s", strerror(errno));
	}
}

static unsigned int write_back(struct runner *r)
{
	struct tcmu_cmd *cmd, *next;
	unsigned int n = 0;

	cmd = r->fin_head;
	r->fin_head = r->fin_tail = NULL;
	for (; cmd; cmd = next) {
		next = cmd->work_next;
		tcmu_ring_complete(r->dev, cmd);
		n++;
	}
	return n;
}

static void check_timeout(struct tcmu_cmd *cmd, void *arg)
{
	struct runner *r = arg;
	uint64_t to = ring_cmd_timeout_ms(r->dev) * 1000000ull;
	uint64_t now = spine_now_ns();

	if (!to || !cmd->in_handler || cmd->timed_out || now - cmd->start_ns < to)
		return;
	cmd->timed_out = true;
	stat_add(&r->dev->stat_timeouts, 1);
	tcmu_dev_warn(r->dev, "command %u (opcode 0x%02x) held by the handler for more than %" PRIu64 " ms; aborting it",
		      cmd->cmd_id, cmd->cdb[0], to / 1000000);
	if (r->h->abort)
		r->h->abort(r->dev, cmd);
}

static void arm_timer(struct runner *r)
{
	uint64_t to = ring_cmd_timeout_ms(r->dev) * 1000000ull;
	struct itimerspec its;
	uint64_t period = 0;

	if (to) {
		period = to / 4;
		if (period < 10000000ull)
			period = 10000000ull; /* 10 ms */
		if (period > 1000000000ull)
			period = 1000000000ull; /* 1 s */
	}
	if (period == r->timer_period_ns)
		return;
	r->timer_period_ns = period;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(period / 1000000000ull);
	its.it_value.tv_nsec = (long)(period % 1000000000ull);
	its.it_interval = its.it_value;
	timerfd_settime(r->timer_fd, 0, &its, NULL);
}

static const char *tmr_name(uint8_t type)
{
	switch (type) {
	case TCMU_TMR_ABORT_TASK:
		return "ABORT TASK";
	case TCMU_TMR_ABORT_TASK_SET:
		return "ABORT TASK SET";
	case TCMU_TMR_CLEAR_ACA:
		return "CLEAR ACA";
	case TCMU_TMR_CLEAR_TASK_SET:
		return "CLEAR TASK SET";
	case TCMU_TMR_LUN_RESET:
		return "LUN RESET";
	case TCMU_TMR_TARGET_WARM_RESET:
		return "TARGET WARM RESET";
	case TCMU_TMR_TARGET_COLD_RESET:
		return "TARGET COLD RESET";
	case TCMU_TMR_LUN_RESET_PRO:
		return "LUN RESET (PR)";
	default:
		return "unknown TMR";
	}
}

/* TMR callback (ring thread): mark the listed commands aborted. */
static void runner_tmr(struct tcmu_device *dev, uint8_t type,
		       const uint16_t *ids, uint32_t nr_ids, void *arg)
{
	struct runner *r = arg;
	uint32_t i, hit = 0;

	for (i = 0; i < nr_ids; i++) {
		uint16_t id;
		struct tcmu_cmd *cmd;

		memcpy(&id, &ids[i], sizeof(id));
		cmd = ring_cmd_by_id(dev, id);
		if (!cmd || cmd->aborted)
			continue;
		cmd->aborted = true;
		hit++;
		stat_add(&dev->stat_aborts, 1);
		if (cmd->in_handler && r->h->abort)
			r->h->abort(dev, cmd);
	}
	tcmu_dev_info(dev, "%s: %u command(s) listed, %u still held", tmr_name(type),
		      nr_ids, hit);
}

static void handle_ctl(struct runner *r)
{
	uint64_t v;

	if (read(r->ctl_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		tcmu_dev_dbg(r->dev, "ctl read: %s", strerror(errno));
	pthread_mutex_lock(&r->lock);
	if (r->stop_req && !r->stopping) {
		r->stopping = true;
		r->stop_deadline_ns = spine_now_ns() +
				      (uint64_t)r->stop_timeout_ms * 1000000ull;
	}
	if (r->pause_req) {
		r->paused = true;
		pthread_cond_broadcast(&r->cond);
		while (r->pause_req)
			pthread_cond_wait(&r->cond, &r->lock);
		r->paused = false;
	}
	pthread_mutex_unlock(&r->lock);
	if (atomic_exchange(&r->timeout_changed, false))
		arm_timer(r);
}

/*
 * end_batch — ring thread: if handler calls were made since the last call,
 * give the handler its batch_end() (e.g. one io_uring_submit for all).
 */
static void end_batch(struct runner *r)
{
	if (!r->calls_this_turn)
		return;
	r->calls_this_turn = 0;
	if (r->h->batch_end)
		r->h->batch_end(r->dev);
}

/*
 * ack_events — consume the device's pending events with ONE 4-byte read:
 * UIO hands every event since the previous read over in one read, so the
 * EAGAIN read of tcmu_ring_ack_events() is a wasted system call per wake-up.
 * Another event left unread (an fd that queues them) keeps the fd readable
 * and is taken on the next turn. Ring thread. 1, 0 (none) or -errno.
 */
static int ack_events(struct tcmu_device *dev)
{
	uint32_t v;
	ssize_t n;

	do {
		n = read(dev->event_fd, &v, sizeof(v));
	} while (n < 0 && errno == EINTR);
	if (n > 0)
		return 1;
	if (n == 0)
		return -EPIPE; /* the other side is gone */
	return errno == EAGAIN ? 0 : -errno;
}

/* epoll tags of the ring thread's fds; handler fds follow EV_HANDLER. */
enum { EV_DEV, EV_WAKE, EV_CTL, EV_TIMER, EV_HANDLER };

static int ep_add(int epfd, int fd, uint32_t tag, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* Tell the CPU we are spinning (saves power, yields to the SMT sibling). */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

/*
 * answer — writes every answered command into the ring and notifies the
 * kernel once (nothing when none was answered). Ring thread.
 */
static void answer(struct runner *r)
{
	int ret;

	write_back(r);
	r->local_bytes = 0;
	ret = tcmu_ring_notify(r->dev);
	if (ret < 0)
		tcmu_dev_err(r->dev, "notify: %s", strerror(-ret));
}

/*
 * answer_early — in the middle of a long turn, answers the commands the
 * handler completed inline so far (one notify), so the kernel can complete
 * them and the initiator send more while the ring thread goes on with the
 * rest: without it, a turn that copies many large transfers inline holds
 * every answer until its end, and the initiator's side and the daemon's
 * side take turns instead of overlapping. Ring thread.
 */
static void answer_early(struct runner *r)
{
	stat_add(&r->early_answers, 1);
	collect(r);
	answer(r);
}

/*
 * spin_for_work — busy-waits up to @ns for new ring entries or completions
 * from other threads, so that a steady stream of commands is taken
 * without a sleep and a wake-up each. It only looks: the events of the fds
 * stay pending, so the epoll_wait() that follows reports them and nothing
 * is consumed here. Control requests (stop, pause) wait for the spin to
 * end (at most TCMU_BUSY_POLL_MAX_US). Ring thread. True when work came.
 */
static bool spin_for_work(struct runner *r, uint64_t ns)
{
	uint64_t end = spine_now_ns() + ns;
	unsigned int i;

	do {
		for (i = 0; i < 64; i++) {
			if (ring_has_new(r->dev) ||
			    atomic_load_explicit(&r->done, memory_order_relaxed))
				return true;
			cpu_relax();
		}
	} while (spine_now_ns() < end);
	return false;
}

/*
 * The ring thread waits in epoll. A real UIO device is watched
 * edge-triggered and never read: every uio_event_notify() of the kernel
 * wakes the waiter and makes the fd report ready again (its poll stays
 * "ready" until a read, which we skip), so no event is lost and each
 * wake-up saves the read() system call. Other fds with UIO semantics (the
 * ring simulator, custom transports) may queue events that must be
 * consumed: level-triggered, and read once per wake-up.
 */
static void *ring_thread_main(void *arg)
{
	struct runner *r = arg;
	struct tcmu_device *dev = r->dev;
	size_t i, nev = EV_HANDLER + r->npfds;
	struct epoll_event *evs = NULL;
	bool *hready = NULL;
	bool dev_et = dev->info.uio[0] != '\0';
	int epfd, ret;

	tls_ring_runner = r;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	evs = calloc(nev, sizeof(*evs));
	hready = calloc(r->npfds + 1, sizeof(*hready));
	if (epfd < 0 || !evs || !hready) {
		tcmu_dev_err(dev, "ring thread: cannot set up epoll: %s",
			     epfd < 0 ? strerror(errno) : "out of memory");
		goto out;
	}
	ret = ep_add(epfd, dev->event_fd, EV_DEV, EPOLLIN | (dev_et ? EPOLLET : 0));
	if (!ret)
		ret = ep_add(epfd, r->wake_fd, EV_WAKE, EPOLLIN);
	if (!ret)
		ret = ep_add(epfd, r->ctl_fd, EV_CTL, EPOLLIN);
	if (!ret)
		ret = ep_add(epfd, r->timer_fd, EV_TIMER, EPOLLIN);
	for (i = 0; !ret && i < r->npfds; i++)
		ret = ep_add(epfd, r->pfds[i].fd, EV_HANDLER + (uint32_t)i, EPOLLIN);
	if (ret) {
		tcmu_dev_err(dev, "ring thread: epoll_ctl: %s", strerror(-ret));
		goto out;
	}
	arm_timer(r);

	for (;;) {
		int timeout = -1, n, k;
		bool dev_ev = false, wake_ev = false, ctl_ev = false, timer_ev = false;
		struct tcmu_cmd *cmd;

		if (r->stopping) {
			uint64_t now = spine_now_ns();

			if (!ring_cmds_in_use(dev))
				break;
			if (now >= r->stop_deadline_ns) {
				r->abandoned = ring_cmds_in_use(dev);
				break;
			}
			timeout = (int)((r->stop_deadline_ns - now) / 1000000ull) + 1;
		}
		/* Completions made on this thread (e.g. in batch_end) wait here. */
		if (r->local_head)
			timeout = 0;
		/*
		 * Busy poll (tcmu_device_set_busy_poll): only after a turn that
		 * took commands, so an idle device never spins; the value is
		 * read afresh each turn.
		 */
		if (timeout < 0 && r->took_cmds) {
			unsigned int us = ring_busy_poll_us(dev);

			if (us && spin_for_work(r, (uint64_t)us * 1000ull)) {
				stat_add(&r->busy_poll_hits, 1);
				timeout = 0;
			}
		}
		n = epoll_wait(epfd, evs, (int)nev, timeout);
		if (n < 0 && errno != EINTR) {
			tcmu_dev_err(dev, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (k = 0; k < n; k++) {
			uint32_t tag = evs[k].data.u32;

			if (tag == EV_DEV)
				dev_ev = true;
			else if (tag == EV_WAKE)
				wake_ev = true;
			else if (tag == EV_CTL)
				ctl_ev = true;
			else if (tag == EV_TIMER)
				timer_ev = true;
			else if (tag - EV_HANDLER < r->npfds)
				hready[tag - EV_HANDLER] = true;
		}
		if (ctl_ev)
			handle_ctl(r);
		if (timer_ev) {
			uint64_t ticks;

			if (read(r->timer_fd, &ticks, sizeof(ticks)) > 0)
				ring_for_each_in_use(dev, check_timeout, r);
		}
		for (i = 0; i < r->npfds; i++) {
			if (!hready[i])
				continue;
			hready[i] = false;
			r->pfds[i].fn(dev, r->pfds[i].arg);
		}
		if (dev_ev && !dev_et) {
			ret = ack_events(dev);
			if (ret < 0) {
				if (!r->logged_event_error)
					tcmu_dev_err(dev, "device events: %s; no longer polling it",
						     strerror(-ret));
				r->logged_event_error = true;
				epoll_ctl(epfd, EPOLL_CTL_DEL, dev->event_fd, NULL);
			}
		}
		if (wake_ev) {
			uint64_t v;

			if (read(r->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				tcmu_dev_dbg(dev, "wake read: %s", strerror(errno));
		}

		r->took_cmds = false;
		if (!r->stopping) {
			while ((cmd = tcmu_ring_next(dev))) {
				r->took_cmds = true;
				dispatch(r, cmd);
				if (r->local_bytes >= atomic_load_explicit(&r->early_bytes,
									   memory_order_relaxed))
					answer_early(r);
			}
			if (ring_error(dev) && !r->logged_ring_error) {
				r->logged_ring_error = true;
				tcmu_dev_err(dev, "ring is broken; serving only commands already taken");
			}
		}
		/* Submit what the new commands queued before anything else. */
		end_batch(r);
		collect(r);
		/* Continuations run by collect() may have made handler calls. */
		end_batch(r);
		answer(r);
	}
out:
	if (epfd >= 0)
		close(epfd);
	free(evs);
	free(hready);
	pthread_mutex_lock(&r->lock);
	r->exited = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	tls_ring_runner = NULL;
	return NULL;
}

/* ---- lifecycle ------------------------------------------------------------ */

static void ctl_kick(struct runner *r)
{
	uint64_t one = 1;

	if (write(r->ctl_fd, &one, sizeof(one)) < 0)
		tcmu_dev_dbg(r->dev, "ctl write: %s", strerror(errno));
}

static void stop_workers(struct runner *r)
{
	unsigned int i;

	pthread_mutex_lock(&r->wq_lock);
	r->wq_stop = true;
	pthread_cond_broadcast(&r->wq_cond);
	pthread_mutex_unlock(&r->wq_lock);
	for (i = 0; i < r->nr_workers; i++)
		pthread_join(r->workers[i], NULL);
	free(r->workers);
	r->workers = NULL;
	r->nr_workers = 0;
}

static struct runner *runner_alloc(struct tcmu_device *dev)
{
	struct runner *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->dev = dev;
	atomic_init(&r->early_bytes, EARLY_ANSWER_BYTES);
	r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->ctl_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (r->wake_fd < 0 || r->ctl_fd < 0 || r->timer_fd < 0) {
		if (r->wake_fd >= 0)
			close(r->wake_fd);
		if (r->ctl_fd >= 0)
			close(r->ctl_fd);
		if (r->timer_fd >= 0)
			close(r->timer_fd);
		free(r);
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	pthread_mutex_init(&r->wq_lock, NULL);
	pthread_cond_init(&r->wq_cond, NULL);
	return r;
}

static void runner_release(struct runner *r)
{
	close(r->wake_fd);
	close(r->ctl_fd);
	close(r->timer_fd);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->wq_lock);
	pthread_cond_destroy(&r->wq_cond);
	free(r->pfds);
	free(r);
}

int tcmu_device_start(struct tcmu_device *dev, const struct tcmu_handler *handler,
		      bool reopen)
{
	struct runner *r;
	unsigned int i, nw = 0;
	int ret;

	if (!dev || !handler || !handler->open || !handler->close)
		return -EINVAL;
	if (handler->concurrency != TCMU_CONCURRENCY_SERIALIZED &&
	    handler->concurrency != TCMU_CONCURRENCY_PARALLEL &&
	    handler->concurrency != TCMU_CONCURRENCY_ASYNC) {
		tcmu_dev_err(dev, "handler %s: unknown concurrency model %d",
			     handler->subtype, (int)handler->concurrency);
		return -EINVAL;
	}
	if (dev->runner && dev->runner->running)
		return -EBUSY;
	if (dev->runner) { /* stopped before: start afresh */
		runner_destroy(dev);
	}
	r = runner_alloc(dev);
	if (!r)
		return -ENOMEM;
	r->h = handler;
	ret = ring_set_hpriv_size(dev, handler->cmd_priv_size);
	if (ret < 0)
		goto err_free;
	dev->handler = handler;
	dev->runner = r; /* tcmu_dev_add_poll_fd() from open() needs it */

	ret = scsi_dev_init(dev);
	if (ret < 0) {
		tcmu_dev_err(dev, "SCSI core init failed: %s", strerror(-ret));
		goto err_detach;
	}
	ret = handler->open(dev, reopen);
	if (ret < 0) {
		tcmu_dev_err(dev, "handler %s: open failed: %s", handler->subtype,
			     strerror(-ret));
		goto err_scsi;
	}

	if (handler->concurrency == TCMU_CONCURRENCY_SERIALIZED)
		nw = 1;
	else if (handler->concurrency == TCMU_CONCURRENCY_PARALLEL)
		nw = handler->nr_threads ? handler->nr_threads :
					   DEFAULT_PARALLEL_THREADS;
	if (nw) {
		r->workers = calloc(nw, sizeof(*r->workers));
		if (!r->workers) {
			ret = -ENOMEM;
			goto err_close;
		}
		for (i = 0; i < nw; i++) {
			ret = -pthread_create(&r->workers[i], NULL, worker_main, r);
			if (ret)
				break;
			r->nr_workers++;
		}
		if (ret)
			goto err_workers;
	}
	tcmu_ring_set_tmr_fn(dev, runner_tmr, r);
	r->running = true;
	ret = -pthread_create(&r->thread, NULL, ring_thread_main, r);
	if (ret) {
		r->running = false;
		tcmu_ring_set_tmr_fn(dev, NULL, NULL);
		goto err_workers;
	}
	r->thread_started = true;
	pthread_setname_np(r->thread, "tcmu-ring");
	for (i = 0; i < r->nr_workers; i++)
		pthread_setname_np(r->workers[i], "tcmu-worker");
	return 0;

err_workers:
	stop_workers(r);
err_close:
	handler->close(dev);
err_scsi:
	scsi_dev_free(dev);
err_detach:
	dev->runner = NULL;
	dev->handler = NULL;
err_free:
	runner_release(r);
	return ret;
}

int tcmu_device_stop(struct tcmu_device *dev, unsigned int timeout_ms)
{
	struct runner *r = dev->runner;
	uint32_t abandoned;

	if (!r || !r->running)
		return 0;
	pthread_mutex_lock(&r->lock);
	r->stop_req = true;
	r->stop_timeout_ms = timeout_ms;
	pthread_mutex_unlock(&r->lock);
	ctl_kick(r);
	pthread_join(r->thread, NULL);
	r->thread_started = false;
	stop_workers(r);
	abandoned = r->abandoned;
	if (abandoned)
		tcmu_dev_warn(dev, "stopped with %u command(s) still held by the handler; they are abandoned (the ring must be reset)",
			      abandoned);
	r->h->close(dev);
	scsi_dev_free(dev);
	r->running = false;
	tcmu_ring_set_tmr_fn(dev, NULL, NULL);
	return abandoned ? -ETIMEDOUT : 0;
}

bool runner_is_running(const struct tcmu_device *dev)
{
	return dev->runner && dev->runner->running;
}

void runner_destroy(struct tcmu_device *dev)
{
	struct runner *r = dev->runner;

	if (!r)
		return;
	dev->runner = NULL;
	dev->handler = NULL;
	runner_release(r);
}

int tcmu_dev_add_poll_fd(struct tcmu_device *dev, int fd,
			 void (*fn)(struct tcmu_device *dev, void *arg),
			 void *arg)
{
	struct runner *r = dev->runner;
	struct poll_ent *p;

	if (!r || fd < 0 || !fn)
		return -EINVAL;
	if (r->thread_started)
		return -EBUSY; /* only from open() */
	if (r->npfds == r->pfd_cap) {
		size_t cap = r->pfd_cap ? r->pfd_cap * 2 : 4;

		p = realloc(r->pfds, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		r->pfds = p;
		r->pfd_cap = cap;
	}
	r->pfds[r->npfds].fd = fd;
	r->pfds[r->npfds].fn = fn;
	r->pfds[r->npfds].arg = arg;
	r->npfds++;
	return 0;
}

void runner_set_cmd_timeout_ms(struct tcmu_device *dev, uint64_t ms)
{
	struct runner *r = dev->runner;

	ring_set_cmd_timeout_ms(dev, ms);
	if (r && r->running) {
		atomic_store(&r->timeout_changed, true);
		ctl_kick(r);
	}
}

void tcmu_device_set_cmd_timeout(struct tcmu_device *dev, unsigned int seconds)
{
	runner_set_cmd_timeout_ms(dev, (uint64_t)seconds * 1000ull);
}

int tcmu_device_set_busy_poll(struct tcmu_device *dev, unsigned int usec)
{
	if (!dev || usec > TCMU_BUSY_POLL_MAX_US)
		return -EINVAL;
	/* The ring thread loads it before each wait: no kick needed. */
	ring_set_busy_poll_us(dev, usec);
	return 0;
}

unsigned int tcmu_device_get_busy_poll(const struct tcmu_device *dev)
{
	return ring_busy_poll_us(dev);
}

void runner_set_early_answer_bytes(struct tcmu_device *dev, uint64_t bytes)
{
	struct runner *r = dev->runner;

	if (r)
		atomic_store_explicit(&r->early_bytes, bytes, memory_order_relaxed);
}

uint64_t runner_early_answers(const struct tcmu_device *dev)
{
	const struct runner *r = dev->runner;

	return r ? atomic_load_explicit(&r->early_answers, memory_order_relaxed) : 0;
}

uint64_t runner_busy_poll_hits(const struct tcmu_device *dev)
{
	const struct runner *r = dev->runner;

	return r ? atomic_load_explicit(&r->busy_poll_hits, memory_order_relaxed) : 0;
}

int tcmu_device_reconfig(struct tcmu_device *dev, const struct tcmu_reconfig *rc)
{
	struct runner *r = dev->runner;
	const struct tcmu_handler *h = dev->handler;
	bool paused = false;
	int ret = 0;

	if (!rc)
		return -EINVAL;
	if (rc->cfgstring && strlen(rc->cfgstring) >= sizeof(dev->info.cfgstring))
		return -ENAMETOOLONG;
	if (r && r->running) {
		pthread_mutex_lock(&r->lock);
		r->pause_req = true;
		pthread_mutex_unlock(&r->lock);
		ctl_kick(r);
		pthread_mutex_lock(&r->lock);
		while (!r->paused && !r->exited)
			pthread_cond_wait(&r->cond, &r->lock);
		paused = r->paused;
		pthread_mutex_unlock(&r->lock);
	}

	if (h && h->reconfig)
		ret = h->reconfig(dev, rc);
	else if (rc->cfgstring && strcmp(rc->cfgstring, dev->info.cfgstring))
		ret = -EOPNOTSUPP; /* config changes need the handler */
	if (ret == 0) {
		if (rc->cfgstring)
			snprintf(dev->info.cfgstring, sizeof(dev->info.cfgstring),
				 "%s", rc->cfgstring);
		if (rc->write_cache >= 0)
			__atomic_store_n(&dev->info.write_cache, rc->write_cache != 0,
					 __ATOMIC_RELAXED);
		if (rc->size && rc->size != tcmu_dev_get_size(dev)) {
			__atomic_store_n(&dev->info.size, rc->size, __ATOMIC_RELAXED);
			if (r && r->running)
				scsi_capacity_changed(dev);
		}
	}

	if (paused) {
		pthread_mutex_lock(&r->lock);
		r->pause_req = false;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->lock);
	}
	return ret;
}
