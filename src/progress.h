/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

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

/*
 * Writes one event: {"event":"<event>", "time": <unix seconds>, <fields>}.
 * fields is a printf format producing the rest of a JSON object's members
 * (no braces, no leading comma), or NULL. Use progress_json_str() for strings.
 */
void progress_event(const char *event, const char *fields, ...) _printf_(2, 3);
/* JSON string literal of s with quotes; static buffers rotate (8 at a time). */
const char *progress_json_str(const char *s);

/* The tty line: "phase  01:23  1234 objects  (45%)". Rate-limited to ~10/s. */
void progress_line(const char *phase, double elapsed, unsigned objects, int percent);
/* Ends the tty line (clears it) so the next message starts on a clean line. */
void progress_line_end(void);
