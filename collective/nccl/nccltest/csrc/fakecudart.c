// fakecudart.c: an in-process stand-in for libcudart, for tests only.
// "Device" memory is host memory; streams are tokens whose work is always
// done (the fake NCCL completes collectives before returning).
//   FAKE_CUDA_DEVICES=1        what cudaGetDeviceCount reports
//   FAKE_CUDA_STREAM_DEVICE=d  stream calls fail (invalid resource handle)
//                              unless the calling thread's current device is
//                              d: the legacy default stream is per device
#include <stdlib.h>
#include <string.h>

enum { ok = 0, eInvalidValue = 1, eNoDevice = 100, eInvalidDevice = 101, eInvalidHandle = 400 };

static __thread int current; // the thread's current device, as in CUDA

static int wrongDevice(void) {
	const char* s = getenv("FAKE_CUDA_STREAM_DEVICE");
	return s && atoi(s) != current;
}

static int count(void) {
	const char* s = getenv("FAKE_CUDA_DEVICES");
	return s ? atoi(s) : 1;
}

int cudaGetDeviceCount(int* n) {
	*n = count();
	return *n == 0 ? eNoDevice : ok;
}
int cudaSetDevice(int d) {
	if (d < 0 || d >= count()) return eInvalidDevice;
	current = d;
	return ok;
}
int cudaStreamCreate(void** s) { *s = malloc(16); return ok; }
int cudaStreamDestroy(void* s) { free(s); return ok; }
int cudaStreamQuery(void* s) { (void)s; return wrongDevice() ? eInvalidHandle : ok; }
int cudaStreamSynchronize(void* s) { (void)s; return wrongDevice() ? eInvalidHandle : ok; }
int cudaMalloc(void** p, size_t n) { return posix_memalign(p, 256, n ? n : 1) ? 2 : ok; }
int cudaFree(void* p) { free(p); return ok; }
int cudaMemcpy(void* d, const void* s, size_t n, int kind) { (void)kind; memmove(d, s, n); return ok; }
int cudaRuntimeGetVersion(int* v) { *v = 12040; return ok; }
const char* cudaGetErrorString(int r) {
	switch (r) {
	case ok: return "no error";
	case eNoDevice: return "no CUDA-capable device is detected";
	case eInvalidDevice: return "invalid device ordinal";
	case eInvalidHandle: return "invalid resource handle";
	}
	return "unknown error";
}
