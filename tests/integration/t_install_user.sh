#!/bin/bash
# The README's "no root" install: a normal user configures with
# --prefix=DIR, runs "make install", and everything lands under DIR,
# including the systemd units (configure's default follows the prefix);
# "make uninstall" then takes it all away again.  Run as that user for
# real (runuser), so that any write outside the prefix fails the test
# the way it failed the operator who reported it.  Then --prefix=/usr,
# configured only: the units where pkg-config says.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/installed.sh"
harness_init
need_binary runuser
U=nobody
SRC=$T/src
B=$T/build
P=$T/prefix

# A copy of the sources the user can read wherever the checkout lives (CI
# clones under /root); build trees and git metadata stay behind.
mkdir -p "$B" "$P"
installed_copy_sources "$SRC"
ok $? "a copy of the sources for user $U"
chown -R "$U" "$SRC" "$B" "$P"

as_user() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	    runuser -u "$U" -- "$@"
}
as_user sh -c "cd '$B' && '$SRC/configure' -q --prefix='$P' CFLAGS=-O0" \
    >"$T/configure.log" 2>&1
ok $? "configure --prefix=$P as $U"
as_user make -s -C "$B" -j2 install >"$T/install.log" 2>&1
ok $? "make install as $U (no root, nothing written outside the prefix)"

for f in sbin/relaycfg bin/relaycfgctl etc/relaycfg.conf \
    share/man/man8/relaycfg.8 lib/systemd/system/relaycfg.service \
    lib/systemd/system/relaycfg.socket lib/tmpfiles.d/relaycfg.conf \
    share/doc/relaycfg/examples/nginx/relaycfg.conf; do
	[ -s "$P/$f" ]
	ok $? "installed under the prefix: $f"
done
like "$(grep '^ExecStart=' "$P/lib/systemd/system/relaycfg.service")" \
    "^ExecStart=$P/sbin/relaycfg -c $P/etc/relaycfg.conf\$" \
    "the installed unit starts the prefix's relaycfg with the prefix's config"
is "$(find "$P" -type f ! -user "$U" | wc -l)" 0 "every installed file belongs to $U"
as_user "$P/sbin/relaycfg" --version >"$T/version.log" 2>&1
ok $? "the installed relaycfg runs as $U: $(head -1 "$T/version.log")"

# The config is kept by uninstall only when the operator changed it: this
# one is the untouched default, so nothing may remain but directories.
as_user make -s -C "$B" uninstall >"$T/uninstall.log" 2>&1
ok $? "make uninstall as $U"
left=$(find "$P" ! -type d | sed "s|^$P/||")
is "$left" "" "make uninstall leaves no file in the prefix"

# Only --prefix=/usr asks pkg-config where the units go (Debian 12:
# /lib/systemd/system), as README step 1 says.
pkgunits=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
if [ -n "$pkgunits" ]; then
	mkdir -p "$T/build-usr" && chown "$U" "$T/build-usr"
	as_user sh -c "cd '$T/build-usr' && '$SRC/configure' -q --prefix=/usr" \
	    >"$T/configure-usr.log" 2>&1
	ok $? "configure --prefix=/usr as $U"
	is "$(sed -n 's/^systemdsystemunitdir = //p' "$T/build-usr/Makefile")" \
	    "$pkgunits" "--prefix=/usr: the units go where pkg-config says"
else
	diag "pkg-config knows no systemd.pc: --prefix=/usr not checked"
fi

done_testing
