# D-Bus activation and discovery.  With no tcmud running, the first
# targetcli call starts it: dbus-daemon activates org.kernel.TCMUService1
# from the build's activation file.  "ls" lists every handler plugin as a
# user:<subtype> backstore, and "help create" prints each handler's
# ConfigDesc.  Then the installed bus policy, for an unprivileged caller:
# looking and CheckConfig work; RegisterHandler, UnregisterHandler and both
# ChangeMedium methods are denied (and root's RegisterHandler is not).
# timeout: 150
source "$(dirname "${BASH_SOURCE[0]}")/dbus.bash"
TCMUD_ALL_HANDLERS=1 dbus_setup file ram # (every built handler: ls must list them all)
! bus_owned || fail "somebody owns $BUS_NAME before the first client"

subtypes=()
for so in "$TCMUD_HANDLERS"/handler_*.so; do
	s=${so##*/handler_}
	subtypes+=("${s%.so}")
done
log "targetcli ls + help create for: ${subtypes[*]}"
tcli_ok ls < <(
	echo "ls /backstores"
	for s in "${subtypes[@]}"; do echo "/backstores/user:$s help create"; done
)
pid=$(tcmud_pid)
[[ -e $CASE_DIR/tcmud.a1.log ]] || fail "tcmud (pid $pid) was not started by the activation file"
bus_owned || fail "the activated tcmud does not own $BUS_NAME"
log "targetcli activated tcmud (pid $pid)"

# The i-th "CFGSTRING FORMAT" block of the help output is the i-th handler's.
mapfile -t helps < <(awk '/CFGSTRING FORMAT/ { getline; getline; print }' <<<"$TCLI_OUT")
((${#helps[@]} == ${#subtypes[@]})) ||
	fail "help create printed ${#helps[@]} CFGSTRING FORMAT sections for ${#subtypes[@]} handlers"
for i in "${!subtypes[@]}"; do
	s=${subtypes[i]}
	grep -qE "o- user:$s \.+ \[Storage Objects: 0\]" <<<"$TCLI_OUT" ||
		fail "targetcli ls does not list user:$s"
	desc=$(config_desc "$s")
	[[ -n $desc ]] || fail "user:$s has an empty ConfigDesc"
	[[ ${helps[i]} == "$desc" ]] ||
		fail "help create of user:$s says '${helps[i]}', ConfigDesc is '$desc'"
done
grep -qF 'Absolute path of the backing file' <<<"${helps[*]}" ||
	fail "the file handler's cfg_desc is not among the help texts"
# (a subtype nobody serves is not listed)
! grep -q 'user:oopmem' <<<"$TCLI_OUT" || fail "user:oopmem listed with no program serving it"

log "bus policy: an unprivileged caller"
out=$(dcall --nobody "$BUS_PATH" org.freedesktop.DBus.ObjectManager.GetManagedObjects) ||
	fail "nobody: GetManagedObjects: $out"
grep -q "'$BUS_PATH/file'" <<<"$out" || fail "nobody: GetManagedObjects lacks the file handler: $out"
out=$(dcall --nobody "$BUS_PATH/file" "$BUS_NAME.CheckConfig" "file/$CASE_DATA/x.img") ||
	fail "nobody: CheckConfig: $out"
[[ $out == "(true, 'success')" ]] || fail "nobody: CheckConfig of a good config: $out"
out=$(dcall --nobody "$BUS_PATH/file" "$BUS_NAME.CheckConfig" "file/relative.img") ||
	fail "nobody: CheckConfig: $out"
# (gdbus quotes a string holding ' with ")
[[ $out =~ ^\(false,\ [\"\']file:\ path\ must\ be\ absolute:\ \'relative.img\' ]] ||
	fail "nobody: CheckConfig of a bad config: $out"
out=$(dcall --nobody "$BUS_PATH/file" org.freedesktop.DBus.Properties.Get "$BUS_NAME" ConfigDesc) ||
	fail "nobody: Get ConfigDesc: $out"

denied() { # PATH METHOD ARGS...: nobody's call is refused by the bus policy
	local out
	out=$(dcall --nobody "$@") && fail "nobody: $2 not denied: $out"
	grep -q 'org.freedesktop.DBus.Error.AccessDenied' <<<"$out" || fail "nobody: $2 not denied: $out"
}
HM=$BUS_PATH/HandlerManager1
denied "$HM" "$BUS_NAME.HandlerManager1.RegisterHandler" evil x
denied "$HM" "$BUS_NAME.HandlerManager1.UnregisterHandler" file
denied "$HM" "$BUS_NAME.HandlerManager1.ChangeMedium" d1 1048576 file//x
denied "$BUS_PATH/file" "$BUS_NAME.ChangeMedium" d1 1048576 file//x
# (root may: the registration ends with gdbus' connection)
out=$(dcall "$HM" "$BUS_NAME.HandlerManager1.RegisterHandler" vmdemo "a demo") ||
	fail "root: RegisterHandler: $out"
[[ $out == "(true, "* ]] || fail "root: RegisterHandler refused: $out"
[[ $(tcmud_pid) == "$pid" ]] || fail "tcmud was restarted meanwhile"
