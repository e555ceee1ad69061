/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * SHA-256 (FIPS 180-4), self-contained: cache keys, source identities and the
 * embedded fragment's hash are all SHA-256 and must not depend on which crypto
 * library a distribution ships. Not constant-time; nothing here is secret.
 */

#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE 65 /* 64 lowercase hex digits and a NUL */

struct kts_sha256 {
	uint32_t state[8];
	uint64_t nbytes; /* total bytes fed so far */
	uint8_t buf[64];
	size_t buflen;
};

void sha256_init(struct kts_sha256 *c);
void sha256_update(struct kts_sha256 *c, const void *data, size_t len);
/* Writes the digest; the context must be re-initialised before reuse. */
void sha256_final(struct kts_sha256 *c, uint8_t out[SHA256_DIGEST_SIZE]);

/* Lowercase hex of a digest. */
void sha256_digest_to_hex(const uint8_t digest[SHA256_DIGEST_SIZE], char out[SHA256_HEX_SIZE]);
/* One-shot: lowercase hex SHA-256 of len bytes at buf. */
void sha256_hex(const void *buf, size_t len, char out[SHA256_HEX_SIZE]);

/*
 * Streaming hash of everything readable from fd (from its current offset to
 * EOF; EINTR is retried). 0 or negative errno; out is written only on success.
 */
int sha256_fd(int fd, char out[SHA256_HEX_SIZE]);
/*
 * Streaming hash of the file at path (symlinks followed, opened O_CLOEXEC).
 * 0 or negative errno (-ENOENT, -EACCES, -EISDIR, ...); out written only on success.
 */
int sha256_file(const char *path, char out[SHA256_HEX_SIZE]);
