/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "interrupt.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "util.h"

/* Display limit of a holder's command line, in characters (reference §5.3). */
#define LOCK_CMDLINE_MAX_CHARS 100U
/* /proc/locks on a busy host is large but not this large; a bound keeps a bad read finite. */
#define LOCK_PROC_READ_MAX (64U * 1024U * 1024U)

/* The kernel's /proc/locks and mountinfo, read once per lookup pass (reference §5.3). */
struct lock_snapshot {
	char *proc_locks;
	char *mountinfo; /* NULL when unreadable: the st_dev needle then stands alone */
};

static void lock_snapshot_done(struct lock_snapshot *s)
{
	free(s->proc_locks);
	free(s->mountinfo);
	*s = (struct lock_snapshot){ 0 };
}

/* A growable holder array, freed with its cmdlines. */
struct holder_list {
	struct kts_holder *v;
	size_t n;
};

static void holder_list_done(struct holder_list *l)
{
	lock_holders_free(l->v, l->n);
	*l = (struct holder_list){ 0 };
}

const char *lock_dir_default(void)
{
	const char *d = getenv_nonempty("KTSCOPE_LOCK_DIR");

	return d ? d : "/tmp";
}

int lock_llc_path(const char *dir, unsigned index, char **ret)
{
	char *p;

	if (!dir || !*dir)
		return -EINVAL;
	if (asprintf(&p, "%s/ktstr-llc-%u.lock", dir, index) < 0)
		return -ENOMEM;
	*ret = p;
	return 0;
}

const char *lock_mode_to_string(enum kts_lock_mode m)
{
	return m == KTS_LOCK_EXCLUSIVE ? "exclusive" : "shared";
}

const char *lock_remote_fs_name(uint64_t f_type)
{
	/*
	 * flock(2) on these does not serialise peers on other nodes, or the
	 * holders never show up in /proc/locks (reference §5.1). Values from
	 * linux/magic.h and the filesystems' own headers; f_type is compared as
	 * 32 bits because 32-bit ABIs sign-extend the CIFS/SMB2 magics.
	 */
	switch ((uint32_t) f_type) {
	case 0x6969U:
		return "NFS";
	case 0x517BU:
	case 0xFF534D42U:
	case 0xFE534D42U:
		return "CIFS/SMB";
	case 0x00C36400U:
		return "Ceph";
	case 0x5346414FU:
	case 0x6B414653U:
		return "AFS";
	case 0x65735546U:
		return "FUSE";
	default:
		return NULL;
	}
}

int lock_check_fs(const char *dir, const char **ret_fsname)
{
	struct statfs sfs;
	const char *name;

	if (statfs(dir, &sfs) < 0)
		return negative_errno();
	name = lock_remote_fs_name((uint64_t) sfs.f_type);
	if (name) {
		log_debug("lock directory '%s' is on %s", dir, name);
		if (ret_fsname)
			*ret_fsname = name;
		return -EREMOTE;
	}
	return 0;
}

/* Validates an opened lock file: regular, on a local filesystem. */
static int lock_check_fd(int fd, const char *path, const char **ret_fsname)
{
	struct statfs sfs;
	struct stat st;
	const char *name;

	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode)) {
		log_debug("lock file '%s' is not a regular file (mode %o)", path,
			  (unsigned) st.st_mode);
		return -EINVAL;
	}
	if (fstatfs(fd, &sfs) < 0)
		return negative_errno();
	name = lock_remote_fs_name((uint64_t) sfs.f_type);
	if (name) {
		log_debug("lock file '%s' is on %s", path, name);
		if (ret_fsname)
			*ret_fsname = name;
		return -EREMOTE;
	}
	return 0;
}

int lock_open(const char *path, const char **ret_fsname)
{
	/*
	 * Three rounds cover "missing → someone else created it → open it";
	 * a file that keeps appearing and vanishing beyond that is not a lock
	 * file anyone can use.
	 */
	for (unsigned attempt = 0; attempt < 3; attempt++) {
		_cleanup_close_ int fd = -EBADF;
		struct stat st;
		int r;

		/*
		 * Refuse what is visibly not a regular file before opening it, so a
		 * device node is never opened at all. The fstat after the open
		 * is the authoritative check (the path may change in between).
		 */
		if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (S_ISLNK(st.st_mode))
				return -ELOOP;
			if (!S_ISREG(st.st_mode))
				return -EINVAL;
		} else if (errno != ENOENT)
			return negative_errno();

		/*
		 * An existing file is opened without O_CREAT: with
		 * fs.protected_regular=1 (Fedora, Arch) O_CREAT on another user's
		 * file in sticky /tmp fails even though it exists. flock(2) needs
		 * no write access. O_NONBLOCK: a FIFO swapped in must not hang us.
		 */
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd < 0 && errno != ENOENT)
			return negative_errno();
		if (fd < 0) {
			/* Missing: create it; O_EXCL does not follow a dangling symlink either. */
			fd = open(path, O_CREAT | O_EXCL | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0666);
			if (fd < 0 && errno == EEXIST)
				continue; /* lost the creation race: open the winner's file */
			if (fd < 0)
				return negative_errno();
			/* Every user's ktscope and ktstr must open it: 0666, not umask. */
			if (fchmod(fd, 0666) < 0)
				log_debug("fchmod 0666 on new lock file '%s' failed: %m", path);
		}

		r = lock_check_fd(fd, path, ret_fsname);
		if (r < 0)
			return r;
		return TAKE_FD(fd);
	}
	return -EAGAIN;
}

int lock_try(int fd, enum kts_lock_mode mode)
{
	int op = (mode == KTS_LOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH) | LOCK_NB;

	for (;;) {
		if (flock(fd, op) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			return -EWOULDBLOCK;
		return negative_errno();
	}
}

int lock_wait(int fd, enum kts_lock_mode mode)
{
	int op = mode == KTS_LOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH;

	for (;;) {
		if (interrupt_pending())
			return -EINTR;
		if (flock(fd, op) == 0)
			return 0;
		if (errno != EINTR)
			return negative_errno();
	}
}

void lock_holders_free(struct kts_holder *h, size_t n)
{
	if (!h)
		return;
	for (size_t i = 0; i < n; i++)
		free(h[i].cmdline);
	free(h);
}

/* Reads a whole (possibly size-0 /proc) file into a NUL-terminated buffer. */
static int read_full(const char *path, char **ret)
{
	return read_full_file(path, LOCK_PROC_READ_MAX, ret, NULL);
}

static int lock_snapshot_read_from(const char *proc_locks, struct lock_snapshot *ret)
{
	struct lock_snapshot s = { 0 };
	int r;

	r = read_full(proc_locks, &s.proc_locks);
	if (r < 0)
		return log_debug_errno(r, "cannot read %s: %m", proc_locks);
	/* Without mountinfo the st_dev needle still matches on plain filesystems. */
	r = read_full("/proc/self/mountinfo", &s.mountinfo);
	if (r < 0)
		log_debug_errno(r, "cannot read /proc/self/mountinfo, matching on st_dev only: %m");
	*ret = s;
	return 0;
}

static int lock_snapshot_read(struct lock_snapshot *ret)
{
	return lock_snapshot_read_from("/proc/locks", ret);
}

/* True when mount point mp covers path at a component boundary. */
static bool path_under(const char *path, const char *mp)
{
	size_t n = strlen(mp);

	if (streq(mp, "/"))
		return path[0] == '/';
	/* A trailing slash never appears in mountinfo, but do not depend on it. */
	while (n > 1 && mp[n - 1] == '/')
		n--;
	return strncmp(path, mp, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

struct mount_match {
	const char *path;
	size_t best_len;
	unsigned major, minor;
	bool found;
};

static int mount_match_cb(const struct mountinfo_entry *e, void *userdata)
{
	struct mount_match *m = userdata;
	size_t len;

	if (!path_under(m->path, e->mount_point))
		return 0;
	len = strlen(e->mount_point);
	/* ">=": of two mounts on one point the later line is on top. */
	if (!m->found || len >= m->best_len) {
		m->found = true;
		m->best_len = len;
		m->major = e->major;
		m->minor = e->minor;
	}
	return 0;
}

int lock_parse_mountinfo(const char *mountinfo, const char *path, unsigned *ret_major,
			 unsigned *ret_minor)
{
	struct mount_match m = { .path = path };
	int r;

	if (!mountinfo || !path || path[0] != '/')
		return -EINVAL;
	r = mountinfo_foreach(mountinfo, mount_match_cb, &m);
	if (r < 0)
		return r;
	if (!m.found)
		return -ENOENT;
	*ret_major = m.major;
	*ret_minor = m.minor;
	return 0;
}

int lock_parse_proc_locks(const char *proc_locks, const char *const *needles, size_t n_needles,
			  struct kts_holder **ret, size_t *ret_n)
{
	_cleanup_(holder_list_done) struct holder_list l = { 0 };
	_cleanup_free_ char *copy = NULL;
	char *save_line = NULL;

	if (!proc_locks)
		return -EINVAL;
	copy = strdup(proc_locks);
	if (!copy)
		return -ENOMEM;

	for (char *line = strtok_r(copy, "\n", &save_line); line;
	     line = strtok_r(NULL, "\n", &save_line)) {
		/* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters: "1: -> FLOCK ..." */
		char *save_f = NULL, *f[6];
		enum kts_lock_mode mode;
		bool match = false;
		unsigned long pid;
		size_t i;
		char *end;

		for (i = 0; i < ELEMENTSOF(f); i++) {
			f[i] = strtok_r(i == 0 ? line : NULL, " \t", &save_f);
			if (!f[i])
				break;
		}
		if (i < ELEMENTSOF(f) || !streq(f[1], "FLOCK"))
			continue;
		if (streq(f[3], "WRITE"))
			mode = KTS_LOCK_EXCLUSIVE;
		else if (streq(f[3], "READ"))
			mode = KTS_LOCK_SHARED;
		else
			continue;
		errno = 0;
		pid = strtoul(f[4], &end, 10);
		if (errno || end == f[4] || *end || f[4][0] == '-' || pid > INT_MAX)
			continue;
		for (size_t k = 0; k < n_needles && !match; k++)
			match = needles[k] && streq(f[5], needles[k]);
		if (!match)
			continue;

		for (i = 0; i < l.n; i++)
			if (l.v[i].pid == (pid_t) pid)
				break;
		if (i < l.n) {
			if (mode == KTS_LOCK_EXCLUSIVE)
				l.v[i].mode = mode;
			continue;
		}
		struct kts_holder *nv = reallocarray(l.v, l.n + 1, sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l.v = nv;
		l.v[l.n++] = (struct kts_holder){ .pid = (pid_t) pid, .mode = mode };
	}
	*ret = TAKE_PTR(l.v);
	*ret_n = l.n;
	l.n = 0;
	return 0;
}

int lock_cmdline_from_bytes(const char *buf, size_t len, char **ret)
{
	_cleanup_free_ char *args = NULL;
	size_t n = len;
	char *s;

	/* Trailing NULs (the terminator) and whitespace do not count. */
	while (n > 0 && (buf[n - 1] == '\0' || buf[n - 1] == ' ' || buf[n - 1] == '\t' ||
			 buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n == 0) {
		s = strdup("<unavailable>");
		if (!s)
			return -ENOMEM;
		*ret = s;
		return 0;
	}
	/* Arguments are NUL-separated; the rest must not reach a terminal raw. */
	args = malloc(n);
	if (!args)
		return -ENOMEM;
	memcpy(args, buf, n);
	for (size_t i = 0; i < n; i++)
		if (args[i] == '\0')
			args[i] = ' ';
	s = utf8_printable(args, n, LOCK_CMDLINE_MAX_CHARS);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static int holder_cmdline(pid_t pid, char **ret)
{
	_cleanup_close_ int fd = -EBADF;
	char path[64], buf[4096];
	size_t len = 0;

	(void) snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	/* Gone, hidden (hidepid=) or a kernel thread: the empty cmdline says so. */
	if (fd >= 0) {
		while (len < sizeof(buf)) {
			ssize_t k = read(fd, buf + len, sizeof(buf) - len);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			len += (size_t) k;
		}
	}
	return lock_cmdline_from_bytes(buf, len, ret);
}

/*
 * Holders (cmdline NULL) of the file at path in snapshot s. The needle is
 * built from mountinfo's major:minor, because btrfs subvolumes, overlayfs and
 * bind mounts report an anonymous st_dev that /proc/locks does not print;
 * st_dev is kept as a second needle for when mountinfo does not resolve.
 */
static int holders_in_snapshot(const struct lock_snapshot *s, const char *path,
			       const struct stat *st, struct kts_holder **ret, size_t *ret_n)
{
	char needle_mnt[64] = "", needle_dev[64];
	const char *needles[2];
	size_t n = 0;

	if (s->mountinfo) {
		_cleanup_free_ char *canon = realpath(path, NULL);
		unsigned major, minor;

		if (lock_parse_mountinfo(s->mountinfo, canon ? canon : path, &major, &minor) == 0)
			(void) snprintf(needle_mnt, sizeof(needle_mnt), "%02x:%02x:%ju", major,
					minor, (uintmax_t) st->st_ino);
		else
			log_debug("no mountinfo entry covers '%s'", canon ? canon : path);
	}
	(void) snprintf(needle_dev, sizeof(needle_dev), "%02x:%02x:%ju", major(st->st_dev),
			minor(st->st_dev), (uintmax_t) st->st_ino);
	if (needle_mnt[0])
		needles[n++] = needle_mnt;
	if (!needle_mnt[0] || !streq(needle_mnt, needle_dev))
		needles[n++] = needle_dev;
	return lock_parse_proc_locks(s->proc_locks, needles, n, ret, ret_n);
}

static int holders_fill_cmdlines(struct kts_holder *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = holder_cmdline(h[i].pid, &h[i].cmdline);
		if (r < 0)
			return r;
	}
	return 0;
}

int lock_holders(const char *path, struct kts_holder **ret, size_t *ret_n)
{
	_cleanup_(lock_snapshot_done) struct lock_snapshot s = { 0 };
	_cleanup_(holder_list_done) struct holder_list l = { 0 };
	struct stat st;
	int r;

	if (stat(path, &st) < 0)
		return negative_errno();
	r = lock_snapshot_read(&s);
	if (r < 0)
		return r;
	r = holders_in_snapshot(&s, path, &st, &l.v, &l.n);
	if (r < 0)
		return r;
	r = holders_fill_cmdlines(l.v, l.n);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(l.v);
	*ret_n = l.n;
	l.n = 0;
	return 0;
}

/*
 * Holders of LLC i's lock file. A missing file has no holders (it is not
 * created here: looking must not leave files behind); neither does anything
 * that is not a regular file, which lock_open() refuses later with a reason.
 */
static int llc_holders(const struct lock_snapshot *s, const char *dir, unsigned i,
		       struct holder_list *ret)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;
	int r;

	r = lock_llc_path(dir, i, &path);
	if (r < 0)
		return r;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return negative_errno();
	}
	if (!S_ISREG(st.st_mode))
		return 0;
	return holders_in_snapshot(s, path, &st, &ret->v, &ret->n);
}

static int llc_load_from_snapshot(const struct lock_snapshot *s, const char *dir,
				  const struct kts_topology *t, struct kts_llc_load **ret)
{
	_cleanup_free_ struct kts_llc_load *load = NULL;

	load = calloc(t->n_llcs ? t->n_llcs : 1, sizeof(*load));
	if (!load)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_llcs; i++) {
		_cleanup_(holder_list_done) struct holder_list l = { 0 };
		int r = llc_holders(s, dir, t->llcs[i].index, &l);

		if (r < 0)
			return r;
		for (size_t k = 0; k < l.n; k++) {
			if (l.v[k].mode == KTS_LOCK_EXCLUSIVE)
				load[i].exclusive++;
			else
				load[i].shared++;
		}
	}
	*ret = TAKE_PTR(load);
	return 0;
}

/*
 * Whether nobody holds lock file path, asked of flock(2) itself: LOCK_EX|LOCK_NB on an
 * open file description of our own succeeds only on a file nobody holds, and the close
 * drops it at once. 1: free (or missing, or not a regular file: no holders, as
 * llc_holders() says); 0: held, or it cannot be asked (then /proc/locks answers).
 * Nothing is created.
 */
static int lock_file_free(const char *path)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT;
	if (!S_ISREG(st.st_mode))
		return 1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT;
	return flock(fd, LOCK_EX | LOCK_NB) == 0;
}

/*
 * 1 when every LLC's lock file in dir is free. Then every count is 0 and /proc/locks
 * need not be read: reading it takes the kernel's file_rwsem for writing, which waits
 * for an RCU grace period (5-10 ms on an idle machine, more than the rest of a `run`
 * without a scope). The probe holds each free file for one syscall; a reserver whose
 * flock falls in that window re-plans at once, as after any lost race (DESIGN §3).
 */
static int llc_all_free(const char *dir, const struct kts_topology *t)
{
	for (size_t i = 0; i < t->n_llcs; i++) {
		_cleanup_free_ char *path = NULL;

		if (lock_llc_path(dir, t->llcs[i].index, &path) < 0)
			return -ENOMEM;
		if (lock_file_free(path) <= 0)
			return 0;
	}
	return 1;
}

int lock_llc_load_with(const char *dir, const struct kts_topology *t, const char *proc_locks,
		       struct kts_llc_load **ret)
{
	_cleanup_(lock_snapshot_done) struct lock_snapshot s = { 0 };
	int r;

	r = llc_all_free(dir, t);
	if (r < 0)
		return r;
	if (r > 0) {
		*ret = calloc(t->n_llcs ? t->n_llcs : 1, sizeof(**ret));
		return *ret ? 0 : -ENOMEM;
	}
	r = lock_snapshot_read_from(proc_locks, &s);
	if (r < 0)
		return r;
	return llc_load_from_snapshot(&s, dir, t, ret);
}

int lock_llc_load(const char *dir, const struct kts_topology *t, struct kts_llc_load **ret)
{
	return lock_llc_load_with(dir, t, "/proc/locks", ret);
}

int lock_llc_holders(const char *dir, const struct kts_topology *t, struct kts_llc_holders **ret)
{
	_cleanup_(lock_snapshot_done) struct lock_snapshot s = { 0 };
	struct kts_llc_holders *v;
	int r;

	r = lock_snapshot_read(&s);
	if (r < 0)
		return r;
	v = calloc(t->n_llcs ? t->n_llcs : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_llcs; i++) {
		struct holder_list l = { 0 };

		r = llc_holders(&s, dir, t->llcs[i].index, &l);
		if (r >= 0)
			r = holders_fill_cmdlines(l.v, l.n);
		v[i] = (struct kts_llc_holders){ .h = l.v, .n = l.n };
		if (r < 0) {
			lock_llc_holders_free(v, t->n_llcs);
			return r;
		}
	}
	*ret = v;
	return 0;
}

void lock_llc_holders_free(struct kts_llc_holders *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		lock_holders_free(v[i].h, v[i].n);
	free(v);
}

void lock_close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fds[i] = safe_close(fds[i]);
}
