/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/*
 * The connection to a systemd manager (DESIGN §1, §4). Only bus.c and scope.c
 * include <systemd/sd-bus.h>; everyone else holds a struct sd_bus pointer.
 */

struct sd_bus;

enum kts_bus_kind {
	KTS_BUS_USER,   /* the caller's user manager */
	KTS_BUS_SYSTEM, /* PID 1 */
};

/* The default manager: the user's, unless we run as uid 0 (then the system's). */
enum kts_bus_kind bus_kind_default(void);
const char *bus_kind_to_string(enum kts_bus_kind kind);

/*
 * Connects to the manager of kind: the message bus, sd_bus_open_user()
 * (DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus) or sd_bus_open_system(),
 * and when that fails the manager's private socket ($XDG_RUNTIME_DIR/systemd/private,
 * or /run/systemd/private for root), a direct connection on which AddRef is not
 * available. The connection is started; whether a manager answers on it is
 * found out by scope_start().
 *
 * On failure returns negative errno (of the message bus attempt) and, if
 * ret_tried is not NULL, sets it to a one-line description of what was tried
 * (caller frees), e.g. "session bus 'unix:path=/run/user/1000/bus' (from
 * XDG_RUNTIME_DIR …) and the private socket '…'". *ret is written only on success.
 */
int bus_open(enum kts_bus_kind kind, struct sd_bus **ret, char **ret_tried);

/* "'unix:path=…' (private socket)" or "… (message bus)": what bus is. Caller frees. */
int bus_describe(struct sd_bus *bus, char **ret);

/* One line on how to make a manager of kind reachable, for the CLI's exit-4 message. */
const char *bus_fix_hint(enum kts_bus_kind kind);

/*
 * Watching the manager while a unit runs (bus.c says how): bus_watch_begin(), before the
 * unit is started, takes a reference on bus and, on a message bus, sends the match on the
 * manager's departure without waiting (negative errno when it cannot be sent); its answer
 * is dispatched by whoever runs the bus next. bus_watch_ready(), once the unit started,
 * waits for that answer: 0 when the match is in place (a manager that left since is
 * reported by the next check), negative errno from the bus otherwise.
 * bus_watch_fd() is the fd to poll for input; after it polls readable, or before
 * sleeping (messages may already be queued), bus_watch_check() dispatches what came
 * and returns 0 while the manager is there, -EHOSTDOWN when it left the bus, or
 * -ECONNRESET when the connection ended (the bus daemon or a direct manager died).
 */
struct kts_bus_watch;
int bus_watch_begin(struct sd_bus *bus, struct kts_bus_watch **ret);
int bus_watch_ready(struct kts_bus_watch *w);
int bus_watch_fd(const struct kts_bus_watch *w);
int bus_watch_check(struct kts_bus_watch *w);
/* NULL is fine. */
void bus_watch_free(struct kts_bus_watch *w);

/* Flushes, closes and unrefs; NULL is fine. For _cleanup_(bus_closep). */
void bus_close(struct sd_bus *bus);
static inline void bus_closep(struct sd_bus **bus)
{
	bus_close(*bus);
	*bus = NULL;
}
#define _cleanup_bus_ __attribute__((cleanup(bus_closep)))
