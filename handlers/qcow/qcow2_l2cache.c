/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qcow2_l2cache.c — a fixed-size cache of cluster-sized metadata tables (L2
 * tables and refcount blocks) keyed by file offset, with a hash for lookup
 * and the clock algorithm for eviction. It is write-through: callers
 * change a cached table and write the changed bytes themselves, so an
 * entry can always be dropped. Called with q2->lock held; q2_cache_get()
 * blocks on a miss.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

#define NONE UINT32_MAX

struct q2_slot {
	uint64_t off; /* 0: empty (offset 0 is the header, never a table) */
	uint32_t next; /* hash chain */
	bool ref;      /* clock reference bit */
	uint8_t *buf;
};

struct q2_cache {
	uint32_t table_size;
	uint32_t nr, hand;
	uint32_t nbuckets; /* power of two */
	uint32_t *bucket;
	struct q2_slot *slot;
};

static uint32_t hash_off(const struct q2_cache *c, uint64_t off)
{
	uint64_t h = (off / c->table_size) * 0x9e3779b97f4a7c15ULL;

	return (uint32_t)(h >> 32) & (c->nbuckets - 1);
}

/* Creates a cache of @nr tables of @table_size bytes; NULL when out of memory. */
struct q2_cache *q2_cache_new(uint32_t table_size, uint32_t nr)
{
	struct q2_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->table_size = table_size;
	c->nr = nr ? nr : 1;
	c->nbuckets = 1;
	while (c->nbuckets < 2 * c->nr)
		c->nbuckets <<= 1;
	c->bucket = malloc(c->nbuckets * sizeof(uint32_t));
	c->slot = calloc(c->nr, sizeof(*c->slot));
	if (!c->bucket || !c->slot) {
		q2_cache_free(c);
		return NULL;
	}
	for (uint32_t i = 0; i < c->nbuckets; i++)
		c->bucket[i] = NONE;
	return c;
}

/* Frees the cache and its tables. */
void q2_cache_free(struct q2_cache *c)
{
	if (!c)
		return;
	if (c->slot)
		for (uint32_t i = 0; i < c->nr; i++)
			free(c->slot[i].buf);
	free(c->slot);
	free(c->bucket);
	free(c);
}

static uint32_t find(const struct q2_cache *c, uint64_t off)
{
	for (uint32_t i = c->bucket[hash_off(c, off)]; i != NONE;
	     i = c->slot[i].next)
		if (c->slot[i].off == off)
			return i;
	return NONE;
}

static void unlink_slot(struct q2_cache *c, uint32_t s)
{
	uint32_t *pp = &c->bucket[hash_off(c, c->slot[s].off)];

	while (*pp != NONE && *pp != s)
		pp = &c->slot[*pp].next;
	if (*pp == s)
		*pp = c->slot[s].next;
	c->slot[s].off = 0;
}

/* Picks a slot to reuse (clock) and binds it to @off. */
static struct q2_slot *claim(struct q2_cache *c, uint64_t off)
{
	struct q2_slot *s;
	uint32_t i, h;

	for (;;) {
		i = c->hand;
		c->hand = (c->hand + 1) % c->nr;
		s = &c->slot[i];
		if (!s->off || !s->ref)
			break;
		s->ref = false;
	}
	if (!s->buf) {
		s->buf = malloc(c->table_size);
		if (!s->buf)
			return NULL;
	}
	if (s->off)
		unlink_slot(c, i);
	h = hash_off(c, off);
	s->off = off;
	s->ref = true;
	s->next = c->bucket[h];
	c->bucket[h] = i;
	return s;
}

void *q2_cache_get(struct q2_cache *c, struct q2 *q, uint64_t off, int *err)
{
	uint32_t i = find(c, off);
	struct q2_slot *s;
	int ret;

	if (i != NONE) {
		c->slot[i].ref = true;
		return c->slot[i].buf;
	}
	if (!off || off % c->table_size || off > q2_file_size(q) ||
	    c->table_size > q2_file_size(q) - off) {
		*err = -EUCLEAN;
		return NULL;
	}
	s = claim(c, off);
	if (!s) {
		*err = -ENOMEM;
		return NULL;
	}
	ret = qf_pread(q->fd, s->buf, c->table_size, off);
	if (ret < 0) {
		q2_cache_drop(c, off);
		*err = ret;
		return NULL;
	}
	return s->buf;
}

void *q2_cache_get_new(struct q2_cache *c, uint64_t off)
{
	uint32_t i = find(c, off);
	struct q2_slot *s;

	if (i != NONE) {
		memset(c->slot[i].buf, 0, c->table_size);
		c->slot[i].ref = true;
		return c->slot[i].buf;
	}
	s = claim(c, off);
	if (!s)
		return NULL;
	memset(s->buf, 0, c->table_size);
	return s->buf;
}

void q2_cache_drop(struct q2_cache *c, uint64_t off)
{
	uint32_t i = find(c, off);

	if (i != NONE) {
		unlink_slot(c, i);
		c->slot[i].ref = false;
	}
}
