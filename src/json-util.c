/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Strict parsing of a whole JSON document with json-c (json-util.h), shared by the readers
 * of files and answers from outside: metadata.c, registry-manifest.c, registry-auth.c.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <json-c/json.h>

#include "json-util.h"
#include "log.h"

static size_t tokener_end(struct json_tokener *tok)
{
#if defined(JSON_C_VERSION_NUM) && JSON_C_VERSION_NUM >= ((0 << 16) | (15 << 8))
	return json_tokener_get_parse_end(tok);
#else
	return (size_t) tok->char_offset;
#endif
}

int json_parse_whole(const char *text, size_t len, struct json_object **ret, char **ret_why)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error jerr;
	size_t end;

	if (len > INT_MAX)
		return why_set(ret_why, -EBADMSG, "malformed JSON: document too large");
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, text, (int) len);
	jerr = json_tokener_get_error(tok);
	end = tokener_end(tok);
	json_tokener_free(tok);
	if (jerr == json_tokener_continue || (!o && jerr == json_tokener_success))
		return why_set(ret_why, -EBADMSG, "truncated JSON");
	if (jerr != json_tokener_success)
		return why_set(ret_why, -EBADMSG, "malformed JSON: %s at byte %zu",
			       json_tokener_error_desc(jerr), end);
	for (size_t i = end; i < len; i++)
		if (!text[i] || !strchr(" \t\r\n", text[i])) { /* strchr() finds the NUL too */
			json_object_put(o);
			return why_set(ret_why, -EBADMSG, "trailing data after JSON at byte %zu", i);
		}
	*ret = o;
	return 0;
}
