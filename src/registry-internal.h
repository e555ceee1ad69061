/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once
/*
 * What registry.c (the client: requests, blobs, manifests, pull, push) shares with
 * registry-auth.c (credentials files, WWW-Authenticate challenges, bearer tokens) and
 * registry-manifest.c (the OCI manifest of a cache entry, built and strictly parsed).
 * Internal to registry*.c, the unit tests and the fuzzers.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "registry.h"

/* ------------------------------------------------------------------ registry-auth.c */

/* Credentials for one registry host. Never printed or logged. */
struct kts_registry_creds {
	char *basic;  /* base64 "user:password" as the file has it, or NULL: anonymous */
	char *source; /* the file it came from (for messages), or NULL */
};
void registry_creds_done(struct kts_registry_creds *c);

/*
 * The credentials for host ("HOST[:PORT]") from the first of $REGISTRY_AUTH_FILE,
 * $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json that has an "auths" entry for
 * it (keys compared after dropping a scheme and a path: "https://HOST:PORT/v2/" matches).
 * 1 = found, 0 = none (ret zeroed); -EBADMSG naming a file that is not the JSON expected.
 * *ret_looked (may be NULL): the files looked at, ", "-separated, for a 401's message.
 */
int registry_creds_find(const char *host, struct kts_registry_creds *ret, char **ret_looked,
			char **ret_why);

/* The same on one file's text (the fuzzer's entry): 1 found, 0 none, -EBADMSG. *ret_basic
 * is validated as base64 of "user:password" (non-empty user, a colon). */
int registry_creds_parse(const char *json, size_t len, const char *host, char **ret_basic,
			 char **ret_why);

enum kts_auth_scheme {
	KTS_AUTH_BASIC,
	KTS_AUTH_BEARER,
};

/* A parsed WWW-Authenticate challenge (RFC 7235 auth-params; quoted strings unescaped). */
struct kts_auth_challenge {
	enum kts_auth_scheme scheme;
	char *realm;   /* bearer: the token endpoint URL (required) */
	char *service; /* may be NULL */
	char *scope;   /* may be NULL */
	char *error;   /* "insufficient_scope", ... or NULL */
};
void registry_challenge_done(struct kts_auth_challenge *c);

/* Parses one header value. 0, -EINVAL for anything malformed or an unknown scheme. */
int registry_challenge_parse(const char *value, struct kts_auth_challenge *ret);

/*
 * Parses a token endpoint's JSON answer: "token", else "access_token" (a non-empty string
 * of printable ASCII without spaces). 0 or -EBADMSG.
 */
int registry_token_parse(const char *json, size_t len, char **ret_token);

struct http_request;

/*
 * The bearer-token flow: GET realm?service=...&scope=... (scope: the challenge's, else
 * scope_default, e.g. "repository:REPO:pull,push"), with basic credentials when there are
 * any, through http_send() with tls's CA file and insecure flag. *ret_token on success.
 * -EACCES on 401/403 from the token endpoint, else as http_send().
 */
int registry_token_fetch(const struct kts_auth_challenge *c, const char *scope_default,
			 const struct kts_registry_creds *creds, const struct http_request *tls,
			 char **ret_token, char **ret_why);

/* ------------------------------------------------------------------ registry-manifest.c */

#define KTS_OCI_MANIFEST_TYPE "application/vnd.oci.image.manifest.v1+json"
#define KTS_OCI_EMPTY_TYPE "application/vnd.oci.empty.v1+json"
#define KTS_OCI_EMPTY_DIGEST \
	"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
#define KTS_OCI_EMPTY_SIZE 2 /* "{}" */
#define KTS_OCI_TITLE "org.opencontainers.image.title"
#define KTS_OCI_CREATED "org.opencontainers.image.created"
#define KTS_OCI_KEY "dev.ktscope.key" /* the cache key, also the tag */

/* One layer: one file of a cache entry. */
struct kts_oci_layer {
	char *title;      /* the file name in the entry: "bzImage", "vmlinux", "metadata.json", ... */
	char *media_type; /* registry_media_type(title) when built by ktscope */
	char digest[72];  /* "sha256:{64 lowercase hex}" */
	uint64_t size;
};

struct kts_oci_manifest {
	struct kts_oci_layer *layers;
	size_t n_layers;
	char *created; /* "org.opencontainers.image.created" annotation, or NULL */
	char *key;     /* KTS_OCI_KEY annotation, or NULL */
};
void registry_manifest_done(struct kts_oci_manifest *m);

/*
 * The media type ktscope gives a file of an entry, by its name (the image names of every
 * architecture, vmlinux, config, metadata.json, kconfig-report.json, build.log), or NULL for
 * a name that is not an entry file: only those are pushed, and only those are accepted.
 */
const char *registry_media_type(const char *title);
/* The position of title in the manifest's layer order (the image first, then vmlinux, config,
 * metadata.json, kconfig-report.json, build.log), or -1 for what is not an entry file. */
int registry_file_order(const char *title);
/* "sha256:{64 lowercase hex}". */
bool registry_digest_valid(const char *digest);

/* The manifest's JSON (canonical: the bytes pushed, and hashed for its digest). */
int registry_manifest_build(const struct kts_oci_manifest *m, char **ret_json);

/*
 * Strict parse of a manifest as pulled: schemaVersion 2, the OCI manifest media type,
 * artifactType KTS_OCI_ARTIFACT_TYPE, the empty config, 1..16 layers, each with a valid
 * sha256 digest, a size, a known media type and a title that registry_media_type() knows,
 * no title twice, metadata.json present. 0, or -EBADMSG with *ret_why (which field).
 */
int registry_manifest_parse(const char *json, size_t len, struct kts_oci_manifest *ret,
			    char **ret_why);

/* ------------------------------------------------------------------ registry-manifest.c:
 * the other documents a registry answers with */

/* The distribution spec's tag grammar, [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}, on len bytes. */
bool registry_tag_valid(const char *tag, size_t len);

/*
 * A tags list page ({"name": ..., "tags": [...]}): every tag valid (registry_tag_valid()),
 * "tags" null or absent for an empty repository (0 tags, *ret NULL). 0 or -EBADMSG.
 * Caller frees each string and the array.
 */
int registry_tags_parse(const char *json, size_t len, char ***ret, size_t *ret_n,
			char **ret_why);

/*
 * A Link header's next page (RFC 8288: `<URL>; rel="next"`): *ret the URL between the angle
 * brackets when it is a path starting with "/v2/" (a printable, space-free string).
 * 1 = a next page, 0 = none (no rel="next"), -EBADMSG for a malformed value.
 */
int registry_link_next(const char *value, char **ret);

/* An error body's first error ({"errors":[{"code","message"}]}) as one printable line,
 * "CODE: message". 0, -EBADMSG when the body is not such a document. */
int registry_error_parse(const char *json, size_t len, char **ret);

/* ------------------------------------------------------------------ registry.c */

/* A parsed remote "oci://HOST[:PORT]/REPOSITORY". */
struct kts_registry_remote {
	char *host; /* "HOST[:PORT]" as in the URL ("[::1]:5000"): the credentials' key */
	char *repository;
	char *base; /* "https://HOST[:PORT]" (http: loopback, or insecure) */
};
void registry_remote_done(struct kts_registry_remote *r);

/*
 * Parses spec strictly: HOST a DNS name, a dotted IPv4 address or a bracketed IPv6 one;
 * PORT 1..65535; REPOSITORY per the distribution spec's path grammar
 * ([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/...)*, at most 255 bytes); no user info, query or
 * fragment. The scheme is http for localhost, 127.0.0.1 and [::1] (unless https_loopback:
 * a private CA was given), or with insecure, else https. 0 or -EINVAL naming the value
 * (user info replaced by "***").
 */
int registry_remote_parse(const char *spec, bool insecure, bool https_loopback,
			  struct kts_registry_remote *ret, char **ret_why);

/* ------------------------------------------------------------------ registry.c ↔ registry-blob.c */

struct kts_registry {
	char *name; /* the remote as given (user info is refused, so no secret in it) */
	struct kts_registry_remote remote;
	char *ca_file;
	bool insecure;
	bool progress;
	struct kts_registry_creds creds; /* .basic NULL: anonymous */
	char *looked;                    /* the credentials files looked at, for messages */
	char *token;                     /* the bearer token of this session, or NULL */
	bool basic;                      /* the registry asked for basic auth */
	bool push;                       /* tokens are asked for "pull,push" */
	unsigned tags_page;              /* tags asked per page (n=); 0: 1000 (tests: 1) */
	struct http_session *http;       /* every request's: one kept-alive connection */
};

/* One request to the registry through registry_call(). */
struct registry_call {
	const char *method;  /* NULL: GET */
	const char *url;     /* a path on the registry ("/v2/..."), or an absolute URL */
	const char *what;    /* for messages: "manifest 'KEY'", "blob sha256:... (bzImage)" */
	const char *accept, *content_type;
	const void *body;
	size_t body_len;
	const char *body_file;
	/* The response body of a 2xx: to write (reset before each attempt: reset), else kept
	 * in memory up to max bytes (-EFBIG beyond). Error bodies are always kept (8 KiB). */
	http_write_fn write;
	int (*reset)(void *userdata);
	void *userdata;
	size_t max;
	void (*progress)(uint64_t done, uint64_t total, void *userdata);

	/* results */
	long status;
	char *body_mem; /* NUL-terminated */
	size_t body_len_mem;
	char *location, *link, *content_digest, *challenge;
};
void registry_call_done(struct registry_call *c);

/*
 * Sends c (the registry's credentials or session token as needed: on a 401 it follows the
 * challenge, a bearer token or basic auth, and sends once more). 0 with c->status for any
 * status but 401/403, which are -EACCES naming the registry and the credentials file;
 * transport errors as http_send(), the reason naming c->what and the registry.
 */
int registry_call(struct kts_registry *r, struct registry_call *c, char **ret_why);

/* c's non-2xx status as negative errno (404: -ENOENT; else -EIO) with a reason naming the
 * registry, c->what, the status and the registry's error code and message. */
int registry_status_error(const struct kts_registry *r, const struct registry_call *c,
			  char **ret_why);

/* The manifest tagged key, parsed (registry_manifest_parse()); its digest checked against
 * Docker-Content-Digest when given. 1, 0 = no such tag, or < 0. ret_digest may be NULL. */
int registry_manifest_get(struct kts_registry *r, const char *key, struct kts_oci_manifest *ret,
			  char ret_digest[72], char **ret_why);

/* registry-blob.c: one layer into a file (fd, at offset 0) or into memory (fd < 0),
 * its size and sha256 checked while it streams. */
int registry_blob_get(struct kts_registry *r, const struct kts_oci_layer *l, int fd,
		      char **ret_mem, char **ret_why);
