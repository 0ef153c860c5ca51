/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qcow_test_util.h — helpers for the qcow engine tests: temp dirs, shell
 * commands (qemu-img, qemu-io), files, a seeded PRNG, and random workloads
 * applied both to an image through the engine and to a raw reference.
 */
#ifndef QCOW_TEST_UTIL_H
#define QCOW_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qimg.h"

/* Creates a fresh temp dir (removed by tu_cleanup()). */
const char *tu_dir(void);
void tu_cleanup(void);
/* Path of @name inside tu_dir(); static ring of buffers. */
const char *tu_p(const char *name);
/* Runs a shell command (printf-style); returns its exit status. */
int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs a command and returns its stdout (malloc'ed). */
char *tu_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool tu_have_qemu(void);
/* qemu-img check exit code: 0 clean, 2 corrupt, 3 leaks only. */
int tu_qcheck(const char *img);
/* qemu-img compare against a raw file: 0 equal. */
int tu_qcompare(const char *img, const char *raw);

uint64_t tu_rand(void);
void tu_srand(uint64_t seed);
void tu_fill(void *buf, size_t len);

/* Reads the whole image through the engine (random chunks, split
 * iovecs) and compares with a raw file; fails the test on a difference. */
void tu_verify(struct qimg *img, const char *raw);

/* Random workload: @nops writes/zeroes/discards in [0, span) with offsets
 * aligned to @align, applied to @img and to the raw file @ref. */
struct tu_wl {
	uint64_t span;
	uint32_t align;    /* 512, or 1 for byte-granular */
	uint32_t max_len;
	int zero_pct;      /* % of ops that are write-zeroes / discard */
};
void tu_workload(struct qimg *img, const char *ref, const struct tu_wl *wl,
		 int nops);
/* When set, tu_one_op() stores the op's offset and length here before
 * running it (crash tests). */
extern volatile uint64_t *tu_pre_log;
/* One op; with @reffd >= 0 mirrored into the reference after success. */
int tu_one_op(struct qimg *img, int reffd, const struct tu_wl *wl,
	      uint64_t *off, uint64_t *len, int *kind);

#endif
