#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tests/package/run.sh - sockit as a user installs it (`make test-package`).
#
# Each check prints one "package: ... ok" line or one "package: FAIL ..."
# line and the run goes on; the exit status is 1 if any failed.
#
#   1. make install DESTDIR=... PREFIX=/usr: every file where it belongs.
#   2. The man pages render without a warning (man --warnings, groff -ww,
#      mandoc -T lint), sockit.1 has a section for every command `sockit
#      --help` lists and names every option each one's --help prints.
#   3. The shared library exports exactly what the public headers declare.
#   4. pkg-config (PKG_CONFIG_PATH + PKG_CONFIG_SYSROOT_DIR) gives flags
#      that build tests/api/api_c.c and api_cxx.cpp against the installed
#      libsockit.so, which then serve echo over a real socket on
#      127.0.0.1 (LD_LIBRARY_PATH); --static gives what links libsockit.a;
#      libsockit(3)'s example, as the page renders it, builds, serves
#      echo and stops on SIGINT with status 0.
#   5. bash completion: `sockit se<TAB>` gives serve, and more.
#   6. The version agrees: VERSION, sockit --version, sockit.pc, and
#      debian/changelog.
#   7. make uninstall leaves no file behind; CMake builds and installs
#      the same files, sockit.pc and version.
#   8. dpkg-buildpackage -us -uc -b builds the three packages from a copy of
#      the tree, lintian reports no error on the .changes, and the
#      unpacked packages (dpkg -x) pass 2, 4 and 6 again.
#
# Needs: a C and a C++ compiler, make, pkg-config, man-db, groff-base,
# mandoc (optional, one more lint), cmake, and dpkg-dev, debhelper and
# lintian (step 8; SOCKIT_SKIP_DEB=1 skips it, saying so).  Not
# bash-completion: the completion uses none of its helpers.
set -uo pipefail
cd "$(dirname "$0")/../.."

MAKE=${MAKE:-make}
BUILD=${BUILD:-build}
CC=${CC:-cc}
CXX=${CXX:-c++}
VERSION=$(cat VERSION)
work=$(mktemp -d "${TMPDIR:-/tmp}/sockit-package.XXXXXX")
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

failures=0
ok() { echo "package: $* ok"; }
fail() { echo "package: FAIL $*"; failures=$((failures + 1)); }
skip() { echo "package: SKIP $*"; }

# check NAME COMMAND...: run COMMAND quietly; its output is shown on failure.
check() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$name"; else fail "$name"; printf '%s\n' "$out" | sed 's/^/    /'; fi
}

# A /dev/null that something replaced with a regular file (a rename over
# it as root) would turn into files what every step here throws away, and
# into the packages' maintainer scripts: say so rather than fail oddly.
if [ ! -c /dev/null ]; then
    fail "/dev/null is not a character device (restore it: mknod -m 666 /dev/null c 1 3)"
    exit 1
fi

# ---- 1. install -----------------------------------------------------------
root=$work/root
if ! $MAKE --no-print-directory -s install DESTDIR="$root" PREFIX=/usr >"$work/install.log" 2>&1; then
    fail "make install"; cat "$work/install.log"; exit 1
fi
expected="usr/bin/sockit
usr/include/sockit/$(cd include/sockit && ls *.h | tr '\n' ' ' | sed 's/ $//; s| | usr/include/sockit/|g')
usr/lib/libsockit.a
usr/lib/libsockit.so
usr/lib/libsockit.so.0
usr/lib/libsockit.so.$VERSION
usr/lib/pkgconfig/sockit.pc
usr/share/bash-completion/completions/sockit
usr/share/man/man1/sockit.1
usr/share/man/man3/libsockit.3"
installed_files() { (cd "$1" && find . ! -type d | sed 's|^\./||' | sort); }
check "install puts every file where it belongs" \
    diff <(tr ' ' '\n' <<<"$expected" | sort) <(installed_files "$root")
check "libsockit.so symlinks and soname" bash -c "
    [ \"\$(readlink $root/usr/lib/libsockit.so)\" = libsockit.so.0 ] &&
    [ \"\$(readlink $root/usr/lib/libsockit.so.0)\" = libsockit.so.$VERSION ] &&
    readelf -d $root/usr/lib/libsockit.so.$VERSION | grep -q 'SONAME.*\\[libsockit.so.0\\]'"

# ---- 2. man pages ----------------------------------------------------------
# man_clean PAGE: no warning from any formatter that is installed.
man_clean() {
    local page=$1 out
    out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null) || return 1
    [ -z "$out" ] || { echo "man: $out"; return 1; }
    case $page in *.gz) return 0 ;; esac
    out=$(groff -ww -z -mandoc "$page" 2>&1) || return 1
    [ -z "$out" ] || { echo "groff: $out"; return 1; }
    if command -v mandoc >/dev/null; then
        mandoc -T lint -W warning "$page" || return 1
    fi
}
man_pages() {
    local dir=$1 what=$2 page
    for page in "$dir"/man1/sockit.1* "$dir"/man3/libsockit.3*; do
        check "$what: $(basename "$page") renders without warnings" man_clean "$page"
    done
}
man_pages "$root/usr/share/man" "installed"
command -v mandoc >/dev/null || skip "mandoc -T lint: mandoc is not installed (apt-get install mandoc)"

# Every command and every option its --help prints is in sockit.1.
SOCKIT=$root/usr/bin/sockit
commands=$("$SOCKIT" --help | awk '/^commands:/ {c = 1; next} c && /^  [a-z]/ {print $1} c && /^$/ {exit}')
man_covers_help() {
    local page=$1 cmd opt missing=""
    for cmd in $commands; do
        grep -qx "\.Ss $cmd" "$page" || missing="$missing $cmd(no .Ss section)"
        for opt in $("$SOCKIT" "$cmd" --help | grep -oE '^ {1,8}(-[A-Za-z0-9], )?--[a-z][a-z0-9-]*' |
                     grep -oE '(-[A-Za-z0-9]|--[a-z][a-z0-9-]*)' | sort -u); do
            case $opt in -h | --help) continue ;; esac
            if [[ $opt == --* ]]; then
                grep -qE "Fl Fl ${opt#--}( |$)" "$page" || missing="$missing $cmd:$opt"
            else
                grep -qE "Fl ${opt#-}( |$)" "$page" || missing="$missing $cmd:$opt"
            fi
        done
    done
    [ -z "$missing" ] || { echo "not in $page:$missing"; return 1; }
}
check "sockit.1 documents every command and option --help shows ($(echo $commands | wc -w) commands)" \
    man_covers_help man/sockit.1

# ---- 3. exported symbols ---------------------------------------------------
# The functions and objects the public headers declare (GCC's -aux-info
# lists every declaration; static inline ones are not exported), against
# what libsockit.so exports.
exports_match() {
    local lib=$1
    echo '#include <sockit/sockit.h>' | $CC -std=c11 -I"$root/usr/include" -x c - -fsyntax-only \
        -aux-info "$work/aux.txt" || return 1
    { grep -v '^/\* /usr/include/[a-z0-9_]*[./]' "$work/aux.txt" | grep -v ' static ' |
          grep -oE '\bsk_[a-z0-9_]+ \(' | sed 's/ ($//'
      grep -ohE '^extern const [a-z]+ sk_[a-z0-9_]+' "$root"/usr/include/sockit/*.h | awk '{print $NF}'
    } | sort -u >"$work/declared"
    nm -D --defined-only "$lib" | awk '{print $3}' | sort -u >"$work/exported"
    diff "$work/declared" "$work/exported" || {
        echo "(< declared in include/sockit but not exported; > exported but not declared)"
        return 1
    }
}
if echo 'int x;' | $CC -x c - -fsyntax-only -aux-info /dev/null 2>/dev/null; then
    check "libsockit.so exports exactly the public API ($(nm -D --defined-only "$root/usr/lib/libsockit.so.$VERSION" | wc -l) symbols)" \
        exports_match "$root/usr/lib/libsockit.so.$VERSION"
else
    skip "exported symbols: $CC has no -aux-info (GCC's)"
fi

# ---- 4. pkg-config and programs against the shared library ----------------
# run_api ROOT LIBDIR LABEL: build the API programs with pkg-config's flags
# for the tree under ROOT and run them against its shared library.
run_api() {
    local r=$1 libdir=$2 label=$3 flags out
    # A sysroot's /usr/lib/<arch> is not this system's: keep its -L and -I.
    export PKG_CONFIG_PATH=$r$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$r PKG_CONFIG_LIBDIR=$r$libdir/pkgconfig
    export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
    if ! flags=$(pkg-config --cflags --libs sockit 2>&1); then
        fail "$label: pkg-config --cflags --libs sockit"; echo "    $flags"; return
    fi
    case " $flags " in
    *" -I$r/usr/include "*"-L$r$libdir "*"-lsockit "*) ok "$label: pkg-config --cflags --libs sockit: $flags" ;;
    *) fail "$label: pkg-config --cflags --libs sockit gave: $flags"; return ;;
    esac
    check "$label: pkg-config --modversion sockit is $VERSION" test "$(pkg-config --modversion sockit)" = "$VERSION"
    mkdir -p "$work/$label"
    # shellcheck disable=SC2086
    check "$label: tests/api/api_c.c builds with those flags (C11, -pedantic -Werror)" \
        $CC -std=c11 -pedantic -Werror -Wall -Wextra -o "$work/$label/api_c" tests/api/api_c.c $flags
    # shellcheck disable=SC2086
    check "$label: tests/api/api_cxx.cpp builds with those flags (C++11)" \
        $CXX -std=c++11 -pedantic -Werror -Wall -Wextra -o "$work/$label/api_cxx" tests/api/api_cxx.cpp $flags
    check "$label: api_c is linked against libsockit.so.0" \
        bash -c "readelf -d '$work/$label/api_c' | grep -q 'NEEDED.*\\[libsockit.so.0\\]'"
    for p in api_c api_cxx; do
        check "$label: $p serves echo over 127.0.0.1 with the installed libsockit.so" \
            env LD_LIBRARY_PATH="$r$libdir" timeout 60 "$work/$label/$p"
    done
    # Static: libsockit.a and what --static adds, and no libsockit.so.
    local static
    static=$(pkg-config --static --libs-only-l sockit | sed 's/-lsockit//')
    # shellcheck disable=SC2086
    check "$label: api_c links statically with libsockit.a + pkg-config --static ($static)" \
        bash -c "$CC -std=c11 -o '$work/$label/api_c_static' tests/api/api_c.c $(pkg-config --cflags sockit) \
                 '$r$libdir/libsockit.a' $static && ! readelf -d '$work/$label/api_c_static' | grep -q libsockit &&
                 timeout 60 '$work/$label/api_c_static'"
    unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR PKG_CONFIG_ALLOW_SYSTEM_CFLAGS PKG_CONFIG_ALLOW_SYSTEM_LIBS
}
run_api "$root" /usr/lib installed

# libsockit(3)'s example, as man renders it: build, serve, echo, SIGINT.
man_example() {
    local page=$1 r=$2 libdir=$3 dir=$work/example port=
    mkdir -p "$dir"
    LC_ALL=C MANWIDTH=200 man -l "$page" 2>/dev/null |
        awk '/^EXAMPLES/ {e = 1; next} /^SEE ALSO/ {e = 0} e' |
        sed -n '/^ *#include <sockit/,$p' | sed 's/^     //' >"$dir/example.c"
    grep -q sk_server_run "$dir/example.c" || { echo "no program under EXAMPLES"; return 1; }
    $CC -Wall -Wextra -Werror -o "$dir/example" "$dir/example.c" -I"$r/usr/include" \
        -L"$r$libdir" -lsockit || return 1
    LD_LIBRARY_PATH=$r$libdir "$dir/example" >"$dir/out" 2>&1 &
    local pid=$! i
    pids+=("$pid")
    for i in $(seq 100); do
        port=$(sed -n 's/^listening on 127.0.0.1 port \([0-9]*\) .*/\1/p' "$dir/out")
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || { cat "$dir/out"; return 1; }
    [ "$("$SOCKIT" echo 127.0.0.1 "$port" 'hello, libsockit')" = "hello, libsockit" ] || return 1
    kill -INT "$pid"
    wait "$pid" || { echo "the example exited $? on SIGINT"; return 1; }
}
check "libsockit(3)'s example builds, serves echo and stops on SIGINT" \
    man_example man/libsockit.3 "$root" /usr/lib

# ---- 5. bash completion ----------------------------------------------------
# complete_words FILE WORD...: what the completion offers for the last WORD.
complete_words() {
    local file=$1
    shift
    PATH=$root/usr/bin:$PATH bash --norc --noprofile -c '
        source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        _sockit; echo "${COMPREPLY[*]}"' completion "$file" "$@"
}
completion_is() {
    local want=$1 got
    shift
    got=$(complete_words "$root/usr/share/bash-completion/completions/sockit" "$@")
    [ "$got" = "$want" ] || { echo "'$*<TAB>' gave '$got', not '$want'"; return 1; }
}
check "completion: sockit se<TAB> -> serve" completion_is serve sockit se
check "completion: sockit serve ch<TAB> -> chargen chat" completion_is "chargen chat" sockit serve ch
check "completion: sockit serve echo -m ep<TAB> -> epoll" completion_is epoll sockit serve echo -m ep
check "completion: sockit serve --max-c<TAB> -> --max-clients --max-conns" \
    completion_is "--max-clients --max-conns" sockit serve --max-c
check "completion: sockit mcast <TAB> -> send recv" completion_is "send recv" sockit mcast ""
check "completion: sockit sockopt nod<TAB> -> nodelay" completion_is nodelay sockit sockopt nod

# ---- 6. one version ---------------------------------------------------------
versions_agree() {
    local r=$1 pc=$2 bin deb
    bin=$("$r/usr/bin/sockit" --version)
    deb=$(dpkg-parsechangelog -S Version 2>/dev/null || sed -n '1s/.*(\(.*\)).*/\1/p' debian/changelog)
    [ "$bin" = "sockit $VERSION" ] || { echo "sockit --version: $bin, VERSION: $VERSION"; return 1; }
    grep -qx "Version: $VERSION" "$pc" || { echo "$pc: $(grep Version: "$pc")"; return 1; }
    [ "$deb" = "$VERSION" ] || { echo "debian/changelog: $deb, VERSION: $VERSION"; return 1; }
}
check "VERSION, sockit --version, sockit.pc and debian/changelog agree ($VERSION)" \
    versions_agree "$root" "$root/usr/lib/pkgconfig/sockit.pc"
cp "$root/usr/lib/pkgconfig/sockit.pc" "$work/make.pc"

# ---- 7. uninstall -----------------------------------------------------------
uninstall_clean() {
    $MAKE --no-print-directory -s uninstall DESTDIR="$root" PREFIX=/usr || return 1
    local left
    left=$(cd "$root" && find . ! -type d)
    [ -z "$left" ] || { echo "left behind: $left"; return 1; }
}
check "make uninstall leaves no file behind" uninstall_clean

# ---- 7b. CMake installs the same files -------------------------------------
cmake_same() {
    local b=$work/cmake r=$work/cmake-root
    cmake -S . -B "$b" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR=lib >"$work/cmake.log" 2>&1 &&
        cmake --build "$b" -j 2 >>"$work/cmake.log" 2>&1 &&
        DESTDIR=$r cmake --install "$b" >>"$work/cmake.log" 2>&1 || { tail -n 30 "$work/cmake.log"; return 1; }
    diff <(tr ' ' '\n' <<<"$expected" | sort) <(installed_files "$r") || return 1
    diff <(grep -v '^#' "$r/usr/lib/pkgconfig/sockit.pc") <(sed -e 's|@PREFIX@|/usr|' -e 's|@LIBDIR@|/usr/lib|' \
        -e 's|@INCLUDEDIR@|/usr/include|' -e "s|@VERSION@|$VERSION|" \
        -e "s|@LIBS_PRIVATE@|$(grep '^Libs.private:' "$work/make.pc" | cut -d' ' -f2-)|" sockit.pc.in | grep -v '^#') ||
        return 1
    versions_agree "$r" "$r/usr/lib/pkgconfig/sockit.pc"
}
if command -v cmake >/dev/null; then
    check "CMake builds and installs the same files, sockit.pc and version" cmake_same
else
    fail "the CMake check needs cmake (apt-get install cmake)"
fi

# ---- 8. the Debian packages ------------------------------------------------
build_debs() {
    local src=$work/deb/sockit-$VERSION
    mkdir -p "$src"
    # The tree as git sees it, committed or not (but not build output).
    git ls-files --cached --others --exclude-standard -z |
        xargs -0 -I{} sh -c '[ -e "$1" ] && printf "%s\0" "$1"' _ {} |
        tar --null -cf - -T - | tar -xf - -C "$src" || return 1
    (cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/deb/build.log" 2>&1 || {
        tail -n 40 "$work/deb/build.log"; return 1; }
}
if [ "${SOCKIT_SKIP_DEB:-0}" = 1 ]; then
    skip "the .deb build: SOCKIT_SKIP_DEB=1"
elif ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null || ! command -v lintian >/dev/null; then
    fail "the .deb build needs dpkg-dev, debhelper and lintian (apt-get install dpkg-dev debhelper lintian)"
else
    arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
    if check "dpkg-buildpackage -us -uc -b builds sockit, libsockit0 and libsockit-dev" build_debs; then
        changes=$work/deb/sockit_${VERSION}_$(dpkg-architecture -qDEB_HOST_ARCH).changes
        lintian_out=$(lintian --fail-on error --info "$changes" 2>&1)
        lintian_rc=$?
        printf '%s\n' "$lintian_out" | grep -v '^running with root privileges' | sed 's/^/    lintian: /'
        if [ $lintian_rc = 0 ]; then ok "lintian reports no error"; else fail "lintian reports errors"; fi
        debroot=$work/debroot
        for deb in sockit libsockit0 libsockit-dev; do
            dpkg -x "$work/deb/${deb}_${VERSION}_$(dpkg-architecture -qDEB_HOST_ARCH).deb" "$debroot" ||
                fail "dpkg -x $deb"
        done
        check "the unpacked sockit says sockit $VERSION" \
            test "$("$debroot/usr/bin/sockit" --version)" = "sockit $VERSION"
        check "libsockit0 holds the shared library and nothing of -dev" bash -c "
            dpkg -c '$work/deb/libsockit0_${VERSION}_'*.deb | grep -q 'usr/lib/$arch/libsockit.so.0 -> ' &&
            ! dpkg -c '$work/deb/libsockit0_${VERSION}_'*.deb | grep -qE 'include|\\.a\$|libsockit.so -> '"
        man_pages "$debroot/usr/share/man" "deb"
        run_api "$debroot" "/usr/lib/$arch" deb
        check "deb: versions agree" versions_agree "$debroot" "$debroot/usr/lib/$arch/pkgconfig/sockit.pc"
    fi
fi

if [ "$failures" -gt 0 ]; then
    echo "package: $failures check(s) failed"
    exit 1
fi
echo "package: every check passed"
