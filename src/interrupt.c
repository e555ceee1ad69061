/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Stop requests (interrupt.h): owns the SIGINT/SIGTERM/SIGHUP handler of the parent's
 * steps outside the scope and the one flag it sets.
 */
#include <signal.h>
#include <stddef.h>

#include "interrupt.h"
#include "macro.h"

static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
	if (!caught)
		caught = sig;
}

void interrupt_catch(struct kts_interrupt_saved *saved)
{
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: waits end */

	sigemptyset(&sa.sa_mask);
	caught = 0;
	for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
		(void) sigaction(signals[i], NULL, &saved->old[i]);
		/* An ignored signal stays ignored (nohup, a background job without job control). */
		if (saved->old[i].sa_handler != SIG_IGN)
			(void) sigaction(signals[i], &sa, NULL);
	}
}

void interrupt_restore(const struct kts_interrupt_saved *saved)
{
	for (size_t i = 0; i < ELEMENTSOF(signals); i++)
		(void) sigaction(signals[i], &saved->old[i], NULL);
	caught = 0;
}

int interrupt_pending(void)
{
	return caught;
}
