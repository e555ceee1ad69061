/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

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

const char *progress_json_str(const char *s)
{
	static char bufs[8][1024];
	static unsigned next;
	char *b = bufs[next++ % 8], *p = b, *end = b + sizeof(bufs[0]) - 8;

	if (!s)
		return "null";
	*p++ = '"';
	for (const unsigned char *c = (const unsigned char *) s; *c && p < end; c++) {
		if (*c == '"' || *c == '\\') {
			*p++ = '\\';
			*p++ = (char) *c;
		} else if (*c < 0x20) {
			p += snprintf(p, (size_t) (end - p) + 8, "\\u%04x", *c);
		} else
			*p++ = (char) *c;
	}
	*p++ = '"';
	*p = 0;
	return b;
}

void progress_event(const char *event, const char *fields, ...)
{
	va_list ap;

	if (!events)
		return;
	printf("{\"event\":%s,\"time\":%lld", progress_json_str(event), (long long) time(NULL));
	if (fields) {
		putchar(',');
		va_start(ap, fields);
		vprintf(fields, ap);
		va_end(ap);
	}
	puts("}");
	fflush(stdout);
}

void progress_line(const char *phase, double elapsed, unsigned objects, int percent)
{
	static struct timespec last;
	struct timespec now;
	int secs = (int) elapsed;

	if (!tty)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (line_shown && (now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 < 100)
		return;
	last = now;
	fprintf(stderr, "\r\033[K%-10s %02d:%02d", phase, secs / 60, secs % 60);
	if (objects)
		fprintf(stderr, "  %u objects", objects);
	if (percent >= 0)
		fprintf(stderr, "  (%d%%)", percent > 99 ? 99 : percent);
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
