/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Registry authentication (registry-internal.h, DESIGN §10): the credentials files podman and
 * docker write (the "auths" map, "auth" = base64 of "user:password"), WWW-Authenticate
 * challenges (RFC 7235), and the bearer-token flow of the distribution spec's token endpoint.
 * Everything here handles secrets: nothing a credentials file or a token endpoint says is
 * ever logged or put into a message, only the names of the files and URLs.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>

#include "http.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "registry-internal.h"
#include "util.h"

#define CREDS_FILE_MAX (4u << 20)
#define TOKEN_ANSWER_MAX (1u << 20)

void registry_creds_done(struct kts_registry_creds *c)
{
	if (!c)
		return;
	if (c->basic) /* a secret: do not leave it in freed memory */
		explicit_bzero(c->basic, strlen(c->basic));
	free(c->basic);
	free(c->source);
	*c = (struct kts_registry_creds){};
}

/* ---- credentials files ------------------------------------------------------------------- */

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/*
 * Whether s is canonical padded base64 of "user:password" with a non-empty user. Decoded on the
 * fly: the secret is not copied anywhere.
 */
static bool basic_is_valid(const char *s, size_t n)
{
	size_t pad = 0;
	bool colon = false, user = false;

	if (n == 0 || n % 4 != 0)
		return false;
	while (pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < n; i += 4) {
		uint32_t v = 0;
		size_t k = i + 4 == n ? 3 - pad : 3; /* bytes this quantum carries */

		for (size_t j = 0; j < 4; j++) {
			int d = i + j >= n - pad ? 0 : b64_value(s[i + j]);

			if (d < 0)
				return false;
			v = v << 6 | (uint32_t) d;
		}
		/* The bits under the padding must be zero (canonical encoding). */
		if ((pad == 1 && i + 4 == n && (v & 0xff)) ||
		    (pad == 2 && i + 4 == n && (v & 0xffff)))
			return false;
		for (size_t j = 0; j < k; j++) {
			char c = (char) (v >> (16 - 8 * j) & 0xff);

			if (c == ':' && !colon)
				colon = true;
			else if (!colon)
				user = true;
			if (c == '\0')
				return false;
		}
	}
	return colon && user;
}

/* "https://HOST:PORT/v2/" → "HOST:PORT" into buf; false when it does not fit. */
static bool key_normalize(const char *key, char *buf, size_t size)
{
	size_t n;

	if (strncasecmp(key, "https://", 8) == 0)
		key += 8;
	else if (strncasecmp(key, "http://", 7) == 0)
		key += 7;
	n = strcspn(key, "/");
	if (n == 0 || n >= size)
		return false;
	memcpy(buf, key, n);
	buf[n] = '\0';
	return true;
}

/* The "auths" entry for host: an exact key first, else the first that normalises to it. */
static struct json_object *auths_find(struct json_object *auths, const char *host)
{
	struct json_object *found = NULL;
	char norm[256];

	if (json_object_object_get_ex(auths, host, &found))
		return found;
	json_object_object_foreach(auths, key, value)
	{
		if (key_normalize(key, norm, sizeof(norm)) && strcasecmp(norm, host) == 0)
			return value;
	}
	return NULL;
}

/* The JSON object of text[0..len), nothing but white space after it; NULL otherwise. */
static struct json_object *parse_object(const char *text, size_t len)
{
	struct json_object *o = NULL;

	if (json_parse_whole(text, len, &o, NULL) < 0)
		return NULL;
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Says (at debug level) that the file delegates host to a credential helper we do not run. */
static void note_helper(struct json_object *doc, const char *host)
{
	struct json_object *helpers = NULL, *store = NULL;

	if (json_object_object_get_ex(doc, "credHelpers", &helpers) &&
	    json_object_is_type(helpers, json_type_object) && auths_find(helpers, host))
		log_debug("registry: credHelpers names a helper for '%s': not supported, skipped",
			  host);
	else if (json_object_object_get_ex(doc, "credsStore", &store))
		log_debug("registry: credsStore is set: not supported, no credentials for '%s' "
			  "from it",
			  host);
}

int registry_creds_parse(const char *json, size_t len, const char *host, char **ret_basic,
			 char **ret_why)
{
	_cleanup_json_ struct json_object *doc = NULL;
	struct json_object *auths = NULL, *entry, *auth = NULL;
	const char *b;
	size_t n;
	char *dup;

	if (!json || !host || !ret_basic)
		return -EINVAL;
	doc = parse_object(json, len);
	if (!doc)
		return why_set(ret_why, -EBADMSG, "not a JSON object");
	if (json_object_object_get_ex(doc, "auths", &auths) &&
	    !json_object_is_type(auths, json_type_object))
		return why_set(ret_why, -EBADMSG, "\"auths\" is not an object");
	entry = auths ? auths_find(auths, host) : NULL;
	if (entry && !json_object_is_type(entry, json_type_object))
		return why_set(ret_why, -EBADMSG, "the \"auths\" entry for '%s' is not an object",
			       host);
	if (!entry || !json_object_object_get_ex(entry, "auth", &auth)) {
		note_helper(doc, host);
		return 0;
	}
	if (!json_object_is_type(auth, json_type_string))
		return why_set(ret_why, -EBADMSG, "the \"auth\" of '%s' is not a string", host);
	b = json_object_get_string(auth);
	n = (size_t) json_object_get_string_len(auth);
	if (n == 0) { /* podman leaves "" behind for a helper's entry */
		note_helper(doc, host);
		return 0;
	}
	if (strlen(b) != n || !basic_is_valid(b, n))
		return why_set(ret_why, -EBADMSG,
			       "the \"auth\" of '%s' is not base64 of \"user:password\"", host);
	dup = strdup(b);
	if (!dup)
		return -ENOMEM;
	*ret_basic = dup;
	return 1;
}

/* The candidate files, in order; each may be NULL (its variable unset). Caller frees. */
static int creds_paths(char *ret[3])
{
	const char *v;

	v = getenv_nonempty("REGISTRY_AUTH_FILE");
	ret[0] = v ? strdup(v) : NULL;
	v = getenv_nonempty("XDG_RUNTIME_DIR");
	if (v && asprintf(&ret[1], "%s/containers/auth.json", v) < 0)
		ret[1] = NULL;
	v = getenv_nonempty("HOME");
	if (!v) {
		struct passwd *pw = getpwuid(getuid());

		v = pw ? pw->pw_dir : NULL;
	}
	if (v && asprintf(&ret[2], "%s/.docker/config.json", v) < 0)
		ret[2] = NULL;
	return 0;
}

/* One file: 1 with *ret_basic, 0 when it is missing or has nothing for host, < 0. */
static int creds_file(const char *path, const char *host, char **ret_basic, char **ret_why)
{
	_cleanup_free_ char *text = NULL, *why = NULL;
	size_t len = 0;
	int r;

	r = read_full_file(path, CREDS_FILE_MAX, &text, &len);
	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	if (r == -EFBIG)
		return why_set(ret_why, -EBADMSG, "credentials file '%s': too large", path);
	if (r < 0)
		return why_set(ret_why, r, "cannot read the credentials file '%s': %s", path,
			       strerror(-r));
	r = registry_creds_parse(text, len, host, ret_basic, &why);
	explicit_bzero(text, len);
	if (r == -EBADMSG)
		return why_set(ret_why, r, "credentials file '%s': %s", path,
			       why ? why : "malformed");
	return r;
}

/* Appends path to the ", "-separated list *looked. */
static int looked_add(char **looked, const char *path)
{
	char *s;

	if (asprintf(&s, "%s%s%s", *looked ? *looked : "", *looked ? ", " : "", path) < 0)
		return -ENOMEM;
	free(*looked);
	*looked = s;
	return 0;
}

int registry_creds_find(const char *host, struct kts_registry_creds *ret, char **ret_looked,
			char **ret_why)
{
	char *paths[3] = {};
	_cleanup_free_ char *looked = NULL;
	char *basic = NULL;
	int r = 0;

	if (!host || !ret)
		return -EINVAL;
	(void) creds_paths(paths);
	for (size_t i = 0; i < ELEMENTSOF(paths) && r == 0; i++) {
		if (!paths[i])
			continue;
		r = looked_add(&looked, paths[i]);
		if (r >= 0)
			r = creds_file(paths[i], host, &basic, ret_why);
		if (r > 0) {
			*ret = (struct kts_registry_creds){ .basic = basic, .source = paths[i] };
			paths[i] = NULL;
			log_debug("registry: credentials for '%s' from '%s'", host, ret->source);
		}
	}
	for (size_t i = 0; i < ELEMENTSOF(paths); i++)
		free(paths[i]);
	if (r < 0)
		return r;
	if (r == 0)
		*ret = (struct kts_registry_creds){};
	if (ret_looked)
		*ret_looked = TAKE_PTR(looked);
	return r;
}

/* ---- WWW-Authenticate (RFC 7235 section 4.1, 2.1) ---------------------------------------- */

void registry_challenge_done(struct kts_auth_challenge *c)
{
	if (!c)
		return;
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	*c = (struct kts_auth_challenge){};
}

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token68_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-._~+/", c));
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static size_t token_len(const char *p)
{
	size_t n = 0;

	while (is_tchar(p[n]))
		n++;
	return n;
}

/* A quoted-string at *p (on its opening quote): its unescaped text (malloc'd); *p after the
 * closing quote. -EINVAL when it is not closed or holds a control character. */
static int quoted_string(const char **p, char **ret)
{
	const char *s = *p + 1;
	_cleanup_free_ char *out = malloc(strlen(s) + 1);
	size_t n = 0;

	if (!out)
		return -ENOMEM;
	for (;; s++) {
		unsigned char c = (unsigned char) *s;

		if (c == '"')
			break;
		if (c == '\\') {
			c = (unsigned char) *++s;
			if (c == '\0')
				return -EINVAL;
		}
		if (c == '\0' || (c < 0x20 && c != '\t') || c == 0x7f)
			return -EINVAL;
		out[n++] = (char) c;
	}
	out[n] = '\0';
	*p = s + 1;
	*ret = TAKE_PTR(out);
	return 0;
}

/* The value of an auth-param: a token or a quoted-string. */
static int param_value(const char **p, char **ret)
{
	size_t n;

	if (**p == '"')
		return quoted_string(p, ret);
	n = token_len(*p);
	if (n == 0)
		return -EINVAL;
	*ret = strndup(*p, n);
	if (!*ret)
		return -ENOMEM;
	*p += n;
	return 0;
}

/* Where an auth-param's value goes, by its name (case-insensitive); NULL: one we ignore. */
static char **param_slot(struct kts_auth_challenge *c, const char *name, size_t n)
{
	static const struct {
		const char *name;
		size_t offset;
	} known[] = {
		{ "realm", offsetof(struct kts_auth_challenge, realm) },
		{ "service", offsetof(struct kts_auth_challenge, service) },
		{ "scope", offsetof(struct kts_auth_challenge, scope) },
		{ "error", offsetof(struct kts_auth_challenge, error) },
	};

	for (size_t i = 0; i < ELEMENTSOF(known); i++)
		if (strlen(known[i].name) == n && strncasecmp(name, known[i].name, n) == 0)
			return (char **) ((char *) c + known[i].offset);
	return NULL;
}

/*
 * An auth-param at *p ("name BWS = BWS value", *p on the name) into c. 1 = parsed, *p after
 * it; 0 = what is at *p is no auth-param (a token68, or the next challenge's scheme); < 0
 * malformed. Names other than ours are checked and dropped; one of ours twice is malformed.
 */
static int auth_param(const char **p, struct kts_auth_challenge *c)
{
	const char *s = *p, *name = s;
	size_t n = token_len(s);
	_cleanup_free_ char *value = NULL;
	char **slot;
	int r;

	if (n == 0)
		return 0;
	s = skip_ows(s + n);
	if (*s != '=')
		return 0;
	s = skip_ows(s + 1);
	if (*s != '"' && !is_tchar(*s))
		return 0; /* "abc=" then a comma or the end: a token68 */
	r = param_value(&s, &value);
	if (r < 0)
		return r;
	slot = param_slot(c, name, n);
	if (slot) {
		if (*slot)
			return -EINVAL;
		*slot = TAKE_PTR(value);
	}
	*p = s;
	return 1;
}

/* A token68 at *p ("1*(ALPHA DIGIT - . _ ~ + /) *="), skipped; -EINVAL if there is none. */
static int token68(const char **p)
{
	const char *s = *p;

	while (is_token68_char(*s))
		s++;
	if (s == *p)
		return -EINVAL;
	while (*s == '=')
		s++;
	*p = s;
	return 0;
}

/*
 * What follows a challenge's scheme and its space: a token68, or a list of auth-params
 * (empty list elements allowed) that ends at the end of the value or where the next
 * challenge's scheme starts. *p after them.
 */
static int challenge_params(const char **p, struct kts_auth_challenge *c)
{
	const char *s = *p;
	bool first = true;
	int r;

	while (*s) {
		if (*s == ',') {
			s = skip_ows(s + 1);
			continue;
		}
		r = auth_param(&s, c);
		if (r < 0)
			return r;
		if (r == 0 && !first)
			break; /* the next challenge's scheme */
		if (r == 0) {
			/* A token68 is all there is of this challenge. */
			r = token68(&s);
			if (r < 0)
				return r;
			s = skip_ows(s);
			if (*s != ',' && *s != '\0')
				return -EINVAL;
			break;
		}
		s = skip_ows(s);
		if (*s != ',' && *s != '\0')
			return -EINVAL;
		first = false;
	}
	*p = s;
	return 0;
}

static bool is_http_url(const char *s)
{
	return (strncasecmp(s, "https://", 8) == 0 && s[8]) ||
	       (strncasecmp(s, "http://", 7) == 0 && s[7]);
}

/* One challenge at *p (its scheme first): into c, *p after it. 1 = a scheme we know (c
 * filled), 0 = another one (checked, dropped), < 0 malformed. */
static int challenge_one(const char **p, struct kts_auth_challenge *c)
{
	const char *s = *p;
	size_t n = token_len(s);
	int known = 1, r;

	if (n == 0)
		return -EINVAL;
	if (n == 5 && strncasecmp(s, "Basic", 5) == 0)
		c->scheme = KTS_AUTH_BASIC;
	else if (n == 6 && strncasecmp(s, "Bearer", 6) == 0)
		c->scheme = KTS_AUTH_BEARER;
	else
		known = 0;
	s += n;
	if (*s == ' ') {
		while (*s == ' ')
			s++;
		r = challenge_params(&s, c);
		if (r < 0)
			return r;
	} else if (*s != ',' && *s != '\0')
		return -EINVAL;
	*p = s;
	return known;
}

int registry_challenge_parse(const char *value, struct kts_auth_challenge *ret)
{
	struct kts_auth_challenge found = {};
	bool have = false;
	const char *s = value;
	int r = 0;

	if (!value || !ret)
		return -EINVAL;
	/* 1#challenge: the first of a scheme we know is the one; the others are checked. */
	for (s = skip_ows(s); *s && r >= 0; s = skip_ows(s)) {
		struct kts_auth_challenge c = {};

		if (*s == ',') {
			s++;
			continue;
		}
		r = challenge_one(&s, &c);
		if (r > 0 && !have) {
			found = c;
			have = true;
		} else
			registry_challenge_done(&c);
	}
	if (r >= 0 && have && found.scheme == KTS_AUTH_BEARER &&
	    (!found.realm || !is_http_url(found.realm)))
		r = -EINVAL;
	if (r < 0 || !have) {
		registry_challenge_done(&found);
		return r == -ENOMEM ? r : -EINVAL;
	}
	*ret = found;
	return 0;
}

/* ---- bearer tokens ----------------------------------------------------------------------- */

/* A token we will put into an Authorization header: printable ASCII, no space. */
static bool token_is_valid(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

/* The non-empty string member key of o, or NULL. */
static struct json_object *string_member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		return NULL;
	return v;
}

int registry_token_parse(const char *json, size_t len, char **ret_token)
{
	_cleanup_json_ struct json_object *doc = NULL;
	struct json_object *v;
	char *t;

	if (!json || !ret_token)
		return -EINVAL;
	doc = parse_object(json, len);
	if (!doc)
		return -EBADMSG;
	v = string_member(doc, "token");
	if (!v)
		v = string_member(doc, "access_token");
	if (!v ||
	    !token_is_valid(json_object_get_string(v), (size_t) json_object_get_string_len(v)))
		return -EBADMSG;
	t = strdup(json_object_get_string(v));
	if (!t)
		return -ENOMEM;
	*ret_token = t;
	return 0;
}

/* Percent-encodes s (all but RFC 3986's unreserved characters) onto f. */
static void url_encode(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char) *s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c))
			(void) fputc(c, f);
		else
			(void) fprintf(f, "%%%02X", c);
	}
}

/* "REALM?service=S&scope=S" ('&' when the realm has a query already). */
static int token_url(const struct kts_auth_challenge *c, const char *scope, char **ret)
{
	_cleanup_free_ char *url = NULL;
	size_t size = 0;
	char sep = strchr(c->realm, '?') ? '&' : '?';
	FILE *f = open_memstream(&url, &size);

	if (!f)
		return -ENOMEM;
	(void) fputs(c->realm, f);
	if (c->service) {
		(void) fprintf(f, "%cservice=", sep);
		url_encode(f, c->service);
		sep = '&';
	}
	if (scope) {
		(void) fprintf(f, "%cscope=", sep);
		url_encode(f, scope);
	}
	if (fclose(f) != 0 || !url)
		return -ENOMEM;
	*ret = TAKE_PTR(url);
	return 0;
}

struct answer {
	char *buf;
	size_t len;
};

static int answer_write(const void *data, size_t n, void *userdata)
{
	struct answer *a = userdata;
	char *b;

	if (n > TOKEN_ANSWER_MAX - a->len)
		return -EFBIG;
	b = realloc(a->buf, a->len + n + 1);
	if (!b)
		return -ENOMEM;
	memcpy(b + a->len, data, n);
	a->buf = b;
	a->len += n;
	a->buf[a->len] = '\0';
	return 0;
}

static void answer_done(struct answer *a)
{
	if (a->buf) /* it holds a token */
		explicit_bzero(a->buf, a->len);
	free(a->buf);
}

/* "Authorization: Basic ..." for creds, or NULL when there are none. */
static int basic_header(const struct kts_registry_creds *creds, char **ret)
{
	*ret = NULL;
	if (!creds || !creds->basic)
		return 0;
	return asprintf(ret, "Authorization: Basic %s", creds->basic) < 0 ? -ENOMEM : 0;
}

static void secret_freep(char **s)
{
	if (*s)
		explicit_bzero(*s, strlen(*s));
	free(*s);
}

int registry_token_fetch(const struct kts_auth_challenge *c, const char *scope_default,
			 const struct kts_registry_creds *creds, const struct http_request *tls,
			 char **ret_token, char **ret_why)
{
	_cleanup_(answer_done) struct answer a = {};
	_cleanup_(secret_freep) char *auth = NULL;
	_cleanup_free_ char *url = NULL;
	const char *headers[] = { NULL, NULL };
	long status = 0;
	int r;

	if (!c || c->scheme != KTS_AUTH_BEARER || !c->realm || !ret_token)
		return -EINVAL;
	r = token_url(c, c->scope ? c->scope : scope_default, &url);
	if (r >= 0)
		r = basic_header(creds, &auth);
	if (r < 0)
		return r;
	headers[0] = auth;
	{
		const struct http_request req = {
			.url = url,
			.what = "the token",
			.site_role = "token endpoint",
			.site = c->realm,
			.ca_file = tls ? tls->ca_file : NULL,
			.insecure = tls && tls->insecure,
			.headers = auth ? headers : NULL,
			.any_status = true,
		};

		r = http_send(&req, answer_write, &a, &status, ret_why);
	}
	if (r < 0)
		return r;
	if ((status == 401 || status == 403) && auth)
		return why_set(ret_why, -EACCES,
			       "the token endpoint '%s' refused the credentials from '%s' (HTTP %ld)",
			       c->realm, strempty(creds->source), status);
	if (status == 401 || status == 403)
		return why_set(ret_why, -EACCES,
			       "the token endpoint '%s' refused anonymous access (HTTP %ld)",
			       c->realm, status);
	if (status < 200 || status > 299)
		return why_set(ret_why, -EIO, "the token endpoint '%s' answered HTTP %ld", c->realm,
			       status);
	r = registry_token_parse(a.buf ? a.buf : "", a.len, ret_token);
	if (r == -EBADMSG)
		return why_set(ret_why, r,
			       "the token endpoint '%s' answered without a usable token", c->realm);
	return r;
}
