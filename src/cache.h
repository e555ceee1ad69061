/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Cache root (DESIGN §7): KTSCOPE_CACHE_DIR, else $XDG_CACHE_HOME/ktscope,
 * else $HOME/.cache/ktscope. Relative values of the variables are refused.
 * -ENOENT when HOME is unset or empty, -EINVAL when a variable is relative or
 * HOME is "/"; *ret_var (if not NULL) then names the variable at fault.
 * Caller frees *ret.
 */
int cache_root(char **ret, const char **ret_var);
