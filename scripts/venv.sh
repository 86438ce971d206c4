# Sourced by serve.sh and test.sh: make or reuse the checkout's own virtual environment,
# .venv/, and install pinrace into it (editable, so edits to server/, protocols/ and frontend/
# need no reinstall).  A venv, never the system interpreter: Debian's python3 refuses pip
# installs into itself (PEP 668, "externally-managed-environment").
#
#   ensure_venv TAG EXTRAS    e.g. ensure_venv serve ""  or  ensure_venv test "[test]"
#
# The install is skipped when .venv/pinrace-install.stamp records the same pyproject.toml
# (and the same extras or more): a second start costs no pip run.  PINRACE_VENV overrides
# the folder; PYTHON the interpreter that creates it (default python3).
# Every step says one line on stderr, prefixed with TAG.

VENV="${PINRACE_VENV:-.venv}"
SHOWN=$VENV  # as the user named it, for messages
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
STAMP="$VENV/pinrace-install.stamp"

say() { echo "$TAG: $*" >&2; }

# the stamp: what the install depended on.  Dependencies and entry points live in
# pyproject.toml; the code itself is linked, not copied, so it needs no entry here.
_want_stamp() {
  local extras=$1
  # the checkout's path too: a venv's scripts name their interpreter by absolute path, so a
  # moved checkout needs a new venv
  printf 'checkout %s\npyproject %s\nextras %s\n' "$PWD" "$(sha256sum pyproject.toml | cut -d' ' -f1)" \
    "${extras:-none}"
}

_venv_broken() {
  # python3 -m venv without Debian's python3-venv leaves a folder with no pip in it
  [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import pip' >/dev/null 2>&1
}

ensure_venv() {
  TAG=$1
  local extras=$2 py="${PYTHON:-python3}" err
  if [ -f "$STAMP" ] && ! grep -qxF "checkout $PWD" "$STAMP"; then
    say "the checkout moved since $SHOWN was made: recreating it"
    rm -rf "$VENV"
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    command -v "$py" >/dev/null || { say "no $py on PATH: pinrace needs Python >= 3.11 (PYTHON=... picks one)"; exit 2; }
    if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      say "$py is Python $("$py" -c 'import platform; print(platform.python_version())'); pinrace needs >= 3.11 (PYTHON=... picks another)"
      exit 2
    fi
    say "creating the virtual environment $SHOWN with $py ($("$py" -c 'import platform; print(platform.python_version())'))"
    err=$(mktemp)
    if ! "$py" -m venv "$VENV" >/dev/null 2>"$err" || _venv_broken; then
      say "could not create $SHOWN: $(tail -n 3 "$err" | tr '\n' ' ')"
      say "on Debian or Ubuntu: apt install python3-venv   (then run this again)"
      rm -rf "$VENV" "$err"
      exit 2
    fi
    rm -f "$err"
  fi
  # test's install ([test]) covers serve's (none): either stamp is good enough for serve
  if [ -f "$STAMP" ] && { [ "$(cat "$STAMP")" = "$(_want_stamp "$extras")" ] \
      || { [ -z "$extras" ] && [ "$(cat "$STAMP")" = "$(_want_stamp "[test]")" ]; }; }; then
    say "$SHOWN is up to date (pyproject.toml unchanged since the last install)"
  else
    if _venv_broken; then
      say "$SHOWN has no pip: recreating it"
      rm -rf "$VENV"
      ensure_venv "$TAG" "$extras"
      return
    fi
    say "installing pinrace${extras} into $SHOWN (editable; pip's own output only on errors)"
    rm -f "$STAMP"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install -q -e ".${extras}" \
      || { say "pip install failed (its message is above); the next run tries again"; exit 1; }
    _want_stamp "$extras" > "$STAMP"
  fi
  # what `source .venv/bin/activate` would do, for the commands the caller runs next
  export VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH"
  hash -r
}
