/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reproducible build stamps (stamps.h): which KBUILD_BUILD_TIMESTAMP/USER/HOST/VERSION a
 * build gets and why, their date format, putting them into make's environment; and the
 * reproducer `kernel show` prints, the `ktscope build` command line an entry's metadata
 * calls for. The parent computes (build.c's stamps step), the job file carries them (job.h),
 * the in-scope half applies them (build-inner.c), metadata.json records them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "hash.h"
#include "log.h"
#include "macro.h"
#include "metadata.h"
#include "pipeline.h"
#include "source.h"
#include "stamps.h"
#include "util.h"

static const char *const stamps_froms[] = {
	"make-variable", "SOURCE_DATE_EPOCH", "git-commit", "tarball", "source-identity", NULL,
};

void stamps_done(struct kts_stamps *s)
{
	free(s->timestamp);
	free(s->user);
	free(s->host);
	free(s->version);
	free(s->from);
	*s = (struct kts_stamps){ .epoch = -1 };
}

int stamps_copy(const struct kts_stamps *s, struct kts_stamps *ret)
{
	struct kts_stamps c = {
		.timestamp = strdup(s->timestamp), .epoch = s->epoch, .user = strdup(s->user),
		.host = strdup(s->host), .version = strdup(s->version), .from = strdup(s->from),
		.map_tree = s->map_tree,
	};

	if (!c.timestamp || !c.user || !c.host || !c.version || !c.from) {
		stamps_done(&c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

bool stamps_from_is_valid(const char *from)
{
	for (size_t i = 0; from && stamps_froms[i]; i++)
		if (streq(from, stamps_froms[i]))
			return true;
	return false;
}

/* ---------------------------------------------------------------- dates */

int stamps_format_date(int64_t t, char buf[static STAMPS_DATE_MAX])
{
	/* The C locale's names: strftime() would follow LC_TIME. */
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t) t;
	struct tm tm;

	if (t < 0 || t > STAMPS_EPOCH_MAX || !gmtime_r(&tt, &tm))
		return -ERANGE;
	snprintf(buf, STAMPS_DATE_MAX, "%s %s %2d %02d:%02d:%02d UTC %d", days[tm.tm_wday],
		 months[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 tm.tm_year + 1900);
	return 0;
}

int stamps_parse_epoch(const char *s, int64_t *ret)
{
	int64_t v = 0;

	if (!s || !*s || strlen(s) > 12)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (*p - '0');
	}
	if (v > STAMPS_EPOCH_MAX)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* 1970-01-01 to 2000-01-01: 30 years of seconds. */
#define STAMPS_HASH_SPAN INT64_C(946684800)

int stamps_epoch_from_sha256(const char *hex, int64_t *ret)
{
	uint32_t v = 0;

	if (!metadata_is_sha256_hex(hex))
		return -EINVAL;
	for (size_t i = 0; i < 8; i++)
		v = v << 4 | (uint32_t) (hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
	*ret = (int64_t) v % STAMPS_HASH_SPAN;
	return 0;
}

/* ---------------------------------------------------------------- which stamps */

/* The timestamp and its origin, in stamps.h's order; the make variable is handled before. */
static int pick_time(const struct kts_stamps_input *in, int64_t *ret, const char **ret_from,
		     char **ret_why)
{
	if (in->source_date_epoch) {
		if (stamps_parse_epoch(in->source_date_epoch, ret) < 0)
			return why_set(ret_why, -EINVAL, "invalid SOURCE_DATE_EPOCH '%s': expected "
				       "seconds since 1970 (0-%lld)", in->source_date_epoch,
				       (long long) STAMPS_EPOCH_MAX);
		*ret_from = "SOURCE_DATE_EPOCH";
		return 0;
	}
	if (in->have_commit_time && in->commit_time >= 0 && in->commit_time <= STAMPS_EPOCH_MAX) {
		*ret = in->commit_time;
		*ret_from = "git-commit";
		return 0;
	}
	if (in->have_tree_time && in->tree_time >= 0 && in->tree_time <= STAMPS_EPOCH_MAX) {
		*ret = in->tree_time;
		*ret_from = "tarball";
		return 0;
	}
	if (in->identity_sha256 && stamps_epoch_from_sha256(in->identity_sha256, ret) == 0) {
		*ret_from = "source-identity";
		return 0;
	}
	return why_set(ret_why, -EINVAL, "no date to stamp the build with: the source has no "
		       "commit date, tarball date or identity");
}

/* A make variable's value when given, else dflt; malloc'ed. */
static char *var_or(const struct kts_stamps_input *in, const char *name, const char *dflt)
{
	const char *v = pipeline_make_var(in->make_vars, in->n_make_vars, name);

	return strdup(v ? v : dflt);
}

int stamps_compute(const struct kts_stamps_input *in, struct kts_stamps *ret, char **ret_why)
{
	struct kts_stamps s _cleanup_(stamps_done) = { .epoch = -1 };
	const char *given = pipeline_make_var(in->make_vars, in->n_make_vars,
					      "KBUILD_BUILD_TIMESTAMP");
	const char *from = "make-variable";
	char date[STAMPS_DATE_MAX];
	int r;

	if (given)
		s.timestamp = strdup(given);
	else {
		r = pick_time(in, &s.epoch, &from, ret_why);
		if (r < 0)
			return r;
		(void) stamps_format_date(s.epoch, date);
		s.timestamp = strdup(date);
	}
	s.from = strdup(from);
	s.user = var_or(in, "KBUILD_BUILD_USER", STAMPS_USER);
	s.host = var_or(in, "KBUILD_BUILD_HOST", STAMPS_HOST);
	s.version = var_or(in, "KBUILD_BUILD_VERSION", STAMPS_VERSION);
	if (!s.timestamp || !s.from || !s.user || !s.host || !s.version)
		return -ENOMEM;
	*ret = s;
	s = (struct kts_stamps){ .epoch = -1 };
	return 0;
}

int stamps_date_epoch(const char *value, int64_t *ret)
{
	char *argv[] = { (char *) "date", (char *) "-d", (char *) value, (char *) "+%s", NULL };
	const struct spawn_opts o = { .out = SPAWN_PIPE, .max = 64 };
	_cleanup_free_ char *out = NULL;
	int r, status;

	r = spawn_capture(argv, &o, &status, &out, NULL);
	if (r < 0)
		return r;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !out)
		return -EINVAL;
	out[strcspn(out, "\n")] = '\0';
	return stamps_parse_epoch(out, ret);
}

int stamps_for_source(const struct kts_source *src, char *const *make_vars, size_t n_make_vars,
		      const char *sde, struct kts_stamps *ret, char **ret_why)
{
	struct kts_stamps_input in = { .make_vars = make_vars, .n_make_vars = n_make_vars,
				       .source_date_epoch = sde };
	_cleanup_free_ char *makefile = NULL;
	char sha[HASH_SHA256_HEX_SIZE];
	struct stat st;
	int r;

	if (!src->dir || asprintf(&makefile, "%s/Makefile", src->dir) < 0)
		return -ENOMEM;
	in.have_commit_time = source_commit_time(src, &in.commit_time) == 0;
	if (src->kind == KTS_SOURCE_TARBALL || src->kind == KTS_SOURCE_RELEASE) {
		in.have_tree_time = stat(makefile, &st) == 0;
		in.tree_time = in.have_tree_time ? (int64_t) st.st_mtim.tv_sec : 0;
	}
	if (src->identity ? hash_sha256_hex(src->identity, strlen(src->identity), sha) == 0
			  : hash_sha256_file(makefile, sha) == 0)
		in.identity_sha256 = sha;
	r = stamps_compute(&in, ret, ret_why);
	if (r < 0)
		return r;
	ret->map_tree = src->is_temp;
	if (!streq(ret->from, "make-variable"))
		return 0;
	r = stamps_date_epoch(ret->timestamp, &ret->epoch);
	if (r < 0) {
		log_warning("'date -d' does not read KBUILD_BUILD_TIMESTAMP '%s'; the kernel gets "
			    "it as it is", ret->timestamp);
		ret->epoch = -1;
	}
	return 0;
}

/* NAME=-fdebug-prefix-map=TREE=. followed by the environment's NAME, if any. */
static int prepend_map(const char *name, const char *tree)
{
	_cleanup_free_ char *v = NULL;
	const char *old = getenv_nonempty(name);

	if (asprintf(&v, "-fdebug-prefix-map=%s=.%s%s", tree, old ? " " : "", strempty(old)) < 0)
		return -ENOMEM;
	return setenv(name, v, 1) < 0 ? negative_errno() : 0;
}

int stamps_apply_env(const struct kts_stamps *s, const char *tree)
{
	static const char *const names[] = { "KBUILD_BUILD_TIMESTAMP", "KBUILD_BUILD_USER",
					      "KBUILD_BUILD_HOST", "KBUILD_BUILD_VERSION" };
	char epoch[24];

	if (!s) {
		for (size_t i = 0; i < ELEMENTSOF(names); i++)
			if (unsetenv(names[i]) < 0)
				return negative_errno();
		return 0;
	}
	const char *values[] = { s->timestamp, s->user, s->host, s->version };

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (setenv(names[i], values[i], 1) < 0)
			return negative_errno();
	if (s->epoch >= 0) {
		snprintf(epoch, sizeof(epoch), "%lld", (long long) s->epoch);
		if (setenv("SOURCE_DATE_EPOCH", epoch, 1) < 0)
			return negative_errno();
	}
	/* One word in make's and the shell's view: no blank, quote, '$', '#' or '='. */
	if (!s->map_tree || !tree || tree[strcspn(tree, " \t\n\\$'\"#%=:;")])
		return 0;
	int r = prepend_map("KCFLAGS", tree);

	return r < 0 ? r : prepend_map("KAFLAGS", tree);
}

/* ---------------------------------------------------------------- the reproducer */

char *stamps_shell_quote(const char *s)
{
	static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				   "0123456789_@%+=:,./-";
	size_t n = 3;
	char *q, *p;

	if (*s && strspn(s, safe) == strlen(s))
		return strdup(s);
	for (const char *c = s; *c; c++)
		n += *c == '\'' ? 4 : 1;
	q = p = malloc(n);
	if (!q)
		return NULL;
	*p++ = '\'';
	for (const char *c = s; *c; c++) {
		if (*c == '\'') {
			memcpy(p, "'\\''", 4); /* close, an escaped quote, open again */
			p += 4;
		} else
			*p++ = *c;
	}
	*p++ = '\'';
	*p = '\0';
	return q;
}

/* Appends " WORD" (quoted; no space before the first word); false when out of memory. */
static bool add_word(FILE *f, const char *w)
{
	_cleanup_free_ char *q = stamps_shell_quote(w);

	if (!q)
		return false;
	if (ftell(f) > 0)
		fputc(' ', f);
	fputs(q, f);
	return true;
}

/* "NAME=VALUE" with VALUE quoted, as a variable assignment before the command. */
static bool add_assignment(FILE *f, const char *name, const char *value)
{
	_cleanup_free_ char *q = stamps_shell_quote(value);

	if (!q)
		return false;
	fprintf(f, "%s%s=%s", ftell(f) > 0 ? " " : "", name, q);
	return true;
}

/* The mirror a release's URL came from, when it is not kernel.org's; NULL otherwise. */
static char *release_mirror(const struct kts_metadata *m)
{
	const struct kts_fetch_opts dflt = { .mirror = SOURCE_DEFAULT_MIRROR };
	_cleanup_free_ char *def = NULL;
	char *mirror, *slash;

	if (!m->source.url || source_release_url(m->source.version, &dflt, &def) < 0 ||
	    streq(def, m->source.url))
		return NULL;
	/* "{mirror}/v6.x/linux-6.12.3.tar.xz": the mirror is all before the last two '/'. */
	mirror = strdup(m->source.url);
	for (int i = 0; mirror && i < 2; i++) {
		slash = strrchr(mirror, '/');
		if (!slash) {
			free(mirror);
			return NULL;
		}
		*slash = '\0';
	}
	return mirror;
}

/* The words that name the source; -EINVAL when m lacks them. */
static int add_source(FILE *f, const struct kts_metadata *m, bool *ok)
{
	const struct kts_metadata_source *s = &m->source;

	if (streq(s->kind, "local") && s->path)
		*ok = add_word(f, "--source") && add_word(f, s->path);
	else if (streq(s->kind, "tarball") && (s->path || s->url))
		*ok = add_word(f, "--tarball") && add_word(f, s->path ? s->path : s->url);
	else if (streq(s->kind, "release") && s->version)
		*ok = add_word(f, s->version);
	else if (streq(s->kind, "git") && s->url && s->commit)
		*ok = add_word(f, "--git") && add_word(f, s->url) && add_word(f, "--ref") &&
		      add_word(f, s->commit);
	else
		return -EINVAL;
	return 0;
}

static int reproducer_note(const struct kts_metadata *m, char **ret)
{
	const struct kts_metadata_source *s = &m->source;

	*ret = NULL;
	if (!streq(s->kind, "local") || !s->commit)
		return 0;
	if (s->dirty && s->state_sha256)
		return asprintf(ret, "the tree must be at commit %s with the same uncommitted "
				"changes (state %s)", s->commit, s->state_sha256) < 0 ? -ENOMEM : 0;
	return asprintf(ret, "the tree must be at commit %s, without uncommitted changes",
			s->commit) < 0 ? -ENOMEM : 0;
}

int stamps_reproducer(const struct kts_metadata *m, char **ret_cmd, char **ret_note)
{
	_cleanup_free_ char *text = NULL, *mirror = NULL, *note = NULL;
	size_t len = 0;
	bool ok = true;
	FILE *f;
	int r;

	if (reproducer_note(m, &note) < 0)
		return -ENOMEM;
	f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	if (m->stamps_state == KTS_METADATA_STAMPS_ON && streq(m->stamps.from, "SOURCE_DATE_EPOCH")) {
		char epoch[24];

		snprintf(epoch, sizeof(epoch), "%lld", (long long) m->stamps.epoch);
		ok = add_assignment(f, "SOURCE_DATE_EPOCH", epoch);
	}
	if (streq(m->source.kind, "release") && (mirror = release_mirror(m)))
		ok = ok && add_assignment(f, "KTSCOPE_KERNEL_MIRROR", mirror);
	ok = ok && add_word(f, "ktscope") && add_word(f, "build");
	r = add_source(f, m, &ok);
	ok = ok && add_word(f, "--base") && add_word(f, m->base);
	for (size_t i = 0; i < m->n_extra_kconfig; i++)
		ok = ok && add_word(f, "--extra-kconfig") && add_word(f, m->extra_kconfig[i].path);
	if (m->build_dir)
		ok = ok && add_word(f, "--build-dir") && add_word(f, m->build_dir);
	if (m->stamps_state == KTS_METADATA_STAMPS_OFF)
		ok = ok && add_word(f, "--no-reproducible");
	ok = ok && add_word(f, "--force");
	if (m->n_make_vars)
		ok = ok && add_word(f, "--");
	for (size_t i = 0; i < m->n_make_vars; i++)
		ok = ok && add_word(f, m->make_vars[i]);
	if (fclose(f) != 0 || !ok)
		return -ENOMEM;
	if (r < 0)
		return r;
	*ret_cmd = TAKE_PTR(text);
	*ret_note = TAKE_PTR(note);
	return 0;
}
