/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/xcopy.c — EXTENDED COPY (LID1) and RECEIVE COPY RESULTS
 * (SPC-4 6.4, 6.20; the LID1 formats of SPC-3), between the LUNs this
 * process serves.
 *
 * Supported: identification CSCD descriptors (E4h) naming a disk by its
 * NAA designator (VPD 83h), and block-to-block segment descriptors (02h),
 * copied chunk by chunk through a bounce buffer: read from the source,
 * then write to the destination.
 *
 * I/O on the device that received the command goes through runner_call()
 * as usual. I/O on another device runs on *that* device's ring thread
 * and handler, through a proxy: an internal command of the other device,
 * posted to its ring thread with tcmu_cmd_done() (any thread may call it),
 * which issues the handler call there and, when it completes, posts the
 * result back to the copy command with tcmu_cmd_done() again. Proxies are
 * listed under the registry lock, so that a device going away fails the
 * copies waiting on it, and a copy whose own device goes away is
 * forgotten rather than resumed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi_priv.h"

#define XC_MAX_CSCD 16
#define XC_MAX_SEG 256
#define XC_MAX_PLEN (16 + XC_MAX_CSCD * 32 + XC_MAX_SEG * 28)
#define XC_MAX_SEG_BLOCKS 0xffffu
#define XC_RESULTS 8 /* results kept for RECEIVE COPY RESULTS */

/* COPY OPERATION STATUS values */
#define XC_IN_PROGRESS 0x00
#define XC_DONE_OK 0x01
#define XC_DONE_ERR 0x02

struct xc_target {
	struct scsi_dev *sd;  /* valid while scsi_registry_alive(sd, uid) */
	uint64_t uid;
	bool local;           /* the device that received the command */
	uint32_t bs;
	uint64_t nlbas;
};

struct xc_seg {
	uint16_t src, dst;
	uint32_t nblocks;
	uint64_t src_lba, dst_lba;
};

struct xc_state {
	struct xc_target tgt[XC_MAX_CSCD];
	struct xc_seg seg[XC_MAX_SEG];
	size_t nseg;
	size_t cur;           /* segment being copied */
	uint64_t done;        /* blocks of it copied */
	uint32_t chunk;       /* blocks of the chunk in flight */
	uint64_t total;       /* blocks copied */
	int result_slot;      /* index into the device's results, or -1 */
	uint8_t usage;        /* LIST ID USAGE */
	bool writing;
};

/* One handler call on another device on behalf of a copy. */
struct xc_proxy {
	struct scsi_list link;    /* xc_proxies, under the registry lock */
	struct tcmu_cmd *pcmd;    /* internal command of the target device */
	struct scsi_dev *target;
	struct scsi_dev *owner_sd;
	struct tcmu_cmd *owner;   /* the EXTENDED COPY command */
	bool orphan;              /* the owner's device is gone */
	bool write;
	uint64_t lba, nlb;        /* range, for the target's write lock */
};

static struct scsi_list xc_proxies = { &xc_proxies, &xc_proxies };

struct xc_result {
	bool used;
	uint8_t list_id;
	uint8_t status;
	uint16_t segs;
	uint64_t bytes;
};

/* Per-device results; kept in a small table hung off the scsi_dev. */
static struct xc_result *results_of(struct scsi_dev *sd)
{
	if (!sd->xc_results)
		sd->xc_results = calloc(XC_RESULTS, sizeof(struct xc_result));
	return sd->xc_results;
}

/* ---------------------------------------------------------------- */
/* Proxies                                                           */
/* ---------------------------------------------------------------- */

static void xc_resume(struct tcmu_cmd *cmd, int result);

/* Target ring thread: the handler call is done; post the result home. */
static void proxy_io_done(struct tcmu_cmd *pcmd, int result)
{
	struct scsi_cstate *cs = pcmd->core_priv;
	struct xc_proxy *p = cs->ext; /* see proxy_call() */

	scsi_registry_lock();
	scsi_list_del(&p->link);
	cs->ext = NULL;
	if (!p->orphan) {
		p->owner->cont = xc_resume;
		p->owner->in_handler = false;
		/* Under the lock: the owner's device cannot be freed meanwhile. */
		tcmu_cmd_done(p->owner, result);
	}
	scsi_registry_unlock();
	scsi_internal_cmd_free(pcmd);
	free(p);
}

static void proxy_issue(struct tcmu_cmd *pcmd)
{
	runner_call(pcmd, proxy_io_done);
}

/* Target ring thread: the proxy arrived; order writes, call the handler. */
static void proxy_start(struct tcmu_cmd *pcmd, int result)
{
	struct scsi_cstate *cs = pcmd->core_priv;
	struct xc_proxy *p = cs->ext;

	(void)result;
	if (p->write &&
	    !scsi_lock(pcmd, SCSI_LOCK_SHARED, p->lba, p->nlb, proxy_issue))
		return;
	proxy_issue(pcmd);
}

/*
 * Run @io of the copy command @cmd on the device of @t (not @cmd's own).
 * Ring thread of @cmd. Returns 0, or -ENODEV / -ENOMEM (nothing started).
 */
static int proxy_call(struct tcmu_cmd *cmd, struct xc_target *t,
		      const struct tcmu_io *io, bool write, uint64_t lba,
		      uint64_t nlb)
{
	struct xc_proxy *p = calloc(1, sizeof(*p));
	struct tcmu_cmd *pcmd;
	struct scsi_cstate *cs;

	if (!p)
		return -ENOMEM;
	scsi_registry_lock();
	if (!scsi_registry_alive(t->sd, t->uid)) {
		scsi_registry_unlock();
		free(p);
		return -ENODEV;
	}
	pcmd = scsi_internal_cmd_new(t->sd->dev);
	cs = pcmd ? scsi_cstate_get(pcmd) : NULL;
	if (!cs) {
		if (pcmd)
			scsi_internal_cmd_free(pcmd);
		scsi_registry_unlock();
		free(p);
		return -ENOMEM;
	}
	cs->ext = p; /* not ext_free: the proxy is freed by its owner path */
	p->pcmd = pcmd;
	p->target = t->sd;
	p->owner_sd = cmd->dev->scsi;
	p->owner = cmd;
	p->write = write;
	p->lba = lba;
	p->nlb = nlb;
	pcmd->io = *io;
	scsi_list_add_tail(&xc_proxies, &p->link);
	/* Post it to the target's ring thread. */
	pcmd->cont = proxy_start;
	pcmd->in_handler = false;
	tcmu_cmd_done(pcmd, 0);
	scsi_registry_unlock();
	return 0;
}

/*
 * xcopy_dev_gone — see scsi_priv.h. Main thread, registry lock held, the
 * ring thread of @sd stopped: copies waiting on @sd fail with -ENODEV;
 * proxies working for copies of @sd will not resume them.
 */
void xcopy_dev_gone(struct scsi_dev *sd)
{
	struct scsi_list *l;

	for (l = xc_proxies.next; l != &xc_proxies; l = l->next) {
		struct xc_proxy *p = scsi_container_of(l, struct xc_proxy, link);

		if (p->owner_sd == sd)
			p->orphan = true;
	}
again:
	for (l = xc_proxies.next; l != &xc_proxies; l = l->next) {
		struct xc_proxy *p = scsi_container_of(l, struct xc_proxy, link);

		if (p->target != sd)
			continue;
		scsi_list_del(&p->link);
		((struct scsi_cstate *)p->pcmd->core_priv)->ext = NULL;
		if (!p->orphan) {
			p->owner->cont = xc_resume;
			p->owner->in_handler = false;
			tcmu_cmd_done(p->owner, -ENODEV);
		}
		scsi_internal_cmd_free(p->pcmd);
		free(p);
		goto again; /* the owner may have changed the list */
	}
	free(sd->xc_results);
	sd->xc_results = NULL;
}

/* ---------------------------------------------------------------- */
/* The copy                                                          */
/* ---------------------------------------------------------------- */

static void xc_next(struct tcmu_cmd *cmd);

static void xc_finish(struct tcmu_cmd *cmd, int result)
{
	struct scsi_cstate *cs = cmd->core_priv;
	struct xc_state *x = cs->ext;
	struct xc_result *r = results_of(cmd->dev->scsi);

	if (x->result_slot >= 0 && r) {
		struct xc_result *res = &r[x->result_slot];

		res->status = result ? XC_DONE_ERR : XC_DONE_OK;
		res->segs = (uint16_t)x->cur;
		res->bytes = x->total * x->tgt[x->seg[0].src].bs;
		if (x->usage != 0)
			res->used = false; /* results not held */
	}
	if (!result) {
		scsi_done_good(cmd);
		return;
	}
	{
		struct scsi_sense s = {
			.key = TCMU_SENSE_COPY_ABORTED,
			.asc = result == -ENODEV ?
				       TCMU_ASC_COPY_TARGET_DEVICE_NOT_REACHABLE :
			       x->writing ? TCMU_ASC_WRITE_ERROR :
					    TCMU_ASC_READ_ERROR,
		};

		if (cmd->sense_set || result == -EILSEQ) {
			scsi_complete_result(cmd, result);
			return;
		}
		scsi_done_sense(cmd, &s);
	}
}

/* Issue I/O on target @t: locally, or through a proxy. */
static void xc_io(struct tcmu_cmd *cmd, struct xc_target *t, bool write,
		  uint64_t lba)
{
	struct scsi_cstate *cs = cmd->core_priv;
	struct xc_state *x = cs->ext;
	struct tcmu_io io = { 0 };
	int ret;

	x->writing = write;
	io.op = write ? TCMU_IO_WRITE : TCMU_IO_READ;
	io.offset = lba * t->bs;
	io.length = (uint64_t)x->chunk * t->bs;
	cs->biov[0].iov_base = cs->buf;
	cs->biov[0].iov_len = (size_t)io.length;
	io.iov = cs->biov;
	io.iovcnt = 1;
	if (write)
		io.flags = scsi_write_flags(t->local ? cmd->dev : t->sd->dev,
					    false);
	if (t->local) {
		cmd->io = io;
		runner_call(cmd, xc_resume);
		return;
	}
	ret = proxy_call(cmd, t, &io, write, lba, x->chunk);
	if (ret)
		xc_finish(cmd, ret);
}

/* A local write waited for the write lock: issue it now. */
static void xc_write_locked(struct tcmu_cmd *cmd)
{
	struct xc_state *x = ((struct scsi_cstate *)cmd->core_priv)->ext;
	const struct xc_seg *s = &x->seg[x->cur];

	xc_io(cmd, &x->tgt[s->dst], true, s->dst_lba + x->done);
}

/* Ring thread of @cmd: a read or write of the copy completed. */
static void xc_resume(struct tcmu_cmd *cmd, int result)
{
	struct scsi_cstate *cs = cmd->core_priv;
	struct xc_state *x = cs->ext;
	const struct xc_seg *s = &x->seg[x->cur];
	struct xc_target *dst = &x->tgt[s->dst];

	if (x->writing && dst->local) {
		scsi_unlock(cmd->dev->scsi, cs);
		scsi_run_ready(cmd->dev->scsi);
	}
	if (result) {
		xc_finish(cmd, result);
		return;
	}
	if (!x->writing) {
		/* Chunk read: write it. */
		x->writing = true;
		if (dst->local &&
		    !scsi_lock(cmd, SCSI_LOCK_SHARED, s->dst_lba + x->done,
			       x->chunk, xc_write_locked))
			return;
		xc_io(cmd, dst, true, s->dst_lba + x->done);
		return;
	}
	x->done += x->chunk;
	x->total += x->chunk;
	if (x->done >= s->nblocks) {
		x->cur++;
		x->done = 0;
	}
	xc_next(cmd);
}

static void xc_next(struct tcmu_cmd *cmd)
{
	struct scsi_cstate *cs = cmd->core_priv;
	struct xc_state *x = cs->ext;
	const struct xc_seg *s;

	while (x->cur < x->nseg && !x->seg[x->cur].nblocks)
		x->cur++;
	if (x->cur >= x->nseg) {
		xc_finish(cmd, 0);
		return;
	}
	s = &x->seg[x->cur];
	x->chunk = (uint32_t)SCSI_MIN((uint64_t)(s->nblocks - x->done),
				      (uint64_t)(cs->buf_len / x->tgt[s->src].bs));
	x->writing = false;
	xc_io(cmd, &x->tgt[s->src], false, s->src_lba + x->done);
}

/* ---------------------------------------------------------------- */
/* Parsing                                                           */
/* ---------------------------------------------------------------- */

static void done_param(struct tcmu_cmd *cmd, uint16_t asc, unsigned int byte,
		       int bit)
{
	struct scsi_sense s = { .key = TCMU_SENSE_ILLEGAL_REQUEST, .asc = asc };

	scsi_sks_field(&s, false, byte, bit);
	scsi_done_sense(cmd, &s);
}

/* Parse an identification CSCD descriptor (E4h) at @d (offset @off). */
static bool parse_e4(struct tcmu_cmd *cmd, const uint8_t *d, unsigned int off,
		     struct xc_target *t)
{
	uint32_t dbl = tcmu_get_be24(&d[29]);

	if (d[1] & 0xc0) { /* LU ID TYPE: only the designator itself */
		scsi_done_invalid_param(cmd, off + 1, 7);
		return false;
	}
	if (d[1] & 0x20) { /* NUL: no null device */
		scsi_done_invalid_param(cmd, off + 1, 5);
		return false;
	}
	if ((d[1] & 0x1f) != TCMU_SCSI_TYPE_DISK) {
		scsi_done_invalid_param(cmd, off + 1, 4);
		return false;
	}
	if ((d[4] & 0x0f) != 0x01 || (d[5] & 0x30) || (d[5] & 0x0f) != 0x03 ||
	    d[7] != 16 || (d[8] >> 4) != 0x6) {
		/* Only NAA IEEE Registered Extended designators of a LU. */
		scsi_done_invalid_param(cmd, off + 5, 3);
		return false;
	}
	t->sd = scsi_registry_find_naa(&d[8], &t->uid);
	if (!t->sd) {
		struct scsi_sense s = {
			.key = TCMU_SENSE_COPY_ABORTED,
			.asc = TCMU_ASC_COPY_TARGET_DEVICE_NOT_REACHABLE,
		};

		scsi_done_sense(cmd, &s);
		return false;
	}
	t->local = t->sd == cmd->dev->scsi;
	scsi_registry_lock();
	if (!scsi_registry_alive(t->sd, t->uid)) {
		scsi_registry_unlock();
		scsi_done_check(cmd, TCMU_SENSE_COPY_ABORTED,
				TCMU_ASC_COPY_TARGET_DEVICE_NOT_REACHABLE);
		return false;
	}
	t->bs = scsi_block_size(t->sd->dev);
	t->nlbas = scsi_num_lbas(t->sd->dev);
	scsi_registry_unlock();
	if (dbl && dbl != t->bs) {
		scsi_done_invalid_param(cmd, off + 29, 7);
		return false;
	}
	return true;
}

static int find_slot(struct scsi_dev *sd, uint8_t list_id, bool in_progress)
{
	struct xc_result *r = results_of(sd);

	for (int i = 0; r && i < XC_RESULTS; i++)
		if (r[i].used && r[i].list_id == list_id &&
		    (!in_progress || r[i].status == XC_IN_PROGRESS))
			return i;
	return -1;
}

/* EXTENDED COPY (LID1). */
void spc_extended_copy(struct tcmu_cmd *cmd)
{
	struct scsi_dev *sd = cmd->dev->scsi;
	size_t plen = tcmu_get_be32(&cmd->cdb[10]);
	struct scsi_cstate *cs;
	struct xc_state *x;
	size_t cscd_len, seg_len, ncscd, off, end;
	uint8_t *p, usage, list_id;
	uint32_t bs = 0;

	if (plen == 0) {
		scsi_done_good(cmd);
		return;
	}
	if (plen < 16 || plen > cmd->data_len) {
		scsi_done_param_len(cmd);
		return;
	}
	if (plen > XC_MAX_PLEN) {
		done_param(cmd, TCMU_ASC_PARAMETER_LIST_LENGTH_ERROR, 0, -1);
		return;
	}
	cs = scsi_cstate_get(cmd);
	x = cs ? calloc(1, sizeof(*x)) : NULL;
	if (!x) {
		scsi_done_nomem(cmd);
		return;
	}
	cs->ext = x;
	cs->ext_free = free;
	x->result_slot = -1;
	p = cs->buf = malloc(plen);
	if (!p) {
		scsi_done_nomem(cmd);
		return;
	}
	scsi_data_out(cmd, p, plen);

	list_id = p[0];
	usage = (p[1] >> 3) & 0x03;
	if (usage == 1) {
		scsi_done_invalid_param(cmd, 1, 4);
		return;
	}
	cscd_len = tcmu_get_be16(&p[2]);
	seg_len = tcmu_get_be32(&p[8]);
	if (tcmu_get_be32(&p[12])) { /* INLINE DATA LENGTH: none supported */
		scsi_done_invalid_param(cmd, 12, 7);
		return;
	}
	if (16 + cscd_len + seg_len > plen) {
		scsi_done_param_len(cmd);
		return;
	}
	if (cscd_len % 32) {
		scsi_done_invalid_param(cmd, 2, 7);
		return;
	}
	ncscd = cscd_len / 32;
	if (ncscd > XC_MAX_CSCD) {
		done_param(cmd, TCMU_ASC_TOO_MANY_TARGET_DESCRIPTORS, 2, 7);
		return;
	}
	if (usage != 3 && find_slot(sd, list_id, true) >= 0) {
		scsi_done_check(cmd, TCMU_SENSE_ILLEGAL_REQUEST,
				TCMU_ASC_OPERATION_IN_PROGRESS);
		return;
	}

	/* Segment descriptors first: cheap checks before any lookup. */
	for (off = 16 + cscd_len, end = off + seg_len; off < end;) {
		struct xc_seg *s;

		if (end - off < 4) {
			scsi_done_param_len(cmd);
			return;
		}
		if (p[off] != 0x02) {
			done_param(cmd, TCMU_ASC_UNSUPPORTED_SEGMENT_DESCRIPTOR,
				   (unsigned)off, 7);
			return;
		}
		if (tcmu_get_be16(&p[off + 2]) != 0x18) {
			scsi_done_invalid_param(cmd, (unsigned)off + 2, 7);
			return;
		}
		if (end - off < 28) {
			scsi_done_param_len(cmd);
			return;
		}
		if (x->nseg == XC_MAX_SEG) {
			done_param(cmd, TCMU_ASC_TOO_MANY_SEGMENT_DESCRIPTORS,
				   8, 7);
			return;
		}
		s = &x->seg[x->nseg++];
		s->src = tcmu_get_be16(&p[off + 4]);
		s->dst = tcmu_get_be16(&p[off + 6]);
		s->nblocks = tcmu_get_be16(&p[off + 10]);
		s->src_lba = tcmu_get_be64(&p[off + 12]);
		s->dst_lba = tcmu_get_be64(&p[off + 20]);
		if (s->src >= ncscd) {
			scsi_done_invalid_param(cmd, (unsigned)off + 4, 7);
			return;
		}
		if (s->dst >= ncscd) {
			scsi_done_invalid_param(cmd, (unsigned)off + 6, 7);
			return;
		}
		off += 28;
	}

	/* CSCD descriptors: find each device. */
	for (size_t i = 0; i < ncscd; i++) {
		off = 16 + 32 * i;
		if (p[off] != 0xe4) {
			done_param(cmd, TCMU_ASC_UNSUPPORTED_TARGET_DESCRIPTOR,
				   (unsigned)off, 7);
			return;
		}
		if (!parse_e4(cmd, &p[off], (unsigned)off, &x->tgt[i]))
			return;
	}

	/* Every segment inside its devices, one block size, writable. */
	for (size_t i = 0; i < x->nseg; i++) {
		const struct xc_seg *s = &x->seg[i];
		const struct xc_target *src = &x->tgt[s->src];
		const struct xc_target *dst = &x->tgt[s->dst];
		unsigned int at = (unsigned)(16 + cscd_len + 28 * i);

		if (src->bs != dst->bs || (bs && src->bs != bs)) {
			scsi_done_invalid_param(cmd, at + 6, 7);
			return;
		}
		bs = src->bs;
		if (s->src_lba > src->nlbas ||
		    s->nblocks > src->nlbas - s->src_lba ||
		    s->dst_lba > dst->nlbas ||
		    s->nblocks > dst->nlbas - s->dst_lba) {
			scsi_done_lba_range(cmd);
			return;
		}
		if (s->nblocks && !(dst->local ? cmd->dev->handler->write :
				    dst->sd->dev->handler->write)) {
			scsi_done_check(cmd, TCMU_SENSE_DATA_PROTECT,
					TCMU_ASC_WRITE_PROTECTED);
			return;
		}
	}

	/* The bounce buffer replaces the parameter list. */
	free(cs->buf);
	cs->buf_len = SCSI_BOUNCE_MAX;
	cs->buf = malloc(cs->buf_len);
	if (!cs->buf) {
		scsi_done_nomem(cmd);
		return;
	}
	x->usage = usage;
	if (usage != 3) {
		/* A slot: this list id's, else a free one, else a finished one. */
		struct xc_result *r = results_of(sd);
		int slot = find_slot(sd, list_id, false);

		for (int i = 0; r && slot < 0 && i < XC_RESULTS; i++)
			if (!r[i].used)
				slot = i;
		for (int i = 0; r && slot < 0 && i < XC_RESULTS; i++)
			if (r[i].status != XC_IN_PROGRESS)
				slot = i;
		if (slot < 0) {
			scsi_done_check(cmd, TCMU_SENSE_ILLEGAL_REQUEST,
					TCMU_ASC_INSUFFICIENT_RESOURCES);
			return;
		}
		memset(&r[slot], 0, sizeof(r[slot]));
		r[slot].used = true;
		r[slot].list_id = list_id;
		r[slot].status = XC_IN_PROGRESS;
		x->result_slot = slot;
	}
	xc_next(cmd);
}

/* ---------------------------------------------------------------- */
/* RECEIVE COPY RESULTS                                              */
/* ---------------------------------------------------------------- */

static void rcr_copy_status(struct tcmu_cmd *cmd, size_t alloc)
{
	struct scsi_dev *sd = cmd->dev->scsi;
	int slot = find_slot(sd, cmd->cdb[2], false);
	struct xc_result *r = results_of(sd);
	uint8_t buf[12] = { 0 };
	uint64_t kib;

	if (slot < 0) {
		scsi_done_invalid_cdb(cmd, 2, 7);
		return;
	}
	tcmu_put_be32(&buf[0], 8);       /* AVAILABLE DATA */
	buf[4] = r[slot].status;         /* COPY MANAGER STATUS, HDD 0 */
	tcmu_put_be16(&buf[5], r[slot].segs);
	buf[7] = 0x01;                   /* TRANSFER COUNT UNITS: KiB */
	kib = r[slot].bytes >> 10;
	tcmu_put_be32(&buf[8], (uint32_t)SCSI_MIN(kib, 0xffffffffull));
	scsi_data_in(cmd, buf, sizeof(buf), alloc);
	if (r[slot].status != XC_IN_PROGRESS)
		r[slot].used = false; /* reported: forget it */
	scsi_done_good(cmd);
}

static void rcr_operating_params(struct tcmu_cmd *cmd, size_t alloc)
{
	uint8_t buf[46] = { 0 };

	tcmu_put_be32(&buf[0], sizeof(buf) - 4); /* AVAILABLE DATA */
	buf[4] = 0x01;                           /* SNLID */
	tcmu_put_be16(&buf[8], XC_MAX_CSCD);     /* MAXIMUM CSCD DESCRIPTOR COUNT */
	tcmu_put_be16(&buf[10], XC_MAX_SEG);     /* MAXIMUM SEGMENT DESCRIPTOR COUNT */
	tcmu_put_be32(&buf[12], XC_MAX_PLEN);    /* MAXIMUM DESCRIPTOR LIST LENGTH */
	tcmu_put_be32(&buf[16],                  /* MAXIMUM SEGMENT LENGTH */
		      XC_MAX_SEG_BLOCKS * scsi_block_size(cmd->dev));
	tcmu_put_be16(&buf[34], XC_RESULTS);     /* TOTAL CONCURRENT COPIES */
	buf[36] = XC_RESULTS;                    /* MAXIMUM CONCURRENT COPIES */
	buf[37] = 9;                             /* DATA SEGMENT GRANULARITY (log2) */
	buf[43] = 2;                             /* IMPLEMENTED DESCRIPTOR LIST LENGTH */
	buf[44] = 0x02;                          /* block -> block */
	buf[45] = 0xe4;                          /* identification CSCD */
	scsi_data_in(cmd, buf, sizeof(buf), alloc);
	scsi_done_good(cmd);
}

/* RECEIVE COPY RESULTS: COPY STATUS and OPERATING PARAMETERS (LID1). */
void spc_receive_copy_results(struct tcmu_cmd *cmd)
{
	size_t alloc = tcmu_get_be32(&cmd->cdb[10]);

	if ((cmd->cdb[1] & 0x1f) == TCMU_SCSI_RCR_OPERATING_PARAMS)
		rcr_operating_params(cmd, alloc);
	else
		rcr_copy_status(cmd, alloc);
}
