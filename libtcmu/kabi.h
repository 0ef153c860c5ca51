/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/kabi.h — the kernel ABI, <linux/target_core_user.h>, included so
 * that it coexists with glibc: it pulls <linux/uio.h>, whose struct iovec
 * would clash with glibc's identical one from <sys/uio.h>. Include this,
 * never <linux/target_core_user.h> directly.
 */
#ifndef TCMU_KABI_H
#define TCMU_KABI_H

#include <sys/uio.h>
#ifndef __LINUX_UIO_H
#define __LINUX_UIO_H /* glibc's struct iovec has the same layout */
#endif
#include <linux/target_core_user.h>

#endif
