/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <signal.h>

/*
 * SIGINT, SIGTERM and SIGHUP as a request to stop, for the parent's steps outside the
 * scope (the scope's own run forwards them: session.c, supervise.c). Between
 * interrupt_catch() and interrupt_restore() such a signal only records its number: the
 * waits that can last (reserve's re-plan loop, lock waits, a test hook's pause) end with
 * -EINTR when interrupt_pending(), and the build looks between its steps, so it stops
 * at the next one and removes what it made, instead of dying with its temporary
 * directories left for a later sweep. The handler is installed without SA_RESTART: a
 * blocking flock() or sleep returns EINTR at once. A process that never calls
 * interrupt_catch() keeps the default actions, and interrupt_pending() is 0.
 */

struct kts_interrupt_saved {
	struct sigaction old[3];
};

/*
 * Catches SIGINT, SIGTERM and SIGHUP, forgetting any earlier one; saved takes the old
 * actions. A signal the process ignores stays ignored.
 */
void interrupt_catch(struct kts_interrupt_saved *saved);

/* Puts back the actions interrupt_catch() saved and forgets the caught signal (read it first). */
void interrupt_restore(const struct kts_interrupt_saved *saved);

/* The signal caught since interrupt_catch() (the first one), or 0. */
int interrupt_pending(void);
