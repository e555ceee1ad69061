/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

struct json_object;

/*
 * The one strict reader of a JSON document that ktscope did not write in this process
 * (metadata.json, OCI manifests, credentials files): len bytes are one JSON value with
 * nothing but white space after it (a NUL byte is trailing data too). 0 and *ret (the
 * caller puts it), -ENOMEM, or -EBADMSG with one line in *ret_why: "malformed JSON: document
 * too large", "truncated JSON", "malformed JSON: REASON at byte N", "trailing data after JSON
 * at byte N".
 */
int json_parse_whole(const char *text, size_t len, struct json_object **ret, char **ret_why);
