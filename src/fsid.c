/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Filesystem identity through libblkid, with mountinfo as the fallback. Non-root users may not
 * open block devices, so after a direct probe we try what the system already knows: libblkid's
 * cache (read only, never re-probed or written) and udev's /dev/disk/by-uuid links. libblkid is
 * loaded with dlopen() by the first fsid_get() (dlopen-util.h); without it, mountinfo and udev
 * still answer.
 */
#include <blkid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "dlopen-util.h"
#include "fsid.h"
#include "log.h"
#include "macro.h"
#include "util.h"

static DLSYM_DEFINE(blkid_devno_to_devname);
static DLSYM_DEFINE(blkid_do_safeprobe);
static DLSYM_DEFINE(blkid_free_probe);
static DLSYM_DEFINE(blkid_get_cache);
static DLSYM_DEFINE(blkid_get_dev);
static DLSYM_DEFINE(blkid_new_probe_from_filename);
static DLSYM_DEFINE(blkid_probe_enable_superblocks);
static DLSYM_DEFINE(blkid_probe_lookup_value);
static DLSYM_DEFINE(blkid_probe_set_superblocks_flags);
static DLSYM_DEFINE(blkid_put_cache);
static DLSYM_DEFINE(blkid_tag_iterate_begin);
static DLSYM_DEFINE(blkid_tag_iterate_end);
static DLSYM_DEFINE(blkid_tag_next);

static struct dlopen_lib blkid_lib = {
	.soname = KTS_SONAME_BLKID,
	.name = "libblkid",
	.purpose = "to read filesystem UUIDs",
	.install = "Debian libblkid1, Fedora libblkid, Arch util-linux-libs",
};

int fsid_load(char **ret_why)
{
	return dlopen_lib_load(&blkid_lib, ret_why,
			       DLSYM_ARG(blkid_devno_to_devname),
			       DLSYM_ARG(blkid_do_safeprobe),
			       DLSYM_ARG(blkid_free_probe),
			       DLSYM_ARG(blkid_get_cache),
			       DLSYM_ARG(blkid_get_dev),
			       DLSYM_ARG(blkid_new_probe_from_filename),
			       DLSYM_ARG(blkid_probe_enable_superblocks),
			       DLSYM_ARG(blkid_probe_lookup_value),
			       DLSYM_ARG(blkid_probe_set_superblocks_flags),
			       DLSYM_ARG(blkid_put_cache),
			       DLSYM_ARG(blkid_tag_iterate_begin),
			       DLSYM_ARG(blkid_tag_iterate_end),
			       DLSYM_ARG(blkid_tag_next),
			       NULL);
}

/* From here on, libblkid's names are its sym_ pointers: only after fsid_load() succeeded. */
#define blkid_devno_to_devname sym_blkid_devno_to_devname
#define blkid_do_safeprobe sym_blkid_do_safeprobe
#define blkid_free_probe sym_blkid_free_probe
#define blkid_get_cache sym_blkid_get_cache
#define blkid_get_dev sym_blkid_get_dev
#define blkid_new_probe_from_filename sym_blkid_new_probe_from_filename
#define blkid_probe_enable_superblocks sym_blkid_probe_enable_superblocks
#define blkid_probe_lookup_value sym_blkid_probe_lookup_value
#define blkid_probe_set_superblocks_flags sym_blkid_probe_set_superblocks_flags
#define blkid_put_cache sym_blkid_put_cache
#define blkid_tag_iterate_begin sym_blkid_tag_iterate_begin
#define blkid_tag_iterate_end sym_blkid_tag_iterate_end
#define blkid_tag_next sym_blkid_tag_next

static void blkid_free_probep(blkid_probe *p)
{
	if (*p)
		blkid_free_probe(*p);
}

/* Copies src into dst[size], truncating; NULL copies as "". */
static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(strempty(src), size - 1);

	memcpy(dst, strempty(src), n);
	dst[n] = '\0';
}

int fsid_probe(const char *devname, struct kts_fsid *ret)
{
	_cleanup_(blkid_free_probep) blkid_probe pr = NULL;
	const char *uuid = NULL, *type = NULL;
	struct kts_fsid f = {};
	int r;

	if (!devname || !ret)
		return -EINVAL;
	r = fsid_load(NULL);
	if (r < 0)
		return r;

	errno = 0;
	pr = blkid_new_probe_from_filename(devname);
	if (!pr)
		return log_debug_errno(negative_errno(), "fsid: cannot probe '%s': %m", devname);

	(void) blkid_probe_enable_superblocks(pr, 1);
	(void) blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_UUID | BLKID_SUBLKS_TYPE);
	/* 0 found, 1 nothing, -2 ambivalent (two signatures), -1 error. */
	r = blkid_do_safeprobe(pr);
	if (r != 0)
		return log_debug_errno(r == -1 ? -EIO : -ENODATA,
				       "fsid: no filesystem recognised on '%s'", devname);

	(void) blkid_probe_lookup_value(pr, "UUID", &uuid, NULL);
	(void) blkid_probe_lookup_value(pr, "TYPE", &type, NULL);
	if (!type)
		return -ENODATA;

	copy_str(f.uuid, sizeof(f.uuid), uuid);
	copy_str(f.type, sizeof(f.type), type);
	copy_str(f.source, sizeof(f.source), devname);
	*ret = f;
	return 0;
}

/* Reads what libblkid's cache file already records for devname, without probing or saving. */
static void fsid_from_blkid_cache(const char *devname, struct kts_fsid *f)
{
	blkid_cache cache = NULL;
	blkid_dev dev;
	blkid_tag_iterate it;
	const char *type, *value;

	if (blkid_get_cache(&cache, NULL) < 0)
		return;
	dev = blkid_get_dev(cache, devname, BLKID_DEV_FIND);
	if (dev) {
		it = blkid_tag_iterate_begin(dev);
		while (it && blkid_tag_next(it, &type, &value) == 0) {
			if (streq(type, "UUID") && !f->uuid[0])
				copy_str(f->uuid, sizeof(f->uuid), value);
			else if (streq(type, "TYPE") && !f->type[0])
				copy_str(f->type, sizeof(f->type), value);
		}
		if (it)
			blkid_tag_iterate_end(it);
	}
	/* Unchanged caches are not written back, and we changed nothing. */
	blkid_put_cache(cache);
}

/* udev's /dev/disk/by-uuid/<uuid> → ../../devnode links: readable by everyone. */
static void fsid_from_udev(const char *devname, struct kts_fsid *f)
{
	_cleanup_closedir_ DIR *d = NULL;
	char want[PATH_MAX], got[PATH_MAX], link[PATH_MAX + 300];
	struct dirent *de;

	if (!realpath(devname, want))
		return;
	d = opendir("/dev/disk/by-uuid");
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		(void) snprintf(link, sizeof(link), "/dev/disk/by-uuid/%s", de->d_name);
		if (realpath(link, got) && streq(got, want)) {
			copy_str(f->uuid, sizeof(f->uuid), de->d_name);
			return;
		}
	}
}

struct dev_match {
	dev_t dev;
	struct kts_fsid *out;
};

static int dev_match_cb(const struct mountinfo_entry *e, void *userdata)
{
	struct dev_match *m = userdata;

	if (makedev(e->major, e->minor) != m->dev)
		return 0;
	copy_str(m->out->type, sizeof(m->out->type), e->fstype);
	copy_str(m->out->source, sizeof(m->out->source), e->source);
	return 1;
}

int fsid_from_mountinfo(FILE *f, dev_t dev, struct kts_fsid *ret)
{
	struct kts_fsid out = {};
	struct dev_match m = { .dev = dev, .out = &out };
	int r;

	if (!f || !ret)
		return -EINVAL;
	r = mountinfo_foreach_file(f, dev_match_cb, &m);
	if (r < 0)
		return r;
	if (r == 0)
		return -ENOENT;
	*ret = out;
	return 0;
}

int fsid_get(const char *path, struct kts_fsid *ret)
{
	_cleanup_free_ char *devname = NULL;
	_cleanup_fclose_ FILE *mi = NULL;
	struct kts_fsid f = {}, m = {}, p;
	_cleanup_free_ char *why = NULL;
	static bool warned;
	bool blkid;
	struct stat st;

	if (!path || !ret)
		return -EINVAL;
	/* Best effort, as everything here: without libblkid, mountinfo and udev still answer. */
	blkid = fsid_load(&why) >= 0;
	if (!blkid && !__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
		log_warning("%s; filesystem UUIDs come from udev only", why);

	if (stat(path, &st) < 0) {
		log_debug_errno(negative_errno(), "fsid: cannot stat '%s': %m", path);
		*ret = f;
		return 0;
	}

	mi = fopen("/proc/self/mountinfo", "re");
	if (mi && fsid_from_mountinfo(mi, st.st_dev, &m) >= 0) {
		copy_str(f.type, sizeof(f.type), m.type);
		copy_str(f.source, sizeof(f.source), m.source);
	}

	/* Anonymous devices (major 0: tmpfs, overlay, btrfs subvolumes) have no node of their own;
	 * a /dev source in mountinfo (btrfs) still names the disk. */
	if (blkid && major(st.st_dev) != 0)
		devname = blkid_devno_to_devname(st.st_dev);
	if (!devname && startswith(f.source, "/dev/"))
		devname = strdup(f.source);

	if (devname) {
		if (blkid && fsid_probe(devname, &p) >= 0) {
			copy_str(f.uuid, sizeof(f.uuid), p.uuid);
			/* A probe names the on-disk format; mountinfo may say "fuseblk" or similar. */
			copy_str(f.type, sizeof(f.type), p.type);
		} else {
			if (blkid)
				fsid_from_blkid_cache(devname, &f);
			if (!f.uuid[0])
				fsid_from_udev(devname, &f);
		}
		if (!f.source[0])
			copy_str(f.source, sizeof(f.source), devname);
	}

	log_debug("fsid: '%s' is on %s filesystem '%s' uuid '%s'", path, f.type[0] ? f.type : "unknown",
		  f.source, f.uuid);
	*ret = f;
	return f.uuid[0] ? 1 : 0;
}
