#!/bin/bash
# The Debian package, as an operator meets it: dpkg-buildpackage -us -uc
# builds it from a clean copy of the sources, lintian finds nothing, dpkg -i
# installs it without starting anything, the installed relaycfg (as the
# relaycfg user, socket-activated the way the installed units say) answers
# a signed fetch from the test's MariaDB and memcached, an upgrade to a
# higher version leaves it running and answering on its old code (the
# runbook's "restart after db migrate"), dpkg --remove stops it, and dpkg
# --purge takes every file, the user and the override away again.  A
# relaycfg user made before the package (by hand, with or without its
# group), or a relaycfg group alone, neither stops postinst nor is deleted
# by purge.
#
# No systemd runs here, so a stand-in answers the maintainer scripts:
# /run/systemd/system (what they test for), deb-systemd-invoke and
# systemctl first in dpkg's PATH.  They log each call, and "stop" of
# relaycfg.service does what systemd would: SIGTERM to the relaycfg this
# test started.
#
# It installs into the real system (/usr, /etc, /lib/systemd): tests run as
# root on machines rebuilt for every CI run.  A relaycfg package, user or
# group found before the test is refused, never purged or deleted.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
. "$top_srcdir/tests/lib/installed.sh"
harness_init
need_binary dpkg-buildpackage
need_binary lintian
need_binary setpriv
need_binary nginx
[ "$(id -u)" -eq 0 ] || bail_out "t_deb installs a package: run as root"
if dpkg-query -W -f='${Status}' relaycfg 2>/dev/null | grep -q installed; then
	bail_out "a relaycfg package is already installed; not touching it"
fi
# The test makes and deletes relaycfg users of its own.
if getent passwd relaycfg >/dev/null || getent group relaycfg >/dev/null; then
	bail_out "a relaycfg user or group is already there; not touching it"
fi
version=$(sed -n '1s/^relaycfg (\([^)]*\)).*/\1/p' "$top_srcdir/debian/changelog")
arch=$(dpkg --print-architecture)
DEB=$T/relaycfg_${version}_$arch.deb
SRC=$T/relaycfg-$version
purged=no
made_user=no
made_run_systemd=""
probe=""
deb_cleanup() {
	[ -z "$probe" ] || kill "$probe" 2>/dev/null
	[ "$purged" = yes ] || dpkg --purge relaycfg >/dev/null 2>&1
	if [ "$made_user" = yes ]; then
		deluser --quiet --system relaycfg >/dev/null 2>&1
		delgroup --quiet --system relaycfg >/dev/null 2>&1
	fi
	case $made_run_systemd in
	/run/systemd) rm -rf /run/systemd ;;
	/run/systemd/system) rmdir /run/systemd/system ;;
	esac
	harness_cleanup
}
trap deb_cleanup EXIT

# ---- the systemd stand-in -----------------------------------------------------
if [ ! -e /run/systemd ]; then
	made_run_systemd=/run/systemd
elif [ ! -e /run/systemd/system ]; then
	made_run_systemd=/run/systemd/system
fi
mkdir -p /run/systemd/system "$T/fakesd"
cat >"$T/fakesd/deb-systemd-invoke" <<FAKE
#!/bin/sh
echo "deb-systemd-invoke \$*" >>"$T/systemd.log"
[ "\$1" = stop ] || exit 0
for u; do
	[ "\$u" = relaycfg.service ] && [ -s "$T/relaycfg.main" ] &&
	    kill -TERM "\$(cat "$T/relaycfg.main")"
done
exit 0
FAKE
printf '#!/bin/sh\necho "systemctl $*" >>"%s/systemd.log"\n' "$T" \
    >"$T/fakesd/systemctl"
chmod 755 "$T/fakesd/deb-systemd-invoke" "$T/fakesd/systemctl"
: >"$T/systemd.log"
sd_dpkg() { PATH=$T/fakesd:$PATH dpkg "$@"; }

# ---- build ------------------------------------------------------------------
# configure stops without any library it names (RELAYCFG_NEED), tests or
# not: each must be a Build-Depends under the nocheck build profile too
# (dpkg-buildpackage -P nocheck drops the <!nocheck> ones).
bd=$(cd "$top_srcdir" && perl -MDpkg::Control::Info -MDpkg::Deps -e '
	my $c = Dpkg::Control::Info->new("debian/control")->get_source();
	my $d = deps_parse($c->{"Build-Depends"}, build_dep => 1,
	    reduce_profiles => 1, build_profiles => ["nocheck"]);
	print map { "$_->{package}\n" } grep { $_->isa("Dpkg::Deps::Simple") }
	    $d->get_deps();')
needs=$(sed -n 's/^RELAYCFG_NEED(\[[A-Z]*\], \[[^]]*\], \[\([^]]*\)\])$/\1/p' \
    "$top_srcdir/configure.ac")
ok $(( $(echo "$needs" | wc -w) < 5 )) "configure.ac names its libraries' packages ($(echo "$needs" | wc -w))"
for p in $needs; do
	echo "$bd" | grep -qx -- "$p"
	ok $? "Build-Depends has $p (configure needs it) under the nocheck profile"
done
installed_copy_sources "$SRC"
(cd "$SRC" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
    DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc) \
    >"$T/build.log" 2>&1
ok $? "dpkg-buildpackage -us -uc"
[ -s "$DEB" ]
ok $? "built ${DEB##*/}"
# As nobody: lintian warns about (and does not need) root.
setpriv --reuid=nobody --regid=nogroup --clear-groups \
    lintian --fail-on error,warning "$T/relaycfg_${version}_$arch.changes" \
    >"$T/lintian.log" 2>&1
ok $? "lintian: no error or warning"
[ -s "$T/lintian.log" ] && diag "$(cat "$T/lintian.log")"

contents=$(dpkg-deb -c "$DEB" | awk '{print $1, $2, $6}')
for f in ./usr/sbin/relaycfg ./usr/bin/relaycfgctl ./etc/relaycfg.conf \
    ./lib/systemd/system/relaycfg.service ./lib/systemd/system/relaycfg.socket \
    ./usr/lib/tmpfiles.d/relaycfg.conf \
    ./usr/share/man/man8/relaycfg.8.gz ./usr/share/man/man5/relaycfg.conf.5.gz \
    ./usr/share/man/man1/relaycfgctl.1.gz \
    ./usr/share/doc/relaycfg/RUNBOOK.md \
    ./usr/share/doc/relaycfg/examples/nginx/relaycfg.conf \
    ./usr/share/doc/relaycfg/examples/apache/relaycfg-proxy-fcgi.conf \
    ./usr/share/doc/relaycfg/examples/apache/fcgid/relaycfg.fcgi \
    ./usr/share/doc/relaycfg/examples/relaycfg.conf; do
	like "$contents" " $f\$" "the package holds $f"
done
# The documents its own files send the operator to (the run book, the
# man pages, the units, the samples): README and docs/*.md, shipped in
# /usr/share/doc/relaycfg (compressed or not).
dpkg-deb -x "$DEB" "$T/x"
refs=$( { cat "$T/x/usr/share/doc/relaycfg/RUNBOOK.md" "$T/x/etc/relaycfg.conf" \
    "$T/x"/lib/systemd/system/*
    find "$T/x/usr/share/doc/relaycfg/examples" -type f -exec cat {} +
    zcat "$T/x"/usr/share/man/man*/*.gz; } |
    grep -o 'README\|docs/[A-Z-]*\.md' | sed 's|^docs/||; s|^README$|README.md|' |
    sort -u)
ok $(( $(echo "$refs" | wc -w) < 3 )) "documents referred to: ${refs//$'\n'/ }"
for r in $refs; do
	[ -e "$T/x/usr/share/doc/relaycfg/$r" ] ||
	    [ -e "$T/x/usr/share/doc/relaycfg/$r.gz" ]
	ok $? "the package has $r, which its files refer to"
done
is "$(dpkg-deb -f "$DEB" Package Architecture | tr '\n' ' ')" \
    "Package: relaycfg Architecture: $arch " "control: package and architecture"
# What "apt show relaycfg" tells an operator to do: README step 2's
# commands, the schema included, before the socket.
like "$(dpkg-deb -f "$DEB" Description | tr '\n' ' ')" \
    'create the database, +edit /etc/relaycfg\.conf and run "relaycfgctl db init" .*then +"systemctl enable --now relaycfg\.socket"' \
    "control: the description's first steps create the schema"
is "$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles)" \
    /etc/relaycfg.conf "the config is a conffile"

# ---- install: nothing starts -------------------------------------------------
sd_dpkg -i "$DEB" >"$T/dpkg-i.log" 2>&1
ok $? "dpkg -i"
is "$(grep -c '^deb-systemd-invoke' "$T/systemd.log")" 0 \
    "the maintainer scripts asked systemd to start or stop nothing"
is "$(getent passwd relaycfg | cut -d: -f6,7)" "/nonexistent:/usr/sbin/nologin" \
    "postinst made the relaycfg system user (no home, no shell)"
is "$(stat -c '%a %U %G' /etc/relaycfg.conf)" "640 root relaycfg" \
    "the config: mode 0640, group relaycfg (dpkg-statoverride)"
is "$(stat -c '%a %U %G' /run/relaycfg 2>&1)" "755 relaycfg relaycfg" \
    "/run/relaycfg made from the package's tmpfiles.d entry"
out=$(/usr/sbin/relaycfg --check-config -c /etc/relaycfg.conf 2>&1)
is "$out" "/etc/relaycfg.conf: OK" "the shipped config passes --check-config"
ls /etc/systemd/system/*.wants/relaycfg* >/dev/null 2>&1
ok $(( $? == 0 )) "no unit enabled"
# Where deb-systemd-helper keeps the links it made when it enabled a unit
# (it does so for a package's units unless told --no-enable).
ls /var/lib/systemd/deb-systemd-helper-enabled/*.wants/relaycfg* >/dev/null 2>&1
ok $(( $? == 0 )) "deb-systemd-helper enabled no unit"
is "$(pgrep -fc '^/usr/sbin/relaycfg')" 0 "nothing started"

# ---- run it as systemd would -------------------------------------------------
harness_start_mariadb
harness_start_memcached
relay_new S
installed_edit_conf /etc/relaycfg.conf
out=$(/usr/sbin/relaycfg --check-config -c /etc/relaycfg.conf 2>/dev/null)
is "$out" "/etc/relaycfg.conf: OK" "the edited config passes --check-config"
RELAYCFGCTL=/usr/bin/relaycfgctl
fixture_project /etc/relaycfg.conf
user=$(sed -n 's/^User=//p' /lib/systemd/system/relaycfg.service)
group=$(sed -n 's/^Group=//p' /lib/systemd/system/relaycfg.service)
installed_activate /lib/systemd/system "" \
    setpriv --reuid="$user" --regid="$group" --init-groups
echo "$RELAYCFG_PID" >"$T/relaycfg.main"
harness_start_nginx
is "$(stat -c %U "/proc/$RELAYCFG_PID")" relaycfg "relaycfg runs as the unit's user"
is "$(readlink "/proc/$RELAYCFG_PID/exe")" /usr/sbin/relaycfg "... from the package"
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "live through nginx"
ctl_fetch S "$PK"
is "$HTTP_STATUS" 200 "signed v3 fetch (installed relaycfgctl and config)"
like "$HTTP_BODY" "\"$PK\":\\{\"disabled\":false,\"slug\":\"backend\"" \
    "the project's config, from MariaDB"
files=$(dpkg -L relaycfg | while read -r f; do [ -d "$f" ] || echo "$f"; done)

# ---- upgrade: the running relaycfg is left alone -----------------------------
# The same package at a higher version: dpkg replaces every file and runs
# the new preinst with "upgrade", the old prerm and postrm, the new postinst.
newver=$version+t1
dpkg-deb -R "$DEB" "$T/repack" &&
    sed -i "s/^Version: .*/Version: $newver/" "$T/repack/DEBIAN/control" &&
    dpkg-deb -b "$T/repack" "$T/new.deb" >"$T/repack.log" 2>&1
ok $? "the package repacked as version $newver"
is "$(sort /var/lib/relaycfg/made-by-package 2>&1 | paste -sd' ')" "group user" \
    "postinst recorded the user and group it made"
# As if installed by a build before the record: the upgrade's postinst
# records the user that build made (gecos "relaycfg"), so purge still
# takes it back.
rm -f /var/lib/relaycfg/made-by-package
: >"$T/systemd.log"
: >"$T/probe.out"
(while [ ! -e "$T/probe.stop" ]; do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 \
	    "$BASE_URL/api/0/relays/live/" >>"$T/probe.out"
	sleep 0.05
done) &
probe=$!
sd_dpkg -i "$T/new.deb" >"$T/upgrade.log" 2>&1
ok $? "dpkg -i of $newver: an upgrade"
is "$(sort /var/lib/relaycfg/made-by-package 2>&1 | paste -sd' ')" "group user" \
    "... whose postinst recorded the user an older build made"
touch "$T/probe.stop"
wait "$probe"
probe=""
is "$(dpkg-query -W -f='${Version}' relaycfg)" "$newver" "... installed"
ok $(( $(wc -l <"$T/probe.out") < 1 )) "live was asked during the upgrade"
is "$(sort -u "$T/probe.out" | paste -sd' ')" 200 \
    "... and answered 200 each time ($(wc -l <"$T/probe.out") requests)"
is "$(grep '^deb-systemd-invoke' "$T/systemd.log")" "" \
    "the upgrade asked systemd to stop or start nothing"
like "$(cat "$T/systemd.log")" '^systemctl --system daemon-reload' \
    "... but to read the new unit files"
kill -0 "$RELAYCFG_PID" 2>/dev/null
ok $? "the same relaycfg still runs"
is "$(readlink "/proc/$RELAYCFG_PID/exe")" "/usr/sbin/relaycfg (deleted)" \
    "... on its old code, until the operator restarts it"
# So is every unit; the installed run book's Upgrading restarts each
# service the package ships (relaycfg-sentry-sync.service never exits by
# itself: left alone, it would sync with the old relaycfgctl for good).
upgrading=$(sed -n '/^## Upgrading/,/^## [^U]/p' /usr/share/doc/relaycfg/RUNBOOK.md |
    tr '\n' ' ' | tr -s ' ')
for u in $(dpkg -L relaycfg | grep '^/lib/systemd/system/.*\.service$'); do
	u=${u##*/}
	u=${u%.service}
	printf '%s' "$upgrading" | grep -Eq "systemctl (try-)?restart $u\`"
	ok $? "RUNBOOK, Upgrading: restart $u after an upgrade"
done
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "live through nginx after the upgrade"
ctl_fetch S "$PK"
is "$HTTP_STATUS" 200 "a signed fetch after the upgrade"

# ---- remove: stopped ---------------------------------------------------------
: >"$T/systemd.log"
sd_dpkg --remove relaycfg >"$T/remove.log" 2>&1
ok $? "dpkg --remove"
like "$(cat "$T/systemd.log")" \
    '^deb-systemd-invoke stop relaycfg-sentry-sync\.service relaycfg\.service relaycfg\.socket$' \
    "prerm asked systemd to stop the service, the socket and sentry-sync"
# Gone, or a zombie bash has not reaped yet: wait then returns at once.
state=""
for i in $(seq 1 100); do
	state=$(awk '{print $3}' "/proc/$RELAYCFG_PID/stat" 2>/dev/null)
	[ "$state" = Z ] || [ -z "$state" ] && break
	sleep 0.1
done
if [ "$state" = Z ] || [ -z "$state" ]; then
	wait "$RELAYCFG_PID"
	is "$?" 0 "... and relaycfg stopped gracefully (SIGTERM, exit 0)"
	RELAYCFG_PID=""
else
	ok 1 "... and relaycfg stopped (still running 10 s later)"
fi

# ---- purge: nothing left -----------------------------------------------------
sd_dpkg --purge relaycfg >"$T/purge.log" 2>&1
ok $? "dpkg --purge"
purged=yes
left=$(for f in $files; do [ -e "$f" ] && echo "$f"; done)
is "$left" "" "every packaged file is gone (the edited conffile too)"
getent passwd relaycfg >/dev/null || getent group relaycfg >/dev/null
ok $(( $? == 0 )) "the relaycfg user and group are gone"
dpkg-statoverride --list /etc/relaycfg.conf >/dev/null
ok $(( $? == 0 )) "no statoverride left"
[ ! -e /usr/share/doc/relaycfg ]
ok $? "/usr/share/doc/relaycfg is gone"
[ ! -e /run/relaycfg ]
ok $? "/run/relaycfg is gone"
[ ! -e /var/lib/relaycfg ]
ok $? "/var/lib/relaycfg (postinst's record of what it made) is gone"

# ---- a relaycfg user made before the package ---------------------------------
# One made by hand without --group ("adduser --system relaycfg": primary
# group nogroup): postinst adds the relaycfg group the units (Group=) and
# the config's override need, and purge takes that group back but keeps
# the user, which is not the package's.
adduser --quiet --system --no-create-home --home /nonexistent relaycfg \
    >"$T/adduser.log" 2>&1
ok $? "a relaycfg system user made before the package, without a group"
made_user=yes
getent group relaycfg >/dev/null
ok $(( $? == 0 )) "... and no relaycfg group"
purged=no
sd_dpkg -i "$DEB" >"$T/dpkg-i-user.log" 2>&1
ok $? "dpkg -i with that user there"
is "$(dpkg-query -W -f='${Status}' relaycfg)" "install ok installed" \
    "... configured"
is "$(stat -c '%a %U %G' /etc/relaycfg.conf 2>&1)" "640 root relaycfg" \
    "... the config: mode 0640, group relaycfg"
is "$(id -un relaycfg) $(getent passwd relaycfg | cut -d: -f5)" "relaycfg " \
    "... the user left as it was"
sd_dpkg --purge relaycfg >"$T/purge-user.log" 2>&1
ok $? "dpkg --purge"
purged=yes
getent passwd relaycfg >/dev/null
ok $? "the user made before the package is kept"
getent group relaycfg >/dev/null
ok $(( $? == 0 )) "the group postinst made is gone"
deluser --quiet --system relaycfg >/dev/null 2>&1

# One made as README step 2 says (adduser --system --group): purge keeps
# both the user and its group.
adduser --quiet --system --group --no-create-home --home /nonexistent \
    relaycfg >"$T/adduser.log" 2>&1
ok $? "README step 2's relaycfg user and group, made before the package"
purged=no
sd_dpkg -i "$DEB" >"$T/dpkg-i-user2.log" 2>&1
ok $? "dpkg -i with them there"
sd_dpkg --purge relaycfg >"$T/purge-user2.log" 2>&1
ok $? "dpkg --purge"
purged=yes
is "$(id -gn relaycfg 2>&1)" relaycfg "the user and its group are kept"
is "$(grep -c deluser "$T/purge.log" "$T/purge-user.log" "$T/purge-user2.log" | paste -sd' ')" \
    "$T/purge.log:0 $T/purge-user.log:0 $T/purge-user2.log:0" \
    "purge printed nothing of deluser's"
deluser --quiet --system relaycfg >/dev/null 2>&1
delgroup --quiet --system relaycfg >/dev/null 2>&1

# A relaycfg group made before the package, with no user (made to let a
# web server's user read the socket, say): postinst makes its user in
# that group, and purge takes the user back but keeps the group.
addgroup --quiet --system relaycfg >"$T/addgroup.log" 2>&1
ok $? "a relaycfg group made before the package, with no user"
purged=no
sd_dpkg -i "$DEB" >"$T/dpkg-i-group.log" 2>&1
ok $? "dpkg -i with that group there"
is "$(id -gn relaycfg 2>&1)" relaycfg "... postinst's user is in it"
sd_dpkg --purge relaycfg >"$T/purge-group.log" 2>&1
ok $? "dpkg --purge"
purged=yes
getent passwd relaycfg >/dev/null
ok $(( $? == 0 )) "the user postinst made is gone"
getent group relaycfg >/dev/null
ok $? "the group made before the package is kept"
delgroup --quiet --system relaycfg >/dev/null 2>&1
made_user=no

done_testing
