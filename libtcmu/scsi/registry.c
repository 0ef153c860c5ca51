/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/registry.c — the devices of this process that have a SCSI
 * core (between scsi_dev_init and scsi_dev_free), so that EXTENDED COPY
 * can find a copy target by its VPD 83h designator. One mutex guards the
 * list and every device's cached identity (serial number).
 */
#include <pthread.h>
#include <string.h>

#include "scsi_priv.h"

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct scsi_list reg_head = { &reg_head, &reg_head };

void scsi_registry_lock(void)
{
	pthread_mutex_lock(&reg_lock);
}

void scsi_registry_unlock(void)
{
	pthread_mutex_unlock(&reg_lock);
}

/* scsi_registry_add — register @sd. Main thread (scsi_dev_init). */
void scsi_registry_add(struct scsi_dev *sd)
{
	scsi_registry_lock();
	if (!sd->registered) {
		scsi_list_add_tail(&reg_head, &sd->reg_link);
		sd->registered = true;
	}
	scsi_registry_unlock();
}

/* scsi_registry_del — unregister @sd. Main thread (scsi_dev_free). */
void scsi_registry_del(struct scsi_dev *sd)
{
	scsi_registry_lock();
	if (sd->registered) {
		scsi_list_del(&sd->reg_link);
		sd->registered = false;
	}
	scsi_registry_unlock();
}

/*
 * scsi_registry_find_naa — see scsi_priv.h. Compares the first @len bytes
 * (8 or 16) of the devices' NAA designators. Any thread; reads configfs
 * for devices whose serial is not known yet, outside the lock. The device
 * returned stays valid while the caller's own device runs: devices are
 * only removed from the main thread, after their ring thread stopped
 * (see xcopy.c for how a copy survives that).
 */
struct tcmu_device *scsi_registry_find_naa(const uint8_t *naa, size_t len)
{
	struct tcmu_device *devs[256];
	size_t n = 0;
	struct scsi_list *p;

	if (len > 16)
		return NULL;
	scsi_registry_lock();
	for (p = reg_head.next; p != &reg_head && n < SCSI_ARRAY_SIZE(devs);
	     p = p->next)
		devs[n++] = scsi_container_of(p, struct scsi_dev, reg_link)->dev;
	scsi_registry_unlock();

	for (size_t i = 0; i < n; i++) {
		uint8_t id[16];

		vpd_naa(devs[i], id);
		if (id[0] && !memcmp(id, naa, len))
			return devs[i];
	}
	return NULL;
}
