/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ktsload: the guest test's loader (tests/scx/run-guest). It attaches a sched_ext scheduler
 * from a BPF object, proves the kernel runs it, and detaches it, saying each fact as one
 * "KTS key value" line on stdout for the host to parse; errors are one "ktsload: ..." line
 * on stderr (libbpf's own warnings, such as a verifier log, come before it).
 *
 *   ktsload --check OBJ     open OBJ only (no kernel needed): the struct_ops map and the
 *                           kernel struct it fills ("KTS struct_ops sched_ext_ops")
 *   ktsload OBJ SECONDS     load and attach; wait for /sys/kernel/sched_ext/state "enabled";
 *                           read root/ops and switch_all; run SECONDS of work in 2 processes;
 *                           read the scheduler's .bss counters; detach; wait for "disabled";
 *                           check that root/ is gone
 * Exit status: 0 every step as expected, 1 a step failed, 2 usage.
 *
 * Linked statically against Debian's libbpf 1.1 (cc -O2 -static ktsload.c -lbpf -lelf -lz),
 * so that a busybox initramfs can run it. Not an automake program: the sanitizer build tree
 * cannot link -static.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SCX_SYSFS "/sys/kernel/sched_ext"
#define STATE_TIMEOUT_MS 10000
#define N_WORKERS 2

static bool failed;

static void say(const char *key, const char *value)
{
	printf("KTS %s %s\n", key, value);
	fflush(stdout);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	failed = true;
	fflush(stdout);
	fputs("ktsload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The first line of a sysfs file, without its newline; -errno when it cannot be read. */
static int read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	int r = 0;

	buf[0] = '\0';
	if (!f)
		return -errno;
	if (!fgets(buf, (int)size, f))
		r = ferror(f) ? -EIO : -ENODATA;
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return r;
}

/* Polls state every 10 ms until it reads want; says "KTS key STATE" with the last value. */
static int wait_state(const char *key, const char *want)
{
	char s[64] = "";
	int r = 0;

	for (int ms = 0; ms <= STATE_TIMEOUT_MS; ms += 10) {
		r = read_line(SCX_SYSFS "/state", s, sizeof(s));
		if (r == 0 && strcmp(s, want) == 0)
			break;
		usleep(10000);
	}
	say(key, r < 0 ? "unreadable" : s);
	if (r < 0 || strcmp(s, want) != 0) {
		fail("%s/state is '%s' after %d ms, expected '%s'", SCX_SYSFS, s, STATE_TIMEOUT_MS, want);
		return -ETIMEDOUT;
	}
	return 0;
}

/* Says a sysfs file's first line as "KTS key VALUE"; fails unless it equals want. */
static void expect_file(const char *key, const char *path, const char *want)
{
	char s[256];
	int r = read_line(path, s, sizeof(s));

	if (r < 0) {
		say(key, "unreadable");
		fail("cannot read %s: %s", path, strerror(-r));
	} else {
		say(key, s);
		if (strcmp(s, want) != 0)
			fail("%s is '%s', expected '%s'", path, s, want);
	}
}

/*
 * The object's struct_ops map, and the kernel struct it fills: the type of the variable in
 * the .struct_ops DATASEC (libbpf 1.1 leaves bpf_map__btf_value_type_id() 0 before load).
 */
static struct bpf_map *find_struct_ops(struct bpf_object *obj, const char **ret_struct)
{
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_type *sec, *var, *t;
	struct bpf_map *map, *ops = NULL;
	int id;

	bpf_object__for_each_map(map, obj)
		if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS)
			ops = map;
	if (!ops || !btf) {
		fail("'%s' has no struct_ops map", bpf_object__name(obj));
		return NULL;
	}
	id = btf__find_by_name_kind(btf, ".struct_ops", BTF_KIND_DATASEC);
	sec = id > 0 ? btf__type_by_id(btf, id) : NULL;
	if (!sec || btf_vlen(sec) < 1) {
		fail("'%s' has no .struct_ops section in its BTF", bpf_object__name(obj));
		return NULL;
	}
	var = btf__type_by_id(btf, btf_var_secinfos(sec)[0].type);
	t = btf__type_by_id(btf, btf__resolve_type(btf, var->type));
	*ret_struct = btf__name_by_offset(btf, t->name_off);
	return ops;
}

/* One worker: SECONDS of 2 ms spins with 1 ms sleeps between (wake-ups for select_cpu). */
static void work(int seconds)
{
	struct timespec now, end, spin_end, nap = { .tv_nsec = 1000000 };

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += seconds;
	do {
		clock_gettime(CLOCK_MONOTONIC, &spin_end);
		spin_end.tv_nsec += 2000000;
		do
			clock_gettime(CLOCK_MONOTONIC, &now);
		while (now.tv_sec < spin_end.tv_sec ||
		       (now.tv_sec == spin_end.tv_sec && now.tv_nsec < spin_end.tv_nsec));
		nanosleep(&nap, NULL);
	} while (now.tv_sec < end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
}

/* N_WORKERS processes of work(); says "KTS work ok" when each exited 0. */
static void run_workers(int seconds)
{
	pid_t kids[N_WORKERS];
	int ok = 0;

	for (int i = 0; i < N_WORKERS; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			work(seconds);
			_exit(0);
		}
		if (kids[i] < 0)
			fail("fork: %s", strerror(errno));
	}
	for (int i = 0; i < N_WORKERS; i++) {
		int st;

		if (kids[i] > 0 && waitpid(kids[i], &st, 0) == kids[i] && WIFEXITED(st) &&
		    WEXITSTATUS(st) == 0)
			ok++;
	}
	say("work", ok == N_WORKERS ? "ok" : "failed");
	if (ok != N_WORKERS)
		fail("%d of %d workers did not finish", N_WORKERS - ok, N_WORKERS);
}

/*
 * Says every 8-byte variable of the object's .bss as "KTS key NAME VALUE", read from the
 * kernel's copy of the .bss map; returns the sum of those named nr_direct and nr_enqueued.
 */
static unsigned long long say_counters(struct bpf_object *obj, const char *key)
{
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	unsigned long long sum = 0;
	struct bpf_map *map, *bss = NULL;
	unsigned char *val;
	size_t size;
	__u32 zero = 0;
	int id;

	bpf_object__for_each_map(map, obj) {
		const char *n = bpf_map__name(map);
		size_t len = strlen(n);

		if (len >= 4 && strcmp(n + len - 4, ".bss") == 0)
			bss = map;
	}
	id = btf ? btf__find_by_name_kind(btf, ".bss", BTF_KIND_DATASEC) : -ENOENT;
	if (!bss || id <= 0) {
		fail("'%s' has no .bss map: no counters", bpf_object__name(obj));
		return 0;
	}
	size = bpf_map__value_size(bss);
	val = calloc(1, size);
	if (!val || bpf_map__lookup_elem(bss, &zero, sizeof(zero), val, size, 0) < 0) {
		fail("cannot read the .bss map '%s': %s", bpf_map__name(bss), strerror(errno));
		free(val);
		return 0;
	}
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const char *name = btf__name_by_offset(btf, btf__type_by_id(btf, vs->type)->name_off);
		unsigned long long v;
		char line[256];

		if (vs->size != sizeof(v) || vs->offset + sizeof(v) > size)
			continue;
		memcpy(&v, val + vs->offset, sizeof(v));
		snprintf(line, sizeof(line), "%s %llu", name, v);
		say(key, line);
		if (strcmp(name, "nr_direct") == 0 || strcmp(name, "nr_enqueued") == 0)
			sum += v;
	}
	free(val);
	return sum;
}

/* Load and attach; says state, ops and switch_all. The link, or NULL on failure. */
static struct bpf_link *attach(struct bpf_object *obj, struct bpf_map *ops)
{
	struct bpf_link *link;
	char s[64];
	int r;

	r = read_line(SCX_SYSFS "/state", s, sizeof(s));
	if (r < 0) {
		fail("cannot read %s/state: %s (a kernel without CONFIG_SCHED_CLASS_EXT?)", SCX_SYSFS,
		     strerror(-r));
		return NULL;
	}
	say("state-before", s);
	if (strcmp(s, "disabled") != 0)
		fail("sched_ext is '%s' before the attach, expected 'disabled'", s);
	if (bpf_object__load(obj) < 0) {
		fail("loading '%s' failed: %s", bpf_object__name(obj), strerror(errno));
		return NULL;
	}
	say("loaded", bpf_object__name(obj));
	link = bpf_map__attach_struct_ops(ops);
	if (!link) {
		fail("attaching struct_ops '%s' failed: %s", bpf_map__name(ops), strerror(errno));
		return NULL;
	}
	if (wait_state("state-attached", "enabled") == 0) {
		expect_file("ops", SCX_SYSFS "/root/ops", bpf_map__name(ops));
		expect_file("switch_all", SCX_SYSFS "/switch_all", "1");
	}
	return link;
}

/* Detach; says the state after it, whether root/ is gone, and the final counters. */
static void detach(struct bpf_object *obj, struct bpf_link *link)
{
	int r = bpf_link__destroy(link); /* libbpf 1.1: a map delete, which unregisters */

	if (r < 0)
		fail("detaching failed: %s", strerror(-r));
	if (wait_state("state-detached", "disabled") < 0)
		return;
	if (access(SCX_SYSFS "/root", F_OK) == 0) {
		say("root", "present");
		fail("%s/root is still there after the detach", SCX_SYSFS);
	} else {
		say("root", "gone");
	}
	(void)say_counters(obj, "counter-final");
}

static int run(struct bpf_object *obj, struct bpf_map *ops, int seconds)
{
	struct bpf_link *link = attach(obj, ops);
	char s[16];

	if (!link)
		return 1;
	if (!failed) {
		snprintf(s, sizeof(s), "%d", seconds);
		say("work-seconds", s);
		run_workers(seconds);
		/* still enabled: the watchdog did not throw the scheduler out during the work */
		expect_file("state-after-work", SCX_SYSFS "/state", "enabled");
		if (say_counters(obj, "counter") == 0)
			fail("nr_direct and nr_enqueued are both 0: the scheduler ran no task");
	}
	detach(obj, link);
	return failed ? 1 : 0;
}

static int usage(void)
{
	fputs("usage: ktsload --check OBJ | ktsload OBJ SECONDS\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	bool check = argc == 3 && strcmp(argv[1], "--check") == 0;
	const char *path = check ? argv[2] : argv[1];
	struct bpf_object *obj;
	struct bpf_map *ops;
	const char *st = NULL;
	char *end = NULL;
	long seconds = 0;
	int r;

	if (argc != 3)
		return usage();
	if (!check) {
		errno = 0;
		seconds = strtol(argv[2], &end, 10);
		if (errno || end == argv[2] || *end || seconds < 1 || seconds > 3600) {
			fprintf(stderr, "ktsload: invalid SECONDS '%s': expected 1..3600\n", argv[2]);
			return 2;
		}
	}
	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		fprintf(stderr, "ktsload: cannot open BPF object '%s': %s\n", path, strerror(errno));
		return 1;
	}
	ops = find_struct_ops(obj, &st);
	if (!ops) {
		bpf_object__close(obj);
		return 1;
	}
	say("struct_ops-map", bpf_map__name(ops));
	say("struct_ops", st);
	r = check ? 0 : run(obj, ops, (int)seconds);
	bpf_object__close(obj);
	say("result", r == 0 ? "ok" : "failed");
	return r;
}
