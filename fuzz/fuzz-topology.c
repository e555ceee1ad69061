/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-topology: topo_load() over a sysroot snapshot (--sysroot) made from the input, so
 * every sysfs value reader (online and shared_cpu_list cpu lists, cache level and id,
 * nodeN names, distance rows, proc/self/status's Cpus_allowed_list) sees hostile text.
 * Input: records "@relative/path\n" followed by the file's content; a path ending in '/'
 * is a directory. A loaded topology must be consistent: every online CPU in exactly one
 * LLC and one node, allowed within online, a square distance matrix.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "macro.h"
#include "sysroot.h"
#include "topology.h"
#include "util.h"

/* tmpfs when there is one: a sysroot is made and removed for every input. */
static char shm_dir[] = "/dev/shm/kts-fuzz-topology-XXXXXX";
static char tmp_dir[] = "/tmp/kts-fuzz-topology-XXXXXX";
static const char *root_dir;

/* Creates rel (and its parents) under the root with content; ignores unsafe paths. */
static void put(const char *rel, size_t rel_len, const char *content, size_t len)
{
	_cleanup_free_ char *path = NULL, *r = strndup(rel, rel_len);
	_cleanup_close_ int fd = -EBADF;
	char *slash;

	if (!r || !*r || r[0] == '/' || strstr(r, "..") || asprintf(&path, "%s/%s", root_dir, r) < 0)
		return;
	if (path[strlen(path) - 1] == '/') {
		(void) mkdir_p(path, 0755);
		return;
	}
	slash = strrchr(path, '/');
	*slash = '\0';
	(void) mkdir_p(path, 0755);
	*slash = '/';
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd >= 0)
		(void) write_all(fd, content, len);
}

static void build_tree(const char *text, size_t size)
{
	const char *end = text + size;

	for (const char *p = memchr(text, '@', size); p;) {
		const char *nl = memchr(p, '\n', (size_t) (end - p));
		const char *next;

		if (!nl)
			break;
		next = memchr(nl, '@', (size_t) (end - nl));
		put(p + 1, (size_t) (nl - p - 1), nl + 1, (size_t) ((next ? next : end) - nl - 1));
		p = next;
	}
}

static void check(const struct kts_topology *t)
{
	size_t in_llcs = 0, in_nodes = 0;

	FUZZ_ASSERT(!cpuset_empty(&t->online) && t->n_llcs > 0 && t->n_nodes > 0);
	FUZZ_ASSERT(cpuset_is_subset(&t->allowed, &t->online));
	for (size_t i = 0; i < t->n_llcs; i++) {
		FUZZ_ASSERT(t->llcs[i].index == i && !cpuset_empty(&t->llcs[i].cpus));
		in_llcs += cpuset_count(&t->llcs[i].cpus);
	}
	for (size_t i = 0; i < t->n_nodes; i++)
		in_nodes += cpuset_count(&t->nodes[i].cpus);
	FUZZ_ASSERT(in_llcs == cpuset_count(&t->online) && in_nodes == in_llcs);
	CPUSET_FOREACH(cpu, &t->online) {
		int l = topo_cpu_llc(t, (unsigned) cpu), n = topo_cpu_node(t, (unsigned) cpu);

		FUZZ_ASSERT(l >= 0 && (size_t) l < t->n_llcs && cpuset_has(&t->llcs[l].cpus, cpu));
		FUZZ_ASSERT(n >= 0 && topo_distance(t, (unsigned) n, (unsigned) n) <= 255);
	}
}

static void remove_root(void)
{
	(void) rm_rf(root_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kts_sysroot root = KTS_SYSROOT_INIT;
	struct kts_topology t;
	char *errpath = NULL;
	int r;

	if (!root_dir) {
		root_dir = mkdtemp(shm_dir) ?: mkdtemp(tmp_dir);
		if (!root_dir)
			abort();
		(void) atexit(remove_root);
	}
	build_tree((const char *) data, size);
	FUZZ_ASSERT(sysroot_open(root_dir, &root) == 0);
	r = topo_load(&root, &t, &errpath);
	if (r == 0) {
		check(&t);
		topo_done(&t);
	} else
		FUZZ_ASSERT(r != -ENOMEM && (!errpath || startswith(errpath, root_dir)));
	free(errpath);
	sysroot_close(&root);
	/* The next input starts from an empty root. */
	FUZZ_ASSERT(rm_rf(root_dir) == 0 && mkdir(root_dir, 0700) == 0);
	return 0;
}
