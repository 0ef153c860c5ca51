/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/handlers/loader_handler.c — one source, built into several
 * handler_*.so by tests/loader/CMakeLists.txt, each with one VARIANT_*:
 * good ones and each way a plugin can be broken. SUBTYPE names it.
 *
 * init() and exit() append "init <subtype>" / "exit <subtype>" to the file
 * named by $TCMUD_TEST_HANDLER_TRACE, so the test sees the calls.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <tcmu/handler.h>

static void trace(const char *what)
{
	const char *path = getenv("TCMUD_TEST_HANDLER_TRACE");
	FILE *f;

	if (!path || !(f = fopen(path, "a")))
		return;
	fprintf(f, "%s %s\n", what, SUBTYPE);
	fclose(f);
}

static int h_init(void)
{
	trace("init");
#ifdef VARIANT_INITFAIL
	return -EIO;
#elif defined(VARIANT_UNRESOLVED)
	extern int tcmud_test_no_such_function(void);
	return tcmud_test_no_such_function();
#else
	return 0;
#endif
}

static void h_exit(void)
{
	trace("exit");
}

static int h_open(struct tcmu_device *dev, bool reopen) { return 0; }
static void h_close(struct tcmu_device *dev) {}
static __attribute__((unused)) int h_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		  const struct iovec *iov, size_t iovcnt, uint64_t offset,
		  size_t length, unsigned int flags) { return -EIO; }

#ifdef VARIANT_NEWER
/* A plugin built against a later minor: struct with appended fields. */
static struct {
	struct tcmu_handler h;
	void *future_callback;
	uint64_t future_field;
} newer = {
	.h = {
		.subtype = SUBTYPE, .name = "newer test handler",
		.init = h_init, .exit = h_exit,
		.open = h_open, .close = h_close, .read = h_read,
	},
	.future_field = 0xdeadbeef,
};

TCMU_HANDLER_EXPORT struct tcmu_handler *tcmu_handler_entry(void);
TCMU_HANDLER_EXPORT struct tcmu_handler *tcmu_handler_entry(void)
{
	newer.h._struct_size = sizeof(newer);
	newer.h._api_version = TCMU_HANDLER_API_VERSION + 1;
	return &newer.h;
}
#else
static struct tcmu_handler handler = {
	.subtype = SUBTYPE,
	.name = "test handler " SUBTYPE,
	.init = h_init,
	.exit = h_exit,
	.open = h_open,
	.close = h_close,
#ifndef VARIANT_NOREAD
	.read = h_read,
#endif
};

#if defined(VARIANT_NOSYM)
/* Forgot TCMU_REGISTER_HANDLER: exports something else. */
TCMU_HANDLER_EXPORT struct tcmu_handler *tcmu_handler_entry_typo(void);
TCMU_HANDLER_EXPORT struct tcmu_handler *tcmu_handler_entry_typo(void)
{
	return &handler;
}
#elif defined(VARIANT_BADMAJOR) || defined(VARIANT_SMALL) || defined(VARIANT_NULL)
TCMU_HANDLER_EXPORT struct tcmu_handler *tcmu_handler_entry(void);
TCMU_HANDLER_EXPORT struct tcmu_handler *tcmu_handler_entry(void)
{
#ifdef VARIANT_NULL
	return NULL;
#endif
	handler._struct_size = sizeof(handler);
	handler._api_version = TCMU_HANDLER_API_VERSION;
#ifdef VARIANT_BADMAJOR
	handler._api_version = (TCMU_HANDLER_API_MAJOR + 1) << 16;
#endif
#ifdef VARIANT_SMALL
	handler._struct_size = 16; /* e.g. an ABI 0.x plugin */
#endif
	return &handler;
}
#else
TCMU_REGISTER_HANDLER(handler)
#endif
#endif
