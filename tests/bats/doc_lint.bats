#!/usr/bin/env bats
# doc_lint: the manuals document every configuration key (also in the
# sample etc/smtpproxy.conf) and every reply text of the code
# (tools/doccheck, which `make lint` runs too).

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

@test "every key and every reply text is in the manuals" {
	run "$ROOT/tools/doccheck" "$ROOT"
	if [[ $status != 0 ]]; then
		printf '%s\n' "$output" >&2
		return 1
	fi
	[[ $output == "doccheck: "*" keys and "*" reply texts documented" ]]
}
