/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tcmu/version.h — release version of libtcmu/tcmud and the version of the
 * handler plugin ABI (include/tcmu/handler.h).
 */
#ifndef TCMU_VERSION_H
#define TCMU_VERSION_H

#define TCMU_VERSION_MAJOR 0
#define TCMU_VERSION_MINOR 1
#define TCMU_VERSION_PATCH 0
#define TCMU_VERSION_STRING "0.1.0"

/*
 * Handler plugin ABI version: major in the high 16 bits, minor in the low.
 * A new minor only ever appends fields to struct tcmu_handler (old plugins
 * keep loading: the loader zeroes what they do not know). A new major is an
 * incompatible change; plugins built for another major are refused.
 */
#define TCMU_HANDLER_API_MAJOR 1
#define TCMU_HANDLER_API_MINOR 0
#define TCMU_HANDLER_API_VERSION \
	((TCMU_HANDLER_API_MAJOR << 16) | TCMU_HANDLER_API_MINOR)

#endif
