/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Build telemetry (telemetry.h): owns reading a build's numbers where they are kept (the
 * scope's own cgroup v2 files, getrusage()), the three strict parsers of those files (a
 * fuzzer feeds them: fuzz/fuzz-cgroup-stat.c), merging in the manager's accounting by
 * source, the one summary line, and the JSON of "telemetry" and "phases" that the result
 * file and metadata.json carry. It reads /proc/self/cgroup and /proc/self/mountinfo of the
 * process it runs in and nothing else of /proc; it never fails a build: what cannot be read
 * stays absent.
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"
#include "macro.h"
#include "telemetry.h"
#include "util.h"

/* cpu.stat is ~10 lines, io.stat one line per device: anything this large is not one. */
#define TELEMETRY_FILE_MAX ((size_t) 64 << 10)

const char *telemetry_source_name(enum kts_tele_source s)
{
	switch (s) {
	case KTS_TELE_CGROUP:
		return "cgroup";
	case KTS_TELE_MANAGER:
		return "manager";
	case KTS_TELE_RUSAGE:
		return "rusage";
	case KTS_TELE_NONE:
		break;
	}
	return NULL;
}

static int source_from_name(const char *s, enum kts_tele_source *ret)
{
	for (enum kts_tele_source i = KTS_TELE_CGROUP; i <= KTS_TELE_RUSAGE; i++)
		if (streq(s, telemetry_source_name(i))) {
			*ret = i;
			return 0;
		}
	return -EINVAL;
}

/* Every value in declaration order, with its JSON key: the one list the code walks. */
#define TELE_FIELDS(X)                                                                     \
	X(cpu_usec) X(user_usec) X(system_usec) X(memory_peak) X(io_read_bytes)            \
	X(io_write_bytes) X(cpu_pressure_usec) X(memory_pressure_usec) X(io_pressure_usec)

struct tele_field {
	const char *name;
	size_t offset;
};
static const struct tele_field tele_fields[] = {
#define TELE_FIELD(f) { #f, offsetof(struct kts_telemetry, f) },
	TELE_FIELDS(TELE_FIELD)
#undef TELE_FIELD
};

static struct kts_tele_value *field_of(struct kts_telemetry *t, size_t i)
{
	return (struct kts_tele_value *) ((char *) t + tele_fields[i].offset);
}

static const struct kts_tele_value *cfield_of(const struct kts_telemetry *t, size_t i)
{
	return (const struct kts_tele_value *) ((const char *) t + tele_fields[i].offset);
}

void telemetry_init(struct kts_telemetry *t)
{
	*t = (struct kts_telemetry){ 0 };
	for (size_t i = 0; i < ELEMENTSOF(tele_fields); i++)
		*field_of(t, i) = (struct kts_tele_value){ TELEMETRY_ABSENT, KTS_TELE_NONE };
}

bool telemetry_empty(const struct kts_telemetry *t)
{
	for (size_t i = 0; i < ELEMENTSOF(tele_fields); i++)
		if (cfield_of(t, i)->from != KTS_TELE_NONE)
			return false;
	return true;
}

static void set_value(struct kts_tele_value *v, uint64_t x, enum kts_tele_source from)
{
	*v = (struct kts_tele_value){ x, from };
}

/* ---------------------------------------------------------------- parsers */

/* A decimal integer of 1-20 digits that fits 64 bits, at *p; advances *p past it. */
static int parse_u64(const char **p, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;
	size_t n = 0;

	for (; *s >= '0' && *s <= '9'; s++, n++) {
		unsigned d = (unsigned) (*s - '0');

		if (n >= 20 || v > (UINT64_MAX - d) / 10)
			return -EBADMSG;
		v = v * 10 + d;
	}
	if (n == 0)
		return -EBADMSG;
	*p = s;
	*ret = v;
	return 0;
}

/* A name of [a-z0-9_.], 1-64 characters, at *p; advances *p past it. */
static int parse_name(const char **p, const char **ret, size_t *ret_len)
{
	size_t n = strspn(*p, "abcdefghijklmnopqrstuvwxyz0123456789_.");

	if (n == 0 || n > 64)
		return -EBADMSG;
	*ret = *p;
	*ret_len = n;
	*p += n;
	return 0;
}

static bool name_is(const char *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* The text's length when it is non-empty, ends its last line and is not too large. */
static int check_text(const char *text, bool empty_ok)
{
	size_t len = strnlen(text, TELEMETRY_FILE_MAX + 1);

	if (len > TELEMETRY_FILE_MAX || (len == 0 && !empty_ok) || (len > 0 && text[len - 1] != '\n'))
		return -EBADMSG;
	return 0;
}

int telemetry_parse_cpu_stat(const char *text, struct kts_telemetry *t)
{
	static const char *const keys[] = { "usage_usec", "user_usec", "system_usec" };
	uint64_t v[ELEMENTSOF(keys)];
	bool seen[ELEMENTSOF(keys)] = { false };

	if (check_text(text, false) < 0)
		return -EBADMSG;
	/* "NAME VALUE\n" per line; names we do not know (nr_periods, ...) are checked, kept out. */
	for (const char *p = text; *p;) {
		const char *name;
		size_t len;
		uint64_t x;

		if (parse_name(&p, &name, &len) < 0 || *p++ != ' ' || parse_u64(&p, &x) < 0 ||
		    *p++ != '\n')
			return -EBADMSG;
		for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
			if (!name_is(name, len, keys[i]))
				continue;
			if (seen[i])
				return -EBADMSG;
			seen[i] = true;
			v[i] = x;
		}
	}
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (!seen[i])
			return -EBADMSG;
	set_value(&t->cpu_usec, v[0], KTS_TELE_CGROUP);
	set_value(&t->user_usec, v[1], KTS_TELE_CGROUP);
	set_value(&t->system_usec, v[2], KTS_TELE_CGROUP);
	return 0;
}

/* "D+" or "D+.D+" (PSI's averages, iocost's rates) at *p. */
static int parse_number(const char **p)
{
	uint64_t ignored;

	if (parse_u64(p, &ignored) < 0)
		return -EBADMSG;
	if (**p != '.')
		return 0;
	(*p)++;
	return parse_u64(p, &ignored);
}

/*
 * One PSI line after its "some"/"full": " avg10=0.00 avg60=0.00 avg300=0.00 total=N\n".
 * avg* are fractions, total an integer; each of the four once; other keys are tolerated
 * when they are shaped like them. *p ends past the newline.
 */
static int parse_pressure_line(const char **p, uint64_t *ret_total)
{
	static const char *const keys[] = { "avg10", "avg60", "avg300", "total" };
	bool seen[ELEMENTSOF(keys)] = { false };

	while (**p == ' ') {
		const char *name;
		size_t len, k = ELEMENTSOF(keys);

		(*p)++;
		if (parse_name(p, &name, &len) < 0 || *(*p)++ != '=')
			return -EBADMSG;
		for (size_t i = 0; i < ELEMENTSOF(keys); i++)
			if (name_is(name, len, keys[i]))
				k = i;
		if (k < ELEMENTSOF(keys) && seen[k])
			return -EBADMSG;
		if (k < ELEMENTSOF(keys))
			seen[k] = true;
		if (k == 3 ? parse_u64(p, ret_total) < 0 : parse_number(p) < 0)
			return -EBADMSG;
	}
	if (*(*p)++ != '\n')
		return -EBADMSG;
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (!seen[i])
			return -EBADMSG;
	return 0;
}

int telemetry_parse_pressure(const char *text, uint64_t *ret_some_total_usec)
{
	bool some = false, full = false;
	uint64_t total = 0, ignored;

	if (check_text(text, false) < 0)
		return -EBADMSG;
	/* "some ..." once, "full ..." at most once (cpu.pressure has it since Linux 5.13). */
	for (const char *p = text; *p;) {
		if (startswith(p, "some") && !some) {
			p += strlen("some");
			some = true;
			if (parse_pressure_line(&p, &total) < 0)
				return -EBADMSG;
		} else if (startswith(p, "full") && !full) {
			p += strlen("full");
			full = true;
			if (parse_pressure_line(&p, &ignored) < 0)
				return -EBADMSG;
		} else
			return -EBADMSG;
	}
	if (!some)
		return -EBADMSG;
	*ret_some_total_usec = total;
	return 0;
}

/* One io.stat line after its "MAJ:MIN": " rbytes=N wbytes=N rios=N ...\n", summed in. */
static int parse_io_line(const char **p, uint64_t *rbytes, uint64_t *wbytes)
{
	bool seen_r = false, seen_w = false;

	while (**p == ' ') {
		const char *name;
		size_t len;
		uint64_t x, *sum = NULL;
		bool *seen = NULL;

		(*p)++;
		if (parse_name(p, &name, &len) < 0 || *(*p)++ != '=')
			return -EBADMSG;
		if (name_is(name, len, "rbytes"))
			sum = rbytes, seen = &seen_r;
		else if (name_is(name, len, "wbytes"))
			sum = wbytes, seen = &seen_w;
		if (!sum) {
			/* rios, dbytes, ... and iocost's "cost.vrate=100.00" */
			if (parse_number(p) < 0)
				return -EBADMSG;
			continue;
		}
		if (*seen || parse_u64(p, &x) < 0 || x > UINT64_MAX - *sum)
			return -EBADMSG;
		*seen = true;
		*sum += x;
	}
	if (*(*p)++ != '\n' || !seen_r || !seen_w)
		return -EBADMSG;
	return 0;
}

int telemetry_parse_io_stat(const char *text, uint64_t *ret_rbytes, uint64_t *ret_wbytes)
{
	uint64_t r = 0, w = 0, dev;

	/* Empty: the cgroup did no I/O on any device. */
	if (check_text(text, true) < 0)
		return -EBADMSG;
	for (const char *p = text; *p;) {
		if (parse_u64(&p, &dev) < 0 || *p++ != ':' || parse_u64(&p, &dev) < 0 ||
		    parse_io_line(&p, &r, &w) < 0)
			return -EBADMSG;
	}
	*ret_rbytes = r;
	*ret_wbytes = w;
	return 0;
}

/* memory.peak: one integer line. */
static int parse_single(const char *text, uint64_t *ret)
{
	const char *p = text;
	uint64_t x;

	if (check_text(text, false) < 0 || parse_u64(&p, &x) < 0 || strcmp(p, "\n") != 0)
		return -EBADMSG;
	*ret = x;
	return 0;
}

/* ---------------------------------------------------------------- reading */

struct find_mount {
	const char *cgroup; /* the "0::" path */
	char *dir;
};

static int on_mount(const struct mountinfo_entry *e, void *userdata)
{
	struct find_mount *f = userdata;
	size_t n = strlen(e->root);
	const char *rest;

	if (!streq(e->fstype, "cgroup2"))
		return 0;
	/* The mount shows the hierarchy from its root: our path must lie below it. */
	if (streq(e->root, "/"))
		rest = f->cgroup;
	else if (strncmp(f->cgroup, e->root, n) == 0 && (!f->cgroup[n] || f->cgroup[n] == '/'))
		rest = f->cgroup + n;
	else
		return 0;
	if (asprintf(&f->dir, "%s%s", streq(e->mount_point, "/") ? "" : e->mount_point, rest) < 0) {
		f->dir = NULL;
		return -ENOMEM;
	}
	return 1;
}

static bool has_dotdot(const char *p)
{
	size_t n = strlen(p);

	return strstr(p, "/../") || (n >= 3 && streq(p + n - 3, "/.."));
}

int telemetry_cgroup_dir(const char *proc_cgroup, const char *mountinfo, char **ret)
{
	_cleanup_free_ char *path = NULL;
	struct find_mount f = { 0 };
	const char *line = NULL;
	int r;

	/* The unified hierarchy's line, "0::/user.slice/…/x.scope" (cgroups(7)). */
	for (const char *p = proc_cgroup; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "")
		if (startswith(p, "0::/"))
			line = p + strlen("0::");
	if (!line)
		return -ENOENT;
	path = strndup(line, strcspn(line, "\n"));
	if (!path)
		return -ENOMEM;
	f.cgroup = path;
	r = mountinfo_foreach(mountinfo, on_mount, &f);
	if (r < 0)
		return r;
	if (!f.dir)
		return -ENOENT;
	/* The kernel writes neither with "..": such text is not its, and leads elsewhere. */
	if (has_dotdot(f.dir)) {
		free(f.dir);
		return -EBADMSG;
	}
	*ret = f.dir;
	return 0;
}

/* dir/name as text without NUL bytes; -ENOENT etc. when it is not there. */
static int read_cgroup_file(const char *dir, const char *name, char **ret)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	size_t len;
	int r;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	r = read_full_file(path, TELEMETRY_FILE_MAX, &text, &len);
	if (r < 0)
		return log_debug_errno(r, "telemetry: cannot read '%s': %m", path);
	if (strlen(text) != len)
		return log_debug_errno(-EBADMSG, "telemetry: '%s' holds a NUL byte", path);
	*ret = TAKE_PTR(text);
	return 0;
}

static void read_pressure(const char *dir, const char *name, struct kts_tele_value *v)
{
	_cleanup_free_ char *text = NULL;
	uint64_t total;

	if (read_cgroup_file(dir, name, &text) < 0)
		return;
	if (telemetry_parse_pressure(text, &total) < 0) {
		log_debug("telemetry: '%s/%s' is malformed", dir, name);
		return;
	}
	set_value(v, total, KTS_TELE_CGROUP);
}

void telemetry_read_cgroup(const char *dir, struct kts_telemetry *t)
{
	_cleanup_free_ char *cpu = NULL, *peak = NULL, *io = NULL;
	uint64_t x, w;

	if (read_cgroup_file(dir, "cpu.stat", &cpu) >= 0 && telemetry_parse_cpu_stat(cpu, t) < 0)
		log_debug("telemetry: '%s/cpu.stat' is malformed", dir);
	/* The v2 memory controller has it since Linux 5.19, where it is enabled for us. */
	if (read_cgroup_file(dir, "memory.peak", &peak) >= 0) {
		if (parse_single(peak, &x) >= 0)
			set_value(&t->memory_peak, x, KTS_TELE_CGROUP);
		else
			log_debug("telemetry: '%s/memory.peak' is malformed", dir);
	}
	if (read_cgroup_file(dir, "io.stat", &io) >= 0) {
		if (telemetry_parse_io_stat(io, &x, &w) >= 0) {
			set_value(&t->io_read_bytes, x, KTS_TELE_CGROUP);
			set_value(&t->io_write_bytes, w, KTS_TELE_CGROUP);
		} else
			log_debug("telemetry: '%s/io.stat' is malformed", dir);
	}
	/*
	 * PSI "total=" is the stall time since the cgroup was created, not since some start
	 * we chose. A build's transient scope is created for it and holds nothing else, so the
	 * totals are the build's own; that is also why none of this is read under
	 * KTSCOPE_SCOPE=none, where the cgroup is whatever we were started in.
	 */
	read_pressure(dir, "cpu.pressure", &t->cpu_pressure_usec);
	read_pressure(dir, "memory.pressure", &t->memory_pressure_usec);
	read_pressure(dir, "io.pressure", &t->io_pressure_usec);
}

/* This process's cgroup v2 directory, or NULL (logged at debug level). */
static char *self_cgroup_dir(void)
{
	_cleanup_free_ char *cg = NULL, *mi = NULL;
	char *dir = NULL;
	int r;

	r = read_full_file("/proc/self/cgroup", 0, &cg, NULL);
	if (r >= 0)
		r = read_full_file("/proc/self/mountinfo", 0, &mi, NULL);
	if (r >= 0)
		r = telemetry_cgroup_dir(cg, mi, &dir);
	if (r < 0)
		log_debug_errno(r, "telemetry: no cgroup v2 directory of our own: %m");
	return dir;
}

static uint64_t timeval_usec(const struct timeval *tv)
{
	return (uint64_t) tv->tv_sec * 1000000u + (uint64_t) tv->tv_usec;
}

/* User and system time of this process and its waited-for descendants; the largest RSS. */
static void fill_rusage(struct kts_telemetry *t)
{
	struct rusage self, kids;
	uint64_t user, sys, rss;

	if (getrusage(RUSAGE_SELF, &self) < 0 || getrusage(RUSAGE_CHILDREN, &kids) < 0)
		return (void) log_debug_errno(-errno, "telemetry: getrusage: %m");
	user = timeval_usec(&self.ru_utime) + timeval_usec(&kids.ru_utime);
	sys = timeval_usec(&self.ru_stime) + timeval_usec(&kids.ru_stime);
	/* ru_maxrss: KiB (getrusage(2)), of the single largest process, not their sum. */
	rss = (uint64_t) MAX(self.ru_maxrss, kids.ru_maxrss) * 1024u;
	if (t->user_usec.from == KTS_TELE_NONE && t->system_usec.from == KTS_TELE_NONE) {
		set_value(&t->user_usec, user, KTS_TELE_RUSAGE);
		set_value(&t->system_usec, sys, KTS_TELE_RUSAGE);
	}
	if (t->cpu_usec.from == KTS_TELE_NONE)
		set_value(&t->cpu_usec, user + sys, KTS_TELE_RUSAGE);
	if (t->memory_peak.from == KTS_TELE_NONE && rss > 0)
		set_value(&t->memory_peak, rss, KTS_TELE_RUSAGE);
}

void telemetry_read_self(bool in_cgroup, double wall_seconds, struct kts_telemetry *ret)
{
	_cleanup_free_ char *dir = NULL;

	telemetry_init(ret);
	ret->wall_seconds = isfinite(wall_seconds) && wall_seconds > 0 ? wall_seconds : 0;
	if (in_cgroup && (dir = self_cgroup_dir())) {
		log_debug("telemetry: reading cgroup '%s'", dir);
		telemetry_read_cgroup(dir, ret);
	}
	fill_rusage(ret);
}

void telemetry_merge_manager(struct kts_telemetry *t, const struct kts_scope_accounting *a)
{
	const struct {
		struct kts_tele_value *v;
		uint64_t x;
	} m[] = {
		/* CPUUsageNSec is in ns; everything else here in µs. */
		{ &t->cpu_usec, a->cpu_usage_nsec == TELEMETRY_ABSENT ? TELEMETRY_ABSENT
								       : a->cpu_usage_nsec / 1000 },
		{ &t->memory_peak, a->memory_peak },
		{ &t->io_read_bytes, a->io_read_bytes },
		{ &t->io_write_bytes, a->io_write_bytes },
	};

	/* The cgroup's own files beat the manager (the same counters, read later); the
	 * manager beats rusage (the whole unit, not one process or the waited-for ones). */
	for (size_t i = 0; i < ELEMENTSOF(m); i++)
		if (m[i].x != TELEMETRY_ABSENT &&
		    (m[i].v->from == KTS_TELE_NONE || m[i].v->from == KTS_TELE_RUSAGE))
			set_value(m[i].v, m[i].x, KTS_TELE_MANAGER);
}

/* ---------------------------------------------------------------- the summary line */

/* x with thousands separators: "1,512". */
static void fmt_grouped(uint64_t x, char *buf, size_t n)
{
	char digits[24];
	size_t len = (size_t) snprintf(digits, sizeof(digits), "%" PRIu64, x), o = 0;

	for (size_t i = 0; i < len && o + 2 < n; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
}

/* "0.4 s" under ten seconds, else whole seconds grouped: "1,512 s". */
static void fmt_seconds(uint64_t usec, char *buf, size_t n)
{
	char g[32];

	if (usec < 9950000u) {
		(void) snprintf(buf, n, "%.1f s", (double) usec / 1e6);
		return;
	}
	fmt_grouped((usec + 500000u) / 1000000u, g, sizeof(g));
	(void) snprintf(buf, n, "%s s", g);
}

/* "812 B", "9.5 KiB", "812 MiB", "1.9 GiB", "1,234 GiB": one decimal under ten units. */
static void fmt_bytes(uint64_t b, char *buf, size_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB" };
	double v = (double) b;
	size_t u = 0;
	char g[32];

	while (u + 1 < ELEMENTSOF(units) && v >= 1024) {
		v /= 1024;
		u++;
	}
	/* Rounding may carry into the next unit: 1023.7 MiB is "1.0 GiB", not "1,024 MiB". */
	if (u > 0 && u + 1 < ELEMENTSOF(units) && v >= 1023.5) {
		v /= 1024;
		u++;
	}
	if (u > 0 && v < 9.95) {
		(void) snprintf(buf, n, "%.1f %s", v, units[u]);
		return;
	}
	fmt_grouped((uint64_t) (v + 0.5), g, sizeof(g)); /* v >= 0: no libm for llround() */
	(void) snprintf(buf, n, "%s %s", g, units[u]);
}

int telemetry_summary(const struct kts_telemetry *t, char **ret)
{
	char parts[4][80], v[48];
	size_t n = 0;
	char *s;

	if (t->user_usec.from != KTS_TELE_NONE) {
		fmt_seconds(t->user_usec.v, v, sizeof(v));
		(void) snprintf(parts[n++], sizeof(parts[0]), "user %s", v);
	}
	if (t->system_usec.from != KTS_TELE_NONE) {
		fmt_seconds(t->system_usec.v, v, sizeof(v));
		(void) snprintf(parts[n++], sizeof(parts[0]), "sys %s", v);
	}
	/* Without the split, the total (the manager's CPUUsageNSec). */
	if (n == 0 && t->cpu_usec.from != KTS_TELE_NONE) {
		fmt_seconds(t->cpu_usec.v, v, sizeof(v));
		(void) snprintf(parts[n++], sizeof(parts[0]), "CPU %s", v);
	}
	if (t->memory_peak.from != KTS_TELE_NONE) {
		fmt_bytes(t->memory_peak.v, v, sizeof(v));
		(void) snprintf(parts[n++], sizeof(parts[0]), "peak %s%s", v,
				t->memory_peak.from == KTS_TELE_RUSAGE ? " (largest process)" : "");
	}
	if (t->cpu_pressure_usec.from != KTS_TELE_NONE && t->wall_seconds > 0) {
		double pct = (double) t->cpu_pressure_usec.v / (t->wall_seconds * 1e4);

		/* The scope is a moment older than the in-scope run that is the denominator. */
		(void) snprintf(parts[n++], sizeof(parts[0]), "CPU pressure %.0f%%", MIN(pct, 100.0));
	}
	if (n == 0) {
		*ret = NULL;
		return 0;
	}
	if (asprintf(&s, "%s%s%s%s%s%s%s", parts[0], n > 1 ? ", " : "", n > 1 ? parts[1] : "",
		     n > 2 ? ", " : "", n > 2 ? parts[2] : "", n > 3 ? ", " : "",
		     n > 3 ? parts[3] : "") < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* ---------------------------------------------------------------- JSON */

/* Seconds as metadata.json writes them: "%.3f" of a finite value (a double's widest). */
static struct json_object *json_seconds(double s)
{
	char buf[DBL_MAX_10_EXP + 8];

	(void) snprintf(buf, sizeof(buf), "%.3f", s);
	return json_object_new_double_s(s, buf);
}

/* A value reads back only below INT64_MAX (json-c saturates larger integers to it). */
static bool writable(const struct kts_tele_value *v)
{
	return v->from >= KTS_TELE_CGROUP && v->from <= KTS_TELE_RUSAGE && v->v < (uint64_t) INT64_MAX;
}

int telemetry_to_json(const struct kts_telemetry *t, struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *x;

	if (!o)
		return -ENOMEM;
	/* What would not read back is left out: a value is absent rather than wrong. */
	for (size_t i = 0; i < ELEMENTSOF(tele_fields); i++) {
		const struct kts_tele_value *v = cfield_of(t, i);

		if (!writable(v))
			continue;
		x = json_object_new_object();
		if (!x || json_object_object_add(o, tele_fields[i].name, x) < 0) {
			json_object_put(x);
			return -ENOMEM;
		}
		if (json_object_object_add(x, "value", json_object_new_int64((int64_t) v->v)) < 0 ||
		    json_object_object_add(x, "source",
					   json_object_new_string(telemetry_source_name(v->from))) < 0)
			return -ENOMEM;
	}
	x = json_seconds(isfinite(t->wall_seconds) && t->wall_seconds > 0 ? t->wall_seconds : 0);
	if (!x || json_object_object_add(o, "wall_seconds", x) < 0) {
		json_object_put(x);
		return -ENOMEM;
	}
	*ret = TAKE_PTR(o);
	return 0;
}

static int bad(char **ret_why, const char *field, const char *key, const char *sub,
	       const char *what)
{
	return why_set(ret_why, -EBADMSG, "field '%s%s%s%s%s': %s", field, key ? "." : "",
		       strempty(key), sub ? "." : "", strempty(sub), what);
}

/* A JSON number (integer or not) that is finite and >= 0. */
static int get_seconds(struct json_object *v, double *ret)
{
	enum json_type t = json_object_get_type(v);
	double d;

	if (t != json_type_int && t != json_type_double)
		return -EBADMSG;
	d = json_object_get_double(v);
	if (!isfinite(d) || d < 0)
		return -EBADMSG;
	*ret = d;
	return 0;
}

/* {"value": N, "source": "cgroup"|"manager"|"rusage"} of key. */
static int value_from_json(struct json_object *o, const char *field, const char *key,
			   struct kts_tele_value *ret, char **ret_why)
{
	struct json_object *v, *s;
	enum kts_tele_source from;
	int64_t x;

	if (json_object_get_type(o) != json_type_object)
		return bad(ret_why, field, key, NULL, "expected an object");
	if (!json_object_object_get_ex(o, "value", &v))
		return bad(ret_why, field, key, "value", "missing");
	if (json_object_get_type(v) != json_type_int)
		return bad(ret_why, field, key, "value", "expected a non-negative integer");
	x = json_object_get_int64(v);
	if (x < 0 || x == INT64_MAX)
		return bad(ret_why, field, key, "value", "integer out of range");
	if (!json_object_object_get_ex(o, "source", &s))
		return bad(ret_why, field, key, "source", "missing");
	if (json_object_get_type(s) != json_type_string ||
	    source_from_name(json_object_get_string(s), &from) < 0)
		return bad(ret_why, field, key, "source", "expected cgroup, manager or rusage");
	*ret = (struct kts_tele_value){ (uint64_t) x, from };
	return 0;
}

int telemetry_from_json(struct json_object *o, const char *field, struct kts_telemetry *ret,
			char **ret_why)
{
	struct kts_telemetry t;
	struct json_object *v;
	int r;

	if (json_object_get_type(o) != json_type_object)
		return bad(ret_why, field, NULL, NULL, "expected an object");
	telemetry_init(&t);
	for (size_t i = 0; i < ELEMENTSOF(tele_fields); i++) {
		if (!json_object_object_get_ex(o, tele_fields[i].name, &v))
			continue;
		r = value_from_json(v, field, tele_fields[i].name, field_of(&t, i), ret_why);
		if (r < 0)
			return r;
	}
	if (!json_object_object_get_ex(o, "wall_seconds", &v))
		return bad(ret_why, field, "wall_seconds", NULL, "missing");
	if (get_seconds(v, &t.wall_seconds) < 0)
		return bad(ret_why, field, "wall_seconds", NULL, "expected seconds (>= 0)");
	*ret = t;
	return 0;
}

/* ---------------------------------------------------------------- phases */

static const char *const phase_names[_KTS_PHASE_MAX] = {
	[KTS_PHASE_SOURCE] = "source",
	[KTS_PHASE_LOCK_WAIT] = "lock_wait",
	[KTS_PHASE_CONFIGURE] = "configure",
	[KTS_PHASE_MAKE] = "make",
	[KTS_PHASE_COMPILE_COMMANDS] = "compile_commands",
	[KTS_PHASE_STRIP] = "strip",
	[KTS_PHASE_VMLINUX_H] = "vmlinux_h",
	[KTS_PHASE_CAPABILITIES] = "capabilities",
	[KTS_PHASE_HEADERS] = "headers",
	[KTS_PHASE_RECHECK] = "recheck",
	[KTS_PHASE_STORE] = "store",
};

const char *phase_name(enum kts_phase p)
{
	return p >= 0 && p < _KTS_PHASE_MAX ? phase_names[p] : NULL;
}

void phases_init(struct kts_phases *p)
{
	for (size_t i = 0; i < _KTS_PHASE_MAX; i++)
		p->s[i] = -1;
}

bool phases_empty(const struct kts_phases *p)
{
	for (size_t i = 0; i < _KTS_PHASE_MAX; i++)
		if (isfinite(p->s[i]) && p->s[i] >= 0)
			return false;
	return true;
}

int phases_to_json(const struct kts_phases *p, struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();

	if (!o)
		return -ENOMEM;
	for (size_t i = 0; i < _KTS_PHASE_MAX; i++) {
		struct json_object *x;

		/* < 0: did not run; NaN would not read back. */
		if (!isfinite(p->s[i]) || p->s[i] < 0)
			continue;
		x = json_seconds(p->s[i]);
		if (!x || json_object_object_add(o, phase_names[i], x) < 0) {
			json_object_put(x);
			return -ENOMEM;
		}
	}
	*ret = TAKE_PTR(o);
	return 0;
}

int phases_from_json(struct json_object *o, const char *field, struct kts_phases *ret,
		     char **ret_why)
{
	struct kts_phases p;
	struct json_object *v;

	if (json_object_get_type(o) != json_type_object)
		return bad(ret_why, field, NULL, NULL, "expected an object");
	phases_init(&p);
	for (size_t i = 0; i < _KTS_PHASE_MAX; i++)
		if (json_object_object_get_ex(o, phase_names[i], &v) &&
		    get_seconds(v, &p.s[i]) < 0)
			return bad(ret_why, field, phase_names[i], NULL, "expected seconds (>= 0)");
	*ret = p;
	return 0;
}

int telemetry_event_json(const struct kts_telemetry *t, const struct kts_phases *p,
			 struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *x = NULL;

	if (!o)
		return -ENOMEM;
	if (telemetry_to_json(t, &x) < 0 || json_object_object_add(o, "telemetry", x) < 0) {
		json_object_put(x);
		return -ENOMEM;
	}
	x = NULL;
	if (phases_to_json(p, &x) < 0 || json_object_object_add(o, "phases", x) < 0) {
		json_object_put(x);
		return -ENOMEM;
	}
	*ret = TAKE_PTR(o);
	return 0;
}
