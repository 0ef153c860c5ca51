/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_pub_handler_tutorial.c — the tutorial handler (SERIALIZED
 * model) through the public API and the ring simulator: data integrity,
 * sparse reads, UNMAP and get_lba_status.
 */
#include "test_pub_handler_common.h"

static void test_check_config(void **state)
{
	const struct tcmu_handler *h;
	char *reason = NULL;
	void *dl;

	h = th_load("tutorial", &dl);
	assert_int_equal(h->concurrency, TCMU_CONCURRENCY_SERIALIZED);
	assert_true(h->check_config("demo", &reason));
	assert_false(h->check_config("demo;x=1", &reason));
	assert_non_null(reason);
	free(reason);
	dlclose(dl);
}

static void test_random_io(void **state)
{
	uint8_t *shadow;
	struct th t;

	assert_int_equal(th_start(&t, "tutorial", "demo", NULL), 0);
	shadow = calloc(1, t.size);
	assert_non_null(shadow);
	th_random_io(&t, shadow, 30, 8, 9);
	th_stop(&t);
	free(shadow);
}

static void test_unmap_lba_status(void **state)
{
	const uint64_t chunk = 64 * 1024;
	/* chunk 1 whole, and half of chunk 3 */
	const uint64_t ranges[2][2] = { { chunk / 512, chunk / 512 },
					{ 3 * chunk / 512, chunk / 1024 } };
	uint8_t data[TH_CHUNK], back[TH_CHUNK], zero[TH_CHUNK] = { 0 };
	uint64_t seed = 1, ext;
	bool mapped;
	struct th t;
	int i;

	assert_int_equal(th_start(&t, "tutorial", "demo", NULL), 0);
	/* never written: zeroes, unmapped up to the end */
	assert_int_equal(th_read(&t, 0, TH_CHUNK / 512, back), TH_GOOD);
	assert_memory_equal(back, zero, TH_CHUNK);
	assert_int_equal(t.h->get_lba_status(t.dev, 0, &mapped, &ext), 0);
	assert_false(mapped);
	assert_int_equal(ext, t.size);

	th_fill(data, sizeof(data), &seed);
	for (i = 0; i < 4; i++)
		assert_int_equal(th_write(&t, i * chunk / 512, chunk / 512, data, false), TH_GOOD);
	assert_int_equal(t.h->get_lba_status(t.dev, 512, &mapped, &ext), 0);
	assert_true(mapped);
	assert_int_equal(ext, 4 * chunk - 512);

	assert_int_equal(th_unmap(&t, ranges, 2), TH_GOOD);
	assert_int_equal(th_read(&t, chunk / 512, chunk / 512, back), TH_GOOD);
	assert_memory_equal(back, zero, chunk);
	assert_int_equal(th_read(&t, 3 * chunk / 512, chunk / 512, back), TH_GOOD);
	assert_memory_equal(back, zero, chunk / 2);
	assert_memory_equal(back + chunk / 2, data + chunk / 2, chunk / 2);
	assert_int_equal(t.h->get_lba_status(t.dev, 0, &mapped, &ext), 0);
	assert_true(mapped);
	assert_int_equal(ext, chunk);
	assert_int_equal(t.h->get_lba_status(t.dev, chunk, &mapped, &ext), 0);
	assert_false(mapped);
	assert_int_equal(ext, chunk);
	th_stop(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_random_io),
		cmocka_unit_test(test_unmap_lba_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
