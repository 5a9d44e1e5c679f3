// fakecudart.c: an in-process stand-in for libcudart, for tests only.
// "Device" memory is host memory; streams are tokens whose work is always
// done (the fake NCCL completes collectives before returning).
//   FAKE_CUDA_DEVICES=1   what cudaGetDeviceCount reports
#include <stdlib.h>
#include <string.h>

enum { ok = 0, eInvalidValue = 1, eNoDevice = 100, eInvalidDevice = 101 };

static int count(void) {
	const char* s = getenv("FAKE_CUDA_DEVICES");
	return s ? atoi(s) : 1;
}

int cudaGetDeviceCount(int* n) {
	*n = count();
	return *n == 0 ? eNoDevice : ok;
}
int cudaSetDevice(int d) { return d < 0 || d >= count() ? eInvalidDevice : ok; }
int cudaStreamCreate(void** s) { *s = malloc(16); return ok; }
int cudaStreamDestroy(void* s) { free(s); return ok; }
int cudaStreamQuery(void* s) { (void)s; return ok; }
int cudaStreamSynchronize(void* s) { (void)s; return ok; }
int cudaMalloc(void** p, size_t n) { return posix_memalign(p, 256, n ? n : 1) ? 2 : ok; }
int cudaFree(void* p) { free(p); return ok; }
int cudaMemcpy(void* d, const void* s, size_t n, int kind) { (void)kind; memmove(d, s, n); return ok; }
int cudaRuntimeGetVersion(int* v) { *v = 12040; return ok; }
const char* cudaGetErrorString(int r) {
	switch (r) {
	case ok: return "no error";
	case eNoDevice: return "no CUDA-capable device is detected";
	case eInvalidDevice: return "invalid device ordinal";
	}
	return "unknown error";
}
