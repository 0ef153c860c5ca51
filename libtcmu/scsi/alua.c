/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/alua.c — REPORT TARGET PORT GROUPS and SET TARGET PORT
 * GROUPS (SPC-4 6.37, 6.46) from the configfs ALUA groups of the device
 * (core/<hba>/<dev>/alua/<group>/), read when asked.
 *
 * The target ports of a group are the LUNs its "members" file lists; their
 * relative target port identifiers are read from each LUN's statistics
 * (outside the device's directory: scsi_cfgfs.read_port_attr).
 *
 * Limit: TCMU does not tell through which target port a command came.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scsi_priv.h"

/* The relative target port identifier of a group member (0: unknown). */
static uint16_t member_port(const char *member)
{
	char buf[32], *end;
	unsigned long v;

	if (!scsi_cfgfs.read_port_attr ||
	    scsi_cfgfs.read_port_attr(member, "statistics/scsi_port/indx", buf,
				      sizeof(buf)) <= 0)
		return 0;
	v = strtoul(buf, &end, 10);
	return end != buf && !*end && v <= 0xffff ? (uint16_t)v : 0;
}

/*
 * The members of the group @group (the lines of its configfs "members"
 * file, one per exported LUN, i.e. per target port): count them into
 * @g->nr_members and list the relative target port ids that can be read
 * (statistics/scsi_port/indx of each LUN) in @g->ports.
 */
static void read_members(struct tcmu_device *dev, const char *group,
			 struct scsi_alua_group *g)
{
	char path[256], buf[4096];
	unsigned int n = 0;
	int len;

	g->nr_members = 0;
	g->nr_ports = 0;
	len = snprintf(path, sizeof(path), "alua/%s/members", group);
	if (len < 0 || (size_t)len >= sizeof(path))
		return;
	if (scsi_cfgfs.read_attr(&dev->info, path, buf, sizeof(buf)) <= 0)
		return;
	for (char *p = buf; *p;) {
		char *nl = strchr(p, '\n');
		uint16_t port;

		if (nl)
			*nl = '\0';
		if (*p) {
			n++;
			port = member_port(p);
			if (port && g->nr_ports < SCSI_MAX_ALUA_PORTS)
				g->ports[g->nr_ports++] = port;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	g->nr_members = (uint8_t)SCSI_MIN(n, 255u);
}

/*
 * alua_read_groups — the device's ALUA groups (at most @max into @out, which
 * may be NULL to count). Ring thread; may block briefly on configfs.
 * Returns the number of groups, 0 when there are none or configfs cannot be
 * read.
 */
int alua_read_groups(struct tcmu_device *dev, struct scsi_alua_group *out,
		     size_t max)
{
	struct tcmu_alua_group g[SCSI_MAX_ALUA_GROUPS];
	int n;

	if (!scsi_have_cfgfs(dev))
		return 0;
	n = scsi_cfgfs.read_alua(&dev->info, g, SCSI_ARRAY_SIZE(g));
	if (n <= 0)
		return 0;
	if (!out)
		return n;
	n = (int)SCSI_MIN((size_t)n, max);
	for (int i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].g = g[i];
		out[i].access_type = (uint8_t)((g[i].tpgs & 0x3) << 4);
		read_members(dev, g[i].name, &out[i]);
	}
	return n;
}

/* Header, then per group a descriptor and its relative target port ids. */
#define RTPG_MAX_LEN (8 + (8 + 4 * SCSI_MAX_ALUA_PORTS) * SCSI_MAX_ALUA_GROUPS)

/*
 * REPORT TARGET PORT GROUPS: one descriptor per group with its state,
 * preference, supported states and the relative ids of its target ports;
 * length-only or extended header.
 */
void spc_report_tpgs(struct tcmu_cmd *cmd)
{
	struct scsi_alua_group g[SCSI_MAX_ALUA_GROUPS];
	int fmt = cmd->cdb[1] >> 5;
	size_t alloc = tcmu_get_be32(&cmd->cdb[6]);
	uint8_t buf[RTPG_MAX_LEN] = { 0 };
	size_t off;
	int n;

	if (fmt > 1) {
		scsi_done_invalid_cdb(cmd, 1, 7);
		return;
	}
	n = alua_read_groups(cmd->dev, g, SCSI_ARRAY_SIZE(g));
	off = fmt ? 8 : 4;
	if (fmt) {
		buf[4] = 0x10; /* FORMAT TYPE 001b */
		buf[5] = 0;    /* IMPLICIT TRANSITION TIME */
	}
	for (int i = 0; i < n; i++) {
		uint8_t *d = &buf[off];

		d[0] = (uint8_t)((g[i].g.preferred ? 0x80 : 0) |
				 (g[i].g.state & 0x0f));
		d[1] = g[i].g.supported;
		tcmu_put_be16(&d[2], g[i].g.id);
		d[7] = g[i].nr_ports; /* TARGET PORT COUNT */
		off += 8;
		for (unsigned int p = 0; p < g[i].nr_ports; p++) {
			/* relative target port descriptor: obsolete, id */
			tcmu_put_be16(&buf[off + 2], g[i].ports[p]);
			off += 4;
		}
	}
	tcmu_put_be32(&buf[0], (uint32_t)(off - 4));
	scsi_data_in(cmd, buf, off, alloc);
	scsi_done_good(cmd);
}

/* Bit of the RTPG "supported" byte for an asymmetric access state. */
static uint8_t state_bit(uint8_t state)
{
	switch (state) {
	case 0x0:
		return 0x01; /* active/optimized */
	case 0x1:
		return 0x02; /* active/non-optimized */
	case 0x2:
		return 0x04; /* standby */
	case 0x3:
		return 0x08; /* unavailable */
	case 0xe:
		return 0x40; /* offline */
	default:
		return 0;    /* LBA dependent / transitioning: not settable */
	}
}

/*
 * SET TARGET PORT GROUPS: every descriptor is checked (known group with
 * explicit ALUA, a supported state) before any state is written to
 * configfs (alua_access_state).
 */
void spc_set_tpgs(struct tcmu_cmd *cmd)
{
	struct scsi_alua_group g[SCSI_MAX_ALUA_GROUPS];
	size_t plen = tcmu_get_be32(&cmd->cdb[6]);
	uint8_t buf[4 + 4 * SCSI_MAX_ALUA_GROUPS * 4];
	int n, idx[SCSI_ARRAY_SIZE(buf) / 4];
	size_t nd;

	if (plen == 0) {
		scsi_done_good(cmd);
		return;
	}
	if (plen < 4 || plen > cmd->data_len || (plen - 4) % 4) {
		scsi_done_param_len(cmd);
		return;
	}
	if (plen > sizeof(buf)) {
		scsi_done_invalid_param(cmd, 4, 7);
		return;
	}
	scsi_data_out(cmd, buf, plen);
	n = alua_read_groups(cmd->dev, g, SCSI_ARRAY_SIZE(g));
	nd = (plen - 4) / 4;
	for (size_t i = 0; i < nd; i++) {
		const uint8_t *d = &buf[4 + 4 * i];
		uint8_t state = d[0] & 0x0f;
		uint16_t id = tcmu_get_be16(&d[2]);
		unsigned int at = (unsigned int)(4 + 4 * i);

		idx[i] = -1;
		for (int j = 0; j < n; j++)
			if (g[j].g.id == id)
				idx[i] = j;
		if (idx[i] < 0 || !(g[idx[i]].access_type & 0x20)) {
			scsi_done_invalid_param(cmd, at + 2, 7);
			return;
		}
		if (!(state_bit(state) & g[idx[i]].g.supported)) {
			scsi_done_invalid_param(cmd, at, 3);
			return;
		}
	}
	for (size_t i = 0; i < nd; i++) {
		char path[128], val[8];
		int ret;

		snprintf(path, sizeof(path), "alua/%s/alua_access_state",
			 g[idx[i]].g.name);
		snprintf(val, sizeof(val), "%u", buf[4 + 4 * i] & 0x0f);
		ret = scsi_cfgfs.write_attr(&cmd->dev->info, path, val);
		if (ret < 0) {
			tcmu_dev_err(cmd->dev, "ALUA group %s: setting state %s: %s",
				     g[idx[i]].g.name, val, strerror(-ret));
			/* SET TARGET PORT GROUPS COMMAND FAILED */
			scsi_done_check(cmd, TCMU_SENSE_HARDWARE_ERROR, 0x670a);
			return;
		}
	}
	scsi_done_good(cmd);
}
