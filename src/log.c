/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static int max_level = LOG_NOTICE;
static int use_color;

void log_set_max_level(int level)
{
	max_level = level;
}

int log_get_max_level(void)
{
	return max_level;
}

void log_set_color(int on)
{
	use_color = on;
}

int log_color_enabled(void)
{
	return use_color;
}

int log_level_from_string(const char *s)
{
	static const char *const names[] = {
		"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
	};
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (strcasecmp(s, names[i]) == 0)
			return (int) i;
	if (strcasecmp(s, "error") == 0)
		return LOG_ERR;
	if (strcasecmp(s, "warn") == 0)
		return LOG_WARNING;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 7)
		return -EINVAL;
	return (int) v;
}

int log_internal(int level, int error, const char *fmt, ...)
{
	const char *color = NULL, *tag = "";
	int saved = errno;
	va_list ap;

	if (error < 0)
		error = -error;

	if (level <= LOG_ERR) {
		color = "\033[1;31m";
		tag = "error: ";
	} else if (level == LOG_WARNING) {
		color = "\033[1;33m";
		tag = "warning: ";
	} else if (level == LOG_DEBUG) {
		color = "\033[2m";
		tag = "debug: ";
	}

	/* "%m" in fmt prints strerror(error). */
	errno = error;
	fputs("ktscope: ", stderr);
	if (use_color && color)
		fputs(color, stderr);
	fputs(tag, stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (use_color && color)
		fputs("\033[0m", stderr);
	fputc('\n', stderr);
	errno = saved;

	return error > 0 ? -error : -EIO;
}

int why_set(char **ret_why, int r, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (!ret_why)
		return r;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	*ret_why = s;
	return r;
}
