/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * SHA-256 through libcrypto's EVP interface (hash.c is the only file that includes OpenSSL
 * headers). Cache keys, source identities and the embedded fragment's hash are SHA-256;
 * libcrypto's assembly is ~5x faster than portable C on a 150 MB tarball. libcrypto is loaded
 * by the first hash, not linked. Functions return 0 or negative errno (-ENOMEM when libcrypto
 * cannot allocate a context, -EIO when it reports any other failure, -ELIBACC/-ELIBBAD when
 * it cannot be loaded: logged once, see dlopen-util.h); outputs are written only on success.
 */

#define HASH_SHA256_SIZE 32

/* Loads libcrypto (done by every function below); *ret_why as dlopen_lib_load()'s. */
int hash_load(char **ret_why);
#define HASH_SHA256_HEX_SIZE 65 /* 64 lowercase hex digits and a NUL */

/* A streaming context. Zero-initialise or hash_sha256_init() it; hash_sha256_done() frees it. */
struct hash_sha256 {
	void *ctx; /* EVP_MD_CTX *, NULL when not initialised */
	int error; /* the first failure of init or update, reported again by final */
};

int hash_sha256_init(struct hash_sha256 *h);
/*
 * Errors are sticky: a failed update (or init) is returned by every later update and by
 * final, so a caller feeding many fields may check only final.
 */
int hash_sha256_update(struct hash_sha256 *h, const void *data, size_t len);
/* Writes the digest and frees the context (init again to reuse); out untouched on failure. */
int hash_sha256_final(struct hash_sha256 *h, uint8_t out[HASH_SHA256_SIZE]);
/* Frees the context; NULL and repeated calls are fine (a _cleanup_ destructor). */
void hash_sha256_done(struct hash_sha256 *h);

/* Lowercase hex of n digest bytes into out[2n+1]. */
void hash_digest_to_hex(const uint8_t *digest, size_t n, char *out);
/* One-shot: lowercase hex SHA-256 of len bytes at buf. */
int hash_sha256_hex(const void *buf, size_t len, char out[HASH_SHA256_HEX_SIZE]);

/* Everything readable from fd, from its current offset to EOF, in 1 MiB reads. */
int hash_sha256_fd(int fd, char out[HASH_SHA256_HEX_SIZE]);
/* The file at path (symlinks followed); -ENOENT, -EACCES, -EISDIR, ... */
int hash_sha256_file(const char *path, char out[HASH_SHA256_HEX_SIZE]);
