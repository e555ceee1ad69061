/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cpuset.h"

/*
 * The child that runs COMMAND (DESIGN §4 steps 1, 5, 6). Process tree:
 *
 *   ktscope (parent: holds the locks and the bus)
 *    └─ supervisor: leader of a new process group; this pid goes into the scope
 *        └─ COMMAND (exec'd after the go-ahead, same process group)
 *
 * The supervisor blocks on the go pipe until the parent has put it into the
 * scope, then forks and execs COMMAND. It keeps reading the go pipe: EOF means the
 * parent died (kill -9 included), and it kills its process group, so no work
 * outlives the locks. PR_SET_PDEATHSIG backs that up. It reports COMMAND's wait
 * status, or why it could not run it, over a second pipe.
 *
 * The terminal (job control), when stdin is ktscope's controlling terminal:
 * COMMAND's process group is not ktscope's, so a COMMAND that reads the terminal
 * (`ktscope run -- bash`) would be stopped by SIGTTIN. As a shell does for a
 * foreground job, the supervisor makes its group the terminal's foreground group
 * before it forks COMMAND, when ktscope itself is in the foreground at release;
 * Ctrl-C and Ctrl-Z then reach COMMAND directly. The parent takes the terminal
 * back when the supervisor ends (supervise_wait(), or supervise_done() on any
 * other path). A stop of COMMAND (Ctrl-Z, or SIGTTIN/SIGTTOU in the background)
 * is followed: the supervisor stops itself with the same signal, the parent sees
 * that, takes the terminal back and stops its own process group with it (the
 * shell reports the job stopped); once continued (fg or bg), it hands the terminal
 * over again if it is in the foreground and continues COMMAND's group. Where the
 * parent's group is orphaned (no job-control shell above it), the kernel discards
 * that stop and COMMAND just goes on. Without a controlling terminal on stdin
 * none of this happens: no handover, stops are not followed.
 *
 * Library code: no logging above debug; the caller reports.
 */

/* Signals the parent forwards to COMMAND's process group. */
#define SUPERVISE_FORWARDED_SIGNALS { SIGINT, SIGTERM, SIGHUP }

struct kts_child {
	pid_t pid;       /* the supervisor; 0 when none or reaped */
	pid_t pgid;      /* COMMAND's process group (= the supervisor's pid); 0 when none */
	int pidfd;       /* pidfd of pid (for PIDFDs), or -EBADF on kernels without pidfd_open */
	int go_fd;       /* write end of the go pipe; its closing tells the supervisor we died */
	int report_fd;   /* read end of the report pipe */
	int signal_fd;   /* signalfd for SIGCHLD and the forwarded signals */
	sigset_t saved_mask; /* the parent's mask before supervise_fork() */
	int last_forwarded;  /* last signal forwarded, 0 when none */
	bool job_control;    /* stdin is our controlling terminal: handover, stops followed */
	bool tty_handed;     /* COMMAND's side has the terminal; we take it back at the end */
};
#define KTS_CHILD_INIT                                                                      \
	((struct kts_child){ .pid = 0, .pgid = 0, .pidfd = -EBADF, .go_fd = -EBADF, .report_fd = -EBADF, \
			     .signal_fd = -EBADF })

enum kts_child_outcome {
	KTS_CHILD_RAN,          /* COMMAND ran; wait_status is its status */
	KTS_CHILD_EXEC_FAILED,  /* execvp failed with error */
	KTS_CHILD_SETUP_FAILED, /* step failed with error before exec */
	KTS_CHILD_LOST,         /* the supervisor died without a report; wait_status is its own */
};

enum kts_child_step {
	KTS_STEP_NONE,
	KTS_STEP_AFFINITY,  /* sched_setaffinity */
	KTS_STEP_MEMPOLICY, /* set_mempolicy(MPOL_BIND) */
	KTS_STEP_FORK,      /* forking COMMAND */
};
const char *supervise_step_to_string(enum kts_child_step step);

struct kts_child_report {
	enum kts_child_outcome outcome;
	enum kts_child_step step;
	int error;       /* positive errno for EXEC_FAILED / SETUP_FAILED */
	int wait_status;
};

/*
 * Blocks SIGCHLD and the forwarded signals in the parent (they are read from a
 * signalfd from now on; COMMAND gets the old mask back), forks the supervisor,
 * which waits for supervise_release(). close_fds (the lock fds) are closed in
 * the supervisor at once: a flock lives as long as any copy of its fd. cpus and
 * mems (copied by the fork) are what an affinity release applies.
 * *ret is written only on success; on failure the mask is restored.
 */
int supervise_fork(char *const *argv, const int *close_fds, size_t n_close_fds,
		   const struct kts_cpuset *cpus, const struct kts_cpuset *mems,
		   struct kts_child *ret);

/*
 * The first forwarded signal (SIGINT/SIGTERM/SIGHUP) that arrived since
 * supervise_fork() and was not yet forwarded, consumed; 0 when none. Lets the
 * caller give up before releasing COMMAND.
 */
int supervise_pending_signal(struct kts_child *c);

/*
 * Lets COMMAND start; with affinity, the supervisor first binds itself to cpus/mems.
 * With job control and ktscope in the terminal's foreground, the supervisor gives
 * the terminal to COMMAND's process group before COMMAND starts.
 */
int supervise_release(struct kts_child *c, bool affinity);

/*
 * Waits for the supervisor to end, forwarding SIGINT/SIGTERM/SIGHUP to COMMAND's
 * process group meanwhile; SIGINT is not forwarded while COMMAND's group is the
 * terminal's foreground group (the terminal delivered Ctrl-C to it already).
 * Follows COMMAND's stops with job control (see above), and takes the terminal
 * back before it returns. *ret is the report (always written on 0).
 */
int supervise_wait(struct kts_child *c, struct kts_child_report *ret);

/*
 * supervise_wait() that also watches n other things: something COMMAND depends on (the
 * manager of its scope), or news from COMMAND that its caller acts on while COMMAND goes
 * on (a build's "make is done"). Each fd is polled for input beside the signals;
 * check(userdata), where set, runs before every sleep; input(userdata), where set, runs
 * when fd has input. A negative return from either ends the wait with that errno, the
 * supervisor not reaped (supervise_done() kills its process group then); a positive one
 * from input() stops the watch of that fd. At most SUPERVISE_MAX_WATCHES; w may be NULL.
 */
#define SUPERVISE_MAX_WATCHES 4
struct kts_child_watch {
	int fd;
	int (*check)(void *userdata);
	int (*input)(void *userdata);
	void *userdata;
};
int supervise_wait_watch(struct kts_child *c, const struct kts_child_watch *w, size_t n,
			 struct kts_child_report *ret);

/* sig to COMMAND's process group (also after the wait: leftovers); 0, or -ESRCH. */
int supervise_kill_group(struct kts_child *c, int sig);

/*
 * Tears down: without a prior supervise_wait(), kills the process group and reaps
 * the supervisor; takes the terminal back if COMMAND's side had it; closes the
 * fds; restores the signal mask. Safe on KTS_CHILD_INIT.
 */
void supervise_done(struct kts_child *c);

/* run's exit code for a report: status, 128+N for signal N, 127 not found, 126 not
 * executable, 1 for a setup failure. */
int supervise_exit_code(const struct kts_child_report *r);
