#!/usr/bin/env bash
# Installs everything spyrec needs on a fresh Debian machine and builds it:
# the Debian packages (Cap'n Proto, LMDB, GoogleTest), one virtual
# environment per supported Python found via pyenv (.venv-3.12, .venv-3.13),
# and spyrec itself into each with `pip install .`. Idempotent: what is
# already there is left alone. Usage: scripts/setup.sh [3.12] [3.13]
set -euo pipefail
cd "$(dirname "$0")/.."

versions=("$@")
[ ${#versions[@]} -eq 0 ] && versions=(3.12 3.13)

debian_packages=(capnproto libcapnp-dev liblmdb-dev libgtest-dev pkg-config g++ clang libclang-rt-14-dev)
missing=()
for p in "${debian_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

find_python() {  # the newest pyenv-installed CPython of a minor version
    local minor=$1 root
    root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
    ls -d "$root"/versions/"$minor".*/bin/python3 2>/dev/null | sort -V | tail -1
}

for v in "${versions[@]}"; do
    py=$(find_python "$v")
    if [ -z "$py" ]; then
        echo "setup: Python $v not found under pyenv; install it with 'pyenv install $v'" >&2
        exit 1
    fi
    venv=".venv-$v"
    if [ ! -x "$venv/bin/python" ]; then
        echo "setup: creating $venv from $py"
        "$py" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q "scikit-build-core>=0.9" "pybind11>=2.12" cmake ninja \
        pytest pytest-xdist ipykernel nbclient nbformat pandas matplotlib pyarrow duckdb \
        ruff==0.17.6 clang-format==23.1.5
    echo "setup: building and installing spyrec into $venv"
    "$venv/bin/python" -m pip install -q --no-build-isolation .
done
