#!/usr/bin/env bash
# Build and check the Apptainer image: `make container` / `make container-test`.
#
#   containers/build.sh build   # containers/ance.def -> $SIF (default ance.sif)
#   containers/build.sh test    # apptainer test $SIF; with a GPU, a stage with --nv
#   containers/build.sh git-sha # the commit an image built now records (GIT_SHA)
#
# Environment: SIF (image path), APPTAINER (the binary; default apptainer),
# APPTAINER_BUILD_FLAGS (extra build flags, e.g. "--tmpdir /scratch/$USER/tmp"),
# and Apptainer's own APPTAINER_CACHEDIR / APPTAINER_TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."

SIF=${SIF:-ance.sif}
APPTAINER=${APPTAINER:-apptainer}

die() { echo "containers/build.sh: $*" >&2; exit 1; }

need_apptainer() {
    command -v "$APPTAINER" >/dev/null 2>&1 || die "'$APPTAINER' not found on PATH.
  Apptainer >= 1.2 is needed (build arguments). On a cluster try 'module load apptainer';
  otherwise see https://apptainer.org/docs/admin/main/installation.html.
  The image only has to be built once: build it where Apptainer exists and copy $SIF here."
    local version
    version=$("$APPTAINER" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+' | head -n1 || true)
    case "$version" in
        0.* | 1.[01]) die "$("$APPTAINER" --version) is too old: ance.def uses build arguments (Apptainer >= 1.2)" ;;
        "") echo "containers/build.sh: cannot read the version of '$APPTAINER'; trying anyway" >&2 ;;
    esac
}

# The commit the image is built from, "-dirty" when what goes into it differs
# from that commit: stage manifests record it (ANCE_GIT_SHA).
git_sha() {
    local sha
    sha=$(git rev-parse HEAD 2>/dev/null) || { echo unknown; return; }
    # Untracked files count too: %files copies whole folders.
    if [ -n "$(git status --porcelain -- pyproject.toml README.md ance_core launcher experiments containers)" ]; then
        sha="$sha-dirty"
    fi
    echo "$sha"
}

build() {
    need_apptainer
    local flags=()
    # Unprivileged builds need --fakeroot (user namespaces; subuid/subgid
    # mappings or Apptainer >= 1.1's root-mapped namespace).
    [ "$(id -u)" -eq 0 ] || flags+=(--fakeroot)
    # shellcheck disable=SC2206  # word splitting of the user's extra flags is wanted
    flags+=(${APPTAINER_BUILD_FLAGS:-})
    local sha partial="$SIF.partial"
    sha=$(git_sha)
    echo "building $SIF from containers/ance.def (commit $sha)" >&2
    # Build beside the target and rename: a failed build never replaces a good image.
    "$APPTAINER" build --force "${flags[@]}" --build-arg "GIT_SHA=$sha" "$partial" containers/ance.def
    mv -f "$partial" "$SIF"
    echo "built $SIF" >&2
}

has_gpu() {
    command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU '
}

test_image() {
    need_apptainer
    [ -f "$SIF" ] || die "$SIF does not exist: run 'make container' first (or set SIF=path/to/ance.sif)"
    echo "apptainer test $SIF (ance selftest on the CPU)" >&2
    "$APPTAINER" test "$SIF"
    if has_gpu; then
        echo "GPU present: the selftest stage with --nv, and CUDA as torch and faiss see it" >&2
        "$APPTAINER" exec --nv "$SIF" python3 -c '
import faiss, torch
assert torch.cuda.is_available(), "torch sees no GPU under --nv"
assert faiss.get_num_gpus() > 0, "faiss sees no GPU under --nv"
print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}; faiss GPUs: {faiss.get_num_gpus()}")'
        "$APPTAINER" run --nv --app selftest "$SIF"
    else
        echo "no GPU here (nvidia-smi lists none): skipped the --nv stage run" >&2
    fi
}

case "${1:-}" in
    build) build ;;
    test) test_image ;;
    git-sha) git_sha ;;
    *) die "usage: $0 build|test|git-sha" ;;
esac
