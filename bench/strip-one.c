/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/strip-one IN OUT: the strip `ktscope build` does to a vmlinux (strip.h), alone, for
 * the by-hand pipelines of bench/build-overhead and bench/edit-loop: the same function of
 * the same library, so "the same strip" is exactly the same work. Prints the sizes before
 * and after. Exit status: 0; 1 when the strip fails (one line naming IN); 2 on bad usage.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strip.h"

int main(int argc, char **argv)
{
	uint64_t before = 0, after = 0;
	char *why = NULL;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: strip-one IN OUT\n");
		return 2;
	}
	r = strip_vmlinux_full(argv[1], argv[2], &before, &after, &why);
	if (r < 0) {
		fprintf(stderr, "strip-one: cannot strip '%s': %s\n", argv[1], why ? why : strerror(-r));
		free(why);
		return 1;
	}
	printf("strip-one: %s: %llu -> %llu bytes\n", argv[1], (unsigned long long) before,
	       (unsigned long long) after);
	return 0;
}
