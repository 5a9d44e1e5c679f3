package ddp

import (
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/ddprun/ddprun/bert"
)

func sortByName(ps []bert.Param) {
	slices.SortFunc(ps, func(a, b bert.Param) int { return strings.Compare(a.Name, b.Name) })
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }
