// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What a build shows while it runs (progress.h): NDJSON events on stdout, built as json-c
 * objects and serialised by json-c (whole lines, valid JSON and UTF-8 for any path), and the
 * rewritten progress line on a terminal.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"
#include "progress.h"
#include "util.h"

static bool events;
static bool tty;
static bool line_shown;

void progress_set_events(bool on)
{
	events = on;
}

bool progress_events_enabled(void)
{
	return events;
}

void progress_set_tty(bool on)
{
	tty = on && isatty(STDERR_FILENO);
}

bool progress_tty_enabled(void)
{
	return tty;
}

struct json_object *progress_json_string(const char *s)
{
	_cleanup_free_ char *clean = NULL;

	if (!s)
		return NULL; /* json-c's null */
	clean = utf8_sanitize(s);
	return clean ? json_object_new_string(clean) : NULL;
}

/* Plain (no spaces), and "/" unescaped: paths read as they are. */
#define PROGRESS_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

const char *progress_json_str(const char *s)
{
	static char *ring[8];
	static unsigned next;
	_cleanup_json_ json_object *j = NULL;
	const char *text;
	char *copy;

	if (!s)
		return "null";
	j = progress_json_string(s);
	text = j ? json_object_to_json_string_ext(j, PROGRESS_JSON_FLAGS) : NULL;
	copy = text ? strdup(text) : NULL;
	if (!copy)
		return "null"; /* ENOMEM: still valid JSON */
	free(ring[next % ELEMENTSOF(ring)]);
	ring[next++ % ELEMENTSOF(ring)] = copy;
	return copy;
}

void progress_emit(const char *event, struct json_object *fields)
{
	_cleanup_json_ json_object *owned = fields, *o = NULL;
	const char *text = NULL;
	bool ok;

	if (!events)
		return;
	o = json_object_new_object();
	ok = o && json_object_object_add(o, "event", progress_json_string(event)) == 0 &&
	     json_object_object_add(o, "time", json_object_new_int64((int64_t) time(NULL))) == 0;
	if (ok && owned && json_object_is_type(owned, json_type_object)) {
		json_object_object_foreach(owned, k, v)
			if (json_object_object_add(o, k, json_object_get(v)) < 0)
				ok = false;
	}
	if (ok)
		text = json_object_to_json_string_ext(o, PROGRESS_JSON_FLAGS);
	if (!text) {
		log_debug("progress: cannot build event '%s': out of memory", event);
		return;
	}
	(void) fputs(text, stdout);
	(void) fputc('\n', stdout);
	(void) fflush(stdout);
}

void progress_event(const char *event, const char *fields, ...)
{
	_cleanup_free_ char *members = NULL, *text = NULL;
	json_object *o = NULL;
	va_list ap;
	int n;

	if (!events)
		return;
	if (fields) {
		va_start(ap, fields);
		n = vasprintf(&members, fields, ap);
		va_end(ap);
		if (n < 0 || asprintf(&text, "{%s}", members) < 0) {
			log_debug("progress: event '%s': out of memory", event);
			return;
		}
		o = json_tokener_parse(text);
		if (!o) {
			log_debug("progress: event '%s' has fields that are not JSON: %s", event, text);
			return;
		}
	}
	progress_emit(event, o);
}

void progress_format_line(char *buf, size_t size, const char *phase, double elapsed,
			  unsigned objects, int percent)
{
	int secs = elapsed > 0 ? (int) elapsed : 0;
	size_t len;

	if (size == 0)
		return;
	(void) snprintf(buf, size, "%-10s %02d:%02d", phase ? phase : "", secs / 60, secs % 60);
	len = strlen(buf);
	if (objects && len < size)
		len += (size_t) snprintf(buf + len, size - len, "  %u objects", objects);
	if (percent >= 0 && len < size)
		(void) snprintf(buf + len, size - len, "  (%d%%)", percent > 99 ? 99 : percent);
}

void progress_line(const char *phase, double elapsed, unsigned objects, int percent)
{
	static struct timespec last;
	struct timespec now;
	char text[256];

	if (!tty)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (line_shown &&
	    (now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 < 100)
		return;
	last = now;
	progress_format_line(text, sizeof(text), phase, elapsed, objects, percent);
	fprintf(stderr, "\r\033[K%s", text);
	fflush(stderr);
	line_shown = true;
}

void progress_line_end(void)
{
	if (!line_shown)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	line_shown = false;
}
