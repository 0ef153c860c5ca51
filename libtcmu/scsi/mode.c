/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/mode.c — MODE SENSE (6)/(10) and MODE SELECT (6)/(10)
 * (SPC-4 6.11-6.14) with the pages a disk needs: 01h read-write error
 * recovery, 08h caching, 0Ah control and 1Ch informational exceptions
 * control, and 3Fh for all of them.
 *
 * Changeable: D_SENSE of the control page (selects descriptor sense).
 * WCE follows emulate_write_cache (and the handler's flush) and is not
 * changeable here. Saved values are not implemented: page control 11b
 * returns the default values.
 */
#include <string.h>

#include "scsi_priv.h"

enum { PC_CURRENT = 0, PC_CHANGEABLE = 1, PC_DEFAULT = 2, PC_SAVED = 3 };

#define MAX_PAGE 20

/* Builds page @page for page control @pc into @p (MAX_PAGE bytes, zeroed). */
typedef size_t (*page_fn)(struct tcmu_device *dev, int pc, uint8_t *p);

static size_t page_rw_recovery(struct tcmu_device *dev, int pc, uint8_t *p)
{
	(void)dev;
	(void)pc;
	p[0] = 0x01;
	p[1] = 0x0a;
	return 12;
}

static size_t page_caching(struct tcmu_device *dev, int pc, uint8_t *p)
{
	p[0] = 0x08;
	p[1] = 0x12;
	if (pc == PC_CHANGEABLE)
		return 20;
	if (scsi_wce(dev))
		p[2] = 0x04; /* WCE */
	p[12] = 0x20;        /* DRA: no read-ahead */
	return 20;
}

static size_t page_control(struct tcmu_device *dev, int pc, uint8_t *p)
{
	p[0] = 0x0a;
	p[1] = 0x0a;
	if (pc == PC_CHANGEABLE) {
		p[2] = 0x04; /* D_SENSE */
		return 12;
	}
	p[2] = 0x02; /* GLTSD */
	if (pc == PC_CURRENT && dev->scsi->d_sense)
		p[2] |= 0x04;
	p[3] = 0x10; /* QUEUE ALGORITHM MODIFIER: unrestricted reordering */
	p[5] = 0x40; /* TAS */
	p[8] = 0xff; /* BUSY TIMEOUT PERIOD: unlimited */
	p[9] = 0xff;
	p[11] = 30;  /* EXTENDED SELF-TEST COMPLETION TIME */
	return 12;
}

static size_t page_iec(struct tcmu_device *dev, int pc, uint8_t *p)
{
	(void)dev;
	(void)pc;
	p[0] = 0x1c;
	p[1] = 0x0a;
	return 12;
}

static const struct {
	uint8_t page;
	page_fn fn;
} mode_pages[] = {
	{ 0x01, page_rw_recovery },
	{ 0x08, page_caching },
	{ 0x0a, page_control },
	{ 0x1c, page_iec },
};

static page_fn find_page(uint8_t page)
{
	for (size_t i = 0; i < SCSI_ARRAY_SIZE(mode_pages); i++)
		if (mode_pages[i].page == page)
			return mode_pages[i].fn;
	return NULL;
}

/* Is the LUN write protected (read-only handler)? */
static bool write_protected(const struct tcmu_device *dev)
{
	return !(dev->handler && dev->handler->write);
}

void spc_mode_sense(struct tcmu_cmd *cmd)
{
	struct tcmu_device *dev = cmd->dev;
	const uint8_t *cdb = cmd->cdb;
	bool ten = cdb[0] == TCMU_SCSI_OP_MODE_SENSE_10;
	bool dbd = cdb[1] & 0x08, llbaa = ten && (cdb[1] & 0x10);
	int pc = cdb[2] >> 6;
	uint8_t page = cdb[2] & 0x3f, subpage = cdb[3];
	size_t alloc = ten ? tcmu_get_be16(&cdb[7]) : cdb[4];
	uint8_t buf[8 + 16 + SCSI_ARRAY_SIZE(mode_pages) * MAX_PAGE];
	size_t off = ten ? 8 : 4;
	uint64_t blocks = scsi_num_lbas(dev);
	uint32_t bs = scsi_block_size(dev);

	memset(buf, 0, sizeof(buf));
	if (page == 0x3f) {
		if (subpage != 0x00 && subpage != 0xff) {
			scsi_done_invalid_cdb(cmd, 3, 7);
			return;
		}
	} else if (!find_page(page)) {
		scsi_done_invalid_cdb(cmd, 2, 5);
		return;
	} else if (subpage) {
		scsi_done_invalid_cdb(cmd, 3, 7);
		return;
	}
	if (pc == PC_SAVED)
		pc = PC_DEFAULT;

	/* DEVICE-SPECIFIC PARAMETER: WP, DPOFUA */
	buf[ten ? 3 : 2] = (write_protected(dev) ? 0x80 : 0) | 0x10;

	/* Block descriptor */
	if (!dbd) {
		uint8_t *d = &buf[off];
		bool changeable = pc == PC_CHANGEABLE;

		if (llbaa) {
			buf[4] = 0x01; /* LONGLBA */
			if (!changeable) {
				tcmu_put_be64(&d[0], blocks);
				tcmu_put_be32(&d[12], bs);
			}
			off += 16;
		} else {
			if (!changeable) {
				tcmu_put_be32(&d[0], (uint32_t)SCSI_MIN(
						blocks, 0xffffffffull));
				tcmu_put_be24(&d[5], bs);
			}
			off += 8;
		}
		if (ten)
			tcmu_put_be16(&buf[6], (uint16_t)(off - 8));
		else
			buf[3] = (uint8_t)(off - 4);
	}

	for (size_t i = 0; i < SCSI_ARRAY_SIZE(mode_pages); i++) {
		if (page != 0x3f && mode_pages[i].page != page)
			continue;
		off += mode_pages[i].fn(dev, pc, &buf[off]);
	}

	if (ten)
		tcmu_put_be16(&buf[0], (uint16_t)(off - 2));
	else
		buf[0] = (uint8_t)(off - 1);
	scsi_data_in(cmd, buf, off, alloc);
	scsi_done_good(cmd);
}

/* Highest set bit of @v (v != 0). */
static int top_bit(uint8_t v)
{
	int b = 7;

	while (!(v & (1u << b)))
		b--;
	return b;
}

void spc_mode_select(struct tcmu_cmd *cmd)
{
	struct tcmu_device *dev = cmd->dev;
	const uint8_t *cdb = cmd->cdb;
	bool ten = cdb[0] == TCMU_SCSI_OP_MODE_SELECT_10;
	size_t plen = ten ? tcmu_get_be16(&cdb[7]) : cdb[4];
	size_t hdr = ten ? 8 : 4, bdl, off;
	uint8_t buf[512];
	bool d_sense = dev->scsi->d_sense;

	if (!(cdb[1] & 0x10)) { /* PF: only page format */
		scsi_done_invalid_cdb(cmd, 1, 4);
		return;
	}
	if (cdb[1] & 0x01) { /* SP: nothing can be saved */
		scsi_done_invalid_cdb(cmd, 1, 0);
		return;
	}
	if (plen == 0) {
		scsi_done_good(cmd);
		return;
	}
	if (plen > sizeof(buf) || plen > cmd->data_len || plen < hdr) {
		scsi_done_param_len(cmd);
		return;
	}
	scsi_data_out(cmd, buf, plen);

	/* Block descriptor: may only repeat the current geometry. */
	if (ten) {
		bool longlba = buf[4] & 0x01;

		bdl = tcmu_get_be16(&buf[6]);
		if (bdl != 0 && bdl != (longlba ? 16u : 8u)) {
			scsi_done_invalid_param(cmd, 6, 7);
			return;
		}
		if (hdr + bdl > plen) {
			scsi_done_param_len(cmd);
			return;
		}
		if (bdl == 16) {
			uint64_t nb = tcmu_get_be64(&buf[hdr]);

			if (nb && nb != scsi_num_lbas(dev)) {
				scsi_done_invalid_param(cmd, (unsigned)hdr, 7);
				return;
			}
			if (tcmu_get_be32(&buf[hdr + 12]) != scsi_block_size(dev)) {
				scsi_done_invalid_param(cmd, (unsigned)hdr + 12, 7);
				return;
			}
		}
	} else {
		bdl = buf[3];
		if (bdl != 0 && bdl != 8) {
			scsi_done_invalid_param(cmd, 3, 7);
			return;
		}
		if (hdr + bdl > plen) {
			scsi_done_param_len(cmd);
			return;
		}
	}
	if (bdl == 8) {
		uint32_t nb = tcmu_get_be32(&buf[hdr]);
		uint64_t cur = SCSI_MIN(scsi_num_lbas(dev), 0xffffffffull);

		if (nb && nb != cur) {
			scsi_done_invalid_param(cmd, (unsigned)hdr, 7);
			return;
		}
		if (tcmu_get_be24(&buf[hdr + 5]) != scsi_block_size(dev)) {
			scsi_done_invalid_param(cmd, (unsigned)hdr + 5, 7);
			return;
		}
	}

	/* Pages: validate everything before changing anything. */
	for (off = hdr + bdl; off < plen;) {
		uint8_t cur[MAX_PAGE], chg[MAX_PAGE];
		uint8_t *p = &buf[off];
		page_fn fn;
		size_t len;

		if (plen - off < 2) {
			scsi_done_param_len(cmd);
			return;
		}
		if (p[0] & 0x40) { /* SPF: we have no subpages */
			scsi_done_invalid_param(cmd, (unsigned)off, 6);
			return;
		}
		fn = find_page(p[0] & 0x3f);
		if (!fn) {
			scsi_done_invalid_param(cmd, (unsigned)off, 5);
			return;
		}
		memset(cur, 0, sizeof(cur));
		memset(chg, 0, sizeof(chg));
		len = fn(dev, PC_CURRENT, cur);
		fn(dev, PC_CHANGEABLE, chg);
		if ((size_t)p[1] + 2 != len) {
			scsi_done_invalid_param(cmd, (unsigned)off + 1, 7);
			return;
		}
		if (off + len > plen) {
			scsi_done_param_len(cmd);
			return;
		}
		for (size_t i = 2; i < len; i++) {
			uint8_t diff = (uint8_t)((p[i] ^ cur[i]) & ~chg[i]);

			if (diff) {
				scsi_done_invalid_param(cmd, (unsigned)(off + i),
							top_bit(diff));
				return;
			}
		}
		if ((p[0] & 0x3f) == 0x0a)
			d_sense = p[2] & 0x04;
		off += len;
	}

	dev->scsi->d_sense = d_sense;
	scsi_done_good(cmd);
}
