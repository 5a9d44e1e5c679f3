package collective

import "fmt"

// DType is the element type of a Buffer or of the wire. The zero value means
// "unset": as a wire type it means "the buffer's own type".
type DType uint8

// Element types.
const (
	Float32  DType = iota + 1 // IEEE 754 binary32
	BFloat16                  // bfloat16: the top half of a binary32
	Float16                   // IEEE 754 binary16
	Int32
	Int64
)

var dtypeNames = [...]string{"", "float32", "bfloat16", "float16", "int32", "int64"}

// Size is the number of bytes of one element, or 0 for an unknown type.
func (d DType) Size() int {
	switch d {
	case Float32, Int32:
		return 4
	case BFloat16, Float16:
		return 2
	case Int64:
		return 8
	}
	return 0
}

// Valid reports whether d names a known element type.
func (d DType) Valid() bool { return d.Size() != 0 }

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool { return d == Float32 || d == BFloat16 || d == Float16 }

func (d DType) String() string {
	if int(d) < len(dtypeNames) && d != 0 {
		return dtypeNames[d]
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// ParseDType parses the names printed by DType.String, plus the short
// forms fp32, bf16, fp16, f32, i32 and i64.
func ParseDType(s string) (DType, error) {
	switch s {
	case "float32", "fp32", "f32":
		return Float32, nil
	case "bfloat16", "bf16":
		return BFloat16, nil
	case "float16", "fp16", "half":
		return Float16, nil
	case "int32", "i32":
		return Int32, nil
	case "int64", "i64":
		return Int64, nil
	}
	return 0, fmt.Errorf("collective: unknown dtype %q", s)
}
