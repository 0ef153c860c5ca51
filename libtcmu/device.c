/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/device.c — the device object: opening from an fd pair (the
 * simulator and custom transports; tcmu_device_open_uio() in uio.c ends
 * here too), closing, and the accessors handlers use on devices and
 * commands.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "spine.h"

int tcmu_device_open_fd(int event_fd, int map_fd, size_t map_size,
			const struct tcmu_device_info *info,
			struct tcmu_device **out)
{
	struct tcmu_device *dev;
	void *map;
	int ret;

	*out = NULL;
	if (event_fd < 0 || map_fd < 0 || !map_size || !info) {
		ret = -EINVAL;
		goto err_fds;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		ret = -ENOMEM;
		goto err_fds;
	}
	dev->info = *info;
	dev->event_fd = event_fd;
	dev->map_fd = map_fd;
	map = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (map == MAP_FAILED) {
		ret = -errno;
		tcmu_dev_err(dev, "mmap of %zu bytes failed: %s", map_size,
			     strerror(-ret));
		free(dev);
		goto err_fds;
	}
	dev->map = map;
	dev->map_size = map_size;
	ret = ring_init(dev);
	if (ret < 0) {
		munmap(map, map_size);
		free(dev);
		goto err_fds;
	}
	*out = dev;
	return 0;

err_fds:
	if (event_fd >= 0)
		close(event_fd);
	if (map_fd >= 0 && map_fd != event_fd)
		close(map_fd);
	return ret;
}

struct tcmu_device *tcmu_device_close(struct tcmu_device *dev)
{
	if (!dev)
		return NULL;
	if (runner_is_running(dev))
		tcmu_device_stop(dev, 5000);
	runner_destroy(dev);
	ring_free(dev);
	if (dev->map)
		munmap(dev->map, dev->map_size);
	if (dev->event_fd >= 0)
		close(dev->event_fd);
	if (dev->map_fd >= 0 && dev->map_fd != dev->event_fd)
		close(dev->map_fd);
	free(dev);
	return NULL;
}

const struct tcmu_device_info *tcmu_device_get_info(const struct tcmu_device *dev)
{
	return &dev->info;
}

int tcmu_device_get_fd(const struct tcmu_device *dev)
{
	return dev->event_fd;
}

void tcmu_device_get_stats(const struct tcmu_device *dev,
			   struct tcmu_device_stats *st)
{
	struct tcmu_device *d = (struct tcmu_device *)dev;

	st->cmds_completed = atomic_load_explicit(&d->stat_cmds, memory_order_relaxed);
	st->bytes_read = atomic_load_explicit(&d->stat_read_bytes, memory_order_relaxed);
	st->bytes_written = atomic_load_explicit(&d->stat_write_bytes, memory_order_relaxed);
	st->errors = atomic_load_explicit(&d->stat_errors, memory_order_relaxed);
	st->in_flight = atomic_load_explicit(&d->stat_in_flight, memory_order_relaxed);
	st->timeouts = atomic_load_explicit(&d->stat_timeouts, memory_order_relaxed);
	st->aborts = atomic_load_explicit(&d->stat_aborts, memory_order_relaxed);
}

/* ---- commands ---------------------------------------------------------- */

uint16_t tcmu_cmd_get_id(const struct tcmu_cmd *cmd)
{
	return cmd->cmd_id;
}

const uint8_t *tcmu_cmd_get_cdb(const struct tcmu_cmd *cmd, size_t *len)
{
	if (len)
		*len = cmd->cdb_len;
	return cmd->cdb;
}

struct iovec *tcmu_cmd_get_iov(struct tcmu_cmd *cmd, size_t *iovcnt)
{
	if (iovcnt)
		*iovcnt = cmd->iov_cnt;
	return cmd->iov;
}

struct iovec *tcmu_cmd_get_bidi_iov(struct tcmu_cmd *cmd, size_t *iovcnt)
{
	if (iovcnt)
		*iovcnt = cmd->bidi_cnt;
	return cmd->bidi_iov;
}

struct tcmu_device *tcmu_cmd_get_device(const struct tcmu_cmd *cmd)
{
	return cmd->dev;
}

void *tcmu_cmd_priv(struct tcmu_cmd *cmd)
{
	return cmd->hpriv;
}

void tcmu_cmd_set_status(struct tcmu_cmd *cmd, uint8_t status,
			 const uint8_t *sense, size_t sense_len)
{
	cmd->status = status;
	if (sense && sense_len) {
		if (sense_len > TCMU_SENSE_BUFFERSIZE)
			sense_len = TCMU_SENSE_BUFFERSIZE;
		memcpy(cmd->sense, sense, sense_len);
		cmd->sense_len = (uint8_t)sense_len;
		cmd->sense_set = true;
	} else {
		cmd->sense_len = 0;
	}
}

void tcmu_cmd_set_read_len(struct tcmu_cmd *cmd, uint32_t len)
{
	cmd->read_len = len;
	cmd->read_len_set = true;
}

void tcmu_cmd_set_unknown_op(struct tcmu_cmd *cmd)
{
	cmd->unknown_op = true;
}

void tcmu_cmd_set_sense(struct tcmu_cmd *cmd, uint8_t key, uint8_t asc,
			uint8_t ascq)
{
	cmd->sense_len = spine_fixed_sense(cmd->sense, key, asc, ascq);
	cmd->status = SAM_STAT_CHECK_CONDITION_;
	cmd->sense_set = true;
}

void tcmu_cmd_set_miscompare(struct tcmu_cmd *cmd, uint32_t offset)
{
	cmd->miscompare_set = true;
	cmd->miscompare_off = offset;
}

/* ---- device accessors --------------------------------------------------- */

const char *tcmu_dev_get_name(const struct tcmu_device *dev)
{
	return dev->info.name;
}

const char *tcmu_dev_get_cfgstring(const struct tcmu_device *dev)
{
	return dev->info.cfgstring;
}

uint64_t tcmu_dev_get_size(const struct tcmu_device *dev)
{
	return __atomic_load_n(&dev->info.size, __ATOMIC_RELAXED);
}

uint32_t tcmu_dev_get_block_size(const struct tcmu_device *dev)
{
	return dev->info.block_size;
}

uint64_t tcmu_dev_get_num_lbas(const struct tcmu_device *dev)
{
	uint32_t bs = dev->info.block_size;

	return bs ? tcmu_dev_get_size(dev) / bs : 0;
}

uint32_t tcmu_dev_get_max_xfer_len(const struct tcmu_device *dev)
{
	uint64_t len = (uint64_t)dev->info.max_sectors * dev->info.block_size;
	struct tcmu_mailbox mb;
	uint64_t data;

	memcpy(&mb, dev->map, sizeof(mb));
	data = dev->map_size - ((uint64_t)mb.cmdr_off + mb.cmdr_size);
	if (!len || len > data)
		len = data;
	if (len > UINT32_MAX)
		len = UINT32_MAX;
	return (uint32_t)len;
}

bool tcmu_dev_get_write_cache(const struct tcmu_device *dev)
{
	return __atomic_load_n(&dev->info.write_cache, __ATOMIC_RELAXED);
}

void *tcmu_dev_get_private(const struct tcmu_device *dev)
{
	return dev->handler_priv;
}

void tcmu_dev_set_private(struct tcmu_device *dev, void *priv)
{
	dev->handler_priv = priv;
}

int tcmu_dev_set_size(struct tcmu_device *dev, uint64_t size)
{
	int ret;

	ret = tcmu_cfgfs_set_dev_size(&dev->info, size);
	if (ret < 0) {
		tcmu_dev_err(dev, "cannot set the size to %llu: %s",
			     (unsigned long long)size, strerror(-ret));
		return ret;
	}
	__atomic_store_n(&dev->info.size, size, __ATOMIC_RELAXED);
	scsi_capacity_changed(dev);
	return 0;
}
