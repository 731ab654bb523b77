#!/usr/bin/env bats
# relay_mkcdb: mkcdb (the ASan build, or $MKCDB) builds, checks and queries
# the tables smtpproxy reads; what it accepts is what the lookups find, and
# whatever goes wrong, the old table stays as it was and no temp file is
# left behind.  Exit codes: 0 done or found, 1 not found (-q), 100 usage or
# bad input, 111 system error.

load lib/common

MKCDB=${MKCDB:-$ROOT/build/asan/mkcdb}

# mk ARGS...: mkcdb (ASan reports go to the test's san dir)
mk() {
	ASAN_OPTIONS="log_path=$TMP/san/asan" "$MKCDB" "$@"
}

# no_temp_left DIR: no "*.tmp*" file of a failed build in DIR
no_temp_left() {
	local left
	left=$(find "$1" -maxdepth 1 -name '*.tmp*')
	[[ -z $left ]] || fail "temp file left behind: $left"
}

@test "usage errors exit 100 with the usage text" {
	printf 'a.test\n' >"$TMP/d.txt"
	local args
	for args in "-t bogus $TMP/d.txt" "-w 0 -t pop -x $TMP/p.cdb" \
	    "-w 10s -t pop -x $TMP/p.cdb" "-Z $TMP/d.txt" \
	    "-t domains -x $TMP/p.cdb" "-t pop -x -a 192.0.2.1 $TMP/p.cdb" \
	    "-t pop -a 192.0.2.1" "-q a.test" "-t domains" \
	    "-t domains $TMP/d.txt $TMP/d.cdb extra"; do
		# shellcheck disable=SC2086
		run mk $args
		[[ $status == 100 ]] || fail "mkcdb $args: exit $status" "$output"
		[[ $output == *"usage: mkcdb [-t type] source.txt [table.cdb]"* ]] ||
			fail "mkcdb $args: no usage" "$output"
	done
	[[ ! -e $TMP/d.cdb && ! -e $TMP/p.cdb ]] || fail "a table was written"
}

@test "without -t: a new table needs a type, an existing one keeps its own" {
	printf 'a.test\n' >"$TMP/d.txt"
	run mk "$TMP/d.txt"
	[[ $status == 100 ]] || fail "exit $status" "$output"
	[[ $output == "mkcdb: $TMP/d.cdb: give the table type with -t" ]] || fail "$output"
	[[ ! -e $TMP/d.cdb ]] || fail "a table was written"
	mk -t domains "$TMP/d.txt"
	printf 'b.test\n' >"$TMP/d.txt"
	run mk "$TMP/d.txt"
	[[ $status == 0 ]] || fail "rebuild without -t: exit $status" "$output"
	run mk -q x.b.test "$TMP/d.cdb"
	[[ $status == 1 ]] || fail "b.test is a domain, not .b.test: $output"
	run mk -q b.test "$TMP/d.cdb"
	[[ $status == 0 && $output == "b.test OK" ]] || fail "$output"
	# the rebuilt table is still a domains table: a network key is refused
	printf '192.0.2.0/24\n' >"$TMP/d.txt"
	run mk "$TMP/d.txt"
	[[ $status == 100 && $output == *"d.txt:1: 192.0.2.0/24: not a domain or .domain"* ]] ||
		fail "exit $status" "$output"
}

@test "a missing source file: exit 111, nothing written" {
	run mk -t domains "$TMP/none.txt" "$TMP/d.cdb"
	[[ $status == 111 ]] || fail "exit $status" "$output"
	[[ $output == "mkcdb: $TMP/none.txt: No such file or directory" ]] || fail "$output"
	[[ ! -e $TMP/d.cdb ]] || fail "a table was written"
}

@test "domains: address literals are keys of their own; bad characters are refused" {
	printf '[192.0.2.1]\n[IPv6:2001:DB8::1]\nexample.test\n' >"$TMP/d.txt"
	mk -t domains "$TMP/d.txt" "$TMP/d.cdb"
	run mk -q '[192.0.2.1]' "$TMP/d.cdb"
	[[ $status == 0 && $output == "[192.0.2.1] OK" ]] || fail "$output"
	run mk -q '[IPv6:2001:db8::1]' "$TMP/d.cdb"
	[[ $status == 0 && $output == "[ipv6:2001:db8::1] OK" ]] || fail "$output"
	run mk -q '[192.0.2.2]' "$TMP/d.cdb"
	[[ $status == 1 ]] || fail "neighbour found: $output"
	local bad
	for bad in '[192.0.2.1' '[]' '[a]b]' 'exa$mple.test' 'a/b.test' 'ex*.test'; do
		printf 'ok.test\n%s OK\n' "$bad" >"$TMP/bad.txt"
		run mk -t domains "$TMP/bad.txt" "$TMP/d.cdb"
		[[ $status == 100 ]] || fail "'$bad' accepted: exit $status" "$output"
		[[ $output == "$TMP/bad.txt:2: $bad: not a domain or .domain" ]] ||
			fail "'$bad': $output"
	done
	# the old table is still there
	run mk -q example.test "$TMP/d.cdb"
	[[ $status == 0 ]] || fail "old table lost: $output"
	no_temp_left "$TMP"
}

@test "networks: a CIDR block of any length, stored canonical, matches its addresses only" {
	printf '127.0.0.8/29 OK\n2001:DB8:0:1000::/52 REJECT v6 block\n' >"$TMP/n.txt"
	mk -t networks "$TMP/n.txt" "$TMP/n.cdb"
	local ip
	for ip in 127.0.0.8 127.0.0.12 127.0.0.15; do
		run mk -q "$ip" "$TMP/n.cdb"
		[[ $status == 0 && $output == "127.0.0.8/29 OK" ]] || fail "$ip: $output"
	done
	for ip in 127.0.0.7 127.0.0.16; do
		run mk -q "$ip" "$TMP/n.cdb"
		[[ $status == 1 ]] || fail "$ip matched: $output"
	done
	run mk -q 2001:db8:0:1fff::1 "$TMP/n.cdb"
	[[ $status == 0 && $output == "2001:db8:0:1000::/52 REJECT v6 block" ]] || fail "$output"
	run mk -q 2001:db8:0:2000::1 "$TMP/n.cdb"
	[[ $status == 1 ]] || fail "outside the /52: $output"
	# host bits inside a byte, not an address at all, an overlong key
	printf '127.0.0.12/29 OK\n' >"$TMP/n.txt"
	run mk -t networks "$TMP/n.txt" "$TMP/n.cdb"
	[[ $status == 100 && $output == *"n.txt:1: 127.0.0.12/29: host bits set in the network" ]] ||
		fail "exit $status" "$output"
	local key
	for key in example.test 192.0.2.300 "2001:db8::$(printf '1:%.0s' {1..30})1"; do
		printf '%s OK\n' "$key" >"$TMP/n.txt"
		run mk -t networks "$TMP/n.txt" "$TMP/n.cdb"
		[[ $status == 100 && $output == *"n.txt:1: $key: not an address, CIDR network or a.b.c. prefix" ]] ||
			fail "'$key': exit $status" "$output"
	done
	run mk -q 127.0.0.9 "$TMP/n.cdb"
	[[ $output == "127.0.0.8/29 OK" ]] || fail "old table changed: $output"
}

@test "senders: user@domain, @domain and user@ are looked up in that order, any case" {
	printf 'Boss@Example.TEST boss\n@example.test admin, \npostmaster@ hostmaster,admin\n' >"$TMP/s.txt"
	mk -t senders "$TMP/s.txt" "$TMP/s.cdb"
	run mk -q BOSS@example.test "$TMP/s.cdb"
	[[ $status == 0 && $output == "boss@example.test boss" ]] || fail "$output"
	# a trailing separator adds no empty login
	run mk -q clerk@example.test "$TMP/s.cdb"
	[[ $status == 0 && $output == "@example.test admin" ]] || fail "$output"
	run mk -q Postmaster@other.test "$TMP/s.cdb"
	[[ $status == 0 && $output == "postmaster@ hostmaster,admin" ]] || fail "$output"
	run mk -q clerk@other.test "$TMP/s.cdb"
	[[ $status == 1 ]] || fail "$output"
	# a recipients table takes whole addresses only; neither takes a bare name
	printf 'postmaster@ admin\n' >"$TMP/r.txt"
	run mk -t recipients "$TMP/r.txt" "$TMP/r.cdb"
	[[ $status == 100 && $output == *"r.txt:1: postmaster@: not an address" ]] ||
		fail "exit $status" "$output"
	printf 'postmaster admin\n' >"$TMP/s.txt"
	run mk -t senders "$TMP/s.txt" "$TMP/s.cdb"
	[[ $status == 100 && $output == *"s.txt:1: postmaster: not an address or @domain" ]] ||
		fail "exit $status" "$output"
	printf 'all@example.test authenticated\n' >"$TMP/r.txt"
	mk -t recipients "$TMP/r.txt" "$TMP/r.cdb"
	run mk -q ALL@Example.Test "$TMP/r.cdb"
	[[ $status == 0 && $output == "all@example.test authenticated" ]] || fail "$output"
}

@test "overlong lines, keys and values are refused with file:line; lookups of overlong keys find nothing" {
	local long
	long=$(printf 'a%.0s' {1..600})
	{
		echo ok.test
		printf '%s.test\n' "$long"
		printf 'fine.test %s%s\n' "$long" "$long"
		printf 'x%.0s' {1..5000}
		printf '\nlast.test\n'
	} >"$TMP/d.txt"
	run mk -t domains "$TMP/d.txt" "$TMP/d.cdb"
	[[ $status == 100 ]] || fail "exit $status" "$output"
	[[ $output == *"d.txt:2: $long.test: key or value too long"* ]] || fail "key: $output"
	[[ $output == *"d.txt:3: fine.test: key or value too long"* ]] || fail "value: $output"
	[[ $output == *"d.txt:4: line too long"* ]] || fail "line: $output"
	# the line after the overlong one is read as a line of its own
	[[ $output != *"d.txt:5"* ]] || fail "$output"
	[[ ! -e $TMP/d.cdb ]] || fail "a table was written"
	# a name longer than any key is not looked up: not found, not an error
	printf '.ok.test\n' >"$TMP/d.txt"
	mk -t domains "$TMP/d.txt" "$TMP/d.cdb"
	run mk -q x.ok.test "$TMP/d.cdb"
	[[ $status == 0 && $output == ".ok.test OK" ]] || fail "exit $status" "$output"
	run mk -q "$long.ok.test" "$TMP/d.cdb"
	[[ $status == 1 && -z $output ]] || fail "exit $status" "$output"
}

@test "the target cannot be replaced (a directory): exit 111, no temp file left" {
	printf 'a.test\n' >"$TMP/d.txt"
	mkdir "$TMP/dir.cdb"
	run mk -t domains "$TMP/d.txt" "$TMP/dir.cdb"
	[[ $status == 111 ]] || fail "exit $status" "$output"
	[[ $output == "mkcdb: $TMP/dir.cdb: Is a directory" ]] || fail "$output"
	no_temp_left "$TMP"
}

@test "the target folder does not exist: exit 111 naming the lock file" {
	printf 'a.test\n' >"$TMP/d.txt"
	run mk -t domains "$TMP/d.txt" "$TMP/nodir/d.cdb"
	[[ $status == 111 ]] || fail "exit $status" "$output"
	[[ $output == "mkcdb: $TMP/nodir/d.cdb.lock: No such file or directory" ]] || fail "$output"
}

@test "a write error (file size limit): exit 111, the old table stays, no temp file" {
	printf 'old.test\n' >"$TMP/d.txt"
	mk -t domains "$TMP/d.txt" "$TMP/d.cdb"
	# the new table (5000 domains, about 200 kB) is over a 64 kB file size
	# limit (gcov's own files stay under it); SIGXFSZ ignored, so write(2)
	# fails with EFBIG.  ASan's leak check stays on: tinycdb's buffers and
	# the descriptor must be freed on this path too (popwatch lives on)
	{
		echo new.test
		seq 0 4999 | sed 's/.*/d&.pad.test/'
	} >"$TMP/d.txt"
	run bash -c 'trap "" XFSZ; ulimit -f 64; "$@"' mk env \
		ASAN_OPTIONS="log_path=$TMP/san/asan:detect_leaks=1" "$MKCDB" \
		-t domains "$TMP/d.txt" "$TMP/d.cdb"
	[[ $status == 111 ]] || fail "exit $status" "$output"
	[[ $output =~ ^mkcdb:\ $TMP/d\.cdb\.tmp[A-Za-z0-9]{6}:\ File\ too\ large$ ]] || fail "$output"
	no_temp_left "$TMP"
	run mk -q old.test "$TMP/d.cdb"
	[[ $status == 0 ]] || fail "old table lost: $output"
	run mk -q new.test "$TMP/d.cdb"
	[[ $status == 1 ]] || fail "half a new table: $output"
	# without the limit the same source builds
	mk -t domains "$TMP/d.txt" "$TMP/d.cdb"
	run mk -q d4999.pad.test "$TMP/d.cdb"
	[[ $status == 0 ]] || fail "$output"
}

@test "pop -a: a second login of the same address refreshes its time" {
	local now t
	now=$(date +%s)
	printf '127.0.0.5 %s\n127.0.0.6 %s\n' $((now - 4000)) $((now - 4000)) >"$TMP/pop.txt"
	mk -t pop "$TMP/pop.txt" "$TMP/pop.cdb"
	mk -t pop -a 127.0.0.5 "$TMP/pop.cdb"
	run mk -q 127.0.0.5 "$TMP/pop.cdb"
	[[ $status == 0 ]] || fail "exit $status" "$output"
	t=${output#127.0.0.5 }
	((t >= now && t <= now + 60)) || fail "login time not refreshed: $output (now $now)"
	# -a never expires the others
	run mk -q 127.0.0.6 "$TMP/pop.cdb"
	[[ $output == "127.0.0.6 $((now - 4000))" ]] || fail "$output"
	# an IPv6 login is stored canonical
	mk -t pop -a 2001:DB8:0::7 "$TMP/pop.cdb"
	run mk -q 2001:db8::7 "$TMP/pop.cdb"
	[[ $status == 0 ]] || fail "$output"
}

@test "pop -x drops logins older than -w (default 1800 s), keeps the younger ones" {
	local now
	now=$(date +%s)
	printf '192.0.2.1 %s\n192.0.2.2 %s\n192.0.2.3 %s\n' \
		$((now - 4000)) $((now - 1000)) $((now - 10)) >"$TMP/pop.txt"
	mk -t pop "$TMP/pop.txt" "$TMP/pop.cdb"
	mk -t pop -x "$TMP/pop.cdb"
	run mk -q 192.0.2.1 "$TMP/pop.cdb"
	[[ $status == 1 ]] || fail "4000 s old login kept: $output"
	run mk -q 192.0.2.2 "$TMP/pop.cdb"
	[[ $status == 0 ]] || fail "1000 s old login dropped: $output"
	mk -t pop -x -w 600 "$TMP/pop.cdb"
	run mk -q 192.0.2.2 "$TMP/pop.cdb"
	[[ $status == 1 ]] || fail "-w 600 kept a 1000 s old login: $output"
	run mk -q 192.0.2.3 "$TMP/pop.cdb"
	[[ $status == 0 ]] || fail "fresh login dropped: $output"
	# a missing table is an empty one: nothing to drop, nothing written
	mk -t pop -x "$TMP/none.cdb"
	[[ ! -e $TMP/none.cdb ]] || fail "an empty table was written"
}

@test "pop -a: a bad address is exit 100; a table of another type or no folder exit 111" {
	printf 'a.test\n' >"$TMP/d.txt"
	mk -t domains "$TMP/d.txt" "$TMP/d.cdb"
	local bad
	for bad in 192.0.2.0/24 192.168. not-an-ip; do
		run mk -t pop -a "$bad" "$TMP/pop.cdb"
		[[ $status == 100 ]] || fail "$bad: exit $status" "$output"
		[[ $output == "mkcdb: $bad: not an IP address" ]] || fail "$bad: $output"
	done
	[[ ! -e $TMP/pop.cdb ]] || fail "a table was written"
	run mk -t pop -a 192.0.2.1 "$TMP/d.cdb"
	[[ $status == 111 ]] || fail "exit $status" "$output"
	[[ $output == "mkcdb: $TMP/d.cdb: a domains table, not pop" ]] || fail "$output"
	run mk -q a.test "$TMP/d.cdb"
	[[ $status == 0 ]] || fail "the domains table changed: $output"
	run mk -t pop -a 192.0.2.1 "$TMP/nodir/pop.cdb"
	[[ $status == 111 && $output == "mkcdb: $TMP/nodir/pop.cdb.lock: No such file or directory" ]] ||
		fail "exit $status" "$output"
}

@test "-q on a file that is not a table: exit 111 with the reason" {
	# a CDB made by tinycdb's cdb(1), without mkcdb's type record
	printf '+6,2:a.test->OK\n\n' | cdb -c "$TMP/foreign.cdb"
	run mk -q a.test "$TMP/foreign.cdb"
	[[ $status == 111 ]] || fail "exit $status" "$output"
	[[ $output == "mkcdb: $TMP/foreign.cdb: not a table made by mkcdb" ]] || fail "$output"
	# an empty file (a copy that failed) is not a CDB at all
	: >"$TMP/empty.cdb"
	run mk -q a.test "$TMP/empty.cdb"
	[[ $status == 111 && $output == "mkcdb: $TMP/empty.cdb: corrupt table" ]] ||
		fail "exit $status" "$output"
	run mk -q a.test "$TMP/missing.cdb"
	[[ $status == 111 && $output == "mkcdb: $TMP/missing.cdb: No such file or directory" ]] ||
		fail "exit $status" "$output"
}

@test "pop -a on a table whose last record is corrupt: exit 111, the table is not rewritten shorter" {
	local now
	now=$(date +%s)
	printf '127.0.0.1 %s\n127.0.0.2 %s\n127.0.0.3 %s\n' "$now" "$now" "$now" >"$TMP/pop.txt"
	mk -t pop "$TMP/pop.txt" "$TMP/pop.cdb"
	# the last record's key length made to point past the records
	/usr/bin/python3 - "$TMP/pop.cdb" <<'EOF'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    data = f.read()
    end = min(struct.unpack_from("<I", data, 8 * i)[0] for i in range(256))
    pos, last = 2048, None
    while pos < end:
        klen, dlen = struct.unpack_from("<II", data, pos)
        last, pos = pos, pos + 8 + klen + dlen
    f.seek(last)
    f.write(struct.pack("<I", end))
EOF
	cp "$TMP/pop.cdb" "$TMP/pop.before"
	run mk -t pop -a 127.0.0.9 "$TMP/pop.cdb"
	[[ $status == 111 ]] || fail "exit $status" "$output"
	[[ $output == "mkcdb: $TMP/pop.cdb: cannot read the table" ]] || fail "$output"
	cmp -s "$TMP/pop.cdb" "$TMP/pop.before" || fail "the table was rewritten"
	no_temp_left "$TMP"
}

@test "senders: a single 1023-byte login fits, as a value of that size does in every table type" {
	local login
	login=$(printf 'u%.0s' $(seq 1023))
	printf 'a@test.example %s\n' "$login" >"$TMP/s.txt"
	run mk -t senders "$TMP/s.txt" "$TMP/s.cdb"
	[[ $status == 0 ]] || fail "exit $status" "$output"
	run mk -q a@test.example "$TMP/s.cdb"
	[[ $status == 0 && $output == "a@test.example $login" ]] || fail "exit $status" "${output:0:80}"
	printf 'a@test.example u%s\n' "$login" >"$TMP/s.txt"
	run mk -t senders "$TMP/s.txt" "$TMP/s.cdb"
	[[ $status == 100 && $output == *"value too long"* ]] || fail "exit $status" "$output"
}

@test "senders and recipients: a quoted local part is refused with file:line (exit 100), nothing written" {
	local type value
	for type in senders recipients; do
		[[ $type == senders ]] && value=alice || value=authenticated
		printf 'ok@example.test %s\n"x"@a.b %s\n' "$value" "$value" >"$TMP/$type.txt"
		run mk -t "$type" "$TMP/$type.txt" "$TMP/$type.cdb"
		[[ $status == 100 ]] || fail "$type: exit $status" "$output"
		[[ $output == *"$type.txt:2: \"x\"@a.b: local part not in the form mail is delivered to"* ]] ||
			fail "$type: no file:line naming the key" "$output"
		[[ $output != *"$type.txt:1:"* ]] || fail "$type: line 1 refused" "$output"
		[[ ! -e $TMP/$type.cdb ]] || fail "$type: a table was written"
		no_temp_left "$TMP"
	done
}

@test "-q looks an address up as the MTA delivers to it: user+ext@domain finds user@domain, a quoted one the unquoted key" {
	printf 'staff@example.test authenticated\n' >"$TMP/r.txt"
	mk -t recipients "$TMP/r.txt" "$TMP/r.cdb"
	local a
	for a in 'staff+x@example.test' 'STAFF+x@Example.Test' '"staff"@example.test' \
	    '"st\aff"@example.test' '"st aff"@example.test'; do
		run mk -q "$a" "$TMP/r.cdb"
		[[ $status == 0 && $output == "staff@example.test authenticated" ]] ||
			fail "-q $a: exit $status" "$output"
	done
	run mk -q 'staffer@example.test' "$TMP/r.cdb"
	[[ $status == 1 ]] || fail "staffer@ found: $output"
	# a key with its extension is more specific than the user's own
	printf 'staff@example.test authenticated\nstaff+board@example.test alice\n' >"$TMP/r.txt"
	mk -t recipients "$TMP/r.txt" "$TMP/r.cdb"
	run mk -q 'staff+board@example.test' "$TMP/r.cdb"
	[[ $status == 0 && $output == "staff+board@example.test alice" ]] || fail "$output"
	run mk -q 'staff+other@example.test' "$TMP/r.cdb"
	[[ $status == 0 && $output == "staff@example.test authenticated" ]] || fail "$output"
}
