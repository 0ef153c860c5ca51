/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/iov.c — bounded access to a command's data area. Nothing
 * here ever touches memory beyond the iovecs.
 */
#include <string.h>

#include "scsi_priv.h"

size_t scsi_iov_len(const struct iovec *iov, size_t cnt)
{
	size_t n = 0;

	for (size_t i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

size_t scsi_iov_put(const struct iovec *iov, size_t cnt, size_t off,
		    const void *src, size_t len)
{
	const uint8_t *s = src;
	size_t done = 0;

	for (size_t i = 0; i < cnt && done < len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l = SCSI_MIN(l - off, len - done);
		memcpy((uint8_t *)iov[i].iov_base + off, s + done, l);
		done += l;
		off = 0;
	}
	return done;
}

size_t scsi_iov_get(const struct iovec *iov, size_t cnt, size_t off,
		    void *dst, size_t len)
{
	uint8_t *d = dst;
	size_t done = 0;

	for (size_t i = 0; i < cnt && done < len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l = SCSI_MIN(l - off, len - done);
		memcpy(d + done, (const uint8_t *)iov[i].iov_base + off, l);
		done += l;
		off = 0;
	}
	return done;
}

size_t scsi_iov_count(const struct iovec *iov, size_t cnt, size_t off,
		      size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < cnt && len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l = SCSI_MIN(l - off, len);
		if (l)
			n++;
		len -= l;
		off = 0;
	}
	return n;
}

int scsi_iov_slice(const struct iovec *iov, size_t cnt, size_t off,
		   size_t len, struct iovec *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < cnt && len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l = SCSI_MIN(l - off, len);
		if (l) {
			if (n == max)
				return -1;
			out[n].iov_base = (uint8_t *)iov[i].iov_base + off;
			out[n].iov_len = l;
			n++;
		}
		len -= l;
		off = 0;
	}
	return len ? -1 : (int)n;
}

void scsi_data_in(struct tcmu_cmd *cmd, const void *buf, size_t len,
		  size_t alloc_len)
{
	size_t n = SCSI_MIN(len, alloc_len);

	n = scsi_iov_put(cmd->iov, cmd->iov_cnt, 0, buf, n);
	if (n < cmd->data_len) {
		cmd->read_len = (uint32_t)n;
		cmd->read_len_set = true;
	}
}

size_t scsi_data_out(struct tcmu_cmd *cmd, void *buf, size_t len)
{
	return scsi_iov_get(cmd->iov, cmd->iov_cnt, 0, buf, len);
}
