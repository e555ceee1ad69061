#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The systemd units and the shell completions, for real:
#   - systemd-analyze verify (--user) passes without a word on every unit, the
#     drop-in included (through a stand-in service, as drop-ins cannot be verified
#     alone), with the generated ktscope-gc.service pointing at the built binary;
#   - in the confined user manager of manager.sh: the slice, the gc service and the
#     timer load, the slice carries its weights, the timer starts with a next
#     elapse, `ktscope run` lands its scope in ktscope.slice, and the drop-in
#     really adds cpuset to a unit's delegated controllers (Delegate= lists add up);
#   - bash and zsh completion of commands, options, --base values and cache keys,
#     and every option a command's --help documents is offered for it.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
srcdir=${KTS_TOP_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${KTS_TOP_BUILDDIR:-$PWD}
units=$srcdir/units
gc_service=$builddir/units/ktscope-gc.service

# ---- inside the confined manager: one "PASS|FAIL|DIAG text" line per result ----
# The timer's Persistent= stamp goes below the manager's XDG_DATA_HOME (our HOME):
# remove it, and the directories made for it, unless they were there before.
stamp_cleanup=()
note_stamp() {
	local p
	p=${XDG_DATA_HOME:-$HOME/.local/share}/systemd/timers/stamp-ktscope-gc.timer
	while [ ! -e "$p" ] && [ "$p" != / ]; do
		stamp_cleanup+=("$p")
		p=$(dirname "$p")
	done
}
undo_stamp() {
	local p
	for p in "${stamp_cleanup[@]}"; do
		if [ -d "$p" ]; then rmdir "$p" 2>/dev/null; else rm -f "$p"; fi
	done
}

inside() {
	local out rc rt=$XDG_RUNTIME_DIR/systemd/user
	tmp=$(mktemp -d /tmp/ktscope-units.XXXXXX) || exit 99
	result() { if [ "$1" = 0 ]; then echo "PASS $2"; else echo "FAIL $2"; fi; }
	diag() { printf '%s\n' "$*" | sed 's/^/DIAG /'; }
	note_stamp
	trap 'systemctl --user stop ktscope-gc.timer >/dev/null 2>&1; undo_stamp; rm -rf "$tmp"' EXIT

	# Whatever the timer starts cleans a private, empty cache, never the developer's.
	systemctl --user set-environment KTSCOPE_CACHE_DIR="$tmp/cache"
	sed "s|^ExecStart=[^ ]*/ktscope |ExecStart=$KTSCOPE |" "$gc_service" >"$tmp/ktscope-gc.service"
	out=$(systemctl --user link --runtime "$units/ktscope.slice" "$tmp/ktscope-gc.service" \
		"$units/ktscope-gc.timer" 2>&1)
	rc=$?
	result $rc "systemctl --user link --runtime the slice, the gc service and the timer"
	[ $rc = 0 ] || diag "$out"
	systemctl --user daemon-reload

	out=$(systemctl --user show -p LoadState --value ktscope.slice)
	result $([ "$out" = loaded ]; echo $?) "ktscope.slice loads in the user manager (LoadState=$out)"
	out=$(systemctl --user show -p CPUWeight -p IOWeight ktscope.slice | sort | tr '\n' ' ')
	result $([ "$out" = "CPUWeight=50 IOWeight=50 " ]; echo $?) \
		"ktscope.slice has CPUWeight=50 and IOWeight=50 ($out)"
	out=$(systemctl --user show -p LoadState --value ktscope-gc.service)
	result $([ "$out" = loaded ]; echo $?) "ktscope-gc.service loads (LoadState=$out)"
	out=$(systemctl --user show -p ExecStart --value ktscope-gc.service)
	result $([[ $out == *"argv[]=$KTSCOPE kernel clean --older-than 30 --keep 5 --force "* ]]; echo $?) \
		"ktscope-gc.service runs 'kernel clean --older-than 30 --keep 5 --force'"
	[[ $out == *"argv[]=$KTSCOPE kernel clean"* ]] || diag "ExecStart: $out"

	out=$(systemctl --user show -p LoadState --value ktscope-gc.timer)
	result $([ "$out" = loaded ]; echo $?) "ktscope-gc.timer loads (LoadState=$out)"
	out=$(systemctl --user start ktscope-gc.timer 2>&1)
	rc=$?
	result $rc "ktscope-gc.timer starts"
	[ $rc = 0 ] || diag "$out"
	out=$(systemctl --user show -p ActiveState -p NextElapseUSecRealtime ktscope-gc.timer)
	result $([[ $out == *ActiveState=active* && $out =~ NextElapseUSecRealtime=[A-Z][a-z][a-z]\ [0-9] ]]
		echo $?) "the started timer has a next elapse"
	diag "$out"
	out=$(systemctl --user show -p Triggers --value ktscope-gc.timer)
	result $([ "$out" = ktscope-gc.service ]; echo $?) "the timer triggers ktscope-gc.service ($out)"
	systemctl --user stop ktscope-gc.timer

	# ktscope's own scopes go into the slice (scope.h SCOPE_DEFAULT_SLICE).
	out=$(KTSCOPE_LOCK_DIR=$tmp "$KTSCOPE" --user run -- cat /proc/self/cgroup 2>"$tmp/err")
	rc=$?
	result $([ $rc = 0 ] && [[ $out == *"/ktscope.slice/ktscope-run-"*.scope* ]]; echo $?) \
		"'ktscope run' puts its scope into ktscope.slice"
	[[ $out == *"/ktscope.slice/"* ]] || diag "exit $rc; cgroup: $out; stderr: $(cat "$tmp/err")"

	# Delegate= lists add up: a unit with the stock user@.service line plus our
	# drop-in delegates cpuset and keeps the stock controllers.
	mkdir -p "$rt/ktscope-delegate-probe.service.d"
	printf '[Service]\nExecStart=/bin/true\nDelegate=pids memory cpu\n' \
		>"$rt/ktscope-delegate-probe.service"
	cp "$units/user@.service.d/ktscope-cpuset.conf" "$rt/ktscope-delegate-probe.service.d/"
	systemctl --user daemon-reload
	out=$(systemctl --user show -p Delegate -p DelegateControllers ktscope-delegate-probe.service |
		sort | tr '\n' ' ')
	result $([[ $out == *Delegate=yes* && $out == *DelegateControllers=*cpu\ * &&
		$out == *cpuset* && $out == *memory* && $out == *pids* ]]; echo $?) \
		"the drop-in adds cpuset to the stock Delegate=pids memory cpu ($out)"
	rm -rf "$rt/ktscope-delegate-probe.service" "$rt/ktscope-delegate-probe.service.d"
	systemctl --user daemon-reload
}
N_INSIDE=11

if [ "${1:-}" = --inside ]; then
	inside
	exit 0
fi

# ---- outside: verify, completions; then the manager part ------------------------
kts_find_ktscope
kts_plan $((N_INSIDE + 19))
tmp=$(mktemp -d /tmp/ktscope-units-test.XXXXXX) || exit 99
trap 'rm -rf "$tmp"' EXIT

# The generated unit: substituted, and pointing at an absolute ktscope.
exec_line=$(grep '^ExecStart=' "$gc_service" 2>/dev/null)
kts_check "generated ktscope-gc.service has an absolute ExecStart and no @var@ left" \
	eval '! grep -q "@[a-z_]*@" "$gc_service" &&
		[[ $exec_line =~ ^ExecStart=/[^\ ]*/ktscope\ kernel\ clean\ --older-than\ 30\ --keep\ 5\ --force$ ]]'
[ -n "$exec_line" ] || kts_diag "no ExecStart in '$gc_service' (make units/ktscope-gc.service)"

# systemd-analyze verify: exit 0 and not a single warning. --user needs a runtime dir.
mkdir -m 0700 "$tmp/rt" "$tmp/units" "$tmp/units/ktscope-delegate-probe.service.d"
sed "s|^ExecStart=[^ ]*/ktscope |ExecStart=$KTSCOPE |" "$gc_service" >"$tmp/units/ktscope-gc.service"
cp "$units/ktscope.slice" "$units/ktscope-gc.timer" "$tmp/units/"
verify() {
	local out
	out=$(cd "$tmp/units" && XDG_RUNTIME_DIR=$tmp/rt systemd-analyze --user verify --man=no "$@" 2>&1)
	local rc=$?
	[ $rc = 0 ] && [ -z "$out" ] && return 0
	kts_diag "systemd-analyze verify $* (exit $rc): $out"
	return 1
}
if command -v systemd-analyze >/dev/null; then
	kts_check "systemd-analyze verify: ktscope.slice" verify ./ktscope.slice
	kts_check "systemd-analyze verify: ktscope-gc.service" verify ./ktscope-gc.service
	kts_check "systemd-analyze verify: ktscope-gc.timer (with its service)" \
		verify ./ktscope-gc.timer ./ktscope-gc.service
	printf '[Service]\nExecStart=/bin/true\nDelegate=pids memory cpu\n' \
		>"$tmp/units/ktscope-delegate-probe.service"
	cp "$units/user@.service.d/ktscope-cpuset.conf" "$tmp/units/ktscope-delegate-probe.service.d/"
	kts_check "systemd-analyze verify: user@.service.d/ktscope-cpuset.conf (on a stand-in)" \
		verify ./ktscope-delegate-probe.service
	# The check itself must be able to fail: a misspelt key in a drop-in is reported.
	printf '[Service]\nDelegat=cpuset\n' >"$tmp/units/ktscope-delegate-probe.service.d/bad.conf"
	kts_check "systemd-analyze verify reports a bad drop-in (the check can fail)" \
		eval '! verify ./ktscope-delegate-probe.service >/dev/null'
else
	[ "${CI:-}" = true ] && { echo "Bail out! CI=true but systemd-analyze is missing"; exit 99; }
	for u in slice service timer drop-in self-check; do
		kts_skip "systemd-analyze verify: $u" "systemd-analyze not installed"
	done
fi

# ---- bash completion -------------------------------------------------------------
bash_comp="$srcdir/completions/ktscope"
kts_check "bash -n completions/ktscope" bash -n "$bash_comp"

# bash_complete WORD...: the candidates bash offers for the last WORD, one per line.
bash_complete() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMPREPLY=(); _ktscope; printf "%s\n" "${COMPREPLY[@]}"' _ "$bash_comp" "$@"
}
out=$(bash_complete ktscope to)
kts_check "bash: 'ktscope to<TAB>' completes to topology" [ "$out" = topology ]
out=$(bash_complete ktscope --user ker)
kts_check "bash: the command after a global option ('ktscope --user ker' -> kernel)" [ "$out" = kernel ]
mkdir -p "$tmp/cache/kernels/6.12.3-x86_64-0123456789ab" "$tmp/cache/kernels/local-a1b2c3d4e5f6-x86_64-ba9876543210" \
	"$tmp/cache/kernels/.hidden" "$tmp/cache/.tmp/6.12.3-x86_64-0123456789ab.1"
out=$(KTSCOPE_CACHE_DIR=$tmp/cache bash_complete ktscope kernel show "" | sort | tr '\n' ' ')
kts_check "bash: 'kernel show <TAB>' offers the cache keys, no dot names ($out)" \
	[ "$out" = "6.12.3-x86_64-0123456789ab local-a1b2c3d4e5f6-x86_64-ba9876543210 " ]
mkdir -p "$tmp/xdg/ktscope/kernels/local-a1b2c3d4e5f6-x86_64-ba9876543210"
out=$(unset KTSCOPE_CACHE_DIR; XDG_CACHE_HOME=$tmp/xdg bash_complete ktscope kernel path lo)
kts_check "bash: 'kernel path lo<TAB>' finds keys under \$XDG_CACHE_HOME/ktscope" \
	[ "$out" = local-a1b2c3d4e5f6-x86_64-ba9876543210 ]
out=$(KTSCOPE_CACHE_DIR=$tmp/cache bash_complete ktscope kernel diff 6.12.3-x86_64-0123456789ab 6 |
	tr '\n' ' '; bash_complete ktscope kernel path lo --vmlinux | tr '\n' ' ')
kts_check "bash: 'kernel diff KEY 6<TAB>' offers the key, 'kernel path K --vmlinux<TAB>' both options ($out)" \
	[ "$out" = "6.12.3-x86_64-0123456789ab --vmlinux --vmlinux-h " ]
out=$(cd "$tmp" && bash_complete ktscope build --base tin; bash_complete ktscope build --base = kvm;
	bash_complete ktscope run --enforce "")
kts_check "bash: --base values (--base tin, --base=kvm) and --enforce values" \
	[ "$(echo $out)" = "tinyconfig kvm_guest auto cgroup affinity" ]

# Every option a command's --help documents is offered for that command.
help_opts() {
	"$KTSCOPE" "$@" --help 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}
missing=
for cmd in build run topology locks kconfig doctor; do
	offered=$(bash_complete ktscope $cmd -- | sort -u)
	for o in $(help_opts $cmd); do
		grep -qx -- "$o" <<<"$offered" || missing+=" $cmd:$o"
	done
done
# `kernel --help` documents the options of every subcommand together.
all_kernel=$(for s in list show path env diff clean push pull; do bash_complete ktscope kernel $s --; done | sort -u)
for o in $(help_opts kernel); do
	grep -qx -- "$o" <<<"$all_kernel" || missing+=" kernel:$o"
done
kts_check "bash: every option in each command's --help is completed" [ -z "$missing" ]
[ -z "$missing" ] || kts_diag "not offered:$missing"

# ---- zsh completion --------------------------------------------------------------
# zsh_complete WORDS: the command line after typing WORDS<TAB> in an interactive zsh
# (zsh/zpty) with our completions/ first in fpath.
cat >"$tmp/complete.zsh" <<'EOF'
zmodload zsh/zpty
zpty z zsh -f -i
# A dump file ($3) shared by the calls: compinit scans fpath only once.
zpty -w z "PS1=''; PS2=''; fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -d ${(q)3}"
# The marker is split in the source so that zle's echo of this line never matches.
zpty -w z 'tabw() { zle complete-word; print -r -- "@@""BUF@@${BUFFER}@@"; exit }; zle -N tabw; bindkey "^I" tabw'
zpty -w -n z "$2"$'\t'
local out line
integer n=0
while (( n++ < 1000 )); do
	if zpty -rt z line 2>/dev/null; then
		out+=$line
		[[ $out == *@@BUF@@*@@* ]] && break
	else
		sleep 0.01
	fi
done
zpty -d z
print -r -- ${${out#*@@BUF@@}%%@@*}
EOF
zsh_complete() {
	(cd "$tmp" && timeout 30 zsh -f "$tmp/complete.zsh" "$srcdir/completions" "$1" \
		"$tmp/zcompdump")
}
if command -v zsh >/dev/null; then
	kts_check "zsh -n completions/_ktscope" zsh -n "$srcdir/completions/_ktscope"
	out=$(zsh_complete "ktscope to")
	kts_check "zsh: 'ktscope to<TAB>' completes to topology ($out)" [ "$out" = "ktscope topology " ]
	out=$(zsh_complete "ktscope build --base=tin")$(zsh_complete "ktscope kernel clean --corr")
	kts_check "zsh: --base value and a kernel clean option ($out)" \
		[ "$out" = "ktscope build --base=tinyconfig ktscope kernel clean --corrupt-only " ]
	out=$(KTSCOPE_CACHE_DIR=$tmp/cache zsh_complete "ktscope kernel show 6")
	kts_check "zsh: 'kernel show 6<TAB>' completes the cache key ($out)" \
		[ "$out" = "ktscope kernel show 6.12.3-x86_64-0123456789ab " ]
	out=$(KTSCOPE_CACHE_DIR=$tmp/cache zsh_complete "ktscope kernel diff 6.12.3-x86_64-0123456789ab 6")$(
		KTSCOPE_CACHE_DIR=$tmp/cache zsh_complete "ktscope kernel path 6 --vmlinux-")
	kts_check "zsh: 'kernel diff KEY 6<TAB>' the second key, 'kernel path K --vmlinux-<TAB>' ($out)" \
		[ "$out" = "ktscope kernel diff 6.12.3-x86_64-0123456789ab 6.12.3-x86_64-0123456789ab ktscope kernel path 6 --vmlinux-h " ]
else
	[ "${CI:-}" = true ] && { echo "Bail out! CI=true but zsh is missing"; exit 99; }
	for d in "zsh -n" "zsh: ktscope to" "zsh: --base" "zsh: cache keys" "zsh: kernel diff, path"; do
		kts_skip "$d" "zsh not installed"
	done
fi

# ---- the confined user manager ---------------------------------------------------
kts_run_inside "$N_INSIDE" "$0" --inside
[ $kts_nfail = 0 ]
