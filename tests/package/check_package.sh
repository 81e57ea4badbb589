#!/usr/bin/env bash
# Checks a built Debian package as a user would meet it, without installing it: unpacks it
# with dpkg-deb -x into a temporary root, checks that every file is there (program, presets,
# desktop entry, icon, manual, man page, copyright, changelog), that its control file names its
# dependencies, that the program links no CUDA library and finds every library it does link,
# then runs the unpacked program: --help, a lesson by name (the presets found next to the
# program, not in the source tree), --device cuda's one-line answer on a machine without a GPU.
# Last, lintian: no errors.
#   bash tests/package/check_package.sh checkpointlab_0.1.0_amd64.deb
set -euo pipefail
deb=$(readlink -f "$1")
cd "$(dirname "$0")/../.."
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
fail() { echo "check_package: $*" >&2; exit 1; }

dpkg-deb -x "$deb" "$root"
control=$(dpkg-deb -f "$deb")
for f in usr/bin/checkpointlab usr/share/checkpointlab/presets/lesson1_activations.json \
         usr/share/applications/checkpointlab.desktop usr/share/icons/hicolor/scalable/apps/checkpointlab.svg \
         usr/share/doc/checkpointlab/manual/index.md usr/share/doc/checkpointlab/manual/conventions.md \
         usr/share/doc/checkpointlab/copyright usr/share/doc/checkpointlab/changelog.gz \
         usr/share/man/man1/checkpointlab.1.gz; do
  [ -e "$root/$f" ] || fail "$f is not in the package"
done
[ "$(ls "$root/usr/share/checkpointlab/presets" | wc -l)" = "$(ls resources/presets | wc -l)" ] \
  || fail "the package does not hold every preset"
[ "$(ls "$root/usr/share/doc/checkpointlab/manual" | wc -l)" = "$(ls resources/manual | wc -l)" ] \
  || fail "the package does not hold every manual page"
for dep in libqt6core6 libqt6widgets6 libqcustomplot libopenblas0-openmp qt6-qpa-plugins; do
  grep -q "^Depends:.*$dep" <<<"$control" || fail "Depends does not name $dep: $(grep '^Depends' <<<"$control")"
done
grep -qi "cuda" <<<"$(grep '^Depends' <<<"$control")" && fail "CUDA must stay optional: $(grep '^Depends' <<<"$control")"

bin="$root/usr/bin/checkpointlab"
if readelf -d "$bin" | grep -E "NEEDED.*(cuda|cublas)"; then fail "the program links a CUDA library"; fi
if ldd "$bin" | grep "not found"; then fail "the program misses a library"; fi
if readelf -d "$bin" | grep -E "R(UN)?PATH" | grep -vE "\[/usr/lib/[a-z0-9_]+-linux-gnu/openblas-openmp\]"; then
  fail "an unexpected library search path"
fi
zcat "$root/usr/share/man/man1/checkpointlab.1.gz" | grep -q "^\.SH \"CHECKPOINTLAB RUN\"" \
  || fail "the man page lacks the run command"

# The unpacked program, from a folder outside the source tree.
cd "$root"
help=$("$bin" --help)
grep -q "^SYNOPSIS" <<<"$help" || fail "--help printed no SYNOPSIS"
# A preset that only the package has proves the presets are found next to the program.
cp usr/share/checkpointlab/presets/lesson1_activations.json usr/share/checkpointlab/presets/zz_package_check.json
run=$("$bin" run zz_package_check --steps 1 2>&1) || fail "run zz_package_check failed: $run"
grep -qE "peak +6\.58 MiB" <<<"$run" || fail "lesson 1 does not peak at 6.58 MiB: $run"
run=$("$bin" run lesson1_activations --checkpoint none 2>&1) || fail "run lesson1_activations failed: $run"
grep -qE "peak +22\.39 MiB" <<<"$run" || fail "lesson 1 unchecked does not peak at 22.39 MiB: $run"
# Without a GPU (CI's machine), --device cuda is a one-line error saying CUDA is optional.
if ! nvidia-smi >/dev/null 2>&1; then
  set +e
  cuda=$("$bin" run lesson1_activations --device cuda 2>&1)
  rc=$?
  set -e
  [ "$rc" -ne 0 ] && [ "$(wc -l <<<"$cuda")" -eq 1 ] && grep -q "CUDA is optional" <<<"$cuda" \
    || fail "--device cuda without a GPU: exit $rc, $cuda"
fi
cd - >/dev/null

lintian --fail-on error "$deb" || fail "lintian reports errors"
echo "check_package: $(basename "$deb") unpacks, runs lesson 1 from its own presets and passes lintian"
