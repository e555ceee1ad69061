// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Mounts (util.h): the one proc_pid_mountinfo(5) parser. lock.c finds the mount covering a
 * path, fsid.c the mount of a device; both walk entries through mountinfo_foreach().
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2) (3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
 *
 * (7) is zero or more tagged fields, ended by the lone "-" (8). The kernel escapes space,
 * tab, newline and backslash in the path fields as \NNN octal, so fields split on blanks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "util.h"

void mountinfo_unescape(char *s)
{
	char *w = s;

	if (!s)
		return;
	/* Escapes above \377 or with non-octal digits are kept literally. */
	for (const char *p = s; *p;) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*w++ = (char) (((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
			p += 4;
		} else
			*w++ = *p++;
	}
	*w = '\0';
}

/* Splits line in place at blanks into at most max tokens; the count, or -E2BIG. */
static int split_blanks(char *line, char **tok, size_t max)
{
	size_t n = 0;

	for (char *p = line;;) {
		p += strspn(p, " \t");
		if (!*p)
			return (int) n;
		if (n == max)
			return -E2BIG;
		tok[n++] = p;
		p += strcspn(p, " \t");
		if (*p)
			*p++ = '\0';
	}
}

/* Parses one line in place; -EBADMSG when it is not a mountinfo line. */
static int mountinfo_parse_line(char *line, struct mountinfo_entry *ret)
{
	struct mountinfo_entry e = {};
	char *tok[64], c;
	int n, dash = -1;

	n = split_blanks(line, tok, ELEMENTSOF(tok));
	/* Six fixed fields, "-", then fstype, source, super options. */
	for (int i = 6; i < n && dash < 0; i++)
		if (streq(tok[i], "-"))
			dash = i;
	if (dash < 0 || n < dash + 4)
		return -EBADMSG;
	if (sscanf(tok[0], "%d%c", &e.mount_id, &c) != 1 ||
	    sscanf(tok[1], "%d%c", &e.parent_id, &c) != 1 ||
	    sscanf(tok[2], "%u:%u%c", &e.major, &e.minor, &c) != 2)
		return -EBADMSG;
	/* The optional fields, joined back into one space-separated string. */
	if (dash > 6)
		for (char *p = tok[6]; p < tok[dash - 1]; p++)
			if (*p == '\0')
				*p = ' ';
	for (int i = 3; i < n; i++)
		if (i != dash && (i < 6 || i > dash))
			mountinfo_unescape(tok[i]);
	e.root = tok[3];
	e.mount_point = tok[4];
	e.mount_options = tok[5];
	e.optional = dash > 6 ? tok[6] : "";
	e.fstype = tok[dash + 1];
	e.source = tok[dash + 2];
	e.super_options = tok[dash + 3];
	*ret = e;
	return 0;
}

static int mountinfo_line(char *line, mountinfo_cb cb, void *userdata)
{
	struct mountinfo_entry e;
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (mountinfo_parse_line(line, &e) < 0)
		return 0; /* malformed: skipped */
	return cb(&e, userdata);
}

int mountinfo_foreach(const char *text, mountinfo_cb cb, void *userdata)
{
	_cleanup_free_ char *copy = NULL;
	char *p;

	if (!text || !cb)
		return -EINVAL;
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	for (p = copy; p && *p;) {
		char *nl = strchr(p, '\n');
		int r;

		if (nl)
			*nl = '\0';
		r = mountinfo_line(p, cb, userdata);
		if (r != 0)
			return r;
		p = nl ? nl + 1 : NULL;
	}
	return 0;
}

int mountinfo_foreach_file(FILE *f, mountinfo_cb cb, void *userdata)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;

	if (!f || !cb)
		return -EINVAL;
	errno = 0;
	while (getline(&line, &cap, f) > 0) {
		int r = mountinfo_line(line, cb, userdata);

		if (r != 0)
			return r;
		errno = 0;
	}
	return ferror(f) ? negative_errno() : 0;
}
