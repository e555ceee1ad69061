/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one HTTP client (http.h): libcurl, loaded on first use; the request policy (protocols,
 * redirects that never leave https, CA certificates, timeouts); libcurl's results turned into
 * negative errno and one-line reasons; and two sinks, memory and file (with its SHA-256).
 * The only file that includes curl/curl.h (STYLE.md, "Boundaries").
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* CURLOPT_PROTOCOLS and CURLOPT_REDIR_PROTOCOLS are deprecated since 7.85 in favour of their
 * _STR forms, but they are the fallback for an older libcurl found at run time. */
#define CURL_DISABLE_DEPRECATION 1
#include <curl/curl.h>

#include "http.h"
#include "interrupt.h"
#include "log.h"
#include "macro.h"
#include "hash.h"
#include "util.h"

/* ---- libcurl, loaded on first use -------------------------------------------------------- */

/*
 * libcurl is loaded when the first download needs it, not at start-up. Linked, it and the
 * ~20 libraries it pulls in (TLS, HTTP/2, LDAP, Kerberos, IDN, ...) cost every ktscope
 * command ~8 ms of dynamic loading: a third of `ktscope run`'s own start-up, and of what a
 * cache hit adds to its git status. Its soname is the same on Debian, Fedora and Arch.
 */
#define KTS_LIBCURL "libcurl.so.4"
static struct {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *c);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
} curl;

static void curl_easy_cleanupp(CURL **c)
{
	if (*c)
		curl.easy_cleanup(*c);
}

static void curl_slist_freep(struct curl_slist **l)
{
	if (*l)
		curl.slist_free_all(*l);
}

static int http_load(char **why)
{
	static const struct {
		const char *name;
		size_t offset;
	} syms[] = {
		{ "curl_global_init", offsetof(__typeof__(curl), global_init) },
		{ "curl_easy_init", offsetof(__typeof__(curl), easy_init) },
		{ "curl_easy_setopt", offsetof(__typeof__(curl), easy_setopt) },
		{ "curl_easy_perform", offsetof(__typeof__(curl), easy_perform) },
		{ "curl_easy_getinfo", offsetof(__typeof__(curl), easy_getinfo) },
		{ "curl_easy_cleanup", offsetof(__typeof__(curl), easy_cleanup) },
		{ "curl_easy_strerror", offsetof(__typeof__(curl), easy_strerror) },
		{ "curl_slist_append", offsetof(__typeof__(curl), slist_append) },
		{ "curl_slist_free_all", offsetof(__typeof__(curl), slist_free_all) },
	};
	static bool done;
	void *dl;

	if (done)
		return 0;
	dl = dlopen(KTS_LIBCURL, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		return why_set(why, -ELIBACC,
			       "cannot load %s for downloads: %s (install libcurl: "
			       "Debian libcurl4, Fedora libcurl, Arch curl)",
			       KTS_LIBCURL, dlerror());
	for (size_t i = 0; i < ELEMENTSOF(syms); i++) {
		void *f = dlsym(dl, syms[i].name);

		if (!f) {
			(void) dlclose(dl);
			return why_set(why, -ELIBBAD, "%s has no %s", KTS_LIBCURL, syms[i].name);
		}
		memcpy((char *) &curl + syms[i].offset, &f, sizeof(f));
	}
	if (curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		(void) dlclose(dl);
		return why_set(why, -EIO, "cannot initialise libcurl");
	}
	/* Kept loaded for the life of the process, as libcurl's global state wants. */
	done = true;
	return 0;
}

/* ---- one transfer ------------------------------------------------------------------------ */

struct transfer {
	const struct http_request *req;
	http_write_fn write;
	void *write_userdata;
	char head[64]; /* the first bytes of the body, for HTML sniffing */
	size_t head_len;
	int error;     /* negative errno the sink returned */
	char *headers; /* the current response's header lines, when req->header */
	size_t headers_len;
	bool headers_failed; /* could not keep them */
	bool https;          /* the request started on https */
	char errbuf[CURL_ERROR_SIZE];
};

static const char *what_of(const struct http_request *req)
{
	return req->what ? req->what : "the data";
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t n = size * nmemb, c = MIN(n, sizeof(t->head) - t->head_len);
	int r;

	if (interrupt_pending()) { /* a stop was requested (interrupt.h) */
		t->error = -EINTR;
		return 0;
	}
	memcpy(t->head + t->head_len, ptr, c);
	t->head_len += c;
	r = t->write(ptr, n, t->write_userdata);
	if (r < 0) {
		t->error = r;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	}
	return n;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct transfer *t = userdata;

	if (dlnow > 0)
		t->req->progress((uint64_t) dlnow, dltotal > 0 ? (uint64_t) dltotal : 0,
				 t->req->userdata);
	return 0;
}

/* Keeps the header lines of the latest response: a status line starts a new one. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t n = size * nmemb;
	char *b;

	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
		t->headers_len = 0;
	b = realloc(t->headers, t->headers_len + n + 1);
	if (!b) {
		t->headers_failed = true;
		return 0;
	}
	memcpy(b + t->headers_len, ptr, n);
	t->headers = b;
	t->headers_len += n;
	t->headers[t->headers_len] = '\0';
	return n;
}

/* Hands the final response's headers to req->header, one "Name: value" line at a time. */
static int deliver_headers(struct transfer *t)
{
	char *line = t->headers, *eol;
	int r;

	for (; line && *line; line = eol) {
		char *colon, *value, *end;

		eol = strchr(line, '\n');
		eol = eol ? eol + 1 : line + strlen(line);
		colon = memchr(line, ':', (size_t) (eol - line));
		if (!colon || startswith(line, "HTTP/"))
			continue;
		*colon = '\0';
		for (value = colon + 1; *value == ' ' || *value == '\t'; value++)
			;
		for (end = eol; end > value && isspace((unsigned char) end[-1]); end--)
			;
		*end = '\0';
		r = t->req->header(line, value, t->req->userdata);
		if (r < 0)
			return r;
	}
	return 0;
}

static int set_protocols(CURL *c, bool https, char **why)
{
	/* From https only to https: a redirect must not downgrade the transport. */
	const char *redir = https ? "https" : "http,https";
	long redir_mask = https ? CURLPROTO_HTTPS : (CURLPROTO_HTTP | CURLPROTO_HTTPS);
	CURLcode a = CURLE_UNKNOWN_OPTION, b = CURLE_UNKNOWN_OPTION;

#if LIBCURL_VERSION_NUM >= 0x075500
	a = curl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
	b = curl.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, redir);
#endif
	/* The libcurl found at run time may predate the _STR options (7.85). */
	if (a != CURLE_OK)
		a = curl.easy_setopt(c, CURLOPT_PROTOCOLS,
				     (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_FILE));
	if (b != CURLE_OK)
		b = curl.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, redir_mask);
	if (a != CURLE_OK || b != CURLE_OK)
		return why_set(why, -EOPNOTSUPP, "%s cannot restrict redirects to %s", KTS_LIBCURL,
			       redir);
	return 0;
}

static int set_ca(CURL *c, const struct http_request *req, char **why)
{
	const char *ca = req->ca_file ? req->ca_file : getenv_nonempty("KTSCOPE_CA_CERT");
	_cleanup_close_ int fd = -EBADF;

	if (!ca)
		return 0;
	/* A typo would otherwise read as "certificate problem" on every https URL. */
	fd = open(ca, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return why_set(why, negative_errno(), "cannot read the CA certificates '%s'%s: %m",
			       ca, req->ca_file ? "" : " (KTSCOPE_CA_CERT)");
	if (curl.easy_setopt(c, CURLOPT_CAINFO, ca) != CURLE_OK ||
	    curl.easy_setopt(c, CURLOPT_CAPATH, NULL) != CURLE_OK)
		return why_set(why, -EOPNOTSUPP, "%s cannot use the CA certificates '%s'",
			       KTS_LIBCURL, ca);
	return 0;
}

static int set_headers(CURL *c, const struct http_request *req, struct curl_slist **list)
{
	for (const char *const *h = req->headers; h && *h; h++) {
		struct curl_slist *l = curl.slist_append(*list, *h);

		if (!l)
			return -ENOMEM;
		*list = l;
	}
	if (*list)
		(void) curl.easy_setopt(c, CURLOPT_HTTPHEADER, *list);
	return 0;
}

static int transfer_setup(CURL *c, struct transfer *t, struct curl_slist **list, char **why)
{
	const struct http_request *req = t->req;
	int r;

	(void) curl.easy_setopt(c, CURLOPT_URL, req->url);
	(void) curl.easy_setopt(c, CURLOPT_ERRORBUFFER, t->errbuf);
	(void) curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	(void) curl.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	(void) curl.easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	/* Bounded connect; no total timeout (a tarball may take minutes), but a stalled
	 * transfer (under 1 KiB/s for a minute) is abandoned. */
	(void) curl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	(void) curl.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	(void) curl.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	(void) curl.easy_setopt(c, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	r = set_protocols(c, t->https, why);
	if (r >= 0)
		r = set_ca(c, req, why);
	if (r >= 0)
		r = set_headers(c, req, list);
	if (r < 0)
		return r;
	(void) curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	(void) curl.easy_setopt(c, CURLOPT_WRITEDATA, t);
	if (req->progress) {
		(void) curl.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		(void) curl.easy_setopt(c, CURLOPT_XFERINFODATA, t);
		(void) curl.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	if (req->header) {
		(void) curl.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		(void) curl.easy_setopt(c, CURLOPT_HEADERDATA, t);
	}
	return 0;
}

/* Where a refused redirect was going (curl stops on the URL it will not follow), or NULL when
 * the request never left url (the protocol of url itself is what libcurl lacks). */
static const char *refused_target(CURL *c, const char *url)
{
	const char *u = NULL;

	if (curl.easy_getinfo(c, CURLINFO_REDIRECT_URL, &u) == CURLE_OK && u && !streq(u, url))
		return u;
	if (curl.easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &u) == CURLE_OK && u && !streq(u, url))
		return u;
	return NULL;
}

/* libcurl's result as negative errno, with a reason naming the URL or the site. */
static int transfer_error(CURL *c, struct transfer *t, CURLcode cc, char **why)
{
	const struct http_request *req = t->req;
	const char *msg = *t->errbuf ? t->errbuf : curl.easy_strerror(cc);
	const char *role = req->site_role ? req->site_role : "server";
	const char *site = req->site ? req->site : req->url;
	const char *target;

	switch (cc) {
	case CURLE_WRITE_ERROR:
		if (t->error == -EFBIG)
			return why_set(why, -EFBIG, "%s from %s is implausibly large", what_of(req),
				       req->url);
		if (t->headers_failed || t->error == 0)
			return why_set(why, -ENOMEM, "out of memory downloading %s", req->url);
		return why_set(why, t->error, "cannot store %s from %s: %s", what_of(req), req->url,
			       strerror(-t->error));
	case CURLE_UNSUPPORTED_PROTOCOL:
		target = t->https ? refused_target(c, req->url) : NULL;
		if (target)
			return why_set(why, -EPERM,
				       "refused the redirect from %s to %s: a download "
				       "that starts on https stays on https",
				       req->url, target);
		break;
	case CURLE_COULDNT_CONNECT:
		return why_set(why, -ECONNREFUSED, "cannot connect to %s '%s': %s", role, site,
			       msg);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return why_set(why, -EHOSTUNREACH, "cannot resolve the host of %s '%s': %s", role,
			       site, msg);
	case CURLE_OPERATION_TIMEDOUT:
		return why_set(why, -ETIMEDOUT, "%s '%s' timed out: %s", role, site, msg);
	case CURLE_FILE_COULDNT_READ_FILE:
	case CURLE_REMOTE_FILE_NOT_FOUND:
		return why_set(why, -ENOENT, "%s not found: %s", what_of(req), req->url);
	default:
		break;
	}
	return why_set(why, -EIO, "cannot download %s from %s: %s", what_of(req), req->url, msg);
}

/* An HTML page (error page, captive portal, directory index) rather than data. */
static bool looks_like_html(const char *head, size_t n)
{
	size_t i = 0;

	if (n >= 3 && (unsigned char) head[0] == 0xef && (unsigned char) head[1] == 0xbb &&
	    (unsigned char) head[2] == 0xbf)
		i = 3;
	while (i < n && isspace((unsigned char) head[i]))
		i++;
	return (n - i >= 9 && strncasecmp(head + i, "<!doctype", 9) == 0) ||
	       (n - i >= 5 && strncasecmp(head + i, "<html", 5) == 0) ||
	       (n - i >= 5 && strncasecmp(head + i, "<head", 5) == 0);
}

/* Judges a completed transfer's status and body. */
static int transfer_check(struct transfer *t, long status, const char *ctype, char **why)
{
	const struct http_request *req = t->req;
	const char *role = req->site_role ? req->site_role : "server";

	/* status 0: file:// has no HTTP status. */
	if (!req->any_status && (status == 404 || status == 410))
		return why_set(why, -ENOENT, "%s not found: %s answered HTTP %ld", what_of(req),
			       req->url, status);
	if (!req->any_status && status != 0 && (status < 200 || status > 299))
		return why_set(why, -EIO, "cannot download %s: %s answered HTTP %ld", what_of(req),
			       req->url, status);
	if (!req->allow_html && (status == 0 || (status >= 200 && status <= 299)) &&
	    ((ctype && strcasestr(ctype, "text/html")) || looks_like_html(t->head, t->head_len)))
		return why_set(why, -EMEDIUMTYPE,
			       "%s answered with an HTML page instead of %s%s "
			       "(is the %s URL right?)",
			       req->url, req->what ? "the " : "", what_of(req), role);
	return 0;
}

int http_get(const struct http_request *req, http_write_fn write, void *write_userdata,
	     long *ret_status, char **ret_why)
{
	_cleanup_(curl_easy_cleanupp) CURL *c = NULL;
	_cleanup_(curl_slist_freep) struct curl_slist *list = NULL;
	struct transfer t = { .req = req, .write = write, .write_userdata = write_userdata };
	const char *ctype = NULL;
	long status = 0;
	CURLcode cc;
	int r;

	if (!req || !req->url || !write)
		return -EINVAL;
	r = http_load(ret_why);
	if (r < 0)
		return r;
	c = curl.easy_init();
	if (!c)
		return -ENOMEM;
	t.https = strncasecmp(req->url, "https:", 6) == 0;
	r = transfer_setup(c, &t, &list, ret_why);
	if (r < 0)
		return r;

	cc = curl.easy_perform(c);
	(void) curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	(void) curl.easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
	log_debug("http: GET %s → %s, HTTP %ld, %s", req->url, curl.easy_strerror(cc), status,
		  strempty(ctype));
	if (cc != CURLE_OK)
		r = transfer_error(c, &t, cc, ret_why);
	else
		r = transfer_check(&t, status, ctype, ret_why);
	if (r >= 0 && req->header)
		r = t.headers_failed ? -ENOMEM : deliver_headers(&t);
	free(t.headers);
	if (r < 0)
		return r;
	if (ret_status)
		*ret_status = status;
	return 0;
}

/* ---- sinks ------------------------------------------------------------------------------- */

struct memory_sink {
	char *buf;
	size_t len, cap, max;
};

static int memory_write(const void *data, size_t n, void *userdata)
{
	struct memory_sink *m = userdata;

	if (n > m->max || m->len > m->max - n)
		return -EFBIG;
	if (m->len + n + 1 > m->cap) {
		size_t cap = MAX(m->cap * 2, m->len + n + 1);
		char *b = realloc(m->buf, cap);

		if (!b)
			return -ENOMEM;
		m->buf = b;
		m->cap = cap;
	}
	memcpy(m->buf + m->len, data, n);
	m->len += n;
	m->buf[m->len] = '\0';
	return 0;
}

int http_get_memory(const struct http_request *req, size_t max, char **ret_body, size_t *ret_len,
		    long *ret_status, char **ret_why)
{
	struct memory_sink m = { .max = max };
	int r;

	if (!ret_body)
		return -EINVAL;
	r = http_get(req, memory_write, &m, ret_status, ret_why);
	if (r >= 0 && !m.buf) {
		m.buf = strdup("");
		if (!m.buf)
			r = -ENOMEM;
	}
	if (r < 0) {
		free(m.buf);
		return r;
	}
	*ret_body = m.buf;
	if (ret_len)
		*ret_len = m.len;
	return 0;
}

struct file_sink {
	int fd;
	struct hash_sha256 sha; /* streaming digest of what went to fd */
};

static int file_write(const void *data, size_t n, void *userdata)
{
	struct file_sink *f = userdata;
	int r;

	r = write_all(f->fd, data, n);
	if (r < 0)
		return r;
	return hash_sha256_update(&f->sha, data, n);
}

static void file_sink_done(struct file_sink *f)
{
	hash_sha256_done(&f->sha);
}

int http_get_file(const struct http_request *req, const char *path, char ret_sha256[65],
		  char **ret_why)
{
	_cleanup_(file_sink_done) struct file_sink f = { .fd = -EBADF };
	_cleanup_close_ int fd = -EBADF;
	uint8_t d[HASH_SHA256_SIZE];
	int r;

	if (!path)
		return -EINVAL;
	r = hash_sha256_init(&f.sha);
	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return why_set(ret_why, negative_errno(), "cannot create '%s': %m", path);
	f.fd = fd;
	r = http_get(req, file_write, &f, NULL, ret_why);
	if (r >= 0 && fsync(fd) < 0)
		r = why_set(ret_why, negative_errno(), "cannot write '%s': %m", path);
	if (r >= 0)
		r = hash_sha256_final(&f.sha, d);
	if (r < 0) {
		(void) unlink(path);
		return r;
	}
	if (ret_sha256)
		hash_digest_to_hex(d, sizeof(d), ret_sha256);
	return 0;
}
