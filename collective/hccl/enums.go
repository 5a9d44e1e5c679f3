package hccl

import (
	"fmt"

	"github.com/ddprun/ddprun/collective"
)

// Values from Habana's hccl_types.h (github.com/HabanaAI/HCL,
// hcl/include/hccl_types.h).
const (
	// UniqueIDBytes is sizeof(hcclUniqueId) on LP64:
	// uint8_t internal[HCCL_UNIQUE_ID_MAX_BYTES=1024] plus a size_t length.
	UniqueIDBytes = 1024 + 8
)

// DataType is an hcclDataType_t.
type DataType int32

// hcclDataType_t values (equal to NCCL's).
const (
	Int32    DataType = 2
	Int64    DataType = 4
	Float16  DataType = 6
	Float32  DataType = 7
	BFloat16 DataType = 9
)

// RedOp is an hcclRedOp_t.
type RedOp int32

// hcclRedOp_t values. Min and Max are the other way round from NCCL's.
const (
	Sum  RedOp = 0
	Prod RedOp = 1
	Min  RedOp = 2
	Max  RedOp = 3
	Avg  RedOp = 4
)

// TypeOf maps a collective.DType.
func TypeOf(d collective.DType) (DataType, error) {
	switch d {
	case collective.Float32:
		return Float32, nil
	case collective.BFloat16:
		return BFloat16, nil
	case collective.Float16:
		return Float16, nil
	case collective.Int32:
		return Int32, nil
	case collective.Int64:
		return Int64, nil
	}
	return 0, fmt.Errorf("%w: hccl: dtype %v", collective.ErrInvalid, d)
}

// OpOf maps a collective.Op.
func OpOf(o collective.Op) (RedOp, error) {
	switch o {
	case collective.Sum:
		return Sum, nil
	case collective.Avg:
		return Avg, nil
	case collective.Max:
		return Max, nil
	case collective.Min:
		return Min, nil
	}
	return 0, fmt.Errorf("%w: hccl: op %v", collective.ErrInvalid, o)
}

// Version is an HCCL release; HCCL_VERSION(X,Y,Z) is X*1000+Y*100+Z.
type Version struct{ Major, Minor, Patch int }

func decodeVersion(code int) Version {
	return Version{code / 1000, code % 1000 / 100, code % 100}
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }
