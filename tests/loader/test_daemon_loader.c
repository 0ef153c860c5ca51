/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of daemon/loader.c against real plugins: a handler directory with
 * good handlers and every kind of broken one. Broken ones are skipped with
 * one clear line naming the file; the good ones load and serve.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "loader.h"
#include "test_daemon_util.h"

struct fixture {
	char *dir;
	char trace[600];
};

static void link_handler(const char *dir, const char *name)
{
	char from[600], to[600];

	snprintf(from, sizeof(from), "%s/handler_%s.so", LOADER_HANDLER_DIR, name);
	snprintf(to, sizeof(to), "%s/handler_%s.so", dir, name);
	assert_int_equal(symlink(from, to), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = make_tmpdir();
	snprintf(f->trace, sizeof(f->trace), "%s/trace", f->dir);
	setenv("TCMUD_TEST_HANDLER_TRACE", f->trace, 1);
	capture_start();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tcmu_set_log_sink(NULL, NULL);
	unsetenv("TCMUD_TEST_HANDLER_TRACE");
	remove_tmpdir(f->dir);
	free(f);
	return 0;
}

/* The line about @file, which must say @why; exactly one. */
static void expect_skipped(const char *file, const char *why)
{
	int n = captured_count(file, why, "skipped", NULL);

	if (n != 1) {
		dump_captured();
		fail_msg("expected one \"%s\" line for %s, got %d", why, file, n);
	}
}

static void test_broken_skipped_good_served(void **state)
{
	struct fixture *f = *state;
	static const char *const all[] = {
		"good", "good2", "newer", "good_dup", "nosym", "badmajor",
		"small", "null", "initfail", "noread", "badsubtype",
		"unresolved",
	};
	struct handler_registry *reg = handler_registry_new();
	char path[700];
	char *trace;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		link_handler(f->dir, all[i]);
	/* Not plugins: garbage with the right name, a directory, other names. */
	snprintf(path, sizeof(path), "%s/handler_garbage.so", f->dir);
	write_file(path, "this is not an ELF file\n");
	snprintf(path, sizeof(path), "%s/handler_dir.so", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/libother.so", f->dir);
	write_file(path, "ignored\n");
	snprintf(path, sizeof(path), "%s/handler_x.so.disabled", f->dir);
	write_file(path, "ignored\n");

	assert_int_equal(handler_registry_load_dir(reg, f->dir), 3);
	assert_int_equal(handler_registry_count(reg), 3);
	assert_non_null(handler_registry_find(reg, "good"));
	assert_non_null(handler_registry_find(reg, "good2"));
	assert_non_null(handler_registry_find(reg, "newer"));
	assert_null(handler_registry_find(reg, "initfail"));
	assert_null(handler_registry_find(reg, "noread"));

	/* The first of a duplicate (name order) wins. */
	assert_non_null(strstr(handler_registry_find(reg, "good")->path,
			       "/handler_good.so"));

	expect_skipped("handler_good_dup.so", "already served by");
	expect_skipped("handler_nosym.so", "no symbol tcmu_handler_entry");
	expect_skipped("handler_badmajor.so", "handler ABI 2.0");
	expect_skipped("handler_small.so", "16 bytes");
	expect_skipped("handler_null.so", "returned NULL");
	expect_skipped("handler_initfail.so", "init failed: Input/output error");
	expect_skipped("handler_noread.so", "callback read missing");
	expect_skipped("handler_badsubtype.so", "\"Bad-Sub\" is not");
	expect_skipped("handler_unresolved.so", "cannot load");
	expect_skipped("handler_garbage.so", "cannot load");
	expect_skipped("handler_dir.so", "not a regular file");
	assert_int_equal(captured_count("libother", NULL), 0);
	assert_int_equal(captured_count("disabled", NULL), 0);
	assert_int_equal(captured_count("handler good loaded", NULL), 1);

	/* The copy is ours: unknown newer fields dropped, known ones kept. */
	const struct loaded_handler *n = handler_registry_find(reg, "newer");
	assert_string_equal(n->h.name, "newer test handler");
	assert_non_null(n->h.read);
	assert_null(n->h.check_config);

	char names[128];
	handler_registry_names(reg, names, sizeof(names));
	assert_string_equal(names, "good, good2, newer");

	handler_registry_free(reg);
	/* init ran for each candidate that passed the checks; exit only for
	 * those that loaded (never for the one whose init failed). */
	trace = read_file(f->trace);
	assert_non_null(trace);
	assert_non_null(strstr(trace, "init good\n"));
	assert_non_null(strstr(trace, "init initfail\n"));
	assert_non_null(strstr(trace, "exit good\n"));
	assert_non_null(strstr(trace, "exit good2\n"));
	assert_non_null(strstr(trace, "exit newer\n"));
	assert_null(strstr(trace, "exit initfail"));
	assert_null(strstr(trace, "init noread"));
	/* The duplicate was refused before its init. */
	int inits = 0;
	for (const char *p = trace; (p = strstr(p, "init good\n")); p++)
		inits++;
	assert_int_equal(inits, 1);
	free(trace);
}

static void test_missing_dir(void **state)
{
	struct handler_registry *reg = handler_registry_new();

	assert_int_equal(handler_registry_load_dir(reg, "/nonexistent/handlers"),
			 -ENOENT);
	assert_int_equal(captured_count("/nonexistent/handlers", NULL), 1);
	handler_registry_free(reg);
}

static void test_empty_dir_warns(void **state)
{
	struct fixture *f = *state;
	struct handler_registry *reg = handler_registry_new();

	assert_int_equal(handler_registry_load_dir(reg, f->dir), 0);
	assert_int_equal(captured_count("no handler loaded", NULL), 1);
	handler_registry_free(reg);
}

static bool check_ok(const char *cfg, char **reason)
{
	if (!strcmp(cfg, "/ok"))
		return true;
	*reason = strdup("no such file");
	return false;
}

static int h_open(struct tcmu_device *dev, bool reopen) { return 0; }
static void h_close(struct tcmu_device *dev) {}
static int h_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		  const struct iovec *iov, size_t iovcnt, uint64_t offset,
		  size_t length, unsigned int flags) { return -EIO; }

/* check_config as the D-Bus service will call it. */
static void test_check_config(void **state)
{
	static struct tcmu_handler with = {
		._struct_size = sizeof(struct tcmu_handler),
		._api_version = TCMU_HANDLER_API_VERSION,
		.subtype = "with", .name = "w", .check_config = check_ok,
		.open = h_open, .close = h_close, .read = h_read,
	};
	static struct tcmu_handler without = {
		._struct_size = sizeof(struct tcmu_handler),
		._api_version = TCMU_HANDLER_API_VERSION,
		.subtype = "without", .name = "wo",
		.open = h_open, .close = h_close, .read = h_read,
	};
	struct handler_registry *reg = handler_registry_new();
	char *reason;

	assert_int_equal(handler_registry_add(reg, &with, "builtin"), 0);
	assert_int_equal(handler_registry_add(reg, &without, "builtin"), 0);
	assert_int_equal(handler_registry_add(reg, &with, "again"), -EEXIST);

	assert_int_equal(handler_registry_check_config(reg, "with", "/ok", &reason), 0);
	assert_null(reason);
	assert_int_equal(handler_registry_check_config(reg, "with", "/bad", &reason),
			 -EINVAL);
	assert_string_equal(reason, "no such file");
	free(reason);
	assert_int_equal(handler_registry_check_config(reg, "without", "/x", &reason),
			 -EOPNOTSUPP);
	assert_int_equal(handler_registry_check_config(reg, "nope", "/x", &reason),
			 -ENOENT);
	assert_null(reason);
	handler_registry_free(reg);
}

static void test_subtype_rules(void **state)
{
	assert_true(handler_subtype_valid("file"));
	assert_true(handler_subtype_valid("user_rbd2"));
	assert_false(handler_subtype_valid(""));
	assert_false(handler_subtype_valid("File"));
	assert_false(handler_subtype_valid("a/b"));
	assert_false(handler_subtype_valid("a-b"));
	assert_false(handler_subtype_valid("a b"));
	char longname[80];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[79] = '\0';
	assert_false(handler_subtype_valid(longname));
	longname[63] = '\0';
	assert_true(handler_subtype_valid(longname));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_broken_skipped_good_served, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_dir_warns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_config, setup, teardown),
		cmocka_unit_test(test_subtype_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
