/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * distcc host lists (engine.h): the parser of the HOST SPECIFICATIONS of distcc(1), as
 * distcc 3.4's src/hosts.c reads them, but strict and bounded, since the list is outside
 * input ($DISTCC_HOSTS, --distcc=HOSTS) that ktscope probes and hands to distcc. What it
 * accepts, distcc accepts too, with the same meaning; what distcc would silently ignore
 * (trailing bytes after a LIMIT, an unknown option prefix) is refused with the entry named.
 * No I/O.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "macro.h"

/* distcc 3.4 src/hosts.c: "Default task limit" 4 for TCP and SSH hosts, 2 for localhost. */
#define DISTCC_DEFAULT_SLOTS 4
#define DISTCC_LOCALHOST_SLOTS 2
#define DISTCC_DEFAULT_PORT 3632
#define HOSTNAME_MAX 253
#define USER_MAX 64
#define COMMAND_MAX 1024
#define SHOWN_MAX 64

void engine_hosts_done(struct engine_hosts *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++) {
		free(h->v[i].spec);
		free(h->v[i].name);
	}
	free(h->v);
	*h = (struct engine_hosts){ 0 };
}

unsigned engine_hosts_remote_slots(const struct engine_hosts *h)
{
	unsigned sum = 0;

	for (size_t i = 0; i < h->n; i++)
		if ((h->v[i].kind == ENGINE_HOST_TCP || h->v[i].kind == ENGINE_HOST_SSH) &&
		    !h->v[i].down)
			sum += h->v[i].slots; /* ≤ 256 × 1024: no overflow */
	return sum;
}

/* The entry for a message: at most SHOWN_MAX bytes, anything unprintable as '?'. */
static int bad(char **ret_why, const char *tok, size_t len, const char *why)
{
	char shown[SHOWN_MAX + 4];
	size_t n = MIN(len, (size_t) SHOWN_MAX);

	for (size_t i = 0; i < n; i++)
		shown[i] = tok[i] > ' ' && tok[i] < 0x7f && tok[i] != '\'' ? tok[i] : '?';
	strcpy(shown + n, len > n ? "..." : "");
	return why_set(ret_why, -EINVAL, "invalid distcc host '%s': %s", shown, why);
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

static bool is_hex_or_colon(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	       c == ':' || c == '.';
}

/* A decimal number lo..hi at *p (digits only, no sign, no leading zero run beyond 5). */
static bool parse_number(const char **p, const char *end, unsigned lo, unsigned hi,
			 unsigned *ret)
{
	unsigned long v = 0;
	const char *s = *p;

	if (s >= end || *s < '0' || *s > '9')
		return false;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (unsigned long) (*s - '0');
		if (v > hi)
			return false;
	}
	if (v < lo)
		return false;
	*p = s;
	*ret = (unsigned) v;
	return true;
}

/* An optional "/LIMIT"; -1 when malformed, 1 when present. */
static int parse_limit(const char **p, const char *end, unsigned *slots)
{
	if (*p >= end || **p != '/')
		return 0;
	(*p)++;
	return parse_number(p, end, 1, ENGINE_HOST_MAX_SLOTS, slots) ? 1 : -1;
}

/* [,lzo|,cpp|,down|,auth[=NAME]]... up to end; NULL or the reason it is refused. */
static const char *parse_options(const char *p, const char *end, bool *down)
{
	bool lzo = false, cpp = false;

	while (p < end) {
		const char *o = ++p, *e;

		if (p[-1] != ',')
			return "unexpected characters after the host";
		e = memchr(o, ',', (size_t) (end - o));
		e = e ? e : end;
		if (e - o == 3 && !memcmp(o, "lzo", 3))
			lzo = true;
		else if (e - o == 3 && !memcmp(o, "cpp", 3))
			cpp = true;
		else if (e - o == 4 && !memcmp(o, "down", 4))
			*down = true;
		else if (e - o >= 4 && !memcmp(o, "auth", 4)) {
			if (e - o > 4 && (o[4] != '=' || e - o == 5))
				return "expected auth or auth=NAME";
			for (const char *c = o + 5; c < e; c++)
				if (!is_name_char(*c))
					return "bad character in the auth=NAME option";
		} else
			return "unknown option (expected lzo, cpp, down, auth)";
		p = e;
	}
	if (cpp && !lzo)
		return "the cpp option (pump mode) needs lzo too";
	return NULL;
}

/* A host name: name chars, 1..HOSTNAME_MAX; *p advanced; false when empty or bad. */
static bool parse_hostname(const char **p, const char *end, const char *stops)
{
	const char *s = *p;

	while (s < end && !strchr(stops, *s)) {
		if (!is_name_char(*s))
			return false;
		s++;
	}
	if (s == *p || s - *p > HOSTNAME_MAX)
		return false;
	*p = s;
	return true;
}

/* TCP_HOST = HOSTID[:PORT][/LIMIT][OPTIONS] | HOSTID[/LIMIT][:PORT][OPTIONS] */
static const char *parse_tcp(const char *tok, const char *end, struct engine_host *h)
{
	const char *p = tok, *name;
	unsigned port = DISTCC_DEFAULT_PORT;
	int l1, l2 = 0;

	if (*p == '[') {
		name = ++p;
		while (p < end && is_hex_or_colon(*p))
			p++;
		if (p == name || p >= end || *p != ']' || p - name > 45)
			return "expected an IPv6 address in brackets";
		h->name = strndup(name, (size_t) (p - name));
		p++;
	} else {
		name = p;
		if (!parse_hostname(&p, end, "/:,"))
			return "expected a host name or address";
		h->name = strndup(name, (size_t) (p - name));
	}
	if (!h->name)
		return ""; /* -ENOMEM */
	l1 = parse_limit(&p, end, &h->slots);
	if (p < end && *p == ':') {
		p++;
		if (!parse_number(&p, end, 1, 65535, &port))
			return "expected a port 1-65535 after ':'";
		if (l1 == 0)
			l2 = parse_limit(&p, end, &h->slots);
	}
	if (l1 < 0 || l2 < 0)
		return "expected a limit 1-1024 after '/'";
	h->port = (uint16_t) port;
	h->kind = ENGINE_HOST_TCP;
	return parse_options(p, end, &h->down);
}

/* SSH_HOST = [USER]@HOSTID[/LIMIT][:COMMAND][OPTIONS] */
static const char *parse_ssh(const char *tok, const char *end, struct engine_host *h)
{
	const char *at = memchr(tok, '@', (size_t) (end - tok)), *p, *name;

	for (p = tok; p < at; p++)
		if (!is_name_char(*p))
			return "bad character in the ssh user name";
	if (at - tok > USER_MAX)
		return "the ssh user name is too long";
	name = p = at + 1;
	if (!parse_hostname(&p, end, "/:,"))
		return "expected a host name after '@'";
	h->name = strndup(name, (size_t) (p - name));
	if (!h->name)
		return "";
	if (parse_limit(&p, end, &h->slots) < 0)
		return "expected a limit 1-1024 after '/'";
	if (p < end && *p == ':') {
		const char *cmd = ++p;

		while (p < end && *p != ',')
			p++;
		if (p == cmd || p - cmd > COMMAND_MAX)
			return "expected the remote distccd command after ':'";
	}
	h->kind = ENGINE_HOST_SSH;
	return parse_options(p, end, &h->down);
}

/* "--localslots=N" / "--localslots_cpp=N" (distcc also takes '/'); 1 = it was one. */
static int parse_global(const char *tok, size_t len, struct engine_hosts *hs)
{
	static const struct { const char *name; size_t off; } g[] = {
		{ "--localslots_cpp", offsetof(struct engine_hosts, localslots_cpp) },
		{ "--localslots", offsetof(struct engine_hosts, localslots) },
	};

	if (len == 11 && !memcmp(tok, "--randomize", 11)) {
		hs->randomize = true;
		return 1;
	}
	for (size_t i = 0; i < ELEMENTSOF(g); i++) {
		size_t n = strlen(g[i].name);
		const char *p = tok + n;
		unsigned v;

		if (len <= n || memcmp(tok, g[i].name, n) || (*p != '=' && *p != '/'))
			continue;
		p++;
		if (!parse_number(&p, tok + len, 1, ENGINE_HOST_MAX_SLOTS, &v) || p != tok + len)
			return -1;
		*(unsigned *) ((char *) hs + g[i].off) = v;
		return 1;
	}
	return len > 2 && tok[0] == '-' && tok[1] == '-' ? -1 : 0;
}

/* One host entry tok[0..len) into h. */
static int parse_entry(const char *tok, size_t len, struct engine_host *h, char **ret_why)
{
	const char *end = tok + len, *why = NULL;

	h->slots = DISTCC_DEFAULT_SLOTS;
	if (len == 9 && !memcmp(tok, "+zeroconf", 9))
		h->kind = ENGINE_HOST_ZEROCONF;
	else if (len >= 9 && !memcmp(tok, "localhost", 9) && (len == 9 || tok[9] == '/')) {
		const char *p = tok + 9;

		h->kind = ENGINE_HOST_LOCAL;
		h->slots = DISTCC_LOCALHOST_SLOTS;
		if (parse_limit(&p, end, &h->slots) < 0 || p != end)
			why = "expected localhost or localhost/LIMIT (1-1024)";
	} else if (memchr(tok, '@', len))
		why = parse_ssh(tok, end, h);
	else
		why = parse_tcp(tok, end, h);
	if (why && !*why)
		return -ENOMEM;
	if (why)
		return bad(ret_why, tok, len, why);
	h->spec = strndup(tok, len);
	return h->spec ? 0 : -ENOMEM;
}

/* Characters distcc takes as whitespace between entries. */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int parse_token(const char *tok, size_t len, struct engine_hosts *hs, char **ret_why)
{
	struct engine_host h = { 0 };
	int r;

	for (size_t i = 0; i < len; i++)
		if ((unsigned char) tok[i] <= ' ' || (unsigned char) tok[i] >= 0x7f)
			return bad(ret_why, tok, len, "unprintable or non-ASCII character");
	r = parse_global(tok, len, hs);
	if (r < 0)
		return bad(ret_why, tok, len,
			   "expected --randomize, --localslots=N or --localslots_cpp=N (1-1024)");
	if (r > 0)
		return 0;
	if (hs->n >= ENGINE_HOSTS_MAX)
		return why_set(ret_why, -EINVAL, "the distcc host list has more than %d hosts",
			       ENGINE_HOSTS_MAX);
	r = parse_entry(tok, len, &h, ret_why);
	if (r < 0) {
		free(h.name);
		return r;
	}
	hs->v[hs->n++] = h;
	return 0;
}

int engine_distcc_hosts_parse(const char *text, struct engine_hosts *ret, char **ret_why)
{
	struct engine_hosts hs _cleanup_(engine_hosts_done) = { 0 };
	size_t len = strnlen(text, ENGINE_HOSTS_MAX_LEN + 1);
	const char *p = text, *end = text + len;
	int r;

	if (len > ENGINE_HOSTS_MAX_LEN)
		return why_set(ret_why, -EINVAL, "the distcc host list is longer than %d bytes",
			       ENGINE_HOSTS_MAX_LEN);
	hs.v = calloc(ENGINE_HOSTS_MAX, sizeof(*hs.v));
	if (!hs.v)
		return -ENOMEM;
	while (p < end) {
		size_t n;

		if (is_space(*p)) {
			p++;
			continue;
		}
		if (*p == '#') { /* a comment, to the end of the line */
			while (p < end && *p != '\n' && *p != '\r')
				p++;
			continue;
		}
		for (n = 0; p + n < end && !is_space(p[n]) && p[n] != '#'; n++)
			;
		r = parse_token(p, n, &hs, ret_why);
		if (r < 0)
			return r;
		p += n;
	}
	if (hs.n == 0)
		return why_set(ret_why, -EINVAL, "the distcc host list names no host");
	*ret = hs;
	hs = (struct engine_hosts){ 0 };
	return 0;
}
