/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/confwatch.h — notice changes of one file from a GLib main loop.
 * Watches the file's directory with inotify (editors replace files by
 * renaming, so watching the file itself would lose it), and calls back
 * once things settled (a short debounce), on the main context given.
 */
#ifndef TCMUD_CONFWATCH_H
#define TCMUD_CONFWATCH_H

#include <glib.h>

struct confwatch;

/* Called on the main context's thread after @path changed. */
typedef void (*confwatch_fn)(void *arg);

#define CONFWATCH_SETTLE_MS 100

/*
 * confwatch_new — watch @path (written, renamed over, created, removed).
 * Main thread. Returns the watch or NULL with errno set (-ENOENT: the
 * directory does not exist). The callback runs on @ctx (NULL: default).
 */
struct confwatch *confwatch_new(GMainContext *ctx, const char *path,
				confwatch_fn fn, void *arg);

/* confwatch_free — stop watching. Main thread. Returns NULL. */
struct confwatch *confwatch_free(struct confwatch *w);

#endif
