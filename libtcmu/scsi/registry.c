/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/registry.c — the devices of this process that have a SCSI
 * core (between scsi_dev_init and scsi_dev_free), so that EXTENDED COPY
 * can find a copy target by its VPD 83h NAA designator.
 *
 * One lock guards the list, every device's cached serial and the copy
 * proxies of xcopy.c. It is recursive because, in the synchronous test
 * mode, a proxy posted under the lock completes inline and takes it again.
 * Each device gets a uid, so that a pointer kept across calls is only
 * trusted while the same device is registered (scsi_registry_alive).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "scsi_priv.h"

static pthread_mutex_t reg_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static struct scsi_list reg_head = { &reg_head, &reg_head };
static uint64_t reg_next_uid = 1;

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
		sd->uid = reg_next_uid++;
		scsi_list_add_tail(&reg_head, &sd->reg_link);
		sd->registered = true;
	}
	scsi_registry_unlock();
}

/*
 * scsi_registry_del — unregister @sd, failing the copies that wait on it.
 * Main thread (scsi_dev_free), after its ring thread stopped.
 */
void scsi_registry_del(struct scsi_dev *sd)
{
	scsi_registry_lock();
	xcopy_dev_gone(sd);
	if (sd->registered) {
		scsi_list_del(&sd->reg_link);
		sd->registered = false;
	}
	scsi_registry_unlock();
}

bool scsi_registry_alive(const struct scsi_dev *sd, uint64_t uid)
{
	for (struct scsi_list *p = reg_head.next; p != &reg_head; p = p->next)
		if (scsi_container_of(p, struct scsi_dev, reg_link) == sd)
			return sd->uid == uid;
	return false;
}

/* What is needed to read a device's serial without touching the device. */
struct pending_serial {
	struct scsi_dev *sd;
	uint64_t uid;
	char hba[sizeof(((struct tcmu_device_info *)0)->hba)];
	char dev[sizeof(((struct tcmu_device_info *)0)->dev)];
	char serial[sizeof(((struct scsi_dev *)0)->serial)];
};

/*
 * Read the serials not known yet. configfs is read outside the lock, from
 * copies of the names, so a device removed meanwhile is never touched.
 */
static void refresh_serials(void)
{
	struct pending_serial *ps;
	struct tcmu_device_info *info;
	size_t n = 0, cap = 0;
	struct scsi_list *p;

	scsi_registry_lock();
	for (p = reg_head.next; p != &reg_head; p = p->next)
		cap += !scsi_container_of(p, struct scsi_dev, reg_link)->serial_known;
	if (!cap) {
		scsi_registry_unlock();
		return;
	}
	ps = calloc(cap, sizeof(*ps));
	info = calloc(1, sizeof(*info));
	if (!ps || !info) {
		scsi_registry_unlock();
		free(ps);
		free(info);
		return;
	}
	for (p = reg_head.next; p != &reg_head && n < cap; p = p->next) {
		struct scsi_dev *sd = scsi_container_of(p, struct scsi_dev,
							reg_link);

		if (sd->serial_known)
			continue;
		ps[n].sd = sd;
		ps[n].uid = sd->uid;
		memcpy(ps[n].hba, sd->dev->info.hba, sizeof(ps[n].hba));
		memcpy(ps[n].dev, sd->dev->info.dev, sizeof(ps[n].dev));
		n++;
	}
	scsi_registry_unlock();

	for (size_t i = 0; i < n; i++) {
		memcpy(info->hba, ps[i].hba, sizeof(info->hba));
		memcpy(info->dev, ps[i].dev, sizeof(info->dev));
		scsi_read_serial(info, ps[i].serial, sizeof(ps[i].serial));
	}

	scsi_registry_lock();
	for (size_t i = 0; i < n; i++) {
		struct scsi_dev *sd = ps[i].sd;

		if (!ps[i].serial[0] || !scsi_registry_alive(sd, ps[i].uid) ||
		    sd->serial_known)
			continue;
		memcpy(sd->serial, ps[i].serial, sizeof(sd->serial));
		sd->serial_known = true;
	}
	scsi_registry_unlock();
	free(ps);
	free(info);
}

struct scsi_dev *scsi_registry_find_naa(const uint8_t *naa, uint64_t *uid)
{
	struct scsi_dev *found = NULL;

	refresh_serials();
	scsi_registry_lock();
	for (struct scsi_list *p = reg_head.next; p != &reg_head; p = p->next) {
		struct scsi_dev *sd = scsi_container_of(p, struct scsi_dev,
							reg_link);
		uint8_t id[16];

		if (!sd->serial_known)
			continue;
		vpd_naa_from_serial(sd->serial, id);
		if (!memcmp(id, naa, 16)) {
			found = sd;
			*uid = sd->uid;
			break;
		}
	}
	scsi_registry_unlock();
	return found;
}
