/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Opening the connection to a systemd manager: the message bus, where the
 * manager can track our unique name (AddRef= needs one; systemd-run, too, takes
 * the bus rather than the private socket whenever it asks for AddRef), and
 * failing that the manager's private socket (src/shared/bus-util.c,
 * bus_connect_user_systemd()): a direct connection, the only way to reach a
 * manager that runs without a bus daemon.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "bus.h"
#include "log.h"
#include "macro.h"

enum kts_bus_kind bus_kind_default(void)
{
	return geteuid() == 0 ? KTS_BUS_SYSTEM : KTS_BUS_USER;
}

const char *bus_kind_to_string(enum kts_bus_kind kind)
{
	return kind == KTS_BUS_SYSTEM ? "system" : "user";
}

const char *bus_fix_hint(enum kts_bus_kind kind)
{
	if (kind == KTS_BUS_SYSTEM)
		return "is systemd PID 1 here? Try --user for your own manager, or set "
		       "KTSCOPE_SCOPE=none to run with locks and CPU affinity only";
	return "log in to a systemd session (or 'loginctl enable-linger $USER') so that "
	       "XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS point at your user manager; as root, "
	       "use --system; or set KTSCOPE_SCOPE=none to run with locks and CPU affinity only";
}

void bus_close(struct sd_bus *bus)
{
	(void) sd_bus_flush_close_unref(bus);
}

int bus_describe(struct sd_bus *bus, char **ret)
{
	const char *address = NULL;
	char *s;

	(void) sd_bus_get_address(bus, &address);
	if (asprintf(&s, "'%s' (%s)", address ? address : "?",
		     sd_bus_is_bus_client(bus) > 0 ? "message bus" : "private socket") < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/*
 * The private socket is owned by the manager of whoever runs it; refuse a peer
 * that is neither us nor root, as systemd's bus_check_peercred() does, so that a
 * socket planted in a shared directory cannot impersonate the manager.
 */
static int check_peer(sd_bus *bus)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = sd_bus_get_fd(bus);

	if (fd < 0)
		return fd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return negative_errno();
	if (len != sizeof(cred))
		return -EIO;
	if (cred.uid != 0 && cred.uid != geteuid())
		return -EPERM;
	return 0;
}

/* A direct (not bus-client) connection to the manager's private socket at path. */
static int open_private(const char *path, sd_bus **ret)
{
	_cleanup_free_ char *address = NULL;
	sd_bus *bus = NULL;
	int r;

	if (access(path, F_OK) < 0)
		return negative_errno();
	if (asprintf(&address, "unix:path=%s", path) < 0)
		return -ENOMEM;
	r = sd_bus_new(&bus);
	if (r < 0)
		return r;
	r = sd_bus_set_address(bus, address);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r >= 0)
		r = check_peer(bus);
	if (r < 0) {
		sd_bus_unref(bus);
		return r;
	}
	*ret = bus;
	return 0;
}

/* Where sd_bus_open_user() will look, for the error message. */
static char *describe_user_bus(void)
{
	const char *e = getenv_nonempty("DBUS_SESSION_BUS_ADDRESS"), *x;
	char *s = NULL;

	if (e)
		return asprintf(&s, "session bus '%s' (from DBUS_SESSION_BUS_ADDRESS)", e) < 0 ? NULL : s;
	x = getenv_nonempty("XDG_RUNTIME_DIR");
	if (x)
		return asprintf(&s, "session bus 'unix:path=%s/bus' (from XDG_RUNTIME_DIR; "
				"DBUS_SESSION_BUS_ADDRESS is unset)", x) < 0 ? NULL : s;
	return strdup("session bus (neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set)");
}

int bus_open(enum kts_bus_kind kind, struct sd_bus **ret, char **ret_tried)
{
	_cleanup_free_ char *private_path = NULL, *bus_desc = NULL;
	const char *xdg;
	sd_bus *bus = NULL;
	int r, r_bus;

	/* The message bus first: only there can the manager track our AddRef reference. */
	if (kind == KTS_BUS_SYSTEM) {
		const char *a = getenv_nonempty("DBUS_SYSTEM_BUS_ADDRESS");

		r_bus = sd_bus_open_system(&bus);
		if (r_bus >= 0)
			goto done;
		if (asprintf(&bus_desc, "system bus '%s'%s",
			     a ? a : "unix:path=/run/dbus/system_bus_socket",
			     a ? " (from DBUS_SYSTEM_BUS_ADDRESS)" : "") < 0)
			bus_desc = NULL;
		if (geteuid() == 0)
			private_path = strdup("/run/systemd/private");
	} else {
		r_bus = sd_bus_open_user(&bus);
		if (r_bus >= 0)
			goto done;
		bus_desc = describe_user_bus();
		xdg = getenv_nonempty("XDG_RUNTIME_DIR");
		if (xdg && asprintf(&private_path, "%s/systemd/private", xdg) < 0)
			private_path = NULL;
	}
	log_debug_errno(r_bus, "%s: %m", strempty(bus_desc));
	if (private_path) {
		r = open_private(private_path, &bus);
		if (r >= 0)
			goto done;
		log_debug_errno(r, "private socket %s: %m", private_path);
	}
	if (ret_tried) {
		char *s = NULL;

		if (asprintf(&s, "%s%s%s%s", strempty(bus_desc), private_path ? " and the private socket '" : "",
			     strempty(private_path), private_path ? "'" : "") < 0)
			s = NULL;
		*ret_tried = s;
	}
	return r_bus;
done:
	log_debug("connected to the %s manager (%s)", bus_kind_to_string(kind),
		  sd_bus_is_bus_client(bus) > 0 ? "message bus" : "private socket");
	*ret = bus;
	return 0;
}

/* ---------------------------------------------------------------- watching the manager */

/*
 * While a unit runs, its manager or the connection to it can go away (systemd --user
 * killed, the bus daemon killed). Nothing then stops the unit's processes or answers for
 * them, so the caller must notice and stop the work itself. On the message bus the
 * manager's departure is org.freedesktop.DBus's NameOwnerChanged for
 * org.freedesktop.systemd1 with an empty new owner (the connection itself stays up); on
 * the private socket, and when the bus daemon dies, it is the connection's end.
 */
#define SD_BUS_MANAGER_NAME "org.freedesktop.systemd1"

struct kts_bus_watch {
	sd_bus *bus;
	sd_bus_slot *slot; /* the NameOwnerChanged match */
	bool manager_gone;
	bool installed; /* the AddMatch answered */
	int install_r;  /* its error, negative errno */
};

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct kts_bus_watch *w = userdata;
	const char *name, *old_owner, *new_owner;

	if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) >= 0 &&
	    strcmp(name, SD_BUS_MANAGER_NAME) == 0 && !*new_owner)
		w->manager_gone = true;
	return 0;
}

/* The AddMatch's answer; 0 so that sd-bus does not close the connection on a refusal. */
static int on_watch_installed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct kts_bus_watch *w = userdata;

	w->installed = true;
	if (sd_bus_message_is_method_error(m, NULL)) {
		w->install_r = -sd_bus_message_get_errno(m);
		if (w->install_r == 0)
			w->install_r = -EIO;
	}
	return 0;
}

int bus_watch_begin(struct sd_bus *bus, struct kts_bus_watch **ret)
{
	struct kts_bus_watch *w;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->bus = sd_bus_ref(bus);
	/* On a message bus, the match goes out before anything is asked of the manager, so
	 * its departure cannot slip by; no NameHasOwner: a start that succeeds after the
	 * match is in place says the manager is there (and its arrival, if it came later,
	 * passed the match). On the private socket the connection's end says it all. */
	w->installed = sd_bus_is_bus_client(bus) <= 0;
	if (!w->installed) {
		r = sd_bus_add_match_async(bus, &w->slot,
					   "type='signal',sender='org.freedesktop.DBus',"
					   "path='/org/freedesktop/DBus',"
					   "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
					   "arg0='" SD_BUS_MANAGER_NAME "'",
					   on_owner_changed, on_watch_installed, w);
		if (r < 0) {
			log_debug_errno(r, "cannot watch the manager on the bus: %m");
			bus_watch_free(w);
			return r;
		}
	}
	*ret = w;
	return 0;
}

int bus_watch_ready(struct kts_bus_watch *w)
{
	int r = 0;

	/* sd-bus answers a call that times out (25 s) or whose connection ends itself. */
	while (r >= 0 && !w->installed) {
		r = sd_bus_process(w->bus, NULL);
		if (r == 0)
			r = sd_bus_wait(w->bus, UINT64_MAX);
		if (r == -EINTR)
			r = 0;
	}
	if (r >= 0)
		r = w->install_r;
	if (r < 0)
		return log_debug_errno(r, "cannot watch the manager on the bus: %m");
	return 0;
}

int bus_watch_fd(const struct kts_bus_watch *w)
{
	return sd_bus_get_fd(w->bus);
}

int bus_watch_check(struct kts_bus_watch *w)
{
	int r;

	/* Dispatches what is queued (our match; the manager's signals are dropped). */
	do
		r = sd_bus_process(w->bus, NULL);
	while (r > 0);
	if (r < 0 || sd_bus_is_open(w->bus) <= 0) {
		log_debug_errno(r, "the connection to the manager ended: %m");
		return -ECONNRESET;
	}
	return w->manager_gone ? -EHOSTDOWN : 0;
}

void bus_watch_free(struct kts_bus_watch *w)
{
	if (!w)
		return;
	(void) sd_bus_slot_unref(w->slot);
	(void) sd_bus_unref(w->bus);
	free(w);
}
