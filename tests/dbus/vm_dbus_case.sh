#!/bin/bash
# tests/dbus/vm_dbus_case.sh BUILD_DIR — the real-kernel check of tcmud's
# D-Bus side, to run as root INSIDE the tests/vm guest (target_core_user,
# tcm_loop, configfs loaded; root is the host's / under an overlay):
#
#   tests/vm/vm-run -t 900 'bash tests/dbus/vm_dbus_case.sh "$PWD/build-asan"'
#
# It installs the bus policy and an activation file that starts BUILD_DIR's
# tcmud, then checks: D-Bus activation by "targetcli ls", the handlers as
# user:<subtype> backstores, CheckConfig refusing a bad cfgstring, create +
# LUN + verified I/O, Device1 statistics, changemedium (size), the policy
# for an unprivileged caller, the out-of-process example handler serving
# I/O (also across a tcmud restart), delete, and a clean daemon exit.
# Exit status 0 = pass. Not
# registered with ctest here: tests/vm owns the guest harness.
set -u
B=${1:?usage: vm_dbus_case.sh BUILD_DIR}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
TC="/usr/bin/python3 /usr/bin/targetcli"
NB="setpriv --reuid=65534 --regid=65534 --clear-groups"
WWN=naa.5001405e2e000001
IMG=/var/tmp/tcmud-dbus
fails=0
step() { echo; echo "=== $*"; }
ok() { echo "PASS: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
dcall() { gdbus call --system --dest org.kernel.TCMUService1 "$@"; }
lunof() { lsscsi | awk -v l=":$1\\]" '$1 ~ l && /TCMU/ {print $NF}'; }

SRC=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p /run/dbus /etc/dbus-1/system.d /usr/share/dbus-1/system-services "$IMG"
cp "$SRC/dbus/org.kernel.TCMUService1.conf" /etc/dbus-1/system.d/
# tcmu-runner's package files claim the same name; its policy lets anybody
# call anything, its activation file starts tcmu-runner: hide both.
rm -f /etc/dbus-1/system.d/tcmu-runner.conf
sed "s|^Exec=.*|Exec=$B/tcmud -d -H $B/handlers|" "$B/dbus/org.kernel.TCMUService1.service" \
	>/usr/share/dbus-1/system-services/org.kernel.TCMUService1.service
dbus-daemon --system --fork --nopidfile

step "D-Bus activation"
check "no tcmud before the first client" sh -c '! pgrep -x tcmud >/dev/null'
out=$($TC ls /backstores 2>&1)
echo "$out"
check "tcmud activated by targetcli" pgrep -x tcmud
for h in file qcow ram tutorial; do
	check "user:$h listed" grep -q "user:$h " <<<"$out"
done

step "policy for an unprivileged caller"
check "nobody: GetManagedObjects" $NB gdbus call --system --dest org.kernel.TCMUService1 \
	--object-path /org/kernel/TCMUService1 --method org.freedesktop.DBus.ObjectManager.GetManagedObjects
check "nobody: CheckConfig" $NB gdbus call --system --dest org.kernel.TCMUService1 \
	--object-path /org/kernel/TCMUService1/file --method org.kernel.TCMUService1.CheckConfig \
	"file/$IMG/x.img"
check "nobody: RegisterHandler denied" sh -c "$NB gdbus call --system --dest org.kernel.TCMUService1 \
	--object-path /org/kernel/TCMUService1/HandlerManager1 \
	--method org.kernel.TCMUService1.HandlerManager1.RegisterHandler evil x 2>&1 | grep -q AccessDenied"
check "nobody: ChangeMedium denied" sh -c "$NB gdbus call --system --dest org.kernel.TCMUService1 \
	--object-path /org/kernel/TCMUService1/file --method org.kernel.TCMUService1.ChangeMedium \
	f1 1048576 file//x 2>&1 | grep -q AccessDenied"

step "create, CheckConfig refusal, LUN, I/O"
out=$($TC /backstores/user:file create name=bad size=1M cfgstring=/nonexistent/dir/x.img 2>&1)
echo "$out"
check "bad cfgstring refused by CheckConfig" grep -q "cfgstring invalid" <<<"$out"
$TC <<EOF
/backstores/user:file create name=f1 size=64M cfgstring=$IMG/f1.img
/loopback create wwn=$WWN
/loopback/$WWN/luns create /backstores/user:file/f1
EOF
sleep 1
dev=$(lunof 0)
check "LUN 0 appeared ($dev)" test -b "$dev"
sg_turs "$dev" >/dev/null 2>&1; sg_turs "$dev" >/dev/null 2>&1
dd if=/dev/urandom of="$IMG/pat" bs=1M count=4 status=none
dd if="$IMG/pat" of="$dev" bs=1M oflag=direct status=none
dd if="$dev" of="$IMG/back" bs=1M count=4 iflag=direct status=none
check "data written and read back" cmp "$IMG/pat" "$IMG/back"

step "Device1 properties"
props=$(dcall --object-path /org/kernel/TCMUService1/Devices/f1 \
	--method org.freedesktop.DBus.Properties.GetAll org.kernel.TCMUService1.Device1)
echo "$props"
check "Handler is file" grep -q "'Handler': <'file'>" <<<"$props"
check "BytesWritten counts the 4 MiB" grep -q "'BytesWritten': <uint64 4194304>" <<<"$props"
check "nobody may read it" $NB gdbus call --system --dest org.kernel.TCMUService1 \
	--object-path /org/kernel/TCMUService1/Devices/f1 \
	--method org.freedesktop.DBus.Properties.Get org.kernel.TCMUService1.Device1 CommandsCompleted

step "changemedium"
check "changemedium to 128M" $TC /backstores/user:file changemedium name=f1 size=128M cfgstring=$IMG/f1.img
sg_turs "$dev" >/dev/null 2>&1; sg_turs "$dev" >/dev/null 2>&1
check "initiator sees 128 MiB" sh -c "sg_readcap $dev | grep -q 'Device size: 134217728'"

step "out-of-process handler"
"$B/examples/oop_handler/tcmud-oop-example" >"$IMG/oop.log" 2>&1 &
oop=$!
sleep 2
check "user:oopmem listed" sh -c "$TC ls /backstores | grep -q 'user:oopmem '"
out=$($TC /backstores/user:oopmem create name=m1 size=32M cfgstring=fill=300 2>&1)
check "forwarded CheckConfig refuses fill=300" grep -q "cfgstring invalid" <<<"$out"
$TC <<EOF
/backstores/user:oopmem create name=m1 size=32M cfgstring=fill=0x5a
/loopback/$WWN/luns create /backstores/user:oopmem/m1
EOF
sleep 1
dev2=$(lunof 1)
check "LUN 1 appeared ($dev2)" test -b "$dev2"
sg_turs "$dev2" >/dev/null 2>&1; sg_turs "$dev2" >/dev/null 2>&1
check "reads the fill byte" sh -c "dd if=$dev2 bs=512 count=1 iflag=direct status=none | od -An -tx1 | head -1 | grep -q '5a 5a 5a'"
echo hello | dd of="$dev2" bs=512 conv=sync oflag=direct status=none
check "reads back what was written" sh -c "dd if=$dev2 bs=512 count=1 iflag=direct status=none | head -c 5 | grep -q hello"

step "tcmud restarts under the out-of-process handler"
kill -TERM "$(pgrep -x tcmud)"
for _ in $(seq 20); do pgrep -x tcmud >/dev/null || break; sleep 0.5; done
$TC ls /backstores >/dev/null 2>&1 # activates tcmud again
check "tcmud activated again" pgrep -x tcmud
sleep 2
check "its devices still serve I/O" sh -c "dd if=$dev2 bs=512 count=1 iflag=direct status=none | head -c 5 | grep -q hello"
check "user:oopmem registered again" sh -c "$TC ls /backstores | grep -q 'user:oopmem '"

step "delete"
$TC clearconfig confirm=True
check "tcmud survives clearconfig" pgrep -x tcmud
kill -TERM "$oop"; wait "$oop"
check "example exited cleanly" test $? -eq 0
cat "$IMG/oop.log"
sleep 1
check "user:oopmem gone with its process" sh -c "! $TC ls /backstores | grep -q oopmem"
kill -TERM "$(pgrep -x tcmud)"
for _ in $(seq 20); do pgrep -x tcmud >/dev/null || break; sleep 0.5; done
check "tcmud exits on SIGTERM" sh -c '! pgrep -x tcmud >/dev/null'

echo
if [ "$fails" -eq 0 ]; then echo "vm_dbus_case: PASS"; else echo "vm_dbus_case: $fails FAILED"; fi
exit $((fails > 0))
