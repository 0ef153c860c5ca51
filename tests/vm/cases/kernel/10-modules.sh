# The guest has the target stack: target_core_user, tcm_loop, uio loaded,
# configfs mounted, the TCM-USER netlink family registered, and the real
# modprobe reaches the rest of the kernel's modules (iscsi_target_mod).
# timeout: 60
for m in configfs target_core_mod target_core_user uio tcm_loop target_core_file sd_mod sg; do
	[[ -d /sys/module/$m ]] || fail "module $m is not loaded"
done
[[ -d $CFS/core ]] || fail "configfs target tree missing under $CFS"
# (a fabric's directory appears on first mkdir: that is how targetcli does it)
mkdir -p "$CFS/loopback" && [[ -e $CFS/loopback/version ]] || fail "no tcm_loop fabric in configfs"
grep -q "^configfs $(dirname "$CFS") configfs" /proc/mounts || fail "configfs not mounted"
[[ -n $(tcm_user_group) ]] || fail "no TCM-USER netlink family with a config group"
modprobe iscsi_target_mod || fail "modprobe iscsi_target_mod"
[[ -d /sys/module/iscsi_target_mod ]] || fail "iscsi_target_mod did not load"
log "modules OK; TCM-USER config group $(tcm_user_group)"
