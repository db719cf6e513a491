#!/bin/sh
# run-fuzz.sh SRCDIR BUILDDIR NAME... - run the libFuzzer harnesses
# BUILDDIR/tests/fuzz/fuzz_NAME for FUZZ_SECONDS each (default 60),
# FUZZ_JOBS at a time (default 2), starting from the checked-in corpus
# and past crashes (SRCDIR/tests/fuzz/{corpus,crashes}/NAME, read only).
# New inputs go to BUILDDIR/fuzz-corpus/NAME, crashes, hangs and leaks
# to BUILDDIR/fuzz-crashes/NAME, the output to BUILDDIR/fuzz-NAME.log.
# Prints "PASS: fuzz_NAME" or "FAIL: fuzz_NAME" per harness (a failure
# with its input in base64, to add under tests/fuzz/crashes/NAME), then
# "fuzz: N passed, N failed"; exits 1 when one failed.
set -u
src=$1
build=$2
shift 2
secs=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-2}

run_one() {
	name=$1
	bin="$build/tests/fuzz/fuzz_$name"
	corpus="$build/fuzz-corpus/$name"
	crashes="$build/fuzz-crashes/$name"
	log="$build/fuzz-$name.log"
	mkdir -p "$corpus" "$crashes"
	rm -f "$crashes"/crash-* "$crashes"/timeout-* "$crashes"/leak-* \
	    "$crashes"/oom-* "$build/fuzz-$name.result"
	dirs="$corpus $src/tests/fuzz/corpus/$name"
	[ -d "$src/tests/fuzz/crashes/$name" ] &&
	    dirs="$dirs $src/tests/fuzz/crashes/$name"
	# -timeout: a request that takes 10 s is a hang (the watchdog's
	# business in production, a defect here); -rss_limit_mb: a leak or
	# an unbounded allocation.
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -max_len=65536 -print_final_stats=1 \
	    -artifact_prefix="$crashes/" $dirs >"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "PASS: fuzz_$name ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs in ${secs}s)" \
		    >"$build/fuzz-$name.result"
	else
		{
			echo "FAIL: fuzz_$name (exit $rc, $log)"
			grep -E 'ERROR|FUZZ INVARIANT|SUMMARY|^  ' "$log" | head -n 20
			for f in "$crashes"/*; do
				[ -f "$f" ] || continue
				echo "input $(basename "$f") (base64):"
				base64 "$f" | head -c 8000
				echo
			done
		} >"$build/fuzz-$name.result"
	fi
}

pids=
running=0
for name in "$@"; do
	run_one "$name" &
	pids="$pids $!"
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait

passed=0
failed=0
for name in "$@"; do
	r="$build/fuzz-$name.result"
	if [ -f "$r" ] && head -n 1 "$r" | grep -q '^PASS'; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	[ -f "$r" ] && cat "$r" || echo "FAIL: fuzz_$name (no result)"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
