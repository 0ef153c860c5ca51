/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/glfs/glfs_cat.c — a test tool: reads a file of a GlusterFS volume
 * through gfapi (the whole client stack, not the brick's copy), for the VM
 * cases of tests/vm/cases/glfs.
 *
 *   glfs_cat VOLUME HOST PORT PATH        the file's bytes to stdout
 *   glfs_cat -s VOLUME HOST PORT PATH     "SIZE BLOCKS" (glfs_stat: st_size,
 *                                         st_blocks in 512-byte units)
 *
 * Exit 0, or 1 with a message on stderr. It does not call glfs_fini (which
 * takes seconds): the process exits with the connection open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glusterfs/api/glfs.h>

/* Kept reachable until exit (LeakSanitizer; no glfs_fini on purpose). */
static glfs_t *cat_fs;

/* Writes @len bytes of @buf to stdout; 0 or -errno. Main thread, blocks. */
static int cat_write_all(const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(STDOUT_FILENO, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Connects to VOLUME at HOST:PORT; 0 or -errno. Main thread, blocks. */
static int cat_connect(const char *vol, const char *host, const char *port)
{
	char *end;
	long p = strtol(port, &end, 10);

	if (*end || p <= 0 || p > 65535)
		return -EINVAL;
	cat_fs = glfs_new(vol);
	if (!cat_fs)
		return -errno ? -errno : -ENOMEM;
	if (glfs_set_volfile_server(cat_fs, "tcp", host, (int)p) ||
	    glfs_set_logging(cat_fs, "/dev/null", 1) || glfs_init(cat_fs))
		return errno ? -errno : -EIO;
	return 0;
}

/* Copies the file @path to stdout; 0 or -errno. Main thread, blocks. */
static int cat_file(const char *path)
{
	static char buf[1 << 20];
	glfs_fd_t *fd = glfs_open(cat_fs, path, O_RDONLY);
	int ret = 0;

	if (!fd)
		return -errno;
	for (;;) {
		ssize_t n = glfs_read(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		ret = cat_write_all(buf, (size_t)n);
		if (ret)
			break;
	}
	glfs_close(fd);
	return ret;
}

/* Entry point: see the header comment. */
int main(int argc, char **argv)
{
	struct stat st;
	int stat_only = argc > 1 && !strcmp(argv[1], "-s");
	int ret;

	if (argc != 5 + stat_only) {
		fprintf(stderr, "usage: glfs_cat [-s] VOLUME HOST PORT PATH\n");
		return 1;
	}
	argv += stat_only;
	ret = cat_connect(argv[1], argv[2], argv[3]);
	if (ret) {
		fprintf(stderr, "glfs_cat: %s@%s:%s: %s\n", argv[1], argv[2], argv[3],
			strerror(-ret));
		return 1;
	}
	if (stat_only) {
		ret = glfs_stat(cat_fs, argv[4], &st) ? -errno : 0;
		if (!ret)
			printf("%lld %lld\n", (long long)st.st_size, (long long)st.st_blocks);
	} else {
		ret = cat_file(argv[4]);
	}
	if (ret) {
		fprintf(stderr, "glfs_cat: %s: %s\n", argv[4], strerror(-ret));
		return 1;
	}
	return 0;
}
