/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The OCI distribution client (registry.h), its requests half: the remote's strict parse,
 * one request wrapper that authenticates (a 401's challenge → a bearer token for the session,
 * or basic auth → the request once more) and turns what the registry answers into negative
 * errno and one-line reasons naming the registry; manifests by tag, the tags list, and the
 * look-ups `kernel show --remote` and `build --remote` make. Blobs, pull and push are in
 * registry-blob.c; credentials, challenges and tokens in registry-auth.c; the JSON documents
 * in registry-manifest.c.
 *
 * Secrets (the credentials, the session's token) only ever go into an Authorization header of
 * a request to the registry's own origin: never into a URL, a message or a log line; a
 * Location on another host (a blob store a registry redirects to) gets no Authorization.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hash.h"
#include "http.h"
#include "log.h"
#include "macro.h"
#include "registry-internal.h"
#include "util.h"

#define KTS_OCI_PREFIX "oci://"
#define KTS_REPO_MAX 255
#define KTS_ERROR_BODY_MAX ((size_t) 8 << 10)
#define KTS_MANIFEST_MAX ((size_t) 4 << 20) /* distribution's own limit */
#define KTS_TAGS_PAGE 1000
#define KTS_TAGS_PAGES_MAX 1000

/* ------------------------------------------------------------------ the remote */

void registry_remote_done(struct kts_registry_remote *r)
{
	free(r->host);
	free(r->repository);
	free(r->base);
	*r = (struct kts_registry_remote) { 0 };
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A DNS name (RFC 1123 labels), or, when every label is numeric, a dotted IPv4 address. */
static bool host_valid(const char *h, size_t n)
{
	_cleanup_free_ char *copy = NULL;
	bool numeric = true;
	size_t label = 0;
	struct in_addr a;

	if (n < 1 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_alnum(c) && c != '-')
			return false;
		if ((c == '-' && label == 0) || ++label > 63)
			return false;
		numeric = numeric && c >= '0' && c <= '9';
	}
	if (label == 0 || h[n - 1] == '-')
		return false;
	if (!numeric)
		return true;
	copy = strndup(h, n);
	return copy && inet_pton(AF_INET, copy, &a) == 1;
}

static bool port_valid(const char *p, size_t n)
{
	unsigned v = 0;

	if (n < 1 || n > 5 || p[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (unsigned) (p[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool repo_component_valid(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t run = 0;

		while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			i++, run++;
		if (run == 0)
			return false; /* empty, or a separator first or twice */
		if (i == n)
			return true;
		if (s[i] == '.')
			i++;
		else if (s[i] == '_')
			i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
		else if (s[i] == '-')
			while (i < n && s[i] == '-')
				i++;
		else
			return false;
		if (i == n)
			return false; /* a separator last */
	}
	return false;
}

static bool repo_valid(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len > KTS_REPO_MAX)
		return false;
	for (const char *p = s;;) {
		size_t n = strcspn(p, "/");

		if (!repo_component_valid(p, n))
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}

static bool host_is_loopback(const char *host, size_t n)
{
	return (n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
	       (n == 9 && strncmp(host, "127.0.0.1", 9) == 0) || (n == 5 && strncmp(host, "[::1]", 5) == 0);
}

/* The authority "HOST[:PORT]" of n bytes: *ret_host_len, the host part's length. */
static const char *authority_check(const char *a, size_t n, size_t *ret_host_len)
{
	const char *colon;
	size_t hn;

	if (n == 0)
		return "no host";
	if (a[0] == '[') {
		_cleanup_free_ char *inside = NULL;
		const char *close = memchr(a, ']', n);
		struct in6_addr a6;

		if (!close)
			return "an IPv6 address without ']'";
		inside = strndup(a + 1, (size_t) (close - a - 1));
		if (!inside || inet_pton(AF_INET6, inside, &a6) != 1)
			return "not an IPv6 address in brackets";
		hn = (size_t) (close - a) + 1;
		if (hn < n && a[hn] != ':')
			return "something after the IPv6 address that is not ':PORT'";
	} else {
		colon = memchr(a, ':', n);
		hn = colon ? (size_t) (colon - a) : n;
		if (!host_valid(a, hn))
			return "the host is not a DNS name or an IPv4 address";
	}
	if (hn < n && !port_valid(a + hn + 1, n - hn - 1))
		return "the port is not a number in 1..65535";
	*ret_host_len = hn;
	return NULL;
}

static int remote_invalid(const char *spec, const char *why_not, char **ret_why)
{
	_cleanup_free_ char *shown = NULL, *redacted = NULL;
	const char *at = strchr(spec, '@');

	/* user info may hold a password: never echo it */
	if (at && asprintf(&redacted, KTS_OCI_PREFIX "***%s", at) < 0)
		return -ENOMEM;
	shown = utf8_printable(redacted ? redacted : spec, strlen(redacted ? redacted : spec), 300);
	return why_set(ret_why, -EINVAL,
		       "remote '%s': %s (expected oci://HOST[:PORT]/REPOSITORY)", strempty(shown),
		       why_not);
}

int registry_remote_parse(const char *spec, bool insecure, bool https_loopback,
			  struct kts_registry_remote *ret, char **ret_why)
{
	_cleanup_(registry_remote_done) struct kts_registry_remote rr = { 0 };
	const char *a, *slash, *bad;
	size_t an, hn = 0;
	bool http;

	if (!spec || !*spec)
		return why_set(ret_why, -EINVAL, "empty remote (expected oci://HOST[:PORT]/REPOSITORY)");
	if (strncmp(spec, KTS_OCI_PREFIX, strlen(KTS_OCI_PREFIX)) != 0)
		return remote_invalid(spec, "not an oci:// URL", ret_why);
	a = spec + strlen(KTS_OCI_PREFIX);
	slash = strchr(a, '/');
	an = slash ? (size_t) (slash - a) : strlen(a);
	if (memchr(a, '@', an) || (!slash && strchr(a, '@')))
		return remote_invalid(spec, "credentials in the remote are not supported; "
				      "put them in a credentials file", ret_why);
	if (!slash || !slash[1])
		return remote_invalid(spec, "no repository", ret_why);
	bad = authority_check(a, an, &hn);
	if (bad)
		return remote_invalid(spec, bad, ret_why);
	if (!repo_valid(slash + 1))
		return remote_invalid(spec,
				      "the repository is not lowercase path components "
				      "[a-z0-9]+ joined by '.', '_', '__' or '-'",
				      ret_why);

	http = insecure || (host_is_loopback(a, hn) && !https_loopback);
	rr.host = strndup(a, an);
	rr.repository = strdup(slash + 1);
	if (!rr.host || !rr.repository ||
	    asprintf(&rr.base, "%s://%.*s", http ? "http" : "https", (int) an, a) < 0)
		return -ENOMEM;
	*ret = rr;
	rr = (struct kts_registry_remote) { 0 };
	return 0;
}

/* ------------------------------------------------------------------ open and free */

int registry_open(const struct kts_registry_opts *o, struct kts_registry **ret, char **ret_why)
{
	_cleanup_(registry_freep) struct kts_registry *r = NULL;
	const char *ca = o->ca_file ? o->ca_file : getenv_nonempty("KTSCOPE_CA_CERT");
	int k;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	k = registry_remote_parse(o->remote, o->insecure, ca != NULL, &r->remote, ret_why);
	if (k < 0)
		return k;
	r->name = strdup(o->remote);
	r->ca_file = ca ? strdup(ca) : NULL;
	if (!r->name || (ca && !r->ca_file))
		return -ENOMEM;
	r->insecure = o->insecure;
	r->progress = o->progress;
	k = http_session_new(&r->http);
	if (k < 0)
		return k;
	k = registry_creds_find(r->remote.host, &r->creds, &r->looked, ret_why);
	if (k < 0)
		return k;
	log_debug("registry %s: %s, credentials %s", r->name, r->remote.base,
		  r->creds.basic ? strempty(r->creds.source) : "none (anonymous)");
	*ret = TAKE_PTR(r);
	return 0;
}

static void secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void secret_freep(char **s)
{
	secret_free(*s);
}

void registry_free(struct kts_registry *r)
{
	if (!r)
		return;
	free(r->name);
	registry_remote_done(&r->remote);
	free(r->ca_file);
	registry_creds_done(&r->creds);
	free(r->looked);
	secret_free(r->token);
	http_session_free(r->http);
	free(r);
}

const char *registry_name(const struct kts_registry *r)
{
	return r->name;
}

/* ------------------------------------------------------------------ one request */

void registry_call_done(struct registry_call *c)
{
	free(c->body_mem);
	free(c->location);
	free(c->link);
	free(c->content_digest);
	free(c->challenge);
	c->body_mem = c->location = c->link = c->content_digest = c->challenge = NULL;
	c->body_len_mem = 0;
	c->status = 0;
}

static int call_write(const void *data, size_t n, void *userdata)
{
	struct registry_call *c = userdata;
	size_t limit = c->write ? KTS_ERROR_BODY_MAX : (c->max ? c->max : KTS_ERROR_BODY_MAX);
	size_t keep = MIN(n, limit - MIN(limit, c->body_len_mem));
	char *p;

	if (!c->write && c->max && c->body_len_mem + n > c->max)
		return -EFBIG;
	if (keep > 0) {
		p = realloc(c->body_mem, c->body_len_mem + keep + 1);
		if (!p)
			return -ENOMEM;
		memcpy(p + c->body_len_mem, data, keep);
		c->body_len_mem += keep;
		p[c->body_len_mem] = '\0';
		c->body_mem = p;
	}
	return c->write ? c->write(data, n, c->userdata) : 0;
}

static int call_header(const char *name, const char *value, void *userdata)
{
	struct registry_call *c = userdata;
	char **dest = NULL;

	if (strcasecmp(name, "WWW-Authenticate") == 0)
		dest = &c->challenge;
	else if (strcasecmp(name, "Location") == 0)
		dest = &c->location;
	else if (strcasecmp(name, "Link") == 0)
		dest = &c->link;
	else if (strcasecmp(name, "Docker-Content-Digest") == 0)
		dest = &c->content_digest;
	if (!dest || *dest)
		return 0;
	*dest = strdup(value);
	return *dest ? 0 : -ENOMEM;
}

static void call_progress(uint64_t done, uint64_t total, void *userdata)
{
	struct registry_call *c = userdata;

	c->progress(done, total, c->userdata);
}

/* Whether url is on the registry's own origin (an Authorization header may go there). */
static bool same_origin(const struct kts_registry *r, const char *url)
{
	size_t n = strlen(r->remote.base);

	return url[0] == '/' || (strncmp(url, r->remote.base, n) == 0 && url[n] == '/');
}

static int call_once(struct kts_registry *r, struct registry_call *c, char **ret_why)
{
	_cleanup_free_ char *url = NULL, *accept = NULL, *ctype = NULL;
	char *auth _cleanup_(secret_freep) = NULL;
	const char *headers[4];
	size_t nh = 0;
	struct http_request req = {
		.url = c->url,
		.what = c->what,
		.site_role = "registry",
		.site = r->name,
		.ca_file = r->ca_file,
		.headers = headers,
		.any_status = true,
		.allow_html = true,
		.progress = c->progress ? call_progress : NULL,
		.header = call_header,
		.userdata = c,
		.method = c->method,
		.body = c->body,
		.body_len = c->body_len,
		.body_file = c->body_file,
		.insecure = r->insecure,
		.session = r->http,
	};
	int k;

	if (c->url[0] == '/' && asprintf(&url, "%s%s", r->remote.base, c->url) < 0)
		return -ENOMEM;
	if (url)
		req.url = url;
	if (same_origin(r, c->url)) {
		if (r->token && asprintf(&auth, "Authorization: Bearer %s", r->token) < 0)
			return -ENOMEM;
		else if (!r->token && r->basic && r->creds.basic &&
			 asprintf(&auth, "Authorization: Basic %s", r->creds.basic) < 0)
			return -ENOMEM;
	}
	if (auth)
		headers[nh++] = auth;
	if (c->accept && asprintf(&accept, "Accept: %s", c->accept) < 0)
		return -ENOMEM;
	if (accept)
		headers[nh++] = accept;
	if (c->content_type && asprintf(&ctype, "Content-Type: %s", c->content_type) < 0)
		return -ENOMEM;
	if (ctype)
		headers[nh++] = ctype;
	headers[nh] = NULL;

	registry_call_done(c);
	if (c->reset) {
		k = c->reset(c->userdata);
		if (k < 0)
			return k;
	}
	return http_send(&req, call_write, c, &c->status, ret_why);
}

/* ------------------------------------------------------------------ authentication */

/* A 401/403 (or a token service's refusal): names the registry, what was asked for, and the
 * credentials file, or where none were found. Never the credentials. */
static int access_denied(const struct kts_registry *r, const struct registry_call *c,
			 const char *detail, char **ret_why)
{
	_cleanup_free_ char *e = NULL;

	if (!detail && registry_error_parse(c->body_mem, c->body_len_mem, &e) >= 0)
		detail = e;
	if (r->creds.basic)
		return why_set(ret_why, -EACCES,
			       "%s: access denied to %s (%s) with the credentials for %s from %s",
			       r->name, c->what, detail ? detail : "HTTP 401", r->remote.host,
			       strempty(r->creds.source));
	return why_set(ret_why, -EACCES, "%s: access denied to %s (%s): no credentials for %s in %s",
		       r->name, c->what, detail ? detail : "HTTP 401", r->remote.host,
		       r->looked && *r->looked ? r->looked : "any credentials file");
}

/* Follows a 401's challenge: a bearer token for the session, or basic auth from now on. */
static int authenticate(struct kts_registry *r, const struct registry_call *c, char **ret_why)
{
	_cleanup_(registry_challenge_done) struct kts_auth_challenge ch = { 0 };
	_cleanup_free_ char *scope = NULL, *why = NULL;
	struct http_request tls = {
		.ca_file = r->ca_file,
		.insecure = r->insecure,
		.site_role = "registry token service",
	};
	char *token = NULL;
	int k;

	if (!c->challenge || registry_challenge_parse(c->challenge, &ch) < 0)
		return access_denied(r, c, NULL, ret_why);
	if (ch.scheme == KTS_AUTH_BASIC) {
		if (!r->creds.basic || r->basic)
			return access_denied(r, c, NULL, ret_why);
		r->basic = true;
		return 0;
	}
	if (asprintf(&scope, "repository:%s:%s", r->remote.repository,
		     r->push ? "pull,push" : "pull") < 0)
		return -ENOMEM;
	k = registry_token_fetch(&ch, scope, &r->creds, &tls, &token, &why);
	if (k == -EACCES)
		return access_denied(r, c, why ? why : "the token endpoint refused", ret_why);
	if (k < 0)
		return why_set(ret_why, k, "%s: cannot get a token for %s: %s", r->name, c->what,
			       why ? why : strerror(-k));
	secret_free(r->token);
	r->token = token;
	log_debug("registry %s: got a bearer token (%s)", r->name, ch.scope ? ch.scope : scope);
	return 0;
}

int registry_call(struct kts_registry *r, struct registry_call *c, char **ret_why)
{
	for (int attempt = 0;; attempt++) {
		_cleanup_free_ char *why = NULL;
		int k = call_once(r, c, &why);

		if (k < 0) {
			if (why && strstr(why, r->name))
				return why_set(ret_why, k, "%s", why);
			if (why && strstr(why, c->what))
				return why_set(ret_why, k, "%s: %s", r->name, why);
			return why_set(ret_why, k, "%s: %s: %s", r->name, c->what,
				       why ? why : strerror(-k));
		}
		if (c->status == 401 && attempt == 0) {
			k = authenticate(r, c, ret_why);
			if (k < 0)
				return k;
			continue;
		}
		if (c->status == 401 || c->status == 403)
			return access_denied(r, c, NULL, ret_why);
		return 0;
	}
}

int registry_status_error(const struct kts_registry *r, const struct registry_call *c,
			  char **ret_why)
{
	_cleanup_free_ char *e = NULL;

	/* the registry's error code and message, else the first line of a text body ("Client
	 * sent an HTTP request to an HTTPS server.") */
	if (registry_error_parse(c->body_mem, c->body_len_mem, &e) < 0 && c->body_mem &&
	    c->body_len_mem > 0)
		e = utf8_printable(c->body_mem, strcspn(c->body_mem, "\r\n"), 100);
	if (e && !*e) {
		free(e);
		e = NULL;
	}
	return why_set(ret_why, c->status == 404 ? -ENOENT : -EIO, "%s: %s: HTTP %ld%s%s%s",
		       r->name, c->what, c->status, e ? " (" : "", strempty(e), e ? ")" : "");
}

/* ------------------------------------------------------------------ manifests and tags */

static int key_check(const struct kts_registry *r, const char *key, char **ret_why)
{
	if (!key || !registry_tag_valid(key, strlen(key)))
		return why_set(ret_why, -EINVAL,
			       "%s: key '%s' is not a valid OCI tag "
			       "([A-Za-z0-9_][A-Za-z0-9._-], at most 128)",
			       r->name, strempty(key));
	return 0;
}

/* The manifest's bytes are what its digest names: checked when the registry says it. */
static int manifest_digest(const struct kts_registry *r, const struct registry_call *c,
			   char ret[72], char **ret_why)
{
	char hex[HASH_SHA256_HEX_SIZE], digest[72];
	int k;

	k = hash_sha256_hex(c->body_mem, c->body_len_mem, hex);
	if (k < 0)
		return k;
	(void) snprintf(digest, sizeof(digest), "sha256:%s", hex);
	if (c->content_digest && startswith(c->content_digest, "sha256:") &&
	    !streq(c->content_digest, digest))
		return why_set(ret_why, -EBADMSG, "%s: %s: its bytes are %s, not %s as the registry says",
			       r->name, c->what, digest, c->content_digest);
	if (ret)
		memcpy(ret, digest, sizeof(digest));
	return 0;
}

int registry_manifest_get(struct kts_registry *r, const char *key, struct kts_oci_manifest *ret,
			  char ret_digest[72], char **ret_why)
{
	_cleanup_(registry_call_done) struct registry_call c = { 0 };
	_cleanup_free_ char *url = NULL, *what = NULL, *why = NULL;
	int k;

	k = key_check(r, key, ret_why);
	if (k < 0)
		return k;
	if (asprintf(&url, "/v2/%s/manifests/%s", r->remote.repository, key) < 0 ||
	    asprintf(&what, "manifest '%s'", key) < 0)
		return -ENOMEM;
	c = (struct registry_call) { .url = url, .what = what, .accept = KTS_OCI_MANIFEST_TYPE,
				     .max = KTS_MANIFEST_MAX };
	k = registry_call(r, &c, ret_why);
	if (k < 0)
		return k;
	if (c.status == 404)
		return 0; /* MANIFEST_UNKNOWN, or NAME_UNKNOWN: no repository yet */
	if (c.status < 200 || c.status > 299)
		return registry_status_error(r, &c, ret_why);
	k = manifest_digest(r, &c, ret_digest, ret_why);
	if (k < 0)
		return k;
	k = registry_manifest_parse(c.body_mem ? c.body_mem : "", c.body_len_mem, ret, &why);
	if (k == -EBADMSG)
		return why_set(ret_why, k, "%s: the manifest tagged '%s' is not a ktscope entry: %s",
			       r->name, key, strempty(why));
	return k < 0 ? k : 1;
}

int registry_has(struct kts_registry *r, const char *key, char **ret_why)
{
	_cleanup_(registry_manifest_done) struct kts_oci_manifest m = { 0 };

	return registry_manifest_get(r, key, &m, NULL, ret_why);
}

static int strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* One page: its tags appended to *tags, *next the next page's path or NULL. */
static int tags_page(struct kts_registry *r, const char *url, char ***tags, size_t *n,
		     char **next, char **ret_why)
{
	_cleanup_(registry_call_done) struct registry_call c = {
		.url = url, .what = "the tags list", .max = KTS_MANIFEST_MAX,
	};
	_cleanup_free_ char *why = NULL;
	char **page = NULL, **p;
	size_t np = 0;
	int k;

	*next = NULL;
	k = registry_call(r, &c, ret_why);
	if (k < 0)
		return k;
	if (c.status == 404)
		return 0; /* NAME_UNKNOWN: nothing pushed to the repository yet */
	if (c.status < 200 || c.status > 299)
		return registry_status_error(r, &c, ret_why);
	k = registry_tags_parse(c.body_mem ? c.body_mem : "", c.body_len_mem, &page, &np, &why);
	if (k < 0)
		return why_set(ret_why, k, "%s: the tags list: %s", r->name, strempty(why));
	p = reallocarray(*tags, *n + np + 1, sizeof(**tags));
	if (!p) {
		strv_free(page, np);
		return -ENOMEM;
	}
	memcpy(p + *n, page, np * sizeof(*page));
	free(page);
	*tags = p;
	*n += np;
	k = c.link ? registry_link_next(c.link, next) : 0;
	if (k == -EBADMSG)
		return why_set(ret_why, k, "%s: the tags list: a Link header that is not a next page "
			       "on the registry", r->name);
	return k < 0 ? k : 0;
}

int registry_tags(struct kts_registry *r, char ***ret, size_t *ret_n, char **ret_why)
{
	_cleanup_free_ char *url = NULL;
	char **tags = NULL;
	size_t n = 0;
	int k = 0;

	if (asprintf(&url, "/v2/%s/tags/list?n=%u", r->remote.repository,
		     r->tags_page ? r->tags_page : KTS_TAGS_PAGE) < 0)
		return -ENOMEM;
	for (unsigned pages = 0; url; pages++) {
		char *next = NULL;

		if (pages == KTS_TAGS_PAGES_MAX) {
			k = why_set(ret_why, -EIO, "%s: the tags list has more than %d pages",
				    r->name, KTS_TAGS_PAGES_MAX);
			break;
		}
		k = tags_page(r, url, &tags, &n, &next, ret_why);
		free(url);
		url = next;
		if (k < 0)
			break;
	}
	if (k < 0) {
		strv_free(tags, n);
		return k;
	}
	if (n > 0)
		qsort(tags, n, sizeof(*tags), strcmp_ptr);
	*ret = tags;
	*ret_n = n;
	return 0;
}

int registry_get_file(struct kts_registry *r, const char *key, const char *title, size_t max,
		      char **ret, size_t *ret_len, char **ret_why)
{
	_cleanup_(registry_manifest_done) struct kts_oci_manifest m = { 0 };
	const struct kts_oci_layer *l = NULL;
	char *mem = NULL;
	int k;

	k = registry_manifest_get(r, key, &m, NULL, ret_why);
	if (k <= 0)
		return k;
	for (size_t i = 0; i < m.n_layers && !l; i++)
		if (streq(m.layers[i].title, title))
			l = &m.layers[i];
	if (!l)
		return why_set(ret_why, -ENOENT, "%s: the entry '%s' has no file '%s'", r->name, key,
			       title);
	if (l->size > max)
		return why_set(ret_why, -EFBIG, "%s: '%s' of the entry '%s' is %" PRIu64
			       " bytes (at most %zu read)", r->name, title, key, l->size, max);
	k = registry_blob_get(r, l, -EBADF, &mem, ret_why);
	if (k < 0)
		return k;
	*ret = mem;
	if (ret_len)
		*ret_len = (size_t) l->size;
	return 1;
}
