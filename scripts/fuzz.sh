#!/usr/bin/env bash
# Runs every fuzz target in the module for a short time (FUZZTIME, default
# 10s each), as CI does: long enough to catch panics on the seed corpus and
# a first round of mutations.
set -euo pipefail
FUZZTIME=${FUZZTIME:-10s}
cd "$(dirname "$0")/.."
status=0
while IFS= read -r file; do
	pkg=./$(dirname "$file")
	for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
		echo "fuzz: $pkg $target ($FUZZTIME)"
		# The fuzzing engine itself sometimes stops with "context deadline
		# exceeded" when -fuzztime ends while a worker is busy (no failing
		# input is written then); targets whose runs are slow under coverage
		# (the ones linking the whole image stack manage a few runs a
		# second here) hit it often. Such a run is tried again, up to three
		# times; if every try ends that way it is reported and not counted
		# as a failure, since no input failed. A run that found a failing
		# input, or failed any other way, fails at once.
		for try in 1 2 3; do
			if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg" 2>&1 | tee /tmp/ocikit-fuzz.$$; then
				break
			fi
			if grep -q 'Failing input written to' /tmp/ocikit-fuzz.$$ ||
				! grep -q 'context deadline exceeded' /tmp/ocikit-fuzz.$$; then
				status=1
				break
			fi
			if [[ $try == 3 ]]; then
				echo "fuzz: $target: WARNING: the engine hit its deadline in all three tries, no input failed"
				break
			fi
			echo "fuzz: $target: the engine hit its deadline without a failing input; once more"
		done
		rm -f /tmp/ocikit-fuzz.$$
	done
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | sed 's|^\./||' | sort)
exit $status
