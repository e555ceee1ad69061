/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every libFuzzer harness in fuzz/ shares: the entry point's prototype, a
 * NUL-terminated copy of the input (the parsers take C strings), and the check that
 * turns a broken invariant into a crash libFuzzer records. Harnesses keep logging at
 * its default level (nothing below warning) so the fuzzer's output stays readable.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of data[0..size); aborts on ENOMEM (a fuzzer cannot go on). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* An invariant of the parser under test; a failure is a finding, reported as an abort. */
#define FUZZ_ASSERT(expr)                                                                  \
	do {                                                                               \
		if (!(expr)) {                                                             \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #expr); \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* A reason for a message: one line, nothing a terminal would interpret (the input is foreign). */
static inline int fuzz_printable(const char *why)
{
	for (const unsigned char *p = (const unsigned char *) why; p && *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return why != NULL;
}
