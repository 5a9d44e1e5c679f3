package tblog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Note [Event encoding]: the subset of tensorflow/core/util/event.proto and
// framework/summary.proto that scalars need:
//
//	Event   { double wall_time = 1; int64 step = 2;
//	          oneof what { string file_version = 3; Summary summary = 5; } }
//	Summary { repeated Value value = 1; }
//	Value   { string tag = 1; float simple_value = 2; }
//
// Field keys are (number << 3 | wire type): double is wire type 1 (fixed64),
// int64 type 0 (varint), string and message type 2 (length-delimited),
// float type 5 (fixed32). simple_value is a float32, so a scalar read back
// equals float32(v), as with every TensorBoard writer.

const fileVersion = "brain.Event:2"

// appendEventHeader appends the wall_time and step fields.
func appendEventHeader(b []byte, wallTime float64, step int64) []byte {
	b = append(b, 1<<3|1)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(wallTime))
	if step != 0 { // proto3 omits defaults
		b = append(b, 2<<3|0)
		b = binary.AppendUvarint(b, uint64(step))
	}
	return b
}

func appendBytesField(b []byte, field int, v []byte) []byte {
	b = append(b, byte(field<<3|2))
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// versionEvent encodes the first event of a file.
func versionEvent(wallTime float64) []byte {
	b := appendEventHeader(nil, wallTime, 0)
	return appendBytesField(b, 3, []byte(fileVersion))
}

// scalarEvent encodes an event with one simple_value.
func scalarEvent(wallTime float64, step int64, tag string, v float64) []byte {
	val := appendBytesField(nil, 1, []byte(tag))
	val = append(val, 2<<3|5)
	val = binary.LittleEndian.AppendUint32(val, math.Float32bits(float32(v)))
	summary := appendBytesField(nil, 1, val)
	b := appendEventHeader(nil, wallTime, step)
	return appendBytesField(b, 5, summary)
}

var errProto = errors.New("malformed protobuf")

// field is one decoded protobuf field; for wire types 0, 1 and 5 the value is
// in u, for type 2 in b.
type field struct {
	num, typ int
	u        uint64
	b        []byte
}

// fields calls f for each field of the message in b.
func fields(b []byte, f func(field) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errProto
		}
		b = b[n:]
		fl := field{num: int(key >> 3), typ: int(key & 7)}
		switch fl.typ {
		case 0:
			fl.u, n = binary.Uvarint(b)
			if n <= 0 {
				return errProto
			}
			b = b[n:]
		case 1, 5:
			size := 8
			if fl.typ == 5 {
				size = 4
			}
			if len(b) < size {
				return errProto
			}
			if size == 8 {
				fl.u = binary.LittleEndian.Uint64(b)
			} else {
				fl.u = uint64(binary.LittleEndian.Uint32(b))
			}
			b = b[size:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errProto
			}
			fl.b, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return fmt.Errorf("%w: wire type %d", errProto, fl.typ)
		}
		if err := f(fl); err != nil {
			return err
		}
	}
	return nil
}

// decodeEvent appends the scalars in one serialized Event to recs.
func decodeEvent(b []byte, recs []Record) ([]Record, error) {
	var wall float64
	var step int64
	var values [][]byte
	err := fields(b, func(f field) error {
		switch {
		case f.num == 1 && f.typ == 1:
			wall = math.Float64frombits(f.u)
		case f.num == 2 && f.typ == 0:
			step = int64(f.u)
		case f.num == 5 && f.typ == 2:
			return fields(f.b, func(v field) error {
				if v.num == 1 && v.typ == 2 {
					values = append(values, v.b)
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return recs, err
	}
	for _, v := range values {
		r := Record{WallTime: wall, Step: step}
		ok := false
		err := fields(v, func(f field) error {
			switch {
			case f.num == 1 && f.typ == 2:
				r.Tag = string(f.b)
			case f.num == 2 && f.typ == 5:
				r.Value, ok = float64(math.Float32frombits(uint32(f.u))), true
			}
			return nil
		})
		if err != nil {
			return recs, err
		}
		if ok {
			recs = append(recs, r)
		}
	}
	return recs, nil
}
