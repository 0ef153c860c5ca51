/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/vpd.c — the vital product data pages (SPC-4 7.8, SBC-3 6.5):
 * 00h supported pages, 80h unit serial number, 83h device identification,
 * 86h extended INQUIRY data, B0h block limits, B1h block device
 * characteristics, B2h logical block provisioning.
 */
#include <stdio.h>
#include <string.h>

#include "scsi_priv.h"

static const uint8_t vpd_pages[] = { 0x00, 0x80, 0x83, 0x86,
				     0xb0, 0xb1, 0xb2 };

static int page_00(struct tcmu_device *dev, uint8_t *b, size_t size)
{
	(void)dev;
	(void)size;
	b[3] = sizeof(vpd_pages);
	memcpy(&b[4], vpd_pages, sizeof(vpd_pages));
	return 4 + (int)sizeof(vpd_pages);
}

static int page_80(struct tcmu_device *dev, uint8_t *b, size_t size)
{
	char serial[256];
	size_t n;

	vpd_get_serial(dev, serial, sizeof(serial));
	n = strlen(serial);
	if (!n)
		return 4;
	n = SCSI_MIN(n + 1, SCSI_MIN(size - 4, 255u)); /* with its NUL, like LIO */
	memcpy(&b[4], serial, n - 1);
	b[3] = (uint8_t)n;
	return 4 + (int)n;
}

/*
 * The target port group to report: TCMU does not tell which port a
 * command came through, so take the only group that has member ports, or
 * else the first one (default_tg_pt_gp). -1 without ALUA groups. *@port
 * is the relative target port id of the LUN's only port, 0 when it has
 * several or its id is unknown.
 */
int vpd_port_group(struct tcmu_device *dev, uint16_t *port)
{
	struct scsi_alua_group g[SCSI_MAX_ALUA_GROUPS];
	int n = alua_read_groups(dev, g, SCSI_ARRAY_SIZE(g));
	int with_members = 0, pick = -1;
	unsigned int members = 0;

	*port = 0;
	if (n <= 0)
		return -1;
	for (int i = 0; i < n; i++) {
		members += g[i].nr_members;
		if (g[i].nr_members) {
			with_members++;
			pick = g[i].g.id;
			if (g[i].nr_ports == 1)
				*port = g[i].ports[0];
		}
	}
	if (members != 1)
		*port = 0;
	return with_members == 1 ? pick : g[0].g.id;
}

static int page_83(struct tcmu_device *dev, uint8_t *b, size_t size)
{
	char serial[256], vendor[64], product[64], name[40];
	uint8_t naa[16];
	size_t off = 4, n;
	uint16_t port;
	int group;

	vpd_get_serial(dev, serial, sizeof(serial));
	vpd_get_inquiry_str(dev, "wwn/vendor_id", "LIO-ORG", vendor,
			    sizeof(vendor));
	vpd_get_inquiry_str(dev, "wwn/product_id", "TCMU device", product,
			    sizeof(product));

	/* NAA IEEE Registered Extended, logical unit. */
	if (serial[0]) {
		vpd_naa(dev, naa);
		b[off] = 0x01;     /* CODE SET: binary */
		b[off + 1] = 0x03; /* ASSOCIATION: LU, TYPE: NAA */
		b[off + 3] = 16;
		memcpy(&b[off + 4], naa, 16);
		off += 20;
	}

	/* T10 vendor identification: vendor, then "product:serial". */
	b[off] = 0x02;     /* CODE SET: ASCII */
	b[off + 1] = 0x01; /* ASSOCIATION: LU, TYPE: T10 vendor ID */
	memset(&b[off + 4], ' ', 8);
	memcpy(&b[off + 4], vendor, SCSI_MIN(strlen(vendor), 8u));
	n = 8;
	if (serial[0]) {
		int l = snprintf((char *)&b[off + 4 + n], size - off - 4 - n,
				 "%s:%s", product, serial);

		n += (size_t)SCSI_MIN((size_t)l, size - off - 5 - n) + 1;
	}
	n = SCSI_MIN(n, 255u);
	b[off + 3] = (uint8_t)n;
	off += 4 + n;

	/*
	 * Relative target port identifier, target port association. TCMU
	 * does not tell through which port the command came: the LUN's only
	 * port if it has one, else 1 (LIO numbers a target's first port 1).
	 */
	group = vpd_port_group(dev, &port);
	b[off] = 0x01;     /* binary */
	b[off + 1] = 0x14; /* ASSOCIATION: target port, TYPE: relative port */
	b[off + 3] = 4;
	tcmu_put_be16(&b[off + 6], port ? port : 1);
	off += 8;

	/* Target port group. */
	if (group >= 0) {
		b[off] = 0x01;
		b[off + 1] = 0x15; /* target port, TYPE: target port group */
		b[off + 3] = 4;
		tcmu_put_be16(&b[off + 6], (uint16_t)group);
		off += 8;
	}

	/* SCSI name string of the logical unit: "naa." + 32 hex digits. */
	if (serial[0]) {
		int l = snprintf(name, sizeof(name), "naa.");

		for (int i = 0; i < 16; i++)
			l += snprintf(name + l, sizeof(name) - (size_t)l,
				      "%02X", naa[i]);
		n = (size_t)l + 1;       /* NUL terminated */
		n = (n + 3) & ~(size_t)3; /* multiple of four */
		b[off] = 0x03;     /* CODE SET: UTF-8 */
		b[off + 1] = 0x08; /* ASSOCIATION: LU, TYPE: SCSI name string */
		b[off + 3] = (uint8_t)n;
		memset(&b[off + 4], 0, n);
		memcpy(&b[off + 4], name, (size_t)l);
		off += 4 + n;
	}

	tcmu_put_be16(&b[2], (uint16_t)(off - 4));
	return (int)off;
}

static int page_86(struct tcmu_device *dev, uint8_t *b, size_t size)
{
	(void)size;
	b[3] = 0x3c;
	b[5] = 0x07; /* HEADSUP, ORDSUP, SIMPSUP */
	if (scsi_wce(dev))
		b[6] = 0x01; /* V_SUP: volatile cache */
	return 64;
}

/* Preferred granularity in blocks: 4 KiB, at least one block. */
static uint32_t granularity(uint32_t bs)
{
	return bs >= 4096 ? 1 : 4096 / bs;
}

/* MAXIMUM UNMAP LBA COUNT (FFFFFFFFh: no limit). */
uint32_t vpd_max_unmap_lbas(const struct tcmu_device *dev)
{
	const struct tcmu_handler *h = dev->handler;
	uint64_t n;

	if (!h || !h->unmap)
		return 0;
	if (!h->max_unmap_len)
		return 0xffffffffu;
	n = h->max_unmap_len / scsi_block_size(dev);
	if (n == 0)
		n = 1;
	return (uint32_t)SCSI_MIN(n, 0xfffffffeull);
}

/* MAXIMUM COMPARE AND WRITE LENGTH, in blocks. */
uint32_t vpd_max_caw_blocks(const struct tcmu_device *dev)
{
	uint32_t n = SCSI_MAX_CAW_BLOCKS;

	if (dev->info.max_sectors && dev->info.max_sectors / 2 < n)
		n = dev->info.max_sectors / 2;
	return n ? n : 1;
}

static int page_b0(struct tcmu_device *dev, uint8_t *b, size_t size)
{
	const struct tcmu_handler *h = dev->handler;
	uint32_t bs = scsi_block_size(dev);
	uint32_t mtl = dev->info.max_sectors;

	(void)size;
	b[3] = 0x3c;
	b[4] = 0x01; /* WSNZ: WRITE SAME needs a block count */
	if (h && h->write)
		b[5] = (uint8_t)vpd_max_caw_blocks(dev);
	tcmu_put_be16(&b[6], (uint16_t)granularity(bs));
	tcmu_put_be32(&b[8], mtl);
	tcmu_put_be32(&b[12], mtl); /* OPTIMAL TRANSFER LENGTH */
	if (h && h->unmap) {
		tcmu_put_be32(&b[20], vpd_max_unmap_lbas(dev));
		tcmu_put_be32(&b[24], SCSI_MAX_UNMAP_DESC);
		tcmu_put_be32(&b[28], granularity(bs));
	}
	tcmu_put_be64(&b[36], SCSI_MAX_WRITE_SAME);
	return 64;
}

static int page_b1(struct tcmu_device *dev, uint8_t *b, size_t size)
{
	(void)size;
	b[3] = 0x3c;
	if (dev->handler && dev->handler->nonrotational)
		tcmu_put_be16(&b[4], 0x0001); /* MEDIUM ROTATION RATE */
	return 64;
}

static int page_b2(struct tcmu_device *dev, uint8_t *b, size_t size)
{
	const struct tcmu_handler *h = dev->handler;

	(void)size;
	b[3] = 0x04;
	if (h && h->unmap) {
		b[5] = 0x80 | 0x40 | 0x20; /* LBPU, LBPWS, LBPWS10 */
		if (h->unmap_zeroes)
			b[5] |= 0x04; /* LBPRZ */
		b[6] = 0x02;      /* PROVISIONING TYPE: thin */
	}
	return 8;
}

/*
 * vpd_page — build VPD page @page into @buf (zeroed here; @size >= 512).
 * Ring thread; may block briefly on configfs. Returns the page length, or
 * -1 for a page we do not have.
 */
int vpd_page(struct tcmu_device *dev, uint8_t page, uint8_t *buf, size_t size)
{
	static const struct {
		uint8_t page;
		int (*fn)(struct tcmu_device *, uint8_t *, size_t);
	} pages[] = {
		{ 0x00, page_00 }, { 0x80, page_80 }, { 0x83, page_83 },
		{ 0x86, page_86 }, { 0xb0, page_b0 }, { 0xb1, page_b1 },
		{ 0xb2, page_b2 },
	};

	memset(buf, 0, size);
	for (size_t i = 0; i < SCSI_ARRAY_SIZE(pages); i++) {
		if (pages[i].page != page)
			continue;
		buf[0] = TCMU_SCSI_TYPE_DISK;
		buf[1] = page;
		return pages[i].fn(dev, buf, size);
	}
	return -1;
}
