# Sourced by the other scripts: make sure .venv exists with OpenLocker and its extras installed.
# Re-installs only when pyproject.toml changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
EXTRAS="${OPENLOCKER_EXTRAS:-test}"
STAMP="$VENV/.openlocker-installed-$EXTRAS"

if [ ! -x "$VENV/bin/python" ]; then
    echo "bootstrap: creating $VENV" >&2
    python3 -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ] \
    || { [ -f "$ROOT/hardware-emulator/pyproject.toml" ] && [ "$ROOT/hardware-emulator/pyproject.toml" -nt "$STAMP" ]; }; then
    echo "bootstrap: installing openlocker[$EXTRAS] into $VENV" >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[$EXTRAS]"
    if [ -f "$ROOT/hardware-emulator/pyproject.toml" ]; then
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT/hardware-emulator"
    fi
    touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
