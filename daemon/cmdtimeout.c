/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/cmdtimeout.c — see cmdtimeout.h. Validates every occurrence
 * first and edits the string only when all are valid, so a refused config
 * string is left as the kernel gave it.
 */
#include <errno.h>
#include <string.h>

#include "cmdtimeout.h"

/* Parse N at @p (up to ';' or the end). Returns the length or -EINVAL. */
static int parse_seconds(const char *p, unsigned int *out)
{
	unsigned long v = 0;
	int n = 0;

	while (p[n] && p[n] != ';') {
		if (p[n] < '0' || p[n] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(p[n] - '0');
		if (v > CMD_TIMEOUT_MAX)
			return -EINVAL;
		n++;
	}
	if (!n)
		return -EINVAL;
	*out = (unsigned int)v;
	return n;
}

int cmd_timeout_strip(char *cfg, unsigned int *seconds, bool *found)
{
	const size_t klen = strlen(CMD_TIMEOUT_KEY);
	unsigned int v = 0;
	char *p;
	int n;

	*found = false;
	/* Pass 1: validate. */
	for (p = strchr(cfg, ';'); p; p = strchr(p + 1, ';')) {
		if (strncmp(p + 1, CMD_TIMEOUT_KEY, klen))
			continue;
		n = parse_seconds(p + 1 + klen, &v);
		if (n < 0)
			return n;
	}
	/* Pass 2: take the values out. */
	p = strchr(cfg, ';');
	while (p) {
		char *end;

		if (strncmp(p + 1, CMD_TIMEOUT_KEY, klen)) {
			p = strchr(p + 1, ';');
			continue;
		}
		n = parse_seconds(p + 1 + klen, &v);
		*seconds = v;
		*found = true;
		end = p + 1 + klen + n; /* at ';' or '\0' */
		/*
		 * A prefix option is wrapped in ';' on both sides: drop both.
		 * Elsewhere keep the following ';', it starts the next part.
		 */
		if (p == cfg && *end == ';' &&
		    strncmp(end + 1, CMD_TIMEOUT_KEY, klen))
			end++;
		memmove(p, end, strlen(end) + 1);
		p = (*p == ';') ? p : strchr(p, ';');
	}
	return 0;
}
