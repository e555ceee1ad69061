/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "macro.h"

int cache_root(char **ret, const char **ret_var)
{
	const char *v;
	char *p;

	v = getenv_nonempty("KTSCOPE_CACHE_DIR");
	if (v) {
		if (v[0] != '/') {
			if (ret_var)
				*ret_var = "KTSCOPE_CACHE_DIR";
			return -EINVAL;
		}
		p = strdup(v);
		goto done;
	}
	v = getenv_nonempty("XDG_CACHE_HOME");
	if (v && v[0] == '/') {
		/* The XDG spec says relative values are to be ignored. */
		if (asprintf(&p, "%s/ktscope", v) < 0)
			return -ENOMEM;
		goto done;
	}
	v = getenv_nonempty("HOME");
	if (!v || v[0] != '/' || streq(v, "/")) {
		if (ret_var)
			*ret_var = "HOME";
		return v ? -EINVAL : -ENOENT;
	}
	if (asprintf(&p, "%s/.cache/ktscope", v) < 0)
		return -ENOMEM;
done:
	if (!p)
		return -ENOMEM;
	*ret = p;
	return 0;
}
