/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/*
 * The shared kernel cache on an OCI registry (DESIGN §10): the OCI distribution client
 * (registry.c over http.c) and what `kernel push|pull`, `kernel list|show --remote` and
 * `build --remote/--push` do with it.
 *
 * A remote is "oci://HOST[:PORT]/REPOSITORY" (--remote, else $KTSCOPE_REMOTE). It is spoken
 * to over https with the system's CAs (or ca_file, else $KTSCOPE_CA_CERT); plain http only
 * for localhost, 127.0.0.1 and [::1], or for any host with insecure (--insecure). A loopback
 * host is spoken to over plain http unless a CA file is given (ca_file or $KTSCOPE_CA_CERT):
 * then over https, as a registry with a private certificate on the same machine needs.
 *
 * One cache entry = one OCI 1.1 image manifest tagged with the cache key, artifactType
 * KTS_OCI_ARTIFACT_TYPE, the empty config, one layer per file of the entry (the image,
 * vmlinux, config, metadata.json, kconfig-report.json; build.log when present), each with
 * its media type and an "org.opencontainers.image.title" annotation naming the file
 * (registry-manifest.c: application/vnd.ktscope.kernel.{image.v1, vmlinux.v1, config.v1+text,
 * metadata.v1+json, kconfig-report.v1+json, build-log.v1+text}); the manifest's annotations
 * "org.opencontainers.image.created" (the entry's built_at) and "dev.ktscope.key" (the key).
 * Cross-repository mounts: the upload asks "?mount=DIGEST" without "from" (a remote names
 * one repository; which other one holds the blob is the registry's to know); a registry
 * that cannot mount answers with an upload session, used as usual.
 * ktscope-kernel(1), section REGISTRY LAYOUT, documents it.
 *
 * Credentials, for HOST[:PORT], from the first of $REGISTRY_AUTH_FILE,
 * $XDG_RUNTIME_DIR/containers/auth.json and ~/.docker/config.json that has an
 * "auths" entry for the host ("auth": base64 "user:password"). Used for basic auth and to
 * get bearer tokens (WWW-Authenticate: Bearer realm=...,service=...,scope=...). They are
 * never printed, logged, or written to any file ktscope writes.
 *
 * Errors (negative errno, one line in *ret_why naming the registry, and the blob or file at
 * fault; caller frees):
 *   -EINVAL       a malformed remote (names the value): the scheme is not chosen by the user
 *                 (oci://), so a non-loopback host without insecure is simply https (exit 2)
 *   -EACCES       401/403: names the registry and the file the credentials came from, or
 *                 says none were found and where it looked                     (exit 4)
 *   -EBADMSG      a blob whose bytes do not match its digest or size, a manifest that is not
 *                 a ktscope entry, a pulled entry that fails validation        (exit 1)
 *   -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT, -EIO (5xx, a dropped connection, a short read)
 *                                                                               (exit 1)
 *   -ENOENT       (registry_get_file) the entry has no such file
 * A failed pull leaves nothing in the cache: no entry, no temporary directory.
 */

#define KTS_OCI_ARTIFACT_TYPE "application/vnd.ktscope.kernel.v1"

struct kts_registry_opts {
	const char *remote;  /* "oci://HOST[:PORT]/REPOSITORY" */
	const char *ca_file; /* PEM file of a private CA; NULL: $KTSCOPE_CA_CERT or the system's */
	bool insecure;       /* plain http to a host that is not loopback */
	bool progress;       /* transfer progress (bytes, rate) on stderr when it is a tty */
};

struct kts_registry;

/* What a push or a pull moved (for the result line and the NDJSON event). */
struct kts_registry_stats {
	unsigned blobs;         /* the entry's layers (the config not counted) */
	unsigned blobs_sent;    /* push: uploaded; pull: downloaded */
	unsigned blobs_present; /* push: the registry had them already (HEAD) */
	unsigned blobs_mounted; /* push: mounted from another repository */
	uint64_t bytes;         /* the layers' total size */
	uint64_t bytes_sent;    /* push: uploaded; pull: downloaded */
	double seconds;         /* wall time of the whole operation */
	char manifest_digest[72]; /* "sha256:{64 hex}" */
};

/*
 * Parses o->remote and finds the credentials for its host (no network traffic yet).
 * -EINVAL as above; -EBADMSG naming a credentials file that is not valid JSON (a file that
 * does not exist is skipped).
 */
int registry_open(const struct kts_registry_opts *o, struct kts_registry **ret, char **ret_why);
void registry_free(struct kts_registry *r);
static inline void registry_freep(struct kts_registry **r)
{
	registry_free(*r);
	*r = NULL;
}
#define _cleanup_registry_ _cleanup_(registry_freep)

/* "oci://HOST[:PORT]/REPOSITORY" as given, without any credentials: for messages. */
const char *registry_name(const struct kts_registry *r);

/* Whether the registry has an entry tagged key that is a ktscope entry: 1, 0, or < 0. */
int registry_has(struct kts_registry *r, const char *key, char **ret_why);

/*
 * Pulls the entry tagged key into the cache at cache_root through the atomic store
 * (cache_store_begin → each blob streamed into the temporary directory, its SHA-256 and size
 * checked as it arrives → metadata validated, its key must be key → cache_store_commit). The
 * caller holds the key's build lock (cache_build_lock_path) so no build of it races the pull.
 * 1 = pulled (*ret_entry_path, may be NULL: the entry), 0 = the registry has no such tag
 * (nothing written), < 0 = failed, nothing left behind. st may be NULL.
 */
int registry_pull(struct kts_registry *r, const char *cache_root, const char *key,
		  struct kts_registry_stats *st, char **ret_entry_path, char **ret_why);

/*
 * Pushes the entry directory entry_path (a valid cache entry whose metadata key is key):
 * every blob the registry lacks (HEAD first; a cross-repository mount where the registry
 * offers one), then the manifest, tagged key. Pushing the same entry again uploads nothing.
 * The caller holds the entry's shared lock so clean cannot remove it meanwhile.
 */
int registry_push(struct kts_registry *r, const char *entry_path, const char *key,
		  struct kts_registry_stats *st, char **ret_why);

/* The repository's tags, sorted (every page of the tags list). Caller frees each string and
 * the array. */
int registry_tags(struct kts_registry *r, char ***ret, size_t *ret_n, char **ret_why);

/*
 * One file of the remote entry key into memory (at most max bytes, else -EFBIG), its digest
 * checked: title is the file name (METADATA_FILENAME for `kernel show --remote`). 1 = read,
 * 0 = no such tag, -ENOENT = the entry has no such file.
 */
int registry_get_file(struct kts_registry *r, const char *key, const char *title, size_t max,
		      char **ret, size_t *ret_len, char **ret_why);
