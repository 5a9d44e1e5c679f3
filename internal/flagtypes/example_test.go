package flagtypes_test

import (
	"flag"
	"fmt"
	"io"

	"github.com/ddprun/ddprun/internal/flagtypes"
)

func Example() {
	var precision, device string
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flagtypes.PrecisionVar(fs, &precision)
	flagtypes.DeviceVar(fs, &device)
	fmt.Println(precision, device)
	fmt.Println(fs.Parse([]string{"--precision", "fp16"}))
	// Output:
	// fp32 auto
	// invalid value "fp16" for flag -precision: want fp32 or bf16
}
