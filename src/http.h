/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The one HTTP client (DESIGN §2): GET over https, http and file:// URLs through libcurl,
 * which is loaded with dlopen() on the first request, not at start-up (see http.c). Used for
 * kernel.org downloads (source-*.c) and meant for the OCI registry client as well.
 *
 * Policy, the same for every caller:
 *   - redirects are followed (at most 5), but never away from https: a request whose URL is
 *     https may be redirected to https URLs only (-EPERM, naming both URLs); an http URL may
 *     be redirected to http or https;
 *   - TLS peers are verified against the system's CAs, or, in place of them, the PEM file
 *     req->ca_file, else the one $KTSCOPE_CA_CERT names (a private CA: a local mirror or
 *     registry);
 *   - connecting is bounded (10 s); a transfer under 1 KiB/s for a minute is abandoned;
 *     there is no total timeout (a tarball may take minutes).
 *
 * Errors are negative errno with a one-line explanation in *ret_why (malloc'd, caller frees;
 * ret_why may be NULL; written on failure only, and not when it could not be allocated):
 *   -ENOENT        HTTP 404 or 410, or a missing file:// path
 *   -ECONNREFUSED  cannot connect          -EHOSTUNREACH  cannot resolve the host
 *   -ETIMEDOUT     connect timed out or the transfer stalled
 *   -EPERM         a redirect that would leave https was refused; plain http to a host that
 *                  is not loopback without insecure (http_send(), see insecure below)
 *   -EMEDIUMTYPE   an HTML page where data was expected (unless allow_html)
 *   -EFBIG         a body larger than http_get_memory()'s limit
 *   -EIO           any other transfer failure, or an HTTP status other than 2xx (unless
 *                  any_status); write errors of the sink as the sink returned them
 *   -ELIBACC       libcurl could not be loaded (-ELIBBAD: it lacks a function we need)
 *   -EINVAL        no URL; -ENOENT/-EACCES for an unreadable CA file
 * Library code: logs at debug level only.
 */

struct http_request {
	const char *url;
	/* For messages: what the body is ("tarball", "releases.json"; NULL: "the data"), and
	 * the server the user configured, named when it cannot be reached so that the message
	 * says which setting to fix: its role ("mirror", "registry"; NULL: "server") and its
	 * URL (NULL: url). */
	const char *what;
	const char *site_role;
	const char *site;
	/* CA certificates (PEM) to trust instead of the system's; NULL: $KTSCOPE_CA_CERT when
	 * it is set and not empty. */
	const char *ca_file;
	/* Extra request headers ("Accept: ...", "Authorization: ..."): NULL-terminated, or
	 * NULL. */
	const char *const *headers;
	/* true: every HTTP status is the caller's to judge (*ret_status), not only 2xx. */
	bool any_status;
	/* true: an HTML body is data too (else -EMEDIUMTYPE: an error page or captive portal). */
	bool allow_html;
	/* Download progress; total = 0 when the server did not say. Called often: keep it
	 * cheap. May be NULL. */
	void (*progress)(uint64_t done, uint64_t total, void *userdata);
	/* After a successful transfer: each header of the final response (not of the redirects
	 * before it) in order, name and value trimmed. A negative return fails the request with
	 * it. May be NULL. */
	int (*header)(const char *name, const char *value, void *userdata);
	void *userdata; /* for progress and header */
	/* Requests that share connections (see struct http_session below), or NULL: a
	 * connection of this request's own, closed when it is done. */
	struct http_session *session;

	/* ---- beyond GET: http_send() only (http_get() refuses these) ---- */
	/* The method: NULL = "GET"; "HEAD" (no body is read), "PUT", "POST", "PATCH",
	 * "DELETE". */
	const char *method;
	/* The request body, sent with a Content-Length (never chunked): body_len bytes at body,
	 * or, when body_file is not NULL, the whole regular file at that path (opened by
	 * http_send(); -ENOENT/-EACCES naming it). Neither: an empty body. progress then
	 * reports the bytes sent and their total. */
	const void *body;
	size_t body_len;
	const char *body_file;
	/* true: a 3xx is returned as it is (its Location to the header callback) instead of
	 * being followed. */
	bool no_redirect;
	/* true: the URL may be plain http to a host other than localhost/127.0.0.1/::1 (the
	 * caller decided, e.g. --insecure). Without it an http URL to another host is still
	 * allowed for GET (kernel mirrors), but refused with -EPERM for any other method and
	 * for a GET that carries an Authorization header (credentials never go out in clear
	 * text; http_get() applies that rule too). */
	bool insecure;
};

/*
 * A sequence of requests to the same servers, over kept-alive connections (one TCP connection,
 * and one TLS handshake, for all the requests of a registry pull rather than one each): set
 * the same session in each request's .session. Every request still gets the whole policy
 * above and its own headers only: nothing of an earlier request (an Authorization header, a
 * method, a body, a CA file) carries over to the next, and a connection is reused only for
 * the same scheme, host and port (and TLS settings), as libcurl decides. One thread at a time.
 * http_session_new() does not load libcurl (the first request does); http_session_free()
 * closes the connections (NULL is fine).
 */
struct http_session;
int http_session_new(struct http_session **ret);

/* Loads libcurl (done by the first request): 0, or -ELIBACC/-ELIBBAD/-EIO and *ret_why. */
int http_load(char **ret_why);
void http_session_free(struct http_session *s);

/* Receives the body in chunks, in order. A negative errno aborts the transfer with it. */
typedef int (*http_write_fn)(const void *data, size_t n, void *userdata);

/*
 * GETs req->url, handing the body to write. *ret_status (may be NULL): the HTTP status of the
 * final response, 0 for file://. Errors: see the top of this file.
 */
int http_get(const struct http_request *req, http_write_fn write, void *write_userdata,
	     long *ret_status, char **ret_why);

/*
 * The general request: req->method with req's body, the response body to write (may be NULL
 * when the caller wants none, e.g. HEAD; for any_status requests the error body of a non-2xx
 * response goes to write as well). The header callback gets the final response's headers for
 * every transfer that completed with a status the caller judges (2xx, or any status with
 * any_status), so a 401's WWW-Authenticate and a 202's Location reach the caller. Never logs
 * request headers (they may carry credentials). Errors: see the top of this file.
 */
int http_send(const struct http_request *req, http_write_fn write, void *write_userdata,
	      long *ret_status, char **ret_why);

/* GETs into memory: *ret_body is NUL-terminated (malloc'd; "" when empty), *ret_len its length
 * (ret_len and ret_status may be NULL). -EFBIG when the body exceeds max bytes. */
int http_get_memory(const struct http_request *req, size_t max, char **ret_body, size_t *ret_len,
		    long *ret_status, char **ret_why);

/* GETs into a new or truncated file at path (mode 0644, fsync'd; removed on failure).
 * ret_sha256 (may be NULL): the hex SHA-256 of the body. */
int http_get_file(const struct http_request *req, const char *path, char ret_sha256[65],
		  char **ret_why);
