#!/bin/sh
# tests/dbus/test_systemd_unit.sh UNIT TCMUD — systemd-analyze verify must
# accept the generated tcmud.service without a single message. ExecStart
# is pointed at the built tcmud (verify checks that it is executable);
# tcmu-runner.service, which claims the same bus name, is masked so that a
# host with it installed does not make verify complain. Exit 77: SKIP.
set -eu
unit=$1
tcmud=$2
command -v systemd-analyze >/dev/null 2>&1 || { echo "SKIP: no systemd-analyze"; exit 77; }
[ -f "$unit" ] || { echo "FAIL: $unit missing"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|^ExecStart=.*/tcmud\(.*\)$|ExecStart=$tcmud\1|" "$unit" >"$dir/tcmud.service"
ln -s /dev/null "$dir/tcmu-runner.service"
grep -q "^ExecStart=$tcmud" "$dir/tcmud.service" || { echo "FAIL: no ExecStart=.../tcmud"; exit 1; }
for key in "Type=dbus" "BusName=org.kernel.TCMUService1" "Restart=on-failure" "LimitNOFILE="; do
	grep -q "^$key" "$dir/tcmud.service" || { echo "FAIL: $key missing"; exit 1; }
done
syspath=
for d in /etc/systemd/system /run/systemd/system /lib/systemd/system /usr/lib/systemd/system; do
	[ -d "$d" ] && syspath="$syspath:$d"
done
out=$(SYSTEMD_UNIT_PATH="$dir$syspath" systemd-analyze verify "$dir/tcmud.service" 2>&1) || {
	echo "FAIL: systemd-analyze verify failed:"; echo "$out"; exit 1; }
if [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify is not clean:"; echo "$out"; exit 1
fi
echo "PASS: systemd-analyze verify is clean"
