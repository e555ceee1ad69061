#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A team's kernel cache on a real OCI registry (ktscope-kernel(1) REGISTRY LAYOUT and
# CREDENTIALS, ktscope-build(1) REGISTRY): Debian's docker-registry 2.8 on 127.0.0.1
# (registry-lib.sh), the fake kernel tree built in the confined user manager.
#   - `kernel push` from cache A, `kernel pull` into an empty cache B: every file byte for
#     byte; `kernel list` in B, `kernel list --remote`, `kernel show KEY --remote`;
#   - `build --remote` into an empty cache C pulls and runs no make; a key the registry lacks
#     is built locally, and so is any key when the registry cannot be reached (one warning);
#   - a second push uploads no blob (its result line, and the registry's access log);
#     `build --push` (a failed push still prints the image, then exits 1); a dirty tree's
#     entry stays local without --push-dirty; SIGTERM during a stalled pull; the progress
#     line on a terminal;
#   - htpasswd basic auth and token auth (token-server.py): the right credentials from
#     REGISTRY_AUTH_FILE work, a wrong password exits 4 naming the registry and the file,
#     never the password (not in any output, nor in the caches);
#   - faults: the registry killed mid-pull (stall-proxy.py holds the transfer half-way), a
#     blob corrupted in the registry's storage: exit 1, no entry, no .tmp leftover, and a
#     later pull succeeds; a host that is not loopback is spoken to over https only, unless
#     --insecure; a bad remote or none: exit 2 before any work.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/registry-lib.sh"

kts_find_ktscope
kts_find_python
command -v git >/dev/null || kts_skip_all "'git' not found"
kts_registry_need
kts_reexec_inside_manager "$here/registry.sh" "$@"

work=$(mktemp -d /tmp/ktscope-registry.XXXXXX)
export KTSCOPE_LOCK_DIR=$work/locks
mkdir "$work/locks" "$work/home"
unset KTSCOPE_CPU_CAP KTSCOPE_SCOPE KTSCOPE_SYSROOT KTSCOPE_BYPASS_LOCKS KTSCOPE_CCACHE \
	KTSCOPE_REMOTE KTSCOPE_CA_CERT REGISTRY_AUTH_FILE FAKE_KERNEL_SLEEP FAKE_KERNEL_FAIL \
	FAKE_KERNEL_NO_IMAGE FAKE_KERNEL_IMAGE_PAD
cleanup() {
	kts_kill_bg
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# Every ktscope command here: its own cache (CACHE=NAME), and a HOME without any
# ~/.docker/config.json, so that only REGISTRY_AUTH_FILE (AUTH=FILE) gives credentials;
# REMOTE=R: KTSCOPE_REMOTE.
K() {
	env KTSCOPE_CACHE_DIR="$work/cache-${CACHE:?}" HOME="$work/home" \
		${AUTH:+REGISTRY_AUTH_FILE="$AUTH"} ${REMOTE:+KTSCOPE_REMOTE="$REMOTE"} "$KTSCOPE" "$@"
}
KB() { K --user build "$@"; }
entry() { echo "$work/cache-$1/kernels/$2"; }
# run STEM CMD...: CMD's stdout and stderr in STEM.out/.err, its status in rc.
run() {
	local stem=$work/$1
	shift
	"$@" >"$stem.out" 2>"$stem.err"
	rc=$?
}
err() { cat "$work/$1.err"; }
out() { cat "$work/$1.out"; }
# no_leftovers NAME KEY: no entry KEY and nothing in .tmp of cache NAME.
no_leftovers() {
	[ ! -e "$(entry "$1" "$2")" ] && [ -z "$(ls -A "$work/cache-$1/.tmp" 2>/dev/null)" ]
}
# same_files A B KEY: every file of the entry in cache A is in cache B with the same bytes.
same_files() {
	local f n=0
	for f in "$(entry "$1" "$3")"/*; do
		cmp -s "$f" "$(entry "$2" "$3")/${f##*/}" || { kts_diag "differs: ${f##*/}"; return 1; }
		n=$((n + 1))
	done
	[ "$n" = "$(ls "$(entry "$2" "$3")" | wc -l)" ]
}
# key_of STEM: the entry key of the image path a command printed.
key_of() { basename "$(dirname "$(tail -n 1 "$work/$1.out")")"; }
# cc_runs TREE: compiler runs the fake tree's compiler logged there.
cc_runs() { [ -f "$1/fakecc.log" ] && wc -l <"$1/fakecc.log" || echo 0; }
# manifest_digest HOST REPO KEY TITLE: the digest of the layer TITLE in KEY's manifest.
layer_digest() {
	curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$1/v2/$2/manifests/$3" | "$KTS_PYTHON" -c '
import json, sys
m = json.load(sys.stdin)
print([l["digest"] for l in m["layers"]
       if l["annotations"]["org.opencontainers.image.title"] == sys.argv[1]][0])' "$4"
}
blob_file() { echo "$2/docker/registry/v2/blobs/sha256/${1:7:2}/${1#sha256:}/data"; }

kts_plan 67

kts_registry_start reg "$work/reg"
R=oci://$reg_host/team/kernels
T=$(kts_fake_tree "$work/tree")

# ---- 1. push from A, pull into an empty B ---------------------------------------------------
CACHE=a run b1 KB "$T"
key=$(key_of b1)
kts_check "the fake tree builds into cache A" test $rc = 0 -a -n "$key"
[ $rc = 0 ] || kts_diag "$(tail -n 5 "$work/b1.err")"
nfiles=$(ls "$(entry a "$key")" | wc -l)

CACHE=a run push1 K kernel push "$key" --remote "$R"
kts_check "kernel push KEY --remote: exit 0, every blob uploaded (result line)" \
	grep -qx "ktscope: pushed $key to $R: $nfiles of $nfiles blobs uploaded (0 already there), .* in [0-9.]* s" \
	"$work/push1.err"
[ $rc = 0 ] || kts_diag "$(err push1)"

CACHE=b run pull1 K kernel pull "$key" --remote "$R"
kts_check "kernel pull KEY into an empty cache: exit 0, 'pulled:' line, the image path on stdout" \
	eval "[ $rc = 0 ] && grep -qx 'ktscope: pulled: $key from $R ($nfiles blobs, .*, [0-9.]* s)' '$work/pull1.err' &&
	      [ \"\$(out pull1)\" = '$(entry b "$key")/bzImage' ]"
[ $rc = 0 ] || kts_diag "$(err pull1)"
kts_check "every file of the pulled entry is byte-identical to cache A's" same_files a b "$key"
kts_check "nothing is left in cache B's .tmp" test -z "$(ls -A "$work/cache-b/.tmp" 2>/dev/null)"
CACHE=b run list1 K kernel list
kts_check "kernel list in cache B shows the entry as matching" \
	grep -q "^$key  *matches " "$work/list1.out"
if command -v script >/dev/null; then
	# On a terminal (script(1) gives it one), the transfer's progress line.
	script -qec "env KTSCOPE_CACHE_DIR='$work/cache-t' HOME='$work/home' '$KTSCOPE' kernel pull '$key' --remote '$R'" \
		/dev/null >"$work/tty.out" 2>&1
	kts_check "kernel pull on a terminal shows the transfer's progress line, then the result" \
		eval "grep -q 'pull bzImage .* MiB/s' '$work/tty.out' && grep -q 'pulled: $key' '$work/tty.out'"
else
	kts_skip "kernel pull on a terminal shows the transfer's progress line" "no script(1)"
fi
CACHE=b run pull2 K kernel pull "$key" --remote "$R"
kts_check "pulling a cached key again: left alone (exit 0, says so, the same path)" \
	eval "[ $rc = 0 ] && grep -q \"'$key' is cached already\" '$work/pull2.err' &&
	      [ \"\$(out pull2)\" = '$(entry b "$key")/bzImage' ]"

# ---- 2. what the registry has ---------------------------------------------------------------
CACHE=b run lr K kernel list --remote "$R"
kts_check "kernel list --remote R: the tag" eval "[ $rc = 0 ] && grep -qx '  $key' '$work/lr.out'"
REMOTE=$R CACHE=b run lrj K kernel list --remote --json
kts_check "kernel list --remote --json (KTSCOPE_REMOTE): {remote, tags}" \
	test "$("$KTS_PYTHON" -c 'import json,sys; j=json.load(sys.stdin); print(j["remote"], j["tags"])' \
		<"$work/lrj.out")" = "$R ['$key']"
CACHE=b run sr K kernel show "$key" --remote "$R"
kts_check "kernel show KEY --remote: the metadata as 'show' prints it, and where it is" \
	eval "[ $rc = 0 ] && grep -qx 'key: *$key' '$work/sr.out' &&
	      grep -qx 'remote: *$R:$key' '$work/sr.out' && grep -q '^reproducer: *ktscope build' '$work/sr.out'"
CACHE=b run sl K kernel show "$key"
# (the sched_ext summary and files are read from the local entry's files: not --remote's)
kts_check "… the same lines as the local 'show' of the pulled entry, but for image/directory/remote" \
	eval "diff <(grep -v '^remote:' '$work/sr.out') <(grep -v \
		'^image:\\|^directory:\\|^release:\\|^sched_ext:\\|^options:\\|^vmlinux.h:\\|^headers:' \
		'$work/sl.out') >&2"
CACHE=b run srj K kernel show --remote="$R" "$key" --json
kts_check "kernel show --remote=R KEY --json: the metadata with remote and status" \
	test "$("$KTS_PYTHON" -c 'import json,sys; j=json.load(sys.stdin); print(j["key"], j["remote"], j["status"], "path" in j)' \
		<"$work/srj.out")" = "$key $R:$key matches False"
CACHE=b run su K kernel show no-such-x86_64-000000000000 --remote "$R"
kts_check "kernel show of a key the registry lacks: exit 1 naming key and registry" \
	eval "[ $rc = 1 ] && grep -q \"no entry 'no-such-x86_64-000000000000' in $R\" '$work/su.err'"
CACHE=e run pu K kernel pull no-such-x86_64-000000000000 --remote "$R"
kts_check "kernel pull of a key the registry lacks: exit 1 naming key and registry, nothing stored" \
	eval "[ $rc = 1 ] && grep -q \"no entry 'no-such-x86_64-000000000000' in $R\" '$work/pu.err' &&
	      no_leftovers e no-such-x86_64-000000000000"

# ---- 3. build --remote: a pull instead of make -----------------------------------------------
git clone -q "$T" "$work/clone"
CACHE=c run bc KB "$work/clone" --remote "$R" --json-events
kts_check "build --remote into an empty cache C: exit 0, 'pulled:' result line" \
	eval "[ $rc = 0 ] && grep -qx 'ktscope: pulled: $key from $R ($nfiles blobs, .*)' '$work/bc.err'"
[ $rc = 0 ] || kts_diag "$(err bc)"
kts_check "… and the result event says pulled, with the image in cache C" \
	test "$(grep '"event":"result"' "$work/bc.out" | "$KTS_PYTHON" -c 'import json,sys; j=json.load(sys.stdin); print(j["status"], j["key"], j["image"], j["blobs"])')" = \
	"pulled $key $(entry c "$key")/bzImage $nfiles"
kts_check "… no make ran: the tree's compiler never ran, no vmlinux in the tree" \
	eval "[ $(cc_runs "$work/clone") = 0 ] && [ ! -e '$work/clone/vmlinux' ]"
kts_check "… and the entry is byte-identical to cache A's" same_files a c "$key"

# ---- 3b. the scheduler kit's files travel; headers/ never does ------------------------------
kts_check "the pushed and pulled entry has vmlinux.h and capabilities.json" \
	test -s "$(entry c "$key")/vmlinux.h" -a -s "$(entry c "$key")/capabilities.json"
git clone -q "$T" "$work/clone2"
CACHE=hd run bh KB "$work/clone2" --remote "$R" --headers
kts_check "build --remote --headers: not pulled (one notice), built here, with headers/" eval "
	[ $rc = 0 ] && grep -qx \"ktscope: --headers: not pulling '$key' from $R (registry entries carry no headers/); building it here\" '$work/bh.err' &&
	[ $(cc_runs "$work/clone2") -gt 0 ] && [ -d '$(entry hd "$key")/headers/include' ]"
[ $rc = 0 ] || kts_diag "$(err bh)"
CACHE=hd run ph K kernel push "$key" --remote "oci://$reg_host/team/hdr"
kts_check "… its push leaves headers/ out: the same $nfiles blobs" \
	eval "[ $rc = 0 ] && grep -q 'ktscope: pushed $key to oci://$reg_host/team/hdr: [0-9]* of $nfiles blobs' '$work/ph.err'"
mkdir -p "$work/cache-old/kernels"
cp -a "$(entry a "$key")" "$work/cache-old/kernels/"
rm "$(entry old "$key")/vmlinux.h" "$(entry old "$key")/capabilities.json"
CACHE=old run po K kernel push "$key" --remote "oci://$reg_host/team/old"
CACHE=oldpull run pp K kernel pull "$key" --remote "oci://$reg_host/team/old"
kts_check "an entry pushed without vmlinux.h and capabilities.json (an older ktscope's) still pulls" \
	eval "[ $rc = 0 ] && grep -qx 'ktscope: pulled: $key from oci://$reg_host/team/old ($((nfiles - 2)) blobs, .*)' '$work/pp.err' &&
	      [ ! -e '$(entry oldpull "$key")/vmlinux.h' ] && same_files old oldpull '$key'"
[ $rc = 0 ] || kts_diag "$(err po) $(err pp)"

# ---- 4. a second push uploads nothing ---------------------------------------------------------
before=$(kts_registry_uploads reg)
CACHE=a run push2 K kernel push "$T" --remote "$R"
kts_check "a second push (by SPEC: the tree): '0 of N blobs uploaded (N already there)'" \
	eval "[ $rc = 0 ] && grep -qx 'ktscope: pushed $key to $R: 0 of $nfiles blobs uploaded ($nfiles already there), 0 B in [0-9.]* s' '$work/push2.err'"
kts_check "… and the registry's access log has no blob upload request since" \
	test "$(kts_registry_uploads reg)" = "$before"
[ "$(kts_registry_uploads reg)" = "$before" ] || kts_diag "$(grep 'blobs/uploads' "$reg_log" | tail -n 3)"

# ---- 5. a key the registry lacks: built here; --push pushes it -------------------------------
echo "// second" >>"$T/fake.c"
git -C "$T" -c user.name=t -c user.email=t@t commit -qam second
CACHE=a run b2 KB "$T" --remote "$R" --push --json-events
key2=$(grep '"event":"result"' "$work/b2.out" | "$KTS_PYTHON" -c 'import json,sys; print(json.load(sys.stdin).get("key",""))')
kts_check "build --remote of a key the registry lacks: a normal local build (exit 0, built and cached)" \
	eval "[ $rc = 0 ] && grep -q \"'$key2' is not on $R either; building it\" '$work/b2.err' &&
	      grep -q '^ktscope: built and cached $key2 ' '$work/b2.err'"
[ $rc = 0 ] || kts_diag "$(err b2)"
kts_check "… --push then pushes it (result line, push event)" \
	eval "grep -qx 'ktscope: pushed $key2 to $R: [1-9] of $nfiles blobs uploaded ([0-9] already there), .*' '$work/b2.err' &&
	      grep -q '\"event\":\"push\",.*\"key\":\"$key2\",\"result\":\"pushed\"' '$work/b2.out'"
CACHE=a run lr2 K kernel list --remote "$R"
kts_check "… and the registry lists both keys" \
	eval "grep -qx '  $key' '$work/lr2.out' && grep -qx '  $key2' '$work/lr2.out'"
CACHE=a run b3 KB "$T" --remote "$R" --push
kts_check "build --push of a key cached here: no build, the entry is pushed (nothing uploaded)" \
	eval "[ $rc = 0 ] && grep -q '^ktscope: cached: $key2 ' '$work/b3.err' &&
	      grep -qx 'ktscope: pushed $key2 to $R: 0 of $nfiles blobs uploaded ($nfiles already there), .*' '$work/b3.err'"

# ---- 6. dirty trees stay local --------------------------------------------------------------
echo "// wip" >>"$T/fake.c"
CACHE=a run b4 KB "$T" --remote "$R" --push
dkey=$(key_of b4)
kts_check "build --push of a dirty tree: built, exit 0, a note that it is not pushed" \
	eval "[ $rc = 0 ] && grep -q \"'$dkey' is not pushed: .*uncommitted changes\" '$work/b4.err'"
CACHE=a run lr3 K kernel list --remote "$R"
kts_check "… and the registry has no such tag" \
	eval "[ $rc = 0 ] && grep -qx '  $key2' '$work/lr3.out' && ! grep -qx '  $dkey' '$work/lr3.out'"
CACHE=a run pd K kernel push "$dkey" --remote "$R"
kts_check "kernel push of a dirty tree's entry without --push-dirty: exit 2 naming the key" \
	eval "[ $rc = 2 ] && grep -q \"'$dkey' was built from a tree with uncommitted changes\" '$work/pd.err'"
CACHE=a run pd2 K kernel push "$dkey" --remote "$R" --push-dirty --json-events
kts_check "… with --push-dirty: pushed (--json-events: the last event is the result)" \
	eval "[ $rc = 0 ] && [ \"\$(grep -c '\"event\":\"result\"' '$work/pd2.out')\" = 1 ] &&
	      tail -n 1 '$work/pd2.out' | grep -q '\"event\":\"result\",.*\"status\":\"pushed\",\"key\":\"$dkey\"'"
git -C "$T" checkout -q fake.c

# ---- 7. a registry that cannot be reached: one warning, a local build ------------------------
dead=$(kts_free_port)
git -C "$T" reset -q --hard HEAD~1
CACHE=d run b5 KB "$T" --remote "oci://127.0.0.1:$dead/team/kernels" --push
kts_check "build --remote --push with nothing listening there: one warning naming the registry, a local build" \
	eval "[ \"\$(grep -c '^ktscope: warning: ' '$work/b5.err')\" = 1 ] &&
	      grep -q '^ktscope: warning: .*oci://127.0.0.1:$dead/team/kernels' '$work/b5.err' &&
	      grep -q '^ktscope: built and cached $key ' '$work/b5.err'"
kts_check "… the push after the store fails: the image path still printed, then the error, exit 1" \
	eval "[ $rc = 1 ] && [ \"\$(out b5)\" = '$(entry d "$key")/bzImage' ] && [ -e '$(entry d "$key")/bzImage' ] &&
	      tail -n 1 '$work/b5.err' | grep -q '^ktscope: error: .*oci://127.0.0.1:$dead/team/kernels'"
[ $rc = 1 ] || kts_diag "$(err b5)"

# ---- 8. https unless loopback or --insecure; bad remotes -------------------------------------
# [::ffff:127.0.0.1] reaches the registry on 127.0.0.1, but is not a loopback name to ktscope:
# without --insecure it is spoken to over https only, which this plain-http registry cannot
# answer; no request line reaches its access log.
mapped="oci://[::ffff:127.0.0.1]:$reg_port/team/kernels"
before=$(grep -c '"GET \|"HEAD \|"POST \|"PUT \|"PATCH ' "$reg_log")
CACHE=b run in1 K kernel pull "$key" --remote "$mapped" --force
kts_check "a host that is not loopback, without --insecure: https only (exit 1, naming the https URL)" \
	eval "[ $rc = 1 ] && grep -qF 'https://[::ffff:127.0.0.1]:$reg_port/' '$work/in1.err'"
[ $rc = 1 ] || kts_diag "$(err in1)"
CACHE=b run in2 K kernel push "$key" --remote "$mapped"
kts_check "… (push too), and no plain http request reached the registry" \
	eval "[ $rc = 1 ] && [ \"\$(grep -c '\"GET \|\"HEAD \|\"POST \|\"PUT \|\"PATCH ' '$reg_log')\" = $before ]"
CACHE=b run in4 K kernel pull "$key" --remote "$mapped" --insecure --force
kts_check "… with --insecure the same host is spoken to over http" \
	eval "[ $rc = 0 ] && grep -q '^ktscope: pulled: $key ' '$work/in4.err'"
[ $rc = 0 ] || kts_diag "$(err in4)"
CACHE=b run in3 KB "$T" --remote "oci://$reg_host/Team/kernels"
kts_check "build --remote with a bad remote: exit 2 naming it, before any work" \
	eval "[ $rc = 2 ] && grep -qF 'oci://$reg_host/Team/kernels' '$work/in3.err' && ! grep -q 'built\|cached' '$work/in3.err'"
for bad in "http://$reg_host/team/kernels" "oci://$reg_host" "oci:///kernels"; do
	CACHE=b run bad K kernel pull "$key" --remote "$bad"
	kts_check "a bad remote '$bad': exit 2 naming it" \
		eval "[ $rc = 2 ] && grep -qF -- '$bad' '$work/bad.err'"
done
for cmd in pull show; do
	CACHE=b run badkey K kernel $cmd ../etc --remote "oci://$reg_host/team/kernels"
	kts_check "kernel $cmd of an invalid key: exit 2 naming it" \
		eval "[ $rc = 2 ] && grep -qF \"invalid cache key '../etc'\" '$work/badkey.err'"
done
CACHE=b run nor K kernel pull "$key"
kts_check "no remote at all: exit 2 saying how to give one" \
	eval "[ $rc = 2 ] && grep -q 'KTSCOPE_REMOTE' '$work/nor.err'"

# ---- 9. basic auth ---------------------------------------------------------------------------
secret=kts-$RANDOM$RANDOM-basic
kts_htpasswd "$work/htpasswd" alice "$secret"
kts_registry_start rb "$work/rb" htpasswd "$work/htpasswd"
RB=oci://$rb_host/team/kernels
kts_registry_auth_file "$work/auth-ok.json" "$rb_host" alice "$secret"
kts_registry_auth_file "$work/auth-bad.json" "$rb_host" alice "wrong-$secret"
AUTH=$work/auth-ok.json CACHE=a run ba1 K kernel push "$key" --remote "$RB"
kts_check "basic auth: push with the right credentials (REGISTRY_AUTH_FILE)" test $rc = 0
[ $rc = 0 ] || kts_diag "$(err ba1)"
AUTH=$work/auth-ok.json CACHE=f run ba2 K kernel pull "$key" --remote "$RB"
kts_check "basic auth: pull with them, byte-identical" eval "[ $rc = 0 ] && same_files a f '$key'"
AUTH=$work/auth-bad.json CACHE=g run ba3 K kernel pull "$key" --remote "$RB"
kts_check "basic auth, a wrong password: exit 4 naming the registry and the credentials file" \
	eval "[ $rc = 4 ] && grep -q '$rb_host' '$work/ba3.err' && grep -q '$work/auth-bad.json' '$work/ba3.err'"
[ $rc = 4 ] || kts_diag "$(err ba3)"
kts_check "… nothing stored" no_leftovers g "$key"
AUTH=$work/auth-bad.json CACHE=a run ba5 K kernel push "$key" --remote "$RB"
kts_check "… push with it: exit 4 too" test $rc = 4
AUTH=$work/auth-bad.json CACHE=d run bp KB "$T" --remote "$RB" --push
kts_check "build --push of a cached entry, credentials refused: the image path, then the error naming registry and file, exit 1" \
	eval "[ $rc = 1 ] && grep -q '^ktscope: cached: $key ' '$work/bp.err' &&
	      [ \"\$(out bp)\" = '$(entry d "$key")/bzImage' ] &&
	      tail -n 1 '$work/bp.err' | grep -q '^ktscope: error: .*$rb_host.*auth-bad.json'"
[ $rc = 1 ] || kts_diag "$(err bp)"
AUTH=$work/auth-bad.json CACHE=g run ba6 K -v kernel list --remote "$RB"
kts_check "… list --remote -v: exit 4" test $rc = 4
AUTH=$work/auth-ok.json CACHE=g run ba7 K -v kernel show "$key" --remote "$RB"
kts_check "… show --remote -v with the right ones: exit 0" test $rc = 0

# ---- 10. token auth --------------------------------------------------------------------------
tsecret=kts-$RANDOM$RANDOM-token
kts_token_server_start ts "$work/ts" bob "$tsecret"
kts_registry_start rt "$work/rt" token ts
RT=oci://$rt_host/team/kernels
kts_registry_auth_file "$work/tauth-ok.json" "$rt_host" bob "$tsecret"
kts_registry_auth_file "$work/tauth-bad.json" "$rt_host" bob "wrong-$tsecret"
AUTH=$work/tauth-ok.json CACHE=a run ta1 K kernel push "$key" --remote "$RT"
kts_check "token auth: push with the right credentials, through the token server" \
	eval "[ $rc = 0 ] && grep -q 'user=bob scope=repository:team/kernels:.*push.* status=200' '$work/ts/token.log'"
[ $rc = 0 ] || kts_diag "$(err ta1) $(cat "$work/ts/token.log")"
AUTH=$work/tauth-ok.json CACHE=h run ta2 K kernel pull "$key" --remote "$RT"
kts_check "token auth: pull, byte-identical" eval "[ $rc = 0 ] && same_files a h '$key'"
AUTH=$work/tauth-bad.json CACHE=i run ta3 K -v kernel pull "$key" --remote "$RT"
kts_check "token auth, a wrong password: exit 4 naming the registry and the credentials file" \
	eval "[ $rc = 4 ] && grep -q '$rt_host' '$work/ta3.err' && grep -q '$work/tauth-bad.json' '$work/ta3.err'"
[ $rc = 4 ] || kts_diag "$(err ta3)"
kts_check "… nothing stored" no_leftovers i "$key"
kts_check "neither password is in any output, nor in any file of the caches" \
	eval "! grep -rqa -e '$secret' -e '$tsecret' '$work'/*.out '$work'/*.err '$work'/cache-*"

# ---- 11. a pull stopped by SIGTERM while its transfer stalls ---------------------------------
: >"$work/proxy1.port"
kts_bg "$KTS_PYTHON" "$here/stall-proxy.py" "$reg_port" 10000 "$work/stalled1" >"$work/proxy1.port"
kts_wait_until 10 test -s "$work/proxy1.port"
KTSCOPE_CACHE_DIR=$work/cache-m HOME=$work/home "$KTSCOPE" kernel pull "$key" \
	--remote "oci://127.0.0.1:$(head -n 1 "$work/proxy1.port")/team/kernels" \
	>"$work/term.out" 2>"$work/term.err" &
pull_pid=$!
rc=timeout rc2=timeout
if kts_wait_until 30 test -e "$work/stalled1"; then
	# A second pull of the key into the same cache waits for the first one's lock.
	KTSCOPE_CACHE_DIR=$work/cache-m HOME=$work/home "$KTSCOPE" kernel pull "$key" \
		--remote "$R" >"$work/second.out" 2>"$work/second.err" &
	second_pid=$!
	kts_wait_until 10 grep -q 'waiting for it' "$work/second.err"
	kill -TERM $pull_pid
	kts_wait_until 10 eval "! kill -0 $pull_pid 2>/dev/null" && { wait $pull_pid; rc=$?; }
	kts_wait_until 10 eval "! kill -0 $second_pid 2>/dev/null" && { wait $second_pid; rc2=$?; }
	[ "$rc2" = timeout ] && { kill -KILL $second_pid 2>/dev/null; wait $second_pid; }
fi
[ "$rc" = timeout ] && { kill -KILL $pull_pid 2>/dev/null; wait $pull_pid; }
kts_check "a pull sent SIGTERM while no byte moves: it stops at once, exit 143, says so" \
	eval "[ $rc = 143 ] && grep -q 'interrupted (signal 15); nothing was stored' '$work/term.err'"
[ "$rc" = 143 ] || kts_diag "rc $rc: $(cat "$work/term.err")"
kts_check "… a second pull of the key waited for it (naming its pid), then pulled" \
	eval "[ $rc2 = 0 ] && grep -q \"'$key' is being built or pulled by pid $pull_pid\" '$work/second.err' &&
	      grep -q '^ktscope: pulled: $key ' '$work/second.err' && same_files a m '$key'"
[ "$rc2" = 0 ] || kts_diag "rc $rc2: $(cat "$work/second.err")"
kts_check "… and nothing is left in .tmp" test -z "$(ls -A "$work/cache-m/.tmp" 2>/dev/null)"

# ---- 12. the registry killed mid-pull --------------------------------------------------------
# stall-proxy.py passes 10000 bytes (the manifest and part of the blobs), then holds the rest
# back; the test kills the registry there, and the proxy closes the pull's connection.
: >"$work/proxy.port"
kts_bg "$KTS_PYTHON" "$here/stall-proxy.py" "$reg_port" 10000 "$work/stalled" >"$work/proxy.port"
kts_wait_until 10 test -s "$work/proxy.port"
pport=$(head -n 1 "$work/proxy.port")
CACHE=j K kernel pull "$key" --remote "oci://127.0.0.1:$pport/team/kernels" >"$work/kill.out" 2>"$work/kill.err" &
pull_pid=$!
if kts_wait_until 30 test -e "$work/stalled"; then
	kts_registry_stop reg
	kts_wait_until 30 eval "! kill -0 $pull_pid 2>/dev/null"
	wait $pull_pid
	rc=$?
else
	kill $pull_pid 2>/dev/null
	wait $pull_pid
	rc=timeout
fi
kts_check "the registry killed mid-pull: exit 1, naming the registry" \
	eval "[ $rc = 1 ] && grep -q '127.0.0.1:$pport' '$work/kill.err'"
[ "$rc" = 1 ] || kts_diag "rc $rc: $(cat "$work/kill.err")"
kts_check "… no entry, no .tmp leftover" no_leftovers j "$key"
kts_registry_restart reg
CACHE=j run again K kernel pull "$key" --remote "$R"
kts_check "… a later pull (the registry back) succeeds, byte-identical" \
	eval "[ $rc = 0 ] && same_files a j '$key'"

# ---- 13. a blob corrupted in the registry's storage ------------------------------------------
d=$(layer_digest "$reg_host" team/kernels "$key" vmlinux)
blob=$(blob_file "$d" "$reg_storage")
cp "$blob" "$work/blob.orig"
"$KTS_PYTHON" -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0xff; open(p, "wb").write(b)' "$blob"
CACHE=k run cor K kernel pull "$key" --remote "$R"
kts_check "a blob corrupted in the registry's storage: exit 1, refused by its digest, naming it" \
	eval "[ $rc = 1 ] && grep -q '${d#sha256:}\|vmlinux' '$work/cor.err' && grep -qi 'sha256\|digest' '$work/cor.err'"
[ $rc = 1 ] || kts_diag "$(err cor)"
kts_check "… nothing stored, no .tmp leftover" no_leftovers k "$key"
cp "$work/blob.orig" "$blob"
CACHE=l run cor3 K kernel pull "$key" --remote "$R"
kts_check "… and with the blob repaired, the pull succeeds" eval "[ $rc = 0 ] && same_files a l '$key'"
