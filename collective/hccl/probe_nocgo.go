//go:build !cgo

package hccl

import "errors"

const haveCgo = false

func probeLib(string) (Version, error) {
	return Version{}, errors.New("built without cgo (CGO_ENABLED=0): cannot dlopen")
}
