// Optimizer kernels in C, vectorized by hand with SSE2 (every x86-64) and
// AVX2 (chosen at run time), scalar elsewhere. Every version does exactly the
// same IEEE float32 operations in the same order (no fused multiply-add,
// correctly rounded sqrt and division), so the results are bit-identical
// across CPUs (DDP replicas on different machines must agree) and equal to
// the Go fallback in kernel_nocgo.go. (gcc would vectorize the plain loop
// only with -fno-math-errno, a flag cgo does not accept.)
#include <math.h>
#include <stddef.h>

typedef struct {
  float shrink, l2;
  int decoupled;
  float b1, b1c, b2, b2c, bc2s, eps, step;
} adam_args;

static inline void adam_one(float* w, const float* g, float* m, float* v, const adam_args* a) {
  float wi = *w, gi = *g;
  if (a->decoupled) wi = wi * a->shrink; else gi = gi + a->l2 * wi;
  float mi = *m * a->b1 + gi * a->b1c;
  float vi = *v * a->b2 + (a->b2c * gi) * gi;
  *m = mi;
  *v = vi;
  float denom = sqrtf(vi) / a->bc2s + a->eps;
  *w = wi + a->step * (mi / denom);
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2"))) static size_t adam_avx2(float* w, const float* g, float* m, float* v, size_t n,
                                                        const adam_args* a) {
  const __m256 shrink = _mm256_set1_ps(a->shrink), l2 = _mm256_set1_ps(a->l2), b1 = _mm256_set1_ps(a->b1),
               b1c = _mm256_set1_ps(a->b1c), b2 = _mm256_set1_ps(a->b2), b2c = _mm256_set1_ps(a->b2c),
               bc2s = _mm256_set1_ps(a->bc2s), eps = _mm256_set1_ps(a->eps), step = _mm256_set1_ps(a->step);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 wi = _mm256_loadu_ps(w + i), gi = _mm256_loadu_ps(g + i);
    if (a->decoupled) wi = _mm256_mul_ps(wi, shrink); else gi = _mm256_add_ps(gi, _mm256_mul_ps(l2, wi));
    __m256 mi = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(m + i), b1), _mm256_mul_ps(gi, b1c));
    __m256 vi = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), b2), _mm256_mul_ps(_mm256_mul_ps(b2c, gi), gi));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bc2s), eps);
    _mm256_storeu_ps(w + i, _mm256_add_ps(wi, _mm256_mul_ps(step, _mm256_div_ps(mi, denom))));
  }
  return i;
}

static size_t adam_sse2(float* w, const float* g, float* m, float* v, size_t n, const adam_args* a) {
  const __m128 shrink = _mm_set1_ps(a->shrink), l2 = _mm_set1_ps(a->l2), b1 = _mm_set1_ps(a->b1),
               b1c = _mm_set1_ps(a->b1c), b2 = _mm_set1_ps(a->b2), b2c = _mm_set1_ps(a->b2c),
               bc2s = _mm_set1_ps(a->bc2s), eps = _mm_set1_ps(a->eps), step = _mm_set1_ps(a->step);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    __m128 wi = _mm_loadu_ps(w + i), gi = _mm_loadu_ps(g + i);
    if (a->decoupled) wi = _mm_mul_ps(wi, shrink); else gi = _mm_add_ps(gi, _mm_mul_ps(l2, wi));
    __m128 mi = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(m + i), b1), _mm_mul_ps(gi, b1c));
    __m128 vi = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(v + i), b2), _mm_mul_ps(_mm_mul_ps(b2c, gi), gi));
    _mm_storeu_ps(m + i, mi);
    _mm_storeu_ps(v + i, vi);
    __m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vi), bc2s), eps);
    _mm_storeu_ps(w + i, _mm_add_ps(wi, _mm_mul_ps(step, _mm_div_ps(mi, denom))));
  }
  return i;
}
#endif

void ddprun_adam(float* w, const float* g, float* m, float* v, size_t n, float shrink, float l2, int decoupled,
                 float b1, float b1c, float b2, float b2c, float bc2s, float eps, float step) {
  adam_args a = {shrink, l2, decoupled, b1, b1c, b2, b2c, bc2s, eps, step};
  size_t i = 0;
#if defined(__x86_64__)
  i = __builtin_cpu_supports("avx2") ? adam_avx2(w, g, m, v, n, &a) : adam_sse2(w, g, m, v, n, &a);
#endif
  for (; i < n; i++) adam_one(w + i, g + i, m + i, v + i, &a);
}

// Sum of squares in double, in 8 interleaved partial sums (a fixed order,
// so every CPU gets the same result).
double ddprun_sumsq(const float* g, size_t n) {
  double s[8] = {0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; k++) s[k] += (double)g[i + k] * (double)g[i + k];
  }
  for (; i < n; i++) s[0] += (double)g[i] * (double)g[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

void ddprun_scale(float* g, size_t n, float c) {
  for (size_t i = 0; i < n; i++) g[i] *= c;
}
