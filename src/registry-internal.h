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
};
void registry_manifest_done(struct kts_oci_manifest *m);

/*
 * The media type ktscope gives a file of an entry, by its name (the image names of every
 * architecture, vmlinux, config, metadata.json, kconfig-report.json, build.log), or NULL for
 * a name that is not an entry file: only those are pushed, and only those are accepted.
 */
const char *registry_media_type(const char *title);

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
