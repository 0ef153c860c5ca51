/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/devtable_kernel.c — devtable_ops bound to libtcmu: what the
 * daemon uses against the real kernel.
 */
#include <errno.h>
#include <string.h>

#include "devtable.h"

/*
 * Replace the config string before tcmu_device_start(), so the handler
 * never sees the daemon's options. The info lives inside the (non-const)
 * device object and the ring thread is not running yet, so writing it
 * through the accessor's pointer is safe. Main thread. Returns 0 or
 * -ENAMETOOLONG.
 */
static int kernel_set_cfgstring(struct tcmu_device *dev, const char *cfg)
{
	struct tcmu_device_info *info =
		(struct tcmu_device_info *)tcmu_device_get_info(dev);

	if (strlen(cfg) >= sizeof(info->cfgstring))
		return -ENAMETOOLONG;
	memmove(info->cfgstring, cfg, strlen(cfg) + 1);
	return 0;
}

const struct devtable_ops devtable_kernel_ops = {
	.open_uio = tcmu_device_open_uio,
	.close = tcmu_device_close,
	.get_info = tcmu_device_get_info,
	.set_cfgstring = kernel_set_cfgstring,
	.start = tcmu_device_start,
	.stop = tcmu_device_stop,
	.reconfig = tcmu_device_reconfig,
	.set_cmd_timeout = tcmu_device_set_cmd_timeout,
	.parse_uio_name = tcmu_parse_uio_name,
	.block_dev = tcmu_cfgfs_block_dev,
	.reset_ring = tcmu_cfgfs_reset_ring,
	.set_busy_poll = tcmu_device_set_busy_poll,
};
