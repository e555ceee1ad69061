/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The helpers every command file may call (and no other command file's function):
 * strict numbers and the CPU budget, one-line option errors, topology loading, and the
 * JSON/text forms of CPU sets and lock holders shared by `topology` and `locks`, and the
 * result lines of a registry push or pull shared by `kernel push|pull` and `build`.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "cpuset.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "progress.h"
#include "registry.h"
#include "sysroot.h"
#include "topology.h"

/* ---------------------------------------------------------------- numbers */

/* Strict decimal: digits only, no sign, no spaces, fits in unsigned. */
int cli_parse_unsigned(const char *s, unsigned *ret)
{
	unsigned long v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long) (*p - '0');
		if (v > UINT_MAX)
			return -ERANGE;
	}
	*ret = (unsigned) v;
	return 0;
}

int cli_parse_cpu_cap(const char *value, bool from_env, unsigned *ret)
{
	const char *what = from_env ? "KTSCOPE_CPU_CAP" : "--cpu-cap";
	unsigned v;
	int r;

	r = cli_parse_unsigned(value, &v);
	if (r == -ERANGE || (r == 0 && v >= KTS_CPU_MAX)) {
		log_error("invalid %s '%s': too large (at most %u CPUs)", what, value, KTS_CPU_MAX - 1);
		return KTS_EXIT_USAGE;
	}
	if (r < 0) {
		log_error("invalid %s '%s': expected a whole number of CPUs, at least 1", what, value);
		return KTS_EXIT_USAGE;
	}
	if (v == 0) {
		log_error("invalid %s '%s': the budget must be at least 1 CPU", what, value);
		return KTS_EXIT_USAGE;
	}
	*ret = v;
	return KTS_EXIT_OK;
}

int cli_resolve_cpu_cap(const char *flag_value, unsigned *ret)
{
	const char *env;

	if (flag_value)
		return cli_parse_cpu_cap(flag_value, false, ret);
	env = getenv_nonempty("KTSCOPE_CPU_CAP");
	if (env)
		return cli_parse_cpu_cap(env, true, ret);
	*ret = 0;
	return KTS_EXIT_OK;
}

/* ---------------------------------------------------------------- options, topology */

int cli_option_error(int c, char **argv, const char *cmd)
{
	const char *opt = argv[optind - 1];
	char see[64];

	snprintf(see, sizeof(see), "see 'ktscope %s%s--help'", cmd, *cmd ? " " : "");

	if (c == ':')
		log_error("option '%s' needs a value (%s)", opt, see);
	else if (optopt && !startswith(opt, "--"))
		log_error("unknown option '-%c' (%s)", optopt, see);
	else
		log_error("unknown option '%s' (%s)", opt, see);
	return KTS_EXIT_USAGE;
}

int cli_load_topology(const char *sysroot, struct kts_topology *ret)
{
	struct kts_sysroot root = KTS_SYSROOT_INIT;
	_cleanup_free_ char *errpath = NULL;
	int r;

	r = sysroot_open(sysroot, &root);
	if (r < 0) {
		log_error_errno(r, "cannot open sysroot '%s': %m", sysroot ? sysroot : "/");
		return KTS_EXIT_ENV;
	}
	r = topo_load(&root, ret, &errpath);
	sysroot_close(&root);
	if (r == -EBADMSG) {
		log_error("cannot read the CPU topology: malformed '%s'", errpath ? errpath : "?");
		return KTS_EXIT_ENV;
	}
	if (r < 0) {
		log_error_errno(r, "cannot read the CPU topology: '%s': %m", errpath ? errpath : "?");
		return KTS_EXIT_ENV;
	}
	return KTS_EXIT_OK;
}

/* ---------------------------------------------------------------- JSON and text */

struct json_object *cli_json_cpuset(const struct kts_cpuset *s)
{
	struct json_object *a = json_object_new_array();

	CPUSET_FOREACH(c, s)
		json_object_array_add(a, json_object_new_int(c));
	return a;
}

struct json_object *cli_json_holders(const struct kts_holder *h, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "pid", json_object_new_int((int) h[i].pid));
		json_object_object_add(o, "mode", json_object_new_string(lock_mode_to_string(h[i].mode)));
		json_object_object_add(o, "cmdline", json_object_new_string(strempty(h[i].cmdline)));
		json_object_array_add(a, o);
	}
	return a;
}

void cli_print_json(struct json_object *j)
{
	puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

char *cli_fmt_holders(const struct kts_holder *h, size_t n)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	if (n == 0)
		return strdup("(none)");
	f = open_memstream(&buf, &size);
	if (!f)
		return NULL;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%d %s (%s)", i ? "; " : "", (int) h[i].pid, lock_mode_to_string(h[i].mode),
			strempty(h[i].cmdline));
	(void) fclose(f);
	return buf;
}

/* ---------------------------------------------------------------- registry */

void cli_format_bytes(uint64_t b, char *buf, size_t n)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double) b / 1024.0;
	size_t i = 0;

	if (b < 1024) {
		(void) snprintf(buf, n, "%" PRIu64 " B", b);
		return;
	}
	while (v >= 1024.0 && i + 1 < ELEMENTSOF(units)) {
		v /= 1024.0;
		i++;
	}
	(void) snprintf(buf, n, "%.1f %s", v, units[i]);
}

void cli_log_pushed(const char *key, const char *remote, const struct kts_registry_stats *st)
{
	char size[32], mounted[40] = "";

	cli_format_bytes(st->bytes_sent, size, sizeof(size));
	if (st->blobs_mounted)
		(void) snprintf(mounted, sizeof(mounted), ", %u mounted", st->blobs_mounted);
	log_notice("pushed %s to %s: %u of %u blobs uploaded (%u already there%s), %s in %.1f s",
		   key, remote, st->blobs_sent, st->blobs, st->blobs_present, mounted, size,
		   st->seconds);
}

void cli_log_pulled(const char *key, const char *remote, const struct kts_registry_stats *st)
{
	char size[32];

	cli_format_bytes(st->bytes, size, sizeof(size));
	log_notice("pulled: %s from %s (%u blobs, %s, %.1f s)", key, remote, st->blobs, size,
		   st->seconds);
}

void cli_registry_stats_json(const struct kts_registry_stats *st, char *buf, size_t n)
{
	(void) snprintf(buf, n, "\"manifest\":%s,\"blobs\":%u,\"blobs_sent\":%u,"
			"\"blobs_present\":%u,\"blobs_mounted\":%u,\"bytes\":%" PRIu64
			",\"bytes_sent\":%" PRIu64 ",\"seconds\":%.3f",
			progress_json_str(st->manifest_digest[0] ? st->manifest_digest : NULL),
			st->blobs, st->blobs_sent, st->blobs_present, st->blobs_mounted, st->bytes,
			st->bytes_sent, st->seconds);
}
