/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "compile.h"

/*
 * The compile plan and statistics as JSON (compile-json.c): job.json's "compile",
 * result.json's "compile_stats", metadata.json's "compile". Readers return 0 or -EBADMSG
 * with *ret_why "field 'PATH.key': ..." / "missing field 'PATH.key'" (-ENOMEM too); their
 * outputs are written on success only. Writers return a new reference, NULL for JSON null
 * (stats not present) or on ENOMEM.
 */
struct json_object;

/* job.json "compile" (o not NULL): the whole plan, unknown keys refused. */
int compile_plan_from_json(struct json_object *o, const char *path, struct kts_compile_plan *ret,
			   char **ret_why);
struct json_object *compile_plan_to_json(const struct kts_compile_plan *p);

/* result.json "compile_stats": {direct_hits, ...} or null (o NULL: not present). */
int compile_stats_from_json(struct json_object *o, const char *path, struct kts_compile_stats *ret,
			    char **ret_why);
struct json_object *compile_stats_to_json(const struct kts_compile_stats *s);

/*
 * metadata.json "compile": {"ccache": {"version", "dir", "remote" (URL without credentials
 * or null), "hits" (= direct_hits + preprocessed_hits), "direct_hits", "preprocessed_hits",
 * "misses", "uncacheable", "remote_hits", "errors"} | null, "distributed": {"engine",
 * "hosts", "jobs"} | null}. Unknown keys are tolerated (metadata.h's rule).
 */
struct kts_compile_record {
	bool present;                  /* the entry has "compile" (older entries do not) */
	struct kts_compile_plan plan;  /* ccache_version (NULL: no ccache), ccache_dir_used,
					* ccache_remote_shown, engine, hosts, remote_jobs */
	struct kts_compile_stats stats;
};
void compile_record_done(struct kts_compile_record *rec);
int compile_record_from_json(struct json_object *o, struct kts_compile_record *ret, char **ret_why);
int compile_record_to_json(const struct kts_compile_plan *p, const struct kts_compile_stats *s,
			   struct json_object **ret);
