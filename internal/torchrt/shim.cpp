// C shims over the few libtorch and libc entry points that gotch v0.9.1 does
// not wrap. Every function is noexcept from C's point of view: exceptions
// are caught and reported as a return value.
#include <dlfcn.h>
#include <limits.h>
#include <malloc.h>
#include <stdint.h>

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/Context.h>
#include <ATen/core/Tensor.h>
#include <ATen/core/grad_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>

#include <memory>
#include <mutex>
#include <vector>
#include <c10/core/ScalarType.h>

extern "C" {

// Implemented in Go (hooks.go).
void ddprunGradReady(int64_t token);


void ddprun_set_num_threads(int n) { at::set_num_threads(n); }

int ddprun_get_num_threads(void) { return at::get_num_threads(); }

// OpenBLAS (libopenblas0-pthread, behind libblas.so.3) runs its own thread
// pool that ignores at::set_num_threads. Found at run time: the symbol is
// absent when libblas.so.3 is another BLAS, and then nothing happens.
int ddprun_set_blas_threads(int n) {
  typedef void (*setter)(int);
  setter f = (setter)dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
  if (f == nullptr) f = (setter)dlsym(RTLD_DEFAULT, "goto_set_num_threads");
  if (f == nullptr) return 0;
  f(n);
  return 1;
}

void ddprun_manual_seed(int64_t seed) { at::manual_seed(seed); }

// glibc malloc returns blocks above M_MMAP_THRESHOLD to the kernel on free,
// and libtorch's per-step tensors are that large: every step page-faults
// them back in. See Note [Allocator] in runtime.go.
int ddprun_set_malloc_policy(long mmap_threshold, long trim_threshold) {
  if (mmap_threshold > INT_MAX || trim_threshold > INT_MAX) return 0;
  int ok = 1;
  if (mmap_threshold > 0) ok &= mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold);
  if (trim_threshold > 0) ok &= mallopt(M_TRIM_THRESHOLD, (int)trim_threshold);
  return ok;
}

// Autocast state is thread-local in libtorch: call on the compute thread.
// dtype is a c10::ScalarType code (15 = BFloat16, 5 = Half).
int ddprun_autocast(int enabled, int cuda, int dtype) {
  try {
    auto st = static_cast<c10::ScalarType>(dtype);
    if (cuda) {
      at::autocast::set_autocast_gpu_dtype(st);
      at::autocast::set_enabled(enabled != 0);
    } else {
      at::autocast::set_autocast_cpu_dtype(st);
      at::autocast::set_cpu_enabled(enabled != 0);
    }
    if (enabled) {
      at::autocast::increment_nesting();
    } else if (at::autocast::decrement_nesting() == 0) {
      at::autocast::clear_cache();
    }
    return 1;
  } catch (...) {
    return 0;
  }
}

const char* ddprun_torch_version(void) { return TORCH_VERSION; }

// cudaSetDevice, found at run time in the CUDA runtime that a CUDA libtorch
// loaded (no CUDA headers or libraries at build time). -1: none loaded.
int ddprun_cuda_set_device(int d) {
  typedef int (*setter)(int);
  setter f = (setter)dlsym(RTLD_DEFAULT, "cudaSetDevice");
  if (f == nullptr) return -1;
  return f(d);
}

int ddprun_cuda_device_count(void) {
  try {
    return (int)at::detail::getCUDAHooks().getNumGPUs();
  } catch (...) {
    return 0;
  }
}

// Gradients: gotch's C API has no way to set a gradient to none or to a
// given tensor. t and g are gotch tensor handles (torch::Tensor*).
int ddprun_grad_reset(void* t) {
  try {
    static_cast<at::Tensor*>(t)->mutable_grad().reset();
    return 1;
  } catch (...) {
    return 0;
  }
}

int ddprun_grad_set(void* t, void* g) {
  try {
    static_cast<at::Tensor*>(t)->mutable_grad() = *static_cast<at::Tensor*>(g);
    return 1;
  } catch (...) {
    return 0;
  }
}

// p.data = src: src (same shape and dtype, any storage, e.g. a view of a
// flat buffer) becomes the parameter's memory; p keeps its autograd
// identity, so its grad, hooks and requires_grad are untouched.
int ddprun_set_data(void* p, void* src) {
  try {
    static_cast<at::Tensor*>(p)->set_data(*static_cast<at::Tensor*>(src));
    return 1;
  } catch (...) {
    return 0;
  }
}

int ddprun_grad_defined(void* t) {
  try {
    return static_cast<at::Tensor*>(t)->grad().defined() ? 1 : 0;
  } catch (...) {
    return -1;
  }
}

// Grad mode, returning the previous state. gotch's at_grad_set_enabled
// wrapper reads 8 bytes of a 4-byte int, so its "previous state" is garbage
// (usually reported as false): restoring from it disables autograd.
int ddprun_set_grad_enabled(int enabled) {
  bool prev = at::GradMode::is_enabled();
  at::GradMode::set_enabled(enabled != 0);
  return prev ? 1 : 0;
}

// Gradient-ready hooks (PyTorch DDP's reducer does the same): a post hook
// on the parameter's AccumulateGrad node runs right after backward has added
// this step's gradient into .grad, on the thread running backward. The
// accumulator is kept alive here: the parameter holds it only weakly, and a
// new one (without the hook) would be made for the next backward.
static std::mutex g_acc_mu;
static std::vector<std::shared_ptr<torch::autograd::Node>> g_accumulators;

int ddprun_register_grad_hook(void* t, int64_t token) {
  try {
    const auto& var = *static_cast<at::Tensor*>(t);
    auto acc = torch::autograd::impl::grad_accumulator(var);
    if (!acc) return 0;
    acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [token](const torch::autograd::variable_list& outputs,
                const torch::autograd::variable_list& /*inputs*/) {
          ddprunGradReady(token);
          return outputs;
        }));
    std::lock_guard<std::mutex> lock(g_acc_mu);
    g_accumulators.push_back(std::move(acc));
    return 1;
  } catch (...) {
    return 0;
  }
}

}  // extern "C"
