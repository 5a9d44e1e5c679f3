# Build environment for packages that import gotch (github.com/sugarme/gotch
# v0.9.1, unmodified from the module proxy). Source it, or let the Makefile do:
#   . build/libtorch/env.sh
#
# The choice is automatic:
#   - LIBTORCH=/path/to/libtorch (an official libtorch 2.1 zip, CPU or CUDA):
#     gotch's own target version, no compat header. If the folder has no
#     libtorch_cuda.so (a CPU build), empty CUDA stub archives satisfy the CUDA
#     -l flags that gotch's libtch/lib.go hard-codes.
#   - otherwise Debian's libtorch-dev 1.13.1 (/usr/include/torch): the
#     compat header compat_libtorch113.h is force-included into gotch's
#     torch_api.cpp, plus the CUDA stub archives.
# Pure-Go packages (collective, shard, launcher, ...) need none of this.
DDPRUN_BUILD_DIR=${DDPRUN_BUILD_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)}
_cache="${XDG_CACHE_HOME:-$HOME/.cache}/ddprun"
_stubdir="${DDPRUN_STUB_DIR:-$_cache/cudastub}"
# Go's build cache keys cgo packages on CXX and the CGO_* flags, paths
# included: flags naming this checkout would make every clone (and CI)
# recompile gotch's C++ layer (2+ minutes). So the two files the flags name
# are copied to a folder named by their content, the same for every clone.
_sum=$(cat "$DDPRUN_BUILD_DIR/compat_libtorch113.h" "$DDPRUN_BUILD_DIR/cxx-fast.sh" | sha256sum | cut -c1-16)
_fixed="$_cache/build-$_sum"
if [ ! -f "$_fixed/cxx-fast.sh" ]; then
  mkdir -p "$_fixed.tmp-$$"
  cp "$DDPRUN_BUILD_DIR/compat_libtorch113.h" "$DDPRUN_BUILD_DIR/cxx-fast.sh" "$_fixed.tmp-$$/"
  mv -T "$_fixed.tmp-$$" "$_fixed" 2>/dev/null || rm -rf "$_fixed.tmp-$$" # another shell made it first
fi
_mkstubs() {
  if [ ! -f "$_stubdir/libtorch_cuda.a" ]; then
    mkdir -p "$_stubdir"
    for l in cuda cudart cublas cudnn caffe2_nvrtc nvrtc-builtins nvrtc nvToolsExt c10_cuda torch_cuda; do
      ar rc "$_stubdir/lib$l.a"
    done
  fi
}
export CGO_ENABLED=1
# gotch compiles torch_api.cpp at -O3 -g (2.5 GB, 3+ minutes); it only wraps
# libtorch calls, so -O1 -g0 costs nothing at run time and halves the build.
export CXX="$_fixed/cxx-fast.sh"
if [ -n "${LIBTORCH:-}" ]; then
  _inc="-I$LIBTORCH/include -I$LIBTORCH/include/torch/csrc/api/include"
  export CGO_CFLAGS="$_inc"
  export CGO_CXXFLAGS="$_inc"
  export CGO_LDFLAGS="-L$LIBTORCH/lib -Wl,-rpath,$LIBTORCH/lib"
  if [ ! -f "$LIBTORCH/lib/libtorch_cuda.so" ]; then
    _mkstubs
    export CGO_LDFLAGS="$CGO_LDFLAGS -L$_stubdir"
  else
    export CGO_LDFLAGS="$CGO_LDFLAGS -L${CUDA_HOME:-/usr/local/cuda}/lib64"
  fi
  export LD_LIBRARY_PATH="$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  DDPRUN_LIBTORCH_MODE="official:$LIBTORCH"
else
  _h="$_fixed/compat_libtorch113.h"
  # The Go build cache does not hash force-included headers: the header's
  # hash is in the flags (and in _fixed's name) so that an edit rebuilds
  # gotch's libtch.
  export CGO_CXXFLAGS="-I/usr/include/torch/csrc/api/include -include $_h -DGOTCH_COMPAT_SUM=$_sum"
  _mkstubs
  export CGO_LDFLAGS="-L$_stubdir"
  DDPRUN_LIBTORCH_MODE="debian:1.13"
  unset _h _sum
fi
export DDPRUN_LIBTORCH_MODE
unset _inc _stubdir _cache _fixed _sum
unset -f _mkstubs
