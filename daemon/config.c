/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/config.c — parser for tcmu.conf (see config.h for the format).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <tcmu/libtcmu.h>

#include "config.h"
#include "util.h"

#define CONFIG_MAX_SIZE (64 * 1024) /* a config file larger than this is wrong */

static const char *const target_names[] = {
	[LOG_TARGET_STDERR] = "stderr",
	[LOG_TARGET_SYSLOG] = "syslog",
	[LOG_TARGET_JOURNAL] = "journal",
	[LOG_TARGET_FILE] = "file",
};

const char *log_target_name(enum log_target t)
{
	if ((unsigned int)t >= ARRAY_SIZE(target_names))
		return "?";
	return target_names[t];
}

int log_target_parse(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(target_names); i++)
		if (!strcmp(s, target_names[i]))
			return (int)i;
	return -EINVAL;
}

void config_defaults(struct tcmud_config *c)
{
	memset(c, 0, sizeof(*c));
	c->log_level = CONFIG_DEFAULT_LOG_LEVEL;
	c->log_target = LOG_TARGET_STDERR;
	snprintf(c->log_dir, sizeof(c->log_dir), "%s", CONFIG_DEFAULT_LOG_DIR);
	c->busy_poll_us = CONFIG_DEFAULT_BUSY_POLL_US;
}

bool config_equal(const struct tcmud_config *a, const struct tcmud_config *b)
{
	return a->log_level == b->log_level && a->log_target == b->log_target &&
	       !strcmp(a->log_dir, b->log_dir) &&
	       a->busy_poll_us == b->busy_poll_us;
}

/* Trim leading and trailing white space in place; returns the new start. */
static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "0".."5" exactly (no sign, no junk). Returns the level or -EINVAL. */
static int parse_level(const char *v)
{
	if (v[0] < '0' || v[0] > '5' || v[1])
		return -EINVAL;
	return v[0] - '0';
}

/*
 * A decimal number in 0..@max exactly (no sign, no junk, no leading zero
 * but "0" itself). Returns 0 and *@out, or -EINVAL.
 */
static int parse_uint(const char *v, unsigned int max, unsigned int *out)
{
	unsigned long n = 0;

	if (!v[0] || (v[0] == '0' && v[1]))
		return -EINVAL;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return -EINVAL;
		n = n * 10 + (unsigned long)(*v - '0');
		if (n > max)
			return -EINVAL;
	}
	*out = (unsigned int)n;
	return 0;
}

/* One "key = value" line. Returns 0, or -EINVAL (already logged). */
static int parse_line(char *line, const char *origin, unsigned int lineno,
		      struct tcmud_config *out, unsigned int *seen)
{
	char *eq, *key, *val;
	size_t len;
	int r;

	eq = strchr(line, '=');
	if (!eq) {
		tcmu_err("%s:%u: expected \"key = value\", ignored", origin,
			 lineno);
		return -EINVAL;
	}
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	len = strlen(val);
	/* A value may be quoted: log_dir = "/var/log/tcmu". */
	if (len >= 2 && val[0] == '"' && val[len - 1] == '"') {
		val[len - 1] = '\0';
		val++;
	}

	if (!strcmp(key, "log_level")) {
		*seen |= 1u << 0;
		r = parse_level(val);
		if (r < 0) {
			tcmu_err("%s:%u: log_level \"%s\" is not 0..5, keeping %d",
				 origin, lineno, val, out->log_level);
			return -EINVAL;
		}
		out->log_level = r;
	} else if (!strcmp(key, "log_target")) {
		*seen |= 1u << 1;
		r = log_target_parse(val);
		if (r < 0) {
			tcmu_err("%s:%u: log_target \"%s\" is not stderr, syslog, journal or file, keeping %s",
				 origin, lineno, val,
				 log_target_name(out->log_target));
			return -EINVAL;
		}
		out->log_target = r;
	} else if (!strcmp(key, "log_dir")) {
		*seen |= 1u << 2;
		if (val[0] != '/' || strlen(val) >= sizeof(out->log_dir) - 16) {
			tcmu_err("%s:%u: log_dir \"%s\" is not an absolute path, keeping %s",
				 origin, lineno, val, out->log_dir);
			return -EINVAL;
		}
		snprintf(out->log_dir, sizeof(out->log_dir), "%s", val);
	} else if (!strcmp(key, "busy_poll_us")) {
		*seen |= 1u << 3;
		if (parse_uint(val, TCMU_BUSY_POLL_MAX_US, &out->busy_poll_us) < 0) {
			tcmu_err("%s:%u: busy_poll_us \"%s\" is not 0..%u, keeping %u",
				 origin, lineno, val, TCMU_BUSY_POLL_MAX_US,
				 out->busy_poll_us);
			return -EINVAL;
		}
	} else {
		tcmu_err("%s:%u: unknown key \"%s\", ignored", origin, lineno,
			 key);
		return -EINVAL;
	}
	return 0;
}

int config_parse(const char *text, const char *origin,
		 const struct tcmud_config *prev, struct tcmud_config *out)
{
	struct tcmud_config defaults, cur = *prev;
	_cleanup_free_ char *copy = strdup(text);
	unsigned int lineno = 0, seen = 0;
	char *line, *next;
	int problems = 0;

	if (!copy) {
		*out = *prev;
		tcmu_err("%s: out of memory, configuration unchanged", origin);
		return 1;
	}
	/* Parse on top of the previous values so invalid ones keep them... */
	for (line = copy; line; line = next) {
		char *hash;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		line = trim(line);
		if (!line[0])
			continue;
		if (parse_line(line, origin, lineno, &cur, &seen) < 0)
			problems++;
	}
	/* ...and give the keys that are absent their default. */
	config_defaults(&defaults);
	if (!(seen & (1u << 0)))
		cur.log_level = defaults.log_level;
	if (!(seen & (1u << 1)))
		cur.log_target = defaults.log_target;
	if (!(seen & (1u << 2)))
		memcpy(cur.log_dir, defaults.log_dir, sizeof(cur.log_dir));
	if (!(seen & (1u << 3)))
		cur.busy_poll_us = defaults.busy_poll_us;
	*out = cur;
	return problems;
}

int config_load(const char *path, const struct tcmud_config *prev,
		struct tcmud_config *out)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t len = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int r = -errno;

		if (r == -ENOENT)
			config_defaults(out);
		else
			*out = *prev;
		return r;
	}
	if (fstat(fd, &st) < 0) {
		*out = *prev;
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_SIZE) {
		*out = *prev;
		return S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
	}
	buf = malloc(CONFIG_MAX_SIZE + 1);
	if (!buf) {
		*out = *prev;
		return -ENOMEM;
	}
	/* Read up to the limit; the file may grow while we read it. */
	while (len < CONFIG_MAX_SIZE &&
	       (n = read(fd, buf + len, CONFIG_MAX_SIZE - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*out = *prev;
			return -errno;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len)) {
		*out = *prev;
		return -EINVAL;
	}
	return config_parse(buf, path, prev, out);
}
