/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/core.c — the SCSI core's entry points: per-device state,
 * the table of supported commands, dispatch, unit attentions and the
 * completion path shared by every emulation.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "scsi_priv.h"

/* Bits of the CDB usage data used by the table below. */
#define RW_FLAGS 0xf8 /* xxPROTECT, DPO, FUA */
#define LBA4 0xff, 0xff, 0xff, 0xff
#define LBA8 LBA4, LBA4

#define OP(o, l, f, fn_, t, ...) \
	{ .opcode = o, .cdb_len = l, .flags = f, .fn = fn_, .timeout = t, \
	  .usage = { o, __VA_ARGS__ } }
#define OPSA(o, s, l, f, fn_, t, ...) \
	{ .opcode = o, .sa = s, .cdb_len = l, .flags = (f) | SCSI_OPF_SA, \
	  .fn = fn_, .timeout = t, .usage = { o, __VA_ARGS__ } }

#define M SCSI_OPF_MEDIUM
#define IO_TMO 30
#define CTL_TMO 10

/*
 * Every supported command, sorted by opcode then service action. The
 * usage bytes are the CDB USAGE DATA of REPORT SUPPORTED OPERATION CODES
 * (SPC-4 6.35): byte 0 the opcode, a service action in its field, and a
 * one for every other CDB bit the device server looks at.
 */
const struct scsi_op scsi_ops[] = {
	OP(TCMU_SCSI_OP_TEST_UNIT_READY, 6, 0, spc_test_unit_ready, CTL_TMO,
	   0, 0, 0, 0, 0),
	OP(TCMU_SCSI_OP_REQUEST_SENSE, 6, SCSI_OPF_NO_UA | SCSI_OPF_FORMAT_OK,
	   spc_request_sense, CTL_TMO, 0x01, 0, 0, 0xff, 0),
	OP(TCMU_SCSI_OP_FORMAT_UNIT, 6, M,
	   sbc_format_unit, 3600, 0xff, 0, 0, 0, 0),
	OP(TCMU_SCSI_OP_READ_6, 6, M, sbc_read, IO_TMO, 0x1f, 0xff, 0xff, 0xff,
	   0),
	OP(TCMU_SCSI_OP_WRITE_6, 6, M, sbc_write, IO_TMO, 0x1f, 0xff, 0xff,
	   0xff, 0),
	OP(TCMU_SCSI_OP_INQUIRY, 6, SCSI_OPF_NO_UA | SCSI_OPF_FORMAT_OK,
	   spc_inquiry, CTL_TMO, 0x01, 0xff, 0xff, 0xff, 0),
	OP(TCMU_SCSI_OP_MODE_SELECT_6, 6, 0, spc_mode_select, CTL_TMO, 0x11, 0,
	   0, 0xff, 0),
	OP(TCMU_SCSI_OP_MODE_SENSE_6, 6, 0, spc_mode_sense, CTL_TMO, 0x08, 0xff,
	   0xff, 0xff, 0),
	OP(TCMU_SCSI_OP_START_STOP_UNIT, 6, M, spc_start_stop, IO_TMO, 0x01, 0,
	   0x0f, 0xf7, 0),
	OP(TCMU_SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL, 6, 0, spc_prevent_allow,
	   CTL_TMO, 0, 0, 0, 0x03, 0),
	OP(TCMU_SCSI_OP_READ_CAPACITY_10, 10, 0, sbc_read_capacity10, CTL_TMO,
	   0, LBA4, 0, 0, 0x01, 0),
	OP(TCMU_SCSI_OP_READ_10, 10, M, sbc_read, IO_TMO, RW_FLAGS, LBA4, 0,
	   0xff, 0xff, 0),
	OP(TCMU_SCSI_OP_WRITE_10, 10, M, sbc_write, IO_TMO, RW_FLAGS, LBA4, 0,
	   0xff, 0xff, 0),
	OP(TCMU_SCSI_OP_WRITE_VERIFY_10, 10, M, sbc_write_verify, IO_TMO, 0xf2,
	   LBA4, 0, 0xff, 0xff, 0),
	OP(TCMU_SCSI_OP_VERIFY_10, 10, M, sbc_verify, IO_TMO, 0xf6, LBA4, 0,
	   0xff, 0xff, 0),
	OP(TCMU_SCSI_OP_SYNCHRONIZE_CACHE_10, 10, M, sbc_sync_cache, IO_TMO,
	   0x02, LBA4, 0, 0xff, 0xff, 0),
	OP(TCMU_SCSI_OP_WRITE_SAME_10, 10, M, sbc_write_same, IO_TMO, 0xfe,
	   LBA4, 0, 0xff, 0xff, 0),
	OP(TCMU_SCSI_OP_UNMAP, 10, M | SCSI_OPF_NEED_UNMAP, sbc_unmap, IO_TMO,
	   0x01, 0, 0, 0, 0, 0, 0xff, 0xff, 0),
	OP(TCMU_SCSI_OP_MODE_SELECT_10, 10, 0, spc_mode_select, CTL_TMO, 0x11,
	   0, 0, 0, 0, 0, 0xff, 0xff, 0),
	OP(TCMU_SCSI_OP_MODE_SENSE_10, 10, 0, spc_mode_sense, CTL_TMO, 0x18,
	   0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0),
	OPSA(TCMU_SCSI_OP_EXTENDED_COPY, TCMU_SCSI_EC_LID1, 16,
	     M, spc_extended_copy, 120,
	     TCMU_SCSI_EC_LID1, 0, 0, 0, 0, 0, 0, 0, 0, LBA4, 0, 0),
	OPSA(TCMU_SCSI_OP_RECEIVE_COPY_RESULTS, TCMU_SCSI_RCR_COPY_STATUS, 16,
	     0, spc_receive_copy_results, CTL_TMO, TCMU_SCSI_RCR_COPY_STATUS,
	     0xff, 0, 0, 0, 0, 0, 0, 0, LBA4, 0, 0),
	OPSA(TCMU_SCSI_OP_RECEIVE_COPY_RESULTS, TCMU_SCSI_RCR_OPERATING_PARAMS,
	     16, 0, spc_receive_copy_results, CTL_TMO,
	     TCMU_SCSI_RCR_OPERATING_PARAMS, 0, 0, 0, 0, 0, 0, 0, 0, LBA4, 0,
	     0),
	OP(TCMU_SCSI_OP_READ_16, 16, M, sbc_read, IO_TMO, RW_FLAGS, LBA8, LBA4,
	   0, 0),
	OP(TCMU_SCSI_OP_COMPARE_AND_WRITE, 16, M,
	   sbc_compare_and_write, IO_TMO, RW_FLAGS, LBA8, 0, 0, 0, 0xff, 0, 0),
	OP(TCMU_SCSI_OP_WRITE_16, 16, M, sbc_write, IO_TMO, RW_FLAGS, LBA8,
	   LBA4, 0, 0),
	OP(TCMU_SCSI_OP_WRITE_VERIFY_16, 16, M, sbc_write_verify, IO_TMO, 0xf2,
	   LBA8, LBA4, 0, 0),
	OP(TCMU_SCSI_OP_VERIFY_16, 16, M, sbc_verify, IO_TMO, 0xf6, LBA8, LBA4,
	   0, 0),
	OP(TCMU_SCSI_OP_SYNCHRONIZE_CACHE_16, 16, M, sbc_sync_cache, IO_TMO,
	   0x02, LBA8, LBA4, 0, 0),
	OP(TCMU_SCSI_OP_WRITE_SAME_16, 16, M, sbc_write_same, IO_TMO, 0xff,
	   LBA8, LBA4, 0, 0),
	OPSA(TCMU_SCSI_OP_SERVICE_ACTION_IN_16, TCMU_SCSI_SAI_READ_CAPACITY_16,
	     16, 0, sbc_read_capacity16, CTL_TMO, TCMU_SCSI_SAI_READ_CAPACITY_16,
	     0, 0, 0, 0, 0, 0, 0, 0, LBA4, 0, 0),
	OPSA(TCMU_SCSI_OP_SERVICE_ACTION_IN_16, TCMU_SCSI_SAI_GET_LBA_STATUS,
	     16, M, sbc_get_lba_status, CTL_TMO, TCMU_SCSI_SAI_GET_LBA_STATUS,
	     LBA8, LBA4, 0, 0),
	OPSA(TCMU_SCSI_OP_MAINTENANCE_IN, TCMU_SCSI_MI_REPORT_TARGET_PGS, 12,
	     SCSI_OPF_ALUA, spc_report_tpgs, CTL_TMO, 0xe0 | TCMU_SCSI_MI_REPORT_TARGET_PGS, 0,
	     0, 0, 0, LBA4, 0, 0),
	OPSA(TCMU_SCSI_OP_MAINTENANCE_IN, TCMU_SCSI_MI_REPORT_SUPPORTED_OPCODES,
	     12, SCSI_OPF_FORMAT_OK, spc_report_opcodes, CTL_TMO,
	     TCMU_SCSI_MI_REPORT_SUPPORTED_OPCODES, 0x87, 0xff, 0xff, 0xff, LBA4,
	     0, 0),
	OPSA(TCMU_SCSI_OP_MAINTENANCE_OUT, TCMU_SCSI_MO_SET_TARGET_PGS, 12,
	     SCSI_OPF_ALUA, spc_set_tpgs, CTL_TMO, TCMU_SCSI_MO_SET_TARGET_PGS, 0, 0, 0, 0,
	     LBA4, 0, 0),
	OP(TCMU_SCSI_OP_READ_12, 12, M, sbc_read, IO_TMO, RW_FLAGS, LBA4, LBA4,
	   0, 0),
	OP(TCMU_SCSI_OP_WRITE_12, 12, M, sbc_write, IO_TMO, RW_FLAGS, LBA4, LBA4,
	   0, 0),
	OP(TCMU_SCSI_OP_WRITE_VERIFY_12, 12, M, sbc_write_verify, IO_TMO, 0xf2,
	   LBA4, LBA4, 0, 0),
};
const size_t scsi_ops_count = SCSI_ARRAY_SIZE(scsi_ops);

#undef M

bool scsi_op_conditional_enabled(const struct tcmu_device *dev,
				 const struct scsi_op *op)
{
	const struct tcmu_handler *h = dev->handler;

	if ((op->flags & SCSI_OPF_NEED_UNMAP) && !(h && h->unmap))
		return false;
	if (op->flags & SCSI_OPF_ALUA) /* REPORT / SET TARGET PORT GROUPS */
		return alua_read_groups((struct tcmu_device *)dev, NULL, 0) > 0;
	return true;
}

/*
 * First table entry of each opcode (table order is by opcode), built once
 * by the first scsi_dev_init(): every command reaches lookup() through a
 * device that was initialised before its ring thread started, so the
 * ring threads only read it (no pthread_once per command).
 */
static const struct scsi_op *op_first[256];
/* The entry of each opcode that has no service actions (one load). */
static const struct scsi_op *op_only[256];
static pthread_once_t op_once = PTHREAD_ONCE_INIT;

static void build_index(void)
{
	for (size_t i = scsi_ops_count; i-- > 0;) {
		op_first[scsi_ops[i].opcode] = &scsi_ops[i];
		if (!(scsi_ops[i].flags & SCSI_OPF_SA))
			op_only[scsi_ops[i].opcode] = &scsi_ops[i];
	}
}

/* The entry for @cdb's opcode (and service action), or NULL. */
static const struct scsi_op *lookup(const uint8_t *cdb)
{
	const struct scsi_op *op = op_only[cdb[0]];

	if (op)
		return op;
	for (op = op_first[cdb[0]]; op && op < scsi_ops + scsi_ops_count &&
				    op->opcode == cdb[0];
	     op++) {
		if (!(op->flags & SCSI_OPF_SA) || op->sa == (cdb[1] & 0x1f))
			return op;
	}
	return NULL;
}

/* ---------------------------------------------------------------- */
/* Per-command state                                                 */
/* ---------------------------------------------------------------- */

/* A state from the pool (or malloc); nothing in it is set up. */
static struct scsi_cstate *cstate_take(struct scsi_dev *sd)
{
	struct scsi_cstate *cs;

	if (!scsi_list_empty(&sd->pool)) {
		cs = scsi_container_of(sd->pool.next, struct scsi_cstate, link);
		scsi_list_del(&cs->link);
		return cs;
	}
	return malloc(sizeof(*cs));
}

struct scsi_cstate *scsi_cstate_get(struct tcmu_cmd *cmd)
{
	struct scsi_dev *sd = cmd->dev->scsi;
	struct scsi_cstate *cs = cmd->core_priv;

	if (cs) {
		if (cs->light) { /* set up the scratch part now */
			memset((char *)cs + SCSI_CSTATE_SCRATCH, 0,
			       sizeof(*cs) - SCSI_CSTATE_SCRATCH);
			cs->light = false;
		}
		return cs;
	}
	cs = cstate_take(sd);
	if (!cs)
		return NULL;
	memset(cs, 0, sizeof(*cs));
	scsi_list_init(&cs->link);
	cs->cmd = cmd;
	cmd->core_priv = cs;
	return cs;
}

struct scsi_cstate *scsi_cstate_get_light(struct tcmu_cmd *cmd)
{
	struct scsi_cstate *cs = cstate_take(cmd->dev->scsi);

	if (!cs)
		return NULL;
	scsi_list_init(&cs->link);
	cs->cmd = cmd;
	cs->lock = SCSI_LOCK_NONE;
	cs->waiting = false;
	cs->granted = false;
	cs->light = true;
	cmd->core_priv = cs;
	return cs;
}

static void cstate_put(struct scsi_dev *sd, struct scsi_cstate *cs)
{
	scsi_unlock(sd, cs);
	if (!cs->light) {
		free(cs->buf);
		free(cs->iov);
		free(cs->ranges);
		if (cs->ext && cs->ext_free)
			cs->ext_free(cs->ext);
	}
	cs->cmd = NULL;
	scsi_list_add_tail(&sd->pool, &cs->link);
}

struct tcmu_cmd *scsi_internal_cmd_new(struct tcmu_device *dev)
{
	size_t hp = dev->handler ? dev->handler->cmd_priv_size : 0;
	struct tcmu_cmd *cmd = calloc(1, sizeof(*cmd));

	if (!cmd)
		return NULL;
	if (hp) {
		cmd->hpriv = calloc(1, hp);
		if (!cmd->hpriv) {
			free(cmd);
			return NULL;
		}
	}
	cmd->dev = dev;
	cmd->cmd_id = 0xffff;
	return cmd;
}

void scsi_internal_cmd_free(struct tcmu_cmd *cmd)
{
	struct scsi_dev *sd = cmd->dev->scsi;
	struct scsi_cstate *cs = cmd->core_priv;

	if (cs) {
		cmd->core_priv = NULL;
		cstate_put(sd, cs);
	}
	free(cmd->hpriv);
	free(cmd);
	scsi_run_ready(sd);
}

void scsi_complete(struct tcmu_cmd *cmd)
{
	struct tcmu_device *dev = cmd->dev;
	struct scsi_dev *sd = dev->scsi;
	struct scsi_cstate *cs = cmd->core_priv;

	if (cs) {
		cmd->core_priv = NULL;
		cstate_put(sd, cs);
	}
	runner_finish(cmd);
	if (sd)
		scsi_run_ready(sd);
}

void scsi_complete_result(struct tcmu_cmd *cmd, int result)
{
	scsi_result_to_sense(cmd, result);
	scsi_complete(cmd);
}

void scsi_cont_complete(struct tcmu_cmd *cmd, int result)
{
	scsi_result_to_sense(cmd, result);
	scsi_complete(cmd);
}

/* ---------------------------------------------------------------- */
/* Unit attentions                                                   */
/* ---------------------------------------------------------------- */

/*
 * spc_take_ua — if a unit attention is pending, clear the first one and
 * fill @s with it. Ring thread. Returns true when one was taken.
 */
bool spc_take_ua(struct tcmu_device *dev, struct scsi_sense *s)
{
	struct scsi_dev *sd = dev->scsi;
	unsigned int cur = atomic_load(&sd->ua), bit;

	do {
		if (!cur)
			return false;
		bit = cur & -cur;
	} while (!atomic_compare_exchange_weak(&sd->ua, &cur, cur & ~bit));

	memset(s, 0, sizeof(*s));
	s->key = TCMU_SENSE_UNIT_ATTENTION;
	switch (bit) {
	case SCSI_UA_POWER_ON:
		s->asc = TCMU_ASC_POWER_ON_RESET;
		break;
	case SCSI_UA_CAPACITY:
		s->asc = TCMU_ASC_CAPACITY_DATA_HAS_CHANGED;
		break;
	default:
		s->asc = TCMU_ASC_MODE_PARAMETERS_CHANGED;
		break;
	}
	return true;
}

/*
 * scsi_capacity_changed — see tcmu_internal.h. Any thread; never blocks.
 */
void scsi_capacity_changed(struct tcmu_device *dev)
{
	if (dev && dev->scsi)
		atomic_fetch_or(&dev->scsi->ua, SCSI_UA_CAPACITY);
}

/* ---------------------------------------------------------------- */
/* Device state                                                      */
/* ---------------------------------------------------------------- */

/*
 * scsi_dev_init — see tcmu_internal.h. Main thread, before the ring thread
 * starts; does not block. Returns 0 or -ENOMEM.
 */
int scsi_dev_init(struct tcmu_device *dev)
{
	struct scsi_dev *sd;

	pthread_once(&op_once, build_index); /* for lookup() */
	if (dev->scsi)
		return 0;
	sd = calloc(1, sizeof(*sd));
	if (!sd)
		return -ENOMEM;
	sd->dev = dev;
	atomic_init(&sd->ua, SCSI_UA_POWER_ON);
	sd->wce_seen = scsi_wce(dev);
	scsi_list_init(&sd->active);
	scsi_list_init(&sd->waiting);
	scsi_list_init(&sd->pool);
	scsi_list_init(&sd->reg_link);
	dev->scsi = sd;
	scsi_registry_add(sd);
	return 0;
}

/*
 * scsi_dev_free — see tcmu_internal.h. Main thread, after the ring thread
 * stopped (no command is in the SCSI core any more).
 */
void scsi_dev_free(struct tcmu_device *dev)
{
	struct scsi_dev *sd = dev->scsi;

	if (!sd)
		return;
	sd->running_ready = true; /* the ring thread is gone: resume nothing */
	scsi_registry_del(sd);    /* fails copies waiting on this device */
	/* A background FORMAT UNIT. */
	if (sd->fmt_cmd && sd->fmt_internal) {
		struct tcmu_cmd *job = sd->fmt_cmd;

		sd->fmt_cmd = NULL;
		scsi_internal_cmd_free(job);
	}
	while (!scsi_list_empty(&sd->pool)) {
		struct scsi_cstate *cs =
			scsi_container_of(sd->pool.next, struct scsi_cstate, link);

		scsi_list_del(&cs->link);
		free(cs);
	}
	dev->scsi = NULL;
	free(sd);
}

/* ---------------------------------------------------------------- */
/* Dispatch                                                          */
/* ---------------------------------------------------------------- */

/*
 * scsi_submit — see tcmu_internal.h. Ring thread; never blocks (handler
 * calls go through runner_call()).
 */
void scsi_submit(struct tcmu_cmd *cmd)
{
	struct tcmu_device *dev = cmd->dev;
	struct scsi_dev *sd = dev->scsi;
	const struct scsi_op *op;
	struct scsi_sense s;
	bool wce;

	cmd->core_priv = NULL;
	/*
	 * The ring parser summed the iovecs into data_len already. Count
	 * again when a handler's handle_cmd() had the command first (it may
	 * have changed the iovecs) and in the synchronous test mode (no
	 * runner: commands built by hand).
	 */
	if (!dev->runner || !dev->handler || dev->handler->handle_cmd)
		cmd->data_len = scsi_iov_len(cmd->iov, cmd->iov_cnt);
	if (!sd) {
		/* scsi_dev_init() failed or was not called. */
		scsi_set_check(cmd, TCMU_SENSE_HARDWARE_ERROR,
			       TCMU_ASC_INTERNAL_TARGET_FAILURE);
		runner_finish(cmd);
		return;
	}

	/* The write cache setting changed under us (reconfig). */
	wce = scsi_wce(dev);
	if (wce != sd->wce_seen) {
		sd->wce_seen = wce;
		atomic_fetch_or(&sd->ua, SCSI_UA_MODE);
	}

	op = lookup(cmd->cdb);

	/*
	 * Unit attention first (SAM-5 5.14), except for INQUIRY and REPORT
	 * LUNS; REQUEST SENSE reports it as its parameter data. A relaxed
	 * look first: spc_take_ua() claims the bit atomically.
	 */
	if (atomic_load_explicit(&sd->ua, memory_order_relaxed) &&
	    !(op && (op->flags & SCSI_OPF_NO_UA)) &&
	    cmd->cdb[0] != TCMU_SCSI_OP_REPORT_LUNS && spc_take_ua(dev, &s)) {
		scsi_done_sense(cmd, &s);
		return;
	}

	if (!op || !scsi_op_enabled(dev, op)) {
		tcmu_dev_dbg(dev, "unsupported opcode 0x%02x/0x%02x", cmd->cdb[0],
			     cmd->cdb[1] & 0x1f);
		scsi_done_invalid_op(cmd);
		return;
	}
	if (cmd->cdb_len && cmd->cdb_len < op->cdb_len) {
		scsi_done_invalid_cdb(cmd, 0, -1);
		return;
	}
	if (sd->formatting && !(op->flags & SCSI_OPF_FORMAT_OK)) {
		spc_format_progress_sense(dev, &s);
		scsi_done_sense(cmd, &s);
		return;
	}
	if (sd->fmt_corrupt && (op->flags & SCSI_OPF_MEDIUM) &&
	    op->opcode != TCMU_SCSI_OP_FORMAT_UNIT) {
		scsi_done_check(cmd, TCMU_SENSE_NOT_READY,
				TCMU_ASC_MEDIUM_FORMAT_CORRUPTED);
		return;
	}
	op->fn(cmd);
}
