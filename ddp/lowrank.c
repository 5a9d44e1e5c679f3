// PowerSGD's matrix products (Note [PowerSGD]; lowrank.go says the layout).
// Plain loops that gcc vectorises: over the columns j for mtp and pqt,
// over 16 explicit partial sums for mq, never across them, so that the SSE2
// and AVX2 clones (chosen at load time) do the same float32 operations in
// the same order, and no multiply-add is fused: pqt, which every rank runs
// on the same all-reduced factors, gives the same bits on every CPU.
#pragma GCC optimize("fp-contract=off")
#include <stddef.h>
#include <string.h>

#define LANES 16

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif

// pt (r x n) = (m qtᵀ)ᵀ: pt[k][i] = sum_j m[i][j] qt[k][j].
CLONES void ddprun_lowrank_mq(float* pt, const float* m, const float* qt, size_t n, size_t cols, size_t r) {
  for (size_t i = 0; i < n; i++) {
    const float* row = m + i * cols;
    for (size_t k = 0; k < r; k++) {
      const float* q = qt + k * cols;
      float acc[LANES] = {0};
      size_t j = 0;
      for (; j + LANES <= cols; j += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += row[j + l] * q[j + l];
      float s = 0;
      for (; j < cols; j++) s += row[j] * q[j];
      for (int l = 0; l < LANES; l++) s += acc[l];
      pt[k * n + i] = s;
    }
  }
}

// qt (r x cols) = (mᵀ ptᵀ)ᵀ: qt[k][j] = sum_i m[i][j] pt[k][i].
CLONES void ddprun_lowrank_mtp(float* qt, const float* m, const float* pt, size_t n, size_t cols, size_t r) {
  memset(qt, 0, r * cols * sizeof(float));
  for (size_t i = 0; i < n; i++) {
    const float* row = m + i * cols;
    for (size_t k = 0; k < r; k++) {
      const float p = pt[k * n + i];
      float* q = qt + k * cols;
      for (size_t j = 0; j < cols; j++) q[j] += row[j] * p;
    }
  }
}

// m (n x cols) = ptᵀ qt: m[i][j] = sum_k pt[k][i] qt[k][j], k in order.
CLONES void ddprun_lowrank_pqt(float* m, const float* pt, const float* qt, size_t n, size_t cols, size_t r) {
  for (size_t i = 0; i < n; i++) {
    float* row = m + i * cols;
    const float p0 = pt[i];
    for (size_t j = 0; j < cols; j++) row[j] = p0 * qt[j];
    for (size_t k = 1; k < r; k++) {
      const float p = pt[k * n + i];
      const float* q = qt + k * cols;
      for (size_t j = 0; j < cols; j++) row[j] += p * q[j];
    }
  }
}

// Error feedback (Note [PowerSGD] steps 1 and 5): g += resid, and resid
// keeps the sum (the input); then resid -= the output g.
CLONES void ddprun_lowrank_feed(float* g, float* resid, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float v = g[i] + resid[i];
    g[i] = v;
    resid[i] = v;
  }
}

CLONES void ddprun_lowrank_keep(float* resid, const float* g, size_t n) {
  for (size_t i = 0; i < n; i++) resid[i] -= g[i];
}
