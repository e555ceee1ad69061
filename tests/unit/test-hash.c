/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hash.c against known answers: the FIPS 180-4 example vectors (moved here from
 * test-kconfig.c with sha256.c), streaming in odd chunk sizes against the one-shot, and a
 * 3 MiB file against what sha256sum(1) says about the same bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hash.h"
#include "macro.h"
#include "util.h"

static void test_known_vectors(void **state)
{
	char hex[HASH_SHA256_HEX_SIZE];
	_cleanup_free_ char *mib = malloc(1024 * 1024);

	(void) state;
	assert_int_equal(hash_sha256_hex("", 0, hex), 0);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(hash_sha256_hex(NULL, 0, hex), 0);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(hash_sha256_hex("abc", 3, hex), 0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* 56 bytes: the padding needs a second block. */
	assert_int_equal(hash_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
					 56, hex),
			 0);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

	assert_non_null(mib);
	memset(mib, 'a', 1024 * 1024);
	assert_int_equal(hash_sha256_hex(mib, 1024 * 1024, hex), 0);
	assert_string_equal(hex, "9bc1b2a288b26af7257a36277ae3816a7d4f16e89c1e7e77d0a5c48bad62b360");
}

static void test_streaming_equals_one_shot(void **state)
{
	static const size_t chunks[] = { 1, 3, 63, 64, 65, 1000, 4096 };
	_cleanup_free_ char *buf = malloc(100000);
	char want[HASH_SHA256_HEX_SIZE], got[HASH_SHA256_HEX_SIZE];

	(void) state;
	assert_non_null(buf);
	for (size_t i = 0; i < 100000; i++)
		buf[i] = (char) (i * 7 + (i >> 8));
	assert_int_equal(hash_sha256_hex(buf, 100000, want), 0);
	for (size_t c = 0; c < ELEMENTSOF(chunks); c++) {
		_cleanup_(hash_sha256_done) struct hash_sha256 h = {};
		uint8_t d[HASH_SHA256_SIZE];

		assert_int_equal(hash_sha256_init(&h), 0);
		for (size_t off = 0; off < 100000; off += chunks[c]) {
			size_t n = MIN(chunks[c], 100000 - off);

			assert_int_equal(hash_sha256_update(&h, buf + off, n), 0);
		}
		assert_int_equal(hash_sha256_final(&h, d), 0);
		assert_null(h.ctx); /* final frees the context */
		hash_digest_to_hex(d, sizeof(d), got);
		assert_string_equal(got, want);
	}
	{
		struct hash_sha256 h = {};

		uint8_t d[HASH_SHA256_SIZE] = { 0x5a };

		assert_int_equal(hash_sha256_update(&h, "x", 1), -EINVAL); /* not initialised */
		hash_sha256_done(&h);
		hash_sha256_done(NULL);

		/* Errors are sticky: a bad update fails the final, and out stays untouched. */
		assert_int_equal(hash_sha256_init(&h), 0);
		assert_int_equal(hash_sha256_update(&h, NULL, 5), -EINVAL);
		assert_int_equal(hash_sha256_update(&h, "abc", 3), -EINVAL);
		assert_int_equal(hash_sha256_final(&h, d), -EINVAL);
		assert_int_equal(d[0], 0x5a);
		assert_null(h.ctx);
		/* init starts afresh. */
		assert_int_equal(hash_sha256_init(&h), 0);
		assert_int_equal(hash_sha256_update(&h, "abc", 3), 0);
		assert_int_equal(hash_sha256_final(&h, d), 0);
		hash_digest_to_hex(d, sizeof(d), got);
		assert_string_equal(got,
				    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	}
}

/* sha256sum(1) of path, through the utility layer's spawn. */
static void sha256sum_of(const char *path, char out[HASH_SHA256_HEX_SIZE])
{
	char *const argv[] = { (char *) "sha256sum", (char *) path, NULL };
	struct spawn_opts o = { .out = SPAWN_PIPE };
	_cleanup_free_ char *text = NULL;
	int status;

	assert_int_equal(spawn_capture(argv, &o, &status, &text, NULL), 0);
	assert_int_equal(status, 0);
	assert_true(strlen(text) > 64);
	memcpy(out, text, 64);
	out[64] = '\0';
}

static void test_file_matches_sha256sum(void **state)
{
	char dir[] = "/tmp/kts-hash-XXXXXX", want[HASH_SHA256_HEX_SIZE];
	char hex[HASH_SHA256_HEX_SIZE] = "untouched";
	_cleanup_free_ char *path = NULL, *missing = NULL, *data = malloc(3 << 20);
	_cleanup_close_ int fd = -EBADF;

	(void) state;
	assert_non_null(data);
	assert_non_null(mkdtemp(dir));
	assert_true(asprintf(&path, "%s/three-mib", dir) > 0);
	assert_true(asprintf(&missing, "%s/nope", dir) > 0);
	/* 3 MiB + 17: more than one 1 MiB read, and a partial last one. */
	srand(42);
	for (size_t i = 0; i < (3 << 20); i++)
		data[i] = (char) rand();
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, data, 3 << 20), 0);
	assert_int_equal(write_all(fd, "seventeen bytes..", 17), 0);
	fd = safe_close(fd);

	sha256sum_of(path, want);
	assert_int_equal(hash_sha256_file(path, hex), 0);
	assert_string_equal(hex, want);

	/* From the fd's current offset: the same as hashing the tail. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(lseek(fd, 3 << 20, SEEK_SET), 3 << 20);
	assert_int_equal(hash_sha256_fd(fd, hex), 0);
	{
		char tail[HASH_SHA256_HEX_SIZE];

		assert_int_equal(hash_sha256_hex("seventeen bytes..", 17, tail), 0);
		assert_string_equal(hex, tail);
	}

	strcpy(hex, "untouched");
	assert_int_equal(hash_sha256_file(missing, hex), -ENOENT);
	assert_int_equal(hash_sha256_file(dir, hex), -EISDIR);
	assert_string_equal(hex, "untouched");
	assert_int_equal(rm_rf(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_vectors),
		cmocka_unit_test(test_streaming_equals_one_shot),
		cmocka_unit_test(test_file_matches_sha256sum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
