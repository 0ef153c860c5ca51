/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qcow2_compress.c — reading compressed clusters: raw deflate (zlib, the
 * default) or zstd (compression type 1, when built with libzstd). The
 * compressed bytes may end before the last sector they claim, even past
 * the end of the file; decompression must produce exactly one cluster.
 * Any thread, blocks on the read; returns 0, -EUCLEAN for bad data, or
 * -errno.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#ifdef HAVE_ZSTD
#include <zstd.h>
#endif

#include "qcow2.h"

static int inflate_raw(const uint8_t *in, size_t inlen, uint8_t *out,
		       size_t outlen)
{
	z_stream s;
	int ret;

	memset(&s, 0, sizeof(s));
	if (inflateInit2(&s, -12) != Z_OK)
		return -ENOMEM;
	s.next_in = (Bytef *)in;
	s.avail_in = (uInt)inlen;
	s.next_out = out;
	s.avail_out = (uInt)outlen;
	ret = inflate(&s, Z_FINISH);
	/* Z_BUF_ERROR with a full output buffer: the stream continues but
	 * we have the whole cluster. */
	if ((ret == Z_STREAM_END || ret == Z_BUF_ERROR || ret == Z_OK) &&
	    s.avail_out == 0) {
		inflateEnd(&s);
		return 0;
	}
	inflateEnd(&s);
	return -EUCLEAN;
}

#ifdef HAVE_ZSTD
static int unzstd(const uint8_t *in, size_t inlen, uint8_t *out,
		  size_t outlen)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer ib = {in, inlen, 0};
	ZSTD_outBuffer ob = {out, outlen, 0};
	int ret = -EUCLEAN;

	if (!d)
		return -ENOMEM;
	while (ob.pos < ob.size) {
		size_t r = ZSTD_decompressStream(d, &ob, &ib);

		if (ZSTD_isError(r))
			break;
		if (ob.pos == ob.size) {
			ret = 0;
			break;
		}
		if (ib.pos == ib.size)
			break; /* input exhausted before a full cluster */
	}
	ZSTD_freeDCtx(d);
	return ret;
}
#endif

int q2_read_compressed(struct q2 *q, const struct q2_map *m, void *out)
{
	uint8_t *in;
	uint64_t avail = q2_file_size(q) - m->host, len = m->csize;
	int ret;

	if (!len || len > 2ULL * q->cluster_size + 512)
		return -EUCLEAN;
	if (len > avail)
		len = avail;
	in = malloc(len);
	if (!in)
		return -ENOMEM;
	ret = qf_pread(q->fd, in, len, m->host);
	if (ret == 0) {
#ifdef HAVE_ZSTD
		if (q->zstd)
			ret = unzstd(in, len, out, q->cluster_size);
		else
#endif
			ret = inflate_raw(in, len, out, q->cluster_size);
	}
	free(in);
	return ret;
}
