#!/usr/bin/env bash
# Raspberry Pi (arm64) proof of the fakeface edge runtime, under QEMU user emulation.
#
# Builds (or reuses) a Debian bookworm arm64 root with debootstrap + qemu-user-static,
# installs this repository's [edge,dev] extras there from PyPI as aarch64 wheels, runs
# the edge test suite, then runs `fakeface check --json` on 15 photos made from the sample
# photo (group photos, photos without a face...), one photo of each ../shared/data/faces
# source when that folder exists, and any images given, both in the arm64 root and on
# this x86 host, and compares the two.  Debian comes from this machine's apt sources
# (ARM64_MIRROR=URL overrides).
#
#   sudo tests/arm64/run_arm64.sh [--fresh] [--pi 4|5] [--root DIR] [--host-fakeface CMD]
#                                 [--data DIR] [--no-tests] [--pytest-args ARGS] [IMAGE|DIR ...]
#
# Emulated timings are NOT latency: QEMU on x86 says nothing about a real Pi's speed.
# See tests/arm64/README.md.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${ARM64_CACHE:-/var/tmp/fakeface-arm64}
ROOT=${ARM64_ROOT:-$CACHE/root}
SUITE=bookworm
PI=${ARM64_PI:-4}                  # which Raspberry Pi's CPU QEMU and /proc/cpuinfo pretend to be
PYTEST_ARGS=""
IN_ROOT=/opt/fakeface              # everything of ours inside the arm64 root lives here
VENV=$IN_ROOT/venv
FRESH=0
RUN_TESTS=1
DATA_DIR=""
HOST_FAKEFACE=${HOST_FAKEFACE:-}
HOST_PYTHON=${HOST_PYTHON:-}        # makes the photo set; default: the x86 fakeface's python
SHARED_DATA=${ARM64_SHARED_DATA-$REPO/../shared/data}  # its faces/*/* add real photos; empty: none
IMAGES=()
PHOTOS=""                          # the generated photo set, a temporary folder

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case $1 in
        --fresh) FRESH=1 ;;
        --root) ROOT=$2; shift ;;
        --pi) PI=$2; shift ;;
        --pytest-args) PYTEST_ARGS=$2; shift ;;
        --host-fakeface) HOST_FAKEFACE=$2; shift ;;
        --data) DATA_DIR=$2; shift ;;
        --no-tests) RUN_TESTS=0 ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "run_arm64: FAILED: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) IMAGES+=("$1") ;;
    esac
    shift
done
ROOT=${ROOT%/}
case $PI in
    4) QEMU_CPU_MODEL=cortex-a72 ;;   # BCM2711
    5) QEMU_CPU_MODEL=cortex-a76 ;;   # BCM2712
    *) echo "run_arm64: FAILED: --pi takes 4 or 5, not $PI" >&2; exit 2 ;;
esac
CPUINFO="$HERE/pi$PI-cpuinfo.txt"
LOGS=$CACHE/logs
OUT=$CACHE/out

say() { printf '[arm64] %s\n' "$*"; }
die() { printf 'run_arm64: FAILED: %s\n' "$*" >&2; exit 1; }

# ---- phases: timed, and a failure names the phase in one line -------------------------
PHASE=setup
PHASE_T0=$SECONDS
T_START=$SECONDS
TIMES=()
phase() { PHASE=$1; PHASE_T0=$SECONDS; say "== $1"; }
phase_done() { TIMES+=("$(printf '  %-24s %5ds' "$PHASE" $((SECONDS - PHASE_T0)))"); }
# (only the main shell speaks: subshells failing inside `|| die` must not add noise)
trap 'rc=$?; [ "$BASH_SUBSHELL" = 0 ] && printf "run_arm64: FAILED in phase %s: \`%s\` exited %d\n" "$PHASE" "$BASH_COMMAND" "$rc" >&2' ERR

# Run a noisy command with its output in $LOGS/<name>.log; on failure show the tail.
logged() {
    local name=$1; shift
    local log="$LOGS/$name.log"
    if ! "$@" >"$log" 2>&1; then
        tail -n 25 "$log" | sed 's/^/    | /' >&2
        die "$name failed in phase $PHASE (full log: $log)"
    fi
}

# ---- mounts: every one is recorded and undone on exit, whatever happens ----------------
MOUNTS=()
BINFMT_MOUNTED=0
do_mount() {  # do_mount <mount args...> <target>
    mount "$@"
    MOUNTS+=("${@: -1}")
}
mounts_under() {  # mount points at or below $1, innermost (latest) first
    awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | tac
}
unmount_all_under() {
    local m
    for m in $(mounts_under "$1"); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
}
cleanup() {
    local rc=$? i
    set +e
    trap - ERR
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" 2>/dev/null
    done
    unmount_all_under "$ROOT"
    unmount_all_under "$ROOT.partial"
    [ -n "$PHOTOS" ] && rm -rf "$PHOTOS"
    if [ "$BINFMT_MOUNTED" = 1 ]; then
        umount /proc/sys/fs/binfmt_misc 2>/dev/null  # registrations stay in the kernel
    fi
    if [ "$rc" != 0 ] && [ ${#TIMES[@]} -gt 0 ]; then
        echo "[arm64] phase times before the failure (emulated, not latency):" >&2
        printf '%s\n' "${TIMES[@]}" >&2
    fi
    local left
    left=$(mounts_under "$ROOT"; mounts_under "$ROOT.partial")
    if [ -n "$left" ]; then
        echo "run_arm64: FAILED: could not unmount: $(echo $left)" >&2
        rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

remove_root_dir() {  # never rm a tree that still has something mounted in it
    local dir=$1
    [ -e "$dir" ] || return 0
    unmount_all_under "$dir"
    [ -z "$(mounts_under "$dir")" ] || die "refusing to delete $dir: something is still mounted in it"
    rm -rf --one-file-system "$dir"
}

chroot_env() {  # the environment commands see inside the root: clean, plus pip/proxy settings
    local k
    CHROOT_ENV=(PATH="$VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 TMPDIR=/tmp
                QEMU_CPU="$QEMU_CPU_MODEL")  # the Pi's instruction set, so libraries pick its kernels
    for k in $(compgen -e); do
        case $k in
            PIP_*|http_proxy|https_proxy|no_proxy|HTTP_PROXY|HTTPS_PROXY|NO_PROXY) CHROOT_ENV+=("$k=${!k}") ;;
        esac
    done
}
in_root() { chroot "$ROOT" /usr/bin/env -i "${CHROOT_ENV[@]}" "$@"; }

# The first Debian archive this machine's apt uses: one-line `deb` entries in
# sources.list and sources.list.d/*.list, deb822 stanzas in sources.list.d/*.sources
# (Enabled: no skipped).  A Debian archive is an http(s)/ftp URI serving a Debian suite
# (bookworm, trixie, stable... or their -updates); security archives are skipped, since
# debootstrap needs the main one.  Prints nothing when there is none (e.g. an Ubuntu host).
host_debian_mirror() {
    local files=() f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && [ -r "$f" ] && files+=("$f")
    done
    [ ${#files[@]} -gt 0 ] || return 0
    awk '
        function debian_suite(suite) {
            sub(/-(updates|backports|proposed-updates)$/, "", suite)
            return suite ~ /^(buster|bullseye|bookworm|trixie|forky|duke|sid|oldoldstable|oldstable|stable|testing|unstable)$/
        }
        function take(uri, suites,   n, i, list) {
            if (found || uri !~ /^(https?|ftp):\/\// || uri ~ /security/) return
            n = split(suites, list, /[ \t]+/)
            for (i = 1; i <= n; i++) if (debian_suite(list[i])) { print uri; found = 1; exit }
        }
        function stanza_end(   n, i, uris) {
            if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled !~ /^(no|false|0)$/) {
                n = split(uri_list, uris, /[ \t]+/)
                for (i = 1; i <= n; i++) take(uris[i], suites)
            }
            types = uri_list = suites = enabled = ""
        }
        FNR == 1 { stanza_end() }
        FILENAME ~ /[.]sources$/ {
            if ($0 ~ /^[ \t]*$/) { stanza_end(); next }
            if ($0 ~ /^#/ || !match($0, /^[A-Za-z-]+:/)) next   # comments, continuation lines
            key = tolower(substr($0, 1, RLENGTH - 1)); value = substr($0, RLENGTH + 1)
            gsub(/^[ \t]+|[ \t]+$/, "", value)
            if (key == "types") types = value
            else if (key == "uris") uri_list = value
            else if (key == "suites") suites = value
            else if (key == "enabled") enabled = tolower(value)
            next
        }
        /^[ \t]*deb[ \t]/ {
            line = $0
            sub(/^[ \t]*deb[ \t]+/, "", line)
            sub(/^\[[^]]*\][ \t]*/, "", line)   # [arch=... signed-by=...]
            split(line, word, /[ \t]+/)
            take(word[1], word[2])
        }
        END { if (!found) stanza_end() }
    ' "${files[@]}"
}

# The proxy apt is configured with (Acquire::http::Proxy), for debootstrap, which reads
# only http_proxy; nothing when the environment already sets one.
apt_http_proxy() {
    [ -z "${http_proxy:-}" ] || return 0
    command -v apt-config >/dev/null || return 0
    # (awk reads to the end: an early exit would end apt-config with SIGPIPE under pipefail)
    apt-config dump 2>/dev/null | awk -F'"' '/^Acquire::http::Proxy "/ && $2 != "DIRECT" && $2 != "" && !seen++ { print $2 }'
}

# =======================================================================================
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, mount and chroot need it)"
[ -f "$CPUINFO" ] || die "missing $CPUINFO"
mkdir -p "$CACHE" "$LOGS" "$OUT"
exec 9>"$CACHE/.lock"
flock -n 9 || die "another run_arm64.sh holds $CACHE/.lock"
# A run killed with SIGKILL cannot clean up: undo what it left before anything else.
unmount_all_under "$ROOT"
unmount_all_under "$ROOT.partial"
[ -z "$(mounts_under "$ROOT")" ] || die "stale mounts under $ROOT could not be removed"

# Resolve the x86 reference before spending minutes on the root.
if [ -z "$HOST_FAKEFACE" ]; then
    for c in "$REPO/.venv-edge/bin/fakeface" /work/venvs/edge/bin/fakeface "$(command -v fakeface || true)"; do
        if [ -n "$c" ] && [ -x "$c" ]; then HOST_FAKEFACE=$c; break; fi
    done
fi
[ -n "$HOST_FAKEFACE" ] || die "no x86 fakeface to compare with: pass --host-fakeface CMD or run 'make test-edge' first"

# Inputs to compare: the sample photo, then the given files (folders: their images, sorted).
HOST_IMAGES=("$REPO/edge/assets/astronaut.jpg")
for a in "${IMAGES[@]}"; do
    if [ -d "$a" ]; then
        while IFS= read -r f; do HOST_IMAGES+=("$f"); done < <(find "$a" -maxdepth 1 -type f \
            \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.webp' -o -iname '*.bmp' \) | sort)
    elif [ -f "$a" ]; then
        HOST_IMAGES+=("$(cd "$(dirname "$a")" && pwd)/$(basename "$a")")
    else
        die "no such image: $a"
    fi
done

# The photo set: made from the sample photo on this host, the same files for both sides.
if [ -z "$HOST_PYTHON" ]; then
    fakeface_bin=$(command -v "${HOST_FAKEFACE%% *}" || true)
    if [ -n "$fakeface_bin" ] && [ -x "$(dirname "$fakeface_bin")/python" ]; then
        HOST_PYTHON=$(dirname "$fakeface_bin")/python
    elif [ -n "$fakeface_bin" ]; then
        HOST_PYTHON=$(sed -n '1s/^#![[:space:]]*//p' "$fakeface_bin")
    fi
fi
"${HOST_PYTHON:-false}" -c 'import cv2, numpy' 2>/dev/null \
    || die "no x86 python with OpenCV and numpy to make the photo set (set HOST_PYTHON=...)"
PHOTOS=$(mktemp -d /tmp/fakeface-arm64-photos.XXXXXX)
"$HOST_PYTHON" "$HERE/make_photos.py" "$REPO/edge/assets/astronaut.jpg" "$PHOTOS" >"$LOGS/make-photos.log" 2>&1 \
    || die "make_photos.py failed: $(tail -n 1 "$LOGS/make-photos.log")"
while read -r name _; do HOST_IMAGES+=("$PHOTOS/$name"); done <"$LOGS/make-photos.log"
# One photo of each source in the face data, when it is beside the repository (read-only).
if [ -n "$SHARED_DATA" ] && [ -d "$SHARED_DATA/faces" ]; then
    for source_dir in "$SHARED_DATA"/faces/*/*/; do
        f=$(find "$source_dir" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.webp' \) \
            | LC_ALL=C sort | sed -n 1p)  # (sed reads it all: head would end sort with SIGPIPE under pipefail)
        [ -n "$f" ] && HOST_IMAGES+=("$f")
    done
fi
say "comparing ${#HOST_IMAGES[@]} photos ($(wc -l <"$LOGS/make-photos.log") made from the sample photo)"

phase "host packages"
missing=0
for tool in debootstrap update-binfmts qemu-aarch64-static; do
    command -v "$tool" >/dev/null || missing=1
done
if [ "$missing" = 1 ]; then
    say "installing debootstrap qemu-user-static binfmt-support from Debian"
    logged apt-install bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap qemu-user-static binfmt-support'
fi
phase_done

phase "binfmt"
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc"
    BINFMT_MOUNTED=1
fi
REG=/proc/sys/fs/binfmt_misc/qemu-aarch64
if [ ! -e "$REG" ]; then
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
fi
if [ ! -e "$REG" ]; then
    # Same entry Debian's qemu-user-static ships; F opens the interpreter now, so the
    # chroot needs no copy of qemu.
    interp=/usr/libexec/qemu-binfmt/aarch64-binfmt-P
    [ -x "$interp" ] || interp=$(command -v qemu-aarch64-static)
    printf ':qemu-aarch64:M::\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:%s:PF\n' \
        "$interp" > /proc/sys/fs/binfmt_misc/register || die "cannot register qemu-aarch64 with binfmt_misc"
fi
grep -q '^enabled' "$REG" || die "qemu-aarch64 binfmt entry is disabled ($REG)"
grep -q '^flags:.*F' "$REG" || die "qemu-aarch64 binfmt entry lacks the F (fix-binary) flag, so it cannot work inside a chroot"
phase_done

phase "debootstrap"
if [ "$FRESH" = 1 ]; then
    say "--fresh: deleting $ROOT"
    remove_root_dir "$ROOT"
fi
if [ -f "$ROOT/.fakeface-root-ok" ]; then
    say "reusing $ROOT (--fresh rebuilds it)"
else
    remove_root_dir "$ROOT"
    remove_root_dir "$ROOT.partial"
    # This machine's own Debian mirror, so a local mirror or apt proxy serves the root too.
    MIRROR=${ARM64_MIRROR:-$(host_debian_mirror)}
    [ -n "$MIRROR" ] || die "no Debian archive in /etc/apt/sources.list or /etc/apt/sources.list.d/ to debootstrap from: set ARM64_MIRROR=URL (a Debian mirror serving $SUITE arm64)"
    PROXY_ENV=()
    apt_proxy=$(apt_http_proxy)
    [ -n "$apt_proxy" ] && PROXY_ENV=("http_proxy=$apt_proxy")
    say "debootstrap --arch=arm64 $SUITE from $MIRROR${apt_proxy:+ through the apt proxy $apt_proxy} (log: $LOGS/debootstrap.log)"
    logged debootstrap env "${PROXY_ENV[@]}" debootstrap --arch=arm64 --variant=minbase \
        --include=python3,python3-venv,ca-certificates "$SUITE" "$ROOT.partial" "$MIRROR"
    unmount_all_under "$ROOT.partial"
    mv "$ROOT.partial" "$ROOT"
    touch "$ROOT/.fakeface-root-ok"
fi
phase_done

phase "prepare root"
# Network and pip settings of the host, so pip reaches PyPI the way the host does.
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
cp -L /etc/hosts "$ROOT/etc/hosts" 2>/dev/null || true
for ca in /etc/ssl/certs/ca-certificates.crt "${PIP_CERT:-}" "${REQUESTS_CA_BUNDLE:-}" "${SSL_CERT_FILE:-}"; do
    if [ -n "$ca" ] && [ -f "$ca" ]; then mkdir -p "$ROOT$(dirname "$ca")"; cp -L "$ca" "$ROOT$ca"; fi
done
[ -f /etc/pip.conf ] && cp -L /etc/pip.conf "$ROOT/etc/pip.conf"
if [ -d /etc/xdg/pip ]; then mkdir -p "$ROOT/etc/xdg"; rm -rf "$ROOT/etc/xdg/pip"; cp -rL /etc/xdg/pip "$ROOT/etc/xdg/pip"; fi
for f in "$HOME/.config/pip/pip.conf" "$HOME/.pip/pip.conf" "${PIP_CONFIG_FILE:-}"; do
    if [ -n "$f" ] && [ -f "$f" ]; then mkdir -p "$ROOT$(dirname "$f")"; cp -L "$f" "$ROOT$f"; fi
done
# A copy of the working tree (tracked + untracked, minus ignored): building in the copy
# keeps build/ and egg-info out of the host's checkout.
rm -rf "$ROOT$IN_ROOT/main" "$ROOT$IN_ROOT/images"
mkdir -p "$ROOT$IN_ROOT/main" "$ROOT$IN_ROOT/images" "$ROOT$IN_ROOT/out"
if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$REPO" ls-files -z -c -o --exclude-standard | while IFS= read -r -d '' f; do
        [ -e "$REPO/$f" ] && printf '%s\0' "$f"
    done | tar -C "$REPO" --null -T - -cf - | tar -C "$ROOT$IN_ROOT/main" -xf -
else
    tar -C "$REPO" --exclude=.git --exclude='.venv*' --exclude=build --exclude='*.egg-info' \
        --exclude=__pycache__ -cf - . | tar -C "$ROOT$IN_ROOT/main" -xf -
fi
ROOT_IMAGES=("$IN_ROOT/main/edge/assets/astronaut.jpg")
for ((i = 1; i < ${#HOST_IMAGES[@]}; i++)); do
    name=$(printf '%02d_%s' "$i" "$(basename "${HOST_IMAGES[i]}")")
    cp -L "${HOST_IMAGES[i]}" "$ROOT$IN_ROOT/images/$name"
    ROOT_IMAGES+=("$IN_ROOT/images/$name")
done
do_mount -t proc proc "$ROOT/proc"
# onnxruntime (its cpuinfo library) crashes on QEMU's x86 /proc/cpuinfo: show it a Pi 4's.
do_mount --bind "$CPUINFO" "$ROOT/proc/cpuinfo"
# ...and a /sys holding only the CPU lists cpuinfo needs, rather than the host's sysfs.
do_mount -t tmpfs -o size=64k,mode=755 fakeface-sys "$ROOT/sys"
mkdir -p "$ROOT/sys/devices/system/cpu"
ncpu=$(grep -c '^processor' "$CPUINFO")
for f in possible present online; do echo "0-$((ncpu - 1))" > "$ROOT/sys/devices/system/cpu/$f"; done
do_mount --bind /dev "$ROOT/dev"
if [ -n "$DATA_DIR" ]; then
    [ -d "$DATA_DIR" ] || die "--data $DATA_DIR is not a folder"
    mkdir -p "$ROOT$IN_ROOT/shared/data"   # = ../shared/data beside the repo copy, as in CI
    do_mount --bind "$DATA_DIR" "$ROOT$IN_ROOT/shared/data"
    mount -o remount,bind,ro "$ROOT$IN_ROOT/shared/data"
fi
chroot_env
arch=$(in_root uname -m) || die "cannot run arm64 binaries in $ROOT (binfmt/qemu)"
[ "$arch" = aarch64 ] || die "the root reports machine '$arch', not aarch64"
phase_done

phase "pip install"
PYPROJECT_SUM=$(sha256sum "$REPO/pyproject.toml" | cut -c1-16)
if [ ! -x "$ROOT$VENV/bin/python" ]; then
    logged venv in_root python3 -m venv "$VENV"
fi
if [ ! -f "$ROOT$VENV/.deps-$PYPROJECT_SUM" ]; then
    say "installing .[edge,dev] from PyPI (aarch64 wheels; log: $LOGS/pip-deps.log)"
    rm -f "$ROOT$VENV"/.deps-*
    # bookworm's venv seeds setuptools 66; the project needs >=68 to build.
    logged pip-deps in_root bash -c "cd $IN_ROOT/main && pip install --no-compile 'setuptools>=68' wheel && pip install --no-compile '.[edge,dev]'"
    touch "$ROOT$VENV/.deps-$PYPROJECT_SUM"
else
    say "dependencies already match pyproject.toml; reinstalling only fakeface"
    logged pip-project in_root bash -c "cd $IN_ROOT/main && pip install --no-compile --no-deps --force-reinstall --no-build-isolation ."
fi
if in_root python -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("tensorflow") is None)'; then
    die "TensorFlow is installed in the arm64 edge environment"
fi
in_root python - <<'EOF' | tee "$OUT/arm64-versions.txt" | sed 's/^/  /' || die "an edge dependency does not import under arm64 emulation"
import os, platform, sys
import numpy, cv2, onnxruntime, ai_edge_litert
from ai_edge_litert.interpreter import Interpreter  # noqa: F401  (the backend the CLI uses)
print(f"{platform.machine()} (QEMU_CPU={os.environ.get('QEMU_CPU')}) python {platform.python_version()} numpy {numpy.__version__} "
      f"opencv {cv2.__version__} onnxruntime {onnxruntime.__version__} "
      f"ai-edge-litert {getattr(ai_edge_litert, '__version__', '?')}")
EOF
phase_done

TEST_SUMMARY="not run (--no-tests)"
if [ "$RUN_TESTS" = 1 ]; then
    phase "edge tests"
    say "FAKEFACE_EDGE_ONLY=1 python -m pytest -m 'not tf' (log: $LOGS/pytest.log)"
    rc=0  # (`cmd || rc=$?`: a failure is recorded, not fatal, and does not fire the ERR trap)
    in_root bash -c "cd $IN_ROOT/main && FAKEFACE_EDGE_ONLY=1 FAKEFACE_EMULATED=qemu python -m pytest -q -ra -m 'not tf' -p no:cacheprovider --durations=10 $PYTEST_ARGS" \
        2>&1 | tee "$LOGS/pytest.log" || rc=$?
    TEST_SUMMARY=$(grep -E '(passed|failed|error|skipped|no tests ran).* in [0-9.]+s' "$LOGS/pytest.log" | tail -n 1 | tr -d '=' | sed 's/^ *//;s/ *$//' || true)
    [ "$rc" = 0 ] || die "edge test suite failed under arm64 emulation: ${TEST_SUMMARY:-pytest exit $rc} (log: $LOGS/pytest.log)"
    phase_done
fi

# The shipped model on its default backend; the .onnx one too when it is shipped.
BACKENDS=(auto)
[ -f "$REPO/edge/models/fakeface.onnx" ] && BACKENDS+=(onnxruntime)
DIFFS=()
for backend in "${BACKENDS[@]}"; do
    phase "check arm64 ($backend)"
    rc=0
    in_root fakeface check "${ROOT_IMAGES[@]}" --backend "$backend" --json \
        >"$OUT/arm64-$backend.jsonl" 2>"$LOGS/check-arm64-$backend.err" || rc=$?
    if [ "$rc" -ge 2 ]; then
        sed 's/^/    | /' "$LOGS/check-arm64-$backend.err" >&2
        die "fakeface check --backend $backend exited $rc in the arm64 root: $(tail -n 1 "$LOGS/check-arm64-$backend.err")"
    fi
    phase_done

    phase "check x86 ($backend)"
    rc=0
    $HOST_FAKEFACE check "${HOST_IMAGES[@]}" --backend "$backend" --json \
        >"$OUT/x86-$backend.jsonl" 2>"$LOGS/check-x86-$backend.err" || rc=$?
    if [ "$rc" -ge 2 ]; then
        sed 's/^/    | /' "$LOGS/check-x86-$backend.err" >&2
        die "host fakeface check --backend $backend ($HOST_FAKEFACE) exited $rc: $(tail -n 1 "$LOGS/check-x86-$backend.err")"
    fi
    phase_done

    phase "compare ($backend)"
    line=$(python3 "$HERE/compare_checks.py" "$OUT/x86-$backend.jsonl" "$OUT/arm64-$backend.jsonl" \
        --prob-tol 1e-3 --min-iou 0.99 --min-images 10 --varied --label "$backend" | tee "$OUT/compare-$backend.txt" | tail -n 1) \
        || { sed 's/^/    | /' "$OUT/compare-$backend.txt" >&2; die "x86 and arm64 disagree ($backend): $line"; }
    sed 's/^/  /' "$OUT/compare-$backend.txt"
    DIFFS+=("$line")
    phase_done
done

echo
say "phase times (QEMU emulation on $(uname -m): NOT Raspberry Pi latency, do not report them as such)"
printf '%s\n' "${TIMES[@]}"
printf '  %-24s %5ds\n' total $((SECONDS - T_START))
say "tests: $TEST_SUMMARY"
for d in "${DIFFS[@]}"; do say "$d"; done
say "OK: arm64 (bookworm, emulated) matches x86 on ${#HOST_IMAGES[@]} image(s); outputs in $OUT"
