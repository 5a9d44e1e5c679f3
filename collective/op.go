package collective

import "fmt"

// Op is the element-wise reduction applied by AllReduce.
type Op uint8

// Reduction operations.
const (
	Sum Op = iota + 1
	Avg    // Sum divided by the world size: in float32 for float types, truncated for integers
	Max
	Min
)

var opNames = [...]string{"", "sum", "avg", "max", "min"}

// Valid reports whether o is a known Op.
func (o Op) Valid() bool { return o >= Sum && o <= Min }

func (o Op) String() string {
	if o.Valid() {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}
