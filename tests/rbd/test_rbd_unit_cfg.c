/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/rbd/test_rbd_unit_cfg.c — the rbd handler's check_config on config
 * strings it refuses before it would look at a file or a cluster: syntax,
 * names, options and their values. Needs no Ceph cluster (label "unit").
 */
#include "test_pub_handler_common.h"

/* check_config(@cfg) is refused with @want in the reason. */
static void check(const struct tcmu_handler *h, const char *cfg, const char *want)
{
	char *reason = NULL;

	if (h->check_config(cfg, &reason))
		fail_msg("'%s' accepted, expected a refusal with '%s'", cfg, want);
	assert_non_null(reason);
	if (!strstr(reason, want))
		fail_msg("'%s': reason '%s' lacks '%s'", cfg, reason, want);
	free(reason);
}

static void test_check_config_syntax(void **state)
{
	const struct tcmu_handler *h;
	void *dl;

	h = th_load("rbd", &dl);
	assert_non_null(h->check_config);
	assert_int_equal(h->concurrency, TCMU_CONCURRENCY_ASYNC);
	assert_false(h->unmap_zeroes);
	check(h, "", "no image");
	check(h, "rbd", "not <pool>/<image>");
	check(h, "rbd/", "bad image name");
	check(h, "/img", "bad pool name");
	check(h, "rbd/ns/img/x", "too many '/'");
	check(h, "rbd//img", "bad namespace");
	check(h, "rbd/img@snap", "snapshots are not supported");
	check(h, "rbd/img;bogus=1", "unknown option 'bogus'");
	check(h, "rbd/img;id", "needs a value");
	check(h, "rbd/img;id=", "bad id");
	check(h, "rbd/img;osd_op_timeout=abc", "osd_op_timeout");
	check(h, "rbd/img;osd_op_timeout=-1", "osd_op_timeout");
	check(h, "rbd/img;osd_op_timeout=86401", "osd_op_timeout");
	check(h, "rbd/img;osd_op_timeout=", "osd_op_timeout");
	check(h, "rbd/img;conf=etc/ceph.conf", "absolute path");
	check(h, "rbd/img;conf=/nonexistent/ceph.conf", "cannot read the ceph config");
	check(h, "rbd/img;conf=/etc/ceph/ceph.conf;frob", "needs a value");
	check(h, "rbd/img;;;osd_op_timeout=1x", "osd_op_timeout");
	check(h, "rbd/img;id=client.", "bad id");
	check(h, "rbd/img;id=a b", "bad id");
	check(h, "rbd/i\tmg", "bad image name");
	dlclose(dl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_config_syntax),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
