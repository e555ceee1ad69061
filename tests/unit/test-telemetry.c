/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * telemetry.c: the cgroup files a build's scope has (tests/data/cgroup/) read into values
 * with their source; the three parsers' refusals; where our own cgroup directory is; the
 * summary line on builds small and large; the manager merged in by precedence; the JSON of
 * "telemetry" and "phases" written and read back, and strict about what it knows.
 */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "telemetry.h"

#define DATA KTS_TEST_DATADIR "/cgroup"

static void assert_value(const struct kts_tele_value *v, uint64_t x, enum kts_tele_source from)
{
	assert_int_equal(v->from, from);
	assert_true(v->v == x);
}

static void assert_absent(const struct kts_tele_value *v)
{
	assert_value(v, TELEMETRY_ABSENT, KTS_TELE_NONE);
}

/* ---------------------------------------------------------------- reading a directory */

static void read_full_cgroup(void **state)
{
	struct kts_telemetry t;

	(void) state;
	telemetry_init(&t);
	telemetry_read_cgroup(DATA "/full", &t);
	assert_value(&t.cpu_usec, 1702345678, KTS_TELE_CGROUP);
	assert_value(&t.user_usec, 1512000000, KTS_TELE_CGROUP);
	assert_value(&t.system_usec, 190345678, KTS_TELE_CGROUP);
	assert_value(&t.memory_peak, 2040109466, KTS_TELE_CGROUP);
	/* io.stat: summed over both devices */
	assert_value(&t.io_read_bytes, 1459300, KTS_TELE_CGROUP);
	assert_value(&t.io_write_bytes, 314773704, KTS_TELE_CGROUP);
	assert_value(&t.cpu_pressure_usec, 120000000, KTS_TELE_CGROUP);
	assert_value(&t.memory_pressure_usec, 4500, KTS_TELE_CGROUP);
	assert_value(&t.io_pressure_usec, 919569, KTS_TELE_CGROUP);
}

static void read_hybrid_cgroup(void **state)
{
	struct kts_telemetry t;

	(void) state;
	telemetry_init(&t);
	telemetry_read_cgroup(DATA "/hybrid", &t);
	assert_value(&t.cpu_usec, 2288111, KTS_TELE_CGROUP);
	assert_value(&t.user_usec, 1520000, KTS_TELE_CGROUP);
	assert_value(&t.system_usec, 768111, KTS_TELE_CGROUP);
	assert_absent(&t.memory_peak);
	assert_absent(&t.io_read_bytes);
	assert_absent(&t.io_write_bytes);
	assert_value(&t.cpu_pressure_usec, 91234, KTS_TELE_CGROUP);
	assert_value(&t.memory_pressure_usec, 0, KTS_TELE_CGROUP);
	assert_value(&t.io_pressure_usec, 17, KTS_TELE_CGROUP);
}

static void read_malformed_cgroup(void **state)
{
	struct kts_telemetry t;

	(void) state;
	telemetry_init(&t);
	telemetry_read_cgroup(DATA "/malformed", &t);
	assert_true(telemetry_empty(&t));
	telemetry_read_cgroup(DATA "/no-such-directory", &t);
	assert_true(telemetry_empty(&t));
}

/* ---------------------------------------------------------------- parsers */

static void cpu_stat_refusals(void **state)
{
	static const char *const bad[] = {
		"",
		"usage_usec 1\nuser_usec 1\n",                                 /* no system_usec */
		"usage_usec 1\nuser_usec 1\nsystem_usec 1",                     /* no newline */
		"usage_usec 1\nuser_usec 1\nsystem_usec 1\nusage_usec 2\n",     /* twice */
		"usage_usec -1\nuser_usec 1\nsystem_usec 1\n",
		"usage_usec 18446744073709551616\nuser_usec 1\nsystem_usec 1\n", /* 2^64 */
		"usage_usec  1\nuser_usec 1\nsystem_usec 1\n",
		"usage_usec 1\n\nuser_usec 1\nsystem_usec 1\n",
		"Usage_usec 1\nuser_usec 1\nsystem_usec 1\n",
		"usage_usec 1 2\nuser_usec 1\nsystem_usec 1\n",
		"usage_usec 1\nuser_usec 1\nsystem_usec 0x1\n",
	};
	struct kts_telemetry t;

	(void) state;
	telemetry_init(&t);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		assert_int_equal(telemetry_parse_cpu_stat(bad[i], &t), -EBADMSG);
		assert_true(telemetry_empty(&t)); /* nothing written on failure */
	}
	assert_int_equal(telemetry_parse_cpu_stat("usage_usec 18446744073709551615\nuser_usec 0\n"
						  "system_usec 0\n", &t), 0);
	assert_true(t.cpu_usec.v == UINT64_MAX);
}

static void pressure_refusals(void **state)
{
	static const char *const bad[] = {
		"",
		"full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",            /* no some */
		"some avg10=0.00 avg60=0.00 avg300=0.00\n",                     /* no total */
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=1 total=2\n",
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=1\nsome avg10=0.00 avg60=0.00 "
		"avg300=0.00 total=1\n",
		"some avg10=x avg60=0.00 avg300=0.00 total=1\n",
		"some avg10=0. avg60=0.00 avg300=0.00 total=1\n",
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=1.5\n",
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=1",
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=1 \n",
		"somex avg10=0.00 avg60=0.00 avg300=0.00 total=1\n",
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=1\nhalf avg10=0.00\n",
	};
	uint64_t total = 42;

	(void) state;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		assert_int_equal(telemetry_parse_pressure(bad[i], &total), -EBADMSG);
		assert_true(total == 42);
	}
	/* An older kernel's cpu.pressure has no "full" line; a future key is tolerated. */
	assert_int_equal(telemetry_parse_pressure("some avg10=1.50 avg60=0.00 avg300=0.00 "
						  "total=77\n", &total), 0);
	assert_true(total == 77);
	assert_int_equal(telemetry_parse_pressure("some avg10=1.50 avg60=0.00 avg300=0.00 "
						  "total=78 avg900=0.10\n", &total), 0);
	assert_true(total == 78);
}

static void io_stat_refusals(void **state)
{
	static const char *const bad[] = {
		"8:0 rbytes=1 rios=1\n",                  /* no wbytes */
		"8:0 rbytes=1 wbytes=1 rbytes=2\n",
		"8 rbytes=1 wbytes=1\n",
		"8:0 rbytes=1 wbytes=1",
		"8:0 rbytes=x wbytes=1\n",
		"8:0 rbytes=18446744073709551615 wbytes=0\n1:0 rbytes=1 wbytes=0\n", /* sum overflows */
		"\n",
	};
	uint64_t r = 42, w = 42;

	(void) state;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		assert_int_equal(telemetry_parse_io_stat(bad[i], &r, &w), -EBADMSG);
		assert_true(r == 42 && w == 42);
	}
	/* No line: no I/O yet. */
	assert_int_equal(telemetry_parse_io_stat("", &r, &w), 0);
	assert_true(r == 0 && w == 0);
}

/* ---------------------------------------------------------------- our own cgroup */

#define MI_HOST                                                                            \
	"25 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"                    \
	"35 25 0:30 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
#define MI_HYBRID                                                                          \
	"25 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"                    \
	"30 25 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro\n"                                 \
	"40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"            \
	"41 30 0:38 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"

static void cgroup_dir_found(void **state)
{
	char *dir = NULL;

	(void) state;
	assert_int_equal(telemetry_cgroup_dir("0::/ktscope.slice/k-1.scope\n", MI_HOST, &dir), 0);
	assert_string_equal(dir, "/sys/fs/cgroup/ktscope.slice/k-1.scope");
	free(dir);
	/* Hybrid: the v1 lines come first; the unified hierarchy is under .../unified. */
	assert_int_equal(telemetry_cgroup_dir("4:memory:/user.slice\n0::/user.slice/x.scope\n",
					      MI_HYBRID, &dir), 0);
	assert_string_equal(dir, "/sys/fs/cgroup/unified/user.slice/x.scope");
	free(dir);
	/* A mount of a subtree (a container's): the path is taken below its root. */
	assert_int_equal(telemetry_cgroup_dir("0::/a/b/c\n",
					      "50 1 0:40 /a/b /cg rw - cgroup2 cgroup2 rw\n", &dir), 0);
	assert_string_equal(dir, "/cg/c");
	free(dir);
}

static void cgroup_dir_missing(void **state)
{
	char *dir = NULL;

	(void) state;
	/* cgroup v1 only */
	assert_int_equal(telemetry_cgroup_dir("4:memory:/user.slice\n", MI_HYBRID, &dir), -ENOENT);
	/* no cgroup2 mount */
	assert_int_equal(telemetry_cgroup_dir("0::/x\n", "25 1 259:2 / / rw - ext4 /dev/sda rw\n",
					      &dir), -ENOENT);
	/* a mount of another subtree ("/ab" is not under "/a/b", nor "/a/bc") */
	assert_int_equal(telemetry_cgroup_dir("0::/a/bc\n",
					      "50 1 0:40 /a/b /cg rw - cgroup2 cgroup2 rw\n", &dir),
			 -ENOENT);
	/* ".." is never the kernel's: a path or a mount point with one leads elsewhere
	 * (fuzz-cgroup-stat's first find, a mount point ending in "/../") */
	assert_int_equal(telemetry_cgroup_dir("0::/x/../../etc\n", MI_HOST, &dir), -EBADMSG);
	assert_int_equal(telemetry_cgroup_dir("0::/x\n", "40 30 0:37 / /sys/fs/cg/../ rw - cgroup2 "
					      "cgroup2 rw\n", &dir), -EBADMSG);
	assert_null(dir);
}

static void read_self_without_cgroup(void **state)
{
	struct kts_telemetry t;

	(void) state;
	telemetry_read_self(false, 2.5, &t);
	/* KTSCOPE_SCOPE=none: rusage only, no pressure (that would be another cgroup's). */
	assert_int_equal(t.user_usec.from, KTS_TELE_RUSAGE);
	assert_int_equal(t.system_usec.from, KTS_TELE_RUSAGE);
	assert_int_equal(t.cpu_usec.from, KTS_TELE_RUSAGE);
	assert_true(t.cpu_usec.v == t.user_usec.v + t.system_usec.v);
	assert_int_equal(t.memory_peak.from, KTS_TELE_RUSAGE);
	assert_true(t.memory_peak.v > 0);
	assert_absent(&t.cpu_pressure_usec);
	assert_absent(&t.io_read_bytes);
	assert_true(t.wall_seconds == 2.5);
}

/* ---------------------------------------------------------------- summary */

static struct kts_telemetry sample(uint64_t user, uint64_t sys, uint64_t peak,
				   enum kts_tele_source peak_from, uint64_t cpu_psi, double wall)
{
	struct kts_telemetry t;

	telemetry_init(&t);
	t.user_usec = (struct kts_tele_value){ user, KTS_TELE_CGROUP };
	t.system_usec = (struct kts_tele_value){ sys, KTS_TELE_CGROUP };
	t.cpu_usec = (struct kts_tele_value){ user + sys, KTS_TELE_CGROUP };
	t.memory_peak = (struct kts_tele_value){ peak, peak_from };
	t.cpu_pressure_usec = (struct kts_tele_value){ cpu_psi, KTS_TELE_CGROUP };
	t.wall_seconds = wall;
	return t;
}

static void assert_summary(const struct kts_telemetry *t, const char *want)
{
	char *s = NULL;

	assert_int_equal(telemetry_summary(t, &s), 0);
	if (!want) {
		assert_null(s);
		return;
	}
	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

static void summary_magnitudes(void **state)
{
	struct kts_telemetry t;

	(void) state;
	/* The line: a 15-minute build of a real kernel. */
	t = sample(1512000000, 190000000, (uint64_t) (1.9 * 1073741824.0),
		   KTS_TELE_CGROUP, 108000000, 900);
	assert_summary(&t, "user 1,512 s, sys 190 s, peak 1.9 GiB, CPU pressure 12%");
	/* The fake tree: under ten seconds one decimal; rusage's peak is one process's. */
	t = sample(412000, 49000, 851443712, KTS_TELE_RUSAGE, 0, 1.5); /* 812 MiB */
	assert_summary(&t, "user 0.4 s, sys 0.0 s, peak 812 MiB (largest process), "
			   "CPU pressure 0%");
	t = sample(9940000, 9960000, 1023, KTS_TELE_CGROUP, 500000, 1);
	assert_summary(&t, "user 9.9 s, sys 10 s, peak 1,023 B, CPU pressure 50%");
	t = sample(1234567000000, 10000000, 9728, KTS_TELE_CGROUP, 0, 0);
	/* no wall time: no percentage */
	assert_summary(&t, "user 1,234,567 s, sys 10 s, peak 9.5 KiB");
	t = sample(1, 1, 1073217536, KTS_TELE_CGROUP, 0, 10); /* 1023.5 MiB */
	assert_summary(&t, "user 0.0 s, sys 0.0 s, peak 1.0 GiB, CPU pressure 0%");
	t = sample(1, 1, (uint64_t) 2048 << 30, KTS_TELE_CGROUP, 0, 10);
	assert_summary(&t, "user 0.0 s, sys 0.0 s, peak 2,048 GiB, CPU pressure 0%");
	t = sample(1, 1, 10 << 20, KTS_TELE_CGROUP, 0, 10);
	assert_summary(&t, "user 0.0 s, sys 0.0 s, peak 10 MiB, CPU pressure 0%");
}

static void summary_partial(void **state)
{
	struct kts_telemetry t;

	(void) state;
	telemetry_init(&t);
	assert_summary(&t, NULL);
	t.cpu_usec = (struct kts_tele_value){ 61000000, KTS_TELE_MANAGER };
	assert_summary(&t, "CPU 61 s");
	t.memory_peak = (struct kts_tele_value){ 3 << 20, KTS_TELE_MANAGER };
	assert_summary(&t, "CPU 61 s, peak 3.0 MiB");
	/* pressure without a wall time says nothing */
	t.cpu_pressure_usec = (struct kts_tele_value){ 5, KTS_TELE_CGROUP };
	assert_summary(&t, "CPU 61 s, peak 3.0 MiB");
}

/* ---------------------------------------------------------------- merge */

static void merge_precedence(void **state)
{
	const struct kts_scope_accounting a = {
		.cpu_usage_nsec = 7000000000, .memory_peak = 5000,
		.io_read_bytes = 10, .io_write_bytes = TELEMETRY_ABSENT,
	};
	struct kts_telemetry t;

	(void) state;
	/* The cgroup's own files win. */
	telemetry_init(&t);
	telemetry_read_cgroup(DATA "/full", &t);
	telemetry_merge_manager(&t, &a);
	assert_value(&t.cpu_usec, 1702345678, KTS_TELE_CGROUP);
	assert_value(&t.memory_peak, 2040109466, KTS_TELE_CGROUP);
	assert_value(&t.io_read_bytes, 1459300, KTS_TELE_CGROUP);
	/* The manager beats rusage and fills what is absent; its absent values change nothing. */
	telemetry_init(&t);
	t.cpu_usec = (struct kts_tele_value){ 1, KTS_TELE_RUSAGE };
	t.memory_peak = (struct kts_tele_value){ 2, KTS_TELE_RUSAGE };
	t.io_write_bytes = (struct kts_tele_value){ 3, KTS_TELE_RUSAGE };
	telemetry_merge_manager(&t, &a);
	assert_value(&t.cpu_usec, 7000000, KTS_TELE_MANAGER);
	assert_value(&t.memory_peak, 5000, KTS_TELE_MANAGER);
	assert_value(&t.io_read_bytes, 10, KTS_TELE_MANAGER);
	assert_value(&t.io_write_bytes, 3, KTS_TELE_RUSAGE);
	assert_absent(&t.user_usec);
}

/* ---------------------------------------------------------------- JSON */

static void assert_same(const struct kts_telemetry *a, const struct kts_telemetry *b)
{
	const struct kts_tele_value *va = &a->cpu_usec, *vb = &b->cpu_usec;

	/* the nine values are consecutive, cpu_usec .. io_pressure_usec */
	for (size_t i = 0; i < 9; i++)
		assert_value(&vb[i], va[i].v, va[i].from);
	assert_true(a->wall_seconds == b->wall_seconds);
}

static struct json_object *parse(const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	assert_non_null(o);
	return o;
}

static void json_round_trip(void **state)
{
	struct kts_telemetry t, back;
	struct kts_phases p, pback;
	struct json_object *o = NULL;
	char *why = NULL;

	(void) state;
	telemetry_init(&t);
	telemetry_read_cgroup(DATA "/hybrid", &t);
	t.memory_peak = (struct kts_tele_value){ 851968000, KTS_TELE_RUSAGE };
	t.io_read_bytes = (struct kts_tele_value){ 0, KTS_TELE_MANAGER };
	t.wall_seconds = 12.25;
	assert_int_equal(telemetry_to_json(&t, &o), 0);
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			    "{\"cpu_usec\":{\"value\":2288111,\"source\":\"cgroup\"},"
			    "\"user_usec\":{\"value\":1520000,\"source\":\"cgroup\"},"
			    "\"system_usec\":{\"value\":768111,\"source\":\"cgroup\"},"
			    "\"memory_peak\":{\"value\":851968000,\"source\":\"rusage\"},"
			    "\"io_read_bytes\":{\"value\":0,\"source\":\"manager\"},"
			    "\"cpu_pressure_usec\":{\"value\":91234,\"source\":\"cgroup\"},"
			    "\"memory_pressure_usec\":{\"value\":0,\"source\":\"cgroup\"},"
			    "\"io_pressure_usec\":{\"value\":17,\"source\":\"cgroup\"},"
			    "\"wall_seconds\":12.250}");
	assert_int_equal(telemetry_from_json(o, "telemetry", &back, &why), 0);
	assert_same(&t, &back);
	json_object_put(o);

	phases_init(&p);
	p.s[KTS_PHASE_SOURCE] = 0.4;
	p.s[KTS_PHASE_MAKE] = 812.3;
	p.s[KTS_PHASE_LOCK_WAIT] = 0;
	p.s[KTS_PHASE_COMPILE_COMMANDS] = 2.5;
	p.s[KTS_PHASE_RECHECK] = 0.25;
	assert_int_equal(phases_to_json(&p, &o), 0);
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			    "{\"source\":0.400,\"lock_wait\":0.000,\"make\":812.300,"
			    "\"compile_commands\":2.500,\"recheck\":0.250}");
	assert_int_equal(phases_from_json(o, "phases", &pback, &why), 0);
	assert_true(pback.s[KTS_PHASE_MAKE] == 812.3 && pback.s[KTS_PHASE_LOCK_WAIT] == 0);
	assert_true(pback.s[KTS_PHASE_COMPILE_COMMANDS] == 2.5);
	assert_true(pback.s[KTS_PHASE_RECHECK] == 0.25);
	assert_true(pback.s[KTS_PHASE_STRIP] < 0);
	assert_false(phases_empty(&pback));
	json_object_put(o);
	assert_null(why);
}

/* A value that would not read back is left out rather than written wrong. */
static void json_writes_what_reads_back(void **state)
{
	struct kts_telemetry t;
	struct kts_phases p;
	struct json_object *o = NULL;

	(void) state;
	telemetry_init(&t);
	t.cpu_usec = (struct kts_tele_value){ UINT64_MAX - 1, KTS_TELE_CGROUP };
	t.wall_seconds = -1;
	assert_int_equal(telemetry_to_json(&t, &o), 0);
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			    "{\"wall_seconds\":0.000}");
	json_object_put(o);
	phases_init(&p);
	assert_true(phases_empty(&p));
	p.s[KTS_PHASE_MAKE] = 0.0 / 0.0;
	assert_int_equal(phases_to_json(&p, &o), 0);
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), "{}");
	json_object_put(o);
}

static void json_refusals(void **state)
{
	static const struct {
		const char *doc, *why;
	} bad[] = {
		{ "[]", "field 'telemetry': expected an object" },
		{ "{}", "field 'telemetry.wall_seconds': missing" },
		{ "{\"wall_seconds\":-1}", "field 'telemetry.wall_seconds': expected seconds (>= 0)" },
		{ "{\"wall_seconds\":\"1\"}", "field 'telemetry.wall_seconds': expected seconds (>= 0)" },
		{ "{\"wall_seconds\":1,\"cpu_usec\":5}", "field 'telemetry.cpu_usec': expected an object" },
		{ "{\"wall_seconds\":1,\"cpu_usec\":{\"source\":\"cgroup\"}}",
		  "field 'telemetry.cpu_usec.value': missing" },
		{ "{\"wall_seconds\":1,\"cpu_usec\":{\"value\":-1,\"source\":\"cgroup\"}}",
		  "field 'telemetry.cpu_usec.value': integer out of range" },
		{ "{\"wall_seconds\":1,\"cpu_usec\":{\"value\":1.5,\"source\":\"cgroup\"}}",
		  "field 'telemetry.cpu_usec.value': expected a non-negative integer" },
		{ "{\"wall_seconds\":1,\"cpu_usec\":{\"value\":99999999999999999999,\"source\":\"x\"}}",
		  "field 'telemetry.cpu_usec.value': integer out of range" },
		{ "{\"wall_seconds\":1,\"memory_peak\":{\"value\":1}}",
		  "field 'telemetry.memory_peak.source': missing" },
		{ "{\"wall_seconds\":1,\"memory_peak\":{\"value\":1,\"source\":\"guess\"}}",
		  "field 'telemetry.memory_peak.source': expected cgroup, manager or rusage" },
	};
	struct kts_telemetry t;

	(void) state;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct json_object *o = parse(bad[i].doc);
		char *why = NULL;

		assert_int_equal(telemetry_from_json(o, "telemetry", &t, &why), -EBADMSG);
		assert_string_equal(why, bad[i].why);
		free(why);
		json_object_put(o);
	}
}

static void json_tolerates_unknown(void **state)
{
	struct json_object *o = parse("{\"wall_seconds\":3,\"gpu_usec\":{\"value\":1},"
				      "\"user_usec\":{\"value\":9,\"source\":\"rusage\","
				      "\"unit\":\"usec\"}}");
	struct kts_telemetry t;
	char *why = NULL;

	(void) state;
	assert_int_equal(telemetry_from_json(o, "telemetry", &t, &why), 0);
	assert_value(&t.user_usec, 9, KTS_TELE_RUSAGE);
	assert_absent(&t.cpu_usec);
	assert_true(t.wall_seconds == 3);
	json_object_put(o);
}

static void phases_refusals(void **state)
{
	static const struct {
		const char *doc, *why;
	} bad[] = {
		{ "null", "field 'phases': expected an object" },
		{ "{\"make\":-0.5}", "field 'phases.make': expected seconds (>= 0)" },
		{ "{\"lock_wait\":\"1\"}", "field 'phases.lock_wait': expected seconds (>= 0)" },
		{ "{\"store\":null}", "field 'phases.store': expected seconds (>= 0)" },
	};
	struct kts_phases p;

	(void) state;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct json_object *o = json_tokener_parse(bad[i].doc);
		char *why = NULL;

		assert_int_equal(phases_from_json(o, "phases", &p, &why), -EBADMSG);
		assert_string_equal(why, bad[i].why);
		free(why);
		json_object_put(o);
	}
	assert_string_equal(phase_name(KTS_PHASE_VMLINUX_H), "vmlinux_h");
	assert_string_equal(phase_name(KTS_PHASE_RECHECK), "recheck");
	assert_null(phase_name(_KTS_PHASE_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read_full_cgroup),
		cmocka_unit_test(read_hybrid_cgroup),
		cmocka_unit_test(read_malformed_cgroup),
		cmocka_unit_test(cpu_stat_refusals),
		cmocka_unit_test(pressure_refusals),
		cmocka_unit_test(io_stat_refusals),
		cmocka_unit_test(cgroup_dir_found),
		cmocka_unit_test(cgroup_dir_missing),
		cmocka_unit_test(read_self_without_cgroup),
		cmocka_unit_test(summary_magnitudes),
		cmocka_unit_test(summary_partial),
		cmocka_unit_test(merge_precedence),
		cmocka_unit_test(json_round_trip),
		cmocka_unit_test(json_writes_what_reads_back),
		cmocka_unit_test(json_refusals),
		cmocka_unit_test(json_tolerates_unknown),
		cmocka_unit_test(phases_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
