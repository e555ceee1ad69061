/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * Build telemetry (DESIGN §5 "Telemetry"): where a build's time and memory went, recorded
 * in metadata.json ("telemetry", "phases") and said in one line at the end of the build:
 *   "user 1,512 s, sys 190 s, peak 1.9 GiB, CPU pressure 12%"
 * Each number carries its source, best first:
 *   cgroup   the scope's own cgroup files, read by the in-scope half after its last step
 *            (cpu.stat usage/user/system_usec; memory.peak where the v2 memory controller
 *            has it; io.stat rbytes/wbytes; cpu/memory/io.pressure "some total=");
 *   manager  the unit's accounting from the systemd manager, read by the parent while the
 *            unit is still loaded (CPUUsageNSec, MemoryPeak, IOReadBytes, IOWriteBytes;
 *            managers that lack one, or whose controller is not enabled, report none);
 *   rusage   getrusage(RUSAGE_SELF) + getrusage(RUSAGE_CHILDREN) of the in-scope half: user
 *            and system time of it and every process it (transitively) waited for; maxrss
 *            is the largest single process, not the build's peak, and is labelled so
 *            ("peak 812 MiB (largest process)").
 * Under KTSCOPE_SCOPE=none the cgroup is not the build's and is not read.
 */

#define TELEMETRY_ABSENT UINT64_MAX

enum kts_tele_source {
	KTS_TELE_NONE = 0, /* value absent */
	KTS_TELE_CGROUP,
	KTS_TELE_MANAGER,
	KTS_TELE_RUSAGE,
};
const char *telemetry_source_name(enum kts_tele_source s); /* "cgroup", "manager", "rusage" */

struct kts_tele_value {
	uint64_t v;                 /* TELEMETRY_ABSENT when from == KTS_TELE_NONE */
	enum kts_tele_source from;
};

struct kts_telemetry {
	struct kts_tele_value cpu_usec;    /* user + system */
	struct kts_tele_value user_usec, system_usec;
	struct kts_tele_value memory_peak; /* bytes; from rusage: the largest process */
	struct kts_tele_value io_read_bytes, io_write_bytes;
	/* "some" stall time (PSI total=, µs) over the in-scope run; cgroup only */
	struct kts_tele_value cpu_pressure_usec, memory_pressure_usec, io_pressure_usec;
	double wall_seconds; /* the in-scope run's wall time (the pressure % denominator) */
};
#define KTS_TELEMETRY_INIT { 0 } /* then telemetry_init() */
void telemetry_init(struct kts_telemetry *t); /* every value absent */
bool telemetry_empty(const struct kts_telemetry *t); /* no value known */

/*
 * In the scope, after the pipeline: this process's cgroup (when in_cgroup) and
 * getrusage(RUSAGE_CHILDREN). Never fails: what cannot be read stays absent (logged at
 * debug level).
 */
void telemetry_read_self(bool in_cgroup, double wall_seconds, struct kts_telemetry *ret);

/* The parsers telemetry_read_self() uses, for tests and the fuzzer: 0 or -EBADMSG. */
int telemetry_parse_cpu_stat(const char *text, struct kts_telemetry *t);
int telemetry_parse_pressure(const char *text, uint64_t *ret_some_total_usec);
int telemetry_parse_io_stat(const char *text, uint64_t *ret_rbytes, uint64_t *ret_wbytes);

/*
 * The steps of telemetry_read_self(), for tests: the cgroup v2 directory of the "0::" line
 * of proc_cgroup (/proc/PID/cgroup text) under the cgroup2 mount in mountinfo (-ENOENT: no
 * such line or mount; caller frees *ret); and the files of such a directory read into t
 * (source cgroup; what is missing or malformed is left as it was).
 */
int telemetry_cgroup_dir(const char *proc_cgroup, const char *mountinfo, char **ret);
void telemetry_read_cgroup(const char *dir, struct kts_telemetry *t);

/* The manager's numbers (TELEMETRY_ABSENT: none), as scope_read_accounting() gives them. */
struct kts_scope_accounting {
	uint64_t cpu_usage_nsec, memory_peak, io_read_bytes, io_write_bytes;
};
/*
 * Fills each value of t that is absent or only from rusage with a's (source manager): the
 * precedence is cgroup, then manager, then rusage.
 */
void telemetry_merge_manager(struct kts_telemetry *t, const struct kts_scope_accounting *a);

/*
 * The summary line, without a trailing newline: "user 1,512 s, sys 190 s, peak 1.9 GiB,
 * CPU pressure 12%" (what is absent is left out; "(largest process)" after a peak from
 * rusage). *ret is NULL when nothing at all is known. Caller frees.
 */
int telemetry_summary(const struct kts_telemetry *t, char **ret);

/*
 * JSON for the result file and metadata.json: an object with one key per known value
 * ({"cpu_usec": {"value": N, "source": "cgroup"}, ...}, absent values left out) and
 * "wall_seconds". The reader is strict about known keys and tolerates unknown ones;
 * field names the key in *ret_why ("field 'telemetry.cpu_usec.source': ...").
 */
struct json_object;
int telemetry_to_json(const struct kts_telemetry *t, struct json_object **ret);
int telemetry_from_json(struct json_object *o, const char *field, struct kts_telemetry *ret,
			char **ret_why);

/*
 * Per-phase wall times of one build, in the order they run: the parent's (source,
 * lock_wait, scope) and the in-scope steps' (configure .. headers), then the parent's
 * recheck and store. compile_commands overlaps strip and the kit when the kernel's generator
 * runs directly (pipeline.c): from its start until it was seen to end. A phase that did not
 * run is < 0 and not written; a reader takes the names it knows (metadata schema 1).
 */
enum kts_phase {
	KTS_PHASE_SOURCE,        /* identify/fetch the source */
	KTS_PHASE_LOCK_WAIT,     /* waiting for the source and LLC locks */
	KTS_PHASE_CONFIGURE,
	KTS_PHASE_MAKE,
	KTS_PHASE_COMPILE_COMMANDS,
	KTS_PHASE_STRIP,
	KTS_PHASE_VMLINUX_H,
	KTS_PHASE_CAPABILITIES,
	KTS_PHASE_HEADERS,
	KTS_PHASE_RECHECK,       /* a dirty local tree's state computed again (build.c) */
	KTS_PHASE_STORE,
	_KTS_PHASE_MAX,
};
struct kts_phases {
	double s[_KTS_PHASE_MAX];
};
void phases_init(struct kts_phases *p); /* every phase < 0 */
bool phases_empty(const struct kts_phases *p); /* no phase ran */
const char *phase_name(enum kts_phase p); /* "lock_wait", "vmlinux_h", ... */
/* {"source": 0.4, "make": 812.3, ...}; the reader as telemetry_from_json(). */
int phases_to_json(const struct kts_phases *p, struct json_object **ret);
int phases_from_json(struct json_object *o, const char *field, struct kts_phases *ret,
		     char **ret_why);

/* The build's "telemetry" event (progress.h): {"telemetry": {...}, "phases": {...}}. */
int telemetry_event_json(const struct kts_telemetry *t, const struct kts_phases *p,
			 struct json_object **ret);
