/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/spine.h — private glue between the spine modules of libtcmu:
 * uio.c (opening), device.c (device object, accessors), ring.c (ring
 * parsing, command pool, completion write-back) and runner.c (ring thread,
 * dispatch, workers). Not seen by the SCSI core (it uses tcmu_internal.h).
 */
#ifndef TCMU_SPINE_H
#define TCMU_SPINE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "tcmu_internal.h"

#define SAM_STAT_GOOD_ 0x00
#define SAM_STAT_CHECK_CONDITION_ 0x02

/* Fixed-format sense (SPC-4 4.5.3), 18 bytes; returns its length. */
static inline uint8_t spine_fixed_sense(uint8_t *buf, uint8_t key, uint8_t asc,
					uint8_t ascq)
{
	memset(buf, 0, 18);
	buf[0] = 0x70; /* current error, fixed format */
	buf[2] = key & 0x0f;
	buf[7] = 10; /* additional sense length */
	buf[12] = asc;
	buf[13] = ascq;
	return 18;
}

static inline uint64_t spine_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- ring.c ---------------------------------------------------------- */

/*
 * ring_init — validate the mailbox of the mapped device (version 2,
 * out-of-order completion, ring and data area inside the map) and
 * set up the parser and the command pool. Main thread. 0 or -errno
 * (-EINVAL: not a usable TCMU mapping).
 */
int ring_init(struct tcmu_device *dev);
/* ring_free — frees the parser state and every pool object. */
void ring_free(struct tcmu_device *dev);
/* ring_set_hpriv_size — size of tcmu_cmd_priv() areas (before the ring thread runs). */
int ring_set_hpriv_size(struct tcmu_device *dev, size_t size);
/* ring_error — 0, or -EIO once the ring was found corrupt. Any thread. */
int ring_error(const struct tcmu_device *dev);
/* ring_cmd_by_id — the command with @id the ring handed out, or NULL. Ring thread. */
struct tcmu_cmd *ring_cmd_by_id(struct tcmu_device *dev, uint16_t id);
/* ring_cmds_in_use — commands handed out and not yet written back. Ring thread. */
uint32_t ring_cmds_in_use(const struct tcmu_device *dev);
/*
 * ring_has_new — true when the kernel queued entries the ring thread has
 * not taken yet (one acquire load of cmd_head; never on a broken ring).
 * Ring thread; never blocks.
 */
bool ring_has_new(const struct tcmu_device *dev);
/* ring_for_each_in_use — calls @fn for every command handed out. Ring thread. */
void ring_for_each_in_use(struct tcmu_device *dev,
			  void (*fn)(struct tcmu_cmd *cmd, void *arg), void *arg);
/* ring_cmd_timeout_ms / ring_set_cmd_timeout_ms — handler hold limit (0: none). Any thread. */
uint64_t ring_cmd_timeout_ms(const struct tcmu_device *dev);
void ring_set_cmd_timeout_ms(struct tcmu_device *dev, uint64_t ms);
/*
 * ring_busy_poll_us / ring_set_busy_poll_us — busy-poll time of the ring
 * thread (tcmu_device_set_busy_poll; 0: off). Kept with the ring, not the
 * runner, so a value set before tcmu_device_start() or across a restart
 * stays. Any thread; relaxed atomics.
 */
unsigned int ring_busy_poll_us(const struct tcmu_device *dev);
void ring_set_busy_poll_us(struct tcmu_device *dev, unsigned int us);
/* ring_notify_count — number of notify writes so far (tests, stats). */
uint64_t ring_notify_count(const struct tcmu_device *dev);

/* ---- runner.c -------------------------------------------------------- */

/* runner_destroy — frees a stopped runner (device close). Main thread. */
void runner_destroy(struct tcmu_device *dev);
/* runner_is_running — true between tcmu_device_start and _stop. */
bool runner_is_running(const struct tcmu_device *dev);
/*
 * runner_set_cmd_timeout_ms — tcmu_device_set_cmd_timeout with
 * millisecond resolution (unit tests). Any thread.
 */
void runner_set_cmd_timeout_ms(struct tcmu_device *dev, uint64_t ms);
/*
 * runner_busy_poll_hits — how many busy polls of the ring thread found
 * work before their time was up (unit tests). Main thread (the runner
 * must not be freed meanwhile); 0 without a runner.
 */
uint64_t runner_busy_poll_hits(const struct tcmu_device *dev);
/*
 * runner_set_early_answer_bytes — the inline-completed data after which a
 * turn of the ring thread answers what it has before taking the next
 * command (default 512 KiB; unit tests). Any thread; no effect before start.
 */
void runner_set_early_answer_bytes(struct tcmu_device *dev, uint64_t bytes);
/* runner_early_answers — mid-turn answers made so far (unit tests); 0 without a runner. */
uint64_t runner_early_answers(const struct tcmu_device *dev);

#endif
