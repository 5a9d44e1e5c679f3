package ddp

import (
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/ddprun/ddprun/bert"
)

func hasSuffix(s, suf string) bool { return strings.HasSuffix(s, suf) }
func contains(s, sub string) bool  { return strings.Contains(s, sub) }

func sortByName(ps []bert.Param) {
	slices.SortFunc(ps, func(a, b bert.Param) int { return strings.Compare(a.Name, b.Name) })
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }

func itoa(i int) string { return strconv.Itoa(i) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
