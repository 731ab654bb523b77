#!/usr/bin/env bats
# deps: `make test` on a fresh Debian 12 machine has everything the suite
# uses (issue 11: swaks's STARTTLS needed libnet-ssleay-perl, which only
# came as a Recommends of swaks). tests/deps-check scans the test files for
# the commands they run and the Perl and Python modules they need, and
# checks that each comes from a package that `tools/deps.sh test` installs,
# from what those Depend on (never a Recommends), or from the Essential and
# required packages every Debian machine has. The checker runs once for
# the file (one test per section of its report), and once more, at the
# same time, as if libnet-ssleay-perl were not listed: it must fail then.

setup_file() {
	local root drop rc=0
	root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	# lintian (package.bats) depends on libnet-ssleay-perl too: drop both,
	# so that nothing in the list brings the module any more
	DEPS_CHECK_DROP="libnet-ssleay-perl lintian" "$root/tests/deps-check" perl \
		>"$BATS_FILE_TMPDIR/drop" 2>&1 &
	drop=$!
	"$root/tests/deps-check" -v >"$BATS_FILE_TMPDIR/report" 2>&1 || true
	wait "$drop" || rc=$?
	echo "$rc" >"$BATS_FILE_TMPDIR/drop.status"
}

# section NAME: fail with the checker's problems of section NAME (or with
# its whole output when it did not finish)
section() {
	local report=$BATS_FILE_TMPDIR/report
	if ! grep -q '^deps-check: .* problem(s); ' "$report"; then
		echo "tests/deps-check did not finish:" >&2
		cat "$report" >&2
		return 1
	fi
	if grep -q "^deps-check: $1: " "$report"; then
		grep "^deps-check: $1: " "$report" >&2
		return 1
	fi
}

@test "every command the tests run comes from tools/deps.sh test's packages or the required set" {
	section commands
}

@test "the Perl modules swaks needs for the tests' options (STARTTLS, AUTH) come from those packages" {
	section perl
}

@test "every Python module the tests import loads in /usr/bin/python3 from those packages" {
	section python
}

@test "no test runs python3 through PATH (a non-Debian python3 may come first)" {
	section path
}

@test "the check catches a missing package: without libnet-ssleay-perl it names Net::SSLeay" {
	local status output
	status=$(<"$BATS_FILE_TMPDIR/drop.status")
	output=$(<"$BATS_FILE_TMPDIR/drop")
	[[ $status == 1 ]] || { echo "status $status: $output" >&2; return 1; }
	local mod="Perl module Net::SSLeay (swaks, TLS) is "
	local pkg=" from package libnet-ssleay-perl, which tools/deps.sh test"
	[[ $output == *"$mod"*"$pkg does not install"* ]] ||
		{ echo "$output" >&2; return 1; }
}
