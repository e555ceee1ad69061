/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "hash.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "util.h"
#include "metadata.h"
#include "progress.h"
#include "testhook.h"

#define KERNELS_DIR "kernels"
#define TMP_DIR ".tmp"
#define LOCKS_DIR ".locks"

/* Names in .tmp that are not stores: an old entry set aside, an entry being cleaned. */
#define ASIDE_PREFIX ".old-"
#define CLEAN_PREFIX ".clean-"

int cache_root(char **ret, const char **ret_var)
{
	const char *v;
	char *p;

	v = getenv_nonempty("KTSCOPE_CACHE_DIR");
	if (v) {
		if (v[0] != '/') {
			if (ret_var)
				*ret_var = "KTSCOPE_CACHE_DIR";
			return -EINVAL;
		}
		p = strdup(v);
		goto done;
	}
	v = getenv_nonempty("XDG_CACHE_HOME");
	if (v && v[0] == '/') {
		/* The XDG spec says relative values are to be ignored. */
		if (asprintf(&p, "%s/ktscope", v) < 0)
			return -ENOMEM;
		goto done;
	}
	v = getenv_nonempty("HOME");
	if (!v || v[0] != '/' || streq(v, "/")) {
		if (ret_var)
			*ret_var = "HOME";
		return v ? -EINVAL : -ENOENT;
	}
	if (asprintf(&p, "%s/.cache/ktscope", v) < 0)
		return -ENOMEM;
done:
	if (!p)
		return -ENOMEM;
	*ret = p;
	return 0;
}

/* ------------------------------------------------------------------ keys */

int cache_key_validate_len(const char *key, size_t len)
{
	if (!key || len == 0 || len > CACHE_KEY_MAX)
		return -EINVAL;
	if (memchr(key, '\0', len) || memchr(key, '/', len) || key[0] == '.')
		return -EINVAL;
	for (size_t i = 0; i + 1 < len; i++)
		if (key[i] == '.' && key[i + 1] == '.')
			return -EINVAL;
	/* Control characters would garble every table and log line the key appears in. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char) key[i] < 0x20 || key[i] == 0x7f)
			return -EINVAL;
	return 0;
}

int cache_key(const char *label, const char *arch, const char *inputs_sha256_hex, char **ret)
{
	char *k;

	if (!label || !*label || !arch || !*arch || !metadata_is_sha256_hex(inputs_sha256_hex))
		return -EINVAL;
	if (asprintf(&k, "%s-%s-%.12s", label, arch, inputs_sha256_hex) < 0)
		return -ENOMEM;
	if (cache_key_validate(k) < 0) {
		free(k);
		return -EINVAL;
	}
	*ret = k;
	return 0;
}

/*
 * Field tags of the inputs encoding. Changing the encoding in any way changes
 * every key (a full rebuild), so it is versioned by the domain string.
 */
enum {
	IN_SOURCE = 1,
	IN_BASE,
	IN_FRAGMENT,
	IN_EXTRAS,
	IN_EXTRA,
	IN_ARCH,
	IN_MAKE_VARS,
	IN_MAKE_VAR,
	IN_CC,
	IN_LD,
	IN_PAHOLE,
};

/* The field helpers feed c; a libcrypto failure is sticky and reported by hash_sha256_final(). */
static void hash_u64(struct hash_sha256 *c, uint64_t v)
{
	uint8_t b[8];

	for (unsigned i = 0; i < 8; i++)
		b[i] = (uint8_t) (v >> (8 * i));
	(void) hash_sha256_update(c, b, sizeof(b));
}

/* tag, presence, little-endian 64-bit length, bytes: an unambiguous framing. */
static void hash_field(struct hash_sha256 *c, uint8_t tag, const char *s)
{
	uint8_t present = s != NULL;

	(void) hash_sha256_update(c, &tag, 1);
	(void) hash_sha256_update(c, &present, 1);
	if (!s)
		return;
	hash_u64(c, strlen(s));
	(void) hash_sha256_update(c, s, strlen(s));
}

static void hash_array(struct hash_sha256 *c, uint8_t tag, uint8_t elem_tag,
		       const char *const *v, size_t n)
{
	(void) hash_sha256_update(c, &tag, 1);
	hash_u64(c, n);
	for (size_t i = 0; i < n; i++)
		hash_field(c, elem_tag, v[i]);
}

int cache_inputs_hash(const struct kts_cache_inputs *in, char **ret)
{
	static const char domain[] = "ktscope cache inputs v1";
	_cleanup_(hash_sha256_done) struct hash_sha256 c = {};
	uint8_t digest[HASH_SHA256_SIZE];
	char *hex;
	int r;

	(void) hash_sha256_init(&c);
	(void) hash_sha256_update(&c, domain, sizeof(domain)); /* with its NUL */
	hash_field(&c, IN_SOURCE, in->source_identity);
	hash_field(&c, IN_BASE, in->base);
	hash_field(&c, IN_FRAGMENT, in->fragment_sha256);
	hash_array(&c, IN_EXTRAS, IN_EXTRA, in->extra_sha256, in->n_extra);
	hash_field(&c, IN_ARCH, in->arch);
	hash_array(&c, IN_MAKE_VARS, IN_MAKE_VAR, in->make_vars, in->n_make_vars);
	hash_field(&c, IN_CC, in->cc);
	hash_field(&c, IN_LD, in->ld);
	hash_field(&c, IN_PAHOLE, in->pahole);
	r = hash_sha256_final(&c, digest);
	if (r < 0)
		return r;
	hex = malloc(HASH_SHA256_HEX_SIZE);
	if (!hex)
		return -ENOMEM;
	hash_digest_to_hex(digest, sizeof(digest), hex);
	*ret = hex;
	return 0;
}

/* ------------------------------------------------------------ fs helpers */

static int mkdir_if_missing(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

static int fsync_path(int dirfd, const char *name, int flags)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | flags);

	if (fd < 0 || fsync(fd) < 0)
		return negative_errno();
	return 0;
}

/* fsync every regular file below the directory fd, then the directories themselves. */
static int fsync_tree(int fd)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int dfd, r;

	dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0)
		return negative_errno();
	d = fdopendir(dfd);
	if (!d) {
		r = negative_errno();
		(void) close(dfd);
		return r;
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return negative_errno();
		if (S_ISREG(st.st_mode)) {
			r = fsync_path(fd, de->d_name, 0);
		} else if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(fd, de->d_name,
							 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
								 O_CLOEXEC);

			r = sub < 0 ? negative_errno() : fsync_tree(sub);
		} else {
			r = 0; /* symlinks live in the directory, synced below */
		}
		if (r < 0)
			return r;
	}
	if (errno != 0)
		return negative_errno();
	if (fsync(fd) < 0)
		return negative_errno();
	return 0;
}

static int fsync_dir(const char *path)
{
	return fsync_path(AT_FDCWD, path, O_DIRECTORY);
}

static int join(char **ret, const char *a, const char *b)
{
	return asprintf(ret, "%s/%s", a, b) < 0 ? -ENOMEM : 0;
}

/* ------------------------------------------------------------ entry locks */

int cache_lock_path(const char *root, const char *key, char **ret)
{
	if (cache_key_validate(key) < 0)
		return -EINVAL;
	return asprintf(ret, "%s/" LOCKS_DIR "/%s.lock", root, key) < 0 ? -ENOMEM : 0;
}

int cache_build_lock_path(const char *root, const char *key, char **ret)
{
	if (cache_key_validate(key) < 0)
		return -EINVAL;
	return asprintf(ret, "%s/" LOCKS_DIR "/%s.build.lock", root, key) < 0 ? -ENOMEM : 0;
}

int cache_lock_wait(const char *root, const char *path, const char *what, bool pulling,
		    bool event, int *ret_fd)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct kts_holder *h = NULL;
	size_t n = 0;
	int r;

	r = join(&dir, root, LOCKS_DIR);
	if (r >= 0)
		r = mkdir_p(dir, 0755);
	if (r >= 0)
		r = fd = lock_open(path, NULL);
	if (r >= 0)
		r = lock_try(fd, KTS_LOCK_EXCLUSIVE);
	if (r != -EWOULDBLOCK) {
		if (r >= 0)
			*ret_fd = TAKE_FD(fd);
		return r < 0 ? r : 0;
	}
	(void) lock_holders(path, &h, &n);
	if (n > 0)
		log_notice("%s is being %s by pid %d (%s); waiting for it", what,
			   pulling ? "built or pulled" : "built", (int) h[0].pid,
			   strempty(h[0].cmdline));
	else
		log_notice("%s is locked by another %s (%s); waiting for it", what,
			   pulling ? "build or pull" : "build", path);
	lock_holders_free(h, n);
	if (event)
		progress_event("source_lock", "\"state\":\"waiting\",\"path\":%s",
			       progress_json_str(path));
	r = lock_wait(fd, KTS_LOCK_EXCLUSIVE);
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	return 1;
}

int cache_source_lock_path(const char *root, const char *canonical_path, char **ret)
{
	char hex[HASH_SHA256_HEX_SIZE];
	int r;

	if (!canonical_path || canonical_path[0] != '/')
		return -EINVAL;
	r = hash_sha256_hex(canonical_path, strlen(canonical_path), hex);
	if (r < 0)
		return r;
	return asprintf(ret, "%s/" LOCKS_DIR "/source-%.16s.lock", root, hex) < 0 ? -ENOMEM : 0;
}

int cache_lock_entry(const char *root, const char *key, bool exclusive, bool wait, int *ret_fd)
{
	_cleanup_free_ char *dir = NULL, *path = NULL;
	_cleanup_close_ int fd = -EBADF;
	int r;

	r = cache_lock_path(root, key, &path);
	if (r < 0)
		return r;
	r = join(&dir, root, LOCKS_DIR);
	if (r < 0)
		return r;
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	fd = lock_open(path, NULL);
	if (fd < 0)
		return fd;
	if (wait) {
		r = lock_wait(fd, exclusive ? KTS_LOCK_EXCLUSIVE : KTS_LOCK_SHARED);
		if (r < 0)
			return r;
	} else {
		r = lock_try(fd, exclusive ? KTS_LOCK_EXCLUSIVE : KTS_LOCK_SHARED);
		if (r < 0)
			return r;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* ------------------------------------------------------------ entries */

const char *cache_status_to_string(enum kts_cache_status s)
{
	switch (s) {
	case KTS_CACHE_MATCHES:
		return "matches";
	case KTS_CACHE_STALE:
		return "stale";
	case KTS_CACHE_UNTRACKED:
		return "untracked";
	case KTS_CACHE_CORRUPT:
		return "corrupt";
	}
	return "unknown";
}

enum kts_cache_status cache_status(const char *meta_fragment, const char *fragment_sha256)
{
	if (!meta_fragment)
		return KTS_CACHE_UNTRACKED;
	if (fragment_sha256 && !streq(meta_fragment, fragment_sha256))
		return KTS_CACHE_STALE;
	return KTS_CACHE_MATCHES;
}

void cache_entry_free(struct kts_cache_entry *e)
{
	if (!e)
		return;
	free(e->key);
	free(e->path);
	free(e->image_path);
	metadata_free(e->meta);
	free(e->corrupt);
	free(e);
}

void cache_entries_free(struct kts_cache_entry **e, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++)
		cache_entry_free(e[i]);
	free(e);
}

/*
 * Checks the entry directory dir against key. 0 with *ret_meta when valid;
 * -EBADMSG with the reason in *ret_why when not; -ENOMEM.
 */
static int entry_check(const char *dir, const char *key, struct kts_metadata **ret_meta,
		       char **ret_image, char **ret_why)
{
	struct kts_metadata *m _cleanup_(metadata_freep) = NULL;
	_cleanup_free_ char *mpath = NULL, *ipath = NULL, *why = NULL;
	struct stat st;
	int r;

	if (lstat(dir, &st) < 0)
		return negative_errno();
	if (!S_ISDIR(st.st_mode))
		return asprintf(ret_why, "not a directory") < 0 ? -ENOMEM : -EBADMSG;
	r = join(&mpath, dir, METADATA_FILENAME);
	if (r < 0)
		return r;
	r = metadata_read(mpath, &m, &why);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		*ret_why = why ? TAKE_PTR(why) : strdup("metadata.json unreadable");
		return *ret_why ? -EBADMSG : -ENOMEM;
	}
	if (!streq(m->key, key))
		return asprintf(ret_why, "metadata key '%s' does not match the entry directory",
				m->key) < 0 ? -ENOMEM : -EBADMSG;
	r = join(&ipath, dir, m->image);
	if (r < 0)
		return r;
	if (lstat(ipath, &st) < 0) {
		if (errno == ENOENT)
			r = asprintf(ret_why, "image file '%s' missing", m->image);
		else
			r = asprintf(ret_why, "image file '%s' unreadable: %s", m->image,
				     strerror(errno));
		return r < 0 ? -ENOMEM : -EBADMSG;
	}
	if (!S_ISREG(st.st_mode))
		return asprintf(ret_why, "image file '%s' is not a regular file", m->image) < 0
			       ? -ENOMEM
			       : -EBADMSG;
	*ret_meta = TAKE_PTR(m);
	*ret_image = TAKE_PTR(ipath);
	return 0;
}

/*
 * Loads kernels/{key}: 1 with an entry (valid or corrupt) in *ret, 0 when
 * there is nothing by that name, negative errno on other failures.
 */
static int entry_load(const char *root, const char *key, const char *fragment_sha256,
		      struct kts_cache_entry **ret)
{
	struct kts_cache_entry *e _cleanup_(cache_entry_freep) = NULL;
	struct stat st;
	int r;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->key = strdup(key);
	if (!e->key || asprintf(&e->path, "%s/" KERNELS_DIR "/%s", root, key) < 0)
		return -ENOMEM;
	if (lstat(e->path, &st) < 0)
		return errno == ENOENT ? 0 : negative_errno();

	r = entry_check(e->path, key, &e->meta, &e->image_path, &e->corrupt);
	if (r == -EBADMSG) {
		e->status = KTS_CACHE_CORRUPT;
	} else if (r == -ENOENT) {
		return 0; /* removed under our feet */
	} else if (r < 0) {
		return r;
	} else {
		e->status = cache_status(e->meta->fragment_sha256, fragment_sha256);
		e->dirty = e->meta->source.dirty;
		e->extra_kconfig = e->meta->n_extra_kconfig > 0;
	}
	*ret = TAKE_PTR(e);
	return 1;
}

int cache_lookup(const char *root, const char *key, const char *fragment_sha256,
		 struct kts_cache_entry **ret, char **ret_why)
{
	struct kts_cache_entry *e _cleanup_(cache_entry_freep) = NULL;
	int r;

	if (cache_key_validate(key) < 0)
		return -EINVAL;
	r = entry_load(root, key, fragment_sha256, &e);
	if (r <= 0)
		return r;
	if (e->status == KTS_CACHE_CORRUPT) {
		log_debug("cache entry '%s' is corrupt: %s", key, e->corrupt);
		if (ret_why)
			*ret_why = TAKE_PTR(e->corrupt);
		return -EBADMSG;
	}
	*ret = TAKE_PTR(e);
	return 1;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct kts_cache_entry *x = *(struct kts_cache_entry *const *) a;
	const struct kts_cache_entry *y = *(struct kts_cache_entry *const *) b;
	bool xc = x->status == KTS_CACHE_CORRUPT, yc = y->status == KTS_CACHE_CORRUPT;

	if (xc != yc)
		return xc ? 1 : -1;
	if (!xc && x->meta->built_at != y->meta->built_at)
		return x->meta->built_at > y->meta->built_at ? -1 : 1;
	return strcmp(x->key, y->key);
}

int cache_list(const char *root, const char *fragment_sha256, struct kts_cache_entry ***ret,
	       size_t *ret_n)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct kts_cache_entry **v = NULL;
	struct dirent *de;
	size_t n = 0, cap = 0;
	int r;

	r = join(&dir, root, KERNELS_DIR);
	if (r < 0)
		return r;
	d = opendir(dir);
	if (!d && errno == ENOENT) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (!d)
		return negative_errno();

	while ((errno = 0, de = readdir(d))) {
		struct kts_cache_entry *e = NULL;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		/* Not a key: not ours (and not removable under a key lock). */
		if (cache_key_validate(de->d_name) < 0) {
			log_debug("cache: skipping '%s/%s': not a valid key", dir, de->d_name);
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct kts_cache_entry **nv = realloc(v, ncap * sizeof(*v));

			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		r = entry_load(root, de->d_name, fragment_sha256, &e);
		if (r < 0)
			break;
		if (r > 0)
			v[n++] = e;
		r = 0;
	}
	if (r == 0 && errno != 0)
		r = negative_errno();
	if (r < 0) {
		cache_entries_free(v, n);
		return r;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), entry_cmp);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* ------------------------------------------------------------ store */

int cache_store_begin(const char *root, const char *key, struct kts_cache_store **ret)
{
	_cleanup_free_ char *kernels = NULL, *tmp = NULL, *locks = NULL;
	struct kts_cache_store *s _cleanup_(cache_store_freep) = NULL;
	int r;

	if (cache_key_validate(key) < 0)
		return -EINVAL;
	if (join(&kernels, root, KERNELS_DIR) < 0 || join(&tmp, root, TMP_DIR) < 0 ||
	    join(&locks, root, LOCKS_DIR) < 0)
		return -ENOMEM;
	if ((r = mkdir_p(root, 0755)) < 0 || (r = mkdir_if_missing(kernels, 0755)) < 0 ||
	    (r = mkdir_if_missing(tmp, 0755)) < 0 || (r = mkdir_if_missing(locks, 0755)) < 0)
		return r;

	r = cache_sweep_tmp(root);
	if (r < 0)
		log_debug_errno(r, "cache: sweeping '%s' failed: %m", tmp);

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->done = true; /* nothing to abort until the directory exists */
	s->lock_fd = -EBADF;
	s->root = strdup(root);
	s->key = strdup(key);
	if (!s->root || !s->key)
		return -ENOMEM;
	/* Locked from here until it is renamed into kernels/ or removed. */
	r = cache_tmp_create(root, key, 0755, &s->dir, &s->lock_fd);
	if (r < 0)
		return r;
	s->done = false;
	*ret = TAKE_PTR(s);
	return 0;
}

void cache_store_abort(struct kts_cache_store *s)
{
	int r;

	if (!s || s->done)
		return;
	r = rm_rf(s->dir);
	if (r < 0)
		log_debug_errno(r, "cache: cannot remove '%s': %m", s->dir);
	s->lock_fd = safe_close(s->lock_fd);
	s->done = true;
}

void cache_store_free(struct kts_cache_store *s)
{
	if (!s)
		return;
	cache_store_abort(s);
	s->lock_fd = safe_close(s->lock_fd);
	free(s->root);
	free(s->key);
	free(s->dir);
	free(s);
}

/*
 * Without RENAME_EXCHANGE (some filesystems refuse it): move the old entry
 * aside, move the new one in, delete the old one. In between there is no
 * entry, which a reader sees as a miss, never as a mix.
 */
static int install_by_aside(struct kts_cache_store *s, const char *final)
{
	_cleanup_free_ char *aside = NULL;
	_cleanup_close_ int aside_lock = -EBADF;
	int r;

	r = cache_tmp_path(s->root, ASIDE_PREFIX, s->key, &aside);
	if (r < 0)
		return r;
	r = rm_rf(aside);
	if (r < 0)
		return r;
	/* Locked before it moves into .tmp, so no sweep takes it while it is set aside. */
	r = cache_tmp_lock_dir(AT_FDCWD, final, &aside_lock);
	if (r < 0)
		return r;
	if (rename(final, aside) < 0)
		return negative_errno();
	if (rename(s->dir, final) < 0) {
		r = negative_errno();
		(void) rename(aside, final); /* put the old one back */
		return r;
	}
	r = rm_rf(aside);
	if (r < 0)
		log_debug_errno(r, "cache: cannot remove old entry at '%s': %m", aside);
	return 0;
}

/*
 * Renames the stage to final; an existing entry is swapped (then s->dir holds the old one,
 * still to be removed by cache_store_abort()) or set aside and removed.
 */
static int install(struct kts_cache_store *s, const char *final)
{
	int r;

	if (rename(s->dir, final) == 0) {
		s->done = true;
		return 0;
	}
	if (errno != EEXIST && errno != ENOTEMPTY && errno != ENOTDIR && errno != EISDIR)
		return negative_errno();
	if (renameat2(AT_FDCWD, s->dir, AT_FDCWD, final, RENAME_EXCHANGE) == 0) {
		/* s->dir now holds the old entry; not done, so abort removes it. Our lock went
		 * with the new entry: hold the old one's instead (a sweep that got there first
		 * is removing it already). */
		s->lock_fd = safe_close(s->lock_fd);
		(void) cache_tmp_lock_dir(AT_FDCWD, s->dir, &s->lock_fd);
		return 0;
	}
	if (errno != EINVAL && errno != ENOSYS)
		return negative_errno();
	r = install_by_aside(s, final);
	if (r < 0)
		return r;
	s->done = true;
	return 0;
}

int cache_store_commit(struct kts_cache_store *s, char **ret_path, char **ret_why)
{
	struct kts_metadata *m _cleanup_(metadata_freep) = NULL;
	_cleanup_free_ char *final = NULL, *kernels = NULL, *tmpdir = NULL, *image = NULL,
			    *why = NULL;
	_cleanup_close_ int dfd = -EBADF, lock_fd = -EBADF;
	int r;

	if (s->done)
		return -ESTALE;
	if (join(&kernels, s->root, KERNELS_DIR) < 0 || join(&final, kernels, s->key) < 0 ||
	    join(&tmpdir, s->root, TMP_DIR) < 0)
		return -ENOMEM;

	/* 1. Never install what a lookup would call corrupt. */
	r = entry_check(s->dir, s->key, &m, &image, &why);
	if (r == -EBADMSG && ret_why)
		*ret_why = TAKE_PTR(why);
	if (r < 0)
		return r;

	/* 2. Data first: after the rename, the entry must be complete on disk. */
	dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return negative_errno();
	r = fsync_tree(dfd);
	if (r < 0)
		return r;

	/* 3. One installer at a time, and not under a user of the old entry. */
	r = cache_lock_entry(s->root, s->key, /* exclusive= */ true, /* wait= */ true, &lock_fd);
	if (r < 0)
		return r;

	r = testhook("store-before-rename");
	if (r < 0)
		return r;
	/* 4. Atomic install; an existing entry is swapped, then removed. */
	r = install(s, final);
	if (r < 0)
		return r;
	s->installed = true;
	r = testhook("store-after-rename");
	if (r < 0)
		return r;
	cache_store_abort(s); /* the old entry, when it was swapped out */
	/* Installed: the directory has left .tmp, its lock has no more use. */
	s->lock_fd = safe_close(s->lock_fd);

	/* 5. Make the rename itself durable. */
	r = fsync_dir(kernels);
	if (r < 0)
		log_debug_errno(r, "cache: fsync of '%s' failed: %m", kernels);
	(void) fsync_dir(tmpdir);

	if (ret_path)
		*ret_path = TAKE_PTR(final);
	return 0;
}

/* ------------------------------------------------------------------ clean */

const char *cache_clean_result_to_string(enum kts_cache_clean_result r)
{
	switch (r) {
	case KTS_CACHE_CLEAN_REMOVED:
		return "removed";
	case KTS_CACHE_CLEAN_WOULD_REMOVE:
		return "would remove";
	case KTS_CACHE_CLEAN_BUSY:
		return "in use";
	case KTS_CACHE_CLEAN_CHANGED:
		return "changed";
	case KTS_CACHE_CLEAN_FAILED:
		return "failed";
	}
	return "unknown";
}

void cache_clean_select(struct kts_cache_entry *const *entries, size_t n,
			const struct kts_cache_clean_opts *o, bool *selected)
{
	int64_t now = o->now ? o->now : (int64_t) time(NULL);
	int64_t cutoff = now - (int64_t) o->older_than_days * 86400;
	unsigned kept = 0;

	for (size_t i = 0; i < n; i++) {
		const struct kts_cache_entry *e = entries[i];
		bool sel = true;

		if (e->status == KTS_CACHE_CORRUPT) {
			selected[i] = true;
			continue;
		}
		if (o->corrupt_only) {
			selected[i] = false;
			continue;
		}
		if (o->has_keep && kept < o->keep) {
			kept++;
			sel = false;
		}
		if (sel && o->has_older_than)
			sel = e->meta->built_at < cutoff;
		selected[i] = sel;
	}
}

void cache_clean_items_free(struct kts_cache_clean_item *items, size_t n)
{
	if (!items)
		return;
	for (size_t i = 0; i < n; i++)
		cache_entry_free(items[i].entry);
	free(items);
}

/* Same entry as when it was listed: still corrupt, or still the same build. */
static bool entry_unchanged(const struct kts_cache_entry *was, const struct kts_cache_entry *now)
{
	if ((was->status == KTS_CACHE_CORRUPT) != (now->status == KTS_CACHE_CORRUPT))
		return false;
	if (was->status == KTS_CACHE_CORRUPT)
		return true;
	return was->meta->built_at == now->meta->built_at &&
	       streq(was->meta->label, now->meta->label);
}

static enum kts_cache_clean_result clean_one(const char *root, struct kts_cache_entry *e,
					     const char *fragment_sha256, int *ret_error)
{
	struct kts_cache_entry *now _cleanup_(cache_entry_freep) = NULL;
	_cleanup_free_ char *trash = NULL;
	_cleanup_close_ int lock_fd = -EBADF, trash_lock = -EBADF;
	int r;

	r = cache_lock_entry(root, e->key, /* exclusive= */ true, /* wait= */ false, &lock_fd);
	if (r == -EWOULDBLOCK)
		return KTS_CACHE_CLEAN_BUSY;
	if (r < 0)
		goto fail;

	r = entry_load(root, e->key, fragment_sha256, &now);
	if (r < 0)
		goto fail;
	if (r == 0)
		return KTS_CACHE_CLEAN_REMOVED; /* someone else did it */
	if (!entry_unchanged(e, now))
		return KTS_CACHE_CLEAN_CHANGED;

	/* Out of kernels/ in one step, then deleted at leisure; locked before it enters
	 * .tmp, like everything there, so no sweep races the removal. */
	r = cache_tmp_path(root, CLEAN_PREFIX, e->key, &trash);
	if (r < 0)
		goto fail;
	r = rm_rf(trash);
	if (r < 0)
		goto fail;
	r = cache_tmp_lock_dir(AT_FDCWD, e->path, &trash_lock);
	if (r < 0)
		goto fail;
	if (rename(e->path, trash) < 0) {
		r = negative_errno();
		goto fail;
	}
	r = rm_rf(trash);
	if (r < 0)
		log_debug_errno(r, "cache: cannot remove '%s': %m", trash);
	return KTS_CACHE_CLEAN_REMOVED;
fail:
	*ret_error = r;
	return KTS_CACHE_CLEAN_FAILED;
}

int cache_clean(const char *root, const struct kts_cache_clean_opts *o,
		struct kts_cache_clean_item **ret, size_t *ret_n)
{
	struct kts_cache_entry **entries = NULL;
	struct kts_cache_clean_item *items = NULL;
	_cleanup_free_ bool *selected = NULL;
	size_t n = 0, n_items = 0;
	int r;

	r = cache_list(root, o->fragment_sha256, &entries, &n);
	if (r < 0)
		return r;
	selected = calloc(n ? n : 1, sizeof(bool));
	items = calloc(n ? n : 1, sizeof(*items));
	if (!selected || !items) {
		cache_entries_free(entries, n);
		free(items);
		return -ENOMEM;
	}
	cache_clean_select(entries, n, o, selected);

	for (size_t i = 0; i < n; i++) {
		struct kts_cache_clean_item *it;

		if (!selected[i])
			continue;
		it = &items[n_items++];
		it->entry = TAKE_PTR(entries[i]);
		if (o->dry_run)
			it->result = KTS_CACHE_CLEAN_WOULD_REMOVE;
		else
			it->result = clean_one(root, it->entry, o->fragment_sha256, &it->error);
	}
	cache_entries_free(entries, n);

	/* A real clean also takes out what crashed builds left behind. */
	if (!o->dry_run) {
		r = cache_sweep_tmp(root);
		if (r < 0)
			log_debug_errno(r, "cache: sweeping '%s/" TMP_DIR "' failed: %m", root);
	}
	*ret = items;
	*ret_n = n_items;
	return 0;
}
