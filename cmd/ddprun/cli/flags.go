package cli

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// byteSize is a flag holding a size in bytes, written with an optional
// binary suffix: 4096, 4K, 256M, 1G.
type byteSize int64

func (b *byteSize) String() string {
	v := int64(*b)
	for _, u := range []struct {
		s string
		n int64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if v >= u.n && v%u.n == 0 {
			return strconv.FormatInt(v/u.n, 10) + u.s
		}
	}
	return strconv.FormatInt(v, 10)
}

func (b *byteSize) Set(s string) error {
	mult := int64(1)
	t := strings.TrimSuffix(strings.ToUpper(s), "B")
	switch {
	case strings.HasSuffix(t, "K"):
		mult, t = 1<<10, t[:len(t)-1]
	case strings.HasSuffix(t, "M"):
		mult, t = 1<<20, t[:len(t)-1]
	case strings.HasSuffix(t, "G"):
		mult, t = 1<<30, t[:len(t)-1]
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 {
		return fmt.Errorf("bad size %q (want a number with an optional K, M or G suffix)", s)
	}
	*b = byteSize(v * mult)
	return nil
}

// aliasUsage starts the usage of an alias: "alias of --lr".
const aliasUsage = "alias of --"

// alias makes name another spelling of fs's flag orig: it shares orig's
// Value, and help lists it on one line after the flags (printFlags), not
// as an entry of its own.
func alias(fs *flag.FlagSet, name, orig string) {
	f := fs.Lookup(orig)
	if f == nil {
		panic("cli: alias --" + name + " of an undefined flag --" + orig)
	}
	fs.Var(f.Value, name, aliasUsage+orig)
}

// aliasOf returns the name of the flag f is an alias of, or "".
func aliasOf(fs *flag.FlagSet, f *flag.Flag) string {
	orig, ok := strings.CutPrefix(f.Usage, aliasUsage)
	if !ok || fs.Lookup(orig) == nil {
		return ""
	}
	return orig
}

// canonicalArgs returns args, which fs parsed without error, with every
// alias spelled as the flag it stands for (--output-dir=x as --output=x):
// for programs that look for a flag by name in a command line they pass
// on, such as k8s render's --output default.
func canonicalArgs(fs *flag.FlagSet, args []string) []string {
	out := slices.Clone(args)
	for i := 0; i < len(out); i++ {
		a := out[i]
		if len(a) < 2 || a[0] != '-' || a == "--" {
			break // the flag package stops here too
		}
		dashes := "-"
		if a[1] == '-' {
			dashes = "--"
		}
		name, value, hasValue := strings.Cut(a[len(dashes):], "=")
		f := fs.Lookup(name)
		if f == nil {
			break
		}
		if orig := aliasOf(fs, f); orig != "" {
			out[i] = dashes + orig
			if hasValue {
				out[i] += "=" + value
			}
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !hasValue && !(ok && b.IsBoolFlag()) {
			i++ // the next argument is the value
		}
	}
	return out
}
