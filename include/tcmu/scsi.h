/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tcmu/scsi.h — SCSI constants for handlers (filled in by the SCSI core). */
#ifndef TCMU_SCSI_H
#define TCMU_SCSI_H
#endif
