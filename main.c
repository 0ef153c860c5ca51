/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tcmud — placeholder until the daemon lands. */
#include <stdio.h>
#include <tcmu/version.h>

int main(void)
{
	printf("tcmud %s\n", TCMU_VERSION_STRING);
	return 0;
}
