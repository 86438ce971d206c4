#!/usr/bin/env bash
# Build pinrace's container image and run it, the way CI does on a machine that reaches no
# image registry: a base image made from Debian's packages (debootstrap), podman to build
# and run the Dockerfile, and the app asked from outside the container.
#   sudo bash scripts/container_smoke.sh        # needs root: debootstrap, rootful podman
# (With Docker and a registry a user needs none of this: see the Dockerfile's first lines.)
#
# Exit 0 when the image builds, runs as a non-root user and answers; exit 1 when it does
# not.  When this machine cannot run containers at all (not root, podman or debootstrap not
# installable, Debian's packages unreachable, podman unable to start even the base image),
# it prints "container: SKIPPED: <why>" and exits 0, so that alone never fails CI.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "container: $*" >&2; }
skip() { say "SKIPPED: $*"; exit 0; }
fail() { say "FAIL $*"; exit 1; }

SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# podman on these machines (root without CAP_SYS_RESOURCE, cgroups in hybrid mode, no systemd):
# without these, "setrlimit RLIMIT_NOFILE: Operation not permitted" or "cgroups in hybrid
# mode not supported" (shared notes: containers.md)
P=(podman --cgroup-manager cgroupfs --runtime runc)
L=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
id=$$-$(date +%s)
base=localhost/pinrace-ci-base:$id
image=localhost/pinrace-ci:$id
name=pinrace-ci-$id
work=$(mktemp -d)

cleanup() {
  local rc=$?
  "${P[@]}" rm -f "$name" >/dev/null 2>&1 || true
  "${P[@]}" rmi -f "$image" "$base" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || skip "not root: debootstrap and rootful podman need root"
missing=()
for tool in podman debootstrap runc; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} from Debian's packages"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman debootstrap runc >/dev/null; } \
    2>"$work/apt.err" || skip "could not install ${missing[*]}: $(tail -n 2 "$work/apt.err" | tr '\n' ' ')"
fi

t0=$SECONDS
say "building a $SUITE base with python3, python3-venv, python3-pip (debootstrap from $MIRROR)"
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip "$SUITE" "$work/rootfs" "$MIRROR" \
  >"$work/debootstrap.log" 2>&1 \
  || skip "debootstrap failed: $(tail -n 3 "$work/debootstrap.log" | tr '\n' ' ')"
# The base trusts what this machine trusts: a site whose HTTPS goes through its own CA
# (as here) must let pip in the image reach PyPI.  A registry's base image brings its own.
cp /etc/ssl/certs/ca-certificates.crt "$work/rootfs/etc/ssl/certs/ca-certificates.crt"
tar -C "$work/rootfs" -c . | "${P[@]}" import -q --change "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt" - "$base" \
  >/dev/null 2>"$work/import.err" || skip "podman cannot import an image: $(tail -n 2 "$work/import.err" | tr '\n' ' ')"
rm -rf "$work/rootfs"
"${P[@]}" run --rm "${L[@]}" "$base" python3 -c 'import venv' >/dev/null 2>"$work/run.err" \
  || skip "podman cannot run a container here: $(tail -n 2 "$work/run.err" | tr '\n' ' ')"
say "base ready in $((SECONDS - t0)) s"

t0=$SECONDS
say "podman build --build-arg BASE=$base (the wheel, built and installed in the image)"
"${P[@]}" build -q --format docker --layers=false --network host "${L[@]}" --build-arg "BASE=$base" -t "$image" . \
  >"$work/build.log" 2>&1 || { tail -n 30 "$work/build.log" >&2; fail "the image did not build"; }
say "image built in $((SECONDS - t0)) s: $("${P[@]}" image inspect "$image" --format '{{.Size}}' | awk '{printf "%d MB", $1/1e6}')"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
say "podman run -p 127.0.0.1:$port:8000 (the image's own command)"
# healthchecks are run by hand below: podman would start them with systemd timers, absent here
"${P[@]}" run -d --name "$name" "${L[@]}" -p "127.0.0.1:$port:8000" "$image" >/dev/null 2>"$work/run.err" \
  || fail "the container did not start: $(tail -n 3 "$work/run.err" | tr '\n' ' ')"
# the image must list every built-in the checkout has
builtins=$(find protocols -maxdepth 1 -name '*.litmus' | wc -l)
python3 scripts/ask_app.py "http://127.0.0.1:$port" --same-as frontend --builtins "$builtins" \
  || { "${P[@]}" logs "$name" 2>&1 | tail -n 20 >&2; fail "the container answered wrong"; }

uid=$("${P[@]}" exec "$name" id -u)
[ "$uid" != 0 ] || fail "the app runs as root"
say "ok   the app runs as uid $uid ($("${P[@]}" exec "$name" id -un)), not root"
where=$("${P[@]}" exec "$name" python3 -c 'import pinrace; print(pinrace.__file__)')
case "$where" in */site-packages/pinrace/__init__.py) ;; *) fail "pinrace is not installed from the wheel: $where" ;; esac
say "ok   pinrace installed from its wheel: $where"
"${P[@]}" healthcheck run "$name" 2>/dev/null || fail "the image's HEALTHCHECK reports unhealthy"
say "ok   the image's HEALTHCHECK passes"
say "passed"
