// compat_libtorch113.h -- build github.com/sugarme/gotch v0.9.1 (generated for
// libtorch 2.1.0) unmodified against Debian bookworm's libtorch 1.13.1.
//
// Use (force-included into gotch's libtch/torch_api.cpp only):
//   CGO_CXXFLAGS="-include /abs/path/compat_libtorch113.h -DGOTCH_COMPAT_SUM=<hash>" (build/libtorch/env.sh)
// (bump GOTCH_COMPAT_REV whenever this file changes: the Go build cache does
// not hash headers outside the package directory, so without a flag change
// `go build` keeps using the libtch object compiled with the old header.)
//
// What it does, in this order:
//  0. Becomes a no-op unless the translation unit is gotch's libtch (guard on
//     __has_include("torch_api_generated.cpp.h")), because env CGO_CXXFLAGS
//     reach every cgo C++ package of the build.
//  1. Includes every torch header torch_api.cpp includes, so the macros in
//     section 5 can never leak into a torch header (they are #pragma once).
//  2. Overloads, in namespace at (torch:: sees at:: via `using namespace at`),
//     for ops whose 2.1 signature differs from 1.13; they forward to the 1.13
//     op where an equivalent exists and throw otherwise.
//     Factory functions that torch:: itself declares (sparse_coo_tensor & co)
//     get their overload in namespace torch instead (at:: ones are hidden).
//  3. New functions in namespace torch for ops 1.13 does not have at all:
//     a few are implemented from 1.13 ops (scaled_dot_product_attention,
//     empty_permuted, _native_batch_norm_legit*, _is_all_true, ...), the rest
//     are stubs that throw std::runtime_error. gotch's PROTECT() macro catches
//     std::exception, stores e.what() in torch_last_err, and the Go side turns
//     it into an ordinary Go error (Must* variants panic with the message).
//  4. Helpers for Tensor *member* calls (self->to_dense(dtype, masked_grad)...).
//  5. Function-like macros, only for those member calls: C++ cannot add member
//     functions to at::Tensor. Every such call in the generated file has the
//     form `self->NAME(args)` and is rewritten to
//       `self->is_same(*self) ? gotch_compat::Helper{*self}(args) : *self`
//     (the condition is always true; it only exists to consume `self->`).
#pragma once

#if defined(__cplusplus) && __has_include("torch_api_generated.cpp.h") && !defined(GOTCH_COMPAT_LIBTORCH113_ACTIVE)
#define GOTCH_COMPAT_LIBTORCH113_ACTIVE 1

// ---- 1. everything torch_api.cpp / torch_api.h include ----------------------
#include <stdint.h>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>
#include <algorithm>
#include <cmath>
#include <limits>
#include "ATen/core/interned_strings.h"
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/engine.h>
#include <torch/csrc/jit/passes/fixup_trace_scope_blocks.h>
#include <torch/csrc/jit/passes/normalize_ops.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR != 1 || TORCH_VERSION_MINOR != 13
#error "compat_libtorch113.h is written for libtorch 1.13.x only"
#endif

namespace gotch_compat {

using at::Tensor;
using Tuple2 = ::std::tuple<Tensor, Tensor>;
using Tuple3 = ::std::tuple<Tensor, Tensor, Tensor>;
using Tuple4 = ::std::tuple<Tensor, Tensor, Tensor, Tensor>;
using Tuple5 = ::std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor>;
using Tuple6 = ::std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor>;
using Tuple7 = ::std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor>;

[[noreturn]] inline void missing_op(const char *op) {
  throw ::std::runtime_error(
      ::std::string("gotch-compat: ") + op +
      " is not available in this libtorch (" TORCH_VERSION
      "); gotch v0.9.1 was generated for libtorch 2.1.0");
}

[[noreturn]] inline void unsupported_arg(const char *op, const char *what) {
  throw ::std::runtime_error(
      ::std::string("gotch-compat: ") + op + ": " + what +
      " is not supported by this libtorch (" TORCH_VERSION ")");
}

// 2.x uses `Scalar? correction`, 1.13 uses `int? correction`.
inline c10::optional<int64_t> correction_to_int(const c10::Scalar &c) {
  if (c.isIntegral(/*includeBool=*/false))
    return c.toLong();
  double d = c.toDouble();
  if (d != ::std::floor(d))
    unsupported_arg("std/var", "a non-integer `correction`");
  return static_cast<int64_t>(d);
}

// Unique wrapped dims, sorted descending (safe order for successive squeezes).
inline ::std::vector<int64_t> squeeze_dims(int64_t ndim, at::IntArrayRef dims) {
  ::std::vector<int64_t> out;
  for (auto d : dims)
    out.push_back(c10::maybe_wrap_dim(d, ndim));
  ::std::sort(out.begin(), out.end(), ::std::greater<int64_t>());
  out.erase(::std::unique(out.begin(), out.end()), out.end());
  return out;
}

inline Tensor &copy_to_out(Tensor &out, const Tensor &r) {
  out.resize_(r.sizes());
  out.copy_(r);
  return out;
}

inline ::std::vector<int64_t> offsets_vec(const Tensor &offsets) {
  auto o = offsets.to(at::kCPU, at::kLong).contiguous();
  return ::std::vector<int64_t>(o.data_ptr<int64_t>(),
                                o.data_ptr<int64_t>() + o.numel());
}

inline bool has(const c10::optional<Tensor> &t) {
  return t.has_value() && t->defined();
}

// Same math as PyTorch 2.1 aten/src/ATen/native/transformers/attention.cpp
// (_scaled_dot_product_attention_math), composed of differentiable 1.13 ops.
inline Tuple2 sdpa_math(const Tensor &query_, const Tensor &key,
                        const Tensor &value,
                        const c10::optional<Tensor> &attn_mask_,
                        double dropout_p, bool is_causal,
                        const c10::optional<Tensor> &dropout_mask,
                        c10::optional<double> scale) {
  const double s = scale.has_value()
                       ? *scale
                       : 1.0 / ::std::sqrt(static_cast<double>(query_.size(-1)));
  const double sqrt_s = ::std::sqrt(s);
  const Tensor query = query_ * sqrt_s;
  c10::optional<Tensor> attn_mask;
  if (has(attn_mask_))
    attn_mask = *attn_mask_;
  auto to_additive = [&](const Tensor &m) -> Tensor {
    if (m.scalar_type() == at::kBool)
      return at::where(m.logical_not(),
                       at::scalar_tensor(-::std::numeric_limits<double>::infinity(),
                                         query.options()),
                       at::scalar_tensor(0.0, query.options()));
    return m;
  };
  if (is_causal) {
    TORCH_CHECK(!attn_mask.has_value(),
                "scaled_dot_product_attention: explicit attn_mask should not be set when is_causal=True");
    const auto L = query.size(-2), S = key.size(-2);
    attn_mask = at::ones({L, S}, query.options().dtype(at::kBool)).tril();
  }
  if (attn_mask.has_value())
    attn_mask = to_additive(*attn_mask);
  Tensor attn = at::matmul(query, key.transpose(-2, -1) * sqrt_s);
  if (attn_mask.has_value())
    attn = attn.add(*attn_mask);
  attn = at::softmax(attn, -1);
  if (dropout_p > 0.0) {
    if (has(dropout_mask)) {
      attn = attn.masked_fill(dropout_mask->logical_not(), 0.0);
      const double dropout_scaling = 1.0 / (1.0 - dropout_p);
      return ::std::make_tuple(at::matmul(attn, value * dropout_scaling), attn);
    }
    attn = at::dropout(attn, dropout_p, /*train=*/true);
  }
  return ::std::make_tuple(at::matmul(attn, value), attn);
}

} // namespace gotch_compat

// ---- 2. overloads for ops whose signature changed between 1.13 and 2.1 -----
namespace at {

// _ctc_loss.Tensor_out: 1.13 only has the IntArrayRef-lengths out variant.
inline ::std::tuple<Tensor &, Tensor &>
_ctc_loss_out(Tensor &out0, Tensor &out1, const Tensor &log_probs,
              const Tensor &targets, const Tensor &input_lengths,
              const Tensor &target_lengths, int64_t blank, bool zero_infinity) {
  auto r = at::_ctc_loss(log_probs, targets, input_lengths, target_lengths,
                         blank, zero_infinity);
  gotch_compat::copy_to_out(out0, ::std::get<0>(r));
  gotch_compat::copy_to_out(out1, ::std::get<1>(r));
  return ::std::forward_as_tuple(out0, out1);
}

// _lstm_mps: 2.1 returns 6 tensors (1.13: 5) and has 6 outs. MPS is macOS
// only anyway. The std::vector parameters make these exact matches for the
// generated calls (which pass std::vector<Tensor> temporaries), so they win
// overload resolution over 1.13's TensorList versions.
inline gotch_compat::Tuple6
_lstm_mps(const Tensor &, const ::std::vector<Tensor> &,
          const ::std::vector<Tensor> &, bool, int64_t, double, bool, bool,
          bool) {
  gotch_compat::missing_op("_lstm_mps (2.1 signature)");
}
inline gotch_compat::Tuple6
_lstm_mps_out(Tensor &, Tensor &, Tensor &, Tensor &, Tensor &, Tensor &,
              const Tensor &, const ::std::vector<Tensor> &,
              const ::std::vector<Tensor> &, bool, int64_t, double, bool, bool,
              bool) {
  gotch_compat::missing_op("_lstm_mps_out (2.1 signature)");
}

// _nested_view_from_buffer*: `offsets` became a Tensor in 2.x.
inline Tensor _nested_view_from_buffer(const Tensor &self,
                                       const Tensor &nested_size,
                                       const Tensor &nested_strides,
                                       const Tensor &offsets) {
  return at::_nested_view_from_buffer(self, nested_size, nested_strides,
                                      IntArrayRef(gotch_compat::offsets_vec(offsets)));
}
inline Tensor _nested_view_from_buffer_copy(const Tensor &self,
                                            const Tensor &nested_size,
                                            const Tensor &nested_strides,
                                            const Tensor &offsets) {
  return at::_nested_view_from_buffer_copy(
      self, nested_size, nested_strides, IntArrayRef(gotch_compat::offsets_vec(offsets)));
}
inline Tensor &_nested_view_from_buffer_copy_out(Tensor &out, const Tensor &self,
                                                 const Tensor &nested_size,
                                                 const Tensor &nested_strides,
                                                 const Tensor &offsets) {
  return at::_nested_view_from_buffer_copy_out(
      out, self, nested_size, nested_strides, IntArrayRef(gotch_compat::offsets_vec(offsets)));
}

// _scaled_dot_product_attention_math: 2.1 has (…, is_causal, dropout_mask, scale).
inline gotch_compat::Tuple2 _scaled_dot_product_attention_math(
    const Tensor &query, const Tensor &key, const Tensor &value,
    const c10::optional<Tensor> &attn_mask, double dropout_p, bool is_causal,
    const c10::optional<Tensor> &dropout_mask, c10::optional<double> scale) {
  return gotch_compat::sdpa_math(query, key, value, attn_mask, dropout_p,
                                 is_causal, dropout_mask, scale);
}

// _sparse_coo_tensor_with_dims_and_tensors.out gained `is_coalesced`.
inline Tensor &_sparse_coo_tensor_with_dims_and_tensors_out(
    Tensor &out, int64_t sparse_dim, int64_t dense_dim, IntArrayRef size,
    const Tensor &indices, const Tensor &values, c10::optional<bool> is_coalesced) {
  at::_sparse_coo_tensor_with_dims_and_tensors_out(out, sparse_dim, dense_dim,
                                                   size, indices, values);
  if (is_coalesced.value_or(false))
    out._coalesced_(true);
  return out;
}

// _sparse_mm.reduce: not in 1.13.
inline Tensor _sparse_mm(const Tensor &, const Tensor &, c10::string_view) {
  gotch_compat::missing_op("_sparse_mm(sparse, dense, reduce)");
}

// _to_dense / to_dense_backward gained `masked_grad` (only used for sparse/masked grads).
inline Tensor &_to_dense_out(Tensor &out, const Tensor &self,
                             c10::optional<ScalarType> dtype,
                             c10::optional<bool> /*masked_grad*/) {
  return at::_to_dense_out(out, self, dtype);
}
inline Tensor to_dense_backward(const Tensor &grad, const Tensor &input,
                                c10::optional<bool> /*masked_grad*/) {
  return at::to_dense_backward(grad, input);
}

// max.unary_out / min.unary_out (full reduction into `out`).
inline Tensor &max_out(Tensor &out, const Tensor &self) {
  return gotch_compat::copy_to_out(out, at::max(self));
}
inline Tensor &min_out(Tensor &out, const Tensor &self) {
  return gotch_compat::copy_to_out(out, at::min(self));
}

// mkldnn_reorder_conv2d_weight gained `input_size`.
inline Tensor mkldnn_reorder_conv2d_weight(const Tensor &self, IntArrayRef padding,
                                           IntArrayRef stride, IntArrayRef dilation,
                                           int64_t groups,
                                           c10::optional<IntArrayRef> input_size) {
  if (input_size.has_value())
    gotch_compat::unsupported_arg("mkldnn_reorder_conv2d_weight", "input_size");
  return at::mkldnn_reorder_conv2d_weight(self, padding, stride, dilation, groups);
}
inline Tensor &mkldnn_reorder_conv2d_weight_out(Tensor &out, const Tensor &self,
                                                IntArrayRef padding, IntArrayRef stride,
                                                IntArrayRef dilation, int64_t groups,
                                                c10::optional<IntArrayRef> input_size) {
  if (input_size.has_value())
    gotch_compat::unsupported_arg("mkldnn_reorder_conv2d_weight_out", "input_size");
  return at::mkldnn_reorder_conv2d_weight_out(out, self, padding, stride, dilation, groups);
}

// squeeze.dims / squeeze_copy.dims (multiple dims): squeeze one dim at a time.
inline Tensor squeeze(const Tensor &self, IntArrayRef dims) {
  Tensor r = self;
  for (auto d : gotch_compat::squeeze_dims(self.dim(), dims))
    r = r.squeeze(d);
  return r;
}
inline Tensor squeeze_copy(const Tensor &self, IntArrayRef dims) {
  return at::squeeze(self, dims).clone(at::MemoryFormat::Contiguous);
}
inline Tensor &squeeze_copy_out(Tensor &out, const Tensor &self, IntArrayRef dims) {
  return gotch_compat::copy_to_out(out, at::squeeze(self, dims));
}

// std/var(.correction): `Scalar? correction` (2.x) vs `int? correction` (1.13).
inline Tensor std(const Tensor &self, OptionalIntArrayRef dim,
                  const c10::Scalar &correction, bool keepdim) {
  return at::std(self, dim, gotch_compat::correction_to_int(correction), keepdim);
}
inline Tensor &std_out(Tensor &out, const Tensor &self, OptionalIntArrayRef dim,
                       const c10::Scalar &correction, bool keepdim) {
  return at::std_out(out, self, dim, gotch_compat::correction_to_int(correction), keepdim);
}
inline ::std::tuple<Tensor, Tensor> std_mean(const Tensor &self, OptionalIntArrayRef dim,
                                             const c10::Scalar &correction, bool keepdim) {
  return at::std_mean(self, dim, gotch_compat::correction_to_int(correction), keepdim);
}
inline ::std::tuple<Tensor &, Tensor &>
std_mean_out(Tensor &out0, Tensor &out1, const Tensor &self, OptionalIntArrayRef dim,
             const c10::Scalar &correction, bool keepdim) {
  return at::std_mean_out(out0, out1, self, dim,
                          gotch_compat::correction_to_int(correction), keepdim);
}
inline Tensor var(const Tensor &self, OptionalIntArrayRef dim,
                  const c10::Scalar &correction, bool keepdim) {
  return at::var(self, dim, gotch_compat::correction_to_int(correction), keepdim);
}
inline Tensor &var_out(Tensor &out, const Tensor &self, OptionalIntArrayRef dim,
                       const c10::Scalar &correction, bool keepdim) {
  return at::var_out(out, self, dim, gotch_compat::correction_to_int(correction), keepdim);
}
inline ::std::tuple<Tensor, Tensor> var_mean(const Tensor &self, OptionalIntArrayRef dim,
                                             const c10::Scalar &correction, bool keepdim) {
  return at::var_mean(self, dim, gotch_compat::correction_to_int(correction), keepdim);
}
inline ::std::tuple<Tensor &, Tensor &>
var_mean_out(Tensor &out0, Tensor &out1, const Tensor &self, OptionalIntArrayRef dim,
             const c10::Scalar &correction, bool keepdim) {
  return at::var_mean_out(out0, out1, self, dim,
                          gotch_compat::correction_to_int(correction), keepdim);
}

} // namespace at

// Factory functions that torch:: declares itself (variable_factories.h), so
// an at:: overload would be hidden: 2.x added `bool? is_coalesced`.
namespace torch {
inline at::Tensor sparse_coo_tensor(const at::Tensor &indices, const at::Tensor &values,
                                    at::TensorOptions options,
                                    c10::optional<bool> is_coalesced) {
  auto t = torch::sparse_coo_tensor(indices, values, options);
  if (is_coalesced.value_or(false))
    t._coalesced_(true);
  return t;
}
inline at::Tensor sparse_coo_tensor(const at::Tensor &indices, const at::Tensor &values,
                                    at::IntArrayRef size, at::TensorOptions options,
                                    c10::optional<bool> is_coalesced) {
  auto t = torch::sparse_coo_tensor(indices, values, size, options);
  if (is_coalesced.value_or(false))
    t._coalesced_(true);
  return t;
}
inline at::Tensor _sparse_coo_tensor_unsafe(const at::Tensor &indices,
                                            const at::Tensor &values,
                                            at::IntArrayRef size,
                                            at::TensorOptions options,
                                            c10::optional<bool> is_coalesced) {
  auto t = torch::_sparse_coo_tensor_unsafe(indices, values, size, options);
  if (is_coalesced.value_or(false))
    t._coalesced_(true);
  return t;
}
inline at::Tensor _sparse_coo_tensor_with_dims_and_tensors(
    int64_t sparse_dim, int64_t dense_dim, at::IntArrayRef size,
    const at::Tensor &indices, const at::Tensor &values, at::TensorOptions options,
    c10::optional<bool> is_coalesced) {
  auto t = torch::_sparse_coo_tensor_with_dims_and_tensors(sparse_dim, dense_dim, size,
                                                           indices, values, options);
  if (is_coalesced.value_or(false))
    t._coalesced_(true);
  return t;
}
} // namespace torch

// ---- 3. ops that do not exist in 1.13 ---------------------------------------
namespace torch {

// 3a. implemented with 1.13 ops
inline Tensor scaled_dot_product_attention(const Tensor &query, const Tensor &key,
                                           const Tensor &value,
                                           const c10::optional<Tensor> &attn_mask,
                                           double dropout_p, bool is_causal,
                                           c10::optional<double> scale) {
  return ::std::get<0>(gotch_compat::sdpa_math(query, key, value, attn_mask, dropout_p,
                                               is_causal, c10::nullopt, scale));
}

inline Tensor _is_all_true(const Tensor &self) {
  TORCH_CHECK(self.scalar_type() == at::kBool, "_is_all_true only supports bool tensors");
  return self.all();
}
inline Tensor _is_any_true(const Tensor &self) {
  TORCH_CHECK(self.scalar_type() == at::kBool, "_is_any_true only supports bool tensors");
  return self.any();
}

inline Tensor _unsafe_index(const Tensor &self,
                            const c10::List<c10::optional<Tensor>> &indices) {
  return at::index(self, indices);
}
inline Tensor _unsafe_index_put(const Tensor &self,
                                const c10::List<c10::optional<Tensor>> &indices,
                                const Tensor &values, bool accumulate) {
  return at::index_put(self, indices, values, accumulate);
}

// Same algorithm as PyTorch 2.1 empty_permuted.
inline Tensor empty_permuted(at::IntArrayRef size, at::IntArrayRef physical_layout,
                             at::TensorOptions options) {
  const int64_t dim = static_cast<int64_t>(size.size());
  TORCH_CHECK(dim == static_cast<int64_t>(physical_layout.size()),
              "empty_permuted: number of dimensions don't match");
  ::std::vector<bool> seen(dim, false);
  ::std::vector<int64_t> phys_size(dim), inv(dim);
  for (int64_t i = 0; i < dim; i++) {
    const int64_t p = physical_layout[i];
    TORCH_CHECK(p >= 0 && p < dim, "empty_permuted: physical_layout[", i, "] out of range");
    TORCH_CHECK(!seen[p], "empty_permuted: physical_layout dim ", p, " repeated");
    seen[p] = true;
    phys_size[i] = size[p];
    inv[p] = i;
  }
  return torch::empty(phys_size, options).permute(inv);
}

// _native_batch_norm_legit* (2.0+) are native_batch_norm with the running
// stats split into separate overloads.
inline gotch_compat::Tuple3
_native_batch_norm_legit(const Tensor &input, const c10::optional<Tensor> &weight,
                         const c10::optional<Tensor> &bias, Tensor &running_mean,
                         Tensor &running_var, bool training, double momentum, double eps) {
  return at::native_batch_norm(input, weight, bias, running_mean, running_var, training,
                               momentum, eps);
}
inline gotch_compat::Tuple3
_native_batch_norm_legit(const Tensor &input, const c10::optional<Tensor> &weight,
                         const c10::optional<Tensor> &bias, bool training,
                         double momentum, double eps) {
  return at::native_batch_norm(input, weight, bias, c10::nullopt, c10::nullopt, training,
                               momentum, eps);
}
inline ::std::tuple<Tensor &, Tensor &, Tensor &>
_native_batch_norm_legit_out(Tensor &out, Tensor &save_mean, Tensor &save_invstd,
                             const Tensor &input, const c10::optional<Tensor> &weight,
                             const c10::optional<Tensor> &bias, Tensor &running_mean,
                             Tensor &running_var, bool training, double momentum,
                             double eps) {
  return at::native_batch_norm_out(out, save_mean, save_invstd, input, weight, bias,
                                   running_mean, running_var, training, momentum, eps);
}
inline ::std::tuple<Tensor &, Tensor &, Tensor &>
_native_batch_norm_legit_out(Tensor &out, Tensor &save_mean, Tensor &save_invstd,
                             const Tensor &input, const c10::optional<Tensor> &weight,
                             const c10::optional<Tensor> &bias, bool training,
                             double momentum, double eps) {
  return at::native_batch_norm_out(out, save_mean, save_invstd, input, weight, bias,
                                   c10::nullopt, c10::nullopt, training, momentum, eps);
}
inline gotch_compat::Tuple3 _native_batch_norm_legit_no_training(
    const Tensor &input, const c10::optional<Tensor> &weight,
    const c10::optional<Tensor> &bias, const Tensor &running_mean,
    const Tensor &running_var, double momentum, double eps) {
  return at::native_batch_norm(input, weight, bias, running_mean, running_var,
                               /*training=*/false, momentum, eps);
}
inline ::std::tuple<Tensor &, Tensor &, Tensor &> _native_batch_norm_legit_no_training_out(
    Tensor &out0, Tensor &out1, Tensor &out2, const Tensor &input,
    const c10::optional<Tensor> &weight, const c10::optional<Tensor> &bias,
    const Tensor &running_mean, const Tensor &running_var, double momentum, double eps) {
  return at::native_batch_norm_out(out0, out1, out2, input, weight, bias, running_mean,
                                   running_var, /*training=*/false, momentum, eps);
}
inline gotch_compat::Tuple5 _native_batch_norm_legit_functional(
    const Tensor &input, const c10::optional<Tensor> &weight,
    const c10::optional<Tensor> &bias, const Tensor &running_mean,
    const Tensor &running_var, bool training, double momentum, double eps) {
  Tensor rm = running_mean.clone(), rv = running_var.clone();
  auto r = at::native_batch_norm(input, weight, bias, rm, rv, training, momentum, eps);
  return ::std::make_tuple(::std::get<0>(r), ::std::get<1>(r), ::std::get<2>(r), rm, rv);
}

// 3b. stubs: any argument list is accepted; calling them throws. Only the
// return type matters (it must fit what the generated code does with it).
#define GOTCH_COMPAT_MISSING(ret, name)                                        \
  template <typename... Args> [[noreturn]] inline ret name(Args &&...) {       \
    ::gotch_compat::missing_op("torch::" #name);                               \
  }
GOTCH_COMPAT_MISSING(Tensor, _cslt_compress)
GOTCH_COMPAT_MISSING(Tensor, _cslt_sparse_mm)
GOTCH_COMPAT_MISSING(gotch_compat::Tuple4, _efficient_attention_backward)
GOTCH_COMPAT_MISSING(Tensor, _fill_mem_eff_dropout_mask_)
GOTCH_COMPAT_MISSING(gotch_compat::Tuple3, _flash_attention_backward)
GOTCH_COMPAT_MISSING(Tensor, _functional_assert_async)
GOTCH_COMPAT_MISSING(Tensor, _functional_sym_constrain_range)
GOTCH_COMPAT_MISSING(Tensor, _functional_sym_constrain_range_for_size)
GOTCH_COMPAT_MISSING(int64_t, _fused_sdp_choice)
GOTCH_COMPAT_MISSING(Tensor, _int_mm)
GOTCH_COMPAT_MISSING(Tensor, _int_mm_out)
GOTCH_COMPAT_MISSING(Tensor, _make_dep_token)
GOTCH_COMPAT_MISSING(Tensor, _prelu_kernel)
GOTCH_COMPAT_MISSING(gotch_compat::Tuple2, _prelu_kernel_backward)
GOTCH_COMPAT_MISSING(void, _propagate_xla_data)
GOTCH_COMPAT_MISSING(Tensor, _reshape_copy)
GOTCH_COMPAT_MISSING(gotch_compat::Tuple4, _scaled_dot_product_efficient_attention)
GOTCH_COMPAT_MISSING(gotch_compat::Tuple3, _scaled_dot_product_flash_attention_backward)
GOTCH_COMPAT_MISSING(gotch_compat::Tuple2, _scaled_mm)
GOTCH_COMPAT_MISSING(gotch_compat::Tuple2, _scaled_mm_out)
GOTCH_COMPAT_MISSING(Tensor, _sparse_mask_projection_out)
GOTCH_COMPAT_MISSING(gotch_compat::Tuple2, _sparse_mm_reduce_impl)
GOTCH_COMPAT_MISSING(Tensor, _sparse_semi_structured_linear)
GOTCH_COMPAT_MISSING(Tensor, _test_check_tensor)
GOTCH_COMPAT_MISSING(Tensor, _test_functorch_fallback)
GOTCH_COMPAT_MISSING(Tensor, _test_functorch_fallback_out)
GOTCH_COMPAT_MISSING(Tensor, _to_sparse_bsc_out)
GOTCH_COMPAT_MISSING(Tensor, _to_sparse_bsr_out)
GOTCH_COMPAT_MISSING(Tensor, _to_sparse_csc_out)
GOTCH_COMPAT_MISSING(Tensor, _to_sparse_csr_out)
GOTCH_COMPAT_MISSING(Tensor, _to_sparse_out)
GOTCH_COMPAT_MISSING(gotch_compat::Tuple2, _to_sparse_semi_structured)
GOTCH_COMPAT_MISSING(Tensor, empty_permuted_out)
GOTCH_COMPAT_MISSING(Tensor, max_pool2d_backward)
GOTCH_COMPAT_MISSING(Tensor, max_pool2d_backward_out)
GOTCH_COMPAT_MISSING(gotch_compat::Tuple4, mkldnn_rnn_layer)
GOTCH_COMPAT_MISSING(gotch_compat::Tuple7, mkldnn_rnn_layer_backward)
GOTCH_COMPAT_MISSING(gotch_compat::Tuple7, mkldnn_rnn_layer_backward_out)
GOTCH_COMPAT_MISSING(gotch_compat::Tuple4, mkldnn_rnn_layer_out)
GOTCH_COMPAT_MISSING(Tensor, nonzero_static)
GOTCH_COMPAT_MISSING(Tensor, nonzero_static_out)
GOTCH_COMPAT_MISSING(Tensor, quantized_max_pool3d)
GOTCH_COMPAT_MISSING(Tensor, quantized_max_pool3d_out)
GOTCH_COMPAT_MISSING(void, sym_constrain_range)
GOTCH_COMPAT_MISSING(void, sym_constrain_range_for_size)
#undef GOTCH_COMPAT_MISSING
} // namespace torch

// ---- 4. helpers for Tensor member calls --------------------------------------
namespace gotch_compat {

struct ToDense { // to_dense(dtype, masked_grad)
  const Tensor &t;
  const char *name;
  Tensor operator()(c10::optional<at::ScalarType> dtype, c10::optional<bool>) const {
    return t.to_dense(dtype);
  }
};
struct ToDense_ { // _to_dense(dtype, masked_grad)
  const Tensor &t;
  const char *name;
  Tensor operator()(c10::optional<at::ScalarType> dtype, c10::optional<bool>) const {
    return t._to_dense(dtype);
  }
};
struct ToSparse { // to_sparse / _to_sparse
  const Tensor &t;
  const char *name;
  Tensor operator()(int64_t sparse_dim) const { return t.to_sparse(sparse_dim); }
  Tensor operator()(c10::optional<at::Layout> layout, c10::optional<at::IntArrayRef> blocksize,
                    c10::optional<int64_t> dense_dim) const {
    if (dense_dim.has_value())
      unsupported_arg(name, "dense_dim");
    const at::Layout l = layout.value_or(at::kSparse);
    if (l == at::kSparse) {
      if (blocksize.has_value())
        unsupported_arg(name, "blocksize with layout=Sparse");
      return t.to_sparse();
    }
    if (l == at::kSparseCsr)
      return t.to_sparse_csr();
    if (l == at::kSparseCsc)
      return t.to_sparse_csc();
    if (!blocksize.has_value())
      unsupported_arg(name, "BSR/BSC layout without blocksize");
    if (l == at::kSparseBsr)
      return t.to_sparse_bsr(*blocksize);
    if (l == at::kSparseBsc)
      return t.to_sparse_bsc(*blocksize);
    unsupported_arg(name, "this layout");
  }
};
struct ToSparseBsr {
  const Tensor &t;
  const char *name;
  Tensor operator()(at::IntArrayRef blocksize, c10::optional<int64_t> dense_dim) const {
    if (dense_dim.has_value())
      unsupported_arg(name, "dense_dim");
    return t.to_sparse_bsr(blocksize);
  }
};
struct ToSparseBsc {
  const Tensor &t;
  const char *name;
  Tensor operator()(at::IntArrayRef blocksize, c10::optional<int64_t> dense_dim) const {
    if (dense_dim.has_value())
      unsupported_arg(name, "dense_dim");
    return t.to_sparse_bsc(blocksize);
  }
};
struct ToSparseCsr {
  const Tensor &t;
  const char *name;
  Tensor operator()(c10::optional<int64_t> dense_dim) const {
    if (dense_dim.has_value())
      unsupported_arg(name, "dense_dim");
    return t.to_sparse_csr();
  }
};
struct ToSparseCsc {
  const Tensor &t;
  const char *name;
  Tensor operator()(c10::optional<int64_t> dense_dim) const {
    if (dense_dim.has_value())
      unsupported_arg(name, "dense_dim");
    return t.to_sparse_csc();
  }
};
struct SparseMaskProjection {
  const Tensor &t;
  const char *name;
  template <typename... Args> [[noreturn]] Tensor operator()(Args &&...) const {
    missing_op(name);
  }
};
struct Squeeze_ { // squeeze_(), squeeze_(dim), squeeze_(dims)
  const Tensor &t;
  const char *name;
  const Tensor &operator()() const { return t.squeeze_(); }
  const Tensor &operator()(int64_t dim) const { return t.squeeze_(dim); }
  const Tensor &operator()(at::IntArrayRef dims) const {
    for (auto d : squeeze_dims(t.dim(), dims))
      t.squeeze_(d);
    return t;
  }
};

} // namespace gotch_compat

// ---- 5. member-call rewrites (only affect code after this point) -------------
// `self->NAME(args)` -> `self->is_same(*self) ? gotch_compat::Helper{*self, "NAME"}(args) : *self`
#define GOTCH_COMPAT_SELF_CALL(helper, name, ...)                               \
  is_same(*self) ? ::gotch_compat::helper{*self, name}(__VA_ARGS__) : *self
#define to_dense(...) GOTCH_COMPAT_SELF_CALL(ToDense, "Tensor::to_dense", __VA_ARGS__)
#define _to_dense(...) GOTCH_COMPAT_SELF_CALL(ToDense_, "Tensor::_to_dense", __VA_ARGS__)
#define to_sparse(...) GOTCH_COMPAT_SELF_CALL(ToSparse, "Tensor::to_sparse", __VA_ARGS__)
#define _to_sparse(...) GOTCH_COMPAT_SELF_CALL(ToSparse, "Tensor::_to_sparse", __VA_ARGS__)
#define to_sparse_bsr(...) GOTCH_COMPAT_SELF_CALL(ToSparseBsr, "Tensor::to_sparse_bsr", __VA_ARGS__)
#define _to_sparse_bsr(...) GOTCH_COMPAT_SELF_CALL(ToSparseBsr, "Tensor::_to_sparse_bsr", __VA_ARGS__)
#define to_sparse_bsc(...) GOTCH_COMPAT_SELF_CALL(ToSparseBsc, "Tensor::to_sparse_bsc", __VA_ARGS__)
#define _to_sparse_bsc(...) GOTCH_COMPAT_SELF_CALL(ToSparseBsc, "Tensor::_to_sparse_bsc", __VA_ARGS__)
#define to_sparse_csr(...) GOTCH_COMPAT_SELF_CALL(ToSparseCsr, "Tensor::to_sparse_csr", __VA_ARGS__)
#define _to_sparse_csr(...) GOTCH_COMPAT_SELF_CALL(ToSparseCsr, "Tensor::_to_sparse_csr", __VA_ARGS__)
#define to_sparse_csc(...) GOTCH_COMPAT_SELF_CALL(ToSparseCsc, "Tensor::to_sparse_csc", __VA_ARGS__)
#define _to_sparse_csc(...) GOTCH_COMPAT_SELF_CALL(ToSparseCsc, "Tensor::_to_sparse_csc", __VA_ARGS__)
#define _sparse_mask_projection(...) GOTCH_COMPAT_SELF_CALL(SparseMaskProjection, "Tensor::_sparse_mask_projection", __VA_ARGS__)
#define squeeze_(...) GOTCH_COMPAT_SELF_CALL(Squeeze_, "Tensor::squeeze_", __VA_ARGS__)

#endif // guard
