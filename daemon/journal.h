/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/journal.h — write log records to systemd-journald's native
 * protocol socket (one datagram of KEY=value fields per record), without
 * libsystemd.
 */
#ifndef TCMUD_JOURNAL_H
#define TCMUD_JOURNAL_H

#include <stddef.h>

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* One record; @dev may be NULL. */
struct journal_record {
	int priority;         /* syslog priority, LOG_ERR .. LOG_DEBUG */
	const char *file;     /* CODE_FILE */
	int line;             /* CODE_LINE */
	const char *dev;      /* TCMU_DEVICE, or NULL */
	const char *message;  /* MESSAGE (may contain newlines) */
};

/*
 * journal_format — serialise @rec into @buf (native protocol: "KEY=value\n",
 * or "KEY\n" + 64-bit little-endian length + data + "\n" for values with
 * newlines). Any thread. Returns the length, or -ENOBUFS when @size is too
 * small.
 */
int journal_format(const struct journal_record *rec, char *buf, size_t size);

/*
 * journal_send — send @rec as one datagram to the socket at @path (NULL:
 * JOURNAL_SOCKET) over @fd, an AF_UNIX SOCK_DGRAM socket. Writer thread;
 * does not block (MSG_DONTWAIT). Returns 0 or -errno.
 */
int journal_send(int fd, const char *path, const struct journal_record *rec);

/* journal_socket — a new AF_UNIX datagram socket for journal_send(), or -errno. */
int journal_socket(void);

#endif
