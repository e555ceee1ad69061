/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A local tree's git identity through the git program (source-internal.h, source_gitcli_*):
 * the fast path of source-local.c. `git rev-parse` names the work tree's top level and HEAD,
 * `git status --porcelain=v2 -z` the changed paths; git reads the index with mmap and
 * threads, stats in parallel (preload-index) and may use its untracked cache, so a clean
 * kernel tree costs what `git status` costs. Only the path set comes from here: the records
 * of dirty paths and the state hash stay source-local.c's, so the state hash is the same
 * whichever path answered iff the path set is.
 *
 * The answer must be libgit2's (existing dirty cache entries were keyed on it), so this
 * module answers only where git's view is the same, and otherwise says "not here" (1) and
 * source-local.c asks libgit2, which also words every error as before:
 *   - $KTSCOPE_GIT=libgit2, no git in PATH, git exits non-zero (not a repository, a bare
 *     one, unborn HEAD, "dubious ownership"), writes anything to stderr (an unreadable
 *     directory is a warning to git but an error to libgit2), or prints what does not parse;
 *   - a subtree none of whose files are tracked (libgit2 words that case);
 *   - a nested repository (an untracked "dir/"): git lists one that holds nothing but its
 *     .git, libgit2 does not (such a tree is not cacheable anyway);
 *   - a changed submodule, or any change in a tree that has a .gitmodules: libgit2 decides
 *     what a submodule path records (its checked-out commit, its own changes).
 * Where they may still differ (believed, not tested): a file whose stat data changed but
 * whose content did not, under a filter driver only git runs (git-lfs's clean filter) or a
 * working-tree-encoding attribute, can be clean to git and changed to libgit2. Kernel trees
 * use neither; tests/unit/test-source-local.c (test_gitcli_*) holds the two to the same
 * state for every kind of change it makes.
 * A stop request (interrupt.h) that git died of ends the identification with -EINTR.
 * git runs with nothing of the caller's environment that could change its view: GIT_DIR,
 * GIT_WORK_TREE, GIT_INDEX_FILE and the other repository and config overrides are removed
 * (libgit2 reads none of them either), so are GIT_TRACE* (their output on stderr would send
 * every call to libgit2), the locale is C; --no-optional-locks keeps it from
 * writing the index (no index.lock race with the user's own git), core.fsmonitor=false
 * keeps it from running the user's hook (libgit2 has no fsmonitor), --no-replace-objects
 * reads HEAD's tree as libgit2 does, --no-renames reports a staged rename as a deletion and
 * an addition as libgit2 does, and --ignore-submodules=none shows every changed submodule so
 * that none is missed.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "interrupt.h"
#include "log.h"
#include "source-internal.h"
#include "util.h"

/* More output than this (a tree with millions of changes) is left to libgit2. */
#define GITCLI_MAX_OUTPUT ((size_t) 256 << 20)

static const char *const gitcli_unset_env[] = {
	"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
	"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
	"GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM", "GIT_CONFIG",
	"GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM",
	"GIT_CONFIG_NOSYSTEM", "GIT_REPLACE_REF_BASE", "GIT_GRAFT_FILE", "GIT_SHALLOW_FILE",
	"GIT_LITERAL_PATHSPECS", "GIT_GLOB_PATHSPECS", "GIT_NOGLOB_PATHSPECS",
	"GIT_ICASE_PATHSPECS", "GIT_QUARANTINE_PATH", "GIT_ATTR_SOURCE", "GIT_EXEC_PATH",
	"GIT_PREFIX", "GIT_OPTIONAL_LOCKS", "GIT_TRACE", "GIT_TRACE2", "GIT_TRACE2_EVENT",
	"GIT_TRACE2_PERF", "GIT_TRACE_PERFORMANCE", "GIT_TRACE_SETUP", "LC_ALL", "LC_MESSAGES", "LC_CTYPE", "LANG",
	"LANGUAGE", NULL
};

void source_gitcli_done(struct source_gitcli *g)
{
	if (!g)
		return;
	free(g->paths);
	free(g->out);
	free(g->subdir);
	*g = (struct source_gitcli){};
}

bool source_gitcli_wanted(void)
{
	const char *v = getenv_nonempty("KTSCOPE_GIT");

	if (v && streq(v, "libgit2")) {
		log_debug("through libgit2 only: KTSCOPE_GIT=libgit2");
		return false;
	}
	if (v && !streq(v, "git"))
		log_debug("ignoring KTSCOPE_GIT='%s' (git or libgit2)", v);
	return true;
}

/* Reads fd to EOF into *buf (NUL-terminated, *len bytes before it); 1 past max, -ENOMEM. */
static int gitcli_read(int fd, size_t max, char **buf, size_t *len)
{
	size_t cap = 0;

	for (;;) {
		ssize_t k;

		if (*len + 65536 + 1 > cap) {
			size_t ncap = MAX(cap * 2, *len + 65536 + 1);
			char *nb = realloc(*buf, ncap);

			if (!nb)
				return -ENOMEM;
			*buf = nb;
			cap = ncap;
		}
		k = read(fd, *buf + *len, 65536);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return negative_errno();
		if (k == 0)
			break;
		*len += (size_t) k;
		if (*len > max)
			return 1;
	}
	(*buf)[*len] = '\0';
	return 0;
}

/*
 * Runs `git --no-optional-locks ... -C dir ARGS...` (args NULL-terminated, at most 8).
 * Returns 0 with its stdout in *ret_out (*ret_len bytes, NUL-terminated) when git ran,
 * exited 0 and wrote nothing to stderr; 1 when not (the reason logged at debug level);
 * -ENOMEM. stderr goes to a memory file, so one pipe is read and nothing can block.
 */
static int gitcli_run(const char *dir, const char *const *args, size_t max, char **ret_out,
		      size_t *ret_len)
{
	_cleanup_close_ int err_fd = memfd_create("ktscope-git-stderr", MFD_CLOEXEC);
	_cleanup_close_ int out_fd = -EBADF;
	const struct spawn_opts o = { .out = SPAWN_PIPE, .err = SPAWN_FD, .err_fd = err_fd,
				      .unset_env = gitcli_unset_env };
	char *argv[16] = { "git", "--no-optional-locks", "--no-replace-objects",
			   "-c", "core.fsmonitor=false", "-C", (char *) dir };
	_cleanup_free_ char *out = NULL;
	size_t n = 7, len = 0;
	char msg[300] = "";
	int status, r, k;
	pid_t pid;

	for (; *args && n < ELEMENTSOF(argv) - 1; args++)
		argv[n++] = (char *) *args;
	if (err_fd < 0)
		return log_debug_errno(errno, "through libgit2 instead of git: memfd_create: %m"), 1;
	r = spawn_start(argv, &o, &pid, &out_fd, NULL);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return log_debug_errno(r, "through libgit2 instead of git: cannot run git: %m"), 1;
	r = gitcli_read(out_fd, max, &out, &len);
	out_fd = safe_close(out_fd); /* past max: git gets EPIPE and stops */
	k = spawn_wait(pid, &status);
	if (r == -ENOMEM)
		return r;
	if (r > 0)
		log_debug("through libgit2 instead of git: git %s printed more than %zu bytes", argv[7],
			  max);
	else if (r < 0)
		log_debug_errno(r, "through libgit2 instead of git: reading git's output: %m");
	if (r != 0)
		return 1;
	if (k < 0)
		return log_debug_errno(k, "through libgit2 instead of git: waitpid: %m"), 1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || lseek(err_fd, 0, SEEK_END) != 0) {
		ssize_t m;

		/* A Ctrl-C reached git too: stop here rather than walk the tree with libgit2. */
		if (interrupt_pending())
			return -EINTR;
		m = pread(err_fd, msg, sizeof(msg) - 1, 0);

		msg[MAX(m, (ssize_t) 0)] = '\0';
		msg[strcspn(msg, "\n")] = '\0';
		log_debug("through libgit2 instead of git: git %s %s %d: %s", argv[7],
			  WIFEXITED(status) ? "exited" : "was killed by signal",
			  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			  *msg ? msg : "(no message)");
		return 1;
	}
	*ret_out = TAKE_PTR(out);
	*ret_len = len;
	return 0;
}

static bool is_hex40(const char *s, size_t n)
{
	if (n != 40)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]) || !s[i])
			return false;
	return true;
}

/*
 * The top level and HEAD: `rev-parse --show-toplevel HEAD --` prints "TOP\nHASH\n--\n"; TOP
 * may itself hold newlines, so the output is read from its end. Fills g->root (canonical),
 * g->commit and g->subdir (canon below the top level). 0, 1 (not here) or -ENOMEM.
 */
static int gitcli_head(const char *canon, struct source_gitcli *g)
{
	static const char *const args[] = { "rev-parse", "--show-toplevel", "HEAD", "--", NULL };
	_cleanup_free_ char *out = NULL;
	size_t n, l;
	char *hash;
	int r;

	r = gitcli_run(canon, args, 64 * 1024, &out, &n);
	if (r != 0)
		return r;
	/* a NUL in the output (none is expected) ends it here, and the checks below fail */
	n = strlen(out);
	/* "...\n" + 40 hex + "\n--\n" */
	if (n < 46 || !streq(out + n - 4, "\n--\n") || out[n - 45] != '\n' ||
	    !is_hex40(out + n - 44, 40)) {
		log_debug("git status through libgit2: unexpected git rev-parse output");
		return 1;
	}
	hash = out + n - 44;
	memcpy(g->commit, hash, 40);
	g->commit[40] = '\0';
	out[n - 45] = '\0';
	if (!realpath(out, g->root)) {
		log_debug_errno(errno, "git status through libgit2: cannot resolve '%s': %m", out);
		return 1;
	}
	if (streq(g->root, canon))
		return 0;
	l = strlen(g->root);
	if (strncmp(canon, g->root, l) != 0 || canon[l] != '/') {
		log_debug("git status through libgit2: '%s' is not below git's top level '%s'",
			  canon, g->root);
		return 1;
	}
	g->subdir = strdup(canon + l + 1);
	return g->subdir ? 0 : -ENOMEM;
}

/* Whether anything under g->subdir is in the index (`git ls-files`, first record only). */
static int gitcli_subdir_tracked(const char *canon, const struct source_gitcli *g)
{
	_cleanup_free_ char *spec = NULL, *out = NULL;
	const char *args[] = { "ls-files", "-z", "--cached", "--", NULL, NULL };
	size_t len;
	int r;

	if (asprintf(&spec, ":(top,literal)%s/", g->subdir) < 0)
		return -ENOMEM;
	args[4] = spec;
	r = gitcli_run(canon, args, GITCLI_MAX_OUTPUT, &out, &len);
	if (r != 0)
		return r;
	if (len == 0) {
		/* libgit2 words "none of the files are tracked" */
		log_debug("git status through libgit2: nothing under '%s' is tracked", g->subdir);
		return 1;
	}
	return 0;
}

/* Splits off the first n space-separated fields of a record; the rest (a path) or NULL. */
static const char *record_skip_fields(const char *rec, unsigned n, const char **ret_sub,
				      bool *ret_gitlink)
{
	const char *p = rec;

	*ret_gitlink = false;
	for (unsigned i = 0; i < n; i++) {
		const char *sp = strchr(p, ' ');

		if (!sp)
			return NULL;
		if (i == 1)
			*ret_sub = p;
		/* the mode fields: 2 to 4 in "1" and "2", 2 to 5 in "u" (a hash is 40 long) */
		if (i >= 2 && i <= 5 && sp - p == 6 && strncmp(p, "160000", 6) == 0)
			*ret_gitlink = true;
		p = sp + 1;
	}
	return *p ? p : NULL;
}

/* Adds path to g->paths when it lies under the tree. */
static int gitcli_add(struct source_gitcli *g, char *path, size_t *alloc)
{
	size_t l = g->subdir ? strlen(g->subdir) : 0;

	if (g->subdir && (strncmp(path, g->subdir, l) != 0 || path[l] != '/'))
		return 0;
	if (g->n_paths == *alloc) {
		size_t na = MAX(*alloc * 2, (size_t) 16);
		char **np = realloc(g->paths, na * sizeof(*np));

		if (!np)
			return -ENOMEM;
		g->paths = np;
		*alloc = na;
	}
	g->paths[g->n_paths++] = path;
	return 0;
}

/*
 * One porcelain v2 record at *pos (NUL-terminated in g->out, end at end); advances *pos.
 * Returns 0, 1 (unparseable, or a submodule: not here) or -ENOMEM.
 */
static int gitcli_record(struct source_gitcli *g, char **pos, const char *end, size_t *alloc)
{
	char *rec = *pos, *path = NULL, *orig = NULL;
	const char *sub = "N...";
	bool gitlink = false;
	int r;

	/* every record ends in a NUL; the buffer's own terminator is at end */
	*pos = rec + strlen(rec) + 1;
	if (*pos > end)
		goto bad;
	if (rec[0] && rec[1] == ' ' && strchr("12u", rec[0])) {
		path = (char *) record_skip_fields(rec + 2, rec[0] == '1' ? 7 : rec[0] == '2' ? 8 : 9,
						   &sub, &gitlink);
		if (rec[0] == '2') {
			/* a rename or copy: the original path follows as its own record */
			orig = *pos;
			*pos = orig + strlen(orig) + 1;
			if (*pos > end || !*orig)
				goto bad;
		}
	} else if ((rec[0] == '?' || rec[0] == '!') && rec[1] == ' ') {
		if (rec[0] == '!')
			return 0;
		path = rec[2] ? rec + 2 : NULL;
		if (path && path[strlen(path) - 1] == '/') {
			/* git shows a nested repository holding nothing but its .git (or only
			 * what is ignored); libgit2 does not. Such a tree is not cacheable. */
			log_debug("git status through libgit2: nested repository '%s'", path);
			return 1;
		}
	} else if (rec[0] == '#') {
		return 0;
	}
	if (!path)
		goto bad;
	if (sub[0] != 'N' || gitlink) {
		log_debug("git status through libgit2: submodule '%s' changed", path);
		return 1;
	}
	r = gitcli_add(g, path, alloc);
	if (r == 0 && orig)
		r = gitcli_add(g, orig, alloc);
	return r;
bad:
	log_debug("git status through libgit2: cannot parse git status record '%.80s'", rec);
	return 1;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The changed paths (g->paths, pointing into g->out). 0, 1 (not here) or -ENOMEM. */
static int gitcli_changes(const char *canon, struct source_gitcli *g)
{
	_cleanup_free_ char *spec = NULL, *gitmodules = NULL;
	const char *args[] = { "status",         "--porcelain=v2",          "-z",
			       "--untracked-files=all", "--ignore-submodules=none", "--no-renames",
			       NULL,             NULL,                      NULL };
	size_t len, alloc = 0, k;
	struct stat st;
	char *pos;
	int r;

	if (g->subdir) {
		if (asprintf(&spec, ":(top,literal)%s", g->subdir) < 0)
			return -ENOMEM;
		args[6] = "--";
		args[7] = spec;
	}
	r = gitcli_run(canon, args, GITCLI_MAX_OUTPUT, &g->out, &len);
	if (r != 0)
		return r;
	for (pos = g->out; pos < g->out + len;) {
		r = gitcli_record(g, &pos, g->out + len, &alloc);
		if (r != 0)
			return r;
	}
	if (g->n_paths == 0)
		return 0;
	/* A path can have two records ("D." and "?" after `git rm --cached`); libgit2 one. */
	qsort(g->paths, g->n_paths, sizeof(*g->paths), path_cmp);
	k = 1;
	for (size_t i = 1; i < g->n_paths; i++)
		if (!streq(g->paths[i], g->paths[k - 1]))
			g->paths[k++] = g->paths[i];
	g->n_paths = k;
	gitmodules = source_path_join(g->root, ".gitmodules");
	if (!gitmodules)
		return -ENOMEM;
	if (lstat(gitmodules, &st) == 0) {
		log_debug("git status through libgit2: '%s' has submodules and changes", g->root);
		return 1;
	}
	for (size_t i = 0; i < g->n_paths; i++)
		if (streq(g->paths[i], ".gitmodules")) {
			log_debug("git status through libgit2: .gitmodules changed");
			return 1;
		}
	return 0;
}

int source_gitcli_status(const char *canon, struct source_gitcli *g)
{
	int r;

	r = gitcli_head(canon, g);
	if (r == 0 && g->subdir)
		r = gitcli_subdir_tracked(canon, g);
	if (r == 0)
		r = gitcli_changes(canon, g);
	if (r == 0)
		log_debug("git status of '%s' through git: %zu changed path(s)", canon, g->n_paths);
	return r;
}

int source_gitcli_commit_time(const char *dir, const char *commit, int64_t *ret)
{
	/* `git show` reads more than the commit (~100 ms on a kernel tree); `log` does not. */
	const char *const args[] = { "log", "-1", "--no-walk", "--format=%ct", commit, "--", NULL };
	_cleanup_free_ char *out = NULL;
	long long t;
	size_t n;
	char *end;
	int r;

	if (!is_hex40(commit, strlen(commit)))
		return 1;
	r = gitcli_run(dir, args, 4096, &out, &n);
	if (r != 0)
		return r;
	errno = 0;
	t = strtoll(out, &end, 10);
	if (errno != 0 || end == out || !streq(end, "\n") || out[0] == '-' || out[0] == ' ') {
		log_debug("the commit date through libgit2: unexpected git log output");
		return 1;
	}
	*ret = (int64_t) t;
	return 0;
}
