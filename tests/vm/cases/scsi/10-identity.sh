# sg3_utils' questions about a tcmud user:file LUN, side by side with LIO's
# fileio backstore: standard INQUIRY, every VPD page (sg_inq -p and
# sg_vpd), READ CAPACITY (10)(16), MODE SENSE (every page; current,
# changeable, default; 6 and 10 bytes, long LBA), MODE SELECT (D_SENSE on,
# then sense in descriptor format, and off; a refused WCE change), REPORT
# SUPPORTED OPERATION CODES, REPORT TARGET PORT GROUPS and REQUEST SENSE.
# Checks the values tcmud must give; every difference from fileio must be
# explained in fileio-differences.txt.
# timeout: 150
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
scsi_setup

# naa_of SERIAL: N is the NAA 6 designator LIO derives from a unit serial:
# 6, company id 001405, then the first 25 hex digits of the serial.
naa_of() {
	local hex=${1//[^0-9a-fA-F]/}
	hex=6001405${hex:0:25}
	while ((${#hex} < 32)); do hex+=0; done
	N=0x${hex,,}
}

# hexlines: H is the hex bytes of the " 00     0a 0a ..." lines of L that
# follow the line equal to $1, on one line.
hexlines() {
	local line on=0 words
	H=
	for line in "${L[@]}"; do
		if ((on)) && [[ $line =~ ^\ [0-9a-f]{2}\ +(.*)$ ]]; then
			H+=" ${BASH_REMATCH[1]}"
		elif ((on)); then
			break
		elif [[ $line == "$1" ]]; then
			on=1
		fi
	done
	read -ra words <<<"$H"
	H=${words[*]}
}

probe() { # LUN DISK
	local l=$1 d=$2 v p page pages line key a t re_sa re_op
	# ---- identity in configfs (what both should report)
	for a in vendor_id product_id revision vpd_unit_serial; do
		cfg "$l" "wwn/$a"
		kv "$l" "configfs.wwn.$a" "$V"
	done

	# ---- standard INQUIRY
	sgrun "$l" inq sg_inq -d "$d"
	kvo "$l" inq
	kvtok "$l" inq PQual PDT RMB version NormACA HiSUP Resp_data_format SCCS ACC TPGS 3PC \
		Protect EncServ MultiP Addr16 WBus16 Sync CmdQue
	kvg "$l" inq.length 'length=([0-9]+) '
	kvg "$l" inq.vendor '^ Vendor identification: (.*[^ ]) *$'
	kvg "$l" inq.product '^ Product identification: (.*[^ ]) *$'
	kvg "$l" inq.revision '^ Product revision level: (.*[^ ]) *$'
	# (as configured, else tcmu-runner's defaults: user backstores leave
	# wwn/product_id and wwn/revision empty)
	for a in vendor:vendor_id:LIO-ORG "product:product_id:TCMU device" revision:revision:0002; do
		IFS=: read -r t key v <<<"$a"
		if [[ ${KV[$l.inq.$t]} == "${KV[$l.configfs.wwn.$key]}" ]]; then
			v="= wwn/$key"
		elif [[ -z ${KV[$l.configfs.wwn.$key]} && ${KV[$l.inq.$t]} == "$v" ]]; then
			v="default (wwn/$key empty)"
		else
			v="neither wwn/$key nor the default"
		fi
		kv "$l" "inq.$t.source" "$v"
	done
	v= a=0
	for line in "${L[@]}"; do
		[[ $line == *"Version descriptors:"* ]] && { a=1; continue; }
		((a)) && [[ $line =~ ^\ +([A-Za-z].*)$ ]] && v+="${v:+, }${BASH_REMATCH[1]}"
	done
	kv "$l" inq.version_descriptors "$v"

	# ---- VPD pages: the list, then each page listed with sg_inq and sg_vpd
	sgrun "$l" vpd-00 sg_inq -p 0 "$d"
	pages=
	for line in "${L[@]}"; do
		[[ $line =~ ^\ +(0x[0-9a-f]+)[[:space:]] ]] && pages+="${pages:+ }${BASH_REMATCH[1]}"
	done
	kv "$l" vpd.pages "$pages"
	for page in $pages; do
		sgrun "$l" "inq-$page" sg_inq -p "$page" "$d"
		kvo "$l" "vpd.$page.sg_inq"
		sgrun "$l" "vpd-$page" sg_vpd -p "$page" "$d"
		kvo "$l" "vpd.$page.sg_vpd"
	done
	# pages it does not list: ATA information, referrals
	for page in 0x89 0xb3; do
		sgrun "$l" "inq-$page" sg_inq -v -f -p "$page" "$d"
		kvo "$l" "vpd.$page.sg_inq"
	done

	# 80h unit serial number
	sgrun "$l" vpd-sn sg_vpd -p sn "$d"
	kvg "$l" vpd.sn.serial '^ *Unit serial number: (.*)$'
	[[ -n ${KV[$l.vpd.sn.serial]} && ${KV[$l.vpd.sn.serial]} == "${KV[$l.configfs.wwn.vpd_unit_serial]}" ]] &&
		v="= wwn/vpd_unit_serial" || v="not wwn/vpd_unit_serial"
	kv "$l" vpd.sn.source "$v"

	# 83h device identification: the designators as association:type
	sgrun "$l" vpd-di sg_vpd -p di "$d"
	v= a=
	for line in "${L[@]}"; do
		case $line in
		"  Addressed logical unit:"*) a=lu ;;
		"  Target port:"*) a=port ;;
		"  Target device that contains"*) a=target ;;
		*"designator type: "*)
			t=${line#*designator type: }
			v+="${v:+, }$a:${t%%,*}"
			;;
		esac
	done
	kv "$l" vpd.di.designators "$v"
	kvg "$l" vpd.di.naa '^ +(0x6[0-9a-f]{31})$'
	naa_of "${KV[$l.configfs.wwn.vpd_unit_serial]}"
	[[ ${KV[$l.vpd.di.naa]} == "$N" ]] && v="= NAA 6, 001405, serial digits" || v="not from the serial"
	kv "$l" vpd.di.naa.source "$v"
	kvg "$l" vpd.di.t10_vendor_id '^ +vendor id: (.*[^ ]) *$'
	kvg "$l" vpd.di.t10_vendor_specific '^ +vendor specific: (.*)$'
	[[ ${KV[$l.vpd.di.t10_vendor_specific]} == "${KV[$l.inq.product]}:${KV[$l.configfs.wwn.vpd_unit_serial]}" ]] &&
		v="= product:serial" || v="not product:serial"
	kv "$l" vpd.di.t10_vendor_specific.source "$v"
	kvg "$l" vpd.di.relative_port '^ *Relative target port: (.*)$'
	kvg "$l" vpd.di.port_group '^ *Target port group: (.*)$'
	v= a=0
	for line in "${L[@]}"; do
		((a)) && v+="${v:+, }${line##* }"
		[[ $line == *"SCSI name string:" ]] && a=1 || a=0
	done
	kv "$l" vpd.di.scsi_names "$v"

	# 86h extended INQUIRY data
	sgrun "$l" vpd-ei sg_vpd -p ei "$d"
	kvtok "$l" vpd.ei SPT GRD_CHK APP_CHK REF_CHK UASK_SUP GROUP_SUP PRIOR_SUP HEADSUP ORDSUP \
		SIMPSUP WU_SUP NV_SUP V_SUP LUICLR

	# B0h block limits: every field sg_vpd decodes
	sgrun "$l" vpd-bl sg_vpd -p bl "$d"
	re_sa='^ +([A-Za-z][A-Za-z ()-]*): *(.*)$'
	for line in "${L[@]:2}"; do
		[[ $line =~ $re_sa ]] || continue
		key=${BASH_REMATCH[1]// /_}
		key=${key//[()]/}
		kv "$l" "vpd.bl.${key,,}" "${BASH_REMATCH[2]}"
	done

	# B1h block device characteristics
	sgrun "$l" vpd-bdc sg_vpd -p bdc "$d"
	v=${L[2]:-}
	kv "$l" vpd.bdc.rotation "${v#"${v%%[! ]*}"}"
	kvtok "$l" vpd.bdc WABEREQ WACEREQ ZONED FUAB VBULS

	# B2h logical block provisioning
	sgrun "$l" vpd-lbpv sg_vpd -p lbpv "$d"
	for a in LBPU LBPWS LBPWS10 LBPRZ ANC_SUP DP; do
		kvg "$l" "vpd.lbpv.$a" "\($a\): *([0-9]+)"
	done
	kvg "$l" vpd.lbpv.provisioning_type 'Provisioning type: *(.*)$'

	# ---- READ CAPACITY
	sgrun "$l" readcap10 sg_readcap "$d"
	outcome
	grab 'Last LBA=([0-9]+)'
	v=$R
	grab 'block length=([0-9]+)'
	kv "$l" readcap10 "$O; last LBA $v, block length $R"
	sgrun "$l" readcap16 sg_readcap -l "$d"
	outcome
	grab 'Last LBA=([0-9]+)'
	v=$R
	grab 'block length=([0-9]+)'
	kv "$l" readcap16 "$O; last LBA $v, block length $R"
	kvg "$l" readcap16.provisioning 'provisioning: (lbpme=.*)$'
	kvg "$l" readcap16.protection 'Protection: *(.*)$'
	grab 'physical block exponent=([0-9]+)'
	v=$R
	grab 'Lowest aligned LBA=([0-9]+)'
	kv "$l" readcap16.exponent_lowest_aligned "$v, $R"

	# ---- MODE SENSE (10) of all pages per page control; (6); LLBAA
	for p in 0 1 2 3; do
		sgrun "$l" "modes-pc$p" sg_modes -v -a -c "$p" "$d"
		kvo "$l" "modes.pc$p"
		((RC == 0)) || continue
		kvg "$l" "modes.pc$p.header" '(WP=.*)$'
		grab '^ 00 +(.*)$' # the block descriptor comes first
		squeeze
		kv "$l" "modes.pc$p.block_descriptor" "$R"
		for line in "${L[@]}"; do
			[[ $line =~ ^\>\>\ ([A-Za-z-]+) ]] || continue
			key=${BASH_REMATCH[1],,}
			hexlines "$line"
			kv "$l" "modes.pc$p.$key" "$H"
		done
	done
	sgrun "$l" modes6 sg_modes -6 -p 8 "$d"
	outcome
	grab '^ 00 +(.*)$'
	squeeze
	kv "$l" modes6.block_descriptor "$O; $R"
	sgrun "$l" modes-llbaa sg_modes -L -p 8 "$d"
	outcome
	grab '(longlba=[01])'
	v=$R
	grab '^ 00 +(.*)$'
	squeeze
	kv "$l" modes10.llbaa "$O; $v; $R"

	# ---- MODE SELECT (10), without block descriptors (DBD) unless said:
	# the control page unchanged; with the block descriptor too; D_SENSE
	# on (a failing INQUIRY then reports descriptor sense) and off; WCE off
	# (not changeable)
	local ctl=0a,0a,02,10,00,40,00,00,ff,ff,00,1e ctl_d=0a,0a,06,10,00,40,00,00,ff,ff,00,1e
	sgrun "$l" wr-same sg_wr_mode -v -d -f -p 0x0a -c "$ctl" "$d"
	kvo "$l" modeselect.control_unchanged
	sgrun "$l" wr-same-bd sg_wr_mode -v -f -p 0x0a -c "$ctl" "$d"
	kvo "$l" modeselect.control_unchanged_with_block_descriptor
	sgrun "$l" wr-dsense sg_wr_mode -v -d -f -p 0x0a -c "$ctl_d" "$d"
	kvo "$l" modeselect.d_sense_on
	kvg "$l" modeselect.d_sense_on.pointer 'Sense Key Specific: (.*)$'
	sgrun "$l" ctl-after sg_modes -p 0x0a "$d"
	hexlines ">> Control, page_control: current"
	kv "$l" modeselect.d_sense_on.control_page "$H"
	sgrun "$l" bad-inq sg_inq -vv -f -p 0x89 "$d"
	outcome
	grab '(Fixed|Descriptor) format'
	kv "$l" modeselect.d_sense_on.sense_of_bad_inquiry "$O; $R"
	sgrun "$l" wr-dsense0 sg_wr_mode -v -d -f -p 0x0a -c "$ctl" "$d"
	kvo "$l" modeselect.d_sense_off
	sgrun "$l" wr-wce sg_wr_mode -v -d -f -p 8 -c 08,12,00,00,00,00,00,00,00,00,00,00,20,00,00,00,00,00,00,00 "$d"
	kvo "$l" modeselect.wce_off
	kvg "$l" modeselect.wce_off.pointer 'Sense Key Specific: (.*)$'

	# ---- REPORT SUPPORTED OPERATION CODES: all, then one at a time
	sgrun "$l" opcodes sg_opcodes -v -n "$d"
	kvo "$l" rsoc.all
	v=
	re_sa='^ ([0-9a-f]{2}) +([0-9a-f]+) +[0-9]+ ' re_op='^ ([0-9a-f]{2}) +[0-9]+ '
	for line in "${L[@]}"; do
		if [[ $line =~ $re_sa ]]; then
			v+="${v:+ }${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"
		elif [[ $line =~ $re_op ]]; then
			v+="${v:+ }${BASH_REMATCH[1]}"
		fi
	done
	kv "$l" rsoc.all.list "$v"
	for a in 0x93 0x41 0x42 0x89 0x9e,0x12; do
		sgrun "$l" "opcode-$a" sg_opcodes -v -n -o "$a" "$d"
		outcome
		grab 'Usage data: (.*[^ ]) *$'
		kv "$l" "rsoc.one.$a" "$O${R:+; }$R"
	done

	# ---- REPORT TARGET PORT GROUPS (length only and extended header)
	sgrun "$l" rtpg sg_rtpg -v -d "$d"
	outcome
	grab 'target port group id : (0x[0-9a-f]+)'
	kv "$l" rtpg "$O; group $R"
	kvg "$l" rtpg.state 'asymmetric access state : (.*)$'
	kvg "$l" rtpg.supported '(T_SUP : .*[^ ]) *$'
	kvg "$l" rtpg.target_port_count 'target port count : (.*)$'
	v=
	for line in "${L[@]}"; do
		[[ $line =~ ^\ +(0x[0-9a-f]+)$ ]] && v+="${v:+ }${BASH_REMATCH[1]}"
	done
	kv "$l" rtpg.relative_port_ids "$v"
	sgrun "$l" rtpg-e sg_rtpg -v -e -d "$d"
	outcome
	grab '(Implicit transition time: .*)$'
	kv "$l" rtpg.extended "$O; $R"

	# ---- REQUEST SENSE with nothing pending: fixed, then descriptor format
	for a in fixed:"" descriptor:-d; do
		sgrun "$l" "requests-${a%:*}" sg_requests -v ${a#*:} "$d"
		outcome
		grab '(Fixed|Descriptor) format'
		v=$R
		grab 'Sense key: ([^,]*)'
		kv "$l" "request_sense.${a%:*}" "$O${v:+; $v, $R}"
	done
}

probe T "$DISK_T"
probe K "$DISK_K"

# What tcmud must answer: user:file, 64 MiB of 512-byte blocks,
# hw_max_sectors 128 (the default), write cache on, default ALUA group.
maxsec=$(user_dev_attr f1 hw_max_sectors)
((maxsec == 128)) || fail "hw_max_sectors of f1 is $maxsec, want the default 128"
expect T inq ok
expect T inq.PDT 0
expect T inq.version 0x06
expect T inq.Resp_data_format 2
expect T inq.TPGS 3 # default_tg_pt_gp: implicit and explicit ALUA
expect T inq.3PC 1
expect T inq.CmdQue 1
expect T inq.length 96
expect T inq.vendor LIO-ORG
expect T inq.vendor.source "= wwn/vendor_id"
expect T inq.product.source "default (wwn/product_id empty)"
expect T inq.revision.source "default (wwn/revision empty)"
expect T inq.version_descriptors "SAM-5 (no version claimed), SPC-4 (no version claimed), SBC-3 (no version claimed)"
expect T vpd.pages "0x0 0x80 0x83 0x86 0xb0 0xb1 0xb2"
for p in 0x0 0x80 0x83 0x86 0xb0 0xb1 0xb2; do
	expect T "vpd.$p.sg_inq" ok
	expect T "vpd.$p.sg_vpd" ok
done
expect T vpd.0x89.sg_inq "illegal request: Invalid field in cdb"
expect T vpd.0xb3.sg_inq "illegal request: Invalid field in cdb"
expect T vpd.sn.serial "$SERIAL_T"
expect T vpd.sn.source "= wwn/vpd_unit_serial"
naa_of "$SERIAL_T"
expect T vpd.di.naa "$N"
expect T vpd.di.t10_vendor_id LIO-ORG
expect T vpd.di.t10_vendor_specific.source "= product:serial"
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
expect T readcap10 "ok; last LBA 131071, block length 512"
expect T readcap16 "ok; last LBA 131071, block length 512"
expect T readcap16.provisioning "lbpme=1, lbprz=1"
expect T readcap16.exponent_lowest_aligned "0, 0"
expect T modes.pc0 ok
expect T modes.pc0.header "WP=0, DpoFua=1, longlba=0"
expect T modes.pc0.block_descriptor "00 02 00 00 00 00 02 00" # 131072 blocks of 512
expect T modes.pc0.caching "08 12 04 00 00 00 00 00 00 00 00 00 20 00 00 00 00 00 00 00"
expect T modes.pc0.control "0a 0a 02 10 00 40 00 00 ff ff 00 1e"
expect T modes.pc1.control "0a 0a 04 00 00 00 00 00 00 00 00 00" # only D_SENSE changeable
expect T modes.pc1.caching "08 12 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
expect T modes10.llbaa "ok; longlba=1; 00 00 00 00 00 02 00 00 00 00 00 00 00 00 02 00"
expect T modeselect.control_unchanged ok
expect T modeselect.control_unchanged_with_block_descriptor ok
expect T modeselect.d_sense_on ok
expect T modeselect.d_sense_on.control_page "0a 0a 06 10 00 40 00 00 ff ff 00 1e"
expect T modeselect.d_sense_on.sense_of_bad_inquiry "illegal request: Invalid field in cdb; Descriptor"
expect T modeselect.d_sense_off ok
expect T modeselect.wce_off "illegal request: Invalid field in parameter list"
expect T modeselect.wce_off.pointer "Error in Data parameters: byte 10 bit 2"
expect T rsoc.all ok
expect T rsoc.all.list "00 03 04 08 0a 12 15 1a 1b 1e 25 28 2a 2e 2f 35 41 42 55 5a 83/0 84/0 84/3 88 89 8a 8e 8f 91 93 9e/10 9e/12 a3/a a3/c a4/a a8 aa ae"
expect T rsoc.one.0x93 "ok; 93 ff ff ff ff ff ff ff ff ff ff ff ff ff 00 00"
expect T rtpg "ok; group 0x0"
expect T rtpg.state "0x00 (active/optimized)"
expect T rtpg.target_port_count 01 # the tcm_loop port (LUN 0: relative port 1)
expect T rtpg.relative_port_ids 0x01
expect T request_sense.fixed "ok; Fixed, No Sense"
expect T request_sense.descriptor "ok; Descriptor, No Sense"

scsi_finish T K
