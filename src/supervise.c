/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fork/exec of COMMAND under a supervisor that follows its parent's life (see
 * supervise.h for the process tree). Everything here runs before exec in a
 * single-threaded process, so plain libc calls are safe after fork().
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "supervise.h"
#include "util.h"

/* <linux/mempolicy.h> would pull in kernel headers for one constant. */
#ifndef MPOL_BIND
#define MPOL_BIND 2
#endif

/* The go-ahead byte: GO_BASE | flags. */
#define GO_BASE 0x40
#define GO_AFFINITY 0x01    /* bind to cpus/mems first */
#define GO_JOB_CONTROL 0x02 /* stdin is our controlling terminal: follow COMMAND's stops */
#define GO_TERMINAL 0x04    /* ktscope is in the foreground: give the terminal to COMMAND */

/* The stops a supervisor follows; COMMAND gets the inherited dispositions back. */
static const int stop_signals[] = { SIGTSTP, SIGTTIN, SIGTTOU };

/* What the supervisor writes to the report pipe: one record, then it exits. */
struct report_wire {
	int32_t outcome;
	int32_t step;
	int32_t error;
	int32_t wait_status;
};

const char *supervise_step_to_string(enum kts_child_step step)
{
	switch (step) {
	case KTS_STEP_AFFINITY:
		return "setting the CPU affinity";
	case KTS_STEP_MEMPOLICY:
		return "binding memory to the planned NUMA nodes";
	case KTS_STEP_FORK:
		return "forking the command";
	case KTS_STEP_NONE:
		break;
	}
	return "starting the command";
}

static void forwarded_set(sigset_t *s, bool with_chld)
{
	static const int sigs[] = SUPERVISE_FORWARDED_SIGNALS;

	sigemptyset(s);
	for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
		sigaddset(s, sigs[i]);
	if (with_chld)
		sigaddset(s, SIGCHLD);
}

static int pidfd_open_compat(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int) syscall(SYS_pidfd_open, pid, 0);

	return fd >= 0 ? fd : -errno;
#else
	return -ENOSYS;
#endif
}

/* Foreground process group of the terminal on stdin; -1 when stdin is no controlling tty. */
static pid_t tty_foreground(void)
{
	return tcgetpgrp(STDIN_FILENO);
}

/*
 * Makes pgrp the foreground group of the terminal on stdin. Called from a
 * background group, tcsetpgrp() sends SIGTTOU unless the caller blocks or ignores
 * it (tcsetpgrp(3), POSIX): it is blocked around the call, as shells do.
 */
static int tty_set_foreground(pid_t pgrp)
{
	sigset_t ss, old;
	int r = 0;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTTOU);
	if (sigprocmask(SIG_BLOCK, &ss, &old) < 0)
		return negative_errno();
	if (tcsetpgrp(STDIN_FILENO, pgrp) < 0)
		r = negative_errno();
	(void) sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}

/* ---------------------------------------------------------------- supervisor */

static _noreturn_ void report_and_exit(int fd, enum kts_child_outcome o, enum kts_child_step step,
				       int error, int wait_status)
{
	struct report_wire w = {
		.outcome = o, .step = step, .error = error, .wait_status = wait_status,
	};

	(void) write_all(fd, &w, sizeof(w));
	_exit(o == KTS_CHILD_RAN ? 0 : 1);
}

static int apply_affinity(const struct kts_cpuset *cpus, const struct kts_cpuset *mems,
			  enum kts_child_step *ret_step)
{
	int last = cpuset_last(cpus);

	if (last >= 0) {
		size_t size = CPU_ALLOC_SIZE(last + 1);
		cpu_set_t *set = CPU_ALLOC(last + 1);
		int r = 0;

		if (!set)
			return -ENOMEM;
		CPU_ZERO_S(size, set);
		CPUSET_FOREACH(cpu, cpus)
			CPU_SET_S(cpu, size, set);
		if (sched_setaffinity(0, size, set) < 0)
			r = negative_errno();
		CPU_FREE(set);
		if (r < 0) {
			*ret_step = KTS_STEP_AFFINITY;
			return r;
		}
	}
	last = cpuset_last(mems);
	if (last >= 0) {
		/* set_mempolicy takes a bitmap of unsigned longs and maxnode = highest node + 1. */
		size_t bits = 8 * sizeof(unsigned long), n = (size_t) last / bits + 1;
		unsigned long *mask = calloc(n, sizeof(unsigned long));

		if (!mask)
			return -ENOMEM;
		CPUSET_FOREACH(node, mems)
			mask[(size_t) node / bits] |= 1UL << ((size_t) node % bits);
		if (syscall(SYS_set_mempolicy, MPOL_BIND, mask, (unsigned long) last + 2) < 0) {
			int r = negative_errno();

			free(mask);
			*ret_step = KTS_STEP_MEMPOLICY;
			return r;
		}
		free(mask);
	}
	return 0;
}

/* Closes every fd ≥ 3 except keep[] (sorted ascending). */
static void close_all_except(const int *keep, size_t n)
{
	unsigned from = 3;

	for (size_t i = 0; i <= n; i++) {
		unsigned to = i < n ? (unsigned) keep[i] : ~0U;

		if (to > from) {
			if (close_range(from, to - 1, 0) < 0) {
				/* Pre-5.9 kernel: close what a sane process could have open. */
				long max = sysconf(_SC_OPEN_MAX);

				for (long fd = from; fd < (long) to && fd < (max > 0 ? max : 1024); fd++)
					(void) close((int) fd);
			}
		}
		if (i < n)
			from = MAX(from, (unsigned) keep[i] + 1);
	}
}

/*
 * Runs in the vfork()ed child (supervisor_start_command()): on the supervisor's memory
 * and stack until execvp() or _exit(), so it only makes system calls and writes nothing
 * the supervisor reads. stop_actions: the dispositions of stop_signals[] to restore,
 * NULL to keep them.
 */
static _noreturn_ void exec_command(char *const *argv, const sigset_t *mask,
				    const struct sigaction *stop_actions, pid_t supervisor, int err_fd)
{
	static const int forwarded[] = SUPERVISE_FORWARDED_SIGNALS;
	static const struct sigaction dfl = { .sa_handler = SIG_DFL };
	int e;

	/* Should the supervisor be killed outright, COMMAND goes with it. */
	(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != supervisor)
		_exit(1);
	/* An ignored signal stays ignored across exec: COMMAND must stop on Ctrl-Z. */
	for (size_t i = 0; stop_actions && i < ELEMENTSOF(stop_signals); i++)
		(void) sigaction(stop_signals[i], &stop_actions[i], NULL);
	/*
	 * A handler inherited from the parent (build's interrupt_catch()) must not run here,
	 * on the supervisor's memory, once the mask below lets its signal in; exec resets
	 * caught signals to SIG_DFL anyway, so COMMAND sees no difference.
	 */
	for (size_t i = 0; i < ELEMENTSOF(forwarded); i++) {
		struct sigaction old;

		if (sigaction(forwarded[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN &&
		    old.sa_handler != SIG_DFL)
			(void) sigaction(forwarded[i], &dfl, NULL);
	}
	(void) sigprocmask(SIG_SETMASK, mask, NULL);
	execvp(argv[0], argv);
	e = errno;
	(void) write_all(err_fd, &e, sizeof(e));
	_exit(e == ENOENT ? 127 : 126);
}

/* Kills the whole process group (ourselves last, implicitly) and never returns. */
static _noreturn_ void kill_group_and_exit(void)
{
	(void) kill(0, SIGKILL);
	_exit(1);
}

/*
 * COMMAND stopped with sig: stop ourselves with the same signal, so that the parent
 * (which waits with WUNTRACED) sees the job stop, and go on when it continues us.
 * The stop signals are ignored here, so sig gets its default action for the moment.
 * SIGSTOP and the like become SIGSTOP.
 */
static void supervisor_follow_stop(pid_t parent, pid_t command, int sig)
{
	static const struct sigaction dfl = { .sa_handler = SIG_DFL }, ign = { .sa_handler = SIG_IGN };
	bool tty_sig = sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;

	/* Stopped, we watch no pipe: a parent that dies meanwhile must wake us up. */
	(void) prctl(PR_SET_PDEATHSIG, SIGCONT);
	if (getppid() != parent)
		kill_group_and_exit();
	if (tty_sig) {
		(void) sigaction(sig, &dfl, NULL);
		(void) kill(getpid(), sig);
		(void) sigaction(sig, &ign, NULL);
	} else
		(void) kill(getpid(), SIGSTOP);
	(void) prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		kill_group_and_exit();
	/* The parent continued our group; COMMAND may have left it (a job-control shell). */
	(void) kill(command, SIGCONT);
}

/* Blocks until the parent's go-ahead byte; exits when it aborts or dies first. */
static char supervisor_await_go(pid_t parent, int go_rd)
{
	ssize_t n;
	char go;

	(void) setpgid(0, 0);
	/* The pipe notices the parent's death; PDEATHSIG (into the signalfd) too. */
	(void) prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
	do
		n = read(go_rd, &go, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(0); /* aborted, or the parent died before the go-ahead */
	return go;
}

/*
 * Job control: COMMAND stops on Ctrl-Z and we follow it (supervisor_follow_stop())
 * rather than being stopped by the terminal ourselves; COMMAND gets the terminal
 * before it starts, unless the parent lost the foreground in the meantime. Fills
 * stop_actions with the dispositions COMMAND gets back; false without job control.
 */
static bool supervisor_take_terminal(char go, pid_t parent_pgrp,
				     struct sigaction stop_actions[ELEMENTSOF(stop_signals)])
{
	static const struct sigaction ign = { .sa_handler = SIG_IGN };
	bool job_control = go & GO_JOB_CONTROL;

	if (job_control)
		for (size_t i = 0; i < ELEMENTSOF(stop_signals); i++)
			(void) sigaction(stop_signals[i], &ign, &stop_actions[i]);
	if ((go & GO_TERMINAL) && tty_foreground() == parent_pgrp)
		(void) tty_set_foreground(getpid());
	return job_control;
}

/*
 * Forks and execs COMMAND; an exec failure comes back through a CLOEXEC pipe (EOF:
 * exec succeeded) and is reported, as is a failed fork. Returns COMMAND's pid.
 * vfork(): the child borrows our memory until it execs, so no page tables are copied
 * and neither side takes copy-on-write faults (every mapped library counts); we are
 * suspended meanwhile, which costs nothing, since we would wait on the pipe anyway.
 * posix_spawn() would do the same but cannot set PR_SET_PDEATHSIG in the child.
 */
static pid_t supervisor_start_command(char *const *argv, const sigset_t *command_mask,
				      const struct sigaction *stop_actions, int report_wr)
{
	int err_pipe[2], e = 0;
	pid_t command, self = getpid();
	ssize_t n;

	if (pipe2(err_pipe, O_CLOEXEC) < 0)
		report_and_exit(report_wr, KTS_CHILD_SETUP_FAILED, KTS_STEP_FORK, errno, 0);
	command = vfork();
	if (command < 0)
		report_and_exit(report_wr, KTS_CHILD_SETUP_FAILED, KTS_STEP_FORK, errno, 0);
	if (command == 0)
		exec_command(argv, command_mask, stop_actions, self, err_pipe[1]);
	(void) close(err_pipe[1]);
	do
		n = read(err_pipe[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	(void) close(err_pipe[0]);
	if (n == (ssize_t) sizeof(e)) {
		(void) waitpid(command, NULL, 0);
		report_and_exit(report_wr, KTS_CHILD_EXEC_FAILED, KTS_STEP_NONE, e, 0);
	}
	return command;
}

/* Hold nothing of the parent's (bus socket, lock fds) while COMMAND runs. */
static void supervisor_close_inherited(int go_rd, int report_wr, int sfd)
{
	int keep[3] = { go_rd, report_wr, sfd };

	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2 - i; j++)
			if (keep[j] > keep[j + 1]) {
				int t = keep[j];
				keep[j] = keep[j + 1];
				keep[j + 1] = t;
			}
	close_all_except(keep, 3);
}

/*
 * Until COMMAND ends: the go pipe's EOF (the parent died) kills the group; SIGCHLD
 * reaps COMMAND and reports its status, or follows its stop under job control.
 */
static _noreturn_ void supervisor_watch(pid_t parent, pid_t command, bool job_control,
					int go_rd, int sfd, int report_wr)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = go_rd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};
		struct signalfd_siginfo si;
		int status;
		pid_t r;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			kill_group_and_exit();
		}
		if (p[0].revents) {
			/* Nothing more is ever written: readable means EOF, the parent is gone. */
			kill_group_and_exit();
		}
		if (!(p[1].revents & POLLIN))
			continue;
		if (read(sfd, &si, sizeof(si)) != (ssize_t) sizeof(si))
			continue;
		if (si.ssi_signo != SIGCHLD) {
			/* A forwarded signal reached COMMAND too (same group); PDEATHSIG did not. */
			if (getppid() != parent)
				kill_group_and_exit();
			continue;
		}
		r = waitpid(command, &status, WNOHANG | (job_control ? WUNTRACED : 0));
		if (r == command && WIFSTOPPED(status))
			supervisor_follow_stop(parent, command, WSTOPSIG(status));
		else if (r == command)
			report_and_exit(report_wr, KTS_CHILD_RAN, KTS_STEP_NONE, 0, status);
	}
}

/* The supervisor's life, in its order: go-ahead, binding, terminal, COMMAND, watch. */
static _noreturn_ void supervisor_main(char *const *argv, pid_t parent, pid_t parent_pgrp,
				       int go_rd, int report_wr, const struct kts_cpuset *cpus,
				       const struct kts_cpuset *mems, const sigset_t *command_mask)
{
	struct sigaction stop_actions[ELEMENTSOF(stop_signals)];
	enum kts_child_step step = KTS_STEP_NONE;
	bool job_control;
	pid_t command;
	sigset_t ss;
	int sfd, r;
	char go;

	go = supervisor_await_go(parent, go_rd);
	if (go & GO_AFFINITY) {
		r = apply_affinity(cpus, mems, &step);
		if (r < 0)
			report_and_exit(report_wr, KTS_CHILD_SETUP_FAILED, step, -r, 0);
	}
	job_control = supervisor_take_terminal(go, parent_pgrp, stop_actions);
	forwarded_set(&ss, true);
	sfd = signalfd(-1, &ss, SFD_CLOEXEC);
	if (sfd < 0)
		report_and_exit(report_wr, KTS_CHILD_SETUP_FAILED, KTS_STEP_FORK, errno, 0);
	command = supervisor_start_command(argv, command_mask, job_control ? stop_actions : NULL,
					   report_wr);
	supervisor_close_inherited(go_rd, report_wr, sfd);
	supervisor_watch(parent, command, job_control, go_rd, sfd, report_wr);
}

/* ---------------------------------------------------------------- parent */

int supervise_fork(char *const *argv, const int *close_fds, size_t n_close_fds,
		   const struct kts_cpuset *cpus, const struct kts_cpuset *mems,
		   struct kts_child *ret)
{
	_cleanup_close_ int go_rd = -EBADF, go_wr = -EBADF, rep_rd = -EBADF, rep_wr = -EBADF;
	_cleanup_close_ int sfd = -EBADF;
	struct kts_child c = KTS_CHILD_INIT;
	int go[2], rep[2];
	sigset_t ss;
	pid_t parent = getpid(), parent_pgrp = getpgrp(), pid;

	if (!argv || !argv[0])
		return -EINVAL;
	if (pipe2(go, O_CLOEXEC) < 0)
		return negative_errno();
	go_rd = go[0];
	go_wr = go[1];
	if (pipe2(rep, O_CLOEXEC) < 0)
		return negative_errno();
	rep_rd = rep[0];
	rep_wr = rep[1];

	forwarded_set(&ss, true);
	if (sigprocmask(SIG_BLOCK, &ss, &c.saved_mask) < 0)
		return negative_errno();
	sfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		int r = negative_errno();

		(void) sigprocmask(SIG_SETMASK, &c.saved_mask, NULL);
		return r;
	}

	pid = fork();
	if (pid < 0) {
		int r = negative_errno();

		(void) sigprocmask(SIG_SETMASK, &c.saved_mask, NULL);
		return r;
	}
	if (pid == 0) {
		/* The locks are the parent's alone. */
		for (size_t i = 0; i < n_close_fds; i++)
			(void) close(close_fds[i]);
		(void) close(go_wr);
		(void) close(rep_rd);
		(void) close(sfd);
		supervisor_main(argv, parent, parent_pgrp, go_rd, rep_wr, cpus, mems,
				&c.saved_mask);
	}
	/* Also here, so that forwarding to the group works before the child ran. */
	(void) setpgid(pid, pid);
	c.pid = c.pgid = pid;
	c.pidfd = pidfd_open_compat(pid);
	if (c.pidfd < 0) {
		log_debug_errno(c.pidfd, "pidfd_open: %m; the manager gets the pid only");
		c.pidfd = -EBADF;
	}
	c.go_fd = TAKE_FD(go_wr);
	c.report_fd = TAKE_FD(rep_rd);
	c.signal_fd = TAKE_FD(sfd);
	/* stdin is our controlling terminal (tcgetpgrp() fails on any other fd). */
	c.job_control = isatty(STDIN_FILENO) && tty_foreground() > 0;
	*ret = c;
	return 0;
}

int supervise_pending_signal(struct kts_child *c)
{
	struct signalfd_siginfo si;

	/* The fd is non-blocking: drain until a forwarded signal or nothing. */
	while (read(c->signal_fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
		if (si.ssi_signo != SIGCHLD)
			return (int) si.ssi_signo;
	return 0;
}

int supervise_release(struct kts_child *c, bool affinity)
{
	/* Only a foreground job may hand the terminal on; a background one keeps off it. */
	bool terminal = c->job_control && tty_foreground() == getpgrp();
	char go = (char) (GO_BASE | (affinity ? GO_AFFINITY : 0) |
			  (c->job_control ? GO_JOB_CONTROL : 0) | (terminal ? GO_TERMINAL : 0));
	ssize_t n;

	do
		n = write(c->go_fd, &go, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		return negative_errno();
	c->tty_handed = terminal;
	return 0;
}

/* Our process group gets the terminal back, if COMMAND's side was given it. */
static void take_terminal_back(struct kts_child *c)
{
	int r;

	if (!c->tty_handed)
		return;
	c->tty_handed = false;
	r = tty_set_foreground(getpgrp());
	if (r < 0)
		log_debug_errno(r, "cannot take the terminal back: %m");
}

/*
 * The supervisor stopped with sig, following COMMAND: a job-control shell's view
 * of us must be "stopped" too. Takes the terminal back, stops our process group
 * (which the terminal would have stopped, had it been in the foreground) and, once
 * continued, hands the terminal over again if we are in the foreground (fg, not
 * bg) and continues COMMAND's group. In an orphaned process group the kernel
 * discards the stop signal and COMMAND simply goes on.
 */
static void parent_follow_stop(struct kts_child *c, int sig)
{
	int own = sig == SIGTTIN || sig == SIGTTOU ? sig : SIGTSTP;

	log_debug("process group %d stopped by signal %d; stopping ours", (int) c->pgid, sig);
	take_terminal_back(c);
	(void) kill(0, own);
	if (tty_foreground() == getpgrp() && tty_set_foreground(c->pgid) >= 0)
		c->tty_handed = true;
	log_debug("continued; continuing process group %d", (int) c->pgid);
	(void) kill(-c->pgid, SIGCONT);
}

int supervise_kill_group(struct kts_child *c, int sig)
{
	if (c->pgid <= 0)
		return -ESRCH;
	return kill(-c->pgid, sig) < 0 ? negative_errno() : 0;
}

/* Reads the supervisor's record; 0 when there was none (it died first). */
static int read_report(int fd, struct kts_child_report *ret)
{
	struct report_wire w;
	ssize_t n;

	do
		n = read(fd, &w, sizeof(w));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t) sizeof(w))
		return 0;
	*ret = (struct kts_child_report){
		.outcome = (enum kts_child_outcome) w.outcome,
		.step = (enum kts_child_step) w.step,
		.error = w.error,
		.wait_status = w.wait_status,
	};
	return 1;
}

int supervise_wait(struct kts_child *c, struct kts_child_report *ret)
{
	return supervise_wait_watch(c, NULL, 0, ret);
}

/* The signals that came: forwarded to COMMAND's process group (supervise_wait()). */
static void forward_signals(struct kts_child *c)
{
	struct signalfd_siginfo si;

	while (read(c->signal_fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			continue;
		/*
		 * COMMAND's group has the terminal, so a Ctrl-C reached it from there; a
		 * SIGINT sent to the whole job reaches us as well and must not be delivered
		 * a second time.
		 */
		if (si.ssi_signo == SIGINT && c->tty_handed && tty_foreground() == c->pgid) {
			log_debug("SIGINT not forwarded: process group %d has the terminal",
				  (int) c->pgid);
			continue;
		}
		log_debug("forwarding signal %u to process group %d", si.ssi_signo, (int) c->pid);
		(void) kill(-c->pgid, (int) si.ssi_signo);
		c->last_forwarded = (int) si.ssi_signo;
	}
}

/* Runs the watches' check() before a sleep, and input() where poll saw input (p[1..n]). */
static int run_watches(const struct kts_child_watch *w, struct pollfd *p, size_t n, bool polled)
{
	for (size_t i = 0; i < n; i++) {
		int k = 0;

		if (!polled && w[i].check)
			k = w[i].check(w[i].userdata);
		else if (polled && w[i].input && p[i + 1].fd >= 0 && p[i + 1].revents)
			k = w[i].input(w[i].userdata);
		if (k < 0)
			return k;
		if (k > 0 && polled)
			p[i + 1].fd = -1; /* poll ignores a negative fd */
	}
	return 0;
}

int supervise_wait_watch(struct kts_child *c, const struct kts_child_watch *w, size_t n,
			 struct kts_child_report *ret)
{
	struct pollfd p[1 + SUPERVISE_MAX_WATCHES] = { { .fd = c->signal_fd, .events = POLLIN } };
	int status, k;

	if (n > SUPERVISE_MAX_WATCHES)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		p[i + 1] = (struct pollfd){ .fd = w[i].fd, .events = POLLIN };
	for (;;) {
		pid_t r;

		r = waitpid(c->pid, &status, WNOHANG | (c->job_control ? WUNTRACED : 0));
		if (r < 0 && errno != EINTR)
			return negative_errno();
		if (r == c->pid && WIFSTOPPED(status)) {
			parent_follow_stop(c, WSTOPSIG(status));
			continue;
		}
		if (r == c->pid)
			break;
		/* The watched thing may have had news queued already: ask before sleeping. */
		k = run_watches(w, p, n, false);
		if (k < 0)
			return k;
		for (size_t i = 0; i <= n; i++)
			p[i].revents = 0;
		if (poll(p, 1 + n, -1) < 0 && errno != EINTR)
			return negative_errno();
		forward_signals(c);
		k = run_watches(w, p, n, true);
		if (k < 0)
			return k;
	}
	take_terminal_back(c);
	/* The supervisor is reaped: its pid (still COMMAND's pgid while members live) is spent. */
	c->pidfd = safe_close(c->pidfd);
	if (!read_report(c->report_fd, ret))
		*ret = (struct kts_child_report){ .outcome = KTS_CHILD_LOST, .wait_status = status };
	c->report_fd = safe_close(c->report_fd);
	c->pid = 0;
	return 0;
}

void supervise_done(struct kts_child *c)
{
	if (c->pid > 0) {
		/* Never released or never waited for: nothing of it may survive. */
		(void) kill(-c->pgid, SIGKILL);
		(void) kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	take_terminal_back(c);
	c->pid = c->pgid = 0;
	c->pidfd = safe_close(c->pidfd);
	c->go_fd = safe_close(c->go_fd);
	c->report_fd = safe_close(c->report_fd);
	if (c->signal_fd >= 0) {
		c->signal_fd = safe_close(c->signal_fd);
		(void) sigprocmask(SIG_SETMASK, &c->saved_mask, NULL);
	}
}

int supervise_exit_code(const struct kts_child_report *r)
{
	switch (r->outcome) {
	case KTS_CHILD_RAN:
	case KTS_CHILD_LOST:
		if (WIFEXITED(r->wait_status))
			return WEXITSTATUS(r->wait_status);
		if (WIFSIGNALED(r->wait_status))
			return 128 + WTERMSIG(r->wait_status);
		return 1;
	case KTS_CHILD_EXEC_FAILED:
		return r->error == ENOENT ? 127 : 126;
	case KTS_CHILD_SETUP_FAILED:
		return 1;
	}
	return 1;
}
