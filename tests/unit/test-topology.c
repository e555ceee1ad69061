/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sysroot + topology: every snapshot under tests/data/sysfs/ is loaded and
 * compared with its expected-topology (format: tests/data/sysfs/README.md);
 * error paths and edge rules run against small sysroots built in a mkdtemp
 * directory; the live host is loaded too, tolerantly.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpuset.h"
#include "macro.h"
#include "sysroot.h"
#include "topology.h"

#ifndef KTS_TEST_DATADIR
#error "KTS_TEST_DATADIR must name the tests/data directory"
#endif
#define SYSFS_DATA KTS_TEST_DATADIR "/sysfs"

/* The machines DESIGN §8 and the planner tests rely on; each must be present. */
static const char *const required_snapshots[] = {
	"vm-2cpu-1llc", "2s-2llc-4cpu", "2n-8ccx-smt", "offline-holes", "no-cache",
	"4n-asym",      "1024cpu",      "restricted",  "malformed",
};

static char *xasprintf(const char *fmt, ...) _printf_(1, 2);
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	assert_true(r >= 0);
	return s;
}

static char *fmt_set(const struct kts_cpuset *s)
{
	char *str = NULL;

	assert_int_equal(cpuset_format(s, &str), 0);
	return str;
}

static void assert_set_str(const struct kts_cpuset *s, const char *expected, const char *what)
{
	_cleanup_free_ char *got = fmt_set(s);

	if (streq(expected, "-"))
		expected = "";
	if (!streq(got, expected))
		fail_msg("%s: expected '%s', got '%s'", what, expected, got);
}

/* ---- temporary sysroots ------------------------------------------------- */

struct tmproot {
	char path[64];
};

static int tmproot_setup(void **state)
{
	struct tmproot *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	strcpy(t->path, "/tmp/test-topology.XXXXXX");
	assert_non_null(mkdtemp(t->path));
	*state = t;
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int tmproot_teardown(void **state)
{
	struct tmproot *t = *state;

	(void) nftw(t->path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

/* Writes root/rel with content, creating parent directories. */
static void put(const struct tmproot *t, const char *rel, const char *content)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", t->path, rel);
	FILE *f;

	for (char *s = p + strlen(t->path) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", p, strerror(errno));
		*s = '/';
	}
	f = fopen(p, "we");
	if (!f)
		fail_msg("fopen %s: %s", p, strerror(errno));
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
}

/* put() for sys/devices/system/cpu/cpuN/rel. */
static void put_cpu(const struct tmproot *t, unsigned cpu, const char *rel, const char *content)
{
	_cleanup_free_ char *p = xasprintf("sys/devices/system/cpu/cpu%u/%s", cpu, rel);

	put(t, p, content);
}

static void mkdir_rel(const struct tmproot *t, const char *rel)
{
	_cleanup_free_ char *p = xasprintf("%s/.keep", rel);

	put(t, p, "");
}

/* Loads root; returns topo_load's result; *errpath set on failure. */
static int load(const char *root_path, struct kts_topology *topo, char **errpath)
{
	struct kts_sysroot root = KTS_SYSROOT_INIT;
	int r;

	assert_int_equal(sysroot_open(root_path, &root), 0);
	r = topo_load(&root, topo, errpath);
	sysroot_close(&root);
	return r;
}

static void assert_load_error(const struct tmproot *t, int expected, const char *rel)
{
	struct kts_topology topo = { 0 };
	_cleanup_free_ char *errpath = NULL, *want = xasprintf("%s/%s", t->path, rel);
	int r;

	r = load(t->path, &topo, &errpath);
	if (r != expected)
		fail_msg("expected %s, got %d (%s) at '%s'", strerror(-expected), r,
			 r < 0 ? strerror(-r) : "success", strempty(errpath));
	assert_non_null(errpath);
	assert_string_equal(errpath, want);
}

/* ---- invariants every successful load must satisfy ---------------------- */

static void check_invariants(const struct kts_topology *t)
{
	_cleanup_cpuset_ struct kts_cpuset seen = KTS_CPUSET_INIT;

	assert_false(cpuset_empty(&t->online));
	assert_true(cpuset_is_subset(&t->allowed, &t->online));
	assert_true(t->n_llcs >= 1);
	assert_true(t->n_nodes >= 1);

	for (size_t i = 0; i < t->n_llcs; i++) {
		const struct kts_llc *l = &t->llcs[i];

		assert_int_equal(l->index, i);
		if (i > 0)
			assert_true(l->id > t->llcs[i - 1].id);
		assert_false(cpuset_empty(&l->cpus));
		/* disjoint groups covering exactly the online CPUs */
		assert_int_equal(cpuset_count_and(&seen, &l->cpus), 0);
		assert_int_equal(cpuset_or(&seen, &seen, &l->cpus), 0);
		assert_int_equal(l->node, topo_cpu_node(t, (unsigned) cpuset_next(&l->cpus, -1)));
		CPUSET_FOREACH(c, &l->cpus)
			assert_int_equal(topo_cpu_llc(t, (unsigned) c), (int) i);
	}
	assert_true(cpuset_equal(&seen, &t->online));

	cpuset_clear(&seen);
	for (size_t i = 0; i < t->n_nodes; i++) {
		const struct kts_node *n = &t->nodes[i];

		if (i > 0)
			assert_true(n->id > t->nodes[i - 1].id);
		assert_int_equal(cpuset_count_and(&seen, &n->cpus), 0);
		assert_int_equal(cpuset_or(&seen, &seen, &n->cpus), 0);
		CPUSET_FOREACH(c, &n->cpus)
			assert_int_equal(topo_cpu_node(t, (unsigned) c), (int) n->id);
		for (size_t j = 0; j < t->n_nodes; j++)
			assert_int_equal(topo_distance(t, n->id, t->nodes[j].id),
					 t->distance[i * t->n_nodes + j]);
	}
	assert_true(cpuset_equal(&seen, &t->online));

	/* CPUs that are not online have no node and no LLC */
	for (unsigned c = 0; c <= (unsigned) cpuset_last(&t->online) + 70; c++)
		if (!cpuset_has(&t->online, c)) {
			assert_int_equal(topo_cpu_node(t, c), -1);
			assert_int_equal(topo_cpu_llc(t, c), -1);
		}
}

/* ---- snapshots vs expected-topology ------------------------------------- */

static int errno_from_name(const char *name)
{
	static const struct {
		const char *name;
		int value;
	} table[] = {
		{ "EBADMSG", EBADMSG }, { "ENOENT", ENOENT }, { "EACCES", EACCES },
		{ "ENOTDIR", ENOTDIR }, { "ERANGE", ERANGE },
	};

	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		if (streq(table[i].name, name))
			return table[i].value;
	fail_msg("expected-topology names unknown errno '%s'", name);
	return 0;
}

static void check_snapshot(const char *name)
{
	/* Canonical, as sysroot_open() makes it (distcheck's srcdir is "_build/sub/../.."). */
	_cleanup_free_ char *raw = xasprintf("%s/%s", SYSFS_DATA, name);
	_cleanup_free_ char *dir = realpath(raw, NULL);
	_cleanup_free_ char *exp_path = xasprintf("%s/expected-topology", dir ? dir : raw);
	_cleanup_free_ char *errpath = NULL, *line = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	struct kts_topology t = { 0 };
	size_t n_llc = 0, n_node = 0, n_dist = 0, cap = 0;
	bool seen_online = false, seen_allowed = false, seen_fallback = false, loaded;
	int r;

	if (!dir)
		fail_msg("snapshot directory '%s': %s", raw, strerror(errno));
	f = fopen(exp_path, "re");
	if (!f)
		fail_msg("snapshot '%s' has no readable expected-topology (%s): every snapshot "
			 "directory needs one", name, strerror(errno));

	r = load(dir, &t, &errpath);
	loaded = r == 0;

	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *kw;

		line[strcspn(line, "\n")] = '\0';
		kw = strtok_r(line, " ", &save);
		if (!kw || kw[0] == '#')
			continue;

		if (streq(kw, "error")) {
			const char *ename = strtok_r(NULL, " ", &save);
			const char *rel = strtok_r(NULL, " ", &save);
			_cleanup_free_ char *want = NULL;

			assert_non_null(ename);
			assert_non_null(rel);
			want = xasprintf("%s/%s", dir, rel);
			if (r != -errno_from_name(ename))
				fail_msg("%s: expected %s, got %d", name, ename, r);
			assert_non_null(errpath);
			assert_string_equal(errpath, want);
			return;
		}

		if (!loaded)
			fail_msg("%s: topo_load failed: %s at '%s'", name, strerror(-r),
				 strempty(errpath));

		if (streq(kw, "online") || streq(kw, "allowed")) {
			const char *v = strtok_r(NULL, " ", &save);

			assert_non_null(v);
			assert_set_str(streq(kw, "online") ? &t.online : &t.allowed, v, kw);
			*(streq(kw, "online") ? &seen_online : &seen_allowed) = true;
		} else if (streq(kw, "llc")) {
			unsigned idx, id, node;
			char cpus[4096];

			if (sscanf(save, "%u id %u node %u cpus %4095s", &idx, &id, &node,
				   cpus) != 4)
				fail_msg("%s: bad llc line '%s'", name, save);
			if (n_llc >= t.n_llcs)
				fail_msg("%s: expected more than %zu LLCs", name, t.n_llcs);
			assert_int_equal(idx, n_llc);
			assert_int_equal(t.llcs[n_llc].index, idx);
			assert_int_equal(t.llcs[n_llc].id, id);
			assert_int_equal(t.llcs[n_llc].node, node);
			assert_set_str(&t.llcs[n_llc].cpus, cpus, "llc cpus");
			n_llc++;
		} else if (streq(kw, "node")) {
			unsigned id;
			char cpus[4096];

			if (sscanf(save, "%u cpus %4095s", &id, cpus) != 2)
				fail_msg("%s: bad node line '%s'", name, save);
			if (n_node >= t.n_nodes)
				fail_msg("%s: expected more than %zu nodes", name, t.n_nodes);
			assert_int_equal(t.nodes[n_node].id, id);
			assert_set_str(&t.nodes[n_node].cpus, cpus, "node cpus");
			n_node++;
		} else if (streq(kw, "distance")) {
			size_t j = 0;

			if (n_dist >= t.n_nodes)
				fail_msg("%s: more distance rows than %zu nodes", name, t.n_nodes);
			for (char *v; (v = strtok_r(NULL, " ", &save)); j++) {
				unsigned long want = strtoul(v, NULL, 10);

				assert_true(j < t.n_nodes);
				assert_int_equal(t.distance[n_dist * t.n_nodes + j], want);
				assert_int_equal(topo_distance(&t, t.nodes[n_dist].id, t.nodes[j].id),
						 want);
			}
			assert_int_equal(j, t.n_nodes);
			n_dist++;
		} else if (streq(kw, "fallback")) {
			const char *v = strtok_r(NULL, " ", &save);

			assert_non_null(v);
			assert_int_equal(t.distance_fallback, streq(v, "yes"));
			seen_fallback = true;
		} else
			fail_msg("%s: unknown expected-topology keyword '%s'", name, kw);
	}

	if (!loaded)
		fail_msg("%s: topo_load failed (%s at '%s') but no error line is expected", name,
			 strerror(-r), strempty(errpath));
	assert_true(seen_online && seen_allowed && seen_fallback);
	assert_int_equal(n_llc, t.n_llcs);
	assert_int_equal(n_node, t.n_nodes);
	assert_int_equal(n_dist, t.n_nodes);
	assert_false(t.host);
	check_invariants(&t);
	topo_done(&t);
}

static void test_snapshot_matches_expected(void **state)
{
	check_snapshot(*state);
}

static void test_required_snapshots_present(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(required_snapshots); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s/expected-topology", SYSFS_DATA,
						   required_snapshots[i]);

		if (access(p, R_OK) < 0)
			fail_msg("required snapshot file %s: %s", p, strerror(errno));
	}
}

/* ---- specific rules ----------------------------------------------------- */

static void test_no_cache_is_one_llc_with_every_cpu(void **state)
{
	struct kts_topology t = { 0 };

	assert_int_equal(load(SYSFS_DATA "/no-cache", &t, NULL), 0);
	assert_int_equal(t.n_llcs, 1);
	assert_true(cpuset_equal(&t.llcs[0].cpus, &t.online));
	assert_int_equal(cpuset_count(&t.online), 4);
	/* no status file in the snapshot: allowed = online */
	assert_true(cpuset_equal(&t.allowed, &t.online));
	topo_done(&t);
}

static void test_distance_unknown_node_is_255(void **state)
{
	struct kts_topology t = { 0 };

	assert_int_equal(load(SYSFS_DATA "/4n-asym", &t, NULL), 0);
	assert_int_equal(topo_distance(&t, 0, 1), 16);
	assert_int_equal(topo_distance(&t, 1, 0), 18);    /* rows are not symmetric */
	assert_int_equal(topo_distance(&t, 4, 4), 10);    /* memory-only node is a node */
	assert_int_equal(topo_distance(&t, 0, 5), 255);   /* beyond every node */
	assert_int_equal(topo_distance(&t, 5, 0), 255);
	assert_int_equal(topo_distance(&t, 0, 9999), 255);
	assert_int_equal(topo_distance(&t, UINT32_MAX, 0), 255);
	assert_int_equal(t.n_nodes, 5);
	assert_true(cpuset_empty(&t.nodes[4].cpus));
	topo_done(&t);
}

static void test_distance_hole_node_is_255(void **state)
{
	struct tmproot *tr = *state;
	struct kts_topology t = { 0 };

	/* node ids 0 and 2: node 1 is a hole in the map, not a node */
	put(tr, "sys/devices/system/cpu/online", "0-1\n");
	put(tr, "sys/devices/system/cpu/cpu0/node0", "");
	put(tr, "sys/devices/system/cpu/cpu1/node2", "");
	put(tr, "sys/devices/system/node/node0/distance", "10 20\n");
	put(tr, "sys/devices/system/node/node2/distance", "20 10\n");
	assert_int_equal(load(tr->path, &t, NULL), 0);
	assert_false(t.distance_fallback);
	assert_int_equal(t.n_nodes, 2);
	assert_int_equal(topo_distance(&t, 0, 2), 20);
	assert_int_equal(topo_distance(&t, 1, 0), 255);
	assert_int_equal(topo_distance(&t, 0, 1), 255);
	check_invariants(&t);
	topo_done(&t);
}

static void test_host_loads_and_allowed_within_online(void **state)
{
	struct kts_sysroot root = KTS_SYSROOT_INIT;
	struct kts_topology t = { 0 };
	_cleanup_free_ char *errpath = NULL;
	cpu_set_t mask;
	int r;

	assert_int_equal(sysroot_open(NULL, &root), 0);
	assert_true(root.host);
	r = topo_load(&root, &t, &errpath);
	if (r < 0)
		fail_msg("host topology: %s at '%s'", strerror(-r), strempty(errpath));
	assert_true(t.host);
	assert_string_equal(t.sysroot, "/");
	assert_false(cpuset_empty(&t.allowed));
	check_invariants(&t);

	/* allowed is this process's affinity ∩ online, when the mask fits cpu_set_t */
	if (sched_getaffinity(0, sizeof(mask), &mask) == 0) {
		for (unsigned c = 0; c < CPU_SETSIZE; c++)
			assert_int_equal(cpuset_has(&t.allowed, c),
					 CPU_ISSET(c, &mask) && cpuset_has(&t.online, c));
	}
	topo_done(&t);
	sysroot_close(&root);
}

static void test_missing_online_is_enoent_naming_it(void **state)
{
	struct tmproot *tr = *state;

	mkdir_rel(tr, "sys/devices/system/cpu");
	assert_load_error(tr, -ENOENT, "sys/devices/system/cpu/online");
}

static void test_malformed_online_is_ebadmsg_naming_it(void **state)
{
	struct tmproot *tr = *state;
	static const char *const bad[] = { "0-3,,5\n", "3-1\n", "0-\n", "x\n", "", "1 2\n" };

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		put(tr, "sys/devices/system/cpu/online", bad[i]);
		assert_load_error(tr, -EBADMSG, "sys/devices/system/cpu/online");
	}
}

static void test_malformed_level_is_ebadmsg_naming_it(void **state)
{
	struct tmproot *tr = *state;

	put(tr, "sys/devices/system/cpu/online", "0-1\n");
	put(tr, "sys/devices/system/cpu/cpu0/cache/index0/level", "1\n");
	put(tr, "sys/devices/system/cpu/cpu0/cache/index0/id", "0\n");
	put(tr, "sys/devices/system/cpu/cpu1/cache/index0/level", "1\n");
	put(tr, "sys/devices/system/cpu/cpu1/cache/index3/level", "three\n");
	assert_load_error(tr, -EBADMSG, "sys/devices/system/cpu/cpu1/cache/index3/level");
	put(tr, "sys/devices/system/cpu/cpu1/cache/index3/level", "-3\n");
	assert_load_error(tr, -EBADMSG, "sys/devices/system/cpu/cpu1/cache/index3/level");
}

static void test_malformed_id_and_shared_list_name_the_file(void **state)
{
	struct tmproot *tr = *state;

	put(tr, "sys/devices/system/cpu/online", "0\n");
	put(tr, "sys/devices/system/cpu/cpu0/cache/index3/level", "3\n");
	put(tr, "sys/devices/system/cpu/cpu0/cache/index3/id", "0x1\n");
	assert_load_error(tr, -EBADMSG, "sys/devices/system/cpu/cpu0/cache/index3/id");

	/* without id, shared_cpu_list decides: malformed, empty, missing */
	_cleanup_free_ char *id = xasprintf("%s/sys/devices/system/cpu/cpu0/cache/index3/id",
					    tr->path);
	assert_int_equal(unlink(id), 0);
	put(tr, "sys/devices/system/cpu/cpu0/cache/index3/shared_cpu_list", "0,,1\n");
	assert_load_error(tr, -EBADMSG, "sys/devices/system/cpu/cpu0/cache/index3/shared_cpu_list");
	put(tr, "sys/devices/system/cpu/cpu0/cache/index3/shared_cpu_list", "\n");
	assert_load_error(tr, -EBADMSG, "sys/devices/system/cpu/cpu0/cache/index3/shared_cpu_list");
	_cleanup_free_ char *sh = xasprintf("%s/sys/devices/system/cpu/cpu0/cache/index3/"
					    "shared_cpu_list", tr->path);
	assert_int_equal(unlink(sh), 0);
	assert_load_error(tr, -ENOENT, "sys/devices/system/cpu/cpu0/cache/index3/shared_cpu_list");
}

static void test_malformed_status_names_it(void **state)
{
	struct tmproot *tr = *state;
	struct kts_topology t = { 0 };

	put(tr, "sys/devices/system/cpu/online", "0-3\n");
	put(tr, "proc/self/status", "Name:\tx\nCpus_allowed_list:\t0-2,\n");
	assert_load_error(tr, -EBADMSG, "proc/self/status");
	put(tr, "proc/self/status", "Name:\tx\nCpus_allowed:\tf\n");
	assert_load_error(tr, -EBADMSG, "proc/self/status");

	/* a good one, in the middle of the file, restricted and beyond online */
	put(tr, "proc/self/status", "Name:\tx\nCpus_allowed_list:\t1,3-9\nMems_allowed_list:\t0\n");
	assert_int_equal(load(tr->path, &t, NULL), 0);
	assert_set_str(&t.allowed, "1,3", "allowed");
	topo_done(&t);
}

static void test_cpu_without_cache_gets_own_llc(void **state)
{
	struct tmproot *tr = *state;
	struct kts_topology t = { 0 };

	put(tr, "sys/devices/system/cpu/online", "0-3\n");
	for (unsigned c = 0; c < 4; c++) {
		if (c == 2)
			continue;  /* cpu2: no cache directory at all */
		put_cpu(tr, c, "cache/index3/level", "3\n");
		put_cpu(tr, c, "cache/index3/id", "7\n");
	}
	assert_int_equal(load(tr->path, &t, NULL), 0);
	assert_int_equal(t.n_llcs, 2);
	assert_int_equal(t.llcs[0].id, 2);   /* keyed by its own CPU number */
	assert_set_str(&t.llcs[0].cpus, "2", "cache-less CPU's LLC");
	assert_int_equal(t.llcs[1].id, 7);
	assert_set_str(&t.llcs[1].cpus, "0-1,3", "shared L3");
	assert_int_equal(topo_cpu_llc(&t, 2), 0);
	assert_int_equal(topo_cpu_llc(&t, 3), 1);
	check_invariants(&t);
	topo_done(&t);
}

static void test_highest_level_wins_and_leaf_without_level_ignored(void **state)
{
	struct tmproot *tr = *state;
	struct kts_topology t = { 0 };

	put(tr, "sys/devices/system/cpu/online", "0-1\n");
	for (unsigned c = 0; c < 2; c++) {
		put_cpu(tr, c, "cache/index0/level", "2\n");  /* L2: private per CPU */
		put_cpu(tr, c, "cache/index0/id", c ? "11\n" : "10\n");
		put_cpu(tr, c, "cache/index1/level", "3\n");  /* L3: shared, id 5 */
		put_cpu(tr, c, "cache/index1/id", "5\n");
		put_cpu(tr, c, "cache/index7/id", "99\n");    /* no level: not rankable, ignored */
	}
	assert_int_equal(load(tr->path, &t, NULL), 0);
	assert_int_equal(t.n_llcs, 1);
	assert_int_equal(t.llcs[0].id, 5);
	assert_set_str(&t.llcs[0].cpus, "0-1", "L3 cpus");
	topo_done(&t);

	/* two leaves at the top level (index1 and index4): the lower index number decides */
	for (unsigned c = 0; c < 2; c++) {
		put_cpu(tr, c, "cache/index4/level", "3\n");
		put_cpu(tr, c, "cache/index4/id", c ? "8\n" : "6\n");
	}
	assert_int_equal(load(tr->path, &t, NULL), 0);
	assert_int_equal(t.n_llcs, 1);
	assert_int_equal(t.llcs[0].id, 5);
	topo_done(&t);
}

static void test_cpu_node_is_its_own_llc_node_is_lowest_cpus(void **state)
{
	struct tmproot *tr = *state;
	struct kts_topology t = { 0 };

	/* one L3 across two sub-NUMA nodes (SNC): CPUs keep their own node */
	put(tr, "sys/devices/system/cpu/online", "0-3\n");
	for (unsigned c = 0; c < 4; c++) {
		_cleanup_free_ char *n = xasprintf("node%u", c / 2);

		put_cpu(tr, c, n, "");
		put_cpu(tr, c, "cache/index3/level", "3\n");
		put_cpu(tr, c, "cache/index3/shared_cpu_list", "0-3\n");
	}
	assert_int_equal(load(tr->path, &t, NULL), 0);
	assert_int_equal(t.n_llcs, 1);
	assert_int_equal(t.llcs[0].id, 0);
	assert_int_equal(t.llcs[0].node, 0);
	assert_int_equal(topo_cpu_node(&t, 1), 0);
	assert_int_equal(topo_cpu_node(&t, 2), 1);
	assert_int_equal(t.n_nodes, 2);
	assert_set_str(&t.nodes[1].cpus, "2-3", "node 1");
	/* no node directories: distances fall back */
	assert_true(t.distance_fallback);
	assert_int_equal(topo_distance(&t, 0, 1), 20);
	assert_int_equal(topo_distance(&t, 1, 1), 10);
	check_invariants(&t);
	topo_done(&t);
}

static void test_distance_fallback_on_bad_rows(void **state)
{
	struct tmproot *tr = *state;
	static const char *const row1[] = {
		"20 10 30\n", "20\n", "20 ten\n", "20 -10\n", "20 256\n",
	};

	put(tr, "sys/devices/system/cpu/online", "0-1\n");
	put(tr, "sys/devices/system/cpu/cpu0/node0", "");
	put(tr, "sys/devices/system/cpu/cpu1/node1", "");
	put(tr, "sys/devices/system/node/node0/distance", "10 31\n");

	for (size_t i = 0; i < ELEMENTSOF(row1); i++) {
		struct kts_topology t = { 0 };

		put(tr, "sys/devices/system/node/node1/distance", row1[i]);
		assert_int_equal(load(tr->path, &t, NULL), 0);
		if (!t.distance_fallback)
			fail_msg("row '%s' accepted", row1[i]);
		assert_int_equal(topo_distance(&t, 0, 1), 20);
		assert_int_equal(topo_distance(&t, 1, 0), 20);
		assert_int_equal(topo_distance(&t, 0, 0), 10);
		topo_done(&t);
	}

	/* and a good pair of rows is read as written */
	struct kts_topology t = { 0 };
	put(tr, "sys/devices/system/node/node1/distance", "31 10\n");
	assert_int_equal(load(tr->path, &t, NULL), 0);
	assert_false(t.distance_fallback);
	assert_int_equal(topo_distance(&t, 0, 1), 31);
	topo_done(&t);

	/* a missing row: fallback */
	_cleanup_free_ char *p = xasprintf("%s/sys/devices/system/node/node1/distance", tr->path);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(load(tr->path, &t, NULL), 0);
	assert_true(t.distance_fallback);
	topo_done(&t);
}

static void test_topo_done_tolerates_zeroed_and_repeated(void **state)
{
	struct kts_topology t = { 0 };

	topo_done(&t);
	topo_done(NULL);
	assert_int_equal(load(SYSFS_DATA "/restricted", &t, NULL), 0);
	topo_done(&t);
	assert_null(t.llcs);
	assert_int_equal(t.n_llcs, 0);
	topo_done(&t);
	assert_int_equal(topo_cpu_llc(&t, 0), -1);
	assert_int_equal(topo_cpu_node(&t, 0), -1);
	assert_int_equal(topo_distance(&t, 0, 0), 255);
}

static void test_failure_leaves_ret_untouched(void **state)
{
	struct tmproot *tr = *state;
	struct kts_topology t = { .n_llcs = 42 };
	_cleanup_free_ char *errpath = NULL;

	put(tr, "sys/devices/system/cpu/online", "bogus\n");
	assert_int_equal(load(tr->path, &t, &errpath), -EBADMSG);
	assert_int_equal(t.n_llcs, 42);
	assert_null(t.llcs);
	/* ret_errpath NULL is allowed */
	assert_int_equal(load(tr->path, &t, NULL), -EBADMSG);
}

/* ---- sysroot ------------------------------------------------------------ */

static void test_sysroot_paths_and_reads(void **state)
{
	struct tmproot *tr = *state;
	struct kts_sysroot root = KTS_SYSROOT_INIT, host = KTS_SYSROOT_INIT;
	_cleanup_free_ char *a = NULL, *b = NULL, *line = NULL, *viaslash = NULL;
	_cleanup_free_ char *dotdot = xasprintf("%s/sub/..", tr->path);
	char buf[32] = "";
	FILE *f;
	int fd;

	put(tr, "sub/value", "  0-3 \n\t\n");
	put(tr, "sub/nul", "ab");
	{
		_cleanup_free_ char *p = xasprintf("%s/sub/nul", tr->path);
		int w = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);

		assert_true(w >= 0);
		assert_int_equal(write(w, "\0cd", 3), 3);
		close(w);
	}

	/* a path that canonicalises to the snapshot; "/" → host */
	assert_int_equal(sysroot_open(dotdot, &root), 0);
	assert_false(root.host);
	assert_string_equal(root.path, tr->path);
	assert_int_equal(sysroot_open("/", &host), 0);
	assert_true(host.host);
	assert_string_equal(host.path, "/");

	a = sysroot_abspath(&root, "/sys/x");
	b = sysroot_abspath(&host, "sys/x");
	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(b, "/sys/x");
	assert_true(startswith(a, tr->path));
	assert_string_equal(a + strlen(tr->path), "/sys/x");

	/* trailing whitespace stripped, leading kept; leading '/' means "under the root" */
	assert_int_equal(sysroot_read_line(&root, "sub/value", &line), 0);
	assert_string_equal(line, "  0-3");
	assert_int_equal(sysroot_read_line(&root, "/sub/value", &viaslash), 0);
	assert_string_equal(viaslash, "  0-3");
	assert_int_equal(sysroot_read_line(&root, "sub/missing", &line), -ENOENT);
	assert_string_equal(line, "  0-3");  /* untouched on failure */
	assert_int_equal(sysroot_read_line(&root, "sub/nul", &line), -EBADMSG);

	assert_int_equal(sysroot_exists(&root, "sub/value"), 1);
	assert_int_equal(sysroot_exists(&root, "sub/none"), 0);
	assert_int_equal(sysroot_exists(&root, "sub/value/below"), 0);
	assert_int_equal(sysroot_exists(&root, "/"), 1);

	f = sysroot_fopen(&root, "sub/value");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	assert_string_equal(buf, "  0-3 \n");
	assert_true(fcntl(fileno(f), F_GETFD) & FD_CLOEXEC);
	fclose(f);
	errno = 0;
	assert_null(sysroot_fopen(&root, "sub/none"));
	assert_int_equal(errno, ENOENT);

	fd = sysroot_open_dir(&root, "sub");
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	assert_int_equal(sysroot_open_dir(&root, "sub/value"), -ENOTDIR);
	assert_int_equal(sysroot_open_dir(&root, "none"), -ENOENT);
	assert_true(fcntl(root.fd, F_GETFD) & FD_CLOEXEC);

	sysroot_close(&root);
	assert_int_equal(root.fd, -EBADF);
	assert_null(root.path);
	sysroot_close(&root);
	sysroot_close(&host);
}

static void test_sysroot_open_errors(void **state)
{
	struct tmproot *tr = *state;
	struct kts_sysroot root = KTS_SYSROOT_INIT;
	_cleanup_free_ char *missing = xasprintf("%s/nope", tr->path);
	_cleanup_free_ char *file = xasprintf("%s/file", tr->path);

	put(tr, "file", "x");
	assert_int_equal(sysroot_open(missing, &root), -ENOENT);
	assert_int_equal(sysroot_open(file, &root), -ENOTDIR);
	assert_int_equal(root.fd, -1);
	assert_null(root.path);
}

/* ---- main ---------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

#define TMP_TEST(f) cmocka_unit_test_setup_teardown(f, tmproot_setup, tmproot_teardown)

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_required_snapshots_present),
		cmocka_unit_test(test_no_cache_is_one_llc_with_every_cpu),
		cmocka_unit_test(test_distance_unknown_node_is_255),
		TMP_TEST(test_distance_hole_node_is_255),
		cmocka_unit_test(test_host_loads_and_allowed_within_online),
		TMP_TEST(test_missing_online_is_enoent_naming_it),
		TMP_TEST(test_malformed_online_is_ebadmsg_naming_it),
		TMP_TEST(test_malformed_level_is_ebadmsg_naming_it),
		TMP_TEST(test_malformed_id_and_shared_list_name_the_file),
		TMP_TEST(test_malformed_status_names_it),
		TMP_TEST(test_cpu_without_cache_gets_own_llc),
		TMP_TEST(test_highest_level_wins_and_leaf_without_level_ignored),
		TMP_TEST(test_cpu_node_is_its_own_llc_node_is_lowest_cpus),
		TMP_TEST(test_distance_fallback_on_bad_rows),
		cmocka_unit_test(test_topo_done_tolerates_zeroed_and_repeated),
		TMP_TEST(test_failure_leaves_ret_untouched),
		TMP_TEST(test_sysroot_paths_and_reads),
		TMP_TEST(test_sysroot_open_errors),
	};
	struct CMUnitTest *tests;
	char **names = NULL;
	size_t n_names = 0, n = 0;
	DIR *d;
	struct dirent *de;
	int r;

	/* One test per snapshot directory actually present, in name order. */
	d = opendir(SYSFS_DATA);
	if (!d) {
		fprintf(stderr, "cannot open %s: %s\n", SYSFS_DATA, strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		struct stat st;
		_cleanup_free_ char *p = NULL;

		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&p, "%s/%s", SYSFS_DATA, de->d_name) < 0)
			return 1;
		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		names = realloc(names, (n_names + 1) * sizeof(*names));
		if (!names)
			return 1;
		names[n_names++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n_names, sizeof(*names), cmp_str);

	tests = calloc(ELEMENTSOF(fixed) + n_names, sizeof(*tests));
	if (!tests)
		return 1;
	for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
		tests[n++] = fixed[i];
	for (size_t i = 0; i < n_names; i++) {
		char *name;

		if (asprintf(&name, "snapshot_matches_expected_%s", names[i]) < 0)
			return 1;
		tests[n++] = (struct CMUnitTest){
			.name = name,
			.test_func = test_snapshot_matches_expected,
			.initial_state = names[i],
		};
	}

	r = _cmocka_run_group_tests("topology", tests, n, NULL, NULL);

	for (size_t i = ELEMENTSOF(fixed); i < n; i++)
		free((char *) tests[i].name);
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	free(tests);
	return r;
}
