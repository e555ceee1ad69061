/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Transitional: the old sha256_* names mapped onto hash.c (libcrypto EVP), so callers keep
 * compiling until they are renamed to hash_sha256_*; then this header goes. The old API
 * could not fail, so a libcrypto failure here (only an allocation failure of a digest
 * context) aborts: new code uses hash.h and gets -ENOMEM instead.
 */

#include <stdlib.h>

#include "hash.h"

#define SHA256_DIGEST_SIZE HASH_SHA256_SIZE
#define SHA256_HEX_SIZE HASH_SHA256_HEX_SIZE

struct kts_sha256 {
	struct hash_sha256 h;
};

static inline void sha256_init(struct kts_sha256 *c)
{
	c->h = (struct hash_sha256){};
	if (hash_sha256_init(&c->h) < 0)
		abort();
}

static inline void sha256_update(struct kts_sha256 *c, const void *data, size_t len)
{
	if (hash_sha256_update(&c->h, data, len) < 0)
		abort();
}

/* Writes the digest and frees the context. */
static inline void sha256_final(struct kts_sha256 *c, uint8_t out[SHA256_DIGEST_SIZE])
{
	if (hash_sha256_final(&c->h, out) < 0)
		abort();
}

static inline void sha256_digest_to_hex(const uint8_t digest[SHA256_DIGEST_SIZE],
					char out[SHA256_HEX_SIZE])
{
	hash_digest_to_hex(digest, SHA256_DIGEST_SIZE, out);
}

static inline void sha256_hex(const void *buf, size_t len, char out[SHA256_HEX_SIZE])
{
	if (hash_sha256_hex(buf, len, out) < 0)
		abort();
}

static inline int sha256_fd(int fd, char out[SHA256_HEX_SIZE])
{
	return hash_sha256_fd(fd, out);
}

static inline int sha256_file(const char *path, char out[SHA256_HEX_SIZE])
{
	return hash_sha256_file(path, out);
}
