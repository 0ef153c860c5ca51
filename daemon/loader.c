/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/loader.c — handler plugin loader (see loader.h and
 * include/tcmu/handler.h). Every refusal is one error line that names the
 * file and the reason; the daemon goes on with the other handlers.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <tcmu/libtcmu.h>

#include "loader.h"
#include "util.h"

#define SUBTYPE_MAX 63 /* tcmu_device_info.subtype holds 64 bytes */

struct handler_registry {
	struct loaded_handler **h;
	size_t n, cap;
};

bool handler_subtype_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return n > 0 && n <= SUBTYPE_MAX;
}

struct handler_registry *handler_registry_new(void)
{
	return calloc(1, sizeof(struct handler_registry));
}

size_t handler_registry_count(const struct handler_registry *reg)
{
	return reg->n;
}

const struct loaded_handler *handler_registry_get(const struct handler_registry *reg,
						  size_t i)
{
	return i < reg->n ? reg->h[i] : NULL;
}

const struct loaded_handler *handler_registry_find(const struct handler_registry *reg,
						   const char *subtype)
{
	for (size_t i = 0; i < reg->n; i++)
		if (!strcmp(reg->h[i]->h.subtype, subtype))
			return reg->h[i];
	return NULL;
}

static struct loaded_handler *loaded_free(struct loaded_handler *lh)
{
	if (!lh)
		return NULL;
	if (lh->inited && lh->h.exit)
		lh->h.exit();
	if (lh->dl)
		dlclose(lh->dl);
	free(lh->path);
	free(lh);
	return NULL;
}

static void loaded_freep(struct loaded_handler **lh)
{
	loaded_free(*lh);
}

/*
 * Check the plugin's struct and copy it into @lh->h. Returns 0 or -errno,
 * with the reason logged.
 */
static int take_struct(struct loaded_handler *lh, const struct tcmu_handler *src)
{
	uint32_t major, minor, size;

	if (!src) {
		tcmu_err("handler %s: %s() returned NULL, skipped", lh->path,
			 TCMU_HANDLER_ENTRY_SYMBOL);
		return -EINVAL;
	}
	major = src->_api_version >> 16;
	minor = src->_api_version & 0xffff;
	size = src->_struct_size;
	if (major != TCMU_HANDLER_API_MAJOR) {
		tcmu_err("handler %s: built for handler ABI %u.%u, this tcmud speaks %d.x, skipped",
			 lh->path, major, minor, TCMU_HANDLER_API_MAJOR);
		return -EPROTO;
	}
	if (size < HANDLER_MIN_STRUCT_SIZE) {
		tcmu_err("handler %s: struct tcmu_handler of %u bytes is smaller than ABI %d.0's %zu, skipped",
			 lh->path, size, TCMU_HANDLER_API_MAJOR,
			 (size_t)HANDLER_MIN_STRUCT_SIZE);
		return -EINVAL;
	}
	/* Fields we do not know stay zero: they are appended, never reordered. */
	memset(&lh->h, 0, sizeof(lh->h));
	memcpy(&lh->h, src, size < sizeof(lh->h) ? size : sizeof(lh->h));
	if (minor > TCMU_HANDLER_API_MINOR)
		tcmu_dbg("handler %s: ABI %u.%u is newer than %d.%d; newer features unused",
			 lh->path, major, minor, TCMU_HANDLER_API_MAJOR,
			 TCMU_HANDLER_API_MINOR);

	if (!lh->h.subtype) {
		tcmu_err("handler %s: no subtype, skipped", lh->path);
		return -EINVAL;
	}
	if (!handler_subtype_valid(lh->h.subtype)) {
		tcmu_err("handler %s: subtype \"%.80s\" is not [a-z0-9_]{1,%d}, skipped",
			 lh->path, lh->h.subtype, SUBTYPE_MAX);
		return -EINVAL;
	}
	if (!lh->h.name) {
		tcmu_err("handler %s (%s): no name, skipped", lh->path,
			 lh->h.subtype);
		return -EINVAL;
	}
	if (!lh->h.open || !lh->h.close || !lh->h.read) {
		tcmu_err("handler %s (%s): required callback %s missing, skipped",
			 lh->path, lh->h.subtype,
			 !lh->h.open ? "open" : !lh->h.close ? "close" : "read");
		return -EINVAL;
	}
	if ((unsigned int)lh->h.concurrency > TCMU_CONCURRENCY_ASYNC) {
		tcmu_err("handler %s (%s): unknown concurrency model %d, skipped",
			 lh->path, lh->h.subtype, (int)lh->h.concurrency);
		return -EINVAL;
	}
	return 0;
}

static int registry_add(struct handler_registry *reg, struct loaded_handler *lh)
{
	if (reg->n == reg->cap) {
		size_t cap = reg->cap ? reg->cap * 2 : 8;
		struct loaded_handler **h = realloc(reg->h, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		reg->h = h;
		reg->cap = cap;
	}
	reg->h[reg->n++] = lh;
	return 0;
}

/*
 * Validate @src, refuse a duplicate subtype, run init() and add it.
 * Takes @lh (freed on failure). Returns 0 or -errno, logged.
 */
static int register_handler(struct handler_registry *reg,
			    struct loaded_handler *lh,
			    const struct tcmu_handler *src)
{
	_cleanup_(loaded_freep) struct loaded_handler *owned = lh;
	const struct loaded_handler *other;
	int r;

	r = take_struct(lh, src);
	if (r < 0)
		return r;
	other = handler_registry_find(reg, lh->h.subtype);
	if (other) {
		tcmu_err("handler %s: subtype \"%s\" is already served by %s, skipped",
			 lh->path, lh->h.subtype, other->path);
		return -EEXIST;
	}
	if (lh->h.init) {
		r = lh->h.init();
		if (r) {
			if (r > 0)
				r = -EINVAL;
			tcmu_err("handler %s (%s): init failed: %s, skipped",
				 lh->path, lh->h.subtype, strerror(-r));
			return r;
		}
		lh->inited = true;
	}
	r = registry_add(reg, lh);
	if (r < 0) {
		tcmu_err("handler %s: out of memory, skipped", lh->path);
		return r;
	}
	tcmu_info("handler %s loaded: %s (%s)", lh->h.subtype, lh->h.name,
		  lh->path);
	owned = NULL;
	return 0;
}

static struct loaded_handler *loaded_new(const char *origin)
{
	struct loaded_handler *lh = calloc(1, sizeof(*lh));

	if (lh && !(lh->path = strdup(origin))) {
		free(lh);
		lh = NULL;
	}
	if (!lh)
		tcmu_err("handler %s: out of memory, skipped", origin);
	return lh;
}

int handler_registry_add(struct handler_registry *reg,
			 const struct tcmu_handler *h, const char *origin)
{
	struct loaded_handler *lh = loaded_new(origin);

	if (!lh)
		return -ENOMEM;
	return register_handler(reg, lh, h);
}

int handler_registry_load_file(struct handler_registry *reg, const char *path)
{
	_cleanup_(loaded_freep) struct loaded_handler *lh = NULL;
	tcmu_handler_entry_fn entry;
	void *sym;

	lh = loaded_new(path);
	if (!lh)
		return -ENOMEM;
	lh->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lh->dl) {
		tcmu_err("handler %s: cannot load: %s, skipped", path, dlerror());
		return -ELIBBAD;
	}
	dlerror();
	sym = dlsym(lh->dl, TCMU_HANDLER_ENTRY_SYMBOL);
	if (!sym) {
		tcmu_err("handler %s: no symbol %s (not built with TCMU_REGISTER_HANDLER?), skipped",
			 path, TCMU_HANDLER_ENTRY_SYMBOL);
		return -ENOENT;
	}
	*(void **)&entry = sym;
	return register_handler(reg, steal_ptr(&lh), entry());
}

/* scandir filter: only handler_*.so names. Main thread. */
static int so_filter(const struct dirent *d)
{
	return !fnmatch("handler_*.so", d->d_name, FNM_PERIOD);
}

int handler_registry_load_dir(struct handler_registry *reg, const char *dir)
{
	struct dirent **names = NULL;
	int n, loaded = 0;

	n = scandir(dir, &names, so_filter, alphasort);
	if (n < 0) {
		int r = -errno;

		tcmu_err("handler directory %s: %s", dir, strerror(-r));
		return r;
	}
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *path = NULL;
		struct stat st;

		if (asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0) {
			path = NULL;
			tcmu_err("handler %s: out of memory, skipped",
				 names[i]->d_name);
		} else if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			tcmu_err("handler %s: not a regular file, skipped", path);
		} else if (handler_registry_load_file(reg, path) == 0) {
			loaded++;
		}
		free(names[i]);
	}
	free(names);
	if (!loaded)
		tcmu_warn("no handler loaded from %s: devices cannot be served",
			  dir);
	return loaded;
}

int handler_registry_check_config(const struct handler_registry *reg,
				  const char *subtype, const char *cfgstring,
				  char **reason)
{
	const struct loaded_handler *lh = handler_registry_find(reg, subtype);

	*reason = NULL;
	if (!lh)
		return -ENOENT;
	if (!lh->h.check_config)
		return -EOPNOTSUPP;
	return lh->h.check_config(cfgstring, reason) ? 0 : -EINVAL;
}

void handler_registry_names(const struct handler_registry *reg, char *buf,
			    size_t size)
{
	size_t len = 0;

	if (!size)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < reg->n && len < size; i++) {
		int r = snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
				 reg->h[i]->h.subtype);

		if (r < 0)
			break;
		len += (size_t)r;
	}
	if (!reg->n)
		snprintf(buf, size, "(none)");
}

struct handler_registry *handler_registry_free(struct handler_registry *reg)
{
	if (!reg)
		return NULL;
	/* Unload in reverse order of loading. */
	while (reg->n)
		loaded_free(reg->h[--reg->n]);
	free(reg->h);
	free(reg);
	return NULL;
}
