/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The test web server for the unit tests that download (test-http, test-source-fetch):
 * tests/integration/mirror.py serving a directory on 127.0.0.1, over https when given a
 * certificate and key. Each server runs in its own process group; test_server_stop() kills
 * the group.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_SERVER_SCRIPT KTS_TEST_DATADIR "/../integration/mirror.py"

/* Starts mirror.py on dir (https with cert and key when cert is set); its pid and its URL
 * ("http://127.0.0.1:PORT"). -ECHILD when it did not start (no python3). */
static inline int test_server_start(const char *dir, const char *cert, const char *key,
				    pid_t *ret_pid, char *url, size_t size)
{
	int fds[2];
	char line[32] = "";
	ssize_t n = 0;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		(void) setpgid(0, 0);
		(void) dup2(fds[1], 1);
		if (cert)
			execlp("python3", "python3", TEST_SERVER_SCRIPT, "--tls", cert, key, dir,
			       (char *) NULL);
		else
			execlp("python3", "python3", TEST_SERVER_SCRIPT, dir, (char *) NULL);
		_exit(127);
	}
	(void) setpgid(pid, pid);
	(void) close(fds[1]);
	/* Up to the newline, so the script has finished writing before the pipe closes. */
	for (size_t got = 0; got < sizeof(line) - 1 && !strchr(line, '\n'); got += (size_t) n) {
		n = read(fds[0], line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			break;
	}
	(void) close(fds[0]);
	if (n <= 0 || atoi(line) <= 0) {
		(void) kill(-pid, SIGTERM);
		(void) waitpid(pid, NULL, 0);
		return -ECHILD;
	}
	*ret_pid = pid;
	(void) snprintf(url, size, "%s://127.0.0.1:%d", cert ? "https" : "http", atoi(line));
	return 0;
}

/* Kills the server's process group and reaps it; *pid = 0. */
static inline void test_server_stop(pid_t *pid)
{
	if (*pid <= 0)
		return;
	(void) kill(-*pid, SIGTERM);
	(void) waitpid(*pid, NULL, 0);
	*pid = 0;
}
