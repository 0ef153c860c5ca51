/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handlers/rbd/cfg.c — the rbd handler's config string:
 *
 *   <pool>/<image>[;option...]  or  <pool>/<namespace>/<image>[;option...]
 *
 * options (tcmu-runner's names):
 *   osd_op_timeout=N   seconds before an OSD request fails with ETIMEDOUT
 *                      (librados rados_osd_op_timeout); 0 or absent: wait
 *   conf=/path         ceph.conf to read (default: librados' search path,
 *                      $CEPH_CONF, /etc/ceph/ceph.conf, ...)
 *   id=NAME            cephx user, "client." optional (default: admin)
 *
 * Parsing is pure: it never looks at a file or a cluster.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbd.h"

static int cfg_fail(char **reason, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int cfg_fail(char **reason, const char *fmt, ...)
{
	va_list ap;

	if (reason) {
		va_start(ap, fmt);
		if (vasprintf(reason, fmt, ap) < 0)
			*reason = NULL;
		va_end(ap);
	}
	return -EINVAL;
}

void rbd_cfg_free(struct rbd_cfg *c)
{
	if (!c)
		return;
	free(c->pool);
	free(c->ns);
	free(c->image);
	free(c->conf);
	free(c->id);
	memset(c, 0, sizeof(*c));
}

/* A pool, namespace or image name: not empty, no control characters. */
static bool cfg_name_ok(const char *s, size_t len)
{
	if (!len || len > 255)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static char *cfg_dup(const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

/* The "<pool>[/<ns>]/<image>" part of length @len. */
static int cfg_parse_path(const char *s, size_t len, struct rbd_cfg *c,
			  char **reason)
{
	const char *slash1 = memchr(s, '/', len);
	const char *slash2, *img;
	size_t plen, nlen = 0, ilen;

	if (!len)
		return cfg_fail(reason, "rbd: no image given (want <pool>/<image>)");
	if (!slash1)
		return cfg_fail(reason, "rbd: '%.*s' is not <pool>/<image>", (int)len, s);
	plen = (size_t)(slash1 - s);
	slash2 = memchr(slash1 + 1, '/', len - plen - 1);
	if (slash2) {
		nlen = (size_t)(slash2 - slash1 - 1);
		img = slash2 + 1;
		if (memchr(img, '/', len - (size_t)(img - s)))
			return cfg_fail(reason, "rbd: too many '/' in '%.*s' (want <pool>[/<namespace>]/<image>)",
					(int)len, s);
		if (!cfg_name_ok(slash1 + 1, nlen))
			return cfg_fail(reason, "rbd: bad namespace in '%.*s'", (int)len, s);
	} else {
		img = slash1 + 1;
	}
	ilen = len - (size_t)(img - s);
	if (!cfg_name_ok(s, plen))
		return cfg_fail(reason, "rbd: bad pool name in '%.*s'", (int)len, s);
	if (!cfg_name_ok(img, ilen))
		return cfg_fail(reason, "rbd: bad image name in '%.*s'", (int)len, s);
	if (memchr(img, '@', ilen))
		return cfg_fail(reason, "rbd: snapshots are not supported ('%.*s')", (int)ilen, img);
	c->pool = cfg_dup(s, plen);
	c->ns = slash2 ? cfg_dup(slash1 + 1, nlen) : NULL;
	c->image = cfg_dup(img, ilen);
	if (!c->pool || !c->image || (slash2 && !c->ns))
		return -ENOMEM;
	return 0;
}

static int cfg_parse_uint(const char *v, unsigned long max, unsigned int *out)
{
	unsigned long n = 0;

	if (!*v || strlen(v) > 10)
		return -EINVAL;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return -EINVAL;
		n = n * 10 + (unsigned long)(*v - '0');
	}
	if (n > max)
		return -EINVAL;
	*out = (unsigned int)n;
	return 0;
}

/* One "key=value" option of length @len. */
static int cfg_parse_opt(const char *s, size_t len, struct rbd_cfg *c,
			 char **reason)
{
	const char *eq = memchr(s, '=', len);
	size_t klen = eq ? (size_t)(eq - s) : len;
	char *val;
	int r = 0;

	if (!len)
		return 0; /* "a/b;" or "a/b;;x=y" */
	if (!eq)
		return cfg_fail(reason, "rbd: option '%.*s' needs a value", (int)len, s);
	val = cfg_dup(eq + 1, len - klen - 1);
	if (!val)
		return -ENOMEM;
	if (klen == 14 && !memcmp(s, "osd_op_timeout", 14)) {
		if (cfg_parse_uint(val, RBD_MAX_OP_TIMEOUT, &c->osd_op_timeout))
			r = cfg_fail(reason, "rbd: osd_op_timeout must be 0..%d seconds, not '%s'",
				     RBD_MAX_OP_TIMEOUT, val);
	} else if (klen == 4 && !memcmp(s, "conf", 4)) {
		if (val[0] != '/')
			r = cfg_fail(reason, "rbd: conf must be an absolute path, not '%s'", val);
		else {
			free(c->conf);
			c->conf = val;
			val = NULL;
		}
	} else if (klen == 2 && !memcmp(s, "id", 2)) {
		const char *id = strncmp(val, "client.", 7) ? val : val + 7;

		if (!cfg_name_ok(id, strlen(id)) || strpbrk(id, " \t"))
			r = cfg_fail(reason, "rbd: bad id '%s'", val);
		else {
			free(c->id);
			c->id = strdup(id);
			if (!c->id)
				r = -ENOMEM;
		}
	} else {
		r = cfg_fail(reason, "rbd: unknown option '%.*s' (known: osd_op_timeout, conf, id)",
			     (int)klen, s);
	}
	free(val);
	return r;
}

int rbd_cfg_parse(const char *s, struct rbd_cfg *c, char **reason)
{
	const char *semi;
	int r;

	memset(c, 0, sizeof(*c));
	if (reason)
		*reason = NULL;
	if (!s)
		s = "";
	semi = strchr(s, ';');
	r = cfg_parse_path(s, semi ? (size_t)(semi - s) : strlen(s), c, reason);
	while (!r && semi) {
		const char *opt = semi + 1;

		semi = strchr(opt, ';');
		r = cfg_parse_opt(opt, semi ? (size_t)(semi - opt) : strlen(opt),
				  c, reason);
	}
	if (r == -ENOMEM && reason && !*reason)
		*reason = strdup("rbd: out of memory");
	if (r)
		rbd_cfg_free(c);
	return r;
}

static bool cfg_streq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

bool rbd_cfg_same_cluster(const struct rbd_cfg *a, const struct rbd_cfg *b)
{
	return cfg_streq(a->conf, b->conf) && cfg_streq(a->id, b->id) &&
	       a->osd_op_timeout == b->osd_op_timeout;
}

bool rbd_cfg_equal(const struct rbd_cfg *a, const struct rbd_cfg *b)
{
	return rbd_cfg_same_cluster(a, b) && cfg_streq(a->pool, b->pool) &&
	       cfg_streq(a->ns, b->ns) && cfg_streq(a->image, b->image);
}
