//go:build !race

package ring

// raceEnabled says the race detector is on; see TestEncodeBF16_AllFloat32.
const raceEnabled = false
