/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rangelock.c — shared/exclusive locks on inclusive ranges of guest
 * clusters. Readers and in-place writers share; allocating writers and
 * discards are exclusive. The list holds one entry per request in flight,
 * so a linear scan is cheap. Any thread; rl_lock() blocks.
 */
#include "qimg_int.h"

void rl_init(struct rangelock *rl)
{
	pthread_mutex_init(&rl->mu, NULL);
	pthread_cond_init(&rl->cv, NULL);
	rl->head = NULL;
}

void rl_destroy(struct rangelock *rl)
{
	pthread_cond_destroy(&rl->cv);
	pthread_mutex_destroy(&rl->mu);
}

static bool rl_conflicts(const struct rangelock *rl, uint64_t first,
			 uint64_t last, bool excl)
{
	for (const struct rl_entry *e = rl->head; e; e = e->next) {
		if (e->last < first || e->first > last)
			continue;
		if (excl || e->excl)
			return true;
	}
	return false;
}

void rl_lock(struct rangelock *rl, struct rl_entry *e, uint64_t first,
	     uint64_t last, bool excl)
{
	e->first = first;
	e->last = last;
	e->excl = excl;
	pthread_mutex_lock(&rl->mu);
	while (rl_conflicts(rl, first, last, excl))
		pthread_cond_wait(&rl->cv, &rl->mu);
	e->next = rl->head;
	rl->head = e;
	pthread_mutex_unlock(&rl->mu);
}

void rl_unlock(struct rangelock *rl, struct rl_entry *e)
{
	pthread_mutex_lock(&rl->mu);
	for (struct rl_entry **pp = &rl->head; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	pthread_cond_broadcast(&rl->cv);
	pthread_mutex_unlock(&rl->mu);
}
