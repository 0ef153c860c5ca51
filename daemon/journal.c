/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/journal.c — journald native protocol, written from the protocol
 * description (systemd's "Native Journal Protocol" document).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "journal.h"

struct out {
	char *buf;
	size_t size, len;
	bool overflow;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->overflow || n > o->size - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

/* One field; values containing a newline use the binary form. */
static void put_field(struct out *o, const char *key, const char *val)
{
	size_t klen = strlen(key), vlen = strlen(val);

	put(o, key, klen);
	if (memchr(val, '\n', vlen)) {
		uint8_t le[8];
		uint64_t v = vlen;

		for (int i = 0; i < 8; i++)
			le[i] = (uint8_t)(v >> (8 * i));
		put(o, "\n", 1);
		put(o, le, sizeof(le));
	} else {
		put(o, "=", 1);
	}
	put(o, val, vlen);
	put(o, "\n", 1);
}

int journal_format(const struct journal_record *rec, char *buf, size_t size)
{
	struct out o = { .buf = buf, .size = size };
	char num[24];

	put_field(&o, "MESSAGE", rec->message);
	snprintf(num, sizeof(num), "%d", rec->priority);
	put_field(&o, "PRIORITY", num);
	put_field(&o, "SYSLOG_IDENTIFIER", "tcmud");
	if (rec->file) {
		put_field(&o, "CODE_FILE", rec->file);
		snprintf(num, sizeof(num), "%d", rec->line);
		put_field(&o, "CODE_LINE", num);
	}
	if (rec->dev)
		put_field(&o, "TCMU_DEVICE", rec->dev);
	if (o.overflow || o.len > INT32_MAX)
		return -ENOBUFS;
	return (int)o.len;
}

int journal_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

int journal_send(int fd, const char *path, const struct journal_record *rec)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	int len;

	if (!path)
		path = JOURNAL_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	len = journal_format(rec, buf, sizeof(buf));
	if (len < 0)
		return len;
	if (sendto(fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL,
		   (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}
