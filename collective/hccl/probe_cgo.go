//go:build cgo

package hccl

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

static void* h_open(const char* p, char** err) {
	void* h = dlopen(p, RTLD_NOW | RTLD_LOCAL);
	if (!h) { const char* e = dlerror(); *err = strdup(e ? e : "dlopen failed"); }
	return h;
}
static void* h_sym(void* h, const char* n) { dlerror(); return dlsym(h, n); }
static int h_version(void* f, int* v) { return ((int (*)(int*))f)(v); }
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

const haveCgo = true

// probeLib opens path, checks every symbol and calls hcclGetVersion.
func probeLib(path string) (Version, error) {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	var cerr *C.char
	h := C.h_open(cp, &cerr)
	if h == nil {
		defer C.free(unsafe.Pointer(cerr))
		return Version{}, fmt.Errorf("%w: %s", errOpen, C.GoString(cerr))
	}
	var missing []error
	var version unsafe.Pointer
	for _, name := range symbols {
		cn := C.CString(name)
		p := C.h_sym(h, cn)
		C.free(unsafe.Pointer(cn))
		if p == nil {
			missing = append(missing, fmt.Errorf("missing symbol %s", name))
		}
		if name == "hcclGetVersion" {
			version = p
		}
	}
	if err := errors.Join(missing...); err != nil {
		return Version{}, err
	}
	var v C.int
	if r := C.h_version(version, &v); r != 0 {
		return Version{}, fmt.Errorf("hcclGetVersion: hcclResult_t %d", int(r))
	}
	return decodeVersion(int(v)), nil
}
