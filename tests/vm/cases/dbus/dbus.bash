# tests/vm/cases/dbus/dbus.bash: helpers of the "dbus" case group (sourced
# by its cases after lib.sh; not a case itself: run-cases runs *.sh only).
#
# The group checks tcmud's D-Bus side the way users meet it: Debian's
# targetcli (rtslib) and dbus-daemon, the installed bus policy and the
# activation file from the build tree, the real kernel.  The guest root is
# an overlay, so installing into /etc and /usr/share here is thrown away at
# power-off.
#
# systemd: tcmud.service is checked on the host (dbus_test_systemd_unit:
# systemd-analyze verify).  Nothing more is possible here: the guest has no
# systemd as PID 1, so SystemdService= activation, Type=dbus readiness and
# the sandboxing options of the unit are not exercised.  Activation goes
# through dbus-daemon's own launch helper, which is what a system without
# systemd (or with SystemdService= ignored) does.

BUS_NAME=org.kernel.TCMUService1
BUS_PATH=/org/kernel/TCMUService1
DBUS_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)
ACTIVATION=/usr/share/dbus-1/system-services/$BUS_NAME.service
# an unprivileged caller
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

# dbus_setup [HANDLER...]: skips unless the pieces are there, installs the
# build's bus policy (and hides tcmu-runner's, which lets anybody call
# anything) and an activation file that starts the build's tcmud through
# $CASE_DIR/tcmud-activated (logs in $CASE_DIR/tcmud.aN.log, pid in
# tcmud.pids: the clean-up stops it and checks its log for sanitizer
# reports), then starts a system bus.  Fails if a tcmud already runs.
dbus_setup() {
	local svc=$VM_BUILD/dbus/$BUS_NAME.service t dbg=
	need_tcmud "${@:-file}"
	grep -qa "$BUS_NAME" "$TCMUD" || skip "tcmud is built without its D-Bus service"
	[[ -x /usr/bin/targetcli && -x /usr/bin/python3 ]] || skip "targetcli is not installed (scripts/setup.sh)"
	for t in dbus-daemon gdbus setpriv targetctl; do
		command -v "$t" >/dev/null || skip "$t is not installed"
	done
	[[ -e $svc ]] || skip "no activation file $svc in the build"
	[[ -e /usr/lib/dbus-1.0/dbus-daemon-launch-helper ]] || skip "no dbus-daemon-launch-helper"
	! pgrep -x tcmud >/dev/null || fail "a tcmud runs before the case: $(pgrep -ax tcmud)"

	[[ ${TCMUD_DEBUG:-0} == 1 ]] && dbg=--debug
	mkdir -p /etc/dbus-1/system.d "${ACTIVATION%/*}"
	rm -f /etc/dbus-1/system.d/tcmu-runner.conf /usr/share/dbus-1/system.d/tcmu-runner.conf
	install -m 644 "$DBUS_SRC/dbus/$BUS_NAME.conf" /etc/dbus-1/system.d/
	cat >"$CASE_DIR/tcmud-activated" <<-EOF
		#!/bin/bash
		# started by dbus-daemon-launch-helper (Exec= of the activation file)
		n=1
		while [[ -e $CASE_DIR/tcmud.a\$n.log ]]; do n=\$((n + 1)); done
		echo \$\$ >>$CASE_DIR/tcmud.pids
		export ASAN_OPTIONS='$ASAN_OPTIONS' UBSAN_OPTIONS='$UBSAN_OPTIONS'
		exec $TCMUD --handler-path $TCMUD_HANDLERS --log-dir $CASE_DIR $dbg \
			</dev/null >$CASE_DIR/tcmud.a\$n.log 2>&1
	EOF
	# (the built file as installed, with Exec= pointing at the wrapper)
	grep -q '^Exec=' "$svc" || fail "$svc has no Exec="
	sed "s|^Exec=.*|Exec=/bin/bash $CASE_DIR/tcmud-activated|" "$svc" >"$ACTIVATION"
	system_bus
	# (a bus that was already running must read the new files)
	dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.ReloadConfig >/dev/null || fail "dbus-daemon ReloadConfig"
}

# tcmud_pid: the pid of the one running tcmud (fails if none or several).
tcmud_pid() {
	local p
	p=($(pgrep -x tcmud)) || fail "no tcmud runs"
	((${#p[@]} == 1)) || fail "several tcmud run: ${p[*]}"
	[[ $(readlink "/proc/${p[0]}/exe") -ef $TCMUD ]] ||
		fail "the running tcmud is $(readlink "/proc/${p[0]}/exe"), not $TCMUD"
	echo "${p[0]}"
}

# bus_owned: does somebody own $BUS_NAME?  (Asks the bus, so it activates nothing.)
bus_owned() {
	dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.NameHasOwner string:"$BUS_NAME" 2>/dev/null | grep -q 'boolean true'
}

# tcmud_term: SIGTERM the running tcmud, wait until it is gone and its
# name released.
tcmud_term() {
	local pid
	pid=$(tcmud_pid)
	kill -TERM "$pid"
	wait_gone 30 "$pid" || fail "tcmud (pid $pid) ignores SIGTERM"
	_not_owned() { ! bus_owned; }
	retry_until 10 _not_owned || fail "$BUS_NAME still owned after tcmud exited"
}

# tcli NAME [ARGS...]: runs targetcli (Debian's python: see tests/vm/README)
# once; with ARGS they are one command, else the commands come from stdin
# (one python start, ~5 s under TCG, for them all).  Output in
# $CASE_DIR/tcli.NAME.out, also left in TCLI_OUT.  Returns targetcli's
# status (in batch mode it is 0 even when a command failed: callers check
# the output).
tcli() {
	local name=$1 rc=0
	shift
	if (($#)); then
		/usr/bin/python3 /usr/bin/targetcli "$@" </dev/null >"$CASE_DIR/tcli.$name.out" 2>&1 || rc=$?
	else
		{ echo "set global auto_save_on_exit=false"; cat; } |
			/usr/bin/python3 /usr/bin/targetcli >"$CASE_DIR/tcli.$name.out" 2>&1 || rc=$?
	fi
	TCLI_OUT=$(<"$CASE_DIR/tcli.$name.out")
	return $rc
}

# tcli_ok NAME: tcli from stdin that must not report any error.
tcli_ok() {
	tcli "$@" || fail "targetcli ($1) exited with $?: $(tail -n 5 "$CASE_DIR/tcli.$1.out")"
	! grep -qiE 'error|failed|invalid|No such path|Traceback' <<<"$TCLI_OUT" ||
		fail "targetcli ($1): $(grep -iE -m3 'error|failed|invalid|No such path|Traceback' <<<"$TCLI_OUT")"
}

# dcall [--nobody] PATH IFACE.METHOD ARGS...: a gdbus call to tcmud (as
# nobody with --nobody); prints the reply, returns gdbus' status.
dcall() {
	local pre=()
	[[ $1 == --nobody ]] && { pre=("${NOBODY[@]}"); shift; }
	local path=$1 method=$2
	shift 2
	"${pre[@]}" gdbus call --system --dest "$BUS_NAME" --object-path "$path" \
		--method "$method" "$@" 2>&1
}

# config_desc SUBTYPE: the ConfigDesc property of user:SUBTYPE (a bare string).
config_desc() {
	local out
	out=$(dcall "$BUS_PATH/$1" org.freedesktop.DBus.Properties.Get "$BUS_NAME" ConfigDesc) ||
		fail "ConfigDesc of $1: $out"
	# (<'text'>,) -> text
	out=${out#"(<'"}
	echo "${out%"'>,)"}"
}

# lun_wait LUN: waits for the disk of LUN on $LOOP_WWN (created by
# targetcli), clears its unit attentions; prints /dev/sdX.
lun_wait() {
	local lun=$1 dev=
	_lun_found() { dev=$(loop_disk "$lun"); [[ -n $dev && -b $dev ]]; }
	retry_until 60 _lun_found || fail "no disk for LUN $lun after 60 s"
	loop_clear_ua
	echo "$dev"
}

# user_uio_count: number of TCMU (tcm-user) UIO devices.
user_uio_count() {
	local u n=0
	for u in /sys/class/uio/uio*; do
		[[ -e $u/name && $(<"$u/name") == tcm-user/* ]] && n=$((n + 1))
	done
	echo "$n"
}

# uio_of NAME: /dev/uioN of the user backstore NAME, whatever its HBA
# (targetcli picks it); fails if there is none.
uio_of() {
	local u
	for u in /sys/class/uio/uio*; do
		[[ -e $u/name && $(<"$u/name") == tcm-user/*/"$1"/* ]] && { echo "/dev/${u##*/}"; return 0; }
	done
	fail "no UIO device for $1"
}
