// Optimizer steps over flat fp32 tensors on any device, as libtorch op
// sequences: the same operations, in the same order, as PyTorch 1.13's
// torch.optim single-tensor implementations, applied once per bucket
// instead of once per parameter. Exceptions become a message in err.
#include <stdint.h>
#include <stdio.h>

#include <cmath>
#include <exception>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

namespace {

at::Tensor& T(void* p) { return *static_cast<at::Tensor*>(p); }

// guarded runs f without autograd and turns an exception into 0 and a
// message in err (C callers cannot catch).
template <class F>
int guarded(char* err, int errlen, F f) {
  try {
    at::NoGradGuard no_grad;
    f();
    return 1;
  } catch (const std::exception& e) {
    snprintf(err, errlen, "%s", e.what());
  } catch (...) {
    snprintf(err, errlen, "unknown exception");
  }
  return 0;
}

}  // namespace

extern "C" {

// Adam(W) on one bucket: w, g, m, v have n elements; the first n_decay of
// them get weight decay (decoupled: w *= 1 - lr*wd; else g += wd*w).
int ddprun_flat_adam(void* w, void* g, void* m, void* v, int64_t n_decay, double lr, double wd,
                     double b1, double b2, double eps, int64_t step, int decoupled, char* err, int errlen) {
  return guarded(err, errlen, [&] {
    at::Tensor& W = T(w);
    at::Tensor G = T(g);
    if (wd != 0 && n_decay > 0) {
      if (decoupled) {
        W.narrow(0, 0, n_decay).mul_(1 - lr * wd);
      } else {
        G = G.clone();
        G.narrow(0, 0, n_decay).add_(W.narrow(0, 0, n_decay), wd);
      }
    }
    double bc1 = 1 - std::pow(b1, (double)step), bc2 = 1 - std::pow(b2, (double)step);
    T(m).mul_(b1).add_(G, 1 - b1);
    T(v).mul_(b2).addcmul_(G, G, 1 - b2);
    at::Tensor denom = (T(v).sqrt() / std::sqrt(bc2)).add_(eps);
    W.addcdiv_(T(m), denom, -lr / bc1);
  });
}

// SGD on one bucket: g += wd*w (first n_decay elements); with momentum
// buf = momentum*buf + g (the first step sets buf = g); w -= lr*buf.
int ddprun_flat_sgd(void* w, void* g, void* buf, int64_t n_decay, double lr, double wd, double momentum,
                    int first, char* err, int errlen) {
  return guarded(err, errlen, [&] {
    at::Tensor& W = T(w);
    at::Tensor G = T(g);
    if (wd != 0 && n_decay > 0) {
      G = G.clone();
      G.narrow(0, 0, n_decay).add_(W.narrow(0, 0, n_decay), wd);
    }
    if (momentum != 0) {
      if (first) {
        T(buf).copy_(G);
      } else {
        T(buf).mul_(momentum).add_(G);
      }
      G = T(buf);
    }
    W.add_(G, -lr);
  });
}

// The global L2 norm of n tensors (torch.nn.utils.clip_grad_norm_: the norm
// of the per-tensor norms), read back to the host: one synchronisation.
int ddprun_flat_norm(void** ts, int n, double* out, char* err, int errlen) {
  return guarded(err, errlen, [&] {
    std::vector<at::Tensor> norms;
    norms.reserve(n);
    for (int i = 0; i < n; i++) norms.push_back(T(ts[i]).norm(2));
    *out = n == 0 ? 0.0 : at::stack(norms).norm(2).item<double>();
  });
}

// ts[i] *= c for every i.
int ddprun_flat_scale(void** ts, int n, double c, char* err, int errlen) {
  return guarded(err, errlen, [&] {
    for (int i = 0; i < n; i++) T(ts[i]).mul_(c);
  });
}

}  // extern "C"
