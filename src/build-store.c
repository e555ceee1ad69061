/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Step 10 of the parent's build (build.h): the entry's metadata.json from what the steps
 * before found and the in-scope half reported, then the atomic store (cache.h); or, for a
 * build that is not cached, where its result stays.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "build-internal.h"
#include "cache.h"
#include "cpuset.h"
#include "fsid.h"
#include "log.h"
#include "macro.h"
#include "metadata.h"
#include "util.h"

static int fill_plan(const struct build_ctx *b, struct kts_metadata_plan *p, char **cpus,
		     char **mems, char **llcs)
{
	struct kts_cpuset l = KTS_CPUSET_INIT;
	int r = 0;

	for (size_t i = 0; i < b->resv.plan.n_llcs; i++)
		(void) cpuset_add(&l, b->resv.plan.llcs[i]);
	if (cpuset_format(&b->resv.plan.cpus, cpus) < 0 || cpuset_format(&b->resv.plan.mems, mems) < 0 ||
	    cpuset_format(&l, llcs) < 0)
		r = -ENOMEM;
	cpuset_done(&l);
	*p = (struct kts_metadata_plan){
		.present = true, .cpus = *cpus, .mems = *mems, .llcs = *llcs,
		.enforcement = (char *) enforcement_to_string(b->res->enforcement),
	};
	return r;
}

/*
 * The filesystem holding a local tree, for the record; all "" for other sources. Asked only
 * when an entry is stored: a cache hit neither loads libblkid nor probes a device.
 */
static struct kts_fsid metadata_fsid(const struct kts_source *s)
{
	struct kts_fsid fs = { 0 };

	if (s->kind == KTS_SOURCE_LOCAL && s->path)
		(void) fsid_get(s->path, &fs);
	return fs;
}

/* fs: metadata_fsid()'s. */
static struct kts_metadata_source metadata_source(const struct kts_source *s,
						  const struct kts_fsid *fs)
{
	return (struct kts_metadata_source){
		.kind = (char *) source_kind_to_string(s->kind),
		.version = s->version,
		.url = s->url,
		.path = s->path,
		.commit = s->commit[0] ? (char *) s->commit : NULL,
		.dirty = s->dirty,
		.state_sha256 = s->state_sha256[0] ? (char *) s->state_sha256 : NULL,
		.fs_uuid = fs->uuid[0] ? (char *) fs->uuid : NULL,
		.fs_type = fs->type[0] ? (char *) fs->type : NULL,
		.tarball_sha256 = s->tarball_sha256[0] ? (char *) s->tarball_sha256 : NULL,
	};
}

/* The canonical paths of the extra fragments: one slot each, NULL where realpath() failed. */
struct canon_paths {
	char **v;
	size_t n;
};

static void canon_paths_done(struct canon_paths *c)
{
	strv_free(c->v, c->n);
}

/* metadata.json in the stage. */
static int build_write_metadata(const struct build_ctx *b)
{
	_cleanup_free_ char *cpus = NULL, *mems = NULL, *llcs = NULL, *mpath = NULL;
	_cleanup_free_ struct kts_metadata_extra *extras = calloc(b->merged.n_extras + 1,
								    sizeof(*extras));
	struct canon_paths canon _cleanup_(canon_paths_done) = {
		.v = calloc(b->merged.n_extras + 1, sizeof(char *)), .n = b->merged.n_extras };
	const struct kts_fsid fs = metadata_fsid(b->src);
	struct kts_metadata m = {
		.schema = 1,
		.key = b->key,
		.label = b->src->label,
		.source = metadata_source(b->src, &fs),
		.arch = (char *) b->arch,
		.image = (char *) pipeline_image_name(b->arch),
		.base = b->base_shown,
		.fragment_sha256 = (char *) kconfig_fragment_sha256(),
		.extra_kconfig = extras,
		.n_extra_kconfig = b->merged.n_extras,
		.toolchain = { .cc = b->tc.cc, .ld = b->tc.ld, .pahole = b->tc.pahole },
		.make_vars = (char **) b->req->make_vars,
		.n_make_vars = b->req->n_make_vars,
		.built_at = (int64_t) time(NULL),
		.build_seconds = b->res->seconds,
		.make_jobs = b->resv.plan.make_jobs,
		.ktscope_version = (char *) PACKAGE_VERSION,
	};

	if (!extras || !canon.v || fill_plan(b, &m.plan, &cpus, &mems, &llcs) < 0)
		return -ENOMEM;
	m.build_dir = b->build_dir;
	m.stamps_state = b->have_stamps ? KTS_METADATA_STAMPS_ON : KTS_METADATA_STAMPS_OFF;
	if (b->have_stamps)
		m.stamps = b->stamps;
	for (size_t i = 0; i < b->merged.n_extras; i++) {
		/* Canonical, so that `kernel show`'s reproducer works from any directory. */
		canon.v[i] = realpath(b->merged.extras[i].path, NULL);
		extras[i] = (struct kts_metadata_extra){
			.path = canon.v[i] ? canon.v[i] : b->merged.extras[i].path,
			.sha256 = (char *) b->merged.extras[i].sha256 };
	}
	/* The sizes and the config's hash are the in-scope half's, from its result file. */
	m.sizes = (struct kts_metadata_sizes){ .image = b->out.image_size,
					       .vmlinux = b->out.vmlinux_size,
					       .vmlinux_unstripped = b->out.vmlinux_unstripped };
	m.config_sha256 = (char *) b->out.config_sha256;
	/* Borrowed for the write: the plan is b's, the statistics the in-scope half's. */
	m.compile = (struct kts_compile_record){ .present = true, .plan = b->compile,
						 .stats = b->out.compile_stats };
	/* The store's own phase is still to come: not in the entry it stores (build.c). */
	m.telemetry = b->res->telemetry;
	m.has_telemetry = !telemetry_empty(&m.telemetry);
	m.phases = b->res->phases;
	m.has_phases = !phases_empty(&m.phases);
	if (asprintf(&mpath, "%s/metadata.json", b->stage) < 0)
		return -ENOMEM;
	return metadata_write(&m, mpath);
}

/* An uncached build of a tree that goes away keeps its stage under {root}/uncached. */
static int build_keep_uncached(struct build_ctx *b, char **ret_why)
{
	const char *objdir = b->build_dir ? b->build_dir : b->src->dir;
	_cleanup_free_ char *keep = NULL, *dir = NULL;

	if (b->src->kind == KTS_SOURCE_LOCAL)
		return asprintf(&b->res->image_path, "%s/%s", objdir,
				pipeline_image_relpath(b->arch)) < 0 ? -ENOMEM : 0;
	if (asprintf(&dir, "%s/uncached", b->root) < 0 ||
	    asprintf(&keep, "%s/%s-%lld", dir, b->src->label, (long long) time(NULL)) < 0)
		return -ENOMEM;
	(void) mkdir(dir, 0755);
	if (rename(b->uncached_stage, keep) < 0)
		return why_set(ret_why, -EIO, "cannot keep the build: %s", strerror(errno));
	return asprintf(&b->res->image_path, "%s/%s", keep, pipeline_image_name(b->arch)) < 0
		       ? -ENOMEM : 0;
}

/* Step 10: metadata and the atomic store, or the uncached result where it stays. */
int build_store(struct build_ctx *b, char **ret_why)
{
	_cleanup_free_ char *why = NULL;
	int r;

	if (!b->cacheable) {
		b->res->outcome = KTS_BUILD_UNCACHED;
		return build_keep_uncached(b, ret_why);
	}
	r = build_write_metadata(b);
	if (r < 0)
		return why_set(ret_why, r == -EINVAL ? -EIO : r, "cannot write metadata.json: %s",
			       strerror(-r));
	r = cache_store_commit(b->store, &b->res->entry_path, &why);
	if (r < 0 && b->store->installed) {
		/* The new entry is whole and in place; what failed came after. */
		b->res->outcome = KTS_BUILD_STORED;
		return why_set(ret_why, r == -EINTR ? r : -EIO, "'%s' is stored, but the store "
			       "did not finish: %s", b->key, strerror(-r));
	}
	if (r < 0) {
		if (why)
			return why_set(ret_why, -EIO, "cannot store '%s': %s", b->key, why);
		return why_set(ret_why, r == -EINVAL || r == -EBUSY || r == -ENXIO ? -EIO : r,
			       "cannot store '%s' in '%s': %s", b->key, b->root, strerror(-r));
	}
	b->res->outcome = KTS_BUILD_STORED;
	return asprintf(&b->res->image_path, "%s/%s", b->res->entry_path,
			pipeline_image_name(b->arch)) < 0 ? -ENOMEM : 0;
}
