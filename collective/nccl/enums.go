package nccl

import (
	"fmt"

	"github.com/ddprun/ddprun/collective"
)

// Enum values of NCCL's public header (src/nccl.h.in in
// github.com/NVIDIA/nccl): ncclDataType_t, ncclRedOp_t and ncclResult_t.
// The values are ABI: they never change between NCCL releases, only new
// ones are added (ncclBfloat16 and ncclAvg in 2.10).

type dataType int32

const (
	ncclInt32    dataType = 2
	ncclInt64    dataType = 4
	ncclFloat16  dataType = 6
	ncclFloat32  dataType = 7
	ncclBfloat16 dataType = 9 // NCCL >= 2.10
)

type redOp int32

const (
	ncclSum  redOp = 0
	ncclProd redOp = 1
	ncclMax  redOp = 2
	ncclMin  redOp = 3
	ncclAvg  redOp = 4 // NCCL >= 2.10
)

// result is an ncclResult_t.
type result int32

const (
	resSuccess            result = 0
	resUnhandledCudaError result = 1
	resSystemError        result = 2
	resInternalError      result = 3
	resInvalidArgument    result = 4
	resInvalidUsage       result = 5
	resRemoteError        result = 6 // NCCL >= 2.12
	resInProgress         result = 7 // NCCL >= 2.14, non-blocking comms only
	resTimeout            result = 8
)

// cudaError is a cudaError_t (driver_types.h).
type cudaError int32

const (
	cudaSuccess          cudaError = 0
	cudaErrNoDevice      cudaError = 100
	cudaErrInvalidDevice cudaError = 101
	cudaErrNotReady      cudaError = 600
)

// cudaMemcpyKind values.
const (
	memcpyHostToDevice = 1
	memcpyDeviceToHost = 2
	memcpyDefault      = 4
)

// bf16Version is the first NCCL version with ncclBfloat16 and ncclAvg.
var bf16Version = Version{2, 10, 0}

// ncclType maps a collective.DType to NCCL's, checking the library version.
func ncclType(d collective.DType, v Version) (dataType, error) {
	switch d {
	case collective.Float32:
		return ncclFloat32, nil
	case collective.Float16:
		return ncclFloat16, nil
	case collective.Int32:
		return ncclInt32, nil
	case collective.Int64:
		return ncclInt64, nil
	case collective.BFloat16:
		if v.Less(bf16Version) {
			return 0, fmt.Errorf("%w: bfloat16 needs NCCL >= %v, have %v", collective.ErrUnsupported, bf16Version, v)
		}
		return ncclBfloat16, nil
	}
	return 0, fmt.Errorf("%w: dtype %v", collective.ErrInvalid, d)
}

// ncclOp maps a collective.Op to NCCL's, checking the library version.
func ncclOp(o collective.Op, v Version) (redOp, error) {
	switch o {
	case collective.Sum:
		return ncclSum, nil
	case collective.Max:
		return ncclMax, nil
	case collective.Min:
		return ncclMin, nil
	case collective.Avg:
		if v.Less(bf16Version) {
			return 0, fmt.Errorf("%w: op avg needs NCCL >= %v, have %v", collective.ErrUnsupported, bf16Version, v)
		}
		return ncclAvg, nil
	}
	return 0, fmt.Errorf("%w: op %v", collective.ErrInvalid, o)
}

// Version is an NCCL release.
type Version struct{ Major, Minor, Patch int }

// decodeVersion splits ncclGetVersion's code: major*10000+minor*100+patch
// since 2.9, major*1000+minor*100+patch before (NCCL_VERSION in nccl.h).
func decodeVersion(code int) Version {
	if code >= 10000 {
		return Version{code / 10000, code % 10000 / 100, code % 100}
	}
	return Version{code / 1000, code % 1000 / 100, code % 100}
}

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }
