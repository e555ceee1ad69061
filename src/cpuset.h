/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CPU (and NUMA node) numbers are < KTS_CPU_MAX; larger ones are rejected. */
#define KTS_CPU_MAX 65536U

/*
 * A growable bitmap of CPU or node numbers. Zero-initialise ({0}) for the
 * empty set; release with cpuset_done(). Bits past nwords are zero.
 */
struct kts_cpuset {
	uint64_t *words;
	size_t nwords;
};

#define KTS_CPUSET_INIT ((struct kts_cpuset){ 0 })

void cpuset_done(struct kts_cpuset *s);
static inline void cpuset_donep(struct kts_cpuset *s)
{
	cpuset_done(s);
}
#define _cleanup_cpuset_ __attribute__((cleanup(cpuset_donep)))

int cpuset_add(struct kts_cpuset *s, unsigned cpu);
int cpuset_add_range(struct kts_cpuset *s, unsigned first, unsigned last);
void cpuset_del(struct kts_cpuset *s, unsigned cpu);
void cpuset_clear(struct kts_cpuset *s);
bool cpuset_has(const struct kts_cpuset *s, unsigned cpu);
unsigned cpuset_count(const struct kts_cpuset *s);
bool cpuset_empty(const struct kts_cpuset *s);
/* Smallest member > after (after = -1 for the first); -1 when none. */
int cpuset_next(const struct kts_cpuset *s, int after);
#define CPUSET_FOREACH(cpu, s) \
	for (int cpu = cpuset_next((s), -1); cpu >= 0; cpu = cpuset_next((s), cpu))
/* Largest member, or -1 when empty. */
int cpuset_last(const struct kts_cpuset *s);

int cpuset_copy(struct kts_cpuset *dst, const struct kts_cpuset *src);
/* dst = a op b; dst may alias a or b. */
int cpuset_and(struct kts_cpuset *dst, const struct kts_cpuset *a, const struct kts_cpuset *b);
int cpuset_or(struct kts_cpuset *dst, const struct kts_cpuset *a, const struct kts_cpuset *b);
int cpuset_sub(struct kts_cpuset *dst, const struct kts_cpuset *a, const struct kts_cpuset *b);
bool cpuset_equal(const struct kts_cpuset *a, const struct kts_cpuset *b);
bool cpuset_is_subset(const struct kts_cpuset *sub, const struct kts_cpuset *super);
unsigned cpuset_count_and(const struct kts_cpuset *a, const struct kts_cpuset *b);

/*
 * Kernel cpu-list syntax ("0-3,8,10-11"), strict: no empty elements, no
 * reversed ranges, no signs or spaces, no trailing junk, numbers < KTS_CPU_MAX.
 * A single trailing newline is accepted (sysfs files end with one); the empty
 * string is the empty set. -EINVAL on malformed input, -ERANGE on a number that
 * is too large. *ret is written only on success.
 */
int cpuset_parse(const char *str, struct kts_cpuset *ret);
/* "0-3,8"; "" for the empty set. Caller frees. */
int cpuset_format(const struct kts_cpuset *s, char **ret);
/* For people: cpuset_format()'s text, "-" for the empty set, "?" when it cannot be
 * formatted. Caller frees; NULL only when out of memory. */
char *cpuset_display(const struct kts_cpuset *s);

/*
 * systemd's AllowedCPUs=/AllowedMemoryNodes= D-Bus encoding ("ay"): byte i,
 * bit j is CPU 8i+j; no trailing zero bytes. An empty set is zero bytes.
 */
int cpuset_to_bitmask(const struct kts_cpuset *s, uint8_t **ret, size_t *ret_len);
int cpuset_from_bitmask(const uint8_t *buf, size_t len, struct kts_cpuset *ret);
