/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/rbd/test_rbd_config.c — the rbd handler's config on a cluster:
 * check_config (conf file, cephx user, pool, namespace, image; no side
 * effects) and what open() makes of it (refusals, the LUN sized from the
 * image). The syntax cases are in test_rbd_unit_cfg.c.
 */
#include "rbd_test.h"

/* check_config(@cfg): refused with @want in the reason (want NULL: accepted). */
static void check(const struct tcmu_handler *h, const char *cfg, const char *want)
{
	char *reason = NULL;
	bool ok = h->check_config(cfg, &reason);

	if (!want) {
		if (!ok)
			fail_msg("'%s' refused: %s", cfg, reason ? reason : "(no reason)");
	} else {
		if (ok)
			fail_msg("'%s' accepted, expected a refusal with '%s'", cfg, want);
		assert_non_null(reason);
		if (!strstr(reason, want))
			fail_msg("'%s': reason '%s' lacks '%s'", cfg, reason, want);
	}
	free(reason);
}

static void test_check_config_cluster(void **state)
{
	const struct tcmu_handler *h;
	rbd_image_t img;
	char cfg[1200];
	size_t n = 8;
	rbd_image_watcher_t w[8];
	void *dl;

	rt_image_create("cfg1", 4 << 20);
	h = th_load("rbd", &dl);

	/* what exists */
	check(h, rt_cfg("cfg1", ""), NULL);
	check(h, rt_cfg("cfg1", ";osd_op_timeout=5;id=admin"), NULL);
	check(h, rt_cfg("cfg1", ";id=client.admin;osd_op_timeout=0;"), NULL);
	/* what does not */
	check(h, rt_cfg("nosuch", ""), "image 'rbd/nosuch' does not exist");
	snprintf(cfg, sizeof(cfg), "nopool/cfg1;conf=%s", rt.conf);
	check(h, cfg, "pool 'nopool' does not exist");
	snprintf(cfg, sizeof(cfg), "rbd/nons/cfg1;conf=%s", rt.conf);
	check(h, cfg, "does not exist");
	check(h, rt_cfg("cfg1", ";id=nobody"), "cannot connect to the cluster as client.nobody");

	/* no side effects: nobody watches or locks the image, nothing written */
	assert_int_equal(rbd_open(rt.io, "cfg1", &img, NULL), 0);
	assert_int_equal(rbd_watchers_list(img, w, &n), 0);
	assert_int_equal(n, 1); /* our own open */
	rbd_watchers_list_cleanup(w, n);
	{
		rbd_lock_mode_t mode;
		char *owners[4];
		size_t no = 4;
		int r = rbd_lock_get_owners(img, &mode, owners, &no);

		assert_true(r == -ENOENT || (r == 0 && no == 0));
	}
	rbd_close(img);
	assert_int_equal(rt_du_used("cfg1"), 0);
	dlclose(dl);
	rt_image_remove("cfg1");
}

/* open() refuses what check_config refuses, with the matching errno. */
static void test_open_refusals(void **state)
{
	struct th t;

	assert_int_equal(th_start(&t, "rbd", "rbd/img;bogus=1", NULL), -EINVAL);
	assert_int_equal(th_start(&t, "rbd", rt_cfg("nosuch", ""), NULL), -ENOENT);
	assert_int_not_equal(th_start(&t, "rbd", rt_cfg("x", ";conf=/nonexistent.conf"), NULL), 0);
}

/*
 * The LUN takes the image's size at open: a 16 MiB simulated LUN on an
 * 8 MiB image becomes 8 MiB (configfs control written, READ CAPACITY says
 * so). Without configfs, a LUN larger than the image is refused and a
 * smaller one is served as it is.
 */
static void test_open_size_from_image(void **state)
{
	char ctl[128], path[700];
	struct sim_io io;
	uint64_t bytes = 0;
	struct th t;

	rt_image_create("size1", 8 << 20);
	assert_int_equal(th_start(&t, "rbd", rt_cfg("size1", ""), NULL), 0);
	rt_control(ctl, sizeof(ctl));
	assert_string_equal(ctl, "dev_size=8388608");
	assert_int_equal(rt_read_capacity(&t, &io, &bytes), TH_GOOD);
	assert_int_equal(bytes, 8 << 20);
	th_stop(&t);

	/* no configfs to resize the LUN through */
	snprintf(path, sizeof(path), "%s/core/user_1/sim/control", rt.tmp);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(th_start(&t, "rbd", rt_cfg("size1", ""), NULL), -EINVAL);
	rt_image_create("size2", 32 << 20);
	assert_int_equal(th_start(&t, "rbd", rt_cfg("size2", ""), NULL), 0);
	assert_int_equal(rt_read_capacity(&t, &io, &bytes), TH_GOOD);
	assert_int_equal(bytes, 16 << 20);
	th_stop(&t);
	assert_int_equal(rt_sh(": > '%s'", path), 0);
	rt_image_remove("size1");
	rt_image_remove("size2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_config_cluster),
		cmocka_unit_test(test_open_refusals),
		cmocka_unit_test(test_open_size_from_image),
	};
	int r = rt_prereq();

	if (r)
		return r;
	return cmocka_run_group_tests(tests, rt_setup, rt_teardown);
}
