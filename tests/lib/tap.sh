# tap.sh - a tiny TAP producer for shell tests (sourced).
#
#   ok COND_EXIT_STATUS "description"     e.g.  ok $? "live answers"
#   is GOT EXPECTED "description"
#   like GOT REGEX "description"
#   unlike GOT REGEX "description"
#   skip_all "reason"                       only when a server binary is absent
#   done_testing                            prints the plan; exit status = failures
TAP_N=0
TAP_FAILED=0

ok() {
	TAP_N=$((TAP_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $TAP_N - $2"
	else
		echo "not ok $TAP_N - $2"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
}

is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '# got:      %s\n# expected: %s\n' "$1" "$2" | head -c 4000
	fi
}

like() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '# got:      %s\n# expected match: %s\n' "$1" "$2" | head -c 4000
	fi
}

unlike() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 1 "$3"
		printf '# got:      %s\n# expected no match: %s\n' "$1" "$2" | head -c 4000
	else
		ok 0 "$3"
	fi
}

diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# bail_out REASON: the test cannot run here at all; an error, not a skip.
bail_out() {
	echo "Bail out! $*"
	exit 1
}

done_testing() {
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}
