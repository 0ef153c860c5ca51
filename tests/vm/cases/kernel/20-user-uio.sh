# A user backstore created through configfs (no daemon listening) gets a
# /dev/uioN whose UIO name is tcm-user/<hba>/<dev>/<config> and whose map is
# the command ring plus the data area (cmd_ring_size_mb + max_data_area_mb
# MiB); removing it removes the UIO device.
# timeout: 60
USER_HBA=7
MiB=$((1024 * 1024))

check_uio() { # DEV CONFIG MAPSIZE
	local dev=$1 cfg=$2 want=$3 uio sys name size ver
	uio=$(user_dev_uio "$dev")
	[[ -c $uio ]] || fail "$uio is not a character device"
	sys=/sys/class/uio/${uio#/dev/}
	name=$(<"$sys/name") size=$(($(<"$sys/maps/map0/size"))) ver=$(<"$sys/version")
	[[ $name == "tcm-user/7/$dev/$cfg" ]] || fail "$uio: name '$name', want 'tcm-user/7/$dev/$cfg'"
	((size == want)) || fail "$uio: map size $size, want $want"
	[[ $ver == 2* ]] || fail "$uio: UIO version '$ver', want 2.x"
	log "$uio: $name, map $((size / MiB)) MiB, version $ver"
}

user_dev_add dflt "file/$CASE_DATA/dflt.img" 16M
check_uio dflt "file/$CASE_DATA/dflt.img" $(((8 + 1024) * MiB))
[[ $(user_dev_attr dflt hw_block_size) == 512 ]] || fail "default hw_block_size is not 512"
[[ $(user_dev_attr dflt dev_size) == $((16 * MiB)) ]] || fail "dev_size not 16 MiB"

user_dev_add small "file/$CASE_DATA/small.img" 4M max_data_area_mb=4 cmd_ring_size_mb=1 \
	hw_block_size=4096 hw_max_sectors=256
check_uio small "file/$CASE_DATA/small.img" $(((1 + 4) * MiB))
[[ $(user_dev_attr small hw_block_size) == 4096 ]] || fail "hw_block_size=4096 not applied"
[[ $(user_dev_attr small hw_max_sectors) == 256 ]] || fail "hw_max_sectors=256 not applied"

user_dev_del dflt
user_dev_del small
for u in /sys/class/uio/uio*; do
	[[ -e $u ]] && fail "UIO device ${u##*/} still there after removing the backstores"
done
log "both devices removed"
