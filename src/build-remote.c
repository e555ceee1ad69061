/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The registry's two steps of a build (build.h, DESIGN §10), on the OCI client (registry.h):
 *
 *   build_pull  after the key's build lock is held (build_lock_source), a key the local cache
 *               does not have is pulled from --remote through the atomic store instead of
 *               being built (not with --headers: pushed entries have no headers/). A
 *               registry without the key, or one that fails (unreachable, refused
 *               credentials, a blob that does not match its digest), costs one line and
 *               the build goes on locally: the registry is a cache, never a dependency.
 *   build_push  after the store (or a local cache hit), --push pushes the entry under its
 *               shared lock. Entries of dirty trees stay local unless --push-dirty. A failed
 *               push does not undo the store: the result carries it, `build` prints the image
 *               path and then the error, and exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-internal.h"
#include "cache.h"
#include "kconfig.h"
#include "log.h"
#include "macro.h"
#include "progress.h"
#include "registry.h"
#include "util.h"

/* The registry of the request, opened once (no traffic: registry_open() parses). */
static int remote_open(struct build_ctx *b, char **ret_why)
{
	int r;

	if (b->registry)
		return 0;
	r = registry_open(&b->req->registry, &b->registry, ret_why);
	if (r < 0)
		return r;
	b->res->remote = strdup(registry_name(b->registry));
	return b->res->remote ? 0 : -ENOMEM;
}

int build_pull(struct build_ctx *b, char **ret_why)
{
	_cleanup_cache_entry_ struct kts_cache_entry *e = NULL;
	_cleanup_free_ char *why = NULL;
	int r;

	if (!b->req->registry.remote || !b->cacheable || b->req->force)
		return 0;
	/* A pushed entry never has headers/ (cache.h): --headers builds it here. */
	if (b->req->headers) {
		log_notice("--headers: not pulling '%s' from %s (registry entries carry no "
			   "headers/); building it here", b->key, b->req->registry.remote);
		return 0;
	}
	r = remote_open(b, &why);
	if (r >= 0)
		r = registry_pull(b->registry, b->root, b->key, &b->res->pull, NULL, &why);
	if (r == -EINTR || r == -ENOMEM)
		return r;
	if (r < 0) {
		/* registry.h: the reason names the registry. */
		if (why)
			log_warning("%s; building '%s' here", why, b->key);
		else
			log_warning("cannot pull '%s' from %s: %s; building it here", b->key,
				    b->req->registry.remote, strerror(-r));
		progress_event("remote", "\"registry\":%s,\"key\":%s,\"hit\":false,\"error\":%s",
			       progress_json_str(b->req->registry.remote), progress_json_str(b->key),
			       progress_json_str(why));
		return 0;
	}
	if (r == 0) {
		log_notice("'%s' is not on %s either; building it", b->key, b->res->remote);
		progress_event("remote", "\"registry\":%s,\"key\":%s,\"hit\":false",
			       progress_json_str(b->res->remote), progress_json_str(b->key));
		return 0;
	}
	progress_event("remote", "\"registry\":%s,\"key\":%s,\"hit\":true",
		       progress_json_str(b->res->remote), progress_json_str(b->key));
	r = cache_lookup(b->root, b->key, kconfig_fragment_sha256(), &e, &why);
	if (r != 1)
		return why_set(ret_why, -EIO, "'%s' was pulled from %s but cannot be read back: %s",
			       b->key, b->res->remote, why ? why : "no such entry");
	b->res->outcome = KTS_BUILD_PULLED;
	b->res->built_at = e->meta->built_at;
	b->res->entry_path = TAKE_PTR(e->path);
	b->res->image_path = TAKE_PTR(e->image_path);
	return 1;
}

/* Why the entry is not pushed, or NULL: push it. */
static const char *push_refused(const struct build_ctx *b)
{
	if (b->res->outcome == KTS_BUILD_UNCACHED)
		return "the build was not cached";
	if (b->src->dirty && !b->req->push_dirty)
		return "it was built from a tree with uncommitted changes and stays local "
		       "(--push-dirty pushes it)";
	return NULL;
}

int build_push(struct build_ctx *b, char **ret_why)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *why = NULL;
	const char *refused;
	int r;

	(void) ret_why; /* a failed push is the result's, not the build's */
	if (!b->req->push || b->res->outcome == KTS_BUILD_PULLED)
		return 0;
	refused = push_refused(b);
	if (refused) {
		b->res->not_pushed = strdup(refused);
		return b->res->not_pushed ? 0 : -ENOMEM;
	}
	r = remote_open(b, &why);
	if (r >= 0) {
		r = cache_lock_entry(b->root, b->key, /* exclusive= */ false, /* wait= */ true, &fd);
		if (r < 0 && !why)
			(void) why_set(&why, r, "cannot lock '%s' to push it: %s", b->key,
				       strerror(-r));
	}
	if (r >= 0)
		r = registry_push(b->registry, b->res->entry_path, b->key, &b->res->push, &why);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		if (!why && asprintf(&why, "cannot push '%s': %s", b->key, strerror(-r)) < 0)
			return -ENOMEM;
		b->res->push_error = TAKE_PTR(why);
		return 0;
	}
	b->res->pushed = true;
	return 0;
}
