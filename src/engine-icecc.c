/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * engine-icecc: icecream as a distributed compile engine — finding the scheduler as
 * iceccd does, checking the local daemon answers, the remote slots the scheduler
 * reports (its text interface's `listcs`), and the plan (the toolchain tarball remote
 * daemons compile in is engine-icecc-env.c's). The contract is in engine-icecc.h;
 * engine.c owns the plan around it (engine_plan(), -j sizing, the fallback warning).
 * Sockets are the only I/O of its own; every fd is O_CLOEXEC and every wait bounded.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "engine-icecc.h"
#include "job.h"
#include "log.h"
#include "macro.h"
#include "util.h"

const char *const engine_icecc_conf_paths[] = {
	"/etc/icecc/icecc.conf",   /* Debian, Ubuntu, Fedora */
	"/etc/sysconfig/icecream", /* openSUSE */
	NULL,
};

/* ---------------------------------------------------------------- the scheduler */

static bool host_char(char c)
{
	return isalnum((unsigned char) c) || c == '.' || c == '-' || c == '_';
}

int engine_icecc_parse_scheduler(const char *s, char **ret_host, uint16_t *ret_port)
{
	const char *colon = strrchr(s, ':');
	size_t hl = colon ? (size_t) (colon - s) : strlen(s);
	unsigned long port = ENGINE_ICECC_SCHEDULER_PORT;
	char *host;

	if (hl == 0 || hl > 253)
		return -EINVAL;
	for (size_t i = 0; i < hl; i++)
		if (!host_char(s[i]))
			return -EINVAL;
	if (colon) {
		char *end;

		if (!isdigit((unsigned char) colon[1]))
			return -EINVAL;
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || *end || port == 0 || port > 65535)
			return -EINVAL;
	}
	host = strndup(s, hl);
	if (!host)
		return -ENOMEM;
	*ret_host = host;
	*ret_port = (uint16_t) port;
	return 0;
}

/* The value of one NAME=VALUE line of shell (quotes stripped; no expansion). */
static char *conf_value(const char *v, size_t len)
{
	while (len > 0 && isspace((unsigned char) v[len - 1]))
		len--;
	if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0]) {
		v++;
		len -= 2;
	} else {
		/* unquoted: up to a blank or a comment */
		for (size_t i = 0; i < len; i++)
			if (isspace((unsigned char) v[i]) || v[i] == '#') {
				len = i;
				break;
			}
	}
	return strndup(v, len);
}

int engine_icecc_conf_value(const char *text, const char *name, char **ret)
{
	_cleanup_free_ char *val = NULL;
	size_t nl = strlen(name);

	for (const char *l = text; l && *l;) {
		const char *eol = strchrnul(l, '\n');

		while (l < eol && (*l == ' ' || *l == '\t'))
			l++;
		if ((size_t) (eol - l) > nl && strncmp(l, name, nl) == 0 && l[nl] == '=') {
			/* the last assignment wins, as when the shell sources the file */
			free(val);
			val = conf_value(l + nl + 1, (size_t) (eol - l) - nl - 1);
			if (!val)
				return -ENOMEM;
		}
		l = *eol ? eol + 1 : NULL;
	}
	if (val && !*val) {
		free(val);
		val = NULL;
	}
	*ret = TAKE_PTR(val);
	return 0;
}

int engine_icecc_conf_scheduler(const char *text, char **ret)
{
	return engine_icecc_conf_value(text, "ICECC_SCHEDULER_HOST", ret);
}

static int discover(const char *netname, unsigned timeout_ms, char **ret_host, uint16_t *ret_port,
		    char **ret_why);

int engine_icecc_find_scheduler(const char *const *conf_paths, bool broadcast, char **ret_host,
				uint16_t *ret_port, const char **ret_from, char **ret_why)
{
	const char *env = getenv_nonempty("ICECC_SCHEDULER");
	_cleanup_free_ char *netname = NULL;
	int r;

	if (!env)
		env = getenv_nonempty("USE_SCHEDULER"); /* icecream's older name */
	if (env) {
		r = engine_icecc_parse_scheduler(env, ret_host, ret_port);
		if (r == -EINVAL)
			return why_set(ret_why, r, "ICECC_SCHEDULER='%s' is not HOST[:PORT]", env);
		if (r >= 0)
			*ret_from = "ICECC_SCHEDULER";
		return r;
	}
	for (const char *const *p = conf_paths ?: engine_icecc_conf_paths; *p; p++) {
		_cleanup_free_ char *text = NULL, *val = NULL;

		if (read_full_file(*p, 1 << 20, &text, NULL) < 0)
			continue;
		r = engine_icecc_conf_scheduler(text, &val);
		if (r >= 0 && !netname)
			r = engine_icecc_conf_value(text, "ICECC_NETNAME", &netname);
		if (r < 0)
			return r;
		if (!val)
			continue;
		r = engine_icecc_parse_scheduler(val, ret_host, ret_port);
		if (r == -EINVAL)
			return why_set(ret_why, r, "ICECC_SCHEDULER_HOST='%s' in '%s' is not "
				       "HOST[:PORT]", val, *p);
		if (r >= 0)
			*ret_from = *p;
		return r;
	}
	if (!broadcast)
		return -ENOENT;
	r = discover(netname ?: "ICECREAM", ENGINE_ICECC_TIMEOUT_MS, ret_host, ret_port, ret_why);
	if (r >= 0)
		*ret_from = "broadcast";
	return r;
}

/* ---------------------------------------------------------------- sockets */

static int64_t now_ms(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline (ms, CLOCK_MONOTONIC): 0, -ETIMEDOUT, -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		struct pollfd p = { .fd = fd, .events = events };
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int) MIN(left, (int64_t) INT_MAX));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n > 0)
			return 0;
	}
}

/* A non-blocking connect to sa, finished by deadline: the fd, or negative errno. */
static int connect_by(const struct sockaddr *sa, socklen_t len, int64_t deadline)
{
	_cleanup_close_ int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
					0);
	int err = 0, r;
	socklen_t el = sizeof(err);

	if (fd < 0)
		return -errno;
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS)
			return -errno;
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			return r;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			return -errno;
		if (err)
			return -err;
	}
	return TAKE_FD(fd);
}

static int connect_tcp(const char *host, uint16_t port, int64_t deadline)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	char ps[8];
	int r;

	(void) snprintf(ps, sizeof(ps), "%u", port);
	r = getaddrinfo(host, ps, &hints, &ai);
	if (r != 0)
		return r == EAI_SYSTEM ? -errno : r == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH;
	r = -EHOSTUNREACH;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		r = connect_by(a->ai_addr, a->ai_addrlen, deadline);
		if (r >= 0)
			break;
	}
	freeaddrinfo(ai);
	return r;
}

static int connect_unix(const char *path, int64_t deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	return connect_by((struct sockaddr *) &sa, sizeof(sa), deadline);
}

/* Reads exactly n bytes by deadline: 0, -ECONNRESET at EOF, -ETIMEDOUT, -errno. */
static int read_exact(int fd, void *buf, size_t n, int64_t deadline)
{
	for (size_t got = 0; got < n;) {
		ssize_t k;
		int r = wait_fd(fd, POLLIN, deadline);

		if (r < 0)
			return r;
		k = read(fd, (char *) buf + got, n - got);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ECONNRESET;
		got += (size_t) k;
	}
	return 0;
}

static void put_le32(uint8_t b[4], uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t) (v >> (8 * i));
}

static uint32_t get_le32(const uint8_t b[4])
{
	return (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16 |
	       (uint32_t) b[3] << 24;
}

/*
 * icecream's handshake (services/comm.cpp, MsgChannel): each side sends its protocol
 * version (32-bit little endian), answers the other's with the lower of the two, and
 * checks that the other's answer is that same number.
 */
static int handshake(int fd, int64_t deadline)
{
	uint8_t b[4];
	uint32_t theirs, agreed;
	int r;

	put_le32(b, ENGINE_ICECC_PROTOCOL);
	r = write_all(fd, b, 4);
	if (r < 0)
		return r;
	r = read_exact(fd, b, 4, deadline);
	if (r < 0)
		return r;
	theirs = get_le32(b);
	if (theirs < 1 || theirs > (1u << 20))
		return -EPROTO;
	agreed = MIN(theirs, (uint32_t) ENGINE_ICECC_PROTOCOL);
	put_le32(b, agreed);
	r = write_all(fd, b, 4);
	if (r < 0)
		return r;
	r = read_exact(fd, b, 4, deadline);
	if (r < 0)
		return r;
	return get_le32(b) == agreed ? 0 : -EPROTO;
}

/* ---------------------------------------------------------------- discovery */

static uint32_t get_be32(const uint8_t b[4])
{
	return (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
}

int engine_icecc_announce_parse(const uint8_t *buf, size_t len, struct engine_icecc_announce *ret)
{
	struct engine_icecc_announce a = { 0 };
	size_t off = 13, nl;

	if (len < 2)
		return -EBADMSG;
	switch (buf[0]) {
	case ENGINE_ICECC_PROTOCOL + 1: /* a scheduler of protocol 32 or older */
		a.version = 32;
		off = 1;
		break;
	case ENGINE_ICECC_PROTOCOL + 2: /* 33-37: host byte order (little endian here) */
		if (len < 14)
			return -EBADMSG;
		a.version = get_le32(buf + 1);
		a.start = (uint64_t) get_le32(buf + 5) | (uint64_t) get_le32(buf + 9) << 32;
		break;
	case ENGINE_ICECC_PROTOCOL + 3: /* 38 and newer: network byte order */
		if (len < 14)
			return -EBADMSG;
		a.version = get_be32(buf + 1);
		a.start = (uint64_t) get_be32(buf + 5) << 32 | get_be32(buf + 9);
		break;
	default:
		return -EBADMSG;
	}
	nl = strnlen((const char *) buf + off, len - off);
	if (nl == len - off || nl >= sizeof(a.netname) || a.version < 1 || a.version > 127)
		return -EBADMSG;
	for (size_t i = 0; i < nl; i++)
		if (buf[off + i] < 0x20 || buf[off + i] == 0x7f)
			return -EBADMSG;
	memcpy(a.netname, buf + off, nl);
	*ret = a;
	return 0;
}

/* Sends icecream's discovery byte to every broadcast-capable IPv4 network: how many. */
static int send_discovery(int fd)
{
	uint8_t v = ENGINE_ICECC_PROTOCOL;
	struct ifaddrs *ifs = NULL;
	int n = 0;

	if (getifaddrs(&ifs) < 0)
		return -errno;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		struct sockaddr_in to;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_broadaddr ||
		    !(i->ifa_flags & IFF_UP) || !(i->ifa_flags & IFF_BROADCAST) ||
		    (i->ifa_flags & (IFF_LOOPBACK | IFF_POINTOPOINT)))
			continue;
		memcpy(&to, i->ifa_broadaddr, sizeof(to));
		to.sin_port = htons(ENGINE_ICECC_SCHEDULER_PORT);
		if (sendto(fd, &v, 1, 0, (struct sockaddr *) &to, sizeof(to)) == 1)
			n++;
	}
	freeifaddrs(ifs);
	return n;
}

/*
 * iceccd's last resort (services/comm.cpp, DiscoverSched): one byte, our protocol version,
 * to UDP port 8765 of every broadcast address; schedulers answer with their version,
 * start time and network name. Of those of our network, the newest version wins, then
 * the longest running. Waits timeout_ms for answers.
 */
static int discover(const char *netname, unsigned timeout_ms, char **ret_host, uint16_t *ret_port,
		    char **ret_why)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int64_t deadline = now_ms() + timeout_ms;
	struct engine_icecc_announce best = { 0 };
	struct sockaddr_in best_from = { 0 };
	int on = 1, sent;
	char ip[INET_ADDRSTRLEN];

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on)) < 0)
		return why_set(ret_why, -errno, "cannot open a UDP socket: %m");
	sent = send_discovery(fd);
	if (sent <= 0)
		return why_set(ret_why, -ENOENT, "no scheduler named (ICECC_SCHEDULER, "
			       "ICECC_SCHEDULER_HOST in %s) and no network to look for one on",
			       engine_icecc_conf_paths[0]);
	while (wait_fd(fd, POLLIN, deadline) >= 0) {
		uint8_t buf[ENGINE_ICECC_ANNOUNCE_LEN + 1];
		struct engine_icecc_announce a;
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t k = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *) &from, &fl);

		if (k <= 0 || from.sin_family != AF_INET ||
		    engine_icecc_announce_parse(buf, (size_t) k, &a) < 0 ||
		    strcasecmp(a.netname, netname) != 0)
			continue;
		if (a.version > best.version || (a.version == best.version && a.start < best.start)) {
			best = a;
			best_from = from;
		}
	}
	if (best.version == 0)
		return why_set(ret_why, -ENOENT, "no scheduler named (ICECC_SCHEDULER, "
			       "ICECC_SCHEDULER_HOST in %s) and none of network '%s' answered a "
			       "broadcast on UDP port %u (%d networks)", engine_icecc_conf_paths[0],
			       netname, ENGINE_ICECC_SCHEDULER_PORT, sent);
	if (!inet_ntop(AF_INET, &best_from.sin_addr, ip, sizeof(ip)) || !(*ret_host = strdup(ip)))
		return -ENOMEM;
	*ret_port = ntohs(best_from.sin_port);
	return 0;
}

/* ---------------------------------------------------------------- the local daemon */

static int try_daemon(const char *where, bool tcp, int64_t deadline)
{
	_cleanup_close_ int fd = tcp ? connect_tcp("127.0.0.1", ENGINE_ICECC_DAEMON_PORT, deadline)
				     : connect_unix(where, deadline);

	if (fd < 0)
		return fd;
	return handshake(fd, deadline);
}

static int append_reason(char **buf, const char *where, int r)
{
	char *n = NULL;

	if (asprintf(&n, "%s%s%s: %s", strempty(*buf), *buf ? ", " : "", where,
		     strerror(-r)) < 0)
		return -ENOMEM;
	free(*buf);
	*buf = n;
	return 0;
}

int engine_icecc_daemon_check(unsigned timeout_ms, char **ret_where, char **ret_why)
{
	const char *test = getenv_nonempty("ICECC_TEST_SOCKET"), *home = getenv_nonempty("HOME");
	_cleanup_free_ char *home_sock = NULL, *tried = NULL;
	const char *places[5];
	size_t n = 0;
	int r = -ENOENT;

	/* the icecc client's order (client/main.cpp, get_local_daemon()) */
	if (test)
		places[n++] = test;
	else {
		places[n++] = "/var/run/icecc/iceccd.socket";
		places[n++] = "/var/run/iceccd.socket";
		if (home && asprintf(&home_sock, "%s/.iceccd.socket", home) >= 0)
			places[n++] = home_sock;
		places[n++] = "127.0.0.1:10245";
	}
	for (size_t i = 0; i < n; i++) {
		bool tcp = !test && i == n - 1;

		r = try_daemon(places[i], tcp, now_ms() + timeout_ms);
		if (r >= 0) {
			char *w = strdup(places[i]);

			if (!w)
				return -ENOMEM;
			*ret_where = w;
			return 0;
		}
		if (append_reason(&tried, places[i], r) < 0)
			return -ENOMEM;
	}
	return why_set(ret_why, r, "no icecream daemon (iceccd) answers (%s)", strempty(tried));
}

/* ---------------------------------------------------------------- listcs */

/* Parses an unsigned decimal at *p (at most 9 digits); advances *p. */
static bool parse_uint(const char **p, const char *end, unsigned *ret)
{
	unsigned v = 0;
	const char *s = *p;

	if (s >= end || !isdigit((unsigned char) *s))
		return false;
	for (; s < end && isdigit((unsigned char) *s); s++) {
		if (s - *p >= 9)
			return false;
		v = v * 10 + (unsigned) (*s - '0');
	}
	*p = s;
	*ret = v;
	return true;
}

static bool eat(const char **p, const char *end, const char *word)
{
	size_t l = strlen(word);

	if ((size_t) (end - *p) < l || memcmp(*p, word, l) != 0)
		return false;
	*p += l;
	return true;
}

/* Up to the next stop character (not crossing end, no blank or control byte): its length. */
static size_t span_to(const char *p, const char *end, char stop)
{
	size_t n = 0;

	while (p + n < end && p[n] != stop) {
		if ((unsigned char) p[n] <= ' ' || p[n] == 0x7f)
			return 0;
		n++;
	}
	return p + n < end ? n : 0;
}

/*
 * One server line (scheduler/scheduler.cpp, handle_line() "listcs"):
 *   " NODE (IP:PORT) [PLATFORM] speed=F jobs=N/M load=L[ busy installing since S s]"
 * M may be negative (the scheduler's mark of a server it no longer gives jobs to).
 */
static bool parse_server(const char *p, const char *end, const char *self, bool *ret_remote,
			 unsigned *ret_max)
{
	size_t nl, al;
	const char *node = p + 1, *colon;
	unsigned port, running, max, load, since, speed_i;
	bool negative;

	if (!eat(&p, end, " "))
		return false;
	nl = span_to(p, end, ' ');
	if (nl == 0 || nl > 255)
		return false;
	p += nl;
	if (!eat(&p, end, " ("))
		return false;
	al = span_to(p, end, ')');
	colon = al ? memrchr(p, ':', al) : NULL;
	if (!colon || colon == p)
		return false;
	{
		const char *q = colon + 1;

		if (!parse_uint(&q, p + al, &port) || q != p + al || port > 65535)
			return false;
	}
	p += al;
	if (!eat(&p, end, ") ["))
		return false;
	al = span_to(p, end, ']');
	p += al;
	if (!eat(&p, end, "] speed=") || !parse_uint(&p, end, &speed_i) || !eat(&p, end, ".") ||
	    !parse_uint(&p, end, &speed_i) || !eat(&p, end, " jobs=") ||
	    !parse_uint(&p, end, &running) || !eat(&p, end, "/"))
		return false;
	negative = eat(&p, end, "-");
	if (!parse_uint(&p, end, &max) || !eat(&p, end, " load=") || !parse_uint(&p, end, &load))
		return false;
	if (p < end && (!eat(&p, end, " busy installing since ") || !parse_uint(&p, end, &since) ||
			!eat(&p, end, " s")))
		return false;
	if (p != end)
		return false;
	*ret_remote = port != 0 && !(self && strlen(self) == nl && memcmp(node, self, nl) == 0);
	*ret_max = negative ? 0 : MIN(max, (unsigned) ENGINE_ICECC_SERVER_MAX_SLOTS);
	return true;
}

/* What one line of the text interface is, in the order the answer has them. */
enum line_kind { LINE_GREETING, LINE_SERVER, LINE_JOB, LINE_DONE, LINE_BAD };

static enum line_kind classify(const char *l, size_t n)
{
	if (n >= 4 && (memcmp(l, "200-", 4) == 0 || memcmp(l, "200 ", 4) == 0))
		return n == 8 && memcmp(l, "200 done", 8) == 0 ? LINE_DONE : LINE_GREETING;
	if (n >= 4 && memcmp(l, "   ", 3) == 0 && l[3] != ' ')
		return LINE_JOB;
	if (n >= 2 && l[0] == ' ' && l[1] != ' ')
		return LINE_SERVER;
	return LINE_BAD;
}

int engine_icecc_listcs_parse(const char *text, size_t len, const char *self,
			      struct engine_icecc_servers *ret)
{
	struct engine_icecc_servers s = { 0 };
	bool greeted = false, server_seen = false;
	unsigned long long slots = 0;

	if (len > ENGINE_ICECC_LISTCS_MAX)
		return -EFBIG;
	for (const char *l = text, *end = text + len; l < end;) {
		const char *eol = memchr(l, '\n', (size_t) (end - l));
		size_t n;
		bool remote;
		unsigned max;

		if (!eol)
			return -EBADMSG; /* cut short */
		n = (size_t) (eol - l);
		if (memchr(l, '\0', n))
			return -EBADMSG;
		switch (classify(l, n)) {
		case LINE_GREETING:
			if (server_seen)
				return -EBADMSG;
			greeted = greeted || (n > 9 && memcmp(l, "200-ICECC ", 10) == 0);
			break;
		case LINE_SERVER:
			if (!greeted || !parse_server(l, eol, self, &remote, &max))
				return -EBADMSG;
			server_seen = true;
			s.servers++;
			if (remote) {
				s.remote++;
				slots += max;
			}
			break;
		case LINE_JOB:
			if (!server_seen)
				return -EBADMSG;
			break;
		case LINE_DONE:
			if (!greeted)
				return -EBADMSG;
			s.remote_slots = (unsigned) MIN(slots, (unsigned long long) JOB_MAX_JOBS);
			*ret = s;
			return 0;
		default:
			return -EBADMSG;
		}
		l = eol + 1;
	}
	return -EBADMSG;
}

/* Reads the answer until its "200 done" line, EOF, ENGINE_ICECC_LISTCS_MAX or deadline. */
static int read_answer(int fd, int64_t deadline, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = malloc(ENGINE_ICECC_LISTCS_MAX + 1);
	size_t len = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t k;
		int r;

		buf[len] = '\0';
		if (strstr(buf, "\n200 done\n"))
			break;
		if (len == ENGINE_ICECC_LISTCS_MAX)
			return -EFBIG;
		r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			return r;
		k = read(fd, buf + len, ENGINE_ICECC_LISTCS_MAX - len);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		len += (size_t) k;
	}
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

int engine_icecc_query(const char *host, uint16_t port, unsigned timeout_ms, const char *self,
		       struct engine_icecc_servers *ret, char **ret_why)
{
	int64_t deadline = now_ms() + timeout_ms;
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *answer = NULL;
	uint16_t text_port = port == 65535 ? 0 : (uint16_t) (port + 1);
	size_t len = 0;
	int r;

	if (text_port == 0)
		return why_set(ret_why, -EINVAL, "%s:%u: no text interface port", host, port);
	fd = connect_tcp(host, text_port, deadline);
	if (fd < 0)
		return why_set(ret_why, fd, "scheduler %s:%u (its text interface, port %u): %s",
			       host, port, text_port, strerror(-fd));
	r = write_all(fd, "listcs\nquit\n", strlen("listcs\nquit\n"));
	if (r >= 0)
		r = read_answer(fd, deadline, &answer, &len);
	if (r < 0)
		return why_set(ret_why, r, "scheduler %s:%u (its text interface, port %u): %s",
			       host, port, text_port, strerror(-r));
	r = engine_icecc_listcs_parse(answer, len, self, ret);
	if (r < 0)
		return why_set(ret_why, r, "scheduler %s:%u: not an icecream scheduler's answer to "
			       "listcs", host, text_port);
	return 0;
}

/* ---------------------------------------------------------------- programs */

char *engine_icecc_find_program(const char *name)
{
	const char *path = getenv_nonempty("PATH") ?: "/usr/local/bin:/usr/bin:/bin";

	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? strdup(name) : NULL;
	for (const char *p = path; p;) {
		const char *colon = strchr(p, ':');
		size_t dl = colon ? (size_t) (colon - p) : strlen(p);
		char *c = NULL;

		if (asprintf(&c, "%.*s/%s", (int) dl, dl ? p : ".", name) < 0)
			return NULL;
		if (access(c, X_OK) == 0)
			return c;
		free(c);
		p = colon ? colon + 1 : NULL;
	}
	return NULL;
}

/* ---------------------------------------------------------------- the plan */

/* Falls back to a local build: plan->fallback = "icecream: WHY". 0 or -ENOMEM. */
static int fall_back(struct kts_compile_plan *plan, const char *why)
{
	plan->engine = KTS_ENGINE_NONE;
	free(plan->fallback);
	plan->fallback = NULL;
	if (asprintf(&plan->fallback, "icecream: %s", why) < 0) {
		plan->fallback = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* The scheduler and its slots; a reason in *ret_why when icecream cannot serve. */
static int plan_scheduler(const struct kts_compile_request *req, struct kts_compile_plan *plan,
			  char **ret_why)
{
	_cleanup_free_ char *host = NULL;
	struct engine_icecc_servers s;
	const char *from = NULL;
	struct utsname u;
	uint16_t port;
	int r;

	r = engine_icecc_find_scheduler(NULL, true, &host, &port, &from, ret_why);
	if (r < 0)
		return r;
	r = engine_icecc_query(host, port, ENGINE_ICECC_TIMEOUT_MS,
			       uname(&u) == 0 ? u.nodename : NULL, &s, ret_why);
	if (r < 0)
		return r;
	if (s.remote == 0 && !req->remote_jobs)
		return why_set(ret_why, -ENXIO, "scheduler %s:%u (from %s) knows no compile "
			       "server but this machine", host, port, from);
	log_debug("icecream: scheduler %s:%u (from %s): %u servers, %u remote, %u slots", host,
		  port, from, s.servers, s.remote, s.remote_slots);
	if (asprintf(&plan->hosts, "%s:%u", host, port) < 0) {
		plan->hosts = NULL;
		return -ENOMEM;
	}
	plan->remote_jobs = req->remote_jobs ? req->remote_jobs : s.remote_slots;
	return 0;
}

int engine_icecc_plan(const struct kts_compile_request *req, const char *cache_root, const char *cc,
		      struct kts_compile_plan *plan, char **ret_why)
{
	_cleanup_free_ char *bin = engine_icecc_find_program("icecc"), *where = NULL, *why = NULL;
	_cleanup_free_ char *env = NULL;
	bool made = false;
	int r;

	plan->engine = KTS_ENGINE_NONE;
	if (!bin)
		return why_set(ret_why, -ENXIO, "--icecc: 'icecc' not found in PATH; install "
			       "icecream (Debian: apt install icecc)");
	r = engine_icecc_daemon_check(ENGINE_ICECC_TIMEOUT_MS, &where, &why);
	if (r >= 0)
		r = plan_scheduler(req, plan, &why);
	/* the user's own ICECC_VERSION (a tarball of theirs, or a cross-compile list) wins */
	if (r >= 0 && getenv_nonempty("ICECC_VERSION")) {
		const char *uv = getenv("ICECC_VERSION");

		/* make runs elsewhere: only an absolute path means the same file there */
		r = uv[0] != '/' ? why_set(&why, -EINVAL, "ICECC_VERSION='%s' is not an absolute "
					   "path", uv) :
		    (env = strdup(uv)) ? 0 : -ENOMEM;
	} else if (r >= 0)
		r = engine_icecc_env(cache_root, cc, &env, &made, &why);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		free(plan->hosts);
		plan->hosts = NULL;
		plan->remote_jobs = 0;
		return fall_back(plan, why ?: strerror(-r));
	}
	log_debug("icecream: toolchain of '%s' in '%s'%s", cc, env, made ? " (made now)" : "");
	log_debug("icecream: local daemon at '%s'", where);
	plan->engine = KTS_ENGINE_ICECC;
	plan->engine_bin = TAKE_PTR(bin);
	plan->icecc_env = TAKE_PTR(env);
	return 0;
}
