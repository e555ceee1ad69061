/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lock.c's pure parts, without a process or a lock: the /proc/locks and mountinfo
 * parsers and the command-line formatting on literal /proc text, the lock file paths
 * and default directory, and the names of the remote filesystems that are refused.
 * (The locks, holders and reservations against the real kernel are in test-lock.c.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lock.h"

static void test_remote_fs_names(void **state)
{
	(void) state;
	assert_string_equal(lock_remote_fs_name(0x6969), "NFS");
	assert_string_equal(lock_remote_fs_name(0x517B), "CIFS/SMB");
	assert_string_equal(lock_remote_fs_name(0xFF534D42), "CIFS/SMB");
	assert_string_equal(lock_remote_fs_name(0xFE534D42), "CIFS/SMB");
	/* A 32-bit ABI's sign-extended f_type is the same filesystem. */
	assert_string_equal(lock_remote_fs_name((uint64_t) (int64_t) (int32_t) 0xFF534D42),
			    "CIFS/SMB");
	assert_string_equal(lock_remote_fs_name(0x00C36400), "Ceph");
	assert_string_equal(lock_remote_fs_name(0x5346414F), "AFS");
	assert_string_equal(lock_remote_fs_name(0x6B414653), "AFS");
	assert_string_equal(lock_remote_fs_name(0x65735546), "FUSE");
	assert_null(lock_remote_fs_name(0xEF53));     /* ext4 */
	assert_null(lock_remote_fs_name(0x01021994)); /* tmpfs */
	assert_null(lock_remote_fs_name(0x9123683E)); /* btrfs */
}

static void test_paths_and_default_dir(void **state)
{
	char *p = NULL;

	(void) state;
	assert_int_equal(lock_llc_path("/run/x", 12, &p), 0);
	assert_string_equal(p, "/run/x/ktstr-llc-12.lock");
	free(p);

	assert_int_equal(setenv("KTSCOPE_LOCK_DIR", "", 1), 0);
	assert_string_equal(lock_dir_default(), "/tmp");
	assert_int_equal(setenv("KTSCOPE_LOCK_DIR", "/srv/locks", 1), 0);
	assert_string_equal(lock_dir_default(), "/srv/locks");
	assert_int_equal(unsetenv("KTSCOPE_LOCK_DIR"), 0);
	assert_string_equal(lock_dir_default(), "/tmp");

	assert_string_equal(lock_mode_to_string(KTS_LOCK_SHARED), "shared");
	assert_string_equal(lock_mode_to_string(KTS_LOCK_EXCLUSIVE), "exclusive");
}

/* ---------------------------------------------------------------- parsers */

static const char proc_locks_text[] =
	"1: FLOCK  ADVISORY  WRITE 1234 fe:00:42 0 EOF\n"
	"1: -> FLOCK  ADVISORY  READ  999 fe:00:42 0 EOF\n"
	"2: POSIX  ADVISORY  WRITE 555 fe:00:42 0 EOF\n"
	"3: OFDLCK ADVISORY  READ  -1 fe:00:42 0 EOF\n"
	"4: FLOCK  ADVISORY  READ  77 fe:00:42 0 EOF\n"
	"5: FLOCK  ADVISORY  READ  77 fe:00:42 0 EOF\n"
	"6: FLOCK  ADVISORY  READ  88 fe:00:420 0 EOF\n"
	"7: FLOCK  ADVISORY  READ  66 00:2a:42 0 EOF\n"
	"8: LEASE  ACTIVE    READ  44 fe:00:42 0 EOF\n"
	"9: FLOCK  ADVISORY  READ  abc fe:00:42 0 EOF\n"
	"10: FLOCK ADVISORY\n";

static void test_parse_proc_locks_filters_and_dedups(void **state)
{
	const char *needles[] = { "fe:00:42" };
	struct kts_holder *h = NULL;
	size_t n = 0;

	(void) state;
	assert_int_equal(lock_parse_proc_locks(proc_locks_text, needles, 1, &h, &n), 0);
	/* 1234 (WRITE) and 77 (READ, twice); not the waiter, POSIX, OFD, lease, other inodes. */
	assert_int_equal(n, 2);
	assert_int_equal(h[0].pid, 1234);
	assert_int_equal(h[0].mode, KTS_LOCK_EXCLUSIVE);
	assert_null(h[0].cmdline);
	assert_int_equal(h[1].pid, 77);
	assert_int_equal(h[1].mode, KTS_LOCK_SHARED);
	lock_holders_free(h, n);
}

static void test_parse_proc_locks_second_needle(void **state)
{
	const char *needles[] = { "fe:00:42", "00:2a:42" };
	struct kts_holder *h = NULL;
	size_t n = 0;

	(void) state;
	assert_int_equal(lock_parse_proc_locks(proc_locks_text, needles, 2, &h, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(h[2].pid, 66);
	lock_holders_free(h, n);

	h = NULL;
	assert_int_equal(lock_parse_proc_locks("", needles, 2, &h, &n), 0);
	assert_int_equal(n, 0);
	lock_holders_free(h, n);
}

static const char mountinfo_text[] =
	"26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
	"40 26 0:40 / /tmp rw,nosuid - tmpfs tmpfs rw\n"
	"41 26 0:41 / /tmpx rw - tmpfs tmpfs rw\n"
	"42 40 0:42 / /tmp/deep/er rw - tmpfs tmpfs rw\n"
	"43 26 8:17 / /mnt/with\\040space rw - ext4 /dev/sdb1 rw\n"
	"44 26 8:18 / /mnt/bad\\9escape rw - ext4 /dev/sdb2 rw\n"
	"45 26 0:45 /sub /srv rw - btrfs /dev/sdc rw\n"
	"46 45 0:46 / /srv rw - tmpfs over rw\n"
	"short line\n"
	"47 26 x:y / /bogus rw - ext4 /dev/x rw\n";

static void assert_mount(const char *path, unsigned major, unsigned minor)
{
	unsigned ma = 999, mi = 999;

	assert_int_equal(lock_parse_mountinfo(mountinfo_text, path, &ma, &mi), 0);
	assert_int_equal(ma, major);
	assert_int_equal(mi, minor);
}

static void test_parse_mountinfo(void **state)
{
	unsigned ma, mi;

	(void) state;
	assert_mount("/tmp/ktstr-llc-0.lock", 0, 40);
	assert_mount("/tmp", 0, 40);
	/* Component prefix: "/tmpx" is not under "/tmp"; "/tmpfoo" only under "/". */
	assert_mount("/tmpx/ktstr-llc-0.lock", 0, 41);
	assert_mount("/tmpfoo/a", 254, 0);
	/* Longest mount point wins. */
	assert_mount("/tmp/deep/er/x.lock", 0, 42);
	assert_mount("/tmp/deep/x.lock", 0, 40);
	/* \040 is a space; an invalid escape stays literal. */
	assert_mount("/mnt/with space/l.lock", 8, 17);
	assert_mount("/mnt/with\\040space/l.lock", 254, 0);
	assert_mount("/mnt/bad\\9escape/l", 8, 18);
	/* Two mounts on one point: the later line is on top. */
	assert_mount("/srv/l.lock", 0, 46);
	assert_mount("/bogus/l", 254, 0);

	assert_int_equal(lock_parse_mountinfo("40 26 0:40 / /tmp rw - tmpfs t rw\n", "/var/x", &ma,
					      &mi),
			 -ENOENT);
	assert_int_equal(lock_parse_mountinfo(mountinfo_text, "relative", &ma, &mi), -EINVAL);
}

/* The command line lock_cmdline_from_bytes() makes of len bytes is want. */
static void assert_cmdline(const char *bytes, size_t len, const char *want)
{
	char *s = NULL;

	assert_int_equal(lock_cmdline_from_bytes(bytes, len, &s), 0);
	assert_string_equal(s, want);
	free(s);
}

static void test_cmdline_formatting(void **state)
{
	char *s = NULL, long_cmd[300];
	size_t n;

	(void) state;
	assert_cmdline("sleep\0" "100\0", 10, "sleep 100");
	assert_cmdline("make\0-j4 \0\0", 11, "make -j4");
	assert_cmdline("", 0, "<unavailable>");
	assert_cmdline("\0\0 ", 3, "<unavailable>");
	/* A terminal escape in someone's argv is not passed through. */
	assert_cmdline("a\033[2Jb", 6, "a?[2Jb");

	/* Exactly 100 characters stay whole; 101 become 100 + "…". */
	memset(long_cmd, 'x', 100);
	assert_int_equal(lock_cmdline_from_bytes(long_cmd, 100, &s), 0);
	assert_int_equal(strlen(s), 100);
	free(s);
	memset(long_cmd, 'y', 250);
	assert_int_equal(lock_cmdline_from_bytes(long_cmd, 250, &s), 0);
	n = strlen(s);
	assert_int_equal(n, 100 + strlen("…"));
	assert_int_equal(s[99], 'y');
	assert_string_equal(s + 100, "…");
	free(s);

	/*
	 * Bytes that are not UTF-8 are characters too: 250 lone continuation bytes were
	 * counted as none and printed raw, all 250 (found by fuzz/fuzz-proc-locks).
	 */
	memset(long_cmd, 0xb8, 250);
	assert_int_equal(lock_cmdline_from_bytes(long_cmd, 250, &s), 0);
	assert_int_equal(strlen(s), 100 * strlen("\xef\xbf\xbd") + strlen("…"));
	assert_memory_equal(s, "\xef\xbf\xbd", 3);
	free(s);

	/* Characters, not bytes: 101 two-byte "é" → 100 of them + "…". */
	for (size_t i = 0; i < 101; i++)
		memcpy(long_cmd + 2 * i, "é", 2);
	assert_int_equal(lock_cmdline_from_bytes(long_cmd, 202, &s), 0);
	assert_int_equal(strlen(s), 200 + strlen("…"));
	assert_string_equal(s + 200, "…");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_remote_fs_names),
		cmocka_unit_test(test_paths_and_default_dir),
		cmocka_unit_test(test_parse_proc_locks_filters_and_dedups),
		cmocka_unit_test(test_parse_proc_locks_second_needle),
		cmocka_unit_test(test_parse_mountinfo),
		cmocka_unit_test(test_cmdline_formatting),
	};

	return cmocka_run_group_tests_name("lock-parse", tests, NULL, NULL);
}
