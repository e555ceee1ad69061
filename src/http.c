/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one HTTP client (http.h): libcurl, loaded on first use; the request policy (protocols,
 * redirects that never leave https, plain http only to loopback for anything but GET, CA
 * certificates, timeouts); the methods and request bodies (memory or a file, always with a
 * Content-Length); libcurl's results turned into negative errno and one-line reasons; and two
 * sinks, memory and file (with its SHA-256). The only file that includes curl/curl.h
 * (STYLE.md, "Boundaries"). Request headers are never logged: they carry credentials.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* CURLOPT_PROTOCOLS and CURLOPT_REDIR_PROTOCOLS are deprecated since 7.85 in favour of their
 * _STR forms, but they are the fallback for an older libcurl found at run time. */
#define CURL_DISABLE_DEPRECATION 1
#include <curl/curl.h>

#include "dlopen-util.h"
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
	void (*easy_reset)(CURL *c);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
	CURLU *(*url)(void);
	CURLUcode (*url_set)(CURLU *u, CURLUPart part, const char *content, unsigned int flags);
	CURLUcode (*url_get)(CURLU *u, CURLUPart part, char **content, unsigned int flags);
	void (*url_cleanup)(CURLU *u);
	void (*free)(void *p);
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

static void curl_url_cleanupp(CURLU **u)
{
	if (*u)
		curl.url_cleanup(*u);
}

static void curl_freep(char **p)
{
	if (*p)
		curl.free(*p);
}

static struct dlopen_lib curl_lib = {
	.soname = KTS_LIBCURL,
	.name = "libcurl",
	.purpose = "for downloads",
	.install = "Debian libcurl4, Fedora libcurl, Arch curl",
};

int http_load(char **why)
{
	static bool done;
	int r;

	if (done)
		return 0;
	r = dlopen_lib_load(&curl_lib, why,
			    DLSYM_ARG_PTR(curl.global_init, curl_global_init),
			    DLSYM_ARG_PTR(curl.easy_init, curl_easy_init),
			    DLSYM_ARG_PTR(curl.easy_setopt, curl_easy_setopt),
			    DLSYM_ARG_PTR(curl.easy_perform, curl_easy_perform),
			    DLSYM_ARG_PTR(curl.easy_getinfo, curl_easy_getinfo),
			    DLSYM_ARG_PTR(curl.easy_cleanup, curl_easy_cleanup),
			    DLSYM_ARG_PTR(curl.easy_reset, curl_easy_reset),
			    DLSYM_ARG_PTR(curl.easy_strerror, curl_easy_strerror),
			    DLSYM_ARG_PTR(curl.slist_append, curl_slist_append),
			    DLSYM_ARG_PTR(curl.slist_free_all, curl_slist_free_all),
			    DLSYM_ARG_PTR(curl.url, curl_url),
			    DLSYM_ARG_PTR(curl.url_set, curl_url_set),
			    DLSYM_ARG_PTR(curl.url_get, curl_url_get),
			    DLSYM_ARG_PTR(curl.url_cleanup, curl_url_cleanup),
			    DLSYM_ARG_PTR(curl.free, curl_free),
			    NULL);
	if (r < 0)
		return r;
	if (curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return why_set(why, -EIO, "cannot initialise libcurl");
	/* libcurl stays loaded for the life of the process, as its global state wants. */
	done = true;
	return 0;
}

/* ---- sessions: one easy handle, its connections kept alive ------------------------------ */

/*
 * libcurl keeps an easy handle's connections open after a transfer and reuses one for the
 * next request to the same origin (and TLS settings). A session is such a handle, created at
 * its first request; before and after each request its options are reset (curl_easy_reset()
 * keeps the live connections, drops every option: headers, method, body, CA, callbacks), so
 * each request is set up from nothing, exactly as with a handle of its own, and the handle
 * never holds a pointer to a finished request's state.
 */
struct http_session {
	CURL *handle; /* NULL until the first request (libcurl is loaded then) */
};

int http_session_new(struct http_session **ret)
{
	struct http_session *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

void http_session_free(struct http_session *s)
{
	if (!s)
		return;
	if (s->handle)
		curl.easy_cleanup(s->handle);
	free(s);
}

/* The handle for a request: the session's, reset, or a new one of its own (*ret_own). */
static CURL *handle_get(struct http_session *s, CURL **ret_own)
{
	if (!s)
		return (*ret_own = curl.easy_init());
	if (!s->handle)
		s->handle = curl.easy_init();
	else
		curl.easy_reset(s->handle);
	return s->handle;
}

/* After a request on a session's handle: no option outlives it. */
static void session_release(struct http_session **s)
{
	if (*s && (*s)->handle)
		curl.easy_reset((*s)->handle);
}

/* ---- the method and the body ------------------------------------------------------------- */

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_PUT,
	HTTP_POST,
	HTTP_PATCH,
	HTTP_DELETE,
};

static const char *const method_names[] = {
	[HTTP_GET] = "GET",   [HTTP_HEAD] = "HEAD",   [HTTP_PUT] = "PUT",
	[HTTP_POST] = "POST", [HTTP_PATCH] = "PATCH", [HTTP_DELETE] = "DELETE",
};

static bool method_has_body(enum http_method m)
{
	return m == HTTP_PUT || m == HTTP_POST || m == HTTP_PATCH;
}

/* The request body: memory or an open regular file, read from pos (curl may rewind it). */
struct body {
	const char *data; /* memory, or NULL */
	int fd;           /* the file, or -EBADF */
	const char *path;
	uint64_t size, pos;
};

static int body_open(struct body *b, const struct http_request *req, char **why)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	*b = (struct body){ .data = req->body, .fd = -EBADF, .size = req->body_len };
	if (!req->body_file)
		return 0;
	fd = open(req->body_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return why_set(why, negative_errno(), "cannot open '%s' to send it: %m",
			       req->body_file);
	if (fstat(fd, &st) < 0)
		return why_set(why, negative_errno(), "cannot stat '%s': %m", req->body_file);
	if (!S_ISREG(st.st_mode))
		return why_set(why, -EINVAL, "cannot send '%s': not a regular file",
			       req->body_file);
	b->fd = TAKE_FD(fd);
	b->path = req->body_file;
	b->size = (uint64_t) st.st_size;
	return 0;
}

/* ---- one transfer ------------------------------------------------------------------------ */

struct transfer {
	const struct http_request *req;
	enum http_method method;
	http_write_fn write; /* may be NULL: the body is dropped */
	void *write_userdata;
	struct body body;
	char head[64]; /* the first bytes of the body, for HTML sniffing */
	size_t head_len;
	int error;     /* negative errno the sink returned, or the body's read error */
	bool reading;  /* error came from reading the body, not from the sink */
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

/* For messages: "download the data from URL", "upload the blob to URL", ... */
static const char *verb_of(const struct transfer *t)
{
	return method_has_body(t->method) ? "upload"
	       : t->method == HTTP_DELETE ? "delete"
					  : "download";
}

static const char *prep_of(const struct transfer *t)
{
	return method_has_body(t->method) ? "to" : t->method == HTTP_DELETE ? "at" : "from";
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
	r = t->write ? t->write(ptr, n, t->write_userdata) : 0;
	if (r < 0) {
		t->error = r;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	}
	return n;
}

/* The body for curl, from b->pos; a file that shrinks while it is sent is an error (the
 * Content-Length was promised). */
static size_t on_read(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct transfer *t = userdata;
	struct body *b = &t->body;
	size_t n = (size_t) MIN((uint64_t) (size * nitems), b->size - b->pos);
	ssize_t k;

	if (interrupt_pending()) {
		t->error = -EINTR;
		return CURL_READFUNC_ABORT;
	}
	if (n == 0)
		return 0;
	if (!b->path) {
		memcpy(buf, b->data + b->pos, n);
		b->pos += n;
		return n;
	}
	do
		k = pread(b->fd, buf, n, (off_t) b->pos);
	while (k < 0 && errno == EINTR);
	if (k <= 0) {
		t->error = k < 0 ? negative_errno() : -ENODATA;
		t->reading = true;
		return CURL_READFUNC_ABORT;
	}
	b->pos += (uint64_t) k;
	return (size_t) k;
}

/* curl rewinds the body to send it again (a redirect, an authentication round). */
static int on_seek(void *userdata, curl_off_t offset, int origin)
{
	struct transfer *t = userdata;

	if (origin != SEEK_SET || offset < 0 || (uint64_t) offset > t->body.size)
		return CURL_SEEKFUNC_FAIL;
	t->body.pos = (uint64_t) offset;
	return CURL_SEEKFUNC_OK;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct transfer *t = userdata;

	/* Called at least once a second, also while no byte moves: a stop requested during a
	 * stalled transfer ends it here (on_write and on_read see only moving data). */
	if (interrupt_pending()) {
		t->error = -EINTR;
		return 1; /* CURLE_ABORTED_BY_CALLBACK */
	}
	if (!t->req->progress)
		return 0;
	/* A request with a body reports what it sent; any other what it received. */
	if (method_has_body(t->method)) {
		if (ulnow > 0)
			t->req->progress((uint64_t) ulnow, t->body.size, t->req->userdata);
	} else if (dlnow > 0)
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

static int set_protocols(CURL *c, const struct transfer *t, char **why)
{
	/* From https only to https: a redirect must not downgrade the transport. file:// is
	 * for reading only. */
	const char *protos = t->method == HTTP_GET ? "http,https,file" : "http,https";
	long protos_mask = CURLPROTO_HTTP | CURLPROTO_HTTPS |
			   (t->method == HTTP_GET ? CURLPROTO_FILE : 0);
	const char *redir = t->https ? "https" : "http,https";
	long redir_mask = t->https ? CURLPROTO_HTTPS : (CURLPROTO_HTTP | CURLPROTO_HTTPS);
	CURLcode a = CURLE_UNKNOWN_OPTION, b = CURLE_UNKNOWN_OPTION;

#if LIBCURL_VERSION_NUM >= 0x075500
	a = curl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, protos);
	b = curl.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, redir);
#endif
	/* The libcurl found at run time may predate the _STR options (7.85). */
	if (a != CURLE_OK)
		a = curl.easy_setopt(c, CURLOPT_PROTOCOLS, protos_mask);
	if (b != CURLE_OK)
		b = curl.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, redir_mask);
	if (a != CURLE_OK || b != CURLE_OK)
		return why_set(why, -EOPNOTSUPP, "%s cannot restrict %s to %s", KTS_LIBCURL,
			       a != CURLE_OK ? "protocols" : "redirects",
			       a != CURLE_OK ? protos : redir);
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

static int set_headers(CURL *c, const struct transfer *t, struct curl_slist **list)
{
	for (const char *const *h = t->req->headers; h && *h; h++) {
		struct curl_slist *l = curl.slist_append(*list, *h);

		if (!l)
			return -ENOMEM;
		*list = l;
	}
	/* No "Expect: 100-continue" before a body: a server that ignores it (many do) costs
	 * every upload a second's wait. */
	if (method_has_body(t->method)) {
		struct curl_slist *l = curl.slist_append(*list, "Expect:");

		if (!l)
			return -ENOMEM;
		*list = l;
	}
	if (*list)
		(void) curl.easy_setopt(c, CURLOPT_HTTPHEADER, *list);
	return 0;
}

/*
 * Every socket close-on-exec: a session's connection stays open between requests, e.g. while
 * `build --remote` builds after a miss, and must not be inherited by make and the compilers.
 */
static curl_socket_t on_open_socket(void *userdata, curlsocktype purpose,
				    struct curl_sockaddr *a)
{
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* The method, and the body as an upload of a known size (a Content-Length, even 0). */
static void set_method(CURL *c, struct transfer *t)
{
	switch (t->method) {
	case HTTP_GET:
		break;
	case HTTP_HEAD:
		(void) curl.easy_setopt(c, CURLOPT_NOBODY, 1L);
		break;
	case HTTP_DELETE:
		(void) curl.easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
		break;
	case HTTP_PUT:
	case HTTP_POST:
	case HTTP_PATCH:
		(void) curl.easy_setopt(c, CURLOPT_UPLOAD, 1L);
		(void) curl.easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t) t->body.size);
		(void) curl.easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		(void) curl.easy_setopt(c, CURLOPT_READDATA, t);
		(void) curl.easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		(void) curl.easy_setopt(c, CURLOPT_SEEKDATA, t);
		/* UPLOAD is a PUT; the others keep its body and Content-Length. */
		if (t->method != HTTP_PUT)
			(void) curl.easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_names[t->method]);
		break;
	}
}

static int transfer_setup(CURL *c, struct transfer *t, struct curl_slist **list, char **why)
{
	const struct http_request *req = t->req;
	int r;

	(void) curl.easy_setopt(c, CURLOPT_URL, req->url);
	(void) curl.easy_setopt(c, CURLOPT_ERRORBUFFER, t->errbuf);
	(void) curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	(void) curl.easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	(void) curl.easy_setopt(c, CURLOPT_FOLLOWLOCATION, req->no_redirect ? 0L : 1L);
	(void) curl.easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	/* Bounded connect; no total timeout (a tarball may take minutes), but a stalled
	 * transfer (under 1 KiB/s for a minute) is abandoned. */
	(void) curl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	(void) curl.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	(void) curl.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	(void) curl.easy_setopt(c, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	r = set_protocols(c, t, why);
	if (r >= 0)
		r = set_ca(c, req, why);
	if (r >= 0)
		r = set_headers(c, t, list);
	if (r < 0)
		return r;
	set_method(c, t);
	(void) curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	(void) curl.easy_setopt(c, CURLOPT_WRITEDATA, t);
	(void) curl.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	(void) curl.easy_setopt(c, CURLOPT_XFERINFODATA, t);
	(void) curl.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
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

/* A failure of the sink (CURLE_WRITE_ERROR) or of the body (an aborted read). */
static int callback_error(struct transfer *t, char **why)
{
	const struct http_request *req = t->req;

	if (t->reading)
		return why_set(why, t->error == -ENODATA ? -EIO : t->error,
			       "cannot send '%s' to %s: %s", t->body.path, req->url,
			       t->error == -ENODATA ? "it shrank while it was sent"
						    : strerror(-t->error));
	if (t->error == -EFBIG)
		return why_set(why, -EFBIG, "%s from %s is implausibly large", what_of(req),
			       req->url);
	if (t->error == -EINTR)
		return why_set(why, -EINTR, "interrupted: cannot %s %s %s %s", verb_of(t),
			       what_of(req), prep_of(t), req->url);
	if (t->headers_failed || t->error == 0)
		return why_set(why, -ENOMEM, "out of memory: cannot %s %s %s %s", verb_of(t),
			       what_of(req), prep_of(t), req->url);
	return why_set(why, t->error, "cannot store %s from %s: %s", what_of(req), req->url,
		       strerror(-t->error));
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
	case CURLE_ABORTED_BY_CALLBACK:
		return callback_error(t, why);
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
	return why_set(why, -EIO, "cannot %s %s %s %s: %s", verb_of(t), what_of(req), prep_of(t),
		       req->url, msg);
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
	bool redirect = req->no_redirect && status >= 300 && status <= 399;

	/* status 0: file:// has no HTTP status. */
	if (!req->any_status && (status == 404 || status == 410))
		return why_set(why, -ENOENT, "%s not found: %s answered HTTP %ld", what_of(req),
			       req->url, status);
	if (!req->any_status && !redirect && status != 0 && (status < 200 || status > 299))
		return why_set(why, -EIO, "cannot %s %s: %s answered HTTP %ld", verb_of(t),
			       what_of(req), req->url, status);
	/* Only a GET's body is data to sniff. */
	if (t->method == HTTP_GET && t->write && !req->allow_html &&
	    (status == 0 || (status >= 200 && status <= 299)) &&
	    ((ctype && strcasestr(ctype, "text/html")) || looks_like_html(t->head, t->head_len)))
		return why_set(why, -EMEDIUMTYPE,
			       "%s answered with an HTML page instead of %s%s "
			       "(is the %s URL right?)",
			       req->url, req->what ? "the " : "", what_of(req), role);
	return 0;
}

static void transfer_done(struct transfer *t)
{
	t->body.fd = safe_close(t->body.fd);
	free(t->headers);
}

/* One request, validated by the caller: performs it, judges it, hands the headers over. */
static int transfer_run(struct transfer *t, long *ret_status, char **ret_why)
{
	_cleanup_(curl_easy_cleanupp) CURL *own = NULL;
	_cleanup_(curl_slist_freep) struct curl_slist *list = NULL;
	_cleanup_(session_release) struct http_session *session = t->req->session;
	const struct http_request *req = t->req;
	const char *ctype = NULL;
	long status = 0;
	CURLcode cc;
	CURL *c;
	int r;

	c = handle_get(session, &own);
	if (!c)
		return -ENOMEM;
	t->https = strncasecmp(req->url, "https:", 6) == 0;
	r = transfer_setup(c, t, &list, ret_why);
	if (r < 0)
		return r;

	cc = curl.easy_perform(c);
	(void) curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	(void) curl.easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
	/* The URL and the outcome only: request headers may carry credentials. */
	log_debug("http: %s %s → %s, HTTP %ld, %s", method_names[t->method], req->url,
		  curl.easy_strerror(cc), status, strempty(ctype));
	if (cc != CURLE_OK)
		r = transfer_error(c, t, cc, ret_why);
	else
		r = transfer_check(t, status, ctype, ret_why);
	if (r >= 0 && req->header)
		r = t->headers_failed ? -ENOMEM : deliver_headers(t);
	if (r < 0)
		return r;
	if (ret_status)
		*ret_status = status;
	return 0;
}

/* ---- http_send(): methods, bodies, the plain-http rule ----------------------------------- */

static int method_parse(const char *name, enum http_method *ret)
{
	for (size_t i = 0; i < ELEMENTSOF(method_names); i++)
		if (streq(name ? name : "GET", method_names[i])) {
			*ret = (enum http_method) i;
			return 0;
		}
	return -EINVAL;
}

static bool strcaseeq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

static bool host_is_loopback(const char *host)
{
	return strcaseeq(host, "localhost") || streq(host, "127.0.0.1") || streq(host, "[::1]") ||
	       streq(host, "::1");
}

/* An Authorization header (credentials, a token) among the request's. */
static bool sends_credentials(const struct http_request *req)
{
	for (const char *const *h = req->headers; h && *h; h++)
		if (strncasecmp(*h, "Authorization:", 14) == 0)
			return true;
	return false;
}

/*
 * What a request other than GET, or a GET with credentials, may be sent to: http or https
 * (not file://), and plain http only to a loopback host unless req->insecure. The URL is
 * parsed by libcurl itself, so the host judged is the host connected to.
 */
static int check_url(const struct http_request *req, enum http_method m, char **why)
{
	_cleanup_(curl_url_cleanupp) CURLU *u = NULL;
	_cleanup_(curl_freep) char *scheme = NULL, *host = NULL;

	u = curl.url();
	if (!u)
		return -ENOMEM;
	if (curl.url_set(u, CURLUPART_URL, req->url, 0) != CURLUE_OK ||
	    curl.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		return why_set(why, -EINVAL, "not a valid URL: '%s'", req->url);
	if (m == HTTP_GET && !sends_credentials(req))
		return 0;
	if (!strcaseeq(scheme, "http") && !strcaseeq(scheme, "https"))
		return why_set(why, -EINVAL,
			       "cannot %s '%s': only http and https URLs are supported",
			       method_names[m], req->url);
	if (!strcaseeq(scheme, "http") || req->insecure)
		return 0;
	if (curl.url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		return why_set(why, -EINVAL, "not a valid URL: '%s'", req->url);
	if (!host_is_loopback(host))
		return why_set(why, -EPERM,
			       "refused to %s %s over plain http%s to '%s': only localhost may be "
			       "reached without TLS unless insecure connections are allowed",
			       method_names[m], req->url, m == HTTP_GET ? " with credentials" : "",
			       host);
	return 0;
}

static int send_validate(const struct http_request *req, enum http_method *ret_method)
{
	enum http_method m;

	if (!req || !req->url || method_parse(req->method, &m) < 0)
		return -EINVAL;
	if ((req->body_len && !req->body) || (req->body_file && (req->body || req->body_len)))
		return -EINVAL;
	if (!method_has_body(m) && (req->body || req->body_file))
		return -EINVAL;
	*ret_method = m;
	return 0;
}

int http_get(const struct http_request *req, http_write_fn write, void *write_userdata,
	     long *ret_status, char **ret_why)
{
	if (!req || !write)
		return -EINVAL;
	/* The fields beyond GET are http_send()'s. */
	if ((req->method && !streq(req->method, "GET")) || req->body || req->body_len ||
	    req->body_file || req->no_redirect || req->insecure)
		return -EINVAL;
	return http_send(req, write, write_userdata, ret_status, ret_why);
}

int http_send(const struct http_request *req, http_write_fn write, void *write_userdata,
	      long *ret_status, char **ret_why)
{
	_cleanup_(transfer_done) struct transfer t = {
		.req = req,
		.write = write,
		.write_userdata = write_userdata,
		.body.fd = -EBADF,
	};
	int r;

	r = send_validate(req, &t.method);
	if (r < 0)
		return r;
	r = http_load(ret_why);
	if (r >= 0)
		r = check_url(req, t.method, ret_why);
	if (r >= 0 && method_has_body(t.method))
		r = body_open(&t.body, req, ret_why);
	if (r < 0)
		return r;
	return transfer_run(&t, ret_status, ret_why);
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
