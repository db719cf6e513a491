#!/bin/bash
# fcgi.sh - FastCGI records written by hand, for tests that talk to
# relaycfg with no web server in front (nothing protects it there).
#
#   fcgi_bytes N...              the bytes N
#   fcgi_nv NAME VALUE           one name-value pair (both under 128 bytes)
#   fcgi_record TYPE FILE        one record of request 1 holding FILE (< 64 KiB)
#   fcgi_head OUT NAME=VALUE...  BEGIN_REQUEST (responder) and the params, to OUT
#   fcgi_stdin OUT FILE          FILE as STDIN records, then the empty one, after OUT
#   fcgi_send FILE               FILE sent to 127.0.0.1:$TCP_PORT; the answer's
#                                bytes on stdout (10 s at most)
# shellcheck shell=bash

fcgi_bytes() {
	local b
	for b in "$@"; do
		# shellcheck disable=SC2059
		printf "\\$(printf '%03o' "$b")"
	done
}

fcgi_nv() {
	fcgi_bytes ${#1} ${#2}
	printf '%s%s' "$1" "$2"
}

fcgi_record() {
	local len
	len=$(stat -c %s "$2")
	fcgi_bytes 1 "$1" 0 1 $((len >> 8)) $((len & 255)) 0 0
	cat "$2"
}

fcgi_head() {
	local out=$1 kv
	shift
	: >"$T/fcgi.params"
	for kv in "$@"; do
		fcgi_nv "${kv%%=*}" "${kv#*=}" >>"$T/fcgi.params"
	done
	{
		fcgi_bytes 1 1 0 1 0 8 0 0 0 1 0 0 0 0 0 0
		fcgi_record 4 "$T/fcgi.params"
		fcgi_bytes 1 4 0 1 0 0 0 0
	} >"$out"
}

fcgi_stdin() {
	local dir=$T/fcgi.split f
	rm -rf "$dir"
	mkdir -p "$dir"
	split -b 60000 "$2" "$dir/part."
	for f in "$dir"/part.*; do
		[ -f "$f" ] && fcgi_record 5 "$f"
	done >>"$1"
	fcgi_bytes 1 5 0 1 0 0 0 0 >>"$1"
}

fcgi_send() {
	timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		cat "$2" >&3; cat <&3' _ "$TCP_PORT" "$1"
}
