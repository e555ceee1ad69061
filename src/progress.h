/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/*
 * What a build shows while it runs (DESIGN §1, §5): one rewritten progress
 * line on a terminal (stderr), and, with --json-events, NDJSON events on
 * stdout for IDEs and CI. Both are off by default; the CLI turns them on.
 */

/* Turns NDJSON events on (stdout). */
void progress_set_events(bool on);
bool progress_events_enabled(void);
/* Turns the tty line on; only honoured when stderr is a terminal. -q turns it off. */
void progress_set_tty(bool on);
bool progress_tty_enabled(void);

struct json_object;

/*
 * Writes one event on stdout as one line of JSON, serialised by json-c:
 * {"event":"<event>","time":<unix seconds>, then the members of fields in order}.
 * Takes ownership of fields (a json-c object, or NULL for none).
 */
void progress_emit(const char *event, struct json_object *fields);
/*
 * A json-c string of s that is valid UTF-8 whatever s holds (each byte that does not
 * start a valid sequence becomes U+FFFD). NULL (json-c's null) for NULL, or on ENOMEM.
 */
struct json_object *progress_json_string(const char *s);

/*
 * The printf form, kept for callers not yet on progress_emit(): fields is a printf
 * format producing the rest of a JSON object's members (no braces, no leading comma),
 * or NULL; strings go in through progress_json_str(). The text is parsed by json-c and
 * re-serialised through progress_emit(), so what is written is always whole, valid
 * JSON; a fragment that does not parse is dropped (logged at debug level).
 */
void progress_event(const char *event, const char *fields, ...) _printf_(2, 3);
/*
 * JSON string literal of s, quotes included, valid UTF-8 as progress_json_string()
 * makes it; any length. Valid until 8 more calls (a ring of heap buffers).
 */
const char *progress_json_str(const char *s);

/*
 * The tty line's text without control sequences, into buf[size]:
 * "phase      01:23  1234 objects  (45%)"; objects 0 and percent < 0 are left out.
 */
void progress_format_line(char *buf, size_t size, const char *phase, double elapsed,
			  unsigned objects, int percent);
/* The tty line: "phase  01:23  1234 objects  (45%)". Rate-limited to ~10/s. */
void progress_line(const char *phase, double elapsed, unsigned objects, int percent);
/* Ends the tty line (clears it) so the next message starts on a clean line. */
void progress_line_end(void);
