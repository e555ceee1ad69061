#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The OCI client (src/registry.h) against Debian's docker-registry (the CNCF distribution
# registry 2.8) on 127.0.0.1, started once per mode (registry-lib.sh), through the small
# driver tests/integration/registry-client: an entry pushed (the OCI 1.1 manifest with
# artifactType and the empty config accepted by the real registry), pulled into an empty
# cache byte for byte, pushed again without a blob upload, tags, one file read; the faults:
# an unknown tag, a corrupted and a truncated blob in the registry's storage, a manifest whose
# title is a path, a stopped registry, each leaving nothing in the cache; basic and token
# auth. What 2.8 never does comes from registry-fake.py: blobs redirected to another origin,
# a connection dropped mid-blob, a 503 with an error body, tags over Link-paginated pages.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/registry-lib.sh"

kts_registry_need
client=${KTS_TOP_BUILDDIR:-.}/tests/integration/registry-client
[ -x "$client" ] || kts_skip_all "'$client' not built"

work=$(mktemp -d "${TMPDIR:-/tmp}/ktscope-registry-client.XXXXXX")
cleanup() {
	kts_kill_bg
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

kts_registry_start reg "$work/reg"
remote=oci://$reg_host/ktscope/kernels
key=6.12.3-x86_64-0123456789ab
key2=6.12.4-x86_64-ba9876543210

# make_entry DIR KEY: an entry as a build stores it (metadata.json valid for KEY).
make_entry() {
	local dir=$1/$2
	mkdir -p "$dir"
	head -c 3000000 /dev/urandom >"$dir/bzImage"
	head -c 700000 /dev/urandom >"$dir/vmlinux"
	printf 'CONFIG_SCHED_CLASS_EXT=y\n' >"$dir/config"
	printf 'make: done %s\n' "$2" >"$dir/build.log"
	printf '{"options": []}\n' >"$dir/kconfig-report.json"
	sed "s/\"key\": \"[^\"]*\"/\"key\": \"$2\"/" \
		"${KTS_TOP_SRCDIR:-$here/../..}/fuzz/corpus/metadata/local" >"$dir/metadata.json"
}

# field NAME FILE: the value of NAME=... in the driver's output.
field() { sed -n "s/^$1=//p" "$2" | head -n 1; }

# run OUT ARGS...: the driver, its stdout in OUT; its exit status.
run() {
	local out=$1
	shift
	"$client" "$@" >"$out" 2>"$out.err"
}

# empty_cache ROOT: no entry and nothing in .tmp.
empty_cache() {
	[ -z "$(ls -A "$1/kernels" 2>/dev/null)" ] && [ -z "$(ls -A "$1/.tmp" 2>/dev/null)" ]
}

make_entry "$work/a/kernels" "$key"
make_entry "$work/a/kernels" "$key2"
entry=$work/a/kernels/$key

kts_plan 31

# 1. push: every file a blob, the manifest accepted by distribution 2.8
if run "$work/push1" "$remote" push "$entry" "$key" && [ "$(field blobs_sent "$work/push1")" = 6 ] &&
	[ "$(field blobs "$work/push1")" = 6 ]; then
	kts_ok "push uploads the entry's 6 files as blobs"
else
	kts_not_ok "push uploads the entry's 6 files as blobs"
	kts_diag "$(cat "$work/push1" "$work/push1.err")"
fi

curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
	"http://$reg_host/v2/ktscope/kernels/manifests/$key" >"$work/manifest.json"
kts_check "the registry serves the OCI 1.1 manifest: artifactType, the empty config, titles" \
	"$KTS_SYSTEM_PYTHON" -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert m["artifactType"] == "application/vnd.ktscope.kernel.v1", m
assert m["config"]["mediaType"] == "application/vnd.oci.empty.v1+json", m
assert m["config"]["size"] == 2, m
t = [l["annotations"]["org.opencontainers.image.title"] for l in m["layers"]]
assert t == ["bzImage", "vmlinux", "config", "metadata.json", "kconfig-report.json",
             "build.log"], t
assert m["annotations"]["dev.ktscope.key"] == sys.argv[2], m
' "$work/manifest.json" "$key"

# a registry that misbehaves on purpose (registry-fake.py), serving the same manifest
mkdir -p "$work/blobs"
for f in "$entry"/*; do cp "$f" "$work/blobs/$(sha256sum "$f" | cut -d' ' -f1)"; done
kts_bg "$KTS_SYSTEM_PYTHON" "$here/registry-fake.py" --manifest "$work/manifest.json" \
	--tags "$key" --blobs "$work/blobs" --blob-url "http://$reg_host/v2/ktscope/kernels/blobs" \
	--log "$work/fake.log" >"$work/fake.port" 2>"$work/fake.err"
kts_wait_until 10 test -s "$work/fake.port" || kts_skip_all "registry-fake.py did not start"
fake=oci://127.0.0.1:$(head -n1 "$work/fake.port")

# blobs redirected to another origin (an object store): followed, checked, stored; the
# NDJSON events: one per blob and one at the end
if KTS_EVENTS=1 run "$work/redir" "$fake/p/redirect" pull "$work/r" "$key" &&
	diff -r "$entry" "$work/r/kernels/$key" >/dev/null &&
	[ "$(grep -c '^{"event":"pull",.*"action":"downloaded"' "$work/redir")" = 6 ] &&
	grep -q "^{\"event\":\"pull\",.*\"key\":\"$key\",\"result\":\"pulled\",.*\"blobs\":6," "$work/redir"; then
	kts_ok "blobs redirected to another origin are followed; NDJSON: 6 blob events and the result"
else
	kts_not_ok "blobs redirected to another origin are followed; NDJSON events"
	kts_diag "$(cat "$work/redir" "$work/redir.err")"
fi

# a connection dropped in the middle of a blob: EIO naming the blob and the registry
run "$work/drop" "$fake/p/drop" pull "$work/dr" "$key"
if [ "$(field error "$work/drop")" = EIO ] &&
	grep -q "^why=$fake/p/drop: cannot download blob sha256:[0-9a-f]* (bzImage) from .*: transfer closed" "$work/drop" &&
	empty_cache "$work/dr"; then
	kts_ok "a connection dropped mid-blob: EIO naming the registry and the blob; nothing stored"
else
	kts_not_ok "a connection dropped mid-blob: EIO naming the registry and the blob"
	kts_diag "$(cat "$work/drop" "$work/drop.err")"
fi

# a later blob dropped mid-way after the first was written and handed to its fsync: EIO
# naming that blob, nothing stored (the blobs come biggest first: bzImage, then vmlinux)
KTS_EVENTS=1 run "$work/drop2" "$fake/p/droplater" pull "$work/dr2" "$key"
if [ "$(field error "$work/drop2")" = EIO ] &&
	grep -q '^{"event":"pull",.*"title":"bzImage",.*"action":"downloaded"' "$work/drop2" &&
	grep -q "^why=$fake/p/droplater: cannot download blob sha256:[0-9a-f]* (vmlinux) from .*: transfer closed" "$work/drop2" &&
	empty_cache "$work/dr2"; then
	kts_ok "a blob dropped after another was written: EIO naming it; nothing stored"
else
	kts_not_ok "a blob dropped after another was written: EIO naming it; nothing stored"
	kts_diag "$(cat "$work/drop2" "$work/drop2.err")"
fi

# a 5xx: EIO with the registry's own error code and message
run "$work/down5" "$fake/p/down" pull "$work/dn" "$key"
if [ "$(field error "$work/down5")" = EIO ] &&
	grep -q "^why=$fake/p/down: manifest '$key': HTTP 503 (UNAVAILABLE: try later)" "$work/down5" &&
	empty_cache "$work/dn"; then
	kts_ok "a 503: EIO with the registry's error code and message; nothing stored"
else
	kts_not_ok "a 503: EIO with the registry's error code and message"
	kts_diag "$(cat "$work/down5" "$work/down5.err")"
fi

# a manifest whose bytes are not the digest the registry gives for them
run "$work/baddigest" "$fake/p/baddigest" pull "$work/bd" "$key"
if [ "$(field error "$work/baddigest")" = EBADMSG ] &&
	grep -q "^why=$fake/p/baddigest: manifest '$key': its bytes are sha256:[0-9a-f]*, not sha256:0000" "$work/baddigest" &&
	empty_cache "$work/bd"; then
	kts_ok "a manifest that does not match its Docker-Content-Digest: EBADMSG, nothing stored"
else
	kts_not_ok "a manifest that does not match its Docker-Content-Digest: EBADMSG, nothing stored"
	kts_diag "$(cat "$work/baddigest" "$work/baddigest.err")"
fi

# a registry that refuses ?mount= without "from": the upload goes on without it
if run "$work/nomount" "$fake/p/nomount" push "$entry" "$key" &&
	[ "$(field blobs_sent "$work/nomount")" = 6 ] &&
	[ "$(grep -c '^POST /v2/p/nomount/blobs/uploads/?mount=' "$work/fake.log")" = 7 ] &&
	[ "$(grep -c '^POST /v2/p/nomount/blobs/uploads/$' "$work/fake.log")" = 7 ] &&
	grep -q "^PUT /v2/p/nomount/blobs/uploads/u1?_state=x&digest=sha256%3A" "$work/fake.log"; then
	kts_ok "a registry that refuses a mount without 'from': each blob uploaded without it"
else
	kts_not_ok "a registry that refuses a mount without 'from': each blob uploaded without it"
	kts_diag "$(cat "$work/nomount" "$work/nomount.err" "$work/fake.log")"
fi

# the tags list over pages of n=2 linked by Link: rel="next" (distribution 3 paginates)
if run "$work/ptags" --page 2 "$fake/p/pages" tags &&
	[ "$(sed -n 's/^tag=//p' "$work/ptags" | tr '\n' ' ')" = "k1 k2 k3 k4 k5 " ] &&
	[ "$(grep -c '^GET /v2/p/pages/tags/list' "$work/fake.log")" = 3 ]; then
	kts_ok "tags: three pages followed through their Link headers"
else
	kts_not_ok "tags: three pages followed through their Link headers"
	kts_diag "$(cat "$work/ptags" "$work/ptags.err" "$work/fake.log")"
fi

# 2. a second push sends no blob: HEAD finds each one
uploads=$(kts_registry_uploads reg)
if run "$work/push2" "$remote" push "$entry" "$key" &&
	[ "$(field blobs_sent "$work/push2")" = 0 ] && [ "$(field blobs_present "$work/push2")" = 6 ] &&
	[ "$(kts_registry_uploads reg)" = "$uploads" ] &&
	[ "$(field manifest "$work/push2")" = "$(field manifest "$work/push1")" ]; then
	kts_ok "a second push uploads nothing (6 blobs present, no upload request, same manifest)"
else
	kts_not_ok "a second push uploads nothing"
	kts_diag "$(cat "$work/push2" "$work/push2.err") uploads: $uploads -> $(kts_registry_uploads reg)"
fi

# 3. pull into an empty cache: byte-identical, nothing left in .tmp
if run "$work/pull" "$remote" pull "$work/b" "$key" && [ "$(field result "$work/pull")" = 1 ] &&
	diff -r "$entry" "$work/b/kernels/$key" >/dev/null && [ -z "$(ls -A "$work/b/.tmp")" ]; then
	kts_ok "pull into an empty cache: every file byte-identical, .tmp empty"
else
	kts_not_ok "pull into an empty cache: every file byte-identical"
	kts_diag "$(cat "$work/pull" "$work/pull.err")"
fi

run "$work/has" "$remote" has "$key"
run "$work/hasnot" "$remote" has nosuch-x86_64-000000000000
kts_check "has: 1 for the pushed key, 0 for an unknown one" \
	test "$(field result "$work/has")/$(field result "$work/hasnot")" = 1/0

# 4. an unknown tag pulls nothing and stores nothing
if run "$work/pull0" "$remote" pull "$work/c" nosuch-x86_64-000000000000 &&
	[ "$(field result "$work/pull0")" = 0 ] && empty_cache "$work/c"; then
	kts_ok "pull of an unknown tag: 0, nothing stored"
else
	kts_not_ok "pull of an unknown tag: 0, nothing stored"
	kts_diag "$(cat "$work/pull0" "$work/pull0.err")"
fi

# 5. tags, sorted (distribution 2.8 ignores n= and answers one page: pagination below)
run "$work/push3" "$remote" push "$work/a/kernels/$key2" "$key2"
if run "$work/tags" --page 1 "$remote" tags &&
	[ "$(sed -n 's/^tag=//p' "$work/tags" | tr '\n' ' ')" = "$key $key2 " ]; then
	kts_ok "tags: both keys, sorted"
else
	kts_not_ok "tags: both keys, sorted"
	kts_diag "$(cat "$work/tags" "$work/tags.err")"
fi

run "$work/big" "$remote" get "$key" bzImage
kts_check "get: a file over the limit (3 MB > 1 MiB) is EFBIG" test "$(field error "$work/big")" = EFBIG

run "$work/get" "$remote" get "$key" metadata.json
kts_check "get: metadata.json's bytes, digest-checked" \
	cmp -s <(head -c "$(stat -c %s "$entry/metadata.json")" "$work/get") "$entry/metadata.json"

# an entry tagged with another key than its own (the manifest copied to another tag)
curl -s -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
	--data-binary @"$work/manifest.json" "http://$reg_host/v2/ktscope/kernels/manifests/other"
run "$work/other" "$remote" pull "$work/o" other
if [ "$(field error "$work/other")" = EBADMSG ] &&
	grep -q "the entry tagged 'other' is the entry '$key'" "$work/other" && empty_cache "$work/o"; then
	kts_ok "an entry under another key's tag: EBADMSG, nothing stored"
else
	kts_not_ok "an entry under another key's tag: EBADMSG, nothing stored"
	kts_diag "$(cat "$work/other" "$work/other.err")"
fi

# 6. a blob corrupted in the registry's storage: refused by digest, nothing stored
hex=$(sha256sum "$entry/bzImage" | cut -d' ' -f1)
data=$reg_storage/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data
# flip every bit of byte 1000 (the blob is random: writing a fixed byte left it unchanged
# one time in 256, and the pull then rightly succeeded)
b=$(od -An -tu1 -j 1000 -N 1 "$data" | tr -d ' ')
printf "\\$(printf '%03o' $((b ^ 255)))" | dd of="$data" bs=1 seek=1000 conv=notrunc 2>/dev/null
[ "$(od -An -tu1 -j 1000 -N 1 "$data" | tr -d ' ')" = $((b ^ 255)) ] ||
	kts_diag "the blob's byte 1000 did not change ($b)"
run "$work/bad" "$remote" pull "$work/d" "$key"
rc=$?
if [ $rc = 1 ] && [ "$(field error "$work/bad")" = EBADMSG ] &&
	grep -q "^why=$remote: blob sha256:$hex (bzImage) does not match its digest" "$work/bad" &&
	empty_cache "$work/d"; then
	kts_ok "a corrupted blob: EBADMSG naming the registry, the blob and its title; nothing stored"
else
	kts_not_ok "a corrupted blob: EBADMSG naming the registry, the blob and its title"
	kts_diag "exit $rc: $(cat "$work/bad" "$work/bad.err"); $(find "$work/d")"
fi

# a short blob (the registry's file truncated): EIO, a short read, nothing stored
truncate -s 2000000 "$data"
run "$work/short" "$remote" pull "$work/d" "$key"
if [ "$(field error "$work/short")" = EIO ] && grep -q "short read, 2000000 of 3000000" "$work/short" &&
	empty_cache "$work/d"; then
	kts_ok "a short blob: EIO naming the short read; nothing stored"
else
	kts_not_ok "a short blob: EIO naming the short read"
	kts_diag "$(cat "$work/short" "$work/short.err")"
fi

# 7. a manifest whose title is a path (pushed by someone else): refused before any write
sed 's|"org.opencontainers.image.title":"config"|"org.opencontainers.image.title":"../../escape"|' \
	"$work/manifest.json" >"$work/evil.json"
curl -s -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
	--data-binary @"$work/evil.json" "http://$reg_host/v2/ktscope/kernels/manifests/evil"
run "$work/evil" "$remote" pull "$work/e" evil
if [ "$(field error "$work/evil")" = EBADMSG ] && grep -q "title '../../escape' is not a file" "$work/evil" &&
	empty_cache "$work/e" && [ ! -e "$work/escape" ] && [ ! -e "$work/e/escape" ]; then
	kts_ok "a manifest titling a layer '../../escape': EBADMSG, nothing written"
else
	kts_not_ok "a manifest titling a layer '../../escape': EBADMSG, nothing written"
	kts_diag "$(cat "$work/evil" "$work/evil.err")"
fi

# 8. a malformed remote: EINVAL naming it
run "$work/badremote" "oci://$reg_host/Kernels" has "$key"
kts_check "a remote with an uppercase repository: EINVAL naming it" \
	grep -q "^why=remote 'oci://$reg_host/Kernels': the repository" "$work/badremote"

# 9. the registry stopped: ECONNREFUSED naming it, nothing stored
kts_registry_stop reg
run "$work/down" "$remote" pull "$work/f" "$key2"
if [ "$(field error "$work/down")" = ECONNREFUSED ] && grep -q "$remote" "$work/down" &&
	empty_cache "$work/f"; then
	kts_ok "the registry stopped: ECONNREFUSED naming it; nothing stored"
else
	kts_not_ok "the registry stopped: ECONNREFUSED naming it; nothing stored"
	kts_diag "$(cat "$work/down" "$work/down.err")"
fi

# 10. and started again on the same storage: the second entry pulls
kts_registry_restart reg
if run "$work/again" "$remote" pull "$work/f" "$key2" &&
	diff -r "$work/a/kernels/$key2" "$work/f/kernels/$key2" >/dev/null; then
	kts_ok "after a restart the pull succeeds byte-identical"
else
	kts_not_ok "after a restart the pull succeeds byte-identical"
	kts_diag "$(cat "$work/again" "$work/again.err")"
fi

# 10b. a registry with a private certificate on 127.0.0.1: https once a CA file is given
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-days 2 -keyout "$work/tls.key" -out "$work/tls.crt" >/dev/null 2>&1 ||
	kts_skip_all "openssl cannot make a self-signed certificate"
tls_port=$(kts_free_port)
mkdir -p "$work/tls/storage"
printf 'version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n  secret: kts-tls\n  tls:\n    certificate: %s\n    key: %s\n' \
	"$work/tls/storage" "$tls_port" "$work/tls.crt" "$work/tls.key" >"$work/tls/config.yml"
kts_bg docker-registry serve "$work/tls/config.yml" >"$work/tls/registry.log" 2>&1
kts_wait_until 20 curl -sf -o /dev/null --cacert "$work/tls.crt" "https://127.0.0.1:$tls_port/v2/" ||
	kts_skip_all "docker-registry with TLS did not answer: $(tail -n 5 "$work/tls/registry.log")"
tls_remote=oci://127.0.0.1:$tls_port/k
if run "$work/tls-push" --ca "$work/tls.crt" "$tls_remote" push "$entry" "$key" &&
	run "$work/tls-pull" --ca "$work/tls.crt" "$tls_remote" pull "$work/t" "$key" &&
	diff -r "$entry" "$work/t/kernels/$key" >/dev/null &&
	! run "$work/tls-plain" "$tls_remote" has "$key" &&
	grep -q "^why=$tls_remote: manifest '$key': HTTP 400 (Client sent an HTTP request to an HTTPS server" "$work/tls-plain"; then
	kts_ok "a loopback registry with a private CA: https with --ca (push, pull); without, plain http, the server's answer quoted"
else
	kts_not_ok "a loopback registry with a private CA: https with --ca, plain http without"
	kts_diag "$(cat "$work"/tls-push* "$work"/tls-pull* "$work"/tls-plain*)"
fi

# 11. the request wrapper's authentication: basic (htpasswd) and bearer tokens (token-server.py)
password=kts-Pa55-word-7e1
export HOME=$work/home XDG_RUNTIME_DIR=$work/runtime
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
unset REGISTRY_AUTH_FILE
kts_htpasswd "$work/htpasswd" tester "$password"
kts_registry_start basic "$work/basic" htpasswd "$work/htpasswd"
kts_token_server_start ts "$work/ts" tester "$password"
kts_registry_start tok "$work/tok" token ts

# no_secret FILE...: the password appears in none of them
no_secret() { ! grep -q -- "$password" "$@"; }

# auth_case NAME HOST: push and pull with the right credentials; then a wrong password and
# none at all refused with EACCES naming the registry and the file (or where it looked)
auth_case() {
	local name=$1 host=$2 r=oci://$2/team/kernels
	kts_registry_auth_file "$work/$name-auth.json" "$host" tester "$password"
	kts_registry_auth_file "$work/$name-wrong.json" "$host" tester "not-$password"
	if REGISTRY_AUTH_FILE=$work/$name-auth.json KTS_DEBUG=1 run "$work/$name-push" "$r" push "$entry" "$key" &&
		REGISTRY_AUTH_FILE=$work/$name-auth.json KTS_DEBUG=1 run "$work/$name-pull" "$r" pull "$work/$name-c" "$key" &&
		diff -r "$entry" "$work/$name-c/kernels/$key" >/dev/null &&
		grep -q "registry $r: " "$work/$name-push.err" &&
		no_secret "$work/$name-push"* "$work/$name-pull"* "$work/$name-c" -r &&
		! grep -qE "$(printf 'tester:%s' "$password" | base64 -w0)|eyJ[A-Za-z0-9_-]{8}" \
			"$work/$name-push"* "$work/$name-pull"*; then
		kts_ok "$name auth: push, then pull byte-identical; no password, basic or token even at debug level"
	else
		kts_not_ok "$name auth: push, then pull byte-identical with the credentials file"
		kts_diag "$(cat "$work/$name-push" "$work/$name-push.err" "$work/$name-pull" "$work/$name-pull.err")"
	fi
	REGISTRY_AUTH_FILE=$work/$name-wrong.json run "$work/$name-wrong" "$r" pull "$work/$name-w" "$key"
	if [ "$(field error "$work/$name-wrong")" = EACCES ] &&
		grep -q "^why=$r: access denied to manifest '$key'.* from $work/$name-wrong.json" "$work/$name-wrong" &&
		no_secret "$work/$name-wrong" "$work/$name-wrong.err" && empty_cache "$work/$name-w"; then
		kts_ok "$name auth: a wrong password is EACCES naming the registry and the file, not the password"
	else
		kts_not_ok "$name auth: a wrong password is EACCES naming the registry and the file"
		kts_diag "$(cat "$work/$name-wrong" "$work/$name-wrong.err")"
	fi
	run "$work/$name-none" "$r" has "$key"
	if [ "$(field error "$work/$name-none")" = EACCES ] &&
		grep -q "no credentials for $host in .*$XDG_RUNTIME_DIR/containers/auth.json" "$work/$name-none"; then
		kts_ok "$name auth: no credentials is EACCES saying where it looked"
	else
		kts_not_ok "$name auth: no credentials is EACCES saying where it looked"
		kts_diag "$(cat "$work/$name-none" "$work/$name-none.err")"
	fi
}
auth_case basic "$basic_host"
auth_case token "$tok_host"
# (the registry's challenge lists the actions in either order)
kts_check "the token server was asked for the push scope by the push" \
	grep -qE "user=tester scope=repository:team/kernels:(pull,push|push,pull) status=200" "$ts_log"

exit $((kts_nfail > 0))
