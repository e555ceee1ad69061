/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * engine-icecc.c: the scheduler setting as iceccd reads it, the strict parser of the
 * scheduler's listcs answer (pinned on an answer recorded from icecream 1.4), the local
 * daemon's handshake and the scheduler's text interface against small forked servers on
 * a unix socket and on 127.0.0.1, and the toolchain tarball made by a stand-in
 * icecc-create-env in a mkdtemp() cache (made once, reused, no temporary left behind).
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include <cmocka.h>

#include "engine-icecc.h"
#include "engine.h"
#include "job.h"
#include "macro.h"
#include "util.h"

/* What icecc-scheduler 1.4 answered on the test rig (tests/integration/icecc.sh). */
static const char rig_answer[] =
	"200-ICECC 1.4.0: 33s uptime, 2 hosts, 0 jobs in queue (2 total).\n"
	"200 Use 'help' for help and 'quit' to quit.\n"
	" ktslocal (127.0.0.1:0) [x86_64] speed=0.00 jobs=0/0 load=49\n"
	" ktsremote (127.0.0.1:10246) [x86_64] speed=0.00 jobs=0/2 load=48\n"
	"200 done\n";

static int parse(const char *text, const char *self, struct engine_icecc_servers *s)
{
	return engine_icecc_listcs_parse(text, strlen(text), self, s);
}

static void test_listcs_rig(void **state)
{
	struct engine_icecc_servers s;

	(void) state;
	assert_int_equal(parse(rig_answer, NULL, &s), 0);
	assert_int_equal(s.servers, 2);
	assert_int_equal(s.remote, 1); /* ktslocal listens on no port: no remote jobs */
	assert_int_equal(s.remote_slots, 2);
}

static void test_listcs_self_and_jobs(void **state)
{
	static const char a[] =
		"200-ICECC 1.4.0: 5s uptime, 3 hosts, 1 jobs in queue (9 total).\n"
		"200 Use 'help' for help and 'quit' to quit.\n"
		" me (10.0.0.1:10245) [x86_64] speed=12.50 jobs=1/8 load=200\n"
		"   8 compiling t.c\n"
		" big (10.0.0.2:10245) [x86_64] speed=99.00 jobs=0/32 load=0 busy installing since 3 s\n"
		" bad (10.0.0.3:10245) [x86_64] speed=0.00 jobs=0/-4 load=1000\n"
		"200 done\n";
	struct engine_icecc_servers s;

	(void) state;
	assert_int_equal(parse(a, "me", &s), 0);
	assert_int_equal(s.servers, 3);
	assert_int_equal(s.remote, 2);
	assert_int_equal(s.remote_slots, 32); /* "me" is this machine; -4: given no jobs */
	assert_int_equal(parse(a, NULL, &s), 0);
	assert_int_equal(s.remote_slots, 40);
	assert_int_equal(parse(a, "m", &s), 0); /* a prefix is another node */
	assert_int_equal(s.remote_slots, 40);
}

static void test_listcs_empty_cluster(void **state)
{
	struct engine_icecc_servers s;

	(void) state;
	assert_int_equal(parse("200-ICECC 1.4.0: 1s uptime, 0 hosts\n200 Use\n200 done\n", NULL,
			       &s), 0);
	assert_int_equal(s.servers, 0);
	assert_int_equal(s.remote_slots, 0);
}

static void test_listcs_caps(void **state)
{
	struct engine_icecc_servers s;
	char *a = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&a, &n);

	(void) state;
	assert_non_null(f);
	fputs("200-ICECC 1.4.0: hi\n", f);
	/* 40 servers of 999999 slots: each capped, the sum capped at make's limit */
	for (int i = 0; i < 40; i++)
		fprintf(f, " n%d (10.0.0.%d:1) [x] speed=1.00 jobs=0/999999 load=0\n", i, i);
	fputs("200 done\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(engine_icecc_listcs_parse(a, n, NULL, &s), 0);
	assert_int_equal(s.servers, 40);
	assert_int_equal(s.remote_slots, 40 * ENGINE_ICECC_SERVER_MAX_SLOTS > JOB_MAX_JOBS ?
						 JOB_MAX_JOBS : 40 * ENGINE_ICECC_SERVER_MAX_SLOTS);
	free(a);
}

static void test_listcs_rejects(void **state)
{
	static const char *const bad[] = {
		"", /* nothing */
		"200-ICECC 1.4.0: x\n", /* no "200 done": cut short */
		"200-ICECC 1.4.0: x\n200 done", /* no final newline */
		"200 done\n", /* no greeting */
		"SSH-2.0-OpenSSH\n200 done\n",
		"200-ICECC 1.4.0: x\n a (1.2.3.4:5) [x] speed=1.00 jobs=0/2\n200 done\n",
		"200-ICECC 1.4.0: x\n a (1.2.3.4:5) [x] speed=1.00 jobs=0/2 load=0 extra\n200 done\n",
		"200-ICECC 1.4.0: x\n a (1.2.3.4:70000) [x] speed=1.00 jobs=0/2 load=0\n200 done\n",
		"200-ICECC 1.4.0: x\n a (1.2.3.4) [x] speed=1.00 jobs=0/2 load=0\n200 done\n",
		"200-ICECC 1.4.0: x\n a (:5) [x] speed=1.00 jobs=0/2 load=0\n200 done\n",
		"200-ICECC 1.4.0: x\n a (1.2.3.4:5) [x] speed=1 jobs=0/2 load=0\n200 done\n",
		"200-ICECC 1.4.0: x\n a (1.2.3.4:5) [x] speed=1.00 jobs=0/9999999999 load=0\n"
		"200 done\n",
		"200-ICECC 1.4.0: x\n  a (1.2.3.4:5) [x] speed=1.00 jobs=0/2 load=0\n200 done\n",
		"200-ICECC 1.4.0: x\n   8 job before any server\n200 done\n",
		"200-ICECC 1.4.0: x\nInvalid command 'listcs'\n200 done\n",
		"200-ICECC 1.4.0: x\n a\tb (1.2.3.4:5) [x] speed=1.00 jobs=0/2 load=0\n200 done\n",
	};
	struct engine_icecc_servers s = { .servers = 77 };

	(void) state;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		if (parse(bad[i], NULL, &s) != -EBADMSG)
			fail_msg("accepted bad answer %zu: '%s'", i, bad[i]);
		assert_int_equal(s.servers, 77); /* untouched on failure */
	}
	/* a NUL byte inside a line */
	assert_int_equal(engine_icecc_listcs_parse("200-ICECC x\n\0\n200 done\n", 22, NULL, &s),
			 -EBADMSG);
	assert_int_equal(engine_icecc_listcs_parse(rig_answer, ENGINE_ICECC_LISTCS_MAX + 1, NULL,
						   &s), -EFBIG);
}

static void test_parse_scheduler(void **state)
{
	static const char *const bad[] = { "", ":8765", "host:", "host:0", "host:65536",
					   "host:12x", "ho st", "host:-1", "a/b", "host:+5" };
	char *host = NULL;
	uint16_t port = 0;

	(void) state;
	assert_int_equal(engine_icecc_parse_scheduler("ice.example.org", &host, &port), 0);
	assert_string_equal(host, "ice.example.org");
	assert_int_equal(port, ENGINE_ICECC_SCHEDULER_PORT);
	free(host);
	assert_int_equal(engine_icecc_parse_scheduler("127.0.0.1:41000", &host, &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 41000);
	free(host);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		if (engine_icecc_parse_scheduler(bad[i], &host, &port) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
}

static void test_conf_scheduler(void **state)
{
	char *v = NULL;

	(void) state;
	assert_int_equal(engine_icecc_conf_scheduler("# ICECC_SCHEDULER_HOST=\"no\"\n"
						     "ICECC_SCHEDULER_HOST=\"\"\n", &v), 0);
	assert_null(v);
	assert_int_equal(engine_icecc_conf_scheduler("ICECC_NETNAME=\"\"\n"
						     "ICECC_SCHEDULER_HOST=\"sched:9000\"\n", &v), 0);
	assert_string_equal(v, "sched:9000");
	free(v);
	assert_int_equal(engine_icecc_conf_scheduler("  ICECC_SCHEDULER_HOST=one # c\n"
						     "ICECC_SCHEDULER_HOST='two'", &v), 0);
	assert_string_equal(v, "two"); /* the last one wins */
	free(v);
	assert_int_equal(engine_icecc_conf_scheduler("", &v), 0);
	assert_null(v);
	/* a longer name is another variable */
	assert_int_equal(engine_icecc_conf_scheduler("ICECC_SCHEDULER_HOSTS=x\n", &v), 0);
	assert_null(v);
	assert_int_equal(engine_icecc_conf_value("ICECC_NETNAME=\"team\"\n", "ICECC_NETNAME", &v),
			 0);
	assert_string_equal(v, "team");
	free(v);
}

static void test_find_scheduler(void **state)
{
	char dir[] = "/tmp/test-icecc-XXXXXX", conf[64], *host = NULL, *why = NULL;
	const char *paths[] = { "/nonexistent/icecc.conf", conf, NULL }, *from = NULL;
	uint16_t port = 0;

	(void) state;
	assert_non_null(mkdtemp(dir));
	(void) snprintf(conf, sizeof(conf), "%s/icecc.conf", dir);
	unsetenv("USE_SCHEDULER");
	setenv("ICECC_SCHEDULER", "", 1); /* empty: unset */
	assert_int_equal(engine_icecc_find_scheduler(paths, false, &host, &port, &from, &why), -ENOENT);
	assert_int_equal(write_file_atomic(conf, "ICECC_SCHEDULER_HOST=\"conf.host\"\n", 33,
					   0644), 0);
	assert_int_equal(engine_icecc_find_scheduler(paths, false, &host, &port, &from, &why), 0);
	assert_string_equal(host, "conf.host");
	assert_int_equal(port, 8765);
	assert_string_equal(from, conf);
	free(host);
	setenv("ICECC_SCHEDULER", "env.host:1234", 1); /* the environment comes first */
	assert_int_equal(engine_icecc_find_scheduler(paths, false, &host, &port, &from, &why), 0);
	assert_string_equal(host, "env.host");
	assert_int_equal(port, 1234);
	assert_string_equal(from, "ICECC_SCHEDULER");
	free(host);
	setenv("ICECC_SCHEDULER", "bad host", 1);
	assert_int_equal(engine_icecc_find_scheduler(paths, false, &host, &port, &from, &why), -EINVAL);
	assert_non_null(strstr(why, "'bad host'"));
	free(why);
	unsetenv("ICECC_SCHEDULER");
	assert_int_equal(rm_rf(dir), 0);
}

static void test_announce_parse(void **state)
{
	uint8_t b[ENGINE_ICECC_ANNOUNCE_LEN] = { 0 };
	struct engine_icecc_announce a;

	(void) state;
	/* protocol >= 38 (icecream 1.4 answers so): version and start time big endian */
	b[0] = ENGINE_ICECC_PROTOCOL + 3;
	b[4] = 43;
	b[8] = 0x00, b[9] = 0x69, b[10] = 0x32, b[11] = 0x9a, b[12] = 0x00;
	memcpy(b + 13, "ICECREAM", 8);
	assert_int_equal(engine_icecc_announce_parse(b, sizeof(b), &a), 0);
	assert_int_equal(a.version, 43);
	assert_true(a.start == 0x69329a00u);
	assert_string_equal(a.netname, "ICECREAM");
	/* 33-37: little endian on this side */
	memset(b, 0, sizeof(b));
	b[0] = ENGINE_ICECC_PROTOCOL + 2;
	b[1] = 36;
	b[5] = 7;
	memcpy(b + 13, "team", 4);
	assert_int_equal(engine_icecc_announce_parse(b, 32, &a), 0);
	assert_int_equal(a.version, 36);
	assert_true(a.start == 7);
	assert_string_equal(a.netname, "team");
	/* <= 32: only the name */
	memset(b, 0, sizeof(b));
	b[0] = ENGINE_ICECC_PROTOCOL + 1;
	memcpy(b + 1, "old", 3);
	assert_int_equal(engine_icecc_announce_parse(b, 16, &a), 0);
	assert_int_equal(a.version, 32);
	/* malformed: unknown layout, no NUL, version 0, a control byte, too short */
	b[0] = 7;
	assert_int_equal(engine_icecc_announce_parse(b, 16, &a), -EBADMSG);
	memset(b, 'x', sizeof(b));
	b[0] = ENGINE_ICECC_PROTOCOL + 1;
	assert_int_equal(engine_icecc_announce_parse(b, sizeof(b), &a), -EBADMSG);
	memset(b, 0, sizeof(b));
	b[0] = ENGINE_ICECC_PROTOCOL + 3;
	assert_int_equal(engine_icecc_announce_parse(b, sizeof(b), &a), -EBADMSG);
	b[4] = 43;
	b[13] = '\n';
	assert_int_equal(engine_icecc_announce_parse(b, sizeof(b), &a), -EBADMSG);
	assert_int_equal(engine_icecc_announce_parse(b, 13, &a), -EBADMSG);
}

/* ------------------------------------------------------------------ forked servers */

/* A child serving one connection on listening socket l: handler(fd), then exit. */
static pid_t serve_one(int l, void (*handler)(int fd))
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = accept(l, NULL, NULL);

		if (fd >= 0)
			handler(fd);
		_exit(0);
	}
	return pid;
}

static void reap(pid_t pid)
{
	int st;

	(void) kill(pid, SIGKILL);
	(void) waitpid(pid, &st, 0);
}

/* An iceccd's side of the handshake (protocol 42: older than ours). */
static void daemon_42(int fd)
{
	uint8_t b[4] = { 42, 0, 0, 0 };
	uint8_t in[4];

	(void) write(fd, b, 4);
	if (loop_read(fd, in, 4) == 4 && in[0] == ENGINE_ICECC_PROTOCOL && loop_read(fd, in, 4) == 4)
		(void) write(fd, in, 4); /* our answer: min(42, ours) = 42, echoed */
	(void) loop_read(fd, in, 1); /* until we close */
}

static void daemon_mute(int fd)
{
	uint8_t in[4];

	(void) loop_read(fd, in, 4); /* reads our version, never answers, then closes */
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(l >= 0);
	(void) snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(l, (struct sockaddr *) &sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 4), 0);
	return l;
}

static void test_daemon_check(void **state)
{
	char dir[] = "/tmp/test-icecc-XXXXXX", sock[64], *where = NULL, *why = NULL;
	int l;
	pid_t pid;

	(void) state;
	assert_non_null(mkdtemp(dir));
	(void) snprintf(sock, sizeof(sock), "%s/iceccd.socket", dir);
	setenv("ICECC_TEST_SOCKET", sock, 1);
	/* nobody there */
	assert_int_equal(engine_icecc_daemon_check(500, &where, &why), -ENOENT);
	assert_non_null(strstr(why, sock));
	free(why);
	why = NULL;
	l = listen_unix(sock);
	pid = serve_one(l, daemon_42);
	assert_int_equal(engine_icecc_daemon_check(2000, &where, &why), 0);
	assert_string_equal(where, sock);
	free(where);
	reap(pid);
	/* something that accepts but does not speak icecream: bounded, then an error */
	pid = serve_one(l, daemon_mute);
	assert_true(engine_icecc_daemon_check(300, &where, &why) < 0);
	assert_non_null(strstr(why, "no icecream daemon"));
	free(why);
	reap(pid);
	close(l);
	unsetenv("ICECC_TEST_SOCKET");
	assert_int_equal(rm_rf(dir), 0);
}

/* The scheduler greets on connect and answers commands after: the greeting's length. */
static size_t greeting_len(void)
{
	return (size_t) (strstr(rig_answer, " ktslocal") - rig_answer);
}

static void scheduler_text(int fd)
{
	char buf[64];
	ssize_t n;

	(void) write(fd, rig_answer, greeting_len());
	n = read(fd, buf, sizeof(buf));
	if (n > 0 && strncmp(buf, "listcs\n", 7) == 0)
		(void) write(fd, rig_answer + greeting_len(), strlen(rig_answer) - greeting_len());
	(void) read(fd, buf, sizeof(buf));
}

static void test_query(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	struct engine_icecc_servers s;
	char *why = NULL;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	(void) state;
	assert_int_equal(bind(l, (struct sockaddr *) &sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *) &sa, &sl), 0);
	pid = serve_one(l, scheduler_text);
	/* the text interface is the scheduler's port + 1 */
	assert_int_equal(engine_icecc_query("127.0.0.1", ntohs(sa.sin_port) - 1, 2000, NULL, &s,
					    &why), 0);
	assert_int_equal(s.remote_slots, 2);
	reap(pid);
	close(l);
	/* now nobody listens there */
	assert_int_equal(engine_icecc_query("127.0.0.1", ntohs(sa.sin_port) - 1, 2000, NULL, &s,
					    &why), -ECONNREFUSED);
	assert_non_null(strstr(why, "connection refused") ?: strstr(why, "Connection refused"));
	free(why);
}

/* ------------------------------------------------------------------ the toolchain tarball */

static void write_exec(const char *path, const char *text)
{
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0755), 0);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void test_env(void **state)
{
	char dir[] = "/tmp/test-icecc-XXXXXX", bin[64], cache[64], icedir[80], tool[96], cc[96],
	     runs[96], stale[128], fresh[128], *path = NULL, *path2 = NULL, *why = NULL, *old_path;
	bool made = false;
	struct stat st;

	(void) state;
	assert_non_null(mkdtemp(dir));
	(void) snprintf(bin, sizeof(bin), "%s/bin", dir);
	(void) snprintf(cache, sizeof(cache), "%s/cache", dir);
	(void) snprintf(icedir, sizeof(icedir), "%s/icecc", cache);
	(void) snprintf(tool, sizeof(tool), "%s/icecc-create-env", bin);
	(void) snprintf(cc, sizeof(cc), "%s/fakecc", bin);
	(void) snprintf(runs, sizeof(runs), "%s/runs", dir);
	assert_int_equal(mkdir_p(bin, 0755), 0);
	write_exec(cc, "#!/bin/sh\nexit 0\n");
	/* icecc-create-env's contract: the tarball, named by its MD5, in the working dir */
	write_exec(tool, "#!/bin/sh\necho run >>\"$RUNS\"\n[ -x \"$1\" ] || exit 1\n"
			 "echo creating 0123abcd.tar.gz\necho tarball >0123abcd.tar.gz\n");
	old_path = strdup(getenv("PATH"));
	setenv("PATH", bin, 1);
	setenv("RUNS", runs, 1);
	/* what a build killed while packing leaves: an old one goes, a recent one stays */
	(void) snprintf(stale, sizeof(stale), "%s/.tmp-old123", icedir);
	(void) snprintf(fresh, sizeof(fresh), "%s/.tmp-new123", icedir);
	assert_int_equal(mkdir_p(stale, 0755), 0);
	assert_int_equal(mkdir_p(fresh, 0755), 0);
	{
		struct timespec old[2] = { { .tv_sec = time(NULL) - ENGINE_ICECC_TMP_STALE_S - 60 },
					   { .tv_sec = time(NULL) - ENGINE_ICECC_TMP_STALE_S - 60 } };

		assert_int_equal(utimensat(AT_FDCWD, stale, old, 0), 0);
	}
	assert_int_equal(engine_icecc_env(cache, "fakecc", &path, &made, &why), 0);
	assert_true(made);
	assert_int_equal(access(stale, F_OK), -1);
	assert_int_equal(access(fresh, F_OK), 0);
	assert_int_equal(rmdir(fresh), 0);
	assert_int_equal(strncmp(path, icedir, strlen(icedir)), 0);
	assert_non_null(strstr(path, "/fakecc-"));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(count_entries(icedir), 1); /* no temporary directory left */
	/* the same compiler again: the same tarball, not made again */
	assert_int_equal(engine_icecc_env(cache, "fakecc", &path2, &made, &why), 0);
	assert_false(made);
	assert_string_equal(path, path2);
	free(path2);
	assert_int_equal(read_full_file(runs, 0, &why, NULL), 0);
	assert_string_equal(why, "run\n"); /* icecc-create-env ran once */
	free(why);
	why = NULL;
	/* a new compiler binary (other size): another tarball */
	write_exec(cc, "#!/bin/sh\n# version 2\nexit 0\n");
	assert_int_equal(engine_icecc_env(cache, "fakecc", &path2, &made, &why), 0);
	assert_true(made);
	assert_string_not_equal(path, path2);
	free(path2);
	free(path);
	/* icecc-create-env fails: its last line is the reason, nothing is kept */
	write_exec(tool, "#!/bin/sh\necho adding file x\necho \"$1 is not a compiler.\"\nexit 1\n");
	write_exec(cc, "#!/bin/sh\n# version 3\nexit 0\n");
	assert_int_equal(engine_icecc_env(cache, "fakecc", &path, &made, &why), -EIO);
	assert_non_null(strstr(why, "is not a compiler."));
	free(why);
	why = NULL;
	assert_int_equal(count_entries(icedir), 2);
	assert_int_equal(engine_icecc_env(cache, "nosuchcc", &path, &made, &why), -ENOENT);
	assert_non_null(strstr(why, "'nosuchcc'"));
	free(why);
	setenv("PATH", old_path, 1);
	free(old_path);
	unsetenv("RUNS");
	assert_int_equal(rm_rf(dir), 0);
}

/* ------------------------------------------------------------------ the plan */

struct plan_rig {
	char dir[32], bin[64], sock[64], cache[64];
	char *old_path;
};

/* Stand-ins for icecc and icecc-create-env in PATH, a cache, no daemon yet. */
static void plan_rig_setup(struct plan_rig *g)
{
	char p[128];

	(void) snprintf(g->dir, sizeof(g->dir), "/tmp/test-icecc-XXXXXX");
	assert_non_null(mkdtemp(g->dir));
	(void) snprintf(g->bin, sizeof(g->bin), "%s/bin", g->dir);
	(void) snprintf(g->sock, sizeof(g->sock), "%s/iceccd.socket", g->dir);
	(void) snprintf(g->cache, sizeof(g->cache), "%s/cache", g->dir);
	assert_int_equal(mkdir_p(g->bin, 0755), 0);
	(void) snprintf(p, sizeof(p), "%s/icecc", g->bin);
	write_exec(p, "#!/bin/sh\nexit 0\n");
	(void) snprintf(p, sizeof(p), "%s/cc", g->bin);
	write_exec(p, "#!/bin/sh\nexit 0\n");
	(void) snprintf(p, sizeof(p), "%s/icecc-create-env", g->bin);
	write_exec(p, "#!/bin/sh\necho tarball >0123abcd.tar.gz\n");
	g->old_path = strdup(getenv("PATH"));
	setenv("PATH", g->bin, 1);
	setenv("ICECC_TEST_SOCKET", g->sock, 1);
	unsetenv("ICECC_VERSION");
}

static void plan_rig_teardown(struct plan_rig *g)
{
	setenv("PATH", g->old_path, 1);
	free(g->old_path);
	unsetenv("ICECC_TEST_SOCKET");
	unsetenv("ICECC_SCHEDULER");
	assert_int_equal(rm_rf(g->dir), 0);
}

static void test_plan_fallbacks(void **state)
{
	struct kts_compile_request req = { .engine = KTS_ENGINE_ICECC };
	struct kts_compile_plan plan = { 0 };
	struct plan_rig g;
	char *why = NULL, p[128];
	int l;
	pid_t pid;

	(void) state;
	plan_rig_setup(&g);
	/* no daemon: a local build, and the reason names where the daemon was looked for */
	assert_int_equal(engine_icecc_plan(&req, g.cache, "cc", &plan, &why), 0);
	assert_int_equal(plan.engine, KTS_ENGINE_NONE);
	assert_non_null(strstr(plan.fallback, "icecream: no icecream daemon"));
	assert_non_null(strstr(plan.fallback, g.sock));
	free(plan.fallback);
	plan.fallback = NULL;
	/* a daemon, but a scheduler that does not answer */
	l = listen_unix(g.sock);
	pid = serve_one(l, daemon_42);
	setenv("ICECC_SCHEDULER", "127.0.0.1:1", 1);
	assert_int_equal(engine_icecc_plan(&req, g.cache, "cc", &plan, &why), 0);
	assert_int_equal(plan.engine, KTS_ENGINE_NONE);
	assert_non_null(strstr(plan.fallback, "scheduler 127.0.0.1:1 (its text interface, port 2): "));
	assert_null(plan.hosts);
	free(plan.fallback);
	plan.fallback = NULL;
	reap(pid);
	close(l);
	/* icecc itself missing: an error (exit 4), not a fallback */
	(void) snprintf(p, sizeof(p), "%s/icecc", g.bin);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(engine_icecc_plan(&req, g.cache, "cc", &plan, &why), -ENXIO);
	assert_non_null(strstr(why, "'icecc' not found"));
	free(why);
	plan_rig_teardown(&g);
}

static void test_plan_ok(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	struct kts_compile_request req = { .engine = KTS_ENGINE_ICECC };
	struct kts_compile_plan plan = { 0 };
	struct plan_rig g;
	char *why = NULL, sched[32], icedir[96], **env = NULL;
	size_t n = 0;
	int lu, lt = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t d, t;

	(void) state;
	plan_rig_setup(&g);
	lu = listen_unix(g.sock);
	assert_int_equal(bind(lt, (struct sockaddr *) &sa, sizeof(sa)), 0);
	assert_int_equal(listen(lt, 4), 0);
	assert_int_equal(getsockname(lt, (struct sockaddr *) &sa, &sl), 0);
	(void) snprintf(sched, sizeof(sched), "127.0.0.1:%u", ntohs(sa.sin_port) - 1);
	setenv("ICECC_SCHEDULER", sched, 1);
	for (int round = 0; round < 2; round++) {
		d = serve_one(lu, daemon_42);
		t = serve_one(lt, scheduler_text);
		req.remote_jobs = round ? 7 : 0; /* --remote-jobs beats what the scheduler says */
		assert_int_equal(engine_icecc_plan(&req, g.cache, "cc", &plan, &why), 0);
		assert_null(plan.fallback);
		assert_int_equal(plan.engine, KTS_ENGINE_ICECC);
		assert_string_equal(plan.hosts, sched);
		assert_int_equal(plan.remote_jobs, round ? 7 : 2);
		assert_non_null(strstr(plan.engine_bin, "/icecc"));
		assert_int_equal(strncmp(plan.icecc_env, g.cache, strlen(g.cache)), 0);
		/* what make's environment gets: the toolchain the remote daemons compile in */
		assert_int_equal(engine_make_env(&plan, &env, &n), 0);
		assert_int_equal(n, 1);
		assert_true(startswith(env[0], "ICECC_VERSION="));
		assert_string_equal(env[0] + strlen("ICECC_VERSION="), plan.icecc_env);
		strv_free(env, n);
		env = NULL;
		n = 0;
		free(plan.hosts);
		free(plan.engine_bin);
		free(plan.icecc_env);
		plan = (struct kts_compile_plan){ 0 };
		reap(d);
		reap(t);
	}
	/* the user's own ICECC_VERSION is kept: nothing packed */
	setenv("ICECC_VERSION", "/opt/tc/native.tar.gz,arm:/opt/tc/arm.tar.gz", 1);
	d = serve_one(lu, daemon_42);
	t = serve_one(lt, scheduler_text);
	(void) snprintf(icedir, sizeof(icedir), "%s/icecc", g.cache);
	assert_int_equal(rm_rf(icedir), 0);
	assert_int_equal(engine_icecc_plan(&req, g.cache, "cc", &plan, &why), 0);
	assert_int_equal(plan.engine, KTS_ENGINE_ICECC);
	assert_string_equal(plan.icecc_env, "/opt/tc/native.tar.gz,arm:/opt/tc/arm.tar.gz");
	assert_int_equal(access(icedir, F_OK), -1);
	compile_plan_done(&plan);
	reap(d);
	reap(t);
	/* a relative one would name another file where make runs: a local build */
	setenv("ICECC_VERSION", "native.tar.gz", 1);
	d = serve_one(lu, daemon_42);
	t = serve_one(lt, scheduler_text);
	assert_int_equal(engine_icecc_plan(&req, g.cache, "cc", &plan, &why), 0);
	assert_int_equal(plan.engine, KTS_ENGINE_NONE);
	assert_non_null(strstr(plan.fallback, "ICECC_VERSION='native.tar.gz' is not an absolute"));
	unsetenv("ICECC_VERSION");
	compile_plan_done(&plan);
	reap(d);
	reap(t);
	close(lu);
	close(lt);
	plan_rig_teardown(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listcs_rig),
		cmocka_unit_test(test_listcs_self_and_jobs),
		cmocka_unit_test(test_listcs_empty_cluster),
		cmocka_unit_test(test_listcs_caps),
		cmocka_unit_test(test_listcs_rejects),
		cmocka_unit_test(test_parse_scheduler),
		cmocka_unit_test(test_conf_scheduler),
		cmocka_unit_test(test_find_scheduler),
		cmocka_unit_test(test_announce_parse),
		cmocka_unit_test(test_daemon_check),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_plan_fallbacks),
		cmocka_unit_test(test_plan_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
