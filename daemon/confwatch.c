/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/confwatch.c — see confwatch.h.
 */
#include <errno.h>
#include <glib-unix.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <tcmu/libtcmu.h>

#include "confwatch.h"
#include "util.h"

#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | \
		    IN_DELETE_SELF | IN_MOVE_SELF)

struct confwatch {
	GMainContext *ctx;
	GSource *io;      /* the inotify fd */
	GSource *settle;  /* pending debounce timer, or NULL */
	int fd;
	char *dir;
	char *name;
	confwatch_fn fn;
	void *arg;
};

/* Debounce timer fired: the file settled, call back. Main context's
 * thread. One-shot. */
static gboolean settled(gpointer data)
{
	struct confwatch *w = data;

	g_source_unref(w->settle);
	w->settle = NULL;
	w->fn(w->arg);
	return G_SOURCE_REMOVE;
}

/* (Re)start the debounce timer. */
static void arm(struct confwatch *w)
{
	if (w->settle) {
		g_source_destroy(w->settle);
		g_source_unref(w->settle);
	}
	w->settle = g_timeout_source_new(CONFWATCH_SETTLE_MS);
	g_source_set_callback(w->settle, settled, w, NULL);
	g_source_attach(w->settle, w->ctx);
}

/* inotify events on the directory: (re)arm the debounce timer when one
 * is about our file. Main context's thread; never blocks (O_NONBLOCK). */
static gboolean on_inotify(gint fd, GIOCondition cond, gpointer data)
{
	struct confwatch *w = data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break; /* EAGAIN: drained */
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
				tcmu_warn("%s was removed or moved: changes of %s/%s are no longer noticed",
					  w->dir, w->dir, w->name);
			} else if (ev->mask & IN_Q_OVERFLOW) {
				hit = true;
			} else if (ev->len && !strcmp(ev->name, w->name)) {
				hit = true;
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	if (hit)
		arm(w);
	return G_SOURCE_CONTINUE;
}

struct confwatch *confwatch_new(GMainContext *ctx, const char *path,
				confwatch_fn fn, void *arg)
{
	struct confwatch *w = calloc(1, sizeof(*w));
	const char *slash;
	int saved;

	if (!w)
		return NULL;
	w->fd = -1;
	w->ctx = ctx ? g_main_context_ref(ctx) : g_main_context_ref(g_main_context_default());
	w->fn = fn;
	w->arg = arg;
	slash = strrchr(path, '/');
	w->dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
	w->name = strdup(slash ? slash + 1 : path);
	if (!w->dir || !w->name) {
		errno = ENOMEM;
		goto fail;
	}
	if (!w->dir[0]) { /* "/tcmu.conf" */
		free(w->dir);
		w->dir = strdup("/");
		if (!w->dir) {
			errno = ENOMEM;
			goto fail;
		}
	}
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0)
		goto fail;
	if (inotify_add_watch(w->fd, w->dir, WATCH_MASK | IN_ONLYDIR) < 0)
		goto fail;
	w->io = g_unix_fd_source_new(w->fd, G_IO_IN);
	g_source_set_callback(w->io, G_SOURCE_FUNC(on_inotify), w, NULL);
	g_source_attach(w->io, w->ctx);
	return w;
fail:
	saved = errno;
	confwatch_free(w);
	errno = saved;
	return NULL;
}

struct confwatch *confwatch_free(struct confwatch *w)
{
	if (!w)
		return NULL;
	if (w->settle) {
		g_source_destroy(w->settle);
		g_source_unref(w->settle);
	}
	if (w->io) {
		g_source_destroy(w->io);
		g_source_unref(w->io);
	}
	if (w->fd >= 0)
		close(w->fd);
	g_main_context_unref(w->ctx);
	free(w->dir);
	free(w->name);
	free(w);
	return NULL;
}
