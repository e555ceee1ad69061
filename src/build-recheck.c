/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Step 9 of a build (build.c): the dirty re-check. A local tree's state (HEAD, the dirty
 * paths and their hash) is computed again; a tree that changed while it was built is not
 * stored under the key of the state it had before.
 *
 * Make is the last step that reads the tree: what runs after it in the scope reads make's
 * output (the image, vmlinux, the .cmd files). So the state make built from is the state
 * when make ends, and the re-check runs then, while the scope goes on with the strip and
 * the kit: the in-scope half writes one byte to a FIFO in the work directory when make is
 * done (job.h made_fifo), and the parent, waiting for the scope, re-checks on that byte
 * (a side watch of session_run()). Where the byte never comes (make failed, or the
 * FIFO could not be made), or where a step after make reads the tree (--headers:
 * make headers_install reads include/uapi), the re-check runs after the scope, as step 9.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build-internal.h"
#include "log.h"
#include "progress.h"
#include "source.h"
#include "supervise.h"
#include "telemetry.h"
#include "util.h"

/* The re-check itself, once, whenever it runs: its outcome waits in b->recheck. */
static void recheck_now(struct build_ctx *b)
{
	struct build_recheck *c = &b->recheck;
	struct timespec t0, t1;

	progress_event("phase", "\"phase\":\"recheck\",\"state\":\"start\"");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	c->r = source_recheck(b->src, &c->changed, &c->reason);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	c->seconds = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
	c->done = true;
	progress_event("phase", "\"phase\":\"recheck\",\"state\":\"end\"");
	log_debug("re-checked the tree in %.3f s%s", c->seconds,
		  c->fifo_fd >= 0 ? ", while the scope went on after make" : "");
}

/* The side watch's input: the byte that says make is done, or the writer's EOF. */
static int recheck_on_made(void *userdata)
{
	struct build_ctx *b = userdata;
	char byte;
	ssize_t n;

	n = read(b->recheck.fifo_fd, &byte, 1);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0; /* nothing yet: keep watching */
	if (n == 1 && !b->recheck.done)
		recheck_now(b);
	return 1; /* once is all: a byte, or a writer gone without one */
}

int build_recheck_open(struct build_ctx *b, struct kts_child_watch *ret)
{
	struct build_recheck *c = &b->recheck;

	if (!b->cacheable || b->src->kind != KTS_SOURCE_LOCAL || b->req->headers)
		return 0;
	if (asprintf(&c->fifo, "%s/made", b->work) < 0) {
		c->fifo = NULL;
		return -ENOMEM;
	}
	/* O_NONBLOCK: the open does not wait for a writer, nor the read for a byte. */
	if (mkfifo(c->fifo, 0600) < 0 ||
	    (c->fifo_fd = open(c->fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		log_debug("no FIFO '%s' (%m): the re-check runs after the build", c->fifo);
		c->fifo_fd = -EBADF;
		(void) unlink(c->fifo);
		free(c->fifo);
		c->fifo = NULL;
		return 0;
	}
	*ret = (struct kts_child_watch){ .fd = c->fifo_fd, .input = recheck_on_made,
					 .userdata = b };
	return 1;
}

void build_recheck_close(struct build_ctx *b)
{
	struct build_recheck *c = &b->recheck;

	c->fifo_fd = safe_close(c->fifo_fd);
	if (c->fifo)
		(void) unlink(c->fifo);
	free(c->fifo);
	c->fifo = NULL;
}

void build_recheck_done(struct build_ctx *b)
{
	build_recheck_close(b);
	free(b->recheck.reason);
	b->recheck.reason = NULL;
}

/* Step 9: a tree that changed while it was built is not stored under the old key. */
int build_recheck_dirty(struct build_ctx *b, char **ret_why)
{
	struct build_recheck *c = &b->recheck;

	(void) ret_why;
	if (!b->cacheable)
		return 0;
	if (!c->done)
		recheck_now(b);
	/* Phase "recheck": the second status walk of a local tree (others have nothing to do). */
	if (b->src->kind == KTS_SOURCE_LOCAL)
		b->res->phases.s[KTS_PHASE_RECHECK] = c->seconds;
	if (c->r < 0 || c->changed) {
		log_warning("not cached: %s", c->reason ? c->reason : "the tree could not be re-checked");
		b->cacheable = false;
		b->res->not_cached = TAKE_PTR(c->reason);
		if (!b->res->not_cached)
			b->res->not_cached = strdup("the tree could not be re-checked");
	}
	return 0;
}
