# SPDX-License-Identifier: GPL-2.0-or-later
# A real OCI registry for the integration tests (sourced after lib.sh, not run): Debian's
# docker-registry (the CNCF distribution registry 2.8) on 127.0.0.1 with a temporary
# storage directory, anonymous, behind htpasswd basic auth, or behind token auth with
# tests/integration/token-server.py; credentials files as podman and docker write them.
# Every daemon is started with kts_bg (its own process group): the caller's EXIT trap
# runs kts_kill_bg. Nothing listens anywhere but 127.0.0.1, on ports the kernel picked.
#
#   kts_registry_need                       skip (CI: fail) without the tools
#   kts_registry_start NAME DIR [MODE...]   start one; MODE: anonymous (default),
#                                           htpasswd FILE, token TOKEN_SERVER_NAME
#   kts_registry_stop NAME                  SIGKILL its process group (and reap it)
#   kts_registry_restart NAME               start it again: same port, storage and mode
#   kts_registry_uploads NAME               blob upload requests in its access log
#   kts_htpasswd FILE USER PASSWORD         a bcrypt htpasswd file
#   kts_token_server_start NAME DIR USER PASSWORD [--kid]
#   kts_registry_auth_file FILE HOST USER PASSWORD   {"auths": {HOST: {"auth": base64}}}
#
# kts_registry_start sets, for NAME: NAME_host (127.0.0.1:PORT), NAME_port, NAME_pid (its
# process group), NAME_storage (the storage root), NAME_log (its log: the access log lines
# "127.0.0.1 - - [...] "METHOD /v2/... HTTP/1.1" STATUS ..." and its own), NAME_config.

# The system python: token-server.py needs Debian's python3-jwt and python3-cryptography,
# which a version manager's python3 on PATH may lack.
KTS_SYSTEM_PYTHON=${KTS_SYSTEM_PYTHON:-/usr/bin/python3}

kts_registry_need() {
	local c
	for c in docker-registry htpasswd openssl curl; do
		command -v $c >/dev/null || kts_skip_all "'$c' not found (Debian: docker-registry, apache2-utils, openssl, curl)"
	done
	"$KTS_SYSTEM_PYTHON" -c 'import jwt, cryptography' 2>/dev/null ||
		kts_skip_all "$KTS_SYSTEM_PYTHON lacks jwt or cryptography (Debian: python3-jwt python3-cryptography)"
}

# kts_registry_answers PORT: /v2/ answers (200 anonymous, 401 behind auth).
kts_registry_answers() {
	local code
	code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/v2/" 2>/dev/null)
	[ "$code" = 200 ] || [ "$code" = 401 ]
}

# kts_registry_config NAME MODE...: NAME's config.yml from NAME_port, NAME_storage, MODE.
kts_registry_config() {
	local name=$1 mode=${2:-anonymous} port storage ts
	port=${name}_port storage=${name}_storage
	{
		printf 'version: 0.1\nlog:\n  level: info\n  formatter: text\n'
		printf 'storage:\n  filesystem:\n    rootdirectory: %s\n' "${!storage}"
		printf '  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\n'
		printf 'http:\n  addr: 127.0.0.1:%s\n  secret: kts-test-%s\n' "${!port}" "$name"
		case $mode in
		anonymous) ;;
		htpasswd)
			printf 'auth:\n  htpasswd:\n    realm: ktscope-test\n    path: %s\n' "$3" ;;
		token)
			ts=$3
			local realm=${ts}_realm service=${ts}_service issuer=${ts}_issuer cert=${ts}_cert
			printf 'auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n' \
				"${!realm}" "${!service}" "${!issuer}"
			printf '    rootcertbundle: %s\n' "${!cert}" ;;
		*)
			echo "kts_registry_config: unknown mode '$mode'" >&2
			return 1 ;;
		esac
	} >"$(kts_registry_var "$name" config)"
}

# kts_registry_var NAME FIELD: the value of NAME_FIELD.
kts_registry_var() {
	local v=${1}_$2
	printf '%s' "${!v}"
}

# kts_registry_launch NAME: docker-registry serve on NAME's config, until /v2/ answers.
kts_registry_launch() {
	local name=$1 port log config
	port=$(kts_registry_var "$name" port)
	log=$(kts_registry_var "$name" log)
	config=$(kts_registry_var "$name" config)
	kts_bg docker-registry serve "$config" >>"$log" 2>&1
	printf -v "${name}_pid" '%s' "$kts_bg_pid"
	if ! kts_wait_until 20 kts_registry_answers "$port"; then
		kts_skip_all "docker-registry did not answer on 127.0.0.1:$port: $(tail -n 5 "$log")"
	fi
}

kts_registry_start() {
	local name=$1 dir=$2
	shift 2
	mkdir -p "$dir/storage" || kts_skip_all "cannot create '$dir'"
	printf -v "${name}_port" '%s' "$(kts_free_port)"
	printf -v "${name}_storage" '%s' "$dir/storage"
	printf -v "${name}_log" '%s' "$dir/registry.log"
	printf -v "${name}_config" '%s' "$dir/config.yml"
	printf -v "${name}_host" '127.0.0.1:%s' "$(kts_registry_var "$name" port)"
	kts_registry_config "$name" "$@" || kts_skip_all "bad registry mode '$*'"
	kts_registry_launch "$name"
}

kts_registry_stop() {
	local pid
	pid=$(kts_registry_var "$1" pid)
	[ -n "$pid" ] || return 0
	kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	printf -v "${1}_pid" '%s' ""
}

kts_registry_restart() {
	kts_registry_stop "$1"
	kts_registry_launch "$1"
}

# kts_registry_uploads NAME: how many blob upload requests (POST, PATCH or PUT under
# /blobs/uploads/) reached the registry so far; a cross-repository mount is a POST too.
kts_registry_uploads() {
	grep -cE '"(POST|PATCH|PUT) /v2/[^ ]*/blobs/uploads/' "$(kts_registry_var "$1" log)"
}

kts_htpasswd() {
	htpasswd -Bbn "$2" "$3" >"$1"
}

# kts_token_server_start NAME DIR USER PASSWORD [--kid]: an EC P-256 key and a self-signed
# certificate for it (DIR/token.key, DIR/token.crt: the registry's rootcertbundle), and
# token-server.py granting USER:PASSWORD every scope. Sets NAME_port, NAME_realm,
# NAME_service, NAME_issuer, NAME_cert, NAME_log (one line per token request).
kts_token_server_start() {
	local name=$1 dir=$2 user=$3 password=$4 portf
	shift 4
	mkdir -p "$dir" || kts_skip_all "cannot create '$dir'"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=ktscope-test-token" -keyout "$dir/token.key" -out "$dir/token.crt" \
		2>/dev/null || kts_skip_all "openssl cannot make the token server's key"
	printf '%s:%s\n' "$user" "$password" >"$dir/users"
	printf -v "${name}_service" '%s' "ktscope-test-registry"
	printf -v "${name}_issuer" '%s' "ktscope-test-token"
	printf -v "${name}_cert" '%s' "$dir/token.crt"
	printf -v "${name}_log" '%s' "$dir/token.log"
	: >"$dir/token.log"
	portf=$dir/token.port
	: >"$portf"
	kts_bg "$KTS_SYSTEM_PYTHON" "$(dirname "${BASH_SOURCE[0]}")/token-server.py" \
		--key "$dir/token.key" --cert "$dir/token.crt" \
		--issuer "$(kts_registry_var "$name" issuer)" \
		--service "$(kts_registry_var "$name" service)" \
		--users "$dir/users" --log "$dir/token.log" "$@" >"$portf" 2>"$dir/token.err"
	kts_wait_until 10 test -s "$portf" ||
		kts_skip_all "token-server.py did not start: $(tail -n 5 "$dir/token.err")"
	printf -v "${name}_port" '%s' "$(head -n 1 "$portf")"
	printf -v "${name}_realm" 'http://127.0.0.1:%s/token' "$(kts_registry_var "$name" port)"
}

# kts_registry_auth_file FILE HOST USER PASSWORD: a credentials file as `podman login` and
# `docker login` write it (REGISTRY_AUTH_FILE, containers/auth.json, ~/.docker/config.json).
kts_registry_auth_file() {
	local auth
	auth=$(printf '%s:%s' "$3" "$4" | base64 -w 0)
	printf '{\n  "auths": {\n    "%s": {\n      "auth": "%s"\n    }\n  }\n}\n' "$2" "$auth" >"$1"
}
