/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/lock.c — ordering of writes against COMPARE AND WRITE
 * (emulated with read + write) and FORMAT UNIT.
 *
 * Every command that modifies blocks holds a lock on its LBA range while its
 * handler calls run: SHARED for ordinary writes (they do not exclude each
 * other), EXCL for an emulated COMPARE AND WRITE or a FORMAT. Two locks
 * conflict when their ranges overlap and one of them is EXCL. A new
 * request waits when it conflicts with a holder or with an earlier waiter
 * (FIFO, so a waiting COMPARE AND WRITE is not starved by later writes).
 *
 * Everything runs on the ring thread, so no mutex is needed. When no EXCL
 * lock is held or waited for, taking and releasing a SHARED lock is O(1).
 */
#include "scsi_priv.h"

static bool conflicts(const struct scsi_cstate *a, const struct scsi_cstate *b)
{
	if (a->lock != SCSI_LOCK_EXCL && b->lock != SCSI_LOCK_EXCL)
		return false;
	return a->lk_start < b->lk_end && b->lk_start < a->lk_end;
}

/* Does @cs conflict with a holder, or a waiter queued before @stop? */
static bool blocked(struct scsi_dev *sd, const struct scsi_cstate *cs,
		    const struct scsi_list *stop)
{
	struct scsi_list *p;

	for (p = sd->active.next; p != &sd->active; p = p->next)
		if (conflicts(cs, scsi_container_of(p, struct scsi_cstate, link)))
			return true;
	for (p = sd->waiting.next; p != &sd->waiting && p != stop; p = p->next)
		if (conflicts(cs, scsi_container_of(p, struct scsi_cstate, link)))
			return true;
	return false;
}

bool scsi_lock_contended(struct scsi_dev *sd, struct scsi_cstate *cs)
{
	if (!blocked(sd, cs, &sd->waiting)) {
		cs->waiting = false;
		scsi_list_add_tail(&sd->active, &cs->link);
		return true;
	}
	cs->waiting = true;
	scsi_list_add_tail(&sd->waiting, &cs->link);
	return false;
}

void scsi_grant_waiters(struct scsi_dev *sd)
{
	struct scsi_list *p, *next;

	for (p = sd->waiting.next; p != &sd->waiting; p = next) {
		struct scsi_cstate *w = scsi_container_of(p, struct scsi_cstate,
							  link);

		next = p->next;
		if (blocked(sd, w, p))
			continue;
		scsi_list_del(&w->link);
		w->waiting = false;
		scsi_list_add_tail(&sd->active, &w->link);
		w->granted = true; /* scsi_run_ready() resumes it */
		sd->nr_granted++;
	}
}

void scsi_resume_granted(struct scsi_dev *sd)
{
	struct scsi_list *p;
	bool again = true;

	sd->running_ready = true;
	/*
	 * Granted waiters are flagged in the active list; resume each once.
	 * A resume may complete commands and grant more, so rescan until
	 * nothing is left to resume.
	 */
	while (again && sd->nr_granted) {
		again = false;
		for (p = sd->active.next; p != &sd->active; p = p->next) {
			struct scsi_cstate *cs =
				scsi_container_of(p, struct scsi_cstate, link);

			if (!cs->granted)
				continue;
			cs->granted = false;
			sd->nr_granted--;
			cs->resume(cs->cmd);
			again = true;
			break;
		}
	}
	sd->running_ready = false;
}
