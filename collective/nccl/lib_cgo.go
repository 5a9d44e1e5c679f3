//go:build cgo

package nccl

// The only cgo file of the package. It declares the few NCCL and CUDA
// runtime functions it uses with its own prototypes (no CUDA or NCCL
// headers at build time), resolves them with dlsym from libraries opened
// with dlopen, and calls them through small C trampolines. Every handle
// crosses into Go as a uintptr_t.
//
// Prototypes and enum values follow NCCL's public header, src/nccl.h.in in
// github.com/NVIDIA/nccl (checked against the 2.2x tree): ncclUniqueId is
// 128 bytes passed by value to ncclCommInitRank; enums are int-sized.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int ncclResult_t;
typedef struct ncclComm* ncclComm_t;
typedef struct { char internal[128]; } ncclUniqueId;
typedef void* cudaStream_t;
typedef int cudaError_t;

typedef struct {
	ncclResult_t (*getVersion)(int*);
	ncclResult_t (*getUniqueId)(ncclUniqueId*);
	ncclResult_t (*commInitRank)(ncclComm_t*, int, ncclUniqueId, int);
	ncclResult_t (*allReduce)(const void*, void*, size_t, int, int, ncclComm_t, cudaStream_t);
	ncclResult_t (*broadcast)(const void*, void*, size_t, int, int, ncclComm_t, cudaStream_t);
	ncclResult_t (*allGather)(const void*, void*, size_t, int, ncclComm_t, cudaStream_t);
	ncclResult_t (*reduceScatter)(const void*, void*, size_t, int, int, ncclComm_t, cudaStream_t);
	ncclResult_t (*commAbort)(ncclComm_t);
	ncclResult_t (*commDestroy)(ncclComm_t);
	ncclResult_t (*commGetAsyncError)(ncclComm_t, ncclResult_t*);
	const char* (*getErrorString)(ncclResult_t);
} ddpNccl;

typedef struct {
	cudaError_t (*getDeviceCount)(int*);
	cudaError_t (*setDevice)(int);
	cudaError_t (*streamCreate)(cudaStream_t*);
	cudaError_t (*streamDestroy)(cudaStream_t);
	cudaError_t (*streamQuery)(cudaStream_t);
	cudaError_t (*streamSynchronize)(cudaStream_t);
	cudaError_t (*malloc)(void**, size_t);
	cudaError_t (*free)(void*);
	cudaError_t (*memcpy)(void*, const void*, size_t, int);
	cudaError_t (*runtimeGetVersion)(int*);
	const char* (*getErrorString)(cudaError_t);
} ddpCudart;

static void* ddp_dlopen(const char* path, char** err) {
	void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char* e = dlerror();
		*err = strdup(e ? e : "unknown dlopen error");
	}
	return h;
}

// ddp_dlsym stores the symbol in *slot or returns its dlerror text.
static char* ddp_dlsym(void* h, const char* name, void** slot) {
	dlerror();
	*slot = dlsym(h, name);
	if (*slot == NULL) {
		const char* e = dlerror();
		return strdup(e ? e : "symbol is NULL");
	}
	return NULL;
}

static int n_version(ddpNccl* l, int* v) { return l->getVersion(v); }
static int n_unique_id(ddpNccl* l, void* id) { return l->getUniqueId((ncclUniqueId*)id); }

// n_init sets the calling thread's device and joins the clique in one cgo
// call, so that both run on the same OS thread.
static int n_init(ddpNccl* l, ddpCudart* c, int dev, uintptr_t* comm, int n, void* id, int rank, int* cerr) {
	ncclUniqueId u;
	memcpy(&u, id, sizeof u);
	*cerr = c->setDevice(dev);
	if (*cerr != 0) return 0;
	ncclComm_t h = NULL;
	int r = l->commInitRank(&h, n, u, rank);
	*comm = (uintptr_t)h;
	return r;
}

static int n_all_reduce(ddpNccl* l, void* s, void* r, size_t n, int dt, int op, uintptr_t comm, uintptr_t st) {
	return l->allReduce(s, r, n, dt, op, (ncclComm_t)comm, (cudaStream_t)st);
}
static int n_broadcast(ddpNccl* l, void* s, void* r, size_t n, int dt, int root, uintptr_t comm, uintptr_t st) {
	return l->broadcast(s, r, n, dt, root, (ncclComm_t)comm, (cudaStream_t)st);
}
static int n_all_gather(ddpNccl* l, void* s, void* r, size_t n, int dt, uintptr_t comm, uintptr_t st) {
	return l->allGather(s, r, n, dt, (ncclComm_t)comm, (cudaStream_t)st);
}
static int n_reduce_scatter(ddpNccl* l, void* s, void* r, size_t n, int dt, int op, uintptr_t comm, uintptr_t st) {
	return l->reduceScatter(s, r, n, dt, op, (ncclComm_t)comm, (cudaStream_t)st);
}
static int n_abort(ddpNccl* l, uintptr_t comm) { return l->commAbort((ncclComm_t)comm); }
static int n_destroy(ddpNccl* l, uintptr_t comm) { return l->commDestroy((ncclComm_t)comm); }
static int n_async_error(ddpNccl* l, uintptr_t comm, int* e) { return l->commGetAsyncError((ncclComm_t)comm, e); }
static const char* n_error_string(ddpNccl* l, int r) { return l->getErrorString(r); }

static int c_device_count(ddpCudart* c, int* n) { return c->getDeviceCount(n); }
static int c_set_device(ddpCudart* c, int d) { return c->setDevice(d); }
static int c_stream_create(ddpCudart* c, uintptr_t* s) {
	cudaStream_t st = NULL;
	int r = c->streamCreate(&st);
	*s = (uintptr_t)st;
	return r;
}
static int c_stream_destroy(ddpCudart* c, uintptr_t s) { return c->streamDestroy((cudaStream_t)s); }
static int c_stream_query(ddpCudart* c, uintptr_t s) { return c->streamQuery((cudaStream_t)s); }
static int c_stream_sync(ddpCudart* c, uintptr_t s) { return c->streamSynchronize((cudaStream_t)s); }
static int c_malloc(ddpCudart* c, void** p, size_t n) { return c->malloc(p, n); }
static int c_free(ddpCudart* c, void* p) { return c->free(p); }
static int c_memcpy(ddpCudart* c, void* dst, void* src, size_t n, int kind) {
	return c->memcpy(dst, src, n, kind);
}
static int c_runtime_version(ddpCudart* c, int* v) { return c->runtimeGetVersion(v); }
static const char* c_error_string(ddpCudart* c, int r) { return c->getErrorString(r); }
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// haveCgo reports whether this build can dlopen.
const haveCgo = true

// ncclNames lists ddpNccl's fields in order.
var ncclNames = []string{
	"ncclGetVersion", "ncclGetUniqueId", "ncclCommInitRank", "ncclAllReduce",
	"ncclBroadcast", "ncclAllGather", "ncclReduceScatter", "ncclCommAbort",
	"ncclCommDestroy", "ncclCommGetAsyncError", "ncclGetErrorString",
}

// cudartNames lists ddpCudart's fields in order.
var cudartNames = []string{
	"cudaGetDeviceCount", "cudaSetDevice", "cudaStreamCreate", "cudaStreamDestroy",
	"cudaStreamQuery", "cudaStreamSynchronize", "cudaMalloc", "cudaFree",
	"cudaMemcpy", "cudaRuntimeGetVersion", "cudaGetErrorString",
}

// ncclSyms is a resolved NCCL function table (C memory, never freed:
// libraries stay loaded for the life of the process).
type ncclSyms struct{ p *C.ddpNccl }

// cudaSyms is a resolved CUDA runtime function table.
type cudaSyms struct{ p *C.ddpCudart }

// openTable dlopens path and resolves names into the table of function
// pointers at table. A failed dlopen returns errOpen wrapped with
// dlerror's text; missing symbols are listed one by one.
func openTable(path string, table unsafe.Pointer, names []string) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var cerr *C.char
	h := C.ddp_dlopen(cpath, &cerr)
	if h == nil {
		defer C.free(unsafe.Pointer(cerr))
		return fmt.Errorf("%w: %s", errOpen, C.GoString(cerr))
	}
	var errs []error
	for i, name := range names {
		cname := C.CString(name)
		slot := (*unsafe.Pointer)(unsafe.Add(table, i*int(unsafe.Sizeof(uintptr(0)))))
		if e := C.ddp_dlsym(h, cname, slot); e != nil {
			errs = append(errs, fmt.Errorf("missing symbol %s: %s", name, C.GoString(e)))
			C.free(unsafe.Pointer(e))
		}
		C.free(unsafe.Pointer(cname))
	}
	return errors.Join(errs...) // the handle stays open: dlclose of NCCL is unsafe
}

func openNCCL(path string) (ncclSyms, error) {
	p := (*C.ddpNccl)(C.calloc(1, C.sizeof_ddpNccl))
	if err := openTable(path, unsafe.Pointer(p), ncclNames); err != nil {
		C.free(unsafe.Pointer(p))
		return ncclSyms{}, err
	}
	return ncclSyms{p}, nil
}

func openCUDA(path string) (cudaSyms, error) {
	p := (*C.ddpCudart)(C.calloc(1, C.sizeof_ddpCudart))
	if err := openTable(path, unsafe.Pointer(p), cudartNames); err != nil {
		C.free(unsafe.Pointer(p))
		return cudaSyms{}, err
	}
	return cudaSyms{p}, nil
}

func (s ncclSyms) version() (int, result) {
	var v C.int
	r := C.n_version(s.p, &v)
	return int(v), result(r)
}

func (s ncclSyms) uniqueID(id *[UniqueIDBytes]byte) result {
	return result(C.n_unique_id(s.p, unsafe.Pointer(&id[0])))
}

// initRank sets the device and joins; cerr is cudaSetDevice's error.
func (s ncclSyms) initRank(c cudaSyms, dev int, id *[UniqueIDBytes]byte, n, rank int) (comm uintptr, r result, cerr cudaError) {
	var h C.uintptr_t
	var ce C.int
	rr := C.n_init(s.p, c.p, C.int(dev), &h, C.int(n), unsafe.Pointer(&id[0]), C.int(rank), &ce)
	return uintptr(h), result(rr), cudaError(ce)
}

func (s ncclSyms) allReduce(send, recv unsafe.Pointer, n int, dt dataType, op redOp, comm, stream uintptr) result {
	return result(C.n_all_reduce(s.p, send, recv, C.size_t(n), C.int(dt), C.int(op), C.uintptr_t(comm), C.uintptr_t(stream)))
}

func (s ncclSyms) broadcast(send, recv unsafe.Pointer, n int, dt dataType, root int, comm, stream uintptr) result {
	return result(C.n_broadcast(s.p, send, recv, C.size_t(n), C.int(dt), C.int(root), C.uintptr_t(comm), C.uintptr_t(stream)))
}

func (s ncclSyms) allGather(send, recv unsafe.Pointer, n int, dt dataType, comm, stream uintptr) result {
	return result(C.n_all_gather(s.p, send, recv, C.size_t(n), C.int(dt), C.uintptr_t(comm), C.uintptr_t(stream)))
}

func (s ncclSyms) reduceScatter(send, recv unsafe.Pointer, n int, dt dataType, op redOp, comm, stream uintptr) result {
	return result(C.n_reduce_scatter(s.p, send, recv, C.size_t(n), C.int(dt), C.int(op), C.uintptr_t(comm), C.uintptr_t(stream)))
}

func (s ncclSyms) abort(comm uintptr) result   { return result(C.n_abort(s.p, C.uintptr_t(comm))) }
func (s ncclSyms) destroy(comm uintptr) result { return result(C.n_destroy(s.p, C.uintptr_t(comm))) }

func (s ncclSyms) asyncError(comm uintptr) (result, result) {
	var e C.int
	r := C.n_async_error(s.p, C.uintptr_t(comm), &e)
	return result(e), result(r)
}

func (s ncclSyms) errorString(r result) string {
	if p := C.n_error_string(s.p, C.int(r)); p != nil {
		return C.GoString(p)
	}
	return ""
}

func (c cudaSyms) deviceCount() (int, cudaError) {
	var n C.int
	r := C.c_device_count(c.p, &n)
	return int(n), cudaError(r)
}

func (c cudaSyms) setDevice(d int) cudaError { return cudaError(C.c_set_device(c.p, C.int(d))) }

func (c cudaSyms) streamCreate() (uintptr, cudaError) {
	var s C.uintptr_t
	r := C.c_stream_create(c.p, &s)
	return uintptr(s), cudaError(r)
}

func (c cudaSyms) streamDestroy(s uintptr) cudaError {
	return cudaError(C.c_stream_destroy(c.p, C.uintptr_t(s)))
}
func (c cudaSyms) streamQuery(s uintptr) cudaError {
	return cudaError(C.c_stream_query(c.p, C.uintptr_t(s)))
}
func (c cudaSyms) streamSync(s uintptr) cudaError {
	return cudaError(C.c_stream_sync(c.p, C.uintptr_t(s)))
}

func (c cudaSyms) malloc(n int) (unsafe.Pointer, cudaError) {
	var p unsafe.Pointer
	r := C.c_malloc(c.p, &p, C.size_t(n))
	return p, cudaError(r)
}

func (c cudaSyms) free(p unsafe.Pointer) cudaError { return cudaError(C.c_free(c.p, p)) }

// memcpy copies n bytes; kind is cudaMemcpyKind (1 host to device, 2
// device to host, 4 default).
func (c cudaSyms) memcpy(dst, src unsafe.Pointer, n, kind int) cudaError {
	return cudaError(C.c_memcpy(c.p, dst, src, C.size_t(n), C.int(kind)))
}

func (c cudaSyms) runtimeVersion() (int, cudaError) {
	var v C.int
	r := C.c_runtime_version(c.p, &v)
	return int(v), cudaError(r)
}

func (c cudaSyms) errorString(r cudaError) string {
	if p := C.c_error_string(c.p, C.int(r)); p != nil {
		return C.GoString(p)
	}
	return ""
}
