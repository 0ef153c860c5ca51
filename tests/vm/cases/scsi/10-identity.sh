# sg3_utils' questions about a tcmud user:file LUN, side by side with LIO's
# fileio backstore: standard INQUIRY, every VPD page (sg_inq -p and
# sg_vpd), READ CAPACITY (10)(16), MODE SENSE (every page, current /
# changeable / default), MODE SELECT (D_SENSE, then descriptor sense in
# REQUEST SENSE; a refused WCE change), REPORT SUPPORTED OPERATION CODES,
# REPORT TARGET PORT GROUPS and REQUEST SENSE.  Checks the concrete values
# tcmud must give; every difference from fileio must be explained in
# fileio-differences.txt.
# timeout: 150
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
scsi_setup

# wwn LUN ATTR: configfs wwn/ATTR of the LUN's backstore, trimmed.
wwn() {
	local bs=BS_$1 v
	v=$(<"$CFS/core/${!bs}/wwn/$2")
	v=${v##*: } # "T10 VPD Unit Serial Number: <serial>"
	echo "${v%"${v##*[! ]}"}"
}

# naa_of SERIAL: the NAA 6 designator LIO derives from a unit serial:
# 6, company id 001405, then the first 25 hex digits of the serial.
naa_of() {
	local hex=${1//[^0-9a-fA-F]/}
	hex=6001405${hex:0:25}
	while ((${#hex} < 32)); do hex+=0; done
	echo "0x${hex,,}"
}

probe() { # LUN DISK
	local l=$1 d=$2 v p pages page
	# ---- standard INQUIRY
	sgrun "$l" inq sg_inq "$d"
	kv "$l" inq "$(outcome)"
	for v in PQual PDT RMB version NormACA HiSUP Resp_data_format SCCS ACC TPGS 3PC \
		Protect EncServ MultiP Addr16 WBus16 Sync CmdQue; do
		kv "$l" "inq.$v" "$(grep -oE "(^| )$v=[^ ]+" "$OUT" | head -n1 | cut -d= -f2)"
	done
	kv "$l" inq.length "$(field "$OUT" '.*length=\([0-9]*\) .*')"
	kv "$l" inq.vendor "$(field "$OUT" '^ Vendor identification: \(.*\)$')"
	kv "$l" inq.product "$(field "$OUT" '^ Product identification: \(.*\)$')"
	kv "$l" inq.revision "$(field "$OUT" '^ Product revision level: \(.*\)$')"
	v=$(field "$OUT" '^ Vendor identification: \(.*\)$')
	[[ ${v%"${v##*[! ]}"} == "$(wwn "$l" vendor_id)" ]] && v="= wwn/vendor_id" || v="not wwn/vendor_id"
	kv "$l" inq.vendor_source "$v"
	v=$(field "$OUT" '^ Product identification: \(.*\)$')
	[[ ${v%"${v##*[! ]}"} == "$(wwn "$l" product_id)" ]] && v="= wwn/product_id" || v="not wwn/product_id"
	kv "$l" inq.product_source "$v"
	sgrun "$l" inq-d sg_inq -d "$d"
	kv "$l" inq.version_descriptors "$(sed -n '/Version descriptors:/,$ s/^ \{2,\}\([A-Za-z].*\)$/\1/p' "$OUT" | tr '\n' ',' | sed 's/,$//')"

	# ---- VPD pages: the list, then each of them twice
	sgrun "$l" vpd-00 sg_inq -p 0 "$d"
	pages=$(grep -oE '^ +0x[0-9a-f]+' "$OUT" | tr -d ' ' | tr '\n' ' ')
	kv "$l" vpd.pages "${pages% }"
	for page in $pages; do
		sgrun "$l" "inq-$page" sg_inq -p "$page" "$d"
		kv "$l" "vpd.$page.sg_inq" "$(outcome)"
		sgrun "$l" "vpd-$page" sg_vpd -p "$page" "$d"
		kv "$l" "vpd.$page.sg_vpd" "$(outcome)"
	done
	# pages nobody has: ATA information, and one that LIO knows but tcmud does not
	for page in 0x89 0xb3; do
		sgrun "$l" "vpd-$page" sg_vpd -v -p "$page" "$d"
		kv "$l" "vpd.$page.sg_vpd" "$(outcome)"
	done

	# 80h unit serial number
	sgrun "$l" vpd-sn sg_vpd -p sn "$d"
	v=$(field "$OUT" '^ *Unit serial number: \(.*\)$')
	kv "$l" vpd.sn.serial "$v"
	[[ -n $v && $v == "$(wwn "$l" vpd_unit_serial)" ]] && v="= wwn/vpd_unit_serial" || v="not wwn/vpd_unit_serial"
	kv "$l" vpd.sn.source "$v"
	# 83h device identification: the designators as association:type
	sgrun "$l" vpd-di sg_vpd -p di "$d"
	kv "$l" vpd.di.designators "$(awk '
		/^  Addressed logical unit:/ { a = "lu" } /^  Target port:/ { a = "port" }
		/^  Target device that contains/ { a = "target" }
		/designator type:/ { t = $0; sub(/.*designator type: */, "", t); sub(/, *code set.*/, "", t)
			printf "%s%s:%s", n++ ? ", " : "", a, t }' "$OUT")"
	kv "$l" vpd.di.naa "$(grep -oE '0x6[0-9a-f]{31}' "$OUT" | head -n1)"
	[[ $(kv_get "$l" vpd.di.naa) == "$(naa_of "$(wwn "$l" vpd_unit_serial)")" ]] &&
		v="= NAA 6, 001405, serial digits" || v="not derived from the serial"
	kv "$l" vpd.di.naa_source "$v"
	v=$(field "$OUT" '^ *vendor specific: \(.*\)$')
	kv "$l" vpd.di.t10_vendor_specific "$v"
	[[ $v == "$(wwn "$l" product_id):$(wwn "$l" vpd_unit_serial)" ]] && v="= product:serial" || v="not product:serial"
	kv "$l" vpd.di.t10_source "$v"
	kv "$l" vpd.di.relative_port "$(field "$OUT" '^ *Relative target port: \(.*\)$')"
	kv "$l" vpd.di.port_group "$(field "$OUT" '^ *Target port group: \(.*\)$')"
	kv "$l" vpd.di.scsi_names "$(grep -A1 'SCSI name string:' "$OUT" | grep -v -e 'SCSI name string:' -e '^--' |
		sed 's/^ *//' | tr '\n' ' ' | sed 's/ $//')"
	# 86h extended INQUIRY data
	sgrun "$l" vpd-ei sg_vpd -p ei "$d"
	for v in SPT GRD_CHK APP_CHK REF_CHK UASK_SUP GROUP_SUP PRIOR_SUP HEADSUP ORDSUP SIMPSUP \
		WU_SUP NV_SUP V_SUP LUICLR; do
		kv "$l" "vpd.ei.$v" "$(grep -oE "(^| )$v=[^ ]+" "$OUT" | head -n1 | cut -d= -f2)"
	done
	# B0h block limits: every field
	sgrun "$l" vpd-bl sg_vpd -p bl "$d"
	while IFS= read -r v; do
		[[ $v =~ ^\ +([A-Za-z][A-Za-z ()-]*):\ *(.*)$ ]] || continue
		p=${BASH_REMATCH[1]// /_}
		p=${p//[()]/}
		kv "$l" "vpd.bl.${p,,}" "${BASH_REMATCH[2]}"
	done < <(tail -n +3 "$OUT")
	# B1h block device characteristics
	sgrun "$l" vpd-bdc sg_vpd -p bdc "$d"
	kv "$l" vpd.bdc.rotation "$(sed -n '3p' "$OUT" | sed 's/^ *//')"
	for v in WABEREQ WACEREQ ZONED FUAB VBULS; do
		kv "$l" "vpd.bdc.$v" "$(grep -oE "(^| )$v=[^ ]+" "$OUT" | head -n1 | cut -d= -f2)"
	done
	# B2h logical block provisioning
	sgrun "$l" vpd-lbpv sg_vpd -p lbpv "$d"
	for v in LBPU LBPWS LBPWS10 LBPRZ ANC_SUP DP; do
		kv "$l" "vpd.lbpv.$v" "$(field "$OUT" ".*($v): *\([0-9]*\).*")"
	done
	kv "$l" vpd.lbpv.provisioning_type "$(field "$OUT" '.*Provisioning type: *\(.*\)$')"

	# ---- READ CAPACITY
	sgrun "$l" readcap10 sg_readcap "$d"
	kv "$l" readcap10 "$(outcome) last=$(field "$OUT" '.*Last LBA=\([0-9]*\).*') bs=$(field "$OUT" '.*block length=\([0-9]*\).*')"
	sgrun "$l" readcap16 sg_readcap -l "$d"
	kv "$l" readcap16 "$(outcome) last=$(field "$OUT" '.*Last LBA=\([0-9]*\).*') bs=$(field "$OUT" '.*block length=\([0-9]*\).*')"
	kv "$l" readcap16.lbpme_lbprz "$(field "$OUT" '.*lbpme=\([01]\), lbprz=\([01]\).*' | head -n1)$(field "$OUT" '.*lbprz=\([01]\).*')"
	kv "$l" readcap16.protection "$(field "$OUT" '.*Protection: *\(.*\)$')"
	kv "$l" readcap16.exponents "$(field "$OUT" '.*per physical block exponent=\([0-9]*\).*'),$(field "$OUT" '.*Lowest aligned LBA=\([0-9]*\).*')"

	# ---- MODE SENSE: header, block descriptor and each page, per page control
	for p in 0 1 2; do
		sgrun "$l" "modes-pc$p" sg_modes -a -c "$p" "$d"
		kv "$l" "modes.pc$p" "$(outcome)"
		kv "$l" "modes.pc$p.header" "$(field "$OUT" '.*\(WP=.*\)$')"
		kv "$l" "modes.pc$p.block_descriptor" "$(grep -A2 'block descriptors:' "$OUT" | sed -n 's/^ 00 *//p')"
		while IFS= read -r v; do
			[[ $v =~ ^\>\>\ (.*),\ page_control ]] || continue
			page=${BASH_REMATCH[1]%% *}
			kv "$l" "modes.pc$p.${page,,}" "$(awk -v s="$v" '$0 == s { on = 1; next }
				on && /^ [0-9a-f]{2} / { sub(/^ [0-9a-f]{2} +/, ""); printf "%s ", $0; next } on { exit }' "$OUT" |
				tr -s ' ' | sed 's/ $//')"
		done <"$OUT"
	done
	sgrun "$l" modes6 sg_modes -6 -p 8 "$d"
	kv "$l" modes6.block_descriptor "$(outcome) $(grep -A2 'block descriptors:' "$OUT" | sed -n 's/^ 00 *//p')"
	sgrun "$l" modes-llbaa sg_modes -L -p 8 "$d"
	kv "$l" modes.llbaa "$(outcome) $(field "$OUT" '.*\(longlba=[01]\).*') $(grep -A2 'block descriptors:' "$OUT" | sed -n 's/^ 00 *//p' | tr -s ' ')"

	# ---- MODE SELECT: D_SENSE on, a failing command then answers in
	# descriptor format; off again.  WCE cannot be changed.
	sgrun "$l" wr-dsense sg_wr_mode -v -p 0x0a -c 0a,0a,06,10,00,40,00,00,ff,ff,00,1e -m 0,0,4 "$d"
	kv "$l" modeselect.d_sense_on "$(outcome)"
	sgrun "$l" ctl-after sg_modes -p 0x0a "$d"
	kv "$l" modeselect.control_after "$(sed -n '/>> Control/{n;s/^ 00 *//p}' "$OUT" | tr -s ' ')"
	sgrun "$l" readcap-bad sg_readcap -v -l -L 0x7fffffff "$d"
	kv "$l" d_sense.bad_cdb_sense "$(outcome) ($(grep -oE '(Fixed|Descriptor) format' "$OUT" | head -n1))"
	sgrun "$l" wr-dsense0 sg_wr_mode -p 0x0a -c 0a,0a,02,10,00,40,00,00,ff,ff,00,1e -m 0,0,4 "$d"
	kv "$l" modeselect.d_sense_off "$(outcome)"
	sgrun "$l" wr-wce sg_wr_mode -v -f -p 8 -c 08,12,00,00,00,00,00,00,00,00,00,00,20,00,00,00,00,00,00,00 "$d"
	kv "$l" modeselect.wce_off "$(outcome)"
	kv "$l" modeselect.wce_off.pointer "$(field "$OUT" '.*Sense Key Specific: \(.*\)$')"

	# ---- REPORT SUPPORTED OPERATION CODES: all, and one at a time
	sgrun "$l" opcodes sg_opcodes -n "$d"
	kv "$l" rsoc.all "$(outcome)"
	kv "$l" rsoc.list "$(awk '/^ [0-9a-f]{2} / { printf "%s%s", n++ ? " " : "", $1 ($2 ~ /^[0-9a-f]+$/ && $3 ~ /^[0-9]+$/ ? "/" $2 : "") }' "$OUT")"
	for v in 0x93 0x41 0x42 0x89 0x9e,0x12; do
		sgrun "$l" "opcode-$v" sg_opcodes -n -o "$v" "$d"
		kv "$l" "rsoc.one.$v" "$(outcome) $(grep -oE 'Usage data: .*|Cdb usage.*' "$OUT" | head -n1)$(sed -n '/Usage data/{n;p}' "$OUT" | tr -s ' ')"
	done

	# ---- REPORT TARGET PORT GROUPS
	sgrun "$l" rtpg sg_rtpg -d "$d"
	kv "$l" rtpg "$(outcome) $(grep -oE 'target port group id : 0x[0-9a-f]+' "$OUT" | tr -s ' ' | tr '\n' ' ')"
	kv "$l" rtpg.state "$(field "$OUT" '.*asymmetric access state : \(.*\)$')"
	kv "$l" rtpg.supported "$(grep -m1 'T_SUP' "$OUT" | sed 's/^ *//')"
	kv "$l" rtpg.port_count "$(field "$OUT" '.*target port count : \(.*\)$')"
	kv "$l" rtpg.ports "$(sed -n '/Relative target port ids:/{n;s/^ *//p}' "$OUT")"
	sgrun "$l" rtpg-e sg_rtpg -e -d "$d"
	kv "$l" rtpg.extended "$(outcome) $(field "$OUT" '.*\(Implicit transition time: .*\)$')"

	# ---- REQUEST SENSE: nothing pending, fixed and descriptor format
	sgrun "$l" requests sg_requests "$d"
	kv "$l" request_sense.fixed "$(outcome) $(grep -oE '(Fixed|Descriptor) format.*' "$OUT" | head -n1) $(field "$OUT" '.*Sense key: \(.*\)$')"
	sgrun "$l" requests-d sg_requests -d "$d"
	kv "$l" request_sense.descriptor "$(outcome) $(grep -oE '(Fixed|Descriptor) format.*' "$OUT" | head -n1) $(field "$OUT" '.*Sense key: \(.*\)$')"
}

probe T "$DISK_T"
probe K "$DISK_K"

# ---- what tcmud must answer (user:file, 64 MiB, 512-byte blocks,
# hw_max_sectors 128, write cache on, default ALUA group only)
maxsec=$(user_dev_attr f1 hw_max_sectors)
((maxsec == 128)) || fail "hw_max_sectors of f1 is $maxsec, want the default 128"
expect T inq ok
expect T inq.PDT 0
expect T inq.version 0x06
expect T inq.Resp_data_format 2
expect T inq.TPGS 3 # default_tg_pt_gp: implicit and explicit ALUA
expect T inq.3PC 1
expect T inq.CmdQue 1
expect T inq.length "96"
expect T inq.vendor_source "= wwn/vendor_id"
expect T inq.product_source "= wwn/product_id"
expect T vpd.pages "0x0 0x80 0x83 0x86 0xb0 0xb1 0xb2"
for p in 0x0 0x80 0x83 0x86 0xb0 0xb1 0xb2; do
	expect T "vpd.$p.sg_inq" ok
	expect T "vpd.$p.sg_vpd" ok
done
expect T vpd.0x89.sg_vpd "illegal request: Invalid field in cdb"
expect T vpd.0xb3.sg_vpd "illegal request: Invalid field in cdb"
expect T vpd.sn.serial "$SERIAL_T"
expect T vpd.sn.source "= wwn/vpd_unit_serial"
expect T vpd.di.naa "$(naa_of "$SERIAL_T")"
expect T vpd.di.t10_source "= product:serial"
expect T vpd.di.relative_port 0x1
expect T vpd.di.port_group 0x0
expect T vpd.ei.HEADSUP 1
expect T vpd.ei.ORDSUP 1
expect T vpd.ei.SIMPSUP 1
expect T vpd.ei.V_SUP 1 # write cache on
expect T vpd.bl.write_same_non-zero_wsnz 1
expect T vpd.bl.maximum_compare_and_write_length "$((maxsec / 2)) blocks"
expect T vpd.bl.maximum_transfer_length "$maxsec blocks"
expect T vpd.bl.optimal_transfer_length "$maxsec blocks"
expect T vpd.bl.optimal_transfer_length_granularity "8 blocks"
expect T vpd.bl.maximum_unmap_lba_count "-1 [unbounded]"
expect T vpd.bl.maximum_unmap_block_descriptor_count 256
expect T vpd.bl.optimal_unmap_granularity "8 blocks"
expect T vpd.bl.maximum_write_same_length "0x400000 blocks"
expect_match T vpd.bdc.rotation "^Non-rotating medium"
expect T vpd.lbpv.LBPU 1
expect T vpd.lbpv.LBPWS 1
expect T vpd.lbpv.LBPWS10 1
expect T vpd.lbpv.LBPRZ 1
expect T vpd.lbpv.ANC_SUP 0
expect_match T vpd.lbpv.provisioning_type "^2 \(thin"
expect T readcap10 "ok last=131071 bs=512"
expect T readcap16 "ok last=131071 bs=512"
expect T readcap16.lbpme_lbprz 11
expect T readcap16.exponents 0,0
expect T modes.pc0 ok
expect T modes.pc0.header "WP=0, DpoFua=1, longlba=0"
expect T modes.pc0.block_descriptor "00 02 00 00 00 00 02 00" # 131072 blocks of 512
expect T modes.pc0.caching "08 12 04 00 00 00 00 00 00 00 00 00 20 00 00 00 00 00 00 00"
expect T modes.pc0.control "0a 0a 02 10 00 40 00 00 ff ff 00 1e"
expect T modes.pc1.control "0a 0a 04 00 00 00 00 00 00 00 00 00" # D_SENSE changeable
expect T modes.pc1.caching "08 12 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
expect T modeselect.d_sense_on ok
expect T modeselect.control_after "0a 0a 06 10 00 40 00 00 ff ff 00 1e"
expect T d_sense.bad_cdb_sense "illegal request: Invalid field in cdb (Descriptor format)"
expect T modeselect.d_sense_off ok
expect T modeselect.wce_off "illegal request: Invalid field in parameter list"
expect T modeselect.wce_off.pointer "Error in Data parameters: byte 18 bit 2"
expect T rsoc.all ok
expect_match T rsoc.list "^00 03 04 08 0a 12 15 1a 1b 1e 25 28 2a 2e 2f 35 41 42 55 5a 83/0 84/0 84/3 88 89 8a 8e 8f 91 93 9e/10 9e/12 a3/a a3/c a4/a a8 aa ae$"
expect_match T rsoc.one.0x93 "^ok "
expect T rtpg.state "0x00 (active/optimized)"
expect T rtpg.port_count 00
expect T request_sense.fixed "ok Fixed format, current; Sense key: No Sense No Sense"
expect_match T request_sense.descriptor "^ok Descriptor format"
expect_done

side_by_side T K
