/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cache_clean() on a real filesystem: every test gets a mkdtemp() cache root
 * (test-cache.h) with entries of pinned ages; selection by age, fragment and corruption,
 * dry runs, and entries whose lock is held by a forked child with real flock(2) left alone.
 */
#include <sys/file.h>

#include "test-cache.h"

/* ------------------------------------------------------------------ clean */

static const struct spec aged[] = {
	{ "age01-x86_64-000000000001", NOW - 1 * DAY, FRAG, false, false, "1" },
	{ "age05-x86_64-000000000005", NOW - 5 * DAY, FRAG, false, false, "5" },
	{ "age10-x86_64-000000000010", NOW - 10 * DAY, FRAG, false, false, "10" },
	{ "age40-x86_64-000000000040", NOW - 40 * DAY, FRAG_OLD, false, false, "40" },
};
#define CORRUPT_KEY "zz-corrupt"

static void populate_aged(const char *root)
{
	_cleanup_free_ char *d = NULL;

	for (size_t i = 0; i < ELEMENTSOF(aged); i++)
		store(root, &aged[i]);
	d = make_raw_entry(root, CORRUPT_KEY);
	write_file(d, "bzImage", "x");
}

/* The selected keys as "age10,age40,zz" (first five characters each). */
static char *selected_keys(const char *root, const struct kts_cache_clean_opts *o)
{
	struct kts_cache_entry **list = NULL;
	char buf[256] = "";
	bool sel[16];
	size_t n;

	assert_int_equal(cache_list(root, FRAG, &list, &n), 0);
	assert_true(n <= ELEMENTSOF(sel));
	cache_clean_select(list, n, o, sel);
	for (size_t i = 0; i < n; i++)
		if (sel[i])
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%.5s",
				 *buf ? "," : "", list[i]->key);
	cache_entries_free(list, n);
	return strdup(buf);
}

static void test_clean_selection(void **state)
{
	struct fixture *f = *state;
	static const struct {
		struct kts_cache_clean_opts o;
		const char *want;
	} cases[] = {
		{ { .now = NOW }, "age01,age05,age10,age40,zz-co" },
		{ { .now = NOW, .has_keep = true, .keep = 2 }, "age10,age40,zz-co" },
		{ { .now = NOW, .has_keep = true, .keep = 0 }, "age01,age05,age10,age40,zz-co" },
		{ { .now = NOW, .has_keep = true, .keep = 10 }, "zz-co" },
		{ { .now = NOW, .has_older_than = true, .older_than_days = 7 }, "age10,age40,zz-co" },
		{ { .now = NOW, .has_older_than = true, .older_than_days = 5 }, "age10,age40,zz-co" },
		{ { .now = NOW, .has_older_than = true, .older_than_days = 4 },
		  "age05,age10,age40,zz-co" },
		{ { .now = NOW, .has_older_than = true, .older_than_days = 100 }, "zz-co" },
		{ { .now = NOW, .has_keep = true, .keep = 3, .has_older_than = true,
		    .older_than_days = 7 },
		  "age40,zz-co" },
		{ { .now = NOW, .has_keep = true, .keep = 1, .has_older_than = true,
		    .older_than_days = 2 },
		  "age05,age10,age40,zz-co" },
		{ { .now = NOW, .corrupt_only = true }, "zz-co" },
	};

	populate_aged(f->root);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *got = selected_keys(f->root, &cases[i].o);

		if (!streq(got, cases[i].want))
			fail_msg("case %zu: selected '%s', want '%s'", i, got, cases[i].want);
	}
}

static void test_clean_dry_run_and_removal(void **state)
{
	struct fixture *f = *state;
	struct kts_cache_clean_opts o = { .now = NOW, .has_keep = true, .keep = 2, .dry_run = true,
					  .fragment_sha256 = FRAG };
	struct kts_cache_clean_item *items = NULL;
	struct kts_cache_entry **list = NULL;
	char live[64], dead[64], p[512];
	size_t n = 0;

	populate_aged(f->root);
	snprintf(live, sizeof(live), ".tmp/other.%d", (int) getpid());
	snprintf(dead, sizeof(dead), ".tmp/other.%d", (int) dead_pid());
	snprintf(p, sizeof(p), "%s/%s", f->root, live);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/%s", f->root, dead);
	assert_int_equal(mkdir(p, 0755), 0);

	/* Dry run: reports, removes nothing. */
	assert_int_equal(cache_clean(f->root, &o, &items, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(items[0].entry->key, aged[2].key);
	assert_string_equal(items[1].entry->key, aged[3].key);
	assert_int_equal(items[1].entry->status, KTS_CACHE_STALE);
	assert_string_equal(items[2].entry->key, CORRUPT_KEY);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(items[i].result, KTS_CACHE_CLEAN_WOULD_REMOVE);
		assert_true(exists(items[i].entry->path, "."));
	}
	cache_clean_items_free(items, n);
	assert_int_equal(count_dir(f->root, "kernels"), 5);
	assert_true(exists(f->root, dead));

	/* For real. */
	o.dry_run = false;
	assert_int_equal(cache_clean(f->root, &o, &items, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(items[i].result, KTS_CACHE_CLEAN_REMOVED);
		assert_int_equal(items[i].error, 0);
		assert_false(exists(items[i].entry->path, "."));
	}
	cache_clean_items_free(items, n);

	assert_int_equal(cache_list(f->root, FRAG, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0]->key, aged[0].key);
	assert_string_equal(list[1]->key, aged[1].key);
	cache_entries_free(list, n);

	/* Lock files stay (someone may hold one); live .tmp dirs stay; dead ones go. */
	snprintf(p, sizeof(p), ".locks/%s.lock", aged[3].key);
	assert_true(exists(f->root, p));
	assert_true(exists(f->root, live));
	assert_false(exists(f->root, dead));

	/* Nothing left to select: an empty result, not an error. */
	o.has_keep = false;
	o.corrupt_only = true;
	assert_int_equal(cache_clean(f->root, &o, &items, &n), 0);
	assert_int_equal(n, 0);
	cache_clean_items_free(items, n);
}

struct holder {
	pid_t pid;
	int ctl; /* closing it lets the child exit */
};

/* A forked child holding the entry's shared lock, like a VM booting its image. */
static struct holder hold_entry(const char *root, const char *key)
{
	int ready[2], ctl[2];
	struct holder h;
	char c;

	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(ctl, O_CLOEXEC), 0);
	h.pid = fork();
	assert_true(h.pid >= 0);
	if (h.pid == 0) {
		int fd;

		close(ready[0]);
		close(ctl[1]);
		if (cache_lock_entry(root, key, false, true, &fd) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		(void) read(ctl[0], &c, 1);
		_exit(0);
	}
	close(ready[1]);
	close(ctl[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	h.ctl = ctl[1];
	return h;
}

static void release_holder(struct holder *h)
{
	int status;

	close(h->ctl);
	assert_int_equal(waitpid(h->pid, &status, 0), h->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_clean_skips_entry_in_use(void **state)
{
	struct fixture *f = *state;
	const struct kts_cache_clean_opts o = { .now = NOW };
	struct kts_cache_clean_item *items = NULL;
	struct kts_cache_entry **list = NULL;
	struct holder h;
	size_t n = 0, busy = 0;
	int fd;

	populate_aged(f->root);
	h = hold_entry(f->root, aged[1].key);

	/* Our own non-blocking exclusive attempt sees the child's lock. */
	assert_int_equal(cache_lock_entry(f->root, aged[1].key, true, false, &fd), -EWOULDBLOCK);

	assert_int_equal(cache_clean(f->root, &o, &items, &n), 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		if (streq(items[i].entry->key, aged[1].key)) {
			assert_int_equal(items[i].result, KTS_CACHE_CLEAN_BUSY);
			busy++;
		} else {
			assert_int_equal(items[i].result, KTS_CACHE_CLEAN_REMOVED);
		}
	}
	assert_int_equal(busy, 1);
	assert_string_equal(cache_clean_result_to_string(KTS_CACHE_CLEAN_BUSY), "in use");
	cache_clean_items_free(items, n);

	assert_int_equal(cache_list(f->root, FRAG, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0]->key, aged[1].key);
	assert_int_equal(list[0]->status, KTS_CACHE_MATCHES);
	cache_entries_free(list, n);

	/* Once the user is gone, the entry goes too. */
	release_holder(&h);
	assert_int_equal(cache_clean(f->root, &o, &items, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(items[0].result, KTS_CACHE_CLEAN_REMOVED);
	cache_clean_items_free(items, n);
	assert_int_equal(count_dir(f->root, "kernels"), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, tmpdir_teardown)
	const struct CMUnitTest tests[] = {
		T(test_clean_selection),
		T(test_clean_dry_run_and_removal),
		T(test_clean_skips_entry_in_use),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
