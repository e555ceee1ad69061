/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CPU/LLC/NUMA topology from sysfs under a sysroot (DESIGN §3). The rules, and
 * the LLC index they produce, must match ktstr's so that both tools lock the
 * same /tmp/ktstr-llc-{index}.lock for the same cache:
 *  - online CPUs from sys/devices/system/cpu/online;
 *  - per CPU, the cache leaf with the highest "level"; its "id", else the
 *    lowest CPU of its "shared_cpu_list", keys the LLC group;
 *  - groups ordered by ascending key; the index is the position in that order;
 *  - NUMA node per CPU from the cpuN/nodeK entry, else node 0.
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "cpuset.h"
#include "log.h"
#include "macro.h"
#include "topology.h"

#define CPU_DIR "sys/devices/system/cpu"
#define NODE_DIR "sys/devices/system/node"

/* ACPI SLIT: 10 is local; a missing table means "remote" = 20 for every other node. */
#define DISTANCE_LOCAL 10U
#define DISTANCE_REMOTE 20U
#define DISTANCE_UNKNOWN 255U

#define WS " \t\n"

/* Decimal without sign, blanks or junk; fits in unsigned. -EINVAL/-ERANGE otherwise. */
static int parse_uint(const char *s, unsigned *ret)
{
	unsigned long long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned) (*s - '0');
		if (v > UINT32_MAX)
			return -ERANGE;
	}
	*ret = (unsigned) v;
	return 0;
}

/* "node12" → 12, "index3" → 3; anything else (e.g. "node_foo") → -EINVAL. */
static int parse_prefixed(const char *name, const char *prefix, unsigned *ret)
{
	unsigned v;
	int r;

	if (!startswith(name, prefix))
		return -EINVAL;
	r = parse_uint(name + strlen(prefix), &v);
	if (r < 0)
		return r;
	if (v >= KTS_CPU_MAX)
		return -ERANGE;
	*ret = v;
	return 0;
}

/*
 * Remembers the absolute path of the file a failure is about. The first one
 * wins; the error is returned unchanged so "return fail(...)" reads naturally.
 */
static int fail(const struct kts_sysroot *root, const char *rel, int r, char **errpath)
{
	if (!*errpath)
		*errpath = sysroot_abspath(root, rel);
	return r;
}

/*
 * Reads a file; failures name it in *errpath, except -ENOENT when the caller
 * has a fallback for a missing file (optional).
 */
static int read_file(const struct kts_sysroot *root, const char *rel, bool optional, char **ret,
		     char **errpath)
{
	int r = sysroot_read_line(root, rel, ret);

	if (r == -ENOENT && optional)
		return r;
	if (r < 0)
		return fail(root, rel, r, errpath);
	return 0;
}

static int read_uint(const struct kts_sysroot *root, const char *rel, bool optional,
		     unsigned *ret, char **errpath)
{
	_cleanup_free_ char *s = NULL;
	int r;

	r = read_file(root, rel, optional, &s, errpath);
	if (r < 0)
		return r;
	if (parse_uint(s, ret) < 0)
		return fail(root, rel, -EBADMSG, errpath);
	return 0;
}

/* Strict cpu-list file; malformed → -EBADMSG naming it. */
static int read_cpulist(const struct kts_sysroot *root, const char *rel, struct kts_cpuset *ret,
			char **errpath)
{
	_cleanup_free_ char *s = NULL;
	_cleanup_cpuset_ struct kts_cpuset set = KTS_CPUSET_INIT;
	int r;

	r = read_file(root, rel, false, &s, errpath);
	if (r < 0)
		return r;
	if (cpuset_parse(s, &set) < 0)
		return fail(root, rel, -EBADMSG, errpath);
	cpuset_done(ret);
	*ret = set;
	set = KTS_CPUSET_INIT;
	return 0;
}

/*
 * Opens a directory under the root for reading entries. Returns 1 with
 * *ret set, 0 when it does not exist, negative errno otherwise.
 */
static int open_dir(const struct kts_sysroot *root, const char *rel, DIR **ret, char **errpath)
{
	DIR *d;
	int fd;

	fd = sysroot_open_dir(root, rel);
	if (fd == -ENOENT || fd == -ENOTDIR)
		return 0;
	if (fd < 0)
		return fail(root, rel, fd, errpath);
	d = fdopendir(fd);
	if (!d) {
		(void) safe_close(fd);
		return fail(root, rel, negative_errno(), errpath);
	}
	*ret = d;
	return 1;
}

/*
 * The cpuN/nodeK entry (a symlink on sysfs; anything with that name in a
 * snapshot). Lowest K if there were several; node 0 when there is none, which
 * is what a kernel without CONFIG_NUMA looks like.
 */
static int cpu_read_node(const struct kts_sysroot *root, unsigned cpu, unsigned *ret,
			 char **errpath)
{
	_cleanup_closedir_ DIR *d = NULL;
	char rel[64];
	unsigned best = UINT32_MAX;
	struct dirent *de;
	int r;

	(void) snprintf(rel, sizeof(rel), CPU_DIR "/cpu%u", cpu);
	r = open_dir(root, rel, &d, errpath);
	if (r < 0)
		return r;
	if (r == 0) {
		log_debug("topology: %s missing, CPU %u counted on node 0", rel, cpu);
		*ret = 0;
		return 0;
	}
	errno = 0;
	while ((de = readdir(d))) {
		unsigned k;

		if (parse_prefixed(de->d_name, "node", &k) == 0 && k < best)
			best = k;
		errno = 0;
	}
	if (errno > 0)
		return fail(root, rel, -errno, errpath);
	*ret = best == UINT32_MAX ? 0 : best;
	return 0;
}

/*
 * The LLC key of one CPU: among cpuN/cache/index*, the leaf with the highest
 * level (ties: lowest index number, so readdir order does not matter); its id,
 * else the lowest CPU of its shared_cpu_list. Returns 1 with *ret set, 0 when
 * the CPU has no usable cache information (no cache dir, or no leaf with a
 * level file), negative errno on a read error or malformed content.
 */
static int cpu_read_llc_key(const struct kts_sysroot *root, unsigned cpu, unsigned *ret,
			    char **errpath)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_cpuset_ struct kts_cpuset shared = KTS_CPUSET_INIT;
	char dir[64], rel[96];
	unsigned best_idx = 0, best_level = 0, key;
	bool found = false;
	struct dirent *de;
	int r;

	(void) snprintf(dir, sizeof(dir), CPU_DIR "/cpu%u/cache", cpu);
	r = open_dir(root, dir, &d, errpath);
	if (r <= 0)
		return r;
	errno = 0;
	while ((de = readdir(d))) {
		unsigned idx, level;

		if (parse_prefixed(de->d_name, "index", &idx) < 0) {
			errno = 0;
			continue;
		}
		(void) snprintf(rel, sizeof(rel), "%s/index%u/level", dir, idx);
		r = read_uint(root, rel, true, &level, errpath);
		if (r == -ENOENT) {
			/* Not a leaf we can rank; sysfs always has it, so only odd snapshots. */
			log_debug("topology: %s missing, leaf ignored", rel);
			errno = 0;
			continue;
		}
		if (r < 0)
			return r;
		if (!found || level > best_level || (level == best_level && idx < best_idx)) {
			best_idx = idx;
			best_level = level;
			found = true;
		}
		errno = 0;
	}
	if (errno > 0)
		return fail(root, dir, -errno, errpath);
	if (!found)
		return 0;

	(void) snprintf(rel, sizeof(rel), "%s/index%u/id", dir, best_idx);
	r = read_uint(root, rel, true, &key, errpath);
	if (r >= 0) {
		*ret = key;
		return 1;
	}
	if (r != -ENOENT)
		return r;
	/* Older kernels and some arm64 firmware give no id: the lowest sharer stands in. */
	(void) snprintf(rel, sizeof(rel), "%s/index%u/shared_cpu_list", dir, best_idx);
	r = read_cpulist(root, rel, &shared, errpath);
	if (r < 0)
		return r;
	if (cpuset_empty(&shared))
		return fail(root, rel, -EBADMSG, errpath);
	*ret = (unsigned) cpuset_next(&shared, -1);
	return 1;
}

/* Cpus_allowed_list from a /proc/PID/status file under the root. */
static int read_status_allowed(const struct kts_sysroot *root, bool optional,
			       struct kts_cpuset *ret, char **errpath)
{
	static const char rel[] = "proc/self/status";
	static const char field[] = "Cpus_allowed_list:";
	_cleanup_free_ char *buf = NULL;
	_cleanup_cpuset_ struct kts_cpuset set = KTS_CPUSET_INIT;
	char *line, *end;
	int r;

	r = read_file(root, rel, optional, &buf, errpath);
	if (r < 0)
		return r;
	for (line = buf; line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		if (end)
			*end = '\0';
		if (!startswith(line, field))
			continue;
		line += strlen(field);
		line += strspn(line, " \t");
		if (cpuset_parse(line, &set) < 0)
			return fail(root, rel, -EBADMSG, errpath);
		cpuset_done(ret);
		*ret = set;
		set = KTS_CPUSET_INIT;
		return 0;
	}
	/* Every kernel since 2.6.26 writes the line: a status file without it is not one. */
	return fail(root, rel, -EBADMSG, errpath);
}

/*
 * The calling process's affinity, restricted to the online CPUs. The kernel
 * refuses (EINVAL) a mask shorter than its nr_cpu_ids, so grow until accepted.
 */
static int host_allowed(const struct kts_cpuset *online, struct kts_cpuset *ret)
{
	_cleanup_cpuset_ struct kts_cpuset set = KTS_CPUSET_INIT;

	for (size_t ncpus = 1024;; ncpus *= 2) {
		cpu_set_t *mask = CPU_ALLOC(ncpus);
		size_t size = CPU_ALLOC_SIZE(ncpus);
		int r;

		if (!mask)
			return -ENOMEM;
		if (sched_getaffinity(0, size, mask) < 0) {
			r = negative_errno();
			CPU_FREE(mask);
			if (r == -EINVAL && ncpus < (1U << 24))
				continue;
			return r;
		}
		r = 0;
		CPUSET_FOREACH(cpu, online) {
			if ((size_t) cpu >= size * 8)
				break;
			if (CPU_ISSET_S((size_t) cpu, size, mask)) {
				r = cpuset_add(&set, (unsigned) cpu);
				if (r < 0)
					break;
			}
		}
		CPU_FREE(mask);
		if (r < 0)
			return r;
		break;
	}
	cpuset_done(ret);
	*ret = set;
	set = KTS_CPUSET_INIT;
	return 0;
}

static int load_allowed(const struct kts_sysroot *root, struct kts_topology *t, char **errpath)
{
	int r;

	if (root->host) {
		r = host_allowed(&t->online, &t->allowed);
		if (r >= 0)
			return 0;
		/* A seccomp'd or odd environment: /proc says the same thing. */
		(void) log_debug_errno(r, "topology: sched_getaffinity: %m; trying proc/self/status");
		r = read_status_allowed(root, false, &t->allowed, errpath);
	} else {
		r = read_status_allowed(root, true, &t->allowed, errpath);
		/* A snapshot without a status file: plan as if unrestricted. */
		if (r == -ENOENT)
			return cpuset_copy(&t->allowed, &t->online);
	}
	if (r < 0)
		return r;
	return cpuset_and(&t->allowed, &t->allowed, &t->online);
}

/*
 * One row per node, over every node in ascending id order, as the kernel
 * prints it. Any row missing, malformed or of the wrong length → the whole
 * matrix falls back to 10/20 (a partial matrix would be worse than none).
 */
static int load_distances(const struct kts_sysroot *root, struct kts_topology *t)
{
	size_t n = t->n_nodes;

	t->distance = calloc(n * n, sizeof(*t->distance));
	if (!t->distance)
		return -ENOMEM;

	for (size_t i = 0; i < n && !t->distance_fallback; i++) {
		_cleanup_free_ char *row = NULL;
		char rel[80], *tok, *save = NULL;
		size_t j = 0;
		int r;

		(void) snprintf(rel, sizeof(rel), NODE_DIR "/node%u/distance", t->nodes[i].id);
		r = sysroot_read_line(root, rel, &row);
		if (r < 0) {
			(void) log_debug_errno(r, "topology: %s: %m, using 10/20 distances", rel);
			t->distance_fallback = true;
			break;
		}
		for (tok = strtok_r(row, WS, &save); tok; tok = strtok_r(NULL, WS, &save)) {
			unsigned v;

			if (j >= n || parse_uint(tok, &v) < 0 || v > DISTANCE_UNKNOWN)
				break;
			t->distance[i * n + j++] = v;
		}
		if (tok || j != n) {
			log_debug("topology: %s malformed or not %zu entries, using 10/20",
				  rel, n);
			t->distance_fallback = true;
		}
	}

	if (t->distance_fallback)
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < n; j++)
				t->distance[i * n + j] = i == j ? DISTANCE_LOCAL : DISTANCE_REMOTE;
	return 0;
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned x = *(const unsigned *) a, y = *(const unsigned *) b;

	return x < y ? -1 : x > y;
}

/*
 * Per online CPU: its node (added to node_ids) and its LLC key; cached[cpu] says whether
 * the CPU had cache information. Returns whether any CPU had, or negative errno.
 */
static int topo_read_cpus(const struct kts_sysroot *root, struct kts_topology *t,
			  struct kts_cpuset *node_ids, unsigned *key, bool *cached, char **errpath)
{
	bool any_cached = false;
	int r;

	CPUSET_FOREACH(cpu, &t->online) {
		unsigned node;

		r = cpu_read_node(root, (unsigned) cpu, &node, errpath);
		if (r < 0)
			return r;
		t->cpu_node[cpu] = (int) node;
		r = cpuset_add(node_ids, node);
		if (r < 0)
			return r;

		r = cpu_read_llc_key(root, (unsigned) cpu, &key[cpu], errpath);
		if (r < 0)
			return r;
		cached[cpu] = r > 0;
		any_cached = any_cached || r > 0;
	}
	return any_cached;
}

/* One LLC per distinct key, in key order; CPUs added in ascending order. */
static int topo_build_llcs(struct kts_topology *t, unsigned *key, const bool *cached,
			   bool any_cached)
{
	_cleanup_free_ unsigned *keys = malloc(t->n_cpu_map * sizeof(*keys));
	size_t n_keys = 0, u = 0;
	int r;

	if (!keys)
		return -ENOMEM;
	/*
	 * No cache information anywhere (many VMs): one LLC with every CPU, id 0.
	 * A CPU without cache information while others have it gets a group of its
	 * own keyed by its CPU number, so it is neither lost nor glued to a real
	 * cache. (Keys are compared as numbers, so such a group merges with an LLC
	 * whose id happens to equal that CPU number, as in ktstr.)
	 */
	CPUSET_FOREACH(cpu, &t->online) {
		if (!any_cached)
			key[cpu] = 0;
		else if (!cached[cpu])
			key[cpu] = (unsigned) cpu;
		keys[n_keys++] = key[cpu];
	}
	qsort(keys, n_keys, sizeof(*keys), cmp_uint);
	for (size_t i = 0; i < n_keys; i++)
		if (u == 0 || keys[u - 1] != keys[i])
			keys[u++] = keys[i];
	n_keys = u;

	t->llcs = calloc(n_keys, sizeof(*t->llcs));
	if (!t->llcs)
		return -ENOMEM;
	t->n_llcs = n_keys;
	for (size_t i = 0; i < n_keys; i++) {
		t->llcs[i].index = (unsigned) i;
		t->llcs[i].id = keys[i];
	}
	/* Ascending CPU order, so the first CPU added to an LLC is its lowest. */
	CPUSET_FOREACH(cpu, &t->online) {
		unsigned *k = bsearch(&key[cpu], keys, n_keys, sizeof(*keys), cmp_uint);
		struct kts_llc *llc = &t->llcs[k - keys];

		if (cpuset_empty(&llc->cpus))
			llc->node = (unsigned) t->cpu_node[cpu];
		r = cpuset_add(&llc->cpus, (unsigned) cpu);
		if (r < 0)
			return r;
		t->cpu_llc[cpu] = (int) (k - keys);
	}
	return 0;
}

/* Nodes: those owning a CPU (already in node_ids), plus every node directory (memory-only). */
static int topo_build_nodes(const struct kts_sysroot *root, struct kts_topology *t,
			    struct kts_cpuset *node_ids, char **errpath)
{
	_cleanup_closedir_ DIR *d = NULL;
	size_t i = 0;
	int r;

	r = open_dir(root, NODE_DIR, &d, errpath);
	if (r < 0)
		return r;
	if (r > 0) {
		struct dirent *de;

		errno = 0;
		while ((de = readdir(d))) {
			unsigned k;

			if (parse_prefixed(de->d_name, "node", &k) == 0) {
				r = cpuset_add(node_ids, k);
				if (r < 0)
					return r;
			}
			errno = 0;
		}
		if (errno > 0)
			return fail(root, NODE_DIR, -errno, errpath);
	}

	t->n_nodes = cpuset_count(node_ids);
	t->nodes = calloc(t->n_nodes, sizeof(*t->nodes));
	t->n_node_map = (size_t) cpuset_last(node_ids) + 1;
	t->node_index = malloc(t->n_node_map * sizeof(*t->node_index));
	if (!t->nodes || !t->node_index)
		return -ENOMEM;
	for (size_t j = 0; j < t->n_node_map; j++)
		t->node_index[j] = -1;
	CPUSET_FOREACH(id, node_ids) {
		t->nodes[i].id = (unsigned) id;
		t->node_index[id] = (int) i++;
	}
	CPUSET_FOREACH(cpu, &t->online) {
		r = cpuset_add(&t->nodes[t->node_index[t->cpu_node[cpu]]].cpus, (unsigned) cpu);
		if (r < 0)
			return r;
	}
	return 0;
}

/* online CPUs → per-CPU node and LLC → LLCs → nodes → distances → allowed sets. */
static int topo_load_impl(const struct kts_sysroot *root, struct kts_topology *t, char **errpath)
{
	_cleanup_free_ unsigned *key = NULL;
	_cleanup_free_ bool *cached = NULL;
	_cleanup_cpuset_ struct kts_cpuset node_ids = KTS_CPUSET_INIT;
	size_t n_map;
	int r;

	t->host = root->host;
	t->sysroot = strdup(root->path ? root->path : "/");
	if (!t->sysroot)
		return -ENOMEM;

	r = read_cpulist(root, CPU_DIR "/online", &t->online, errpath);
	if (r < 0)
		return r;
	if (cpuset_empty(&t->online))
		return fail(root, CPU_DIR "/online", -EBADMSG, errpath);

	n_map = (size_t) cpuset_last(&t->online) + 1;
	t->cpu_node = malloc(n_map * sizeof(*t->cpu_node));
	t->cpu_llc = malloc(n_map * sizeof(*t->cpu_llc));
	key = calloc(n_map, sizeof(*key));
	cached = calloc(n_map, sizeof(*cached));
	if (!t->cpu_node || !t->cpu_llc || !key || !cached)
		return -ENOMEM;
	t->n_cpu_map = n_map;
	for (size_t c = 0; c < n_map; c++)
		t->cpu_node[c] = t->cpu_llc[c] = -1;

	r = topo_read_cpus(root, t, &node_ids, key, cached, errpath);
	if (r < 0)
		return r;
	r = topo_build_llcs(t, key, cached, r > 0);
	if (r < 0)
		return r;
	r = topo_build_nodes(root, t, &node_ids, errpath);
	if (r < 0)
		return r;
	r = load_distances(root, t);
	if (r < 0)
		return r;
	return load_allowed(root, t, errpath);
}

int topo_load(const struct kts_sysroot *root, struct kts_topology *ret, char **ret_errpath)
{
	_cleanup_free_ char *errpath = NULL;
	struct kts_topology t = { 0 };
	int r;

	r = topo_load_impl(root, &t, &errpath);
	if (r < 0) {
		(void) log_debug_errno(r, "topology: loading from '%s' failed at '%s': %m",
				strempty(root->path), strempty(errpath));
		topo_done(&t);
		if (ret_errpath)
			*ret_errpath = TAKE_PTR(errpath);
		return r;
	}
	*ret = t;
	return 0;
}

void topo_done(struct kts_topology *t)
{
	if (!t)
		return;
	for (size_t i = 0; t->llcs && i < t->n_llcs; i++)
		cpuset_done(&t->llcs[i].cpus);
	for (size_t i = 0; t->nodes && i < t->n_nodes; i++)
		cpuset_done(&t->nodes[i].cpus);
	cpuset_done(&t->online);
	cpuset_done(&t->allowed);
	free(t->sysroot);
	free(t->llcs);
	free(t->nodes);
	free(t->distance);
	free(t->cpu_node);
	free(t->cpu_llc);
	free(t->node_index);
	*t = (struct kts_topology){ 0 };
}

unsigned topo_distance(const struct kts_topology *t, unsigned node_a, unsigned node_b)
{
	int a, b;

	if (node_a >= t->n_node_map || node_b >= t->n_node_map || !t->distance)
		return DISTANCE_UNKNOWN;
	a = t->node_index[node_a];
	b = t->node_index[node_b];
	if (a < 0 || b < 0)
		return DISTANCE_UNKNOWN;
	return t->distance[(size_t) a * t->n_nodes + (size_t) b];
}

int topo_cpu_node(const struct kts_topology *t, unsigned cpu)
{
	return cpu < t->n_cpu_map ? t->cpu_node[cpu] : -1;
}

int topo_cpu_llc(const struct kts_topology *t, unsigned cpu)
{
	return cpu < t->n_cpu_map ? t->cpu_llc[cpu] : -1;
}
