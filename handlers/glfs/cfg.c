/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handlers/glfs/cfg.c — the config string of a glfs LUN (the part after
 * "glfs/"), as tcmu-runner writes it:
 *
 *     <volume>@<host>[:<port>]/<path inside the volume>
 *
 * e.g. "gv0@gluster1/images/lun0.img", "gv0@10.0.0.5:24007/lun0",
 * "gv0@[fd00::5]:24007/lun0". The host is the volfile server (glusterd);
 * the port defaults to 24007. The path is taken relative to the volume's
 * root. Parsing is pure string work: nothing is resolved or contacted.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glfs.h"

static int cfg_fail(char **reason, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Puts a message in *reason (when asked for one); returns -EINVAL. */
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

static bool is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9');
}

/* Gluster volume names: letters, digits, '-', '_' (and '.', harmless). */
static bool volume_ok(const char *v, size_t n)
{
	size_t i;

	if (!n || n > GL_MAX_VOLUME || v[0] == '-' || v[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (!is_alnum(v[i]) && v[i] != '-' && v[i] != '_' && v[i] != '.')
			return false;
	return true;
}

/* A DNS name or an IPv4 address: letters, digits, '-', '.', '_'. */
static bool hostname_ok(const char *h, size_t n)
{
	size_t i;

	if (!n || n > GL_MAX_HOST || h[0] == '-' || h[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (!is_alnum(h[i]) && h[i] != '-' && h[i] != '.' && h[i] != '_')
			return false;
	return true;
}

/* An IPv6 literal (inside brackets), optionally with a %zone. */
static bool ipv6_ok(const char *h, size_t n)
{
	size_t i, colons = 0;
	bool zone = false;

	if (n < 2 || n > GL_MAX_HOST)
		return false;
	for (i = 0; i < n; i++) {
		char ch = h[i];

		if (zone) {
			if (!is_alnum(ch) && ch != '-' && ch != '_' && ch != '.')
				return false;
		} else if (ch == '%') {
			zone = true;
		} else if (ch == ':') {
			colons++;
		} else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
			     (ch >= 'A' && ch <= 'F') || ch == '.')) {
			return false;
		}
	}
	return colons >= 2;
}

/* Checks the path inside the volume: "/a/b", no empty, "." or ".." part. */
static int path_check(const char *p, size_t n, char **reason)
{
	const char *comp = p + 1, *end = p + n;

	if (n < 2)
		return cfg_fail(reason, "glfs: no file named after the host (glfs/<volume>@<host>/<path>)");
	if (n > GL_MAX_PATH)
		return cfg_fail(reason, "glfs: path too long (%zu bytes, at most %d)", n, GL_MAX_PATH);
	if (p[n - 1] == '/')
		return cfg_fail(reason, "glfs: path '%.*s' names a directory", (int)n, p);
	while (comp < end) {
		const char *slash = memchr(comp, '/', end - comp);
		size_t len = (slash ? slash : end) - comp;

		if (!len || (len == 1 && comp[0] == '.') ||
		    (len == 2 && comp[0] == '.' && comp[1] == '.'))
			return cfg_fail(reason, "glfs: path '%.*s' has an empty, '.' or '..' part",
					(int)n, p);
		comp += len + 1;
	}
	return 0;
}

int gl_cfg_parse(const char *s, struct gl_cfg *c, char **reason)
{
	const char *at, *host, *host_end, *rest, *path, *semi;
	size_t i, path_len;
	unsigned long port = GL_DEFAULT_PORT;
	int r;

	*c = (struct gl_cfg){ 0 };
	if (!s || !*s)
		return cfg_fail(reason, "glfs: empty config (glfs/<volume>@<host>[:<port>]/<path>)");
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return cfg_fail(reason, "glfs: control character in the config");

	at = strchr(s, '@');
	if (!at)
		return cfg_fail(reason, "glfs: no '@' in '%s' (glfs/<volume>@<host>[:<port>]/<path>)", s);
	if (!volume_ok(s, at - s))
		return cfg_fail(reason, "glfs: bad volume name '%.*s' (letters, digits, '-', '_')",
				(int)(at - s), s);

	host = at + 1;
	if (*host == '[') {
		host_end = strchr(host, ']');
		if (!host_end || !ipv6_ok(host + 1, host_end - host - 1))
			return cfg_fail(reason, "glfs: bad IPv6 address in '%s'", s);
		rest = host_end + 1;
		host++;
	} else {
		host_end = host + strcspn(host, ":/");
		if (!hostname_ok(host, host_end - host))
			return cfg_fail(reason, "glfs: bad host name '%.*s'",
					(int)(host_end - host), host);
		rest = host_end;
	}
	if (*rest == ':') {
		char *end;

		rest++;
		if (*rest < '0' || *rest > '9')
			return cfg_fail(reason, "glfs: bad port in '%s'", s);
		errno = 0;
		port = strtoul(rest, &end, 10);
		if (errno || port < 1 || port > 65535 || (*end && *end != '/'))
			return cfg_fail(reason, "glfs: bad port in '%s' (1..65535)", s);
		rest = end;
	}
	if (*rest != '/')
		return cfg_fail(reason, "glfs: no file named after the host (glfs/<volume>@<host>/<path>)");

	path = rest;
	semi = strchr(path, ';');
	path_len = semi ? (size_t)(semi - path) : strlen(path);
	r = path_check(path, path_len, reason);
	if (r)
		return r;
	if (semi)
		return cfg_fail(reason, "glfs: unknown option '%s' (the glfs handler has none)",
				semi + 1);

	c->volume = strndup(s, at - s);
	c->host = strndup(host, host_end - host);
	c->path = strndup(path, path_len);
	c->port = (unsigned int)port;
	if (!c->volume || !c->host || !c->path) {
		gl_cfg_free(c);
		return -ENOMEM;
	}
	return 0;
}

void gl_cfg_free(struct gl_cfg *c)
{
	free(c->volume);
	free(c->host);
	free(c->path);
	*c = (struct gl_cfg){ 0 };
}

char *gl_cfg_parent(const struct gl_cfg *c)
{
	const char *slash = strrchr(c->path, '/');
	size_t n = slash ? (size_t)(slash - c->path) : 0;

	return n ? strndup(c->path, n) : strdup("/");
}
