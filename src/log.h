/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <syslog.h>

#include "macro.h"

/*
 * One logging sink: stderr, "ktscope: " prefix, levels from -v/-q and
 * KTSCOPE_LOG_LEVEL. Library-like modules log at debug only; the caller logs a
 * failure once. The *_errno variants set errno = -r so "%m" prints the error,
 * and return r (always negative) so "return log_error_errno(r, ...)" works.
 */
void log_set_max_level(int level);
int log_get_max_level(void);
/* Parses "debug|info|notice|warning|err" or 0-7; returns level or -EINVAL. */
int log_level_from_string(const char *s);
/* Colour only on a tty and never with NO_COLOR. */
void log_set_color(int on);
int log_color_enabled(void);

int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);

#define log_full_errno(level, error, ...)                                      \
	({                                                                     \
		int _lvl_ = (level), _e_ = (error);                            \
		(log_get_max_level() >= _lvl_) ? log_internal(_lvl_, _e_, __VA_ARGS__) \
					       : (_e_ > 0 ? -_e_ : _e_);       \
	})

#define log_debug(...) (void) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) (void) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) (void) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) (void) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) (void) log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

/*
 * For library modules' one-line reasons: sets *ret_why (when ret_why is not
 * NULL) to the formatted text and returns r, so "return why_set(ret_why, -EINVAL,
 * ...)" works. A failed allocation leaves *ret_why NULL: r still tells the story.
 */
int why_set(char **ret_why, int r, const char *fmt, ...) _printf_(3, 4);
