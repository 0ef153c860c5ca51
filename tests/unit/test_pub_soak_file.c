/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_pub_soak_file.c — the daemon's real data path (simulated kernel ring
 * -> runner -> SCSI core -> handler_file with io_uring -> ring) under a long
 * random workload: READ(16)/WRITE(16) of 1..64 blocks (some with FUA) at
 * random LBAs, 32 in flight and completed out of order, every read checked
 * against a shadow copy, then the whole LUN and the backing file compared
 * with it. TCMU_SOAK_CMDS sets the number of commands (default 1,000,000;
 * the file lives in /dev/shm when it exists).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_pub_handler_common.h"

#define QD 32

static void test_soak(void **state)
{
	const char *env = getenv("TCMU_SOAK_CMDS");
	long cmds = env ? atol(env) : 1000000;
	const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	char path[256], cfg[300];
	struct th t;
	uint8_t *shadow, *file;
	int fd;

	snprintf(path, sizeof(path), "%s/tcmu-soak-%d.img", dir, (int)getpid());
	unlink(path);
	snprintf(cfg, sizeof(cfg), "%s;engine=uring", path);
	assert_int_equal(th_start(&t, "file", cfg, NULL), 0);
	shadow = calloc(1, t.size);
	file = malloc(t.size);
	assert_true(shadow && file);
	th_random_io(&t, shadow, (int)((cmds + QD - 1) / QD), QD, 0x50a4);
	assert_int_equal(th_sync(&t), TH_GOOD);
	th_stop(&t);

	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, file, t.size, 0), (ssize_t)t.size);
	assert_memory_equal(file, shadow, t.size);
	close(fd);
	unlink(path);
	free(shadow);
	free(file);
	print_message("soak: %ld commands, all reads matched\n", cmds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_soak),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
