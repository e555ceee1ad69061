// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * SHA-256 (hash.h) through OpenSSL's EVP interface: the only file that includes OpenSSL
 * headers. Files are read in 1 MiB chunks so a 150 MB tarball costs about what
 * `openssl dgst -sha256` does; nothing else of libcrypto is used. libcrypto is loaded with
 * dlopen() by the first hash (dlopen-util.h): `ktscope run` never hashes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dlopen-util.h"
#include "hash.h"
#include "macro.h"
#include "util.h"

static DLSYM_DEFINE(EVP_Digest);
static DLSYM_DEFINE(EVP_DigestFinal_ex);
static DLSYM_DEFINE(EVP_DigestInit_ex);
static DLSYM_DEFINE(EVP_DigestUpdate);
static DLSYM_DEFINE(EVP_MD_CTX_free);
static DLSYM_DEFINE(EVP_MD_CTX_new);
static DLSYM_DEFINE(EVP_sha256);

static struct dlopen_lib crypto_lib = {
	.soname = KTS_SONAME_CRYPTO,
	.name = "libcrypto",
	.purpose = "to compute SHA-256",
	.install = "Debian libssl3, Fedora openssl-libs, Arch openssl",
};

int hash_load(char **ret_why)
{
	return dlopen_lib_load(&crypto_lib, ret_why,
			       DLSYM_ARG(EVP_Digest),
			       DLSYM_ARG(EVP_DigestFinal_ex),
			       DLSYM_ARG(EVP_DigestInit_ex),
			       DLSYM_ARG(EVP_DigestUpdate),
			       DLSYM_ARG(EVP_MD_CTX_free),
			       DLSYM_ARG(EVP_MD_CTX_new),
			       DLSYM_ARG(EVP_sha256),
			       NULL);
}

/* From here on, libcrypto's names are its sym_ pointers: only after hash_load() succeeded. */
#define EVP_Digest sym_EVP_Digest
#define EVP_DigestFinal_ex sym_EVP_DigestFinal_ex
#define EVP_DigestInit_ex sym_EVP_DigestInit_ex
#define EVP_DigestUpdate sym_EVP_DigestUpdate
#define EVP_MD_CTX_free sym_EVP_MD_CTX_free
#define EVP_MD_CTX_new sym_EVP_MD_CTX_new
#define EVP_sha256 sym_EVP_sha256

#define HASH_READ_CHUNK ((size_t) 1 << 20)

int hash_sha256_init(struct hash_sha256 *h)
{
	EVP_MD_CTX *ctx;
	int r;

	if (!h)
		return -EINVAL;
	hash_sha256_done(h);
	r = hash_load(NULL);
	if (r < 0)
		return (h->error = r);
	h->error = 0;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return (h->error = -ENOMEM);
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return (h->error = -EIO);
	}
	h->ctx = ctx;
	return 0;
}

int hash_sha256_update(struct hash_sha256 *h, const void *data, size_t len)
{
	if (!h)
		return -EINVAL;
	if (h->error < 0)
		return h->error;
	if (!h->ctx || (!data && len > 0))
		return (h->error = -EINVAL);
	if (len > 0 && EVP_DigestUpdate(h->ctx, data, len) != 1)
		return (h->error = -EIO);
	return 0;
}

int hash_sha256_final(struct hash_sha256 *h, uint8_t out[HASH_SHA256_SIZE])
{
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	int r;

	if (!h || !out)
		return -EINVAL;
	r = h->error < 0 ? h->error : !h->ctx ? -EINVAL : 0;
	if (r == 0 && (EVP_DigestFinal_ex(h->ctx, d, &n) != 1 || n != HASH_SHA256_SIZE))
		r = -EIO;
	hash_sha256_done(h);
	h->error = 0;
	if (r < 0)
		return r;
	for (unsigned i = 0; i < HASH_SHA256_SIZE; i++)
		out[i] = d[i];
	return 0;
}

void hash_sha256_done(struct hash_sha256 *h)
{
	/* A context exists only once libcrypto is loaded. */
	if (!h || !h->ctx)
		return;
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void hash_digest_to_hex(const uint8_t *digest, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 0xf];
	}
	out[2 * n] = '\0';
}

int hash_sha256_hex(const void *buf, size_t len, char out[HASH_SHA256_HEX_SIZE])
{
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	int r;

	if ((!buf && len > 0) || !out)
		return -EINVAL;
	r = hash_load(NULL);
	if (r < 0)
		return r;
	/* EVP_Digest() allocates a context, so even a one-shot can fail (on ENOMEM). */
	if (EVP_Digest(buf ? buf : (const void *) "", len, d, &n, EVP_sha256(), NULL) != 1 ||
	    n != HASH_SHA256_SIZE)
		return -ENOMEM;
	hash_digest_to_hex(d, HASH_SHA256_SIZE, out);
	return 0;
}

int hash_sha256_fd(int fd, char out[HASH_SHA256_HEX_SIZE])
{
	_cleanup_(hash_sha256_done) struct hash_sha256 h = {};
	_cleanup_free_ uint8_t *buf = NULL;
	uint8_t d[HASH_SHA256_SIZE];
	int r;

	if (fd < 0 || !out)
		return -EINVAL;
	buf = malloc(HASH_READ_CHUNK);
	if (!buf)
		return -ENOMEM;
	r = hash_sha256_init(&h);
	if (r < 0)
		return r;
	(void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (;;) {
		ssize_t n = loop_read(fd, buf, HASH_READ_CHUNK);

		if (n < 0)
			return (int) n;
		if (n == 0)
			break;
		r = hash_sha256_update(&h, buf, (size_t) n);
		if (r < 0)
			return r;
	}
	r = hash_sha256_final(&h, d);
	if (r < 0)
		return r;
	hash_digest_to_hex(d, sizeof(d), out);
	return 0;
}

int hash_sha256_file(const char *path, char out[HASH_SHA256_HEX_SIZE])
{
	_cleanup_close_ int fd = -EBADF;

	if (!path || !out)
		return -EINVAL;
	/* A directory is refused before reading (read() would say EISDIR anyway). */
	fd = open_read_at(AT_FDCWD, path, 0);
	if (fd < 0)
		return fd;
	return hash_sha256_fd(fd, out);
}
