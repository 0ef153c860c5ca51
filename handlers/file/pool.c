/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handlers/file/pool.c — the worker pool of a file device: the whole engine
 * where io_uring is unavailable (or ;engine=threads), and the slow paths
 * beside io_uring. The ring thread queues commands (fh_pool_queue); a
 * worker runs them with blocking system calls (fh_exec_blocking) and
 * completes them with tcmu_cmd_done() from its own thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

static void *fh_pool_worker(void *arg)
{
	struct fh_dev *d = arg;
	struct fh_pool *p = &d->pool;

	for (;;) {
		struct fh_cmd *fc;
		int r;

		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		fc = p->head;
		if (!fc) { /* stopping and nothing left */
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		p->head = fc->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->lock);

		r = fh_exec_blocking(d, fc);
		if (fc->op == FH_OP_UNMAP) {
			free(fc->ranges); /* the copy made by fh_unmap() */
			fc->ranges = NULL;
		}
		tcmu_cmd_done(fc->cmd, r);
	}
}

/*
 * fh_pool_queue — hands @fc to a worker. Any thread (the ring thread in
 * practice); never blocks for long (one mutex).
 */
void fh_pool_queue(struct fh_dev *d, struct fh_cmd *fc)
{
	struct fh_pool *p = &d->pool;

	fc->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = fc;
	else
		p->head = fc;
	p->tail = fc;
	pthread_mutex_unlock(&p->lock);
	pthread_cond_signal(&p->cond);
}

/*
 * fh_pool_start — starts @nr workers. Main thread (open). Returns 0 or
 * -errno (nothing left running).
 */
int fh_pool_start(struct fh_dev *d, unsigned int nr)
{
	struct fh_pool *p = &d->pool;
	int r;

	*p = (struct fh_pool){ 0 };
	p->threads = calloc(nr, sizeof(*p->threads));
	if (!p->threads)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	d->pool_started = true;
	for (p->nr = 0; p->nr < nr; p->nr++) {
		r = pthread_create(&p->threads[p->nr], NULL, fh_pool_worker, d);
		if (r) {
			fh_pool_stop(d);
			return -r;
		}
		pthread_setname_np(p->threads[p->nr], "tcmu-file");
	}
	return 0;
}

/*
 * fh_pool_stop — lets the workers drain the queue, then joins them. Main
 * thread (close); blocks.
 */
void fh_pool_stop(struct fh_dev *d)
{
	struct fh_pool *p = &d->pool;
	unsigned int i;

	if (!d->pool_started)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_mutex_unlock(&p->lock);
	pthread_cond_broadcast(&p->cond);
	for (i = 0; i < p->nr; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	d->pool_started = false;
}
