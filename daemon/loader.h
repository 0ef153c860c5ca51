/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/loader.h — the handler registry: loads handler_*.so plugins from
 * a directory (include/tcmu/handler.h is the ABI), finds them by subtype,
 * and runs their check_config for the D-Bus service.
 */
#ifndef TCMUD_LOADER_H
#define TCMUD_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include <tcmu/handler.h>

struct handler_registry;

/* One loaded handler. */
struct loaded_handler {
	struct tcmu_handler h; /* our zeroed copy of the plugin's struct */
	char *path;            /* the .so it came from */
	void *dl;              /* dlopen() handle */
	bool inited;           /* init() succeeded (exit() is due) */
};

/* Smallest _struct_size accepted for API major 1: all of 1.0's fields. */
#define HANDLER_MIN_STRUCT_SIZE \
	(offsetof(struct tcmu_handler, nonrotational) + sizeof(bool))

/* handler_registry_new — an empty registry. Returns NULL on ENOMEM. */
struct handler_registry *handler_registry_new(void);

/*
 * handler_registry_load_dir — dlopen (RTLD_NOW | RTLD_LOCAL) every
 * handler_*.so in @dir, in name order. A plugin without the entry symbol,
 * built for another ABI major, with a too small struct, missing a required
 * field, with an invalid or duplicate subtype, or whose init() fails is
 * logged (one line naming the file) and skipped. Main thread; blocks in
 * dlopen and init(). Returns the number of handlers loaded, or -errno when
 * @dir cannot be read.
 */
int handler_registry_load_dir(struct handler_registry *reg, const char *dir);

/*
 * handler_registry_load_file — load one plugin (same checks). Main thread.
 * Returns 0, or -errno (-ENOENT no entry symbol, -EPROTO wrong ABI,
 * -EINVAL bad struct, -EEXIST duplicate subtype, init()'s error, -ELIBBAD
 * dlopen failed), already logged.
 */
int handler_registry_load_file(struct handler_registry *reg, const char *path);

/*
 * handler_registry_add — register a handler linked into the program (no
 * .so), with the same checks as a plugin (_struct_size and _api_version
 * set, as TCMU_REGISTER_HANDLER does); @origin names it in the log.
 * @h must stay valid until the registry is freed. Main thread. Returns 0
 * or -errno (logged).
 */
int handler_registry_add(struct handler_registry *reg,
			 const struct tcmu_handler *h, const char *origin);

/* handler_registry_find — the handler serving @subtype, or NULL. Any thread
 * once loading is over (the registry does not change afterwards). */
const struct loaded_handler *handler_registry_find(const struct handler_registry *reg,
						   const char *subtype);

/* handler_registry_count — number of handlers loaded. */
size_t handler_registry_count(const struct handler_registry *reg);

/* handler_registry_get — the @i-th handler (load order), or NULL. */
const struct loaded_handler *handler_registry_get(const struct handler_registry *reg,
						  size_t i);

/*
 * handler_registry_check_config — run @subtype's check_config on
 * @cfgstring. Main thread; may block briefly (the handler's check). Returns
 * 0 when usable, -EINVAL when the handler refused it (*@reason: malloc'ed
 * message, or NULL), -ENOENT for an unknown subtype, -EOPNOTSUPP when the
 * handler has no check_config. The caller frees *@reason.
 */
int handler_registry_check_config(const struct handler_registry *reg,
				  const char *subtype, const char *cfgstring,
				  char **reason);

/* handler_registry_names — "a, b, c" of the loaded subtypes into @buf. */
void handler_registry_names(const struct handler_registry *reg, char *buf,
			    size_t size);

/*
 * handler_registry_free — call every exit(), dlclose and free. No device
 * may use a handler any more. Main thread. Returns NULL.
 */
struct handler_registry *handler_registry_free(struct handler_registry *reg);

/* handler_subtype_valid — [a-z0-9_]{1,63}. */
bool handler_subtype_valid(const char *s);

#endif
