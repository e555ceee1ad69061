// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Processes (util.h): running a program without a shell through posix_spawnp(), its output
 * captured into memory (spawn_capture) or streamed through a pipe the caller reads
 * (spawn_start + spawn_wait). The one place that sets up a child's stdio; no popen(), no
 * fork()+exec() copies elsewhere. glibc's posix_spawn reports exec failures (-ENOENT,
 * -EACCES) to the caller instead of a child exiting 127.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "util.h"

extern char **environ;

#define SPAWN_DEFAULT_MAX ((size_t) 1 << 20)

/* environ without the names in unset (NULL-terminated); the strings stay environ's. */
static int env_filtered(const char *const *unset, char ***ret)
{
	size_t n = 0, k = 0;
	char **v;

	for (char **e = environ; e && *e; e++)
		n++;
	v = calloc(n + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (char **e = environ; e && *e; e++) {
		bool drop = false;

		for (const char *const *u = unset; *u && !drop; u++) {
			size_t l = strlen(*u);

			drop = strncmp(*e, *u, l) == 0 && (*e)[l] == '=';
		}
		if (!drop)
			v[k++] = *e;
	}
	*ret = v;
	return 0;
}

/*
 * Adds the file actions that give the child fd target (0, 1 or 2) per how; a SPAWN_PIPE
 * stream gets a new pipe whose read end goes to *rd and write end to *wr (both O_CLOEXEC).
 */
static int stdio_action(posix_spawn_file_actions_t *fa, int target, enum spawn_stdio how, int fd,
			int *rd, int *wr)
{
	int p[2];

	switch (how) {
	case SPAWN_NULL:
		return -posix_spawn_file_actions_addopen(fa, target, "/dev/null",
							 target == 0 ? O_RDONLY : O_WRONLY, 0);
	case SPAWN_INHERIT:
		return 0;
	case SPAWN_FD:
		if (fd < 0)
			return -EBADF;
		/* dup2() onto 0-2 clears O_CLOEXEC there; the caller's fd stays closed-on-exec. */
		return -posix_spawn_file_actions_adddup2(fa, fd, target);
	case SPAWN_PIPE:
		if (target == 0)
			return -EINVAL;
		if (pipe2(p, O_CLOEXEC) < 0)
			return negative_errno();
		*rd = p[0];
		*wr = p[1];
		return -posix_spawn_file_actions_adddup2(fa, p[1], target);
	case SPAWN_STDOUT:
		if (target != 2)
			return -EINVAL;
		return -posix_spawn_file_actions_adddup2(fa, 1, 2);
	}
	return -EINVAL;
}

/* Empty signal mask and default SIGPIPE: the child should not inherit ours. */
static int spawn_attr_init(posix_spawnattr_t *attr)
{
	sigset_t none, def;
	int r;

	(void) sigemptyset(&none);
	(void) sigemptyset(&def);
	(void) sigaddset(&def, SIGPIPE);
	r = posix_spawnattr_init(attr);
	if (r != 0)
		return -r;
	r = posix_spawnattr_setsigmask(attr, &none);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(attr, &def);
	if (r == 0)
		r = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (r != 0) {
		(void) posix_spawnattr_destroy(attr);
		return -r;
	}
	return 0;
}

static int spawn_do(char *const argv[], const struct spawn_opts *o, posix_spawn_file_actions_t *fa,
		    int fds[4], pid_t *ret_pid)
{
	_cleanup_free_ char **env = NULL;
	posix_spawnattr_t attr;
	int r;

	r = stdio_action(fa, 0, o->in, o->in_fd, NULL, NULL);
	if (r >= 0)
		r = stdio_action(fa, 1, o->out, o->out_fd, &fds[0], &fds[1]);
	if (r >= 0)
		r = stdio_action(fa, 2, o->err, o->err_fd, &fds[2], &fds[3]);
	if (r >= 0 && o->cwd)
		r = -posix_spawn_file_actions_addchdir_np(fa, o->cwd);
	if (r >= 0 && o->unset_env)
		r = env_filtered(o->unset_env, &env);
	if (r < 0)
		return r;
	r = spawn_attr_init(&attr);
	if (r < 0)
		return r;
	r = -posix_spawnp(ret_pid, argv[0], fa, &attr, argv, env ? env : environ);
	(void) posix_spawnattr_destroy(&attr);
	return r;
}

int spawn_start(char *const argv[], const struct spawn_opts *o, pid_t *ret_pid, int *ret_out_fd,
		int *ret_err_fd)
{
	static const struct spawn_opts none = {};
	posix_spawn_file_actions_t fa;
	/* read and write ends of the stdout and stderr pipes */
	int fds[4] = { -EBADF, -EBADF, -EBADF, -EBADF };
	pid_t pid;
	int r;

	if (!argv || !argv[0] || !ret_pid)
		return -EINVAL;
	if (!o)
		o = &none;
	if ((o->out == SPAWN_PIPE && !ret_out_fd) || (o->err == SPAWN_PIPE && !ret_err_fd))
		return -EINVAL;
	r = posix_spawn_file_actions_init(&fa);
	if (r != 0)
		return -r;
	r = spawn_do(argv, o, &fa, fds, &pid);
	(void) posix_spawn_file_actions_destroy(&fa);
	/* Our copies of the write ends must go, or the reader never sees EOF. */
	fds[1] = safe_close(fds[1]);
	fds[3] = safe_close(fds[3]);
	if (r < 0) {
		(void) safe_close(fds[0]);
		(void) safe_close(fds[2]);
		return r;
	}
	*ret_pid = pid;
	if (ret_out_fd)
		*ret_out_fd = fds[0];
	if (ret_err_fd)
		*ret_err_fd = fds[2];
	return 0;
}

int spawn_wait(pid_t pid, int *ret_status)
{
	int status;

	if (pid <= 0)
		return -EINVAL;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return negative_errno();
	if (ret_status)
		*ret_status = status;
	return 0;
}

/* One captured stream: the first (or, keep_tail, the last) max bytes of what was read. */
struct sink {
	int fd;
	char *buf;
	size_t len, cap, max;
	bool tail;
};

static int sink_add(struct sink *s, const char *data, size_t n)
{
	if (!s->tail) {
		n = MIN(n, s->max - s->len);
	} else if (s->len + n > s->max) {
		/* Keep the last max bytes: drop the oldest, then what of data does not fit. */
		size_t keep = n >= s->max ? 0 : MIN(s->len, s->max - n);

		if (keep > 0)
			memmove(s->buf, s->buf + s->len - keep, keep);
		s->len = keep;
		if (n > s->max) {
			data += n - s->max;
			n = s->max;
		}
	}
	if (s->len + n + 1 > s->cap) {
		size_t ncap = MAX(MAX(s->cap * 2, (size_t) 4096), s->len + n + 1);
		char *nb;

		ncap = MIN(ncap, s->max + 1);
		nb = realloc(s->buf, ncap);
		if (!nb)
			return -ENOMEM;
		s->buf = nb;
		s->cap = ncap;
	}
	if (n > 0)
		memcpy(s->buf + s->len, data, n);
	s->len += n;
	return 0;
}

/* Reads both pipes to EOF (a full pipe would block the child); -ENOMEM only. */
static int sinks_drain(struct sink s[2])
{
	char chunk[16384];
	int r = 0;

	for (;;) {
		struct pollfd p[2];
		nfds_t n = 0;

		for (int i = 0; i < 2; i++)
			if (s[i].fd >= 0)
				p[n++] = (struct pollfd){ .fd = s[i].fd, .events = POLLIN };
		if (n == 0)
			return r;
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		for (int i = 0; i < 2; i++) {
			ssize_t k;

			if (s[i].fd < 0)
				continue;
			k = read(s[i].fd, chunk, sizeof(chunk));
			if (k < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (k <= 0) {
				s[i].fd = safe_close(s[i].fd);
				continue;
			}
			if (r == 0)
				r = sink_add(&s[i], chunk, (size_t) k);
		}
	}
}

int spawn_capture(char *const argv[], const struct spawn_opts *o, int *ret_status, char **ret_out,
		  char **ret_err)
{
	static const struct spawn_opts none = {};
	struct sink s[2] = { { .fd = -EBADF }, { .fd = -EBADF } };
	int status, r, k;
	pid_t pid;

	if (!o)
		o = &none;
	r = spawn_start(argv, o, &pid, &s[0].fd, &s[1].fd);
	if (r < 0)
		return r;
	for (int i = 0; i < 2; i++) {
		s[i].max = o->max ? o->max : SPAWN_DEFAULT_MAX;
		s[i].tail = o->keep_tail;
	}
	/* Non-blocking: poll() said readable for one of them, the other may not be. */
	for (int i = 0; i < 2; i++)
		if (s[i].fd >= 0)
			(void) fcntl(s[i].fd, F_SETFL, O_NONBLOCK);
	r = sinks_drain(s);
	for (int i = 0; i < 2; i++)
		s[i].fd = safe_close(s[i].fd);
	k = spawn_wait(pid, &status);
	if (r >= 0)
		r = k;
	/* Every SPAWN_PIPE stream gets a string, "" when the program printed nothing. */
	for (int i = 0; i < 2 && r >= 0; i++) {
		bool piped = (i == 0 ? o->out : o->err) == SPAWN_PIPE;

		if (piped && !s[i].buf)
			r = sink_add(&s[i], "", 0);
		if (s[i].buf)
			s[i].buf[s[i].len] = '\0';
	}
	if (r < 0) {
		free(s[0].buf);
		free(s[1].buf);
		return r;
	}
	if (ret_status)
		*ret_status = status;
	if (ret_out)
		*ret_out = TAKE_PTR(s[0].buf);
	if (ret_err)
		*ret_err = TAKE_PTR(s[1].buf);
	free(s[0].buf);
	free(s[1].buf);
	return 0;
}

char *find_program(const char *name)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = NULL;
	char *save = NULL;

	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? realpath(name, NULL) : NULL;
	if (!path || !*path || !(copy = strdup(path)))
		return NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *p = NULL;
		struct stat st;

		if (asprintf(&p, "%s/%s", *dir ? dir : ".", name) < 0)
			return NULL;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0)
			return realpath(p, NULL);
	}
	return NULL;
}

