/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The OCI distribution client (registry.h), its blobs half: a blob streamed down into a file
 * or memory with its size and SHA-256 checked as it arrives; blobs up (HEAD first, then one
 * POST that also asks for a mount and a monolithic PUT); and the two operations built on
 * them: registry_pull() through the cache's atomic store, and registry_push() of an entry.
 *
 * Cross-repository mounts: a ktscope remote names one repository and nothing says which other
 * one would hold the same blobs, so no "from" is sent. The upload POST carries
 * "?mount=DIGEST" alone (OCI distribution spec 1.1: a registry that can find the blob among
 * the repositories the client may read answers 201 Created); a registry that cannot (the
 * CNCF distribution 2.8 among them) ignores it and opens the upload session (202) that the
 * PUT then uses, so asking costs no request.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "hash.h"
#include "log.h"
#include "macro.h"
#include "metadata.h"
#include "progress.h"
#include "registry-internal.h"
#include "util.h"

/* What a 2xx may send beyond a blob's size before the transfer is cut (an error body that
 * came instead of the blob is judged by its status, not by this). */
#define KTS_BLOB_SLACK ((uint64_t) 64 << 10)

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ progress */

struct transfer_progress {
	const struct kts_registry *r;
	const char *verb;  /* "pull", "push" */
	const char *title;
	double start;
};

static void show_progress(uint64_t done, uint64_t total, void *userdata)
{
	const struct transfer_progress *p = userdata;
	double elapsed = now_seconds() - p->start;
	char phase[160];

	if (!p->r->progress || !progress_tty_enabled())
		return;
	(void) snprintf(phase, sizeof(phase), "%s %s  %.1f/%.1f MiB  %.1f MiB/s", p->verb,
			p->title, (double) done / 1048576.0, (double) total / 1048576.0,
			elapsed > 0 ? (double) done / 1048576.0 / elapsed : 0.0);
	progress_line(phase, elapsed, 0, total ? (int) (done * 100 / total) : -1);
}

/* One blob's NDJSON event: action "downloaded", "uploaded", "present" or "mounted". */
static void blob_event(const struct kts_registry *r, const char *verb, const char *key,
		       const struct kts_oci_layer *l, const char *action)
{
	progress_event(verb, "\"registry\":%s,\"key\":%s,\"blob\":%s,\"title\":%s,\"size\":%" PRIu64
		       ",\"action\":%s", progress_json_str(r->name), progress_json_str(key),
		       progress_json_str(l->digest), progress_json_str(l->title), l->size,
		       progress_json_str(action));
}

static void done_event(const struct kts_registry *r, const char *verb, const char *key,
		       const struct kts_registry_stats *st)
{
	progress_event(verb, "\"registry\":%s,\"key\":%s,\"result\":%s,\"manifest\":%s,"
		       "\"blobs\":%u,\"blobs_sent\":%u,\"blobs_present\":%u,\"blobs_mounted\":%u,"
		       "\"bytes\":%" PRIu64 ",\"bytes_sent\":%" PRIu64 ",\"seconds\":%.3f",
		       progress_json_str(r->name), progress_json_str(key),
		       progress_json_str(streq(verb, "pull") ? "pulled" : "pushed"),
		       progress_json_str(st->manifest_digest), st->blobs, st->blobs_sent,
		       st->blobs_present, st->blobs_mounted, st->bytes, st->bytes_sent, st->seconds);
}

/* ------------------------------------------------------------------ down */

/* The body of a blob GET: into fd or mem, hashed, counted against the layer's size. */
struct blob_sink {
	const struct kts_oci_layer *l;
	int fd;    /* or -EBADF: into mem */
	char *mem; /* l->size + 1 bytes */
	struct hash_sha256 h;
	uint64_t got;
	bool overflow;
	struct transfer_progress progress;
};

static void sink_done(struct blob_sink *s)
{
	hash_sha256_done(&s->h);
}

static int sink_reset(void *userdata)
{
	struct blob_sink *s = userdata;

	s->got = 0;
	s->overflow = false;
	hash_sha256_done(&s->h);
	if (s->fd >= 0 && (ftruncate(s->fd, 0) < 0 || lseek(s->fd, 0, SEEK_SET) < 0))
		return negative_errno();
	return hash_sha256_init(&s->h);
}

static int sink_write(const void *data, size_t n, void *userdata)
{
	struct blob_sink *s = userdata;
	uint64_t room = s->l->size - MIN(s->got, s->l->size);
	size_t fit = (size_t) MIN((uint64_t) n, room);
	int k;

	if (fit > 0) {
		k = hash_sha256_update(&s->h, data, fit);
		if (k < 0)
			return k;
		if (s->fd >= 0) {
			k = write_all(s->fd, data, fit);
			if (k < 0)
				return k;
		} else {
			memcpy(s->mem + s->got, data, fit);
		}
	}
	s->got += n;
	if (s->got > s->l->size) {
		s->overflow = true;
		if (s->got - s->l->size > KTS_BLOB_SLACK)
			return -EBADMSG;
	}
	return 0;
}

static void sink_progress(uint64_t done, uint64_t total, void *userdata)
{
	struct blob_sink *s = userdata;

	show_progress(done, total ? total : s->l->size, &s->progress);
}

/* After a 2xx: the bytes are the blob's, or the reason why not. */
static int sink_check(const struct kts_registry *r, struct blob_sink *s, char **ret_why)
{
	uint8_t d[HASH_SHA256_SIZE];
	char hex[HASH_SHA256_HEX_SIZE];
	int k;

	if (s->overflow)
		return why_set(ret_why, -EBADMSG, "%s: blob %s (%s): more than its %" PRIu64 " bytes",
			       r->name, s->l->digest, s->l->title, s->l->size);
	if (s->got < s->l->size)
		return why_set(ret_why, -EIO, "%s: blob %s (%s): short read, %" PRIu64 " of %" PRIu64
			       " bytes", r->name, s->l->digest, s->l->title, s->got, s->l->size);
	k = hash_sha256_final(&s->h, d);
	if (k < 0)
		return k;
	hash_digest_to_hex(d, sizeof(d), hex);
	if (!streq(hex, s->l->digest + strlen("sha256:")))
		return why_set(ret_why, -EBADMSG,
			       "%s: blob %s (%s) does not match its digest: its bytes hash to "
			       "sha256:%s", r->name, s->l->digest, s->l->title, hex);
	return 0;
}

int registry_blob_get(struct kts_registry *r, const struct kts_oci_layer *l, int fd,
		      char **ret_mem, char **ret_why)
{
	_cleanup_free_ char *url = NULL, *what = NULL, *mem = NULL, *why = NULL;
	struct blob_sink s _cleanup_(sink_done) = {
		.l = l, .fd = fd,
		.progress = { .r = r, .verb = "pull", .title = l->title, .start = now_seconds() },
	};
	_cleanup_(registry_call_done) struct registry_call c = { 0 };
	int k;

	if (fd < 0) {
		mem = malloc(l->size + 1);
		if (!mem)
			return -ENOMEM;
		s.mem = mem;
	}
	if (asprintf(&url, "/v2/%s/blobs/%s", r->remote.repository, l->digest) < 0 ||
	    asprintf(&what, "blob %s (%s)", l->digest, l->title) < 0)
		return -ENOMEM;
	c = (struct registry_call) { .url = url, .what = what, .write = sink_write,
				     .reset = sink_reset, .userdata = &s,
				     .progress = sink_progress };
	k = registry_call(r, &c, &why);
	if (k == -EBADMSG && s.overflow)
		return why_set(ret_why, k, "%s: blob %s (%s): more than its %" PRIu64 " bytes",
			       r->name, l->digest, l->title, l->size);
	if (k < 0) {
		if (ret_why)
			*ret_why = TAKE_PTR(why);
		return k;
	}
	if (c.status < 200 || c.status > 299) {
		k = registry_status_error(r, &c, ret_why);
		return k == -ENOENT ? -EIO : k; /* the manifest names a blob the registry lacks */
	}
	k = sink_check(r, &s, ret_why);
	if (k < 0)
		return k;
	if (ret_mem) {
		mem[l->size] = '\0';
		*ret_mem = TAKE_PTR(mem);
	}
	return 0;
}

/* ------------------------------------------------------------------ pull */

/*
 * Durability overlapped with the transfer: each blob's file is fsynced by a thread of its own
 * as soon as its download completes, while the next blob downloads (the biggest blobs come
 * first, so the longest fsync overlaps the most). The store's commit still fsyncs every file
 * (that is the guarantee), and finds them clean. An fsync error here fails the pull too.
 */
struct blob_sync {
	const char *title;
	int fd;
	int error;
	bool started;
	pthread_t thread;
};

static void *blob_sync_run(void *userdata)
{
	struct blob_sync *b = userdata;

	b->error = fsync(b->fd) < 0 ? negative_errno() : 0;
	return NULL;
}

/* Starts the fsync of b->fd in a thread (signals blocked there: they are the main thread's),
 * or does it here when no thread can be started. */
static void blob_sync_start(struct blob_sync *b)
{
	sigset_t all, old;

	sigfillset(&all);
	if (pthread_sigmask(SIG_SETMASK, &all, &old) == 0) {
		b->started = pthread_create(&b->thread, NULL, blob_sync_run, b) == 0;
		(void) pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (!b->started)
		(void) blob_sync_run(b);
}

/* Waits for every started fsync and closes the files: k, or the first fsync error. */
static int blob_syncs_finish(struct blob_sync *v, size_t n, int k, char **ret_why)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].started)
			(void) pthread_join(v[i].thread, NULL);
		v[i].fd = safe_close(v[i].fd);
		if (k >= 0 && v[i].error < 0)
			k = why_set(ret_why, v[i].error, "cannot write '%s' to the cache: %s",
				    v[i].title, strerror(-v[i].error));
	}
	return k;
}

/* One layer into a new file of the store; *ret_fd the file, written, on success. */
static int pull_layer(struct kts_registry *r, int dirfd, const char *key,
		      const struct kts_oci_layer *l, int *ret_fd, char **ret_why)
{
	_cleanup_close_ int fd = -EBADF;
	int k;

	/* the title is an entry file name (registry_manifest_parse()): never a path */
	fd = openat(dirfd, l->title, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return why_set(ret_why, negative_errno(), "cannot create '%s' in the cache: %m",
			       l->title);
	k = registry_blob_get(r, l, fd, NULL, ret_why);
	if (k < 0)
		return k;
	blob_event(r, "pull", key, l, "downloaded");
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* Biggest first (ties: manifest order). */
static int layer_size_cmp(const void *a, const void *b)
{
	const struct kts_oci_layer *x = *(const struct kts_oci_layer *const *) a;
	const struct kts_oci_layer *y = *(const struct kts_oci_layer *const *) b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* The pulled files are an entry of this key (the store checks the image itself). */
static int pull_check(const struct kts_registry *r, const char *dir, const char *key,
		      char **ret_why)
{
	_cleanup_metadata_ struct kts_metadata *m = NULL;
	_cleanup_free_ char *path = NULL, *why = NULL;
	int k;

	if (asprintf(&path, "%s/" METADATA_FILENAME, dir) < 0)
		return -ENOMEM;
	k = metadata_read(path, &m, &why);
	if (k >= 0)
		k = metadata_validate(m, &why);
	if (k < 0)
		return why_set(ret_why, -EBADMSG, "%s: the entry '%s' is not valid: %s", r->name,
			       key, strempty(why));
	if (!streq(m->key, key))
		return why_set(ret_why, -EBADMSG, "%s: the entry tagged '%s' is the entry '%s'",
			       r->name, key, m->key);
	return 0;
}

static int pull_into(struct kts_registry *r, struct kts_cache_store *store, const char *key,
		     const struct kts_oci_manifest *m, struct kts_registry_stats *st,
		     char **ret_why)
{
	_cleanup_free_ const struct kts_oci_layer **order = NULL;
	_cleanup_free_ struct blob_sync *syncs = NULL;
	_cleanup_close_ int dirfd = -EBADF;
	size_t n = 0;
	int k = 0;

	dirfd = open(store->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return why_set(ret_why, negative_errno(), "cannot open '%s': %m", store->dir);
	order = calloc(m->n_layers ? m->n_layers : 1, sizeof(*order));
	syncs = calloc(m->n_layers ? m->n_layers : 1, sizeof(*syncs));
	if (!order || !syncs)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_layers; i++)
		order[i] = &m->layers[i];
	qsort(order, m->n_layers, sizeof(*order), layer_size_cmp);
	for (size_t i = 0; i < m->n_layers; i++) {
		struct blob_sync *b = &syncs[n];

		*b = (struct blob_sync) { .title = order[i]->title, .fd = -EBADF };
		k = pull_layer(r, dirfd, key, order[i], &b->fd, ret_why);
		if (k < 0)
			break;
		n++;
		blob_sync_start(b);
		st->blobs_sent++;
		st->bytes_sent += order[i]->size;
	}
	k = blob_syncs_finish(syncs, n, k, ret_why);
	if (k < 0)
		return k;
	return pull_check(r, store->dir, key, ret_why);
}

int registry_pull(struct kts_registry *r, const char *cache_root, const char *key,
		  struct kts_registry_stats *st, char **ret_entry_path, char **ret_why)
{
	_cleanup_(registry_manifest_done) struct kts_oci_manifest m = { 0 };
	_cleanup_cache_store_ struct kts_cache_store *store = NULL;
	_cleanup_free_ char *path = NULL, *why = NULL;
	struct kts_registry_stats s = { 0 };
	double t0 = now_seconds();
	int k;

	k = registry_manifest_get(r, key, &m, s.manifest_digest, ret_why);
	if (k <= 0)
		return k;
	s.blobs = (unsigned) m.n_layers;
	for (size_t i = 0; i < m.n_layers; i++)
		s.bytes += m.layers[i].size;

	k = cache_store_begin(cache_root, key, &store);
	if (k < 0)
		return why_set(ret_why, k, "cannot start storing '%s' in the cache '%s': %s", key,
			       cache_root, strerror(-k));
	k = pull_into(r, store, key, &m, &s, ret_why);
	if (r->progress)
		progress_line_end();
	if (k < 0)
		return k; /* the store's cleanup removes the temporary directory */
	k = cache_store_commit(store, &path, &why);
	if (k < 0)
		return why_set(ret_why, k, "%s: cannot store the entry '%s': %s", r->name, key,
			       why ? why : strerror(-k));

	s.seconds = now_seconds() - t0;
	done_event(r, "pull", key, &s);
	if (st)
		*st = s;
	if (ret_entry_path)
		*ret_entry_path = TAKE_PTR(path);
	return 1;
}

/* ------------------------------------------------------------------ up */

/* A blob to push: a file of the entry, or bytes in memory (the empty config). */
struct blob_src {
	struct kts_oci_layer l;
	const char *path;
	const void *mem;
};

/* HEAD: 1 the registry has it, 0 it has not. */
static int blob_exists(struct kts_registry *r, const struct blob_src *b, char **ret_why)
{
	_cleanup_(registry_call_done) struct registry_call c = { 0 };
	_cleanup_free_ char *url = NULL, *what = NULL;
	int k;

	if (asprintf(&url, "/v2/%s/blobs/%s", r->remote.repository, b->l.digest) < 0 ||
	    asprintf(&what, "blob %s (%s)", b->l.digest, b->l.title) < 0)
		return -ENOMEM;
	c = (struct registry_call) { .method = "HEAD", .url = url, .what = what };
	k = registry_call(r, &c, ret_why);
	if (k < 0)
		return k;
	if (c.status == 200)
		return 1;
	if (c.status == 404)
		return 0;
	return registry_status_error(r, &c, ret_why);
}

/* The PUT that completes an upload session at location with the whole blob. */
static int blob_put(struct kts_registry *r, const struct blob_src *b, const char *location,
		    const char *what, char **ret_why)
{
	_cleanup_(registry_call_done) struct registry_call c = { 0 };
	_cleanup_free_ char *url = NULL;
	struct transfer_progress p = { .r = r, .verb = "push", .title = b->l.title,
				       .start = now_seconds() };
	int k;

	/* the digest's ':' percent-encoded, as a query value should be */
	if (asprintf(&url, "%s%cdigest=sha256%%3A%s", location, strchr(location, '?') ? '&' : '?',
		     b->l.digest + strlen("sha256:")) < 0)
		return -ENOMEM;
	c = (struct registry_call) {
		.method = "PUT", .url = url, .what = what,
		.content_type = "application/octet-stream",
		.body = b->mem, .body_len = b->mem ? (size_t) b->l.size : 0, .body_file = b->path,
		.progress = show_progress, .userdata = &p,
	};
	k = registry_call(r, &c, ret_why);
	if (k < 0)
		return k;
	if (c.status != 201 && c.status != 204)
		return registry_status_error(r, &c, ret_why);
	return 0;
}

/* Uploads b: 1 when the registry mounted it instead, 0 when uploaded. */
static int blob_upload(struct kts_registry *r, const struct blob_src *b, char **ret_why)
{
	_cleanup_(registry_call_done) struct registry_call c = { 0 };
	_cleanup_free_ char *url = NULL, *what = NULL;
	int k;

	if (asprintf(&url, "/v2/%s/blobs/uploads/?mount=%s", r->remote.repository,
		     b->l.digest) < 0 ||
	    asprintf(&what, "blob %s (%s)", b->l.digest, b->l.title) < 0)
		return -ENOMEM;
	c = (struct registry_call) { .method = "POST", .url = url, .what = what };
	k = registry_call(r, &c, ret_why);
	if (k >= 0 && c.status >= 400 && c.status <= 499 && c.status != 429) {
		/* a registry that refuses a mount without "from" instead of ignoring it: once
		 * more without (the query cut off the same URL) */
		log_debug("registry %s: upload with ?mount= answered HTTP %ld, again without",
			  r->name, c.status);
		*strchr(url, '?') = '\0';
		k = registry_call(r, &c, ret_why);
	}
	if (k < 0)
		return k;
	if (c.status == 201)
		return 1;
	if (c.status != 202)
		return registry_status_error(r, &c, ret_why);
	if (!c.location || !*c.location)
		return why_set(ret_why, -EIO, "%s: %s: the upload session has no Location", r->name,
			       what);
	if (c.location[0] != '/' && !startswith(c.location, "http://") &&
	    !startswith(c.location, "https://"))
		return why_set(ret_why, -EIO, "%s: %s: an upload Location that is not a URL or an "
			       "absolute path", r->name, what);
	return blob_put(r, b, c.location, what, ret_why);
}

/* HEAD, then upload what is missing; counted in st (the config is not: st NULL). */
static int blob_ensure(struct kts_registry *r, const char *key, const struct blob_src *b,
		       struct kts_registry_stats *st, char **ret_why)
{
	const char *action = "present";
	int k;

	k = blob_exists(r, b, ret_why);
	if (k == 0) {
		k = blob_upload(r, b, ret_why);
		action = k > 0 ? "mounted" : "uploaded";
	}
	if (k < 0)
		return k;
	if (!st)
		return 0;
	if (streq(action, "present")) {
		st->blobs_present++;
	} else if (streq(action, "mounted")) {
		st->blobs_mounted++;
	} else {
		st->blobs_sent++;
		st->bytes_sent += b->l.size;
	}
	blob_event(r, "push", key, &b->l, action);
	return 0;
}

static int src_cmp(const void *a, const void *b)
{
	const struct blob_src *x = a, *y = b;

	return registry_file_order(x->l.title) - registry_file_order(y->l.title);
}

static void srcs_free(struct blob_src *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].l.title);
		free((char *) v[i].path);
	}
	free(v);
}

/* One file of the entry: its digest and size. */
static int src_add(const char *entry_path, const char *name, struct blob_src *b,
		   char **ret_why)
{
	char hex[HASH_SHA256_HEX_SIZE];
	struct stat st;
	char *path;
	int k;

	if (asprintf(&path, "%s/%s", entry_path, name) < 0)
		return -ENOMEM;
	b->path = path;
	b->l.title = strdup(name);
	if (!b->l.title)
		return -ENOMEM;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return why_set(ret_why, -EBADMSG, "'%s' of the entry is not a regular file", path);
	k = hash_sha256_file(path, hex);
	if (k < 0)
		return why_set(ret_why, k, "cannot read '%s': %s", path, strerror(-k));
	(void) snprintf(b->l.digest, sizeof(b->l.digest), "sha256:%s", hex);
	b->l.size = (uint64_t) st.st_size;
	return 0;
}

/* The entry's files that a manifest carries, in manifest order. */
static int entry_sources(const char *entry_path, struct blob_src **ret, size_t *ret_n,
			 char **ret_why)
{
	_cleanup_closedir_ DIR *d = opendir(entry_path);
	struct blob_src *v = NULL;
	struct dirent *de;
	size_t n = 0;
	int k = 0;

	if (!d)
		return why_set(ret_why, negative_errno(), "cannot open the entry '%s': %m",
			       entry_path);
	while ((de = readdir(d))) {
		struct blob_src *p;

		if (!registry_media_type(de->d_name))
			continue;
		p = reallocarray(v, n + 1, sizeof(*v));
		if (!p) {
			k = -ENOMEM;
			break;
		}
		v = p;
		v[n] = (struct blob_src) { 0 };
		k = src_add(entry_path, de->d_name, &v[n++], ret_why);
		if (k < 0)
			break;
	}
	if (k < 0) {
		srcs_free(v, n);
		return k;
	}
	qsort(v, n, sizeof(*v), src_cmp);
	*ret = v;
	*ret_n = n;
	return 0;
}

static bool sources_have(const struct blob_src *v, size_t n, const char *title)
{
	for (size_t i = 0; i < n; i++)
		if (streq(v[i].l.title, title))
			return true;
	return false;
}

static int push_check(const char *entry_path, const char *key, struct kts_metadata **ret,
		      char **ret_why)
{
	_cleanup_metadata_ struct kts_metadata *m = NULL;
	_cleanup_free_ char *path = NULL, *why = NULL;
	int k;

	if (asprintf(&path, "%s/" METADATA_FILENAME, entry_path) < 0)
		return -ENOMEM;
	k = metadata_read(path, &m, &why);
	if (k < 0)
		return why_set(ret_why, k == -ENOMEM ? k : -EBADMSG, "entry '%s': %s", entry_path,
			       strempty(why));
	if (!streq(m->key, key))
		return why_set(ret_why, -EBADMSG, "entry '%s' is the entry '%s', not '%s'",
			       entry_path, m->key, key);
	*ret = TAKE_PTR(m);
	return 0;
}

static int manifest_put(struct kts_registry *r, const char *key, const char *json,
			char ret_digest[72], char **ret_why)
{
	_cleanup_(registry_call_done) struct registry_call c = { 0 };
	_cleanup_free_ char *url = NULL, *what = NULL;
	char hex[HASH_SHA256_HEX_SIZE];
	int k;

	k = hash_sha256_hex(json, strlen(json), hex);
	if (k < 0)
		return k;
	if (asprintf(&url, "/v2/%s/manifests/%s", r->remote.repository, key) < 0 ||
	    asprintf(&what, "manifest '%s'", key) < 0)
		return -ENOMEM;
	c = (struct registry_call) { .method = "PUT", .url = url, .what = what,
				     .content_type = KTS_OCI_MANIFEST_TYPE, .body = json,
				     .body_len = strlen(json) };
	k = registry_call(r, &c, ret_why);
	if (k < 0)
		return k;
	if (c.status != 201 && c.status != 200)
		return registry_status_error(r, &c, ret_why);
	(void) snprintf(ret_digest, 72, "sha256:%s", hex);
	return 0;
}

static int push_blobs(struct kts_registry *r, const char *key, struct blob_src *v, size_t n,
		      struct kts_registry_stats *st, char **ret_why)
{
	const struct blob_src config = {
		.l = { .title = (char *) "config (empty)", .digest = KTS_OCI_EMPTY_DIGEST,
		       .size = KTS_OCI_EMPTY_SIZE },
		.mem = "{}",
	};
	int k;

	k = blob_ensure(r, key, &config, NULL, ret_why);
	for (size_t i = 0; k >= 0 && i < n; i++)
		k = blob_ensure(r, key, &v[i], st, ret_why);
	if (r->progress)
		progress_line_end();
	return k;
}

int registry_push(struct kts_registry *r, const char *entry_path, const char *key,
		  struct kts_registry_stats *st, char **ret_why)
{
	_cleanup_metadata_ struct kts_metadata *meta = NULL;
	_cleanup_free_ char *json = NULL;
	struct kts_registry_stats s = { 0 };
	struct kts_oci_layer *layers = NULL;
	struct blob_src *v = NULL;
	char created[METADATA_TIME_MAX];
	double t0 = now_seconds();
	size_t n = 0;
	int k;

	if (!registry_tag_valid(key, strlen(key)))
		return why_set(ret_why, -EINVAL, "%s: key '%s' is not a valid OCI tag", r->name, key);
	k = push_check(entry_path, key, &meta, ret_why);
	if (k < 0)
		return k;
	k = entry_sources(entry_path, &v, &n, ret_why);
	if (k < 0)
		return k;
	if (!sources_have(v, n, meta->image)) {
		srcs_free(v, n);
		return why_set(ret_why, -EBADMSG, "entry '%s' has no image '%s'", entry_path,
			       meta->image);
	}
	r->push = true;
	layers = calloc(n ? n : 1, sizeof(*layers));
	k = layers ? push_blobs(r, key, v, n, &s, ret_why) : -ENOMEM;
	if (k >= 0) {
		struct kts_oci_manifest m = { .layers = layers, .n_layers = n, .created = created,
					      .key = (char *) key };

		for (size_t i = 0; i < n; i++) {
			layers[i] = v[i].l;
			s.bytes += v[i].l.size;
		}
		s.blobs = (unsigned) n;
		metadata_format_time(meta->built_at, created);
		k = registry_manifest_build(&m, &json);
		if (k == -EINVAL)
			k = why_set(ret_why, -EBADMSG, "entry '%s': no manifest can be built of it",
				    entry_path);
	}
	if (k >= 0)
		k = manifest_put(r, key, json, s.manifest_digest, ret_why);
	free(layers);
	srcs_free(v, n);
	if (k < 0)
		return k;
	s.seconds = now_seconds() - t0;
	done_event(r, "push", key, &s);
	if (st)
		*st = s;
	return 0;
}
